//! Certificate keys and the CSRs sent to finalize (RFC 8555 §7.4, RFC 2986).

use std::fmt;

use crate::error::{Error, Result};
use crate::key::{AccountKey, KeyType};
use crate::types::{Identifier, IdentifierType};

/// A certificate's private key. `Debug` never shows it.
pub struct CertificateKey {
    key: rcgen::KeyPair,
    kind: KeyType,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

fn cert_err(what: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |e| Error::Certificate(format!("{what}: {e}"))
}

impl CertificateKey {
    /// Generates a fresh key (ECDSA P-256 is the usual choice).
    pub fn generate(kind: KeyType) -> Result<Self> {
        use rcgen::{KeyPair, RsaKeySize};
        let key = match kind {
            KeyType::Es256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            KeyType::Es384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            KeyType::Es512 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512),
            KeyType::Rs256_2048 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            KeyType::Rs256_3072 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_3072)
            }
            KeyType::Rs256_4096 => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
            KeyType::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
        }
        .map_err(cert_err("generating the certificate key"))?;
        Ok(CertificateKey { key, kind })
    }

    /// Reads a key from PEM (PKCS#8, SEC1 or PKCS#1), e.g. to reuse a key.
    pub fn from_pem(pem: &str) -> Result<Self> {
        // AccountKey reads all three encodings and tells the type; rcgen
        // then takes the PKCS#8 form.
        let parsed = AccountKey::from_pem(pem)?;
        let der = parsed.to_pkcs8_der()?;
        let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(der);
        let key =
            rcgen::KeyPair::try_from(&pkcs8).map_err(cert_err("reading the certificate key"))?;
        Ok(CertificateKey {
            key,
            kind: parsed.key_type(),
        })
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.kind
    }

    /// The private key as PKCS#8 PEM. Sensitive: store it with mode 0600.
    pub fn to_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The private key as PKCS#8 DER. Sensitive.
    pub fn to_der(&self) -> Vec<u8> {
        self.key.serialize_der()
    }

    /// Builds a CSR (DER) for the identifiers, signed by this key. The
    /// names go in subjectAltName; the first DNS name, if short enough, is
    /// also the subject common name for servers that still look at it.
    pub fn csr_der(&self, identifiers: &[Identifier]) -> Result<Vec<u8>> {
        if identifiers.is_empty() {
            return Err(Error::InvalidArgument(
                "a CSR needs at least one identifier".into(),
            ));
        }
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(first) = identifiers
            .iter()
            .find(|i| i.kind == IdentifierType::Dns && i.value.len() <= 64)
        {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, first.value.clone());
        }
        params.subject_alt_names = identifiers.iter().map(san).collect::<Result<_>>()?;
        let csr = params
            .serialize_request(&self.key)
            .map_err(cert_err("building the CSR"))?;
        Ok(csr.der().to_vec())
    }
}

/// The subjectAltName entry for an identifier.
pub(crate) fn san(identifier: &Identifier) -> Result<rcgen::SanType> {
    match identifier.kind {
        IdentifierType::Ip => identifier
            .value
            .parse()
            .map(rcgen::SanType::IpAddress)
            .map_err(|_| Error::InvalidArgument(format!("{:?} is not an IP address", identifier.value))),
        _ => rcgen::string::Ia5String::try_from(identifier.value.as_str())
            .map(rcgen::SanType::DnsName)
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "{:?} is not a valid DNS name (ASCII only; use the punycode form of international names)",
                    identifier.value
                ))
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    #[test]
    fn csr_names_every_identifier() {
        let key = CertificateKey::generate(KeyType::Es256).unwrap();
        let ids = [
            Identifier::dns("example.org"),
            Identifier::dns("*.example.org"),
            Identifier::parse("192.0.2.7"),
            Identifier::parse("2001:db8::7"),
        ];
        let der = key.csr_der(&ids).unwrap();
        let (_, csr) = X509CertificationRequest::from_der(&der).unwrap();
        let cn = csr
            .certification_request_info
            .subject
            .iter_common_name()
            .next()
            .unwrap();
        assert_eq!(cn.as_str().unwrap(), "example.org");
        let mut names = Vec::new();
        for ext in csr.requested_extensions().unwrap() {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for n in &san.general_names {
                    names.push(match n {
                        GeneralName::DNSName(d) => d.to_string(),
                        GeneralName::IPAddress(b) => format!("ip{}", b.len()),
                        _ => "other".into(),
                    });
                }
            }
        }
        assert_eq!(names, ["example.org", "*.example.org", "ip4", "ip16"]);
    }

    #[test]
    fn every_key_type_and_pem_round_trip() {
        for t in KeyType::ALL {
            let key = CertificateKey::generate(t).unwrap();
            let back = CertificateKey::from_pem(&key.to_pem()).unwrap();
            assert_eq!(back.key_type(), t);
            assert!(back.csr_der(&[Identifier::dns("a.example")]).is_ok(), "{t}");
        }
        assert!(CertificateKey::generate(KeyType::Es256)
            .unwrap()
            .csr_der(&[Identifier::dns("bücher.example")])
            .unwrap_err()
            .to_string()
            .contains("punycode"));
    }
}
