//! Certificate revocation (RFC 8555 §7.6): by the account that holds the
//! authorizations, or by whoever holds the certificate's private key.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

use crate::account::Account;
use crate::b64;
use crate::client::Client;
use crate::csr::CertificateKey;
use crate::error::{Error, Result};
use crate::jws::KeyRef;
use crate::key::AccountKey;

/// Why a certificate is revoked: the CRLReason codes of RFC 5280 §5.3.1
/// (code 7 is unused there). `Display` and `FromStr` use RFC 5280's own
/// names (`keyCompromise`, `cACompromise`, …); `FromStr` also takes the
/// numeric code and ignores ASCII case.
///
/// Servers may refuse some reasons: Let's Encrypt, for one, accepts only
/// unspecified, keyCompromise, affiliationChanged, superseded and
/// cessationOfOperation, and answers the others with `badRevocationReason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// `unspecified` (0).
    Unspecified,
    /// `keyCompromise` (1): the certificate's private key leaked.
    KeyCompromise,
    /// `cACompromise` (2).
    CaCompromise,
    /// `affiliationChanged` (3).
    AffiliationChanged,
    /// `superseded` (4): replaced by a newer certificate.
    Superseded,
    /// `cessationOfOperation` (5): the names are no longer in use.
    CessationOfOperation,
    /// `certificateHold` (6).
    CertificateHold,
    /// `removeFromCRL` (8).
    RemoveFromCrl,
    /// `privilegeWithdrawn` (9).
    PrivilegeWithdrawn,
    /// `aACompromise` (10).
    AaCompromise,
    /// A code RFC 5280 does not define (such as 7), sent as is; servers
    /// answer it with `badRevocationReason`. Only [`RevocationReason::from_code`]
    /// makes one, for testing servers.
    Other(u8),
}

/// Every reason RFC 5280 defines, in code order.
const KNOWN: [(RevocationReason, u8, &str); 10] = [
    (RevocationReason::Unspecified, 0, "unspecified"),
    (RevocationReason::KeyCompromise, 1, "keyCompromise"),
    (RevocationReason::CaCompromise, 2, "cACompromise"),
    (
        RevocationReason::AffiliationChanged,
        3,
        "affiliationChanged",
    ),
    (RevocationReason::Superseded, 4, "superseded"),
    (
        RevocationReason::CessationOfOperation,
        5,
        "cessationOfOperation",
    ),
    (RevocationReason::CertificateHold, 6, "certificateHold"),
    (RevocationReason::RemoveFromCrl, 8, "removeFromCRL"),
    (
        RevocationReason::PrivilegeWithdrawn,
        9,
        "privilegeWithdrawn",
    ),
    (RevocationReason::AaCompromise, 10, "aACompromise"),
];

impl RevocationReason {
    /// Every reason RFC 5280 §5.3.1 defines, in code order.
    pub const ALL: [RevocationReason; 10] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::RemoveFromCrl,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The CRLReason code sent as `reason`.
    pub fn code(self) -> u8 {
        match self {
            Self::Other(code) => code,
            known => KNOWN
                .iter()
                .find(|(r, _, _)| *r == known)
                .map(|(_, code, _)| *code)
                .expect("every named reason is in KNOWN"),
        }
    }

    /// The reason with this code; codes RFC 5280 does not define become
    /// [`RevocationReason::Other`].
    pub fn from_code(code: u8) -> Self {
        KNOWN
            .iter()
            .find(|(_, c, _)| *c == code)
            .map_or(Self::Other(code), |(r, _, _)| *r)
    }

    /// RFC 5280's name (`keyCompromise`), or `None` for an undefined code.
    pub fn name(self) -> Option<&'static str> {
        KNOWN
            .iter()
            .find(|(r, _, _)| *r == self)
            .map(|(_, _, name)| *name)
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "{}", self.code()),
        }
    }
}

impl FromStr for RevocationReason {
    type Err = Error;

    /// Parses RFC 5280's name in any ASCII case (`keyCompromise`,
    /// `keycompromise`) or a defined numeric code (`1`).
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let found = KNOWN
            .iter()
            .find(|(_, code, name)| name.eq_ignore_ascii_case(s) || code.to_string() == s);
        match found {
            Some((reason, _, _)) => Ok(*reason),
            None => Err(Error::InvalidArgument(format!(
                "{s:?} is not a revocation reason; use one of {}",
                KNOWN
                    .iter()
                    .map(|(_, _, name)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The revokeCert payload (RFC 8555 §7.6).
#[derive(Serialize)]
struct RevokePayload {
    /// base64url of the certificate's DER.
    certificate: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<u8>,
}

fn payload(cert_der: &[u8], reason: Option<RevocationReason>) -> Result<Vec<u8>> {
    if cert_der.is_empty() {
        return Err(Error::InvalidArgument(
            "the certificate to revoke is empty".into(),
        ));
    }
    x509_parser::parse_x509_certificate(cert_der).map_err(|e| {
        Error::InvalidArgument(format!(
            "the certificate to revoke is not DER X.509 (convert PEM first): {e}"
        ))
    })?;
    Ok(serde_json::to_vec(&RevokePayload {
        certificate: b64(cert_der),
        reason: reason.map(RevocationReason::code),
    })
    .expect("payload serializes"))
}

impl Account {
    /// Revokes a certificate (DER), signed by this account's key (`kid`).
    ///
    /// RFC 8555 §7.6: the server accepts this from the account that issued
    /// the certificate, or from an account holding valid authorizations for
    /// every identifier in it. Revoking a certificate twice is
    /// [`ProblemType::AlreadyRevoked`](crate::ProblemType::AlreadyRevoked);
    /// a reason the server does not allow is
    /// [`ProblemType::BadRevocationReason`](crate::ProblemType::BadRevocationReason).
    /// Without a reason the server records `unspecified`.
    pub async fn revoke(&self, cert_der: &[u8], reason: Option<RevocationReason>) -> Result<()> {
        let body = payload(cert_der, reason)?;
        let url = &self.client().directory().revoke_cert;
        self.post(url, Some(&body), None).await?;
        Ok(())
    }
}

/// Revokes a certificate (DER) with a JWS signed by the certificate's own
/// private key, carrying the public key as `jwk` (RFC 8555 §7.6): no
/// account is needed, so whoever holds a leaked key can revoke.
///
/// The key is used only to sign this one request. Errors as
/// [`Account::revoke`]; a key that does not match the certificate is
/// refused by the server (`unauthorized` or `badPublicKey`).
pub async fn revoke_with_certificate_key(
    client: &Client,
    cert_der: &[u8],
    key: &CertificateKey,
    reason: Option<RevocationReason>,
) -> Result<()> {
    let body = payload(cert_der, reason)?;
    // The JWS code signs with AccountKey, which reads every key type a
    // CertificateKey can hold.
    let signer = AccountKey::from_pkcs8_der(&key.to_der())?;
    let url = &client.directory().revoke_cert;
    client
        .post(&signer, KeyRef::Jwk, url, Some(&body), None)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5280_codes_and_names_round_trip() {
        let expected = [
            ("unspecified", 0),
            ("keyCompromise", 1),
            ("cACompromise", 2),
            ("affiliationChanged", 3),
            ("superseded", 4),
            ("cessationOfOperation", 5),
            ("certificateHold", 6),
            ("removeFromCRL", 8),
            ("privilegeWithdrawn", 9),
            ("aACompromise", 10),
        ];
        for (reason, (name, code)) in RevocationReason::ALL.iter().zip(expected) {
            assert_eq!(reason.to_string(), name);
            assert_eq!(reason.code(), code);
            assert_eq!(RevocationReason::from_code(code), *reason);
            assert_eq!(name.parse::<RevocationReason>().unwrap(), *reason);
            assert_eq!(
                code.to_string().parse::<RevocationReason>().unwrap(),
                *reason
            );
        }
        assert_eq!(
            "KEYCOMPROMISE".parse::<RevocationReason>().unwrap(),
            RevocationReason::KeyCompromise
        );
        assert_eq!(
            " removefromcrl ".parse::<RevocationReason>().unwrap(),
            RevocationReason::RemoveFromCrl
        );
    }

    #[test]
    fn undefined_codes() {
        let seven = RevocationReason::from_code(7);
        assert_eq!(seven, RevocationReason::Other(7));
        assert_eq!(seven.code(), 7);
        assert_eq!(seven.to_string(), "7");
        assert_eq!(seven.name(), None);
        for bad in ["7", "11", "", "key-compromise", "compromised"] {
            let err = bad.parse::<RevocationReason>().unwrap_err().to_string();
            assert!(err.contains("keyCompromise"), "{err}");
        }
    }

    /// RFC 8555 §7.6's payload: `certificate` as base64url DER, `reason`
    /// only when given (never `null`).
    #[test]
    fn payload_members() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["a.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        let json: serde_json::Value =
            serde_json::from_slice(&payload(&der, Some(RevocationReason::KeyCompromise)).unwrap())
                .unwrap();
        assert_eq!(json["certificate"], b64(&der));
        assert_eq!(json["reason"], 1);
        let json = String::from_utf8(payload(&der, None).unwrap()).unwrap();
        assert_eq!(json, format!(r#"{{"certificate":"{}"}}"#, b64(&der)));
        assert!(payload(&[], None).is_err());
        assert!(payload(b"-----BEGIN CERTIFICATE-----", None)
            .unwrap_err()
            .to_string()
            .contains("DER"));
    }
}
