//! The stored form of a certificate's renewal information, next to the
//! certificate: the window, the time picked in it and the next check
//! survive a restart, so a restarted server neither asks the CA again
//! before Retry-After nor picks a new time in the same window.
//!
//! JSON, with times in nanoseconds since the Unix epoch:
//! `{"certificate_id": "…", "next_check": n, "window_start": n,
//! "window_end": n, "renew_at": n}`; the last three are absent when no
//! window is known (the CA offers no renewal information).

use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

use crate::schedule::{Ari, Pick, Window};

/// The record of `ari` for the certificate with ARI ID `cert_id`.
pub(crate) fn encode(cert_id: &str, ari: &Ari) -> Vec<u8> {
    let mut record = json!({
        "certificate_id": cert_id,
        "next_check": nanos(ari.next_check),
    });
    if let Some(pick) = ari.pick {
        record["window_start"] = json!(nanos(pick.window.start));
        record["window_end"] = json!(nanos(pick.window.end));
        record["renew_at"] = json!(nanos(pick.at));
    }
    serde_json::to_vec_pretty(&record).unwrap_or_default()
}

/// Reads a record; an error says why it cannot be used (damaged, or it
/// belongs to another certificate than `cert_id`).
pub(crate) fn decode(bytes: &[u8], cert_id: &str) -> Result<Ari, String> {
    let record: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match record["certificate_id"].as_str() {
        Some(id) if id == cert_id => {}
        Some(_) => return Err("it is for another certificate".into()),
        None => return Err("no certificate_id".into()),
    }
    let time = |field: &str| {
        record[field]
            .as_u64()
            .map(|n| SystemTime::UNIX_EPOCH + Duration::from_nanos(n))
    };
    let next_check = time("next_check").ok_or("no next_check")?;
    let pick = match (time("window_start"), time("window_end"), time("renew_at")) {
        (Some(start), Some(end), Some(at)) if start <= end => Some(Pick {
            window: Window { start, end },
            at,
        }),
        (None, None, None) => None,
        _ => return Err("a damaged window".into()),
    };
    Ok(Ari {
        pick,
        next_check,
        failures: 0,
    })
}

/// Nanoseconds since the epoch; 0 before it, `u64::MAX` after 2554.
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn round_trip_to_the_nanosecond() {
        let ari = Ari {
            pick: Some(Pick {
                window: Window {
                    start: at(1_800_000_000, 1),
                    end: at(1_800_086_400, 999_999_999),
                },
                at: at(1_800_050_000, 123_456_789),
            }),
            next_check: at(1_700_000_000, 5),
            failures: 0,
        };
        assert_eq!(decode(&encode("a.b", &ari), "a.b"), Ok(ari));
        let none = Ari::unsupported(at(1_700_000_000, 0));
        let json = encode("a.b", &none);
        assert!(!String::from_utf8_lossy(&json).contains("window"));
        assert_eq!(decode(&json, "a.b"), Ok(none));
    }

    #[test]
    fn other_certificates_and_damage_are_refused() {
        let ari = Ari::unsupported(at(1_700_000_000, 0));
        let err = decode(&encode("a.b", &ari), "c.d").unwrap_err();
        assert!(err.contains("another certificate"), "{err}");
        for bad in [
            &b"junk"[..],
            br#"{"next_check": 1}"#,
            br#"{"certificate_id": "a.b"}"#,
            br#"{"certificate_id": "a.b", "next_check": 1, "window_start": 5}"#,
            br#"{"certificate_id": "a.b", "next_check": 1, "window_start": 5, "window_end": 4, "renew_at": 4}"#,
        ] {
            assert!(decode(bad, "a.b").is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
