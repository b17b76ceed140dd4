//! A clock for lease deadlines that keeps running while the host is
//! suspended. tokio's `Instant` (CLOCK_MONOTONIC on Linux) stops during a
//! suspend, so a deadline measured on it passes late: a holder woken after
//! its lease expired on the server would still believe it holds the lock.
//! CLOCK_BOOTTIME counts the suspended time too.

use std::time::Duration;

/// A point on the suspend-aware clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BootInstant(Duration);

impl BootInstant {
    pub fn now() -> BootInstant {
        BootInstant(now_since_boot())
    }

    /// Time left until `self` (zero once passed).
    pub fn saturating_duration_since(self, earlier: BootInstant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::ops::Add<Duration> for BootInstant {
    type Output = BootInstant;
    fn add(self, rhs: Duration) -> BootInstant {
        BootInstant(self.0 + rhs)
    }
}

impl std::ops::Sub<Duration> for BootInstant {
    type Output = BootInstant;
    fn sub(self, rhs: Duration) -> BootInstant {
        BootInstant(self.0.saturating_sub(rhs))
    }
}

fn now_since_boot() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(since_boot) = read_clock(libc::CLOCK_BOOTTIME) {
        return since_boot;
    }
    monotonic()
}

/// One reading of a Linux clock; `None` if the kernel refuses it.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn read_clock(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    ))
}

/// Fallback: a process-wide monotonic clock.
fn monotonic() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// A point on the monotonic clock (`CLOCK_MONOTONIC` on Linux), for the
/// memory store's lease deadlines. [`MonoInstant::coarse_now`] reads it to
/// the last timer tick — never ahead of [`MonoInstant::now`], a few
/// milliseconds behind at most — for a fraction of the cost: the memory
/// store checks its deadlines on every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct MonoInstant(Duration);

impl MonoInstant {
    pub fn now() -> MonoInstant {
        MonoInstant(read_monotonic(false))
    }

    pub fn coarse_now() -> MonoInstant {
        MonoInstant(read_monotonic(true))
    }

    /// Time from `earlier` to `self` (zero if `earlier` is later).
    pub fn saturating_duration_since(self, earlier: MonoInstant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::ops::Add<Duration> for MonoInstant {
    type Output = MonoInstant;
    fn add(self, rhs: Duration) -> MonoInstant {
        MonoInstant(self.0 + rhs)
    }
}

fn read_monotonic(coarse: bool) -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // The precise clock has the same origin as the coarse one, so it is
        // the coarse reading's fallback; `monotonic()` has another origin.
        let coarse_reading = coarse
            .then(|| read_clock(libc::CLOCK_MONOTONIC_COARSE))
            .flatten();
        if let Some(reading) = coarse_reading.or_else(|| read_clock(libc::CLOCK_MONOTONIC)) {
            return reading;
        }
    }
    let _ = coarse; // elsewhere there is no coarse clock
    monotonic()
}

/// `timeout` from now on tokio's clock; a timeout past what the clock can
/// represent (`Duration::MAX`, or a number of seconds near 2^63) means no
/// deadline in practice: 30 years from now.
pub(crate) fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    let now = tokio::time::Instant::now();
    now.checked_add(timeout.min(FAR)).unwrap_or(now)
}

/// Milliseconds since the Unix epoch from the wall clock's coarse reading
/// (Linux: `CLOCK_REALTIME_COARSE`, a few milliseconds behind at most and a
/// fraction of a precise reading's cost), for timestamps that are shown,
/// never compared with deadlines.
pub(crate) fn unix_millis_coarse() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(since_epoch) = read_clock(libc::CLOCK_REALTIME_COARSE) {
        return u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX);
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_unix_millis_stay_within_a_tick_of_the_wall_clock() {
        fn precise() -> u64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(0))
                .unwrap_or(0)
        }
        let before = precise();
        let coarse = unix_millis_coarse();
        let after = precise();
        // A coarse reading lags by at most one clock tick (1-10 ms).
        assert!(coarse <= after, "{coarse} is ahead of {after}");
        assert!(
            coarse + 50 >= before,
            "{coarse} lags {before} by over 50 ms"
        );
    }

    #[test]
    fn a_coarse_monotonic_reading_is_never_ahead_of_a_precise_one() {
        let mut least_lag = Duration::MAX;
        for _ in 0..1000 {
            let coarse = MonoInstant::coarse_now();
            let precise = MonoInstant::now();
            assert!(coarse <= precise, "{coarse:?} is ahead of {precise:?}");
            least_lag = least_lag.min(precise.saturating_duration_since(coarse));
        }
        // One tick (1-10 ms); a preempted iteration may lag more.
        assert!(
            least_lag < Duration::from_millis(50),
            "coarse lags by {least_lag:?}"
        );
    }

    #[test]
    fn boot_clock_advances_with_the_monotonic_one() {
        let a = BootInstant::now();
        std::thread::sleep(Duration::from_millis(20));
        let b = BootInstant::now();
        let elapsed = b.saturating_duration_since(a);
        assert!(elapsed >= Duration::from_millis(20), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    }
}
