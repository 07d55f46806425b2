//! When a certificate is due for renewal, without renewal information:
//! with a third of its lifetime left (half, for certificates shorter than
//! 10 days). Never a fixed number of days: 6-day certificates exist.

use anyhow::{Context as _, Result};
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::store::CertMeta;

/// The time the certificate becomes due by the lifetime rule.
pub fn due_at(not_before: SystemTime, not_after: SystemTime) -> SystemTime {
    let lifetime = not_after
        .duration_since(not_before)
        .unwrap_or(Duration::ZERO);
    let left = if lifetime < Duration::from_secs(10 * 86_400) {
        lifetime / 2
    } else {
        lifetime / 3
    };
    not_after - left
}

/// Parses a stored RFC 3339 time.
pub fn parse(t: &str) -> Result<SystemTime> {
    Ok(OffsetDateTime::parse(t, &Rfc3339)
        .with_context(|| format!("{t:?} is not an RFC 3339 time"))?
        .into())
}

/// Due now?
pub fn is_due(meta: &CertMeta, now: SystemTime) -> Result<bool> {
    Ok(now >= due_at(parse(&meta.not_before)?, parse(&meta.not_after)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_third_of_the_lifetime_or_half_for_short_ones() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(due_at(t0, t0 + 90 * day), t0 + 60 * day);
        assert_eq!(due_at(t0, t0 + 6 * day), t0 + 3 * day);
        assert_eq!(due_at(t0, t0 + 10 * day), t0 + 10 * day - (10 * day) / 3);
    }
}
