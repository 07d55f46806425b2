//! Issued certificates: the PEM chain (RFC 8555 §7.4.2) and what a user
//! wants to know from it. Downloading is in `chain`.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::time::SystemTime;
use x509_parser::prelude::*;

use crate::error::{Error, Result};

/// The media type of a PEM certificate chain (RFC 8555 §9.1).
pub const PEM_CHAIN: &str = "application/pem-certificate-chain";

/// A certificate chain: the end-entity certificate first, then its issuers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateChain {
    pem: String,
    certificates: Vec<CertificateDer<'static>>,
    alternate_urls: Vec<String>,
}

/// What a certificate says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// Subject distinguished name.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// The issuer's common name, if any.
    pub issuer_common_name: Option<String>,
    /// DNS names and IP addresses in subjectAltName.
    pub names: Vec<String>,
    /// Serial number, lower-case hex.
    pub serial_hex: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
}

impl CertificateChain {
    /// Splits a PEM chain into certificates. Anything that is not a
    /// CERTIFICATE block is an error, as is an empty chain.
    pub fn from_pem(pem: &str) -> Result<Self> {
        let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::Certificate(format!("the certificate chain is not valid PEM: {e}"))
            })?;
        if certificates.is_empty() {
            return Err(Error::Certificate(
                "the certificate chain holds no certificate".into(),
            ));
        }
        for (i, c) in certificates.iter().enumerate() {
            X509Certificate::from_der(c).map_err(|e| {
                Error::Certificate(format!(
                    "certificate {} of the chain is not valid X.509: {e}",
                    i + 1
                ))
            })?;
        }
        Ok(CertificateChain {
            pem: pem.to_owned(),
            certificates,
            alternate_urls: Vec::new(),
        })
    }

    /// URLs of alternate chains for the same certificate that the server
    /// linked with `rel="alternate"` when this chain was downloaded (RFC
    /// 8555 §7.4.2); empty for a chain read with [`Self::from_pem`].
    pub fn alternate_urls(&self) -> &[String] {
        &self.alternate_urls
    }

    pub(crate) fn with_alternate_urls(mut self, urls: Vec<String>) -> Self {
        self.alternate_urls = urls;
        self
    }

    /// The whole chain as PEM, as the server sent it.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The certificates (DER), end-entity first.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// The end-entity certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.certificates[0]
    }

    /// The end-entity certificate as PEM.
    pub fn leaf_pem(&self) -> String {
        crate::pem_encode("CERTIFICATE", self.leaf())
    }

    /// The issuers (everything after the end-entity certificate) as PEM.
    pub fn issuers_pem(&self) -> String {
        self.certificates[1..]
            .iter()
            .map(|c| crate::pem_encode("CERTIFICATE", c))
            .collect()
    }

    /// Subject, names, issuer, serial and validity of the end-entity certificate.
    pub fn info(&self) -> CertificateInfo {
        certificate_info(self.leaf()).expect("validated in from_pem")
    }
}

/// Reads subject, names, issuer, serial and validity from a DER certificate.
pub fn certificate_info(der: &[u8]) -> Result<CertificateInfo> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| Error::Certificate(format!("not a valid X.509 certificate: {e}")))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    if let Ok(a) = <[u8; 4]>::try_from(*b) {
                        names.push(std::net::Ipv4Addr::from(a).to_string());
                    } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                        names.push(std::net::Ipv6Addr::from(a).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let to_system = |t: ASN1Time| {
        let secs = t.timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64)
        } else {
            SystemTime::UNIX_EPOCH
        }
    };
    let issuer_cn = cert
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned);
    Ok(CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        issuer_common_name: issuer_cn,
        names,
        serial_hex: cert.raw_serial_as_string().replace(':', ""),
        not_before: to_system(cert.validity().not_before),
        not_after: to_system(cert.validity().not_after),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed(name: &str) -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap()
            .pem()
    }

    #[test]
    fn splits_a_chain() {
        let pem = format!(
            "{}\n{}",
            self_signed("leaf.example"),
            self_signed("ca.example")
        );
        let chain = CertificateChain::from_pem(&pem).unwrap();
        assert_eq!(chain.certificates().len(), 2);
        assert_eq!(chain.info().names, vec!["leaf.example"]);
        assert!(chain
            .leaf_pem()
            .starts_with("-----BEGIN CERTIFICATE-----\n"));
        let issuers = CertificateChain::from_pem(&chain.issuers_pem()).unwrap();
        assert_eq!(issuers.info().names, vec!["ca.example"]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(CertificateChain::from_pem("").is_err());
        assert!(CertificateChain::from_pem(
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        )
        .is_err());
    }
}
