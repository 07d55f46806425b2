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

/// Due now? The renewal time picked from the server's renewal
/// information wins; else the lifetime rule.
pub fn is_due(meta: &CertMeta, now: SystemTime) -> Result<bool> {
    if meta.revoked.is_some() {
        return Ok(true);
    }
    if let Some(ari) = &meta.ari {
        return Ok(now >= parse(&ari.renew_at)?);
    }
    Ok(now >= due_at(parse(&meta.not_before)?, parse(&meta.not_after)?))
}

/// Formats a time as RFC 3339.
pub fn format(t: SystemTime) -> String {
    OffsetDateTime::from(t).format(&Rfc3339).unwrap_or_default()
}

/// Refreshes `meta.ari` from the server when it offers renewal information
/// and the last answer's Retry-After has passed. Keeps the picked renewal
/// time while the window is unchanged. Returns a warning when the server
/// could not be asked (the previous state, or the lifetime rule, applies).
pub async fn refresh_ari(
    client: &acmekit::Client,
    meta: &mut CertMeta,
    now: SystemTime,
) -> Option<String> {
    let id = meta.ari_cert_id.clone()?;
    client.directory().renewal_info.as_ref()?;
    if let Some(ari) = &meta.ari {
        if parse(&ari.next_check).is_ok_and(|t| now < t) {
            return None;
        }
    }
    let info = match client.renewal_info_by_id(&id).await {
        Ok(info) => info,
        Err(e) => return Some(format!("could not fetch renewal information: {e}")),
    };
    let (start, end) = (
        format(info.suggested_window.start),
        format(info.suggested_window.end),
    );
    let renew_at = match &meta.ari {
        Some(old) if old.window_start == start && old.window_end == end => old.renew_at.clone(),
        _ => format(info.random_renewal_time()),
    };
    meta.ari = Some(crate::store::AriState {
        window_start: start,
        window_end: end,
        renew_at,
        next_check: format(info.next_check(now)),
        explanation_url: info.explanation_url.clone(),
    });
    None
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
