//! The one clock of the suite and of every worker: CLOCK_MONOTONIC, shared
//! by all processes on the host, so histories from four languages line up.

/// CLOCK_MONOTONIC in nanoseconds.
pub fn now() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    u128::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(ts.tv_nsec).unwrap_or(0)
}
