//! RFC 7807 problem documents as ACME servers send them (RFC 8555 §6.7).

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::types::Identifier;

/// The URN prefix of the error types RFC 8555 §6.7 defines.
pub const ACME_ERROR_PREFIX: &str = "urn:ietf:params:acme:error:";

/// A problem document (`application/problem+json`) returned by the server.
///
/// RFC 8555 §6.7: "Clients SHOULD display the `detail` field of all errors."
/// `Display` therefore shows the detail, the type and any subproblems.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Problem {
    /// The problem type URI, e.g. `urn:ietf:params:acme:error:badNonce`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_uri: String,
    /// A human-readable explanation written by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The HTTP status code the server sent with the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A URI identifying this occurrence of the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Per-identifier problems (RFC 8555 §6.7.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Problem>,
    /// The identifier a subproblem is about (RFC 8555 §6.7.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Identifier>,
}

/// The ACME error types of RFC 8555 §6.7 (and later RFCs), matchable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemType {
    /// The request specified an account that does not exist.
    AccountDoesNotExist,
    /// The request specified a certificate to be revoked that has already been revoked.
    AlreadyRevoked,
    /// The certificate named in `replaces` was already replaced (RFC 9773).
    AlreadyReplaced,
    /// The CSR is unacceptable (e.g., due to a short key).
    BadCsr,
    /// The client sent an unacceptable anti-replay nonce.
    BadNonce,
    /// The JWS was signed by a public key the server does not support.
    BadPublicKey,
    /// The revocation reason provided is not allowed by the server.
    BadRevocationReason,
    /// The JWS was signed with an algorithm the server does not support.
    BadSignatureAlgorithm,
    /// CAA records forbid the CA from issuing a certificate.
    Caa,
    /// Specific error conditions are indicated in the `subproblems` array.
    Compound,
    /// The server could not connect to the validation target.
    Connection,
    /// There was a problem with a DNS query during identifier validation.
    Dns,
    /// The request must include a value for the `externalAccountBinding` field.
    ExternalAccountRequired,
    /// Response received didn't match the challenge's requirements.
    IncorrectResponse,
    /// A contact URL for an account was invalid.
    InvalidContact,
    /// The request message was malformed.
    Malformed,
    /// The request attempted to finalize an order that is not ready.
    OrderNotReady,
    /// The request exceeds a rate limit.
    RateLimited,
    /// The server will not issue certificates for the identifier.
    RejectedIdentifier,
    /// The server experienced an internal error.
    ServerInternal,
    /// The server received a TLS error during validation.
    Tls,
    /// The client lacks sufficient authorization.
    Unauthorized,
    /// A contact URL for an account used an unsupported protocol scheme.
    UnsupportedContact,
    /// An identifier is of an unsupported type.
    UnsupportedIdentifier,
    /// Visit the `instance` URL and take actions specified there.
    UserActionRequired,
    /// Any other type URI, kept verbatim (also non-ACME types like `about:blank`).
    Other(String),
}

impl ProblemType {
    /// Maps a type URI to its variant; unknown URIs become [`ProblemType::Other`].
    pub fn from_uri(uri: &str) -> Self {
        let Some(name) = uri.strip_prefix(ACME_ERROR_PREFIX) else {
            return Self::Other(uri.to_owned());
        };
        match name {
            "accountDoesNotExist" => Self::AccountDoesNotExist,
            "alreadyRevoked" => Self::AlreadyRevoked,
            "alreadyReplaced" => Self::AlreadyReplaced,
            "badCSR" => Self::BadCsr,
            "badNonce" => Self::BadNonce,
            "badPublicKey" => Self::BadPublicKey,
            "badRevocationReason" => Self::BadRevocationReason,
            "badSignatureAlgorithm" => Self::BadSignatureAlgorithm,
            "caa" => Self::Caa,
            "compound" => Self::Compound,
            "connection" => Self::Connection,
            "dns" => Self::Dns,
            "externalAccountRequired" => Self::ExternalAccountRequired,
            "incorrectResponse" => Self::IncorrectResponse,
            "invalidContact" => Self::InvalidContact,
            "malformed" => Self::Malformed,
            "orderNotReady" => Self::OrderNotReady,
            "rateLimited" => Self::RateLimited,
            "rejectedIdentifier" => Self::RejectedIdentifier,
            "serverInternal" => Self::ServerInternal,
            "tls" => Self::Tls,
            "unauthorized" => Self::Unauthorized,
            "unsupportedContact" => Self::UnsupportedContact,
            "unsupportedIdentifier" => Self::UnsupportedIdentifier,
            "userActionRequired" => Self::UserActionRequired,
            _ => Self::Other(uri.to_owned()),
        }
    }
}

impl Problem {
    /// The problem's type as a matchable enum.
    pub fn kind(&self) -> ProblemType {
        ProblemType::from_uri(&self.type_uri)
    }

    /// True when the type is `urn:ietf:params:acme:error:<name>`.
    pub fn is(&self, kind: &ProblemType) -> bool {
        &self.kind() == kind
    }

    /// Parses a problem document; `None` when the body is not one.
    pub fn from_json(body: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Problem>(body).ok()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = self
            .type_uri
            .strip_prefix(ACME_ERROR_PREFIX)
            .unwrap_or(&self.type_uri);
        match (&self.detail, short.is_empty()) {
            (Some(d), false) => write!(f, "{d} ({short})")?,
            (Some(d), true) => f.write_str(d)?,
            (None, false) => write!(f, "{short}")?,
            (None, true) => f.write_str("the server reported a problem without details")?,
        }
        for sub in &self.subproblems {
            match &sub.identifier {
                Some(id) => write!(f, "; {}: {sub}", id.value)?,
                None => write!(f, "; {sub}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8555 §6.7.1's example of a problem with subproblems.
    #[test]
    fn rfc8555_6_7_1_subproblems() {
        let body = br#"{
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Some of the identifiers requested were rejected",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:malformed",
                    "detail": "Invalid underscore in DNS name \"_example.org\"",
                    "identifier": { "type": "dns", "value": "_example.org" }
                },
                {
                    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                    "detail": "This CA will not issue for \"example.net\"",
                    "identifier": { "type": "dns", "value": "example.net" }
                }
            ]
        }"#;
        let p = Problem::from_json(body).unwrap();
        assert_eq!(p.kind(), ProblemType::Malformed);
        assert_eq!(p.subproblems.len(), 2);
        assert_eq!(p.subproblems[1].kind(), ProblemType::RejectedIdentifier);
        assert_eq!(
            p.subproblems[0].identifier.as_ref().unwrap().value,
            "_example.org"
        );
        let shown = p.to_string();
        assert!(shown.starts_with("Some of the identifiers requested were rejected (malformed)"));
        assert!(shown.contains("example.net: This CA will not issue for \"example.net\""));
    }

    #[test]
    fn unknown_and_non_acme_types() {
        let p = Problem::from_json(br#"{"type":"about:blank","status":500,"extra":1}"#).unwrap();
        assert_eq!(p.kind(), ProblemType::Other("about:blank".into()));
        assert_eq!(p.status, Some(500));
        let p =
            Problem::from_json(br#"{"type":"urn:ietf:params:acme:error:newThing","detail":"x"}"#)
                .unwrap();
        assert!(matches!(p.kind(), ProblemType::Other(ref s) if s.ends_with("newThing")));
        assert_eq!(p.to_string(), "x (newThing)");
        assert!(Problem::from_json(b"<html>").is_none());
    }

    #[test]
    fn every_rfc_type_maps() {
        for (name, kind) in [
            ("badNonce", ProblemType::BadNonce),
            ("rateLimited", ProblemType::RateLimited),
            ("badCSR", ProblemType::BadCsr),
            ("alreadyRevoked", ProblemType::AlreadyRevoked),
            (
                "externalAccountRequired",
                ProblemType::ExternalAccountRequired,
            ),
        ] {
            assert_eq!(
                ProblemType::from_uri(&format!("{ACME_ERROR_PREFIX}{name}")),
                kind
            );
        }
    }
}
