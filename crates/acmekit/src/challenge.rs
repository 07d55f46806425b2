//! What to publish for each challenge type: key authorizations (RFC 8555
//! §8.1), http-01 (§8.3), dns-01 (§8.4), tls-alpn-01 (RFC 8737, with
//! RFC 8738 for IP addresses), dns-account-01
//! (draft-ietf-acme-dns-account-label) and dns-persist-01
//! (draft-ietf-acme-dns-persist).

use std::fmt;
use std::net::IpAddr;

use crate::account::Account;
use crate::authz::Challenge;
use crate::error::{Error, Result};
use crate::key::AccountKey;
use crate::types::{ChallengeType, DirectoryMeta, Identifier, IdentifierType};
use crate::{b64, sha256};

pub use crate::dns_persist::{
    dns_persist_account_uri, DnsPersist01, MAX_ISSUER_DOMAIN_NAMES, VALIDATION_PERSIST_LABEL,
};

/// The ALPN protocol name for tls-alpn-01 (RFC 8737 §6.2).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// `token || '.' || base64url(JWK thumbprint)` (RFC 8555 §8.1).
pub fn key_authorization(token: &str, key: &AccountKey) -> String {
    format!("{token}.{}", key.thumbprint())
}

/// Checks a token against RFC 8555 §8.3: base64url characters only, so it
/// is safe in a URL path and a file name.
pub fn validate_token(token: &str) -> Result<()> {
    if token.is_empty()
        || token.len() > 256
        || !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidArgument(format!(
            "the server sent a challenge token that is not base64url: {:?}",
            token.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

/// What to serve for http-01.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Http01 {
    /// The token (the last path segment).
    pub token: String,
    /// `/.well-known/acme-challenge/<token>`.
    pub path: String,
    /// The body to serve (the key authorization), as `text/plain` or
    /// `application/octet-stream`.
    pub body: String,
}

/// What to publish for dns-01.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dns01 {
    /// `_acme-challenge.<domain>` (no trailing dot; the wildcard label removed).
    pub name: String,
    /// The TXT record value: base64url(SHA-256(key authorization)).
    pub value: String,
}

/// What to publish for dns-account-01: a TXT record like dns-01's, under a
/// name that carries a label derived from the account URL, so that several
/// accounts (several independent systems) can validate one domain at once.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsAccount01 {
    /// `_<label>._acme-challenge.<domain>` (no trailing dot; the wildcard
    /// label removed), the label from [`dns_account_label`].
    pub name: String,
    /// The TXT record value: base64url(SHA-256(key authorization)), as for dns-01.
    pub value: String,
}

/// What to serve for tls-alpn-01: a self-signed certificate with the
/// critical acmeIdentifier extension, under ALPN `acme-tls/1`.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsAlpn01 {
    /// The SNI the validation handshake carries: the DNS name, or the
    /// reverse-mapping name of an IP address (RFC 8738 §6).
    pub sni: String,
    /// The certificate (DER).
    pub certificate_der: Vec<u8>,
    /// Its private key (PKCS#8 DER), used only for this challenge.
    pub private_key_der: Vec<u8>,
}

impl fmt::Debug for TlsAlpn01 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAlpn01")
            .field("sni", &self.sni)
            .field(
                "certificate_der",
                &format_args!("{} bytes", self.certificate_der.len()),
            )
            .finish_non_exhaustive()
    }
}

/// What to publish for one challenge, by type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proof {
    /// http-01.
    Http01(Http01),
    /// dns-01.
    Dns01(Dns01),
    /// tls-alpn-01.
    TlsAlpn01(TlsAlpn01),
    /// dns-account-01.
    DnsAccount01(DnsAccount01),
    /// dns-persist-01.
    DnsPersist01(DnsPersist01),
}

/// The account facts dns-account-01 and dns-persist-01 bind to.
#[derive(Clone, Copy)]
struct AccountBinding<'a> {
    url: &'a str,
    meta: Option<&'a DirectoryMeta>,
}

impl Proof {
    /// Computes what to publish for `challenge` of `identifier` from the
    /// account key alone: http-01, dns-01 and tls-alpn-01. dns-account-01
    /// and dns-persist-01 also need the account URL: use
    /// [`Proof::for_account`]. Errors for challenge types this library
    /// cannot compute.
    pub fn new(challenge: &Challenge, identifier: &Identifier, key: &AccountKey) -> Result<Proof> {
        compute(challenge, identifier, key, None)
    }

    /// Computes what to publish for `challenge` of `identifier` for
    /// `account`: every type [`Challenge::is_computable`] accepts. The
    /// account URL names the dns-account-01 record and goes into the
    /// dns-persist-01 record; the server's directory says which
    /// dns-persist-01 draft it follows.
    pub fn for_account(
        challenge: &Challenge,
        identifier: &Identifier,
        account: &Account,
    ) -> Result<Proof> {
        let binding = AccountBinding {
            url: account.url(),
            meta: account.client().directory().meta.as_ref(),
        };
        compute(challenge, identifier, account.key(), Some(binding))
    }
}

fn compute(
    challenge: &Challenge,
    identifier: &Identifier,
    key: &AccountKey,
    account: Option<AccountBinding<'_>>,
) -> Result<Proof> {
    let needs_account = || {
        Error::InvalidArgument(format!(
            "{} challenges depend on the account URL: compute them with Proof::for_account",
            challenge.kind
        ))
    };
    if challenge.kind == ChallengeType::DnsPersist01 {
        // No token: the record names the CA and the account instead.
        let account = account.ok_or_else(needs_account)?;
        return crate::dns_persist::dns_persist01(
            challenge,
            identifier,
            key.thumbprint(),
            account.url,
            account.meta,
        )
        .map(Proof::DnsPersist01);
    }
    let token = challenge
        .token
        .as_deref()
        .ok_or_else(|| Error::invalid(&challenge.url, "the challenge has no token"))?;
    validate_token(token)?;
    let key_auth = key_authorization(token, key);
    match &challenge.kind {
        ChallengeType::Http01 => Ok(Proof::Http01(http01(token, key_auth))),
        ChallengeType::Dns01 => Ok(Proof::Dns01(dns01(identifier, &key_auth))),
        ChallengeType::TlsAlpn01 => Ok(Proof::TlsAlpn01(tls_alpn01(identifier, &key_auth)?)),
        ChallengeType::DnsAccount01 => {
            let account = account.ok_or_else(needs_account)?;
            Ok(Proof::DnsAccount01(dns_account01(
                identifier,
                account.url,
                &key_auth,
            )))
        }
        other => Err(Error::Unsupported(format!(
            "computing a proof for {other} challenges"
        ))),
    }
}

/// The http-01 resource for a token.
pub fn http01(token: &str, key_authorization: String) -> Http01 {
    Http01 {
        token: token.to_owned(),
        path: format!("/.well-known/acme-challenge/{token}"),
        body: key_authorization,
    }
}

/// The dns-01 record for an identifier.
pub fn dns01(identifier: &Identifier, key_authorization: &str) -> Dns01 {
    Dns01 {
        name: format!(
            "_acme-challenge.{}",
            identifier.base_name().trim_end_matches('.')
        ),
        value: b64(&sha256(key_authorization.as_bytes())),
    }
}

/// The dns-account-01 label of an account (draft-ietf-acme-dns-account-label
/// §3.1): base32 (RFC 4648, lower case; no padding is needed) of the first
/// 10 bytes of SHA-256 of the account URL, 16 characters. The record name
/// puts it after an underscore: `_<label>._acme-challenge.<domain>`.
pub fn dns_account_label(account_url: &str) -> String {
    base32_lower(&sha256(account_url.as_bytes())[..10])
}

/// The dns-account-01 record for an identifier and an account.
pub fn dns_account01(
    identifier: &Identifier,
    account_url: &str,
    key_authorization: &str,
) -> DnsAccount01 {
    DnsAccount01 {
        name: format!(
            "_{}._acme-challenge.{}",
            dns_account_label(account_url),
            identifier.base_name().trim_end_matches('.')
        ),
        value: b64(&sha256(key_authorization.as_bytes())),
    }
}

/// RFC 4648 §6 base32 in lower case, without padding.
fn base32_lower(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u16, 0u32);
    for &byte in data {
        buffer = (buffer << 8) | u16::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[usize::from((buffer >> bits) & 31)]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            ALPHABET[usize::from((buffer << (5 - bits)) & 31)],
        ));
    }
    out
}

/// The SNI a validation server sends for an identifier (RFC 8737 §3,
/// RFC 8738 §6 for IP addresses: the reverse-mapping domain name).
pub fn tls_alpn_sni(identifier: &Identifier) -> String {
    match (&identifier.kind, identifier.value.parse::<IpAddr>()) {
        (IdentifierType::Ip, Ok(IpAddr::V4(v4))) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        (IdentifierType::Ip, Ok(IpAddr::V6(v6))) => {
            let mut s = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
        _ => identifier.base_name().to_owned(),
    }
}

/// Builds the RFC 8737 §3 validation certificate: self-signed, the
/// identifier as its only SAN, and the critical id-pe-acmeIdentifier
/// extension holding SHA-256 of the key authorization.
pub fn tls_alpn01(identifier: &Identifier, key_authorization: &str) -> Result<TlsAlpn01> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| Error::Certificate(format!("tls-alpn-01 key: {e}")))?;
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.subject_alt_names = vec![crate::csr::san(identifier)?];
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(&sha256(
        key_authorization.as_bytes(),
    ))];
    let cert = params
        .self_signed(&key)
        .map_err(|e| Error::Certificate(format!("tls-alpn-01 certificate: {e}")))?;
    Ok(TlsAlpn01 {
        sni: tls_alpn_sni(identifier),
        certificate_der: cert.der().to_vec(),
        private_key_der: key.serialize_der(),
    })
}

impl Challenge {
    /// True for challenge types [`Proof::for_account`] can compute.
    pub fn is_computable(&self) -> bool {
        matches!(
            self.kind,
            ChallengeType::Http01
                | ChallengeType::Dns01
                | ChallengeType::TlsAlpn01
                | ChallengeType::DnsAccount01
                | ChallengeType::DnsPersist01
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn key_authorization_is_token_dot_thumbprint() {
        let key = AccountKey::generate(crate::KeyType::Es256).unwrap();
        let ka = key_authorization("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", &key);
        assert_eq!(
            ka,
            format!(
                "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.{}",
                key.thumbprint()
            )
        );
        assert_eq!(
            key.thumbprint().len(),
            43,
            "base64url of 32 bytes, no padding"
        );
    }

    #[test]
    fn http01_and_dns01() {
        let h = http01("tok_-1", "tok_-1.thumb".into());
        assert_eq!(h.path, "/.well-known/acme-challenge/tok_-1");
        assert_eq!(h.body, "tok_-1.thumb");
        // SHA-256("abc") is FIPS 180-2's test vector.
        let d = dns01(&Identifier::dns("*.example.org"), "abc");
        assert_eq!(d.name, "_acme-challenge.example.org");
        assert_eq!(d.value, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    /// draft-ietf-acme-dns-account-label's example: the account
    /// `https://example.com/acme/acct/ExampleAccount` has the label
    /// `ujmmovf2vn55tgye`, so its record for example.org is
    /// `_ujmmovf2vn55tgye._acme-challenge.example.org`.
    #[test]
    fn dns_account_label_draft_example() {
        let url = "https://example.com/acme/acct/ExampleAccount";
        assert_eq!(dns_account_label(url), "ujmmovf2vn55tgye");
        let d = dns_account01(&Identifier::dns("*.example.org"), url, "abc");
        assert_eq!(d.name, "_ujmmovf2vn55tgye._acme-challenge.example.org");
        assert_eq!(d.value, dns01(&Identifier::dns("example.org"), "abc").value);
    }

    /// RFC 4648 §10's base32 test vectors, lower case and unpadded.
    #[test]
    fn base32_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "my"),
            ("fo", "mzxq"),
            ("foo", "mzxw6"),
            ("foob", "mzxw6yq"),
            ("fooba", "mzxw6ytb"),
            ("foobar", "mzxw6ytboi"),
        ] {
            assert_eq!(base32_lower(input.as_bytes()), expected, "{input}");
        }
    }

    fn challenge(json: &str) -> Challenge {
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn proofs_for_every_computable_type() {
        let key = AccountKey::generate(crate::KeyType::Es256).unwrap();
        let id = Identifier::dns("*.example.org");
        let account = crate::Account::from_parts(
            offline_client().await,
            key.clone(),
            "https://example.com/acme/acct/ExampleAccount".into(),
        );
        let dns_account = challenge(
            r#"{"type":"dns-account-01","url":"https://ca/c/1","status":"pending","token":"tok"}"#,
        );
        let Proof::DnsAccount01(d) = Proof::for_account(&dns_account, &id, &account).unwrap()
        else {
            panic!("dns-account-01 proof expected");
        };
        assert_eq!(d.name, "_ujmmovf2vn55tgye._acme-challenge.example.org");
        assert_eq!(d.value, dns01(&id, &key_authorization("tok", &key)).value);
        let err = Proof::new(&dns_account, &id, &key).unwrap_err().to_string();
        assert!(err.contains("Proof::for_account"), "{err}");

        let persist = challenge(
            r#"{"type":"dns-persist-01","url":"https://ca/c/2","status":"pending","issuer-domain-names":["ca.example"]}"#,
        );
        assert!(persist.is_computable() && dns_account.is_computable());
        let Proof::DnsPersist01(p) = Proof::for_account(&persist, &id, &account).unwrap() else {
            panic!("dns-persist-01 proof expected");
        };
        assert_eq!(p.name, "_validation-persist.example.org");
        assert_eq!(
            p.value(),
            "ca.example; accounturi=https://example.com/acme/acct/ExampleAccount; policy=wildcard"
        );
        assert!(Proof::new(&persist, &id, &key).is_err());

        let http = challenge(
            r#"{"type":"http-01","url":"https://ca/c/3","status":"pending","token":"tok"}"#,
        );
        assert_eq!(
            Proof::for_account(&http, &id, &account).unwrap(),
            Proof::new(&http, &id, &key).unwrap()
        );
        let unknown = challenge(
            r#"{"type":"x-new-01","url":"https://ca/c/4","status":"pending","token":"tok"}"#,
        );
        assert!(!unknown.is_computable());
        assert!(matches!(
            Proof::for_account(&unknown, &id, &account),
            Err(Error::Unsupported(_))
        ));
    }

    /// A client whose transport answers only the directory.
    async fn offline_client() -> crate::Client {
        struct DirectoryOnly;
        impl crate::http::HttpClient for DirectoryOnly {
            fn request(
                &self,
                _: crate::http::HttpRequest,
            ) -> crate::http::BoxFuture<'_, Result<crate::http::HttpResponse>> {
                Box::pin(async {
                    Ok(crate::http::HttpResponse {
                        status: http::StatusCode::OK,
                        headers: http::HeaderMap::new(),
                        body: r#"{"newNonce":"https://ca/n","newAccount":"https://ca/a",
                                 "newOrder":"https://ca/o","revokeCert":"https://ca/r",
                                 "keyChange":"https://ca/k"}"#
                            .into(),
                    })
                })
            }
        }
        crate::Client::builder("https://ca/dir")
            .http_client(Box::new(DirectoryOnly))
            .build()
            .await
            .unwrap()
    }

    #[test]
    fn tokens_outside_base64url_are_refused() {
        assert!(validate_token("abc-_09XYZ").is_ok());
        for bad in ["", "../etc/passwd", "a b", "a/b", "a.b", "tok%2F"] {
            assert!(validate_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reverse_names_for_ip_identifiers() {
        assert_eq!(
            tls_alpn_sni(&Identifier::parse("127.0.0.1")),
            "1.0.0.127.in-addr.arpa"
        );
        assert_eq!(
            tls_alpn_sni(&Identifier::parse("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(tls_alpn_sni(&Identifier::dns("*.a.example")), "a.example");
    }

    /// RFC 8737 §3: the acmeIdentifier extension (OID 1.3.6.1.5.5.7.1.31)
    /// is critical and holds an OCTET STRING of SHA-256(key authorization).
    #[test]
    fn rfc8737_certificate() {
        let ka = "token.thumbprint";
        let proof = tls_alpn01(&Identifier::dns("example.com"), ka).unwrap();
        let (_, cert) = X509Certificate::from_der(&proof.certificate_der).unwrap();
        let ext = cert
            .extensions()
            .iter()
            .find(|e| e.oid.to_id_string() == "1.3.6.1.5.5.7.1.31")
            .expect("acmeIdentifier extension");
        assert!(ext.critical);
        let mut expected = vec![0x04, 0x20];
        expected.extend_from_slice(&sha256(ka.as_bytes()));
        assert_eq!(ext.value, &expected[..]);
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert_eq!(san.value.general_names.len(), 1);
        assert!(matches!(
            san.value.general_names[0],
            GeneralName::DNSName("example.com")
        ));
        assert_eq!(proof.sni, "example.com");

        let ip = tls_alpn01(&Identifier::parse("::1"), ka).unwrap();
        let (_, cert) = X509Certificate::from_der(&ip.certificate_der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert!(matches!(san.value.general_names[0], GeneralName::IPAddress(b) if b.len() == 16));
    }
}
