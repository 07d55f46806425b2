//! ACME Renewal Information (RFC 9773): the certificate ID, the server's
//! suggested renewal window, and when to renew inside it.
//!
//! The timing logic is pure (the clock and the randomness are arguments), so
//! it is tested without a runtime; [`RenewalInfo::random_renewal_time`] is
//! the convenience that uses the real clock and aws-lc-rs randomness.

use serde::Deserialize;
use std::time::{Duration, SystemTime};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

use crate::account::Account;
use crate::client::{parse_json, Client};
use crate::error::{Error, Result};

/// RFC 9773 §4.3.2: "values under one minute could be treated as if they
/// were one minute".
pub const MIN_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// RFC 9773 §4.3.2: "values over one day could be treated as if they were
/// one day".
pub const MAX_CHECK_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// RFC 9773 §4.3.3: without a usable Retry-After, "clients SHOULD perform
/// the next RenewalInfo fetch as soon as possible after six hours".
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(6 * 60 * 60);

/// The window in which the server suggests renewing (RFC 9773 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuggestedWindow {
    /// Renew no earlier than this.
    pub start: SystemTime,
    /// Renew before this.
    pub end: SystemTime,
}

/// A certificate's renewal information (RFC 9773 §4.2), with the reply's
/// Retry-After.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RenewalInfo {
    /// When the server suggests renewing.
    pub suggested_window: SuggestedWindow,
    /// A page explaining the window (e.g. a mass-revocation notice), to
    /// show to the user.
    pub explanation_url: Option<String>,
    /// When to fetch the renewal information again (the reply's
    /// Retry-After), if the server said; see [`RenewalInfo::next_check`].
    pub retry_after: Option<SystemTime>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewalInfoWire {
    suggested_window: WindowWire,
    #[serde(default, rename = "explanationURL")]
    explanation_url: Option<String>,
}

#[derive(Deserialize)]
struct WindowWire {
    start: String,
    end: String,
}

impl RenewalInfo {
    /// Parses a renewalInfo reply body fetched from `url`.
    pub(crate) fn from_json(
        url: &str,
        body: &[u8],
        retry_after: Option<SystemTime>,
    ) -> Result<Self> {
        let wire: RenewalInfoWire = parse_json(url, body)?;
        let time = |what: &str, s: &str| {
            OffsetDateTime::parse(s, &Rfc3339)
                .map(SystemTime::from)
                .map_err(|e| {
                    Error::invalid(
                        url,
                        format!("suggestedWindow.{what} {s:?} is not an RFC 3339 time: {e}"),
                    )
                })
        };
        let start = time("start", &wire.suggested_window.start)?;
        let end = time("end", &wire.suggested_window.end)?;
        if end < start {
            return Err(Error::invalid(
                url,
                "the suggested renewal window ends before it starts",
            ));
        }
        Ok(RenewalInfo {
            suggested_window: SuggestedWindow { start, end },
            explanation_url: wire.explanation_url,
            retry_after,
        })
    }

    /// When to renew: a time chosen uniformly at random inside the window
    /// (`random` in `[0, 1)` picks where), or `now` when that time has
    /// passed (RFC 9773 §4.2: "Select a uniform random time within the
    /// suggested window. If the selected time is in the past, attempt
    /// renewal immediately."). Pure: the clock and randomness are arguments.
    pub fn renewal_time(&self, now: SystemTime, random: f64) -> SystemTime {
        let SuggestedWindow { start, end } = self.suggested_window;
        let span = end.duration_since(start).unwrap_or(Duration::ZERO);
        let fraction = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let chosen = start + span.mul_f64(fraction);
        // A point exactly at `end` is outside the half-open window.
        let chosen = if chosen >= end && span > Duration::ZERO {
            end - Duration::from_nanos(1)
        } else {
            chosen
        };
        chosen.max(now)
    }

    /// [`RenewalInfo::renewal_time`] with the real clock and random numbers
    /// from aws-lc-rs. Keep the result: picking again later would skew
    /// renewals toward the start of the window.
    pub fn random_renewal_time(&self) -> SystemTime {
        self.renewal_time(SystemTime::now(), random_fraction())
    }

    /// True once the suggested window has opened (`now` ≥ its start): a
    /// renewal now follows the server's advice. To spread renewals as RFC
    /// 9773 asks, schedule at [`RenewalInfo::renewal_time`] instead; a job
    /// that only runs periodically renews when that time falls before its
    /// next run (RFC 9773 §4.2, step 5).
    pub fn should_renew(&self, now: SystemTime) -> bool {
        now >= self.suggested_window.start
    }

    /// When to fetch the renewal information again: Retry-After limited to
    /// between one minute and one day from `now` (RFC 9773 §4.3.2), or six
    /// hours from `now` when the server sent none (§4.3.3).
    pub fn next_check(&self, now: SystemTime) -> SystemTime {
        let wait = match self.retry_after {
            Some(at) => at
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
                .clamp(MIN_CHECK_INTERVAL, MAX_CHECK_INTERVAL),
            None => DEFAULT_CHECK_INTERVAL,
        };
        now + wait
    }
}

/// The ARI certificate ID of a DER certificate (RFC 9773 §4.1):
/// base64url(AKI keyIdentifier) "." base64url(serial), where the serial is
/// the DER integer's content octets (a leading zero byte included) and
/// neither part is padded. This is the path segment of the renewalInfo URL
/// and the value of newOrder's `replaces`.
pub fn certificate_id(cert_der: &[u8]) -> Result<String> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| Error::Certificate(format!("not a valid X.509 certificate: {e}")))?;
    let mut key_id = None;
    for ext in cert.extensions() {
        if let ParsedExtension::AuthorityKeyIdentifier(aki) = ext.parsed_extension() {
            key_id = aki.key_identifier.as_ref().map(|k| k.0);
        }
    }
    let key_id = key_id.ok_or_else(|| {
        Error::Certificate(
            "the certificate has no Authority Key Identifier with a keyIdentifier, \
             so it has no ARI certificate ID (RFC 9773 §4.1)"
                .into(),
        )
    })?;
    Ok(certificate_id_from_parts(key_id, cert.raw_serial()))
}

/// The certificate ID from its two parts (RFC 9773 §4.1).
fn certificate_id_from_parts(key_identifier: &[u8], serial: &[u8]) -> String {
    format!("{}.{}", crate::b64(key_identifier), crate::b64(serial))
}

/// The renewalInfo URL for a certificate ID (RFC 9773 §4.1: the base URL,
/// a slash, the ID).
fn renewal_info_url(base: &str, cert_id: &str) -> String {
    format!("{}/{cert_id}", base.trim_end_matches('/'))
}

impl Client {
    /// Fetches the renewal information for a DER certificate (an
    /// unauthenticated GET of `<renewalInfo>/<certificate ID>`).
    ///
    /// [`Error::Unsupported`] when the directory has no `renewalInfo`.
    pub async fn renewal_info(&self, cert_der: &[u8]) -> Result<RenewalInfo> {
        let id = certificate_id(cert_der)?;
        self.renewal_info_by_id(&id).await
    }

    /// Fetches the renewal information for a certificate ID (see
    /// [`certificate_id`]).
    pub async fn renewal_info_by_id(&self, cert_id: &str) -> Result<RenewalInfo> {
        let Some(base) = &self.directory().renewal_info else {
            return Err(Error::Unsupported(
                "renewal information (RFC 9773): its directory has no renewalInfo URL".into(),
            ));
        };
        let url = renewal_info_url(base, cert_id);
        let resp = self.get(&url, Some("application/json")).await?;
        RenewalInfo::from_json(&url, &resp.body, resp.retry_after())
    }
}

impl Account {
    /// Fetches the renewal information for a DER certificate; the same as
    /// [`Client::renewal_info`] (the request is not signed).
    pub async fn renewal_info(&self, cert_der: &[u8]) -> Result<RenewalInfo> {
        self.client().renewal_info(cert_der).await
    }
}

/// A random number in `[0, 1)` from aws-lc-rs (0 if it fails).
fn random_fraction() -> f64 {
    let mut b = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 0.0;
    }
    // 53 random bits: every value is an exact f64 below 1.
    (u64::from_be_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// RFC 9773 §4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:
    /// 7B:84:7B:A0:AE:2C:DE:01:C8:D4 and serial 00:87:65:43:21.
    const RFC_AKI: [u8; 20] = [
        0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE,
        0x2C, 0xDE, 0x01, 0xC8, 0xD4,
    ];
    const RFC_SERIAL: [u8; 5] = [0x00, 0x87, 0x65, 0x43, 0x21];
    const RFC_ID: &str = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";

    #[test]
    fn rfc9773_4_1_certificate_id_from_parts() {
        assert_eq!(certificate_id_from_parts(&RFC_AKI, &RFC_SERIAL), RFC_ID);
    }

    /// The same example, read from a certificate: an issuer whose key
    /// identifier is the RFC's AKI signs serial 0x87654321, which DER
    /// encodes with a leading zero byte.
    #[test]
    fn rfc9773_4_1_certificate_id_from_a_certificate() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_identifier_method = rcgen::KeyIdMethod::PreSpecified(RFC_AKI.to_vec());
        let issuer = rcgen::Issuer::new(ca, &ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec!["example.com".to_owned()]).unwrap();
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x87, 0x65, 0x43, 0x21]));
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        assert_eq!(certificate_id(cert.der()).unwrap(), RFC_ID);

        // Without an AKI there is no ID, and the error says why.
        let plain = rcgen::CertificateParams::new(vec!["example.com".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let err = certificate_id(plain.der()).unwrap_err();
        assert!(
            err.to_string().contains("Authority Key Identifier"),
            "{err}"
        );
        assert!(matches!(
            certificate_id(b"junk"),
            Err(Error::Certificate(_))
        ));
    }

    #[test]
    fn renewal_info_url_joins_with_one_slash() {
        assert_eq!(
            renewal_info_url("https://ca/renewal-info/", RFC_ID),
            format!("https://ca/renewal-info/{RFC_ID}")
        );
        assert_eq!(
            renewal_info_url("https://ca/renewal-info", "a.b"),
            "https://ca/renewal-info/a.b"
        );
    }

    /// RFC 9773 §4.2's example RenewalInfo object.
    #[test]
    fn rfc9773_4_2_renewal_info() {
        let body = br#"{
          "suggestedWindow": {
            "start": "2025-01-02T04:00:00Z",
            "end": "2025-01-03T04:00:00Z"
          },
          "explanationURL": "https://acme.example.com/docs/ari"
        }"#;
        let info = RenewalInfo::from_json("u", body, None).unwrap();
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_790_400);
        assert_eq!(info.suggested_window.start, start);
        assert_eq!(info.suggested_window.end, start + 24 * HOUR);
        assert_eq!(
            info.explanation_url.as_deref(),
            Some("https://acme.example.com/docs/ari")
        );
    }

    #[test]
    fn bad_renewal_info_is_an_invalid_response() {
        for body in [
            &br#"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#[..],
            br#"{"suggestedWindow":{"start":"yesterday","end":"2025-01-02T04:00:00Z"}}"#,
            br#"{"explanationURL":"https://x"}"#,
            b"not json",
        ] {
            let err = RenewalInfo::from_json("https://ca/ri/x", body, None).unwrap_err();
            assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
        }
    }

    fn window(start: SystemTime, hours: u32) -> RenewalInfo {
        RenewalInfo {
            suggested_window: SuggestedWindow {
                start,
                end: start + HOUR * hours,
            },
            explanation_url: None,
            retry_after: None,
        }
    }

    #[test]
    fn renewal_time_is_inside_the_window_and_now_once_passed() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let info = window(start, 10);
        let before = start - 100 * HOUR;
        assert_eq!(info.renewal_time(before, 0.0), start);
        assert_eq!(info.renewal_time(before, 0.5), start + 5 * HOUR);
        let last = info.renewal_time(before, 0.999_999_999_999);
        assert!(last < info.suggested_window.end && last > start + 9 * HOUR);
        // Out-of-range randomness stays inside the window.
        assert!(info.renewal_time(before, 7.0) < info.suggested_window.end);
        assert_eq!(info.renewal_time(before, -1.0), start);
        assert_eq!(info.renewal_time(before, f64::NAN), start);
        // Inside the window: a time already past means now.
        let now = start + 6 * HOUR;
        assert_eq!(info.renewal_time(now, 0.1), now);
        assert_eq!(info.renewal_time(now, 0.8), start + 8 * HOUR);
        // The whole window has passed: now.
        let later = start + 50 * HOUR;
        assert_eq!(info.renewal_time(later, 0.5), later);
        // A zero-length window.
        assert_eq!(window(start, 0).renewal_time(before, 0.7), start);
    }

    #[test]
    fn random_renewal_times_spread_over_the_window() {
        let start = SystemTime::now() + 1000 * HOUR;
        let info = window(start, 100);
        let mut halves = [0; 2];
        for _ in 0..200 {
            let t = info.random_renewal_time();
            assert!(t >= start && t < info.suggested_window.end);
            halves[usize::from(t >= start + 50 * HOUR)] += 1;
        }
        assert!(halves[0] > 40 && halves[1] > 40, "{halves:?}");
    }

    #[test]
    fn should_renew_once_the_window_opens() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let info = window(start, 10);
        assert!(!info.should_renew(start - Duration::from_secs(1)));
        assert!(info.should_renew(start));
        assert!(info.should_renew(start + 30 * HOUR));
    }

    #[test]
    fn next_check_honours_retry_after_within_limits() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut info = window(now, 10);
        assert_eq!(info.next_check(now), now + DEFAULT_CHECK_INTERVAL);
        info.retry_after = Some(now + 2 * HOUR);
        assert_eq!(info.next_check(now), now + 2 * HOUR);
        info.retry_after = Some(now + Duration::from_secs(5));
        assert_eq!(info.next_check(now), now + MIN_CHECK_INTERVAL);
        info.retry_after = Some(now - HOUR);
        assert_eq!(info.next_check(now), now + MIN_CHECK_INTERVAL);
        info.retry_after = Some(now + 100 * HOUR);
        assert_eq!(info.next_check(now), now + MAX_CHECK_INTERVAL);
    }
}
