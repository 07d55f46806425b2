//! What to publish for each challenge type: key authorizations (RFC 8555
//! §8.1), http-01 (§8.3), dns-01 (§8.4) and tls-alpn-01 (RFC 8737, with
//! RFC 8738 for IP addresses).

use std::fmt;
use std::net::IpAddr;

use crate::authz::Challenge;
use crate::error::{Error, Result};
use crate::key::AccountKey;
use crate::types::{ChallengeType, Identifier, IdentifierType};
use crate::{b64, sha256};

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
}

impl Proof {
    /// Computes what to publish for `challenge` of `identifier`. Errors for
    /// challenge types this library cannot compute.
    pub fn new(challenge: &Challenge, identifier: &Identifier, key: &AccountKey) -> Result<Proof> {
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
            other => Err(Error::Unsupported(format!(
                "computing a proof for {other} challenges"
            ))),
        }
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
    /// True for challenge types [`Proof::new`] can compute.
    pub fn is_computable(&self) -> bool {
        matches!(
            self.kind,
            ChallengeType::Http01 | ChallengeType::Dns01 | ChallengeType::TlsAlpn01
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
