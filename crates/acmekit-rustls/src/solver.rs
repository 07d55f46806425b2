//! Publishes challenges into the in-memory state, where the certificate
//! resolver (tls-alpn-01) and the http-01 service find them.

use acmekit::http::BoxFuture;
use acmekit::{ChallengeTask, ChallengeType, Proof, Solver, SolverError};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

use crate::manager::Inner;
use crate::names::normalize;

/// An `acmekit::Solver` over the manager's state. Presenting is a map
/// insert, so it is instant; several challenges can be live at once.
pub(crate) struct StateSolver<'a> {
    inner: &'a Inner,
}

impl<'a> StateSolver<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        StateSolver { inner }
    }
}

impl Solver for StateSolver<'_> {
    fn preferences(&self) -> &[ChallengeType] {
        &self.inner.config.challenges
    }

    fn present<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        let result = match &task.proof {
            Proof::Http01(h) => {
                self.inner.state.add_token(&h.token, &h.body);
                Ok(())
            }
            Proof::TlsAlpn01(t) => {
                let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(t.private_key_der.clone()));
                let sni = normalize(&t.sni).unwrap_or_else(|| t.sni.to_ascii_lowercase());
                // Not `CertifiedKey::from_der`: its key check parses the
                // certificate with webpki, which refuses the critical
                // acmeIdentifier extension (RFC 8737 §3).
                self.inner
                    .provider
                    .key_provider
                    .load_private_key(key)
                    .map(|signer| {
                        let cert = vec![CertificateDer::from(t.certificate_der.clone())];
                        let certified = CertifiedKey::new(cert, signer);
                        self.inner.state.add_challenge(&sni, Arc::new(certified));
                    })
                    .map_err(|e| format!("cannot load the tls-alpn-01 certificate: {e}").into())
            }
            other => Err(format!("this server cannot publish {other:?}").into()),
        };
        Box::pin(std::future::ready(result))
    }

    fn cleanup<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        match &task.proof {
            Proof::Http01(h) => self.inner.state.remove_token(&h.token),
            Proof::TlsAlpn01(t) => {
                let sni = normalize(&t.sni).unwrap_or_else(|| t.sni.to_ascii_lowercase());
                self.inner.state.remove_challenge(&sni, &t.certificate_der);
            }
            _ => {}
        }
        Box::pin(std::future::ready(Ok(())))
    }
}
