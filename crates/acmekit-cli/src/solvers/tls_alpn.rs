//! A standalone tls-alpn-01 server (RFC 8737): answers handshakes offering
//! ALPN `acme-tls/1` with the validation certificate for the SNI.

use acmekit::TlsAlpn01;
use anyhow::{Context, Result};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

type Certs = Arc<Mutex<HashMap<String, Arc<CertifiedKey>>>>;

#[derive(Debug)]
struct BySni(Certs);

impl ResolvesServerCert for BySni {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        // RFC 8737 §4: only handshakes negotiating acme-tls/1 get the
        // validation certificate.
        let acme = hello
            .alpn()
            .is_some_and(|mut p| p.any(|p| p == acmekit::challenge::ACME_TLS_ALPN));
        if !acme {
            return None;
        }
        let sni = hello
            .server_name()?
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sni)
            .cloned()
    }
}

/// The server; it stops when dropped.
pub struct TlsAlpnServer {
    certs: Certs,
    provider: Arc<rustls::crypto::CryptoProvider>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsAlpnServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsAlpnServer {
    /// Binds `addr` now.
    pub async fn bind(addr: &str) -> Result<Self> {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for tls-alpn-01 (port 443 needs root or CAP_NET_BIND_SERVICE; a busy port means a server runs there: use another challenge)")
        })?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs: Certs = Arc::default();
        let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(BySni(certs.clone())));
        config.alpn_protocols = vec![acmekit::challenge::ACME_TLS_ALPN.to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    // The validator only needs the handshake.
                    let _ = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await;
                });
            }
        });
        Ok(TlsAlpnServer {
            certs,
            provider,
            task,
        })
    }

    /// Serves a validation certificate for its SNI.
    pub fn add(&self, t: &TlsAlpn01) -> Result<(), String> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(t.private_key_der.clone()));
        let signer = self
            .provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("tls-alpn-01 key: {e}"))?;
        let certified = CertifiedKey::new(
            vec![CertificateDer::from(t.certificate_der.clone())],
            signer,
        );
        self.certs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(t.sni.to_ascii_lowercase(), Arc::new(certified));
        Ok(())
    }

    /// Stops serving it.
    pub fn remove(&self, t: &TlsAlpn01) {
        self.certs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&t.sni.to_ascii_lowercase());
    }
}
