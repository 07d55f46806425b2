//! A certificate with its private key, as stored (one PEM file, so the pair
//! is replaced atomically) and as served (a rustls `CertifiedKey`).

use acmekit::CertificateInfo;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::time::SystemTime;

use crate::schedule::Ari;

/// A certificate ready to serve.
#[derive(Clone, Debug)]
pub(crate) struct Served {
    /// What rustls hands out.
    pub(crate) key: Arc<CertifiedKey>,
    /// What the leaf says (names, serial, validity).
    pub(crate) info: CertificateInfo,
    /// When this process issued it (`None` when it came from the store).
    pub(crate) issued_here_at: Option<SystemTime>,
    /// Its ARI certificate ID (RFC 9773 §4.1); `None` when the leaf has no
    /// Authority Key Identifier, and so no renewal information.
    pub(crate) cert_id: Option<String>,
    /// What is known of its renewal information; `None` until fetched.
    pub(crate) ari: Option<Ari>,
}

/// The stored form: the private key (PKCS#8 PEM), then the chain.
pub(crate) fn encode(key_pem: &str, chain_pem: &str) -> String {
    let mut out = String::with_capacity(key_pem.len() + chain_pem.len() + 1);
    out.push_str(key_pem.trim_end());
    out.push('\n');
    out.push_str(chain_pem.trim_start());
    out
}

/// Reads a stored bundle (any order of blocks) and checks that it serves
/// `name` at `now` with a key that matches.
pub(crate) fn decode(
    pem: &[u8],
    name: &str,
    now: SystemTime,
    provider: &CryptoProvider,
) -> Result<Served, String> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not valid PEM: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("no private key: {e}"))?;
    served(chain, key, name, now, provider)
}

/// Builds what is served from a chain and its key, with the same checks as
/// [`decode`].
pub(crate) fn served(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    name: &str,
    now: SystemTime,
    provider: &CryptoProvider,
) -> Result<Served, String> {
    let leaf = chain.first().ok_or("no certificate")?;
    let info = acmekit::certificate_info(leaf).map_err(|e| e.to_string())?;
    let cert_id = acmekit::certificate_id(leaf).ok();
    if !info.names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        return Err(format!(
            "it is for {} only",
            info.names.join(", ").chars().take(200).collect::<String>()
        ));
    }
    if info.not_after <= now {
        return Err(format!(
            "it expired at {}",
            crate::error::fmt_time(info.not_after)
        ));
    }
    let key = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
    Ok(Served {
        key: Arc::new(key),
        info,
        issued_here_at: None,
        cert_id,
        ari: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn provider() -> CryptoProvider {
        rustls::crypto::aws_lc_rs::default_provider()
    }

    /// (certificate PEM, key PEM) of a self-signed certificate for `name`.
    fn self_signed(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn round_trip() {
        let (cert, key) = self_signed("a.example");
        let pem = encode(&key, &cert);
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let now = SystemTime::now();
        let served = decode(pem.as_bytes(), "a.example", now, &provider()).unwrap();
        assert_eq!(served.info.names, ["a.example"]);
        assert_eq!(served.key.cert.len(), 1);
        assert!(served.issued_here_at.is_none());
        // Either order of blocks reads.
        let reversed = format!("{cert}{key}");
        assert!(decode(reversed.as_bytes(), "A.EXAMPLE", now, &provider()).is_ok());
    }

    #[test]
    fn refuses_unusable_bundles() {
        let p = provider();
        let now = SystemTime::now();
        let (cert, key) = self_signed("a.example");
        let (_, other_key) = self_signed("b.example");
        let err = decode(encode(&key, &cert).as_bytes(), "b.example", now, &p).unwrap_err();
        assert!(err.contains("for a.example only"), "{err}");
        let err = decode(encode(&other_key, &cert).as_bytes(), "a.example", now, &p).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        let later = now + Duration::from_secs(40_000 * 24 * 3600);
        let err = decode(encode(&key, &cert).as_bytes(), "a.example", later, &p).unwrap_err();
        assert!(err.contains("expired"), "{err}");
        assert!(decode(cert.as_bytes(), "a.example", now, &p).is_err());
        assert!(decode(key.as_bytes(), "a.example", now, &p).is_err());
        assert!(decode(b"garbage", "a.example", now, &p).is_err());
    }
}
