//! Wire types shared by several resources: identifiers, statuses, the
//! directory and the account object (RFC 8555 §7.1).
//!
//! Open registries (statuses, identifier and challenge types) are enums with
//! an `Unknown` fallback, so a value a server adds later never breaks parsing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Declares a string-valued enum with an `Unknown(String)` fallback.
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $var,)*
            /// A value this version of acmekit does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$var => $s,)*
                    Self::Unknown(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => Self::$var,)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}

open_enum! {
    /// Identifier types (RFC 8555 §9.7.7, RFC 8738).
    IdentifierType {
        /// A DNS name, possibly a wildcard (`*.example.com`).
        Dns = "dns",
        /// An IPv4 or IPv6 address (RFC 8738).
        Ip = "ip",
    }
}

/// An identifier a certificate is for (RFC 8555 §7.1.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identifier {
    /// The identifier's type.
    #[serde(rename = "type")]
    pub kind: IdentifierType,
    /// Its value: a DNS name or the textual form of an IP address.
    pub value: String,
}

impl Identifier {
    /// A DNS identifier (wildcards allowed: `*.example.com`).
    pub fn dns(name: impl Into<String>) -> Self {
        Identifier {
            kind: IdentifierType::Dns,
            value: name.into(),
        }
    }

    /// An IP identifier (RFC 8738), in the address's canonical textual form.
    pub fn ip(addr: IpAddr) -> Self {
        Identifier {
            kind: IdentifierType::Ip,
            value: addr.to_string(),
        }
    }

    /// An IP identifier when `s` parses as an address, a DNS identifier otherwise.
    pub fn parse(s: &str) -> Self {
        match s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => Self::ip(ip),
            Err(_) => Self::dns(s),
        }
    }

    /// True for `*.` DNS names.
    pub fn is_wildcard(&self) -> bool {
        self.kind == IdentifierType::Dns && self.value.starts_with("*.")
    }

    /// The name validated for this identifier: the base domain of a wildcard.
    pub fn base_name(&self) -> &str {
        self.value.strip_prefix("*.").unwrap_or(&self.value)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

open_enum! {
    /// An account's status (RFC 8555 §7.1.2).
    AccountStatus {
        /// Usable.
        Valid = "valid",
        /// Deactivated by the client.
        Deactivated = "deactivated",
        /// Revoked by the server.
        Revoked = "revoked",
    }
}

open_enum! {
    /// An order's status (RFC 8555 §7.1.6).
    OrderStatus {
        /// Authorizations remain to be completed.
        Pending = "pending",
        /// All authorizations are valid; the order awaits finalization.
        Ready = "ready",
        /// The certificate is being issued.
        Processing = "processing",
        /// The certificate is issued and can be downloaded.
        Valid = "valid",
        /// The certificate will not be issued.
        Invalid = "invalid",
    }
}

open_enum! {
    /// An authorization's status (RFC 8555 §7.1.6).
    AuthorizationStatus {
        /// Awaiting a challenge response.
        Pending = "pending",
        /// Validated.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
        /// Deactivated by the client.
        Deactivated = "deactivated",
        /// Expired.
        Expired = "expired",
        /// Revoked by the server.
        Revoked = "revoked",
    }
}

open_enum! {
    /// A challenge's status (RFC 8555 §7.1.6).
    ChallengeStatus {
        /// Not yet answered.
        Pending = "pending",
        /// The server is validating.
        Processing = "processing",
        /// Validation succeeded.
        Valid = "valid",
        /// Validation failed.
        Invalid = "invalid",
    }
}

open_enum! {
    /// Challenge types. Unknown types (a CA adding a new one) parse as `Unknown`.
    ChallengeType {
        /// RFC 8555 §8.3.
        Http01 = "http-01",
        /// RFC 8555 §8.4.
        Dns01 = "dns-01",
        /// RFC 8737.
        TlsAlpn01 = "tls-alpn-01",
        /// draft-ietf-acme-dns-account-label.
        DnsAccount01 = "dns-account-01",
        /// draft-ietf-acme-dns-persist.
        DnsPersist01 = "dns-persist-01",
    }
}

/// The directory object (RFC 8555 §7.1.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Directory {
    /// URL for fresh nonces.
    pub new_nonce: String,
    /// URL for new accounts.
    pub new_account: String,
    /// URL for new orders.
    pub new_order: String,
    /// URL for pre-authorization, if the server offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_authz: Option<String>,
    /// URL for revocation.
    pub revoke_cert: String,
    /// URL for account key rollover.
    pub key_change: String,
    /// URL for renewal information (RFC 9773), if offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewal_info: Option<String>,
    /// Metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<DirectoryMeta>,
}

/// The directory's `meta` object (RFC 8555 §7.1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DirectoryMeta {
    /// The current terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service: Option<String>,
    /// A web page about the CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Hostnames the CA recognises as its own in CAA records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caa_identities: Vec<String>,
    /// True when newAccount requires external account binding.
    #[serde(default)]
    pub external_account_required: bool,
    /// Certificate profiles the CA offers: name → description.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, String>,
    /// The issuer domain names a dns-persist-01 record may name, known
    /// before any order (draft-ietf-acme-dns-persist-02 §3.2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issuer_domain_names: Vec<String>,
    /// The prefix of dns-persist-01 hashed account URIs
    /// (draft-ietf-acme-dns-persist-02 §4.1); servers of earlier drafts
    /// have none and expect the account URL itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_hash_prefix: Option<String>,
}

/// The account object (RFC 8555 §7.1.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AccountResource {
    /// The account's status.
    pub status: AccountStatus,
    /// Contact URLs (`mailto:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<String>,
    /// Whether the terms of service were agreed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_of_service_agreed: Option<bool>,
    /// URL of the account's orders list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
    /// The external account binding the account was created with, as the
    /// server echoes it (a JWS object), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<serde_json::Value>,
}

/// Lenient RFC 3339 timestamps: an unparsable value becomes `None` rather
/// than failing the whole object.
pub(crate) mod lenient_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(s.and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok()))
    }

    pub(crate) fn serialize<S: Serializer>(
        t: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t.and_then(|t| t.format(&Rfc3339).ok()) {
            Some(v) => s.serialize_str(&v),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8555 §7.1.1's directory example.
    #[test]
    fn rfc8555_7_1_1_directory() {
        let d: Directory = serde_json::from_str(
            r#"{
              "newNonce": "https://example.com/acme/new-nonce",
              "newAccount": "https://example.com/acme/new-account",
              "newOrder": "https://example.com/acme/new-order",
              "newAuthz": "https://example.com/acme/new-authz",
              "revokeCert": "https://example.com/acme/revoke-cert",
              "keyChange": "https://example.com/acme/key-change",
              "meta": {
                "termsOfService": "https://example.com/acme/terms/2017-5-30",
                "website": "https://www.example.com/",
                "caaIdentities": ["example.com"],
                "externalAccountRequired": false
              }
            }"#,
        )
        .unwrap();
        assert_eq!(
            d.new_authz.as_deref(),
            Some("https://example.com/acme/new-authz")
        );
        let meta = d.meta.unwrap();
        assert_eq!(meta.caa_identities, vec!["example.com"]);
        assert!(!meta.external_account_required);
        assert_eq!(
            meta.terms_of_service.as_deref(),
            Some("https://example.com/acme/terms/2017-5-30")
        );
    }

    /// RFC 8555 §7.1.2's account example.
    #[test]
    fn rfc8555_7_1_2_account() {
        let a: AccountResource = serde_json::from_str(
            r#"{
              "status": "valid",
              "contact": ["mailto:cert-admin@example.org", "mailto:admin@example.org"],
              "termsOfServiceAgreed": true,
              "orders": "https://example.com/acme/orders/rzGoeA"
            }"#,
        )
        .unwrap();
        assert_eq!(a.status, AccountStatus::Valid);
        assert_eq!(a.contact.len(), 2);
        assert_eq!(
            a.orders.as_deref(),
            Some("https://example.com/acme/orders/rzGoeA")
        );
    }

    #[test]
    fn unknown_values_are_kept() {
        assert_eq!(
            serde_json::from_str::<OrderStatus>(r#""archived""#).unwrap(),
            OrderStatus::Unknown("archived".into())
        );
        let t: ChallengeType = serde_json::from_str(r#""dns-persist-01""#).unwrap();
        assert_eq!(t, ChallengeType::DnsPersist01);
        assert_eq!(
            serde_json::to_string(&ChallengeType::Unknown("x-1".into())).unwrap(),
            r#""x-1""#
        );
    }

    #[test]
    fn identifiers() {
        assert_eq!(Identifier::parse("192.0.2.1").kind, IdentifierType::Ip);
        assert_eq!(Identifier::parse("[2001:db8::1]").value, "2001:db8::1");
        let w = Identifier::parse("*.example.com");
        assert!(w.is_wildcard());
        assert_eq!(w.base_name(), "example.com");
        assert_eq!(
            serde_json::to_string(&Identifier::dns("a.example")).unwrap(),
            r#"{"type":"dns","value":"a.example"}"#
        );
    }
}
