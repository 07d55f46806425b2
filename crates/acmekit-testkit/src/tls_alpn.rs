//! The tls-alpn-01 responder: where Pebble's VA dials with ALPN
//! `acme-tls/1` and expects the challenge certificate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::process::lock;

/// The ALPN protocol of RFC 8737.
const ACME_TLS_1: &[u8] = b"acme-tls/1";
const IO_TIMEOUT: Duration = Duration::from_secs(10);

type Certs = Arc<Mutex<HashMap<String, Arc<CertifiedKey>>>>;

/// A rustls server offering ALPN `acme-tls/1` that presents, for each
/// connection, the certificate registered for the SNI the client sent
/// (no SNI or an unknown one: the handshake is refused).
///
/// For IP identifiers Pebble's VA sends the reverse-DNS name as SNI (RFC
/// 8738), e.g. `1.0.0.127.in-addr.arpa`: register under that. Names are
/// compared case-insensitively and without a trailing dot.
///
/// It listens on `127.0.0.1` and `[::1]:`[`Pebble::tls_port`](crate::Pebble::tls_port)
/// and runs on the kit's background runtime.
#[derive(Debug)]
pub struct TlsAlpnResponder {
    port: u16,
    certs: Certs,
    provider: Arc<CryptoProvider>,
    stop: watch::Sender<bool>,
}

impl TlsAlpnResponder {
    /// Binds a free loopback port and starts serving.
    pub(crate) fn start() -> TlsAlpnResponder {
        let listeners = crate::ports::bind_loopback_listeners();
        let port = listeners[0]
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("acmekit-testkit: tls-alpn-01 responder address: {e}"));
        for l in &listeners {
            l.set_nonblocking(true)
                .unwrap_or_else(|e| panic!("acmekit-testkit: tls-alpn-01 responder: {e}"));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let certs: Certs = Arc::new(Mutex::new(HashMap::new()));
        let mut config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("acmekit-testkit: tls-alpn-01 responder config: {e}"))
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(BySni(certs.clone())));
        config.alpn_protocols = vec![ACME_TLS_1.to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (stop, stopped) = watch::channel(false);
        for listener in listeners {
            let acceptor = acceptor.clone();
            let mut stopped = stopped.clone();
            crate::runtime::handle().spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("acmekit-testkit: tls-alpn-01 responder: {e}"));
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        accepted = listener.accept() => {
                            if let Ok((stream, _)) = accepted {
                                tokio::spawn(serve(stream, acceptor.clone()));
                            }
                        }
                    }
                }
            });
        }
        TlsAlpnResponder {
            port,
            certs,
            provider,
            stop,
        }
    }

    /// Presents `cert_der` (with its PKCS#8 private key) to clients sending
    /// `sni`, replacing any previous registration.
    ///
    /// # Panics
    ///
    /// If the key cannot be loaded (not PKCS#8, or an unsupported algorithm).
    pub fn add(&self, sni: &str, cert_der: Vec<u8>, key_pkcs8_der: Vec<u8>) {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pkcs8_der));
        let signing_key = self
            .provider
            .key_provider
            .load_private_key(key)
            .unwrap_or_else(|e| panic!("acmekit-testkit: tls-alpn-01 key for {sni:?}: {e}"));
        let certified = CertifiedKey::new(vec![CertificateDer::from(cert_der)], signing_key);
        lock(&self.certs).insert(normalize(sni), Arc::new(certified));
    }

    /// Stops presenting a certificate for `sni`.
    pub fn remove(&self, sni: &str) {
        lock(&self.certs).remove(&normalize(sni));
    }

    /// The loopback port it listens on (Pebble's `tlsPort`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting connections (the listening socket is closed).
    pub(crate) fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for TlsAlpnResponder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Selects the registered certificate by SNI.
#[derive(Debug)]
struct BySni(Certs);

impl ResolvesServerCert for BySni {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = normalize(client_hello.server_name()?);
        lock(&self.0).get(&sni).cloned()
    }
}

async fn serve(stream: TcpStream, acceptor: TlsAcceptor) {
    let _ = tokio::time::timeout(IO_TIMEOUT, async move {
        let mut tls = acceptor.accept(stream).await?;
        // The VA only needs the handshake; wait for it to hang up.
        let mut buf = [0u8; 1024];
        while tls.read(&mut buf).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}
