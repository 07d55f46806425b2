//! When a certificate is renewed. Pure logic: times are passed in.
//!
//! acmekit on this branch has no renewal information (ARI, RFC 9773) yet;
//! when it does, its suggested window replaces [`renew_at`]'s fallback.

use std::time::{Duration, SystemTime};

/// Certificates valid for less than this renew with half their lifetime
/// left instead of a third (short-lived certificates, e.g. 6-day ones).
const SHORT_LIVED: Duration = Duration::from_secs(10 * 24 * 3600);

/// When to renew a certificate valid from `not_before` to `not_after`.
///
/// With `renew_before` set: that long before expiry. Otherwise a fraction of
/// the lifetime, never a fixed number of days: with a third of the lifetime
/// left, or half for certificates valid less than 10 days.
pub(crate) fn renew_at(
    not_before: SystemTime,
    not_after: SystemTime,
    renew_before: Option<Duration>,
) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    let remaining = renew_before.unwrap_or(if lifetime < SHORT_LIVED {
        lifetime / 2
    } else {
        lifetime / 3
    });
    not_after
        .checked_sub(remaining)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The earliest time a renewal may start: the certificate's renewal time,
/// but not sooner than `min_interval` after this process last issued it,
/// nor while a failure backoff runs.
pub(crate) fn next_attempt(
    renew_at: SystemTime,
    issued_here_at: Option<SystemTime>,
    min_interval: Duration,
    retry_at: Option<SystemTime>,
) -> SystemTime {
    let mut t = renew_at;
    if let Some(issued) = issued_here_at {
        t = t.max(crate::limits::later(issued, min_interval));
    }
    if let Some(retry) = retry_at {
        t = t.max(retry);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn t(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + days * 24 * 3600)
    }

    #[test]
    fn a_third_of_the_lifetime_left() {
        assert_eq!(renew_at(t(0), t(90), None), t(60));
        // Pebble's 5-year certificates.
        assert_eq!(renew_at(t(0), t(1825), None), t(1825 - 608) - DAY / 3);
    }

    #[test]
    fn half_for_short_lived_certificates() {
        assert_eq!(renew_at(t(0), t(6), None), t(3));
        assert_eq!(renew_at(t(0), t(10), None), t(10) - DAY * 10 / 3);
    }

    #[test]
    fn explicit_threshold() {
        assert_eq!(renew_at(t(0), t(90), Some(30 * DAY)), t(60));
        // Longer than the lifetime: due from the start.
        assert!(renew_at(t(0), t(90), Some(1000 * DAY)) < t(0));
        // A broken certificate (expires before it starts) is due at once.
        assert!(renew_at(t(5), t(0), None) <= t(0));
    }

    #[test]
    fn next_attempt_respects_spacing_and_backoff() {
        let min = Duration::from_secs(600);
        assert_eq!(next_attempt(t(60), None, min, None), t(60));
        assert_eq!(next_attempt(t(0), Some(t(1)), min, None), t(1) + min);
        assert_eq!(next_attempt(t(60), Some(t(1)), min, None), t(60));
        assert_eq!(next_attempt(t(0), None, min, Some(t(2))), t(2));
        assert_eq!(next_attempt(t(0), Some(t(1)), min, Some(t(1))), t(1) + min);
    }
}
