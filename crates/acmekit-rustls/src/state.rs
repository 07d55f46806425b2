//! What handshakes and the http-01 responder read: the served
//! certificates, the live tls-alpn-01 certificates and the live http-01
//! tokens. Plain maps behind short-lived locks; nothing here waits.

use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::bundle::Served;
use crate::schedule::Ari;

/// The in-memory state shared by the resolver, the responders and the
/// manager.
#[derive(Debug, Default)]
pub(crate) struct State {
    certs: RwLock<HashMap<String, Served>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    tokens: RwLock<HashMap<String, String>>,
}

// A panic while holding one of these locks leaves the maps consistent
// (every write is a single insert or remove), so poisoning is ignored.
fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// The certificate served for `name`.
    pub(crate) fn cert(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.certs).get(name).map(|s| s.key.clone())
    }

    /// Everything known about the certificate served for `name`.
    pub(crate) fn served(&self, name: &str) -> Option<Served> {
        read(&self.certs).get(name).cloned()
    }

    /// Every served certificate.
    pub(crate) fn all_served(&self) -> Vec<(String, Served)> {
        read(&self.certs)
            .iter()
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect()
    }

    /// Serves `served` for `name` from now on; returns what it replaces.
    pub(crate) fn install(&self, name: &str, served: Served) -> Option<Served> {
        write(&self.certs).insert(name.to_owned(), served)
    }

    /// Records the renewal information of the certificate served for
    /// `name` if it is still the one with ARI ID `cert_id`; false when it
    /// was replaced meanwhile (the information is then stale).
    pub(crate) fn set_ari(&self, name: &str, cert_id: &str, ari: Ari) -> bool {
        let mut certs = write(&self.certs);
        match certs.get_mut(name) {
            Some(served) if served.cert_id.as_deref() == Some(cert_id) => {
                served.ari = Some(ari);
                true
            }
            _ => false,
        }
    }

    /// The tls-alpn-01 certificate for an SNI.
    pub(crate) fn challenge(&self, sni: &str) -> Option<Arc<CertifiedKey>> {
        read(&self.challenges).get(sni).cloned()
    }

    pub(crate) fn add_challenge(&self, sni: &str, key: Arc<CertifiedKey>) {
        write(&self.challenges).insert(sni.to_owned(), key);
    }

    /// Removes the tls-alpn-01 certificate for an SNI if it is still the
    /// one with DER `cert_der` (a later challenge for the name stays).
    pub(crate) fn remove_challenge(&self, sni: &str, cert_der: &[u8]) {
        let mut map = write(&self.challenges);
        if map
            .get(sni)
            .is_some_and(|k| k.cert.first().is_some_and(|c| c.as_ref() == cert_der))
        {
            map.remove(sni);
        }
    }

    /// The http-01 response body for a token.
    pub(crate) fn token(&self, token: &str) -> Option<String> {
        read(&self.tokens).get(token).cloned()
    }

    pub(crate) fn add_token(&self, token: &str, body: &str) {
        write(&self.tokens).insert(token.to_owned(), body.to_owned());
    }

    pub(crate) fn remove_token(&self, token: &str) {
        write(&self.tokens).remove(token);
    }
}
