//! Certificate chain verification with rustls-webpki.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

/// Verifies an issued chain as a TLS client would.
///
/// `chain_der[0]` is the end-entity certificate, the rest are
/// intermediates; the trust anchor is the (first) certificate in `root_pem`
/// (e.g. [`Pebble::root_pem`](crate::Pebble::root_pem)). The chain must
/// verify for server authentication at the current time, and the leaf must
/// be valid for every name in `names` (DNS names or IP addresses).
///
/// Returns a readable error message otherwise.
pub fn verify_chain(chain_der: &[Vec<u8>], root_pem: &str, names: &[&str]) -> Result<(), String> {
    let (leaf, intermediates) = chain_der
        .split_first()
        .ok_or_else(|| "empty certificate chain".to_owned())?;
    let root = CertificateDer::from_pem_slice(root_pem.as_bytes())
        .map_err(|e| format!("cannot read the root certificate PEM: {e}"))?;
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|e| format!("cannot use the root certificate as a trust anchor: {e}"))?;
    let leaf = CertificateDer::from(leaf.as_slice());
    let end_entity = EndEntityCert::try_from(&leaf)
        .map_err(|e| format!("cannot parse the end-entity certificate: {e}"))?;
    let intermediates: Vec<CertificateDer<'_>> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &intermediates,
            UnixTime::now(),
            KeyUsage::server_auth(),
            None,
            None,
        )
        .map_err(|e| {
            format!(
                "chain of {} certificate(s) does not verify against the root: {e}",
                chain_der.len()
            )
        })?;
    for name in names {
        let server_name = ServerName::try_from(*name)
            .map_err(|e| format!("{name:?} is neither a DNS name nor an IP address: {e}"))?;
        end_entity
            .verify_is_valid_for_subject_name(&server_name)
            .map_err(|e| format!("the certificate is not valid for {name:?}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rcgen::{
        BasicConstraints, Certificate, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair,
    };

    use super::verify_chain;

    fn ca_params() -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    }

    /// (root PEM, [leaf, intermediate]) for example.test and 127.0.0.1.
    fn make_chain() -> (String, Vec<Vec<u8>>) {
        let root_key = KeyPair::generate().unwrap();
        let root: Certificate = ca_params().self_signed(&root_key).unwrap();
        let root_issuer = Issuer::new(ca_params(), &root_key);
        let mid_key = KeyPair::generate().unwrap();
        let mid = ca_params().signed_by(&mid_key, &root_issuer).unwrap();
        let mid_issuer = Issuer::new(ca_params(), &mid_key);
        let leaf_key = KeyPair::generate().unwrap();
        let mut leaf_params =
            CertificateParams::new(vec!["example.test".to_owned(), "127.0.0.1".to_owned()])
                .unwrap();
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = leaf_params.signed_by(&leaf_key, &mid_issuer).unwrap();
        (root.pem(), vec![leaf.der().to_vec(), mid.der().to_vec()])
    }

    #[test]
    fn accepts_a_good_chain_for_its_names() {
        let (root, chain) = make_chain();
        verify_chain(&chain, &root, &["example.test", "127.0.0.1"]).unwrap();
        verify_chain(&chain, &root, &[]).unwrap();
    }

    #[test]
    fn rejects_wrong_names_roots_and_chains() {
        let (root, chain) = make_chain();
        let (other_root, other_chain) = make_chain();
        let err = verify_chain(&chain, &root, &["other.test"]).unwrap_err();
        assert!(err.contains("not valid for \"other.test\""), "{err}");
        let err = verify_chain(&chain, &root, &["127.0.0.2"]).unwrap_err();
        assert!(err.contains("127.0.0.2"), "{err}");
        let err = verify_chain(&chain, &other_root, &[]).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let err = verify_chain(&chain[..1], &root, &[]).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
        let mixed = vec![chain[0].clone(), other_chain[1].clone()];
        assert!(verify_chain(&mixed, &root, &[]).is_err());
        assert!(verify_chain(&[], &root, &[]).unwrap_err().contains("empty"));
        assert!(verify_chain(&chain, "not a pem", &[]).is_err());
    }
}
