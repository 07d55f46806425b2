//! The certificate Pebble's listeners (ACME and management) present.
//!
//! A small CA and a leaf for `localhost` / `127.0.0.1` signed by it: webpki
//! refuses a single self-signed CA:TRUE certificate used as a server
//! certificate, so the two are kept apart.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// The listener CA (to trust) and the leaf + key Pebble serves.
pub(crate) struct ListenerCerts {
    pub(crate) ca_pem: String,
    pub(crate) ca_der: Vec<u8>,
    pub(crate) leaf_pem: String,
    pub(crate) leaf_key_pem: String,
}

impl ListenerCerts {
    /// Generates a fresh CA and leaf.
    pub(crate) fn generate() -> ListenerCerts {
        Self::try_generate().unwrap_or_else(|e| {
            panic!("acmekit-testkit: cannot generate listener certificates: {e}")
        })
    }

    fn try_generate() -> Result<ListenerCerts, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = name("acmekit-testkit listener CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let leaf_key = KeyPair::generate()?;
        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        leaf_params.distinguished_name = name("localhost");
        leaf_params.is_ca = IsCa::ExplicitNoCa;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer)?;

        Ok(ListenerCerts {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            leaf_pem: leaf_cert.pem(),
            leaf_key_pem: leaf_key.serialize_pem(),
        })
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}
