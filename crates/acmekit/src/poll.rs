//! How long to wait between polls: a short first delay, bounded
//! exponential backoff with jitter, an overall deadline, and Retry-After
//! always winning. Pure logic: the clock is passed in.

use std::time::{Duration, Instant, SystemTime};

/// How much each delay grows over the previous one.
///
/// A short first delay finds a fast CA done at the first poll (Pebble
/// validates in 2–3 ms, so 5 ms gives one poll), and growing by three (not
/// two) keeps a slow CA from being polled more than needed: a validation that
/// takes 2 s is polled at 5, 20, 65, 200, 605 and 1820 ms, then 2.5 s later —
/// fewer polls than doubling from 20 ms would send. Retry-After always wins.
const GROWTH: u32 = 3;

/// Polling policy for authorizations and orders.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollPolicy {
    /// Delay before the first poll (after answering a challenge or finalizing).
    pub first_delay: Duration,
    /// Upper bound of the backoff between polls.
    pub max_delay: Duration,
    /// Give up after this long; the error names the URL to resume.
    pub timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(180),
        }
    }
}

impl PollPolicy {
    /// A policy with the given overall timeout and the default delays.
    pub fn with_timeout(timeout: Duration) -> Self {
        PollPolicy {
            timeout,
            ..Self::default()
        }
    }
}

/// The state of one polling loop.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: PollPolicy,
    next: Duration,
    started: Instant,
}

impl Backoff {
    pub(crate) fn new(policy: &PollPolicy) -> Self {
        Backoff {
            policy: policy.clone(),
            next: policy.first_delay,
            started: Instant::now(),
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The delay before the next poll, or `None` when the deadline would be
    /// passed. `retry_after` (from the last response) wins over the backoff.
    pub(crate) fn next_delay(
        &mut self,
        retry_after: Option<SystemTime>,
        now: SystemTime,
        jitter: f64,
    ) -> Option<Duration> {
        let backoff = self.next.mul_f64(1.0 + jitter.clamp(-0.2, 0.2));
        self.next = (self.next * GROWTH).min(self.policy.max_delay);
        let delay = match retry_after {
            Some(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
            None => backoff,
        };
        if self.elapsed() + delay > self.policy.timeout {
            None
        } else {
            Some(delay)
        }
    }

    /// Sleeps for the next delay; `false` when the deadline is reached.
    pub(crate) async fn wait(&mut self, retry_after: Option<SystemTime>) -> bool {
        match self.next_delay(retry_after, SystemTime::now(), jitter()) {
            Some(d) => {
                tokio::time::sleep(d).await;
                true
            }
            None => false,
        }
    }
}

/// A random factor in [-0.1, 0.1).
fn jitter() -> f64 {
    let mut b = [0u8; 1];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.0;
    }
    (f64::from(b[0]) / 256.0 - 0.5) / 5.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_retry_after_wins() {
        let policy = PollPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            timeout: Duration::from_secs(60),
        };
        let mut b = Backoff::new(&policy);
        let now = SystemTime::now();
        let seq: Vec<_> = (0..5)
            .map(|_| b.next_delay(None, now, 0.0).unwrap())
            .collect();
        let ms: Vec<u128> = seq.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 300, 900, 1000, 1000]);
        let d = b
            .next_delay(Some(now + Duration::from_secs(3)), now, 0.0)
            .unwrap();
        assert_eq!(d, Duration::from_secs(3));
        // A Retry-After in the past means now.
        assert_eq!(
            b.next_delay(Some(now - Duration::from_secs(3)), now, 0.0),
            Some(Duration::ZERO)
        );
        // Jitter is bounded.
        let d = Backoff::new(&policy).next_delay(None, now, 5.0).unwrap();
        assert_eq!(d, Duration::from_millis(120));
    }

    #[test]
    fn deadline_stops_polling() {
        let policy = PollPolicy {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        };
        let mut b = Backoff::new(&policy);
        let now = SystemTime::now();
        assert_eq!(
            b.next_delay(Some(now + Duration::from_secs(10)), now, 0.0),
            None
        );
        assert!(b.next_delay(None, now, 0.0).is_some());
    }
}
