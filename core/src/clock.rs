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

#[cfg(any(target_os = "linux", target_os = "android"))]
fn now_since_boot() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc == 0 {
        Duration::new(
            u64::try_from(ts.tv_sec).unwrap_or(0),
            u32::try_from(ts.tv_nsec).unwrap_or(0),
        )
    } else {
        monotonic()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn now_since_boot() -> Duration {
    monotonic()
}

/// Fallback: a process-wide monotonic clock.
fn monotonic() -> Duration {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;

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
