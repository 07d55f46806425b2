//! [`CertResolver`]: picks the certificate for a handshake from memory.

use acmekit::challenge::ACME_TLS_ALPN;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::Arc;

use crate::manager::Inner;
use crate::names::normalize;

/// A `rustls` certificate resolver that only reads memory.
///
/// - A handshake offering ALPN `acme-tls/1` is a tls-alpn-01 validation
///   (RFC 8737): it gets the validation certificate live for its SNI, or
///   none (the handshake fails).
/// - Any other handshake gets the current certificate for its SNI.
/// - A handshake for an allowed name without a certificate gets none (the
///   handshake fails), and starts getting one in the background.
///   [`AutoCert::accept`](crate::AutoCert::accept) instead waits for it
///   before the handshake goes on.
/// - A handshake without SNI gets none.
///
/// Use it in your own `rustls::ServerConfig`; list `acme-tls/1` in the
/// config's ALPN protocols for tls-alpn-01 (or use
/// [`AutoCert::server_config`](crate::AutoCert::server_config), which does).
#[derive(Debug)]
pub struct CertResolver {
    pub(crate) inner: Arc<Inner>,
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().and_then(normalize)?;
        if offers_acme_tls(&hello) {
            return self.inner.state.challenge(&name);
        }
        if let Some(key) = self.inner.state.cert(&name) {
            return Some(key);
        }
        self.inner.trigger(&name);
        None
    }
}

/// RFC 8737 §4: validation handshakes offer the `acme-tls/1` protocol.
pub(crate) fn offers_acme_tls(hello: &ClientHello<'_>) -> bool {
    hello
        .alpn()
        .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN))
}
