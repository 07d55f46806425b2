//! How often a certificate may be ordered: per-name retry backoff after
//! failures, and a sliding window on orders for new on-demand names. Pure
//! logic: the clock is passed in.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, SystemTime};

/// Exponential backoff: `initial`, doubled per consecutive failure, never
/// more than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// The wait after the `failures`-th consecutive failure (1-based).
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max)
            .min(self.max)
    }
}

#[derive(Clone, Copy, Debug)]
struct FailureState {
    count: u32,
    retry_at: SystemTime,
}

/// Consecutive failures per name and when the next attempt is allowed.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    by_name: HashMap<String, FailureState>,
}

impl Failures {
    /// Records a failure at `now`; returns when the next attempt may start.
    pub(crate) fn record(&mut self, name: &str, now: SystemTime, backoff: Backoff) -> SystemTime {
        let count = self
            .by_name
            .get(name)
            .map_or(0, |f| f.count)
            .saturating_add(1);
        let retry_at = later(now, backoff.delay(count));
        self.by_name
            .insert(name.to_owned(), FailureState { count, retry_at });
        retry_at
    }

    /// Forgets the failures of a name (after a success).
    pub(crate) fn clear(&mut self, name: &str) {
        self.by_name.remove(name);
    }

    /// When the next attempt for `name` may start, if it is backing off.
    pub(crate) fn retry_at(&self, name: &str) -> Option<SystemTime> {
        self.by_name.get(name).map(|f| f.retry_at)
    }
}

/// At most `max` events in any `per`-long window.
#[derive(Debug)]
pub(crate) struct Window {
    max: usize,
    per: Duration,
    times: VecDeque<SystemTime>,
}

impl Window {
    pub(crate) fn new(max: usize, per: Duration) -> Self {
        Window {
            max,
            per,
            times: VecDeque::new(),
        }
    }

    /// Takes a slot at `now`, or says when the next one frees up.
    pub(crate) fn acquire(&mut self, now: SystemTime) -> Result<(), SystemTime> {
        while let Some(&oldest) = self.times.front() {
            // A clock that went backwards counts as inside the window.
            if now.duration_since(oldest).is_ok_and(|age| age >= self.per) {
                self.times.pop_front();
            } else {
                break;
            }
        }
        if self.times.len() < self.max {
            self.times.push_back(now);
            return Ok(());
        }
        Err(later(self.times.front().copied().unwrap_or(now), self.per))
    }
}

/// `t + d`, or the far future when that does not fit (durations come from
/// the configuration and may be huge).
pub(crate) fn later(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_add(d)
        .or_else(|| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(1 << 40)))
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: MIN,
            max: 10 * MIN,
        };
        let delays: Vec<u64> = (1..=7).map(|n| b.delay(n).as_secs() / 60).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(b.delay(u32::MAX), 10 * MIN);
        assert_eq!(b.delay(0), MIN);
        let huge = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
        };
        assert_eq!(huge.delay(40), Duration::MAX);
        let t0 = SystemTime::UNIX_EPOCH;
        assert!(Failures::default().record("a", t0, huge) > t0 + 1000 * 365 * 24 * MIN * 60);
        let mut w = Window::new(0, Duration::MAX);
        assert!(w.acquire(t0).is_err());
    }

    #[test]
    fn failures_back_off_per_name_and_clear() {
        let b = Backoff {
            initial: MIN,
            max: 60 * MIN,
        };
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut f = Failures::default();
        assert_eq!(f.retry_at("a"), None);
        assert_eq!(f.record("a", t0, b), t0 + MIN);
        assert_eq!(f.record("a", t0, b), t0 + 2 * MIN);
        assert_eq!(f.record("b", t0, b), t0 + MIN);
        assert_eq!(f.retry_at("a"), Some(t0 + 2 * MIN));
        f.clear("a");
        assert_eq!(f.retry_at("a"), None);
        assert_eq!(f.record("a", t0, b), t0 + MIN);
    }

    #[test]
    fn window_allows_max_per_period() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut w = Window::new(2, 10 * MIN);
        assert!(w.acquire(t0).is_ok());
        assert!(w.acquire(t0 + MIN).is_ok());
        assert_eq!(w.acquire(t0 + 2 * MIN), Err(t0 + 10 * MIN));
        assert!(w.acquire(t0 + 10 * MIN).is_ok());
        assert_eq!(w.acquire(t0 + 10 * MIN), Err(t0 + 11 * MIN));
        // A clock stepping back does not free slots.
        assert!(w.acquire(t0).is_err());
        let mut none = Window::new(0, MIN);
        assert!(none.acquire(t0).is_err());
    }
}
