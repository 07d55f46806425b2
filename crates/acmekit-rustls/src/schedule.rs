//! When a certificate is renewed, and when its renewal information is
//! fetched. Pure logic: the clock (and the random pick) are passed in.
//!
//! Renewal follows the CA's renewal information (ARI, RFC 9773) when its
//! directory offers `renewalInfo`: a time is picked at random inside the
//! suggested window once per window (kept while the window is unchanged,
//! across restarts too), and the certificate renews then. Without renewal
//! information (the CA offers none, no fetch succeeded yet, or the
//! certificate has no ID) it renews with a third of its lifetime left, half
//! for certificates valid less than 10 days ([`lifetime_renew_at`]). An
//! explicit `renew_before` threshold wins when it comes earlier.
//!
//! The renewal information is fetched again at [`Ari::next_check`]: the
//! reply's Retry-After limited to between one minute and one day, six hours
//! without one ([`acmekit::RenewalInfo::next_check`]); after a failed fetch
//! with exponential backoff from one minute up to six hours (or the error's
//! Retry-After); a day later when the CA offers none.

use acmekit::{DEFAULT_CHECK_INTERVAL, MAX_CHECK_INTERVAL, MIN_CHECK_INTERVAL};
use std::time::{Duration, SystemTime};

use crate::limits::{later, Backoff};

/// Certificates valid for less than this renew with half their lifetime
/// left instead of a third (short-lived certificates, e.g. 6-day ones).
const SHORT_LIVED: Duration = Duration::from_secs(10 * 24 * 3600);

/// Between failed fetches of renewal information.
const CHECK_BACKOFF: Backoff = Backoff {
    initial: MIN_CHECK_INTERVAL,
    max: DEFAULT_CHECK_INTERVAL,
};

/// A suggested renewal window (RFC 9773 §4.2): renew in `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) start: SystemTime,
    pub(crate) end: SystemTime,
}

/// The last window the CA suggested, and the time picked in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pick {
    pub(crate) window: Window,
    pub(crate) at: SystemTime,
}

/// What this process knows of one certificate's renewal information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ari {
    /// `None` while no window is known: the CA offers no renewal
    /// information, or no fetch has succeeded yet.
    pub(crate) pick: Option<Pick>,
    /// When to fetch the renewal information again.
    pub(crate) next_check: SystemTime,
    /// Consecutive failed fetches (0 after a success), for the backoff.
    pub(crate) failures: u32,
}

impl Ari {
    /// After a successful fetch that suggested `window`: keeps the time
    /// picked earlier if the window is the same (RFC 9773 §4.2: picking
    /// again would skew renewals toward the window's start), else takes
    /// `candidate` (the caller's uniform random pick in the window).
    pub(crate) fn fetched(
        previous: Option<&Ari>,
        window: Window,
        candidate: SystemTime,
        next_check: SystemTime,
    ) -> Ari {
        let at = match previous.and_then(|p| p.pick) {
            Some(p) if p.window == window => p.at,
            _ => candidate,
        };
        Ari {
            pick: Some(Pick { window, at }),
            next_check,
            failures: 0,
        }
    }

    /// After a failed fetch at `now`: the last window (if any) still holds;
    /// the next fetch backs off from one minute, doubling, up to six hours,
    /// or waits for the error's `retry_after` (at most a day).
    pub(crate) fn failed(
        previous: Option<&Ari>,
        now: SystemTime,
        retry_after: Option<SystemTime>,
    ) -> Ari {
        let failures = previous.map_or(0, |p| p.failures).saturating_add(1);
        let mut next_check = later(now, CHECK_BACKOFF.delay(failures));
        if let Some(at) = retry_after {
            next_check = next_check.max(at.min(later(now, MAX_CHECK_INTERVAL)));
        }
        Ari {
            pick: previous.and_then(|p| p.pick),
            next_check,
            failures,
        }
    }

    /// The CA's directory has no `renewalInfo`: the lifetime rule applies;
    /// look again in a day (the CA may start offering it).
    pub(crate) fn unsupported(now: SystemTime) -> Ari {
        Ari {
            pick: None,
            next_check: later(now, MAX_CHECK_INTERVAL),
            failures: 0,
        }
    }
}

/// When to renew a certificate valid from `not_before` to `not_after`: at
/// the time picked in the CA's suggested window if one is known, else by
/// [`lifetime_renew_at`]; `renew_before` (that long before expiry) wins
/// when it comes earlier.
pub(crate) fn renew_at(
    not_before: SystemTime,
    not_after: SystemTime,
    renew_before: Option<Duration>,
    ari: Option<&Ari>,
) -> SystemTime {
    match ari.and_then(|a| a.pick) {
        Some(pick) => match renew_before {
            Some(remaining) => pick.at.min(before(not_after, remaining)),
            None => pick.at,
        },
        None => lifetime_renew_at(not_before, not_after, renew_before),
    }
}

/// The lifetime rule. With `renew_before` set: that long before expiry.
/// Otherwise a fraction of the lifetime, never a fixed number of days: with
/// a third of the lifetime left, or half for certificates valid less than
/// 10 days.
pub(crate) fn lifetime_renew_at(
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
    before(not_after, remaining)
}

/// `t - d`, or the epoch if that underflows.
fn before(t: SystemTime, d: Duration) -> SystemTime {
    t.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH)
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
        t = t.max(later(issued, min_interval));
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
    const HOUR: Duration = Duration::from_secs(3600);

    fn t(days: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + days * 24 * 3600)
    }

    fn window(start: u64, end: u64) -> Window {
        Window {
            start: t(start),
            end: t(end),
        }
    }

    #[test]
    fn a_third_of_the_lifetime_left() {
        assert_eq!(renew_at(t(0), t(90), None, None), t(60));
        // Pebble's 5-year certificates.
        assert_eq!(renew_at(t(0), t(1825), None, None), t(1825 - 608) - DAY / 3);
    }

    #[test]
    fn half_for_short_lived_certificates() {
        assert_eq!(renew_at(t(0), t(6), None, None), t(3));
        assert_eq!(renew_at(t(0), t(10), None, None), t(10) - DAY * 10 / 3);
    }

    #[test]
    fn explicit_threshold() {
        assert_eq!(renew_at(t(0), t(90), Some(30 * DAY), None), t(60));
        // Longer than the lifetime: due from the start.
        assert!(renew_at(t(0), t(90), Some(1000 * DAY), None) < t(0));
        // A broken certificate (expires before it starts) is due at once.
        assert!(renew_at(t(5), t(0), None, None) <= t(0));
    }

    #[test]
    fn the_time_picked_in_the_window_replaces_the_lifetime_rule() {
        let ari = Ari::fetched(None, window(75, 80), t(77), t(1));
        assert_eq!(renew_at(t(0), t(90), None, Some(&ari)), t(77));
        // Earlier than the lifetime rule too: a CA asking for early renewal
        // (e.g. before a mass revocation) is followed.
        let early = Ari::fetched(None, window(2, 3), t(2), t(1));
        assert_eq!(renew_at(t(0), t(90), None, Some(&early)), t(2));
        // renew_before wins only when it comes earlier.
        assert_eq!(renew_at(t(0), t(90), Some(30 * DAY), Some(&ari)), t(60));
        assert_eq!(renew_at(t(0), t(90), Some(5 * DAY), Some(&ari)), t(77));
        assert!(renew_at(t(0), t(90), Some(1000 * DAY), Some(&ari)) < t(0));
        // No window known (the CA offers none, or no fetch succeeded):
        // the lifetime rule.
        let none = Ari::unsupported(t(0));
        assert_eq!(renew_at(t(0), t(90), None, Some(&none)), t(60));
        let failed = Ari::failed(None, t(0), None);
        assert_eq!(renew_at(t(0), t(90), None, Some(&failed)), t(60));
    }

    #[test]
    fn the_time_is_picked_once_per_window() {
        let first = Ari::fetched(None, window(75, 80), t(78), t(1));
        assert_eq!(first.pick.unwrap().at, t(78));
        // The same window again: the first pick stays, whatever the new
        // candidate, and the next check moves on.
        let again = Ari::fetched(Some(&first), window(75, 80), t(75), t(2));
        assert_eq!(again.pick.unwrap().at, t(78));
        assert_eq!(again.next_check, t(2));
        // A new window: a new pick.
        let moved = Ari::fetched(Some(&again), window(10, 12), t(11), t(3));
        assert_eq!(moved.pick.unwrap().at, t(11));
        assert_eq!(moved.pick.unwrap().window, window(10, 12));
        // A failed fetch keeps the window and its pick; the next success
        // with the same window keeps it too.
        let failed = Ari::failed(Some(&moved), t(4), None);
        assert_eq!(failed.pick, moved.pick);
        let back = Ari::fetched(Some(&failed), window(10, 12), t(10), t(5));
        assert_eq!(back.pick.unwrap().at, t(11));
        assert_eq!(back.failures, 0);
    }

    #[test]
    fn failed_fetches_back_off_and_respect_retry_after() {
        let now = t(0);
        let mut ari = Ari::failed(None, now, None);
        assert_eq!(ari.next_check, now + MIN_CHECK_INTERVAL);
        assert_eq!(ari.failures, 1);
        ari = Ari::failed(Some(&ari), now, None);
        assert_eq!(ari.next_check, now + 2 * MIN_CHECK_INTERVAL);
        for _ in 0..40 {
            ari = Ari::failed(Some(&ari), now, None);
        }
        assert_eq!(ari.next_check, now + DEFAULT_CHECK_INTERVAL, "capped");
        // A Retry-After later than the backoff is honoured, up to a day.
        let r = Ari::failed(None, now, Some(now + 2 * HOUR));
        assert_eq!(r.next_check, now + 2 * HOUR);
        let r = Ari::failed(None, now, Some(now + 30 * DAY));
        assert_eq!(r.next_check, now + MAX_CHECK_INTERVAL);
        let r = Ari::failed(None, now, Some(now + Duration::from_secs(1)));
        assert_eq!(r.next_check, now + MIN_CHECK_INTERVAL);
    }

    #[test]
    fn without_renewal_info_look_again_in_a_day() {
        let ari = Ari::unsupported(t(3));
        assert_eq!(ari.next_check, t(4));
        assert_eq!(ari.pick, None);
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
