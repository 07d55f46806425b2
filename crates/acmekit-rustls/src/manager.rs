//! Getting a certificate for a name: from memory, else from the store, else
//! from the CA — one attempt per name at a time, within the rate limits.

use acmekit::{CertificateInfo, Client, Identifier, IssueRequest, KeyType, ProblemType};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tokio::runtime::Handle;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::AbortHandle;
use tracing::{debug, info, warn};

use crate::bundle::{self, Served};
use crate::config::Config;
use crate::error::Error;
use crate::events::Event;
use crate::limits::{Failures, Window};
use crate::schedule::{self, Ari};
use crate::solver::StateSolver;
use crate::state::State;
use crate::store::{self, Store};

/// Why a certificate is being fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A configured name without a certificate.
    Configured,
    /// A name the on-demand policy allowed, without a certificate.
    OnDemand,
    /// A served certificate that is due for renewal.
    Renewal,
}

/// The outcome of one attempt, shared with everyone waiting for it.
type Outcome = Option<Result<CertificateInfo, Error>>;

/// The shared core: configuration, the in-memory state, the store, and the
/// bookkeeping that keeps orders unique and rate-limited.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) state: State,
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) events: broadcast::Sender<Event>,
    /// Wakes the maintenance loop when a certificate or attempt changes.
    pub(crate) wake: Arc<Notify>,
    pub(crate) runtime: Handle,
    pub(crate) inflight: Mutex<HashMap<String, watch::Receiver<Outcome>>>,
    pub(crate) failures: Mutex<Failures>,
    pub(crate) on_demand_window: Mutex<Window>,
    /// The account, created or loaded on the first order.
    pub(crate) account: tokio::sync::Mutex<Option<acmekit::Account>>,
    /// The client for the CA and when it was built; see `Inner::client`.
    pub(crate) client: tokio::sync::Mutex<Option<(Client, SystemTime)>>,
    /// Names whose renewal information is being fetched.
    pub(crate) ari_checks: Mutex<HashSet<String>>,
    /// Set when the CA no longer knows the stored account.
    pub(crate) stored_account_rejected: AtomicBool,
    pub(crate) maintenance: Mutex<Option<AbortHandle>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.maintenance).take() {
            task.abort();
        }
    }
}

/// Locks a mutex whose data stays consistent across panics (single
/// inserts and removes), ignoring poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    /// Why `name` may get a certificate, or `None` if it may not.
    pub(crate) fn purpose_for(&self, name: &str) -> Option<Purpose> {
        if self.config.domains.iter().any(|d| d == name) {
            Some(Purpose::Configured)
        } else if self.config.policy.as_ref().is_some_and(|allow| allow(name)) {
            Some(Purpose::OnDemand)
        } else {
            None
        }
    }

    /// The certificate for `name`: served already, else from the store or
    /// the CA, sharing any attempt in flight.
    pub(crate) async fn obtain(self: &Arc<Self>, name: &str) -> Result<CertificateInfo, Error> {
        if let Some(served) = self.state.served(name) {
            return Ok(served.info);
        }
        let Some(purpose) = self.purpose_for(name) else {
            debug!(
                name,
                "refused: not a configured name and not allowed on demand"
            );
            return Err(Error::NotAllowed {
                name: name.to_owned(),
            });
        };
        let mut rx = self.start(name, purpose)?;
        let outcome = rx.wait_for(Option::is_some).await.map(|o| (*o).clone());
        match outcome {
            Ok(Some(result)) => result,
            _ => Err(Error::Stopped {
                name: name.to_owned(),
            }),
        }
    }

    /// From a handshake that found no certificate: starts getting one in
    /// the background if the name is allowed. Never waits.
    pub(crate) fn trigger(self: &Arc<Self>, name: &str) {
        if let Some(purpose) = self.purpose_for(name) {
            if let Err(e) = self.start(name, purpose) {
                debug!(name, error = %e, "not starting an order");
            }
        }
    }

    /// Joins the attempt in flight for `name`, or starts one (on the
    /// manager's runtime, so it finishes even if every waiter goes away).
    pub(crate) fn start(
        self: &Arc<Self>,
        name: &str,
        purpose: Purpose,
    ) -> Result<watch::Receiver<Outcome>, Error> {
        let mut inflight = lock(&self.inflight);
        if let Some(rx) = inflight.get(name) {
            return Ok(rx.clone());
        }
        if purpose != Purpose::Renewal {
            let now = SystemTime::now();
            if let Some(retry_at) = lock(&self.failures).retry_at(name).filter(|t| *t > now) {
                return Err(Error::RateLimited {
                    name: name.to_owned(),
                    retry_at,
                    reason: "the last attempt failed and the next one waits (exponential backoff)",
                });
            }
        }
        let (tx, rx) = watch::channel(None);
        inflight.insert(name.to_owned(), rx.clone());
        drop(inflight);
        let this = self.clone();
        let name = name.to_owned();
        self.runtime.spawn(async move {
            let outcome = this.run(&name, purpose).await;
            lock(&this.inflight).remove(&name);
            // No receiver left is fine: the outcome is in the events.
            let _ = tx.send(Some(outcome));
            this.wake.notify_one();
        });
        Ok(rx)
    }

    /// One attempt: the store first, then the CA.
    async fn run(self: &Arc<Self>, name: &str, purpose: Purpose) -> Result<CertificateInfo, Error> {
        let now = SystemTime::now();
        let current = self.state.served(name);
        match self.load_stored(name, now).await {
            Ok(Some(stored)) => {
                // A renewal takes a stored certificate only if it is newer
                // and not itself due (another process sharing the store
                // renewed it); otherwise anything valid beats nothing.
                let usable = match &current {
                    None => true,
                    Some(c) => {
                        stored.info.not_after > c.info.not_after
                            && schedule::renew_at(
                                stored.info.not_before,
                                stored.info.not_after,
                                self.config.renew_before,
                                stored.ari.as_ref(),
                            ) > now
                    }
                };
                if usable {
                    let info = stored.info.clone();
                    self.install(name, stored, false);
                    return Ok(info);
                }
            }
            Ok(None) => {}
            Err(e) => return Err(self.failed(name, e, current.is_some())),
        }
        if purpose == Purpose::OnDemand {
            if let Err(retry_at) = lock(&self.on_demand_window).acquire(now) {
                let e = Error::RateLimited {
                    name: name.to_owned(),
                    retry_at,
                    reason: "too many new on-demand names were ordered recently",
                };
                warn!(name, error = %e, "on-demand order refused");
                return Err(e);
            }
        }
        info!(name, renewal = current.is_some(), "ordering a certificate");
        match self.issue(name, current.as_ref()).await {
            Ok((served, pem)) => {
                let info = served.info.clone();
                let ari = served.cert_id.clone().zip(served.ari);
                self.install(name, served, true);
                lock(&self.failures).clear(name);
                self.persist(name, &pem).await;
                if let Some((cert_id, ari)) = ari {
                    self.persist_ari(name, &cert_id, &ari).await;
                }
                Ok(info)
            }
            Err(e) => Err(self.failed(name, e, current.is_some())),
        }
    }

    /// Records a failed attempt (backoff), logs and reports it.
    fn failed(&self, name: &str, error: Error, renewal: bool) -> Error {
        let retry_at = lock(&self.failures).record(name, SystemTime::now(), self.config.retry);
        warn!(
            name,
            renewal,
            retry_at = %crate::error::fmt_time(retry_at),
            error = %error,
            "could not get a certificate"
        );
        let _ = self.events.send(Event::Failed {
            name: name.to_owned(),
            error: error.clone(),
            renewal,
            retry_at,
        });
        error
    }

    /// The stored certificate for `name`, if there is a usable one. A
    /// damaged or expired entry is logged and treated as absent (it is
    /// replaced by the next issuance); a store that cannot answer is an error.
    pub(crate) async fn load_stored(
        &self,
        name: &str,
        now: SystemTime,
    ) -> Result<Option<Served>, Error> {
        let key = store::certificate_key(&self.config.directory_url, name);
        let Some(pem) = self
            .store
            .load(&key)
            .await
            .map_err(|e| Error::store(&key, e))?
        else {
            return Ok(None);
        };
        match bundle::decode(&pem, name, now, &self.provider) {
            Ok(mut served) => {
                if let Some(cert_id) = &served.cert_id {
                    served.ari = self.load_ari(name, cert_id).await;
                }
                Ok(Some(served))
            }
            Err(reason) => {
                warn!(name, key, reason, "ignoring the stored certificate");
                Ok(None)
            }
        }
    }

    /// Orders a certificate for `name`, replacing `current` if any;
    /// returns it and its stored form.
    async fn issue(&self, name: &str, current: Option<&Served>) -> Result<(Served, String), Error> {
        let solver = StateSolver::new(self);
        let account = self.account(name).await?;
        let ari_offered = account.client().directory().renewal_info.is_some();
        let request = issue_request(name, self.config.key_type, current, ari_offered);
        let issued = match account.issue_with(&request, &solver).await {
            Err(e) if e.problem_type() == Some(ProblemType::AccountDoesNotExist) => {
                // The CA forgot the stored account (e.g. a test CA restarted):
                // make a new one and try once more.
                warn!(
                    name,
                    "the CA does not know the stored account; creating a new one"
                );
                self.forget_account().await;
                let account = self.account(name).await?;
                account.issue_with(&request, &solver).await
            }
            other => other,
        }
        .map_err(|e| Error::acme(name, e))?;
        let key = issued
            .key
            .ok_or_else(|| Error::certificate(name, "no certificate key was generated"))?;
        let pem = bundle::encode(&key.to_pem(), issued.chain.pem());
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.to_der()));
        let now = SystemTime::now();
        let mut served = bundle::served(
            issued.chain.certificates().to_vec(),
            der,
            name,
            now,
            &self.provider,
        )
        .map_err(|reason| Error::certificate(name, reason))?;
        served.issued_here_at = Some(now);
        if !ari_offered {
            // Known already: no fetch needed (and none after a restart).
            served.ari = Some(Ari::unsupported(now));
        }
        Ok((served, pem))
    }

    /// When the next renewal attempt for the certificate `served` may start:
    /// its renewal time ([`schedule::renew_at`]), after the spacing since
    /// this process issued it and the failure backoff (`retry_at`).
    pub(crate) fn renewal_attempt_at(
        &self,
        served: &Served,
        retry_at: Option<SystemTime>,
    ) -> SystemTime {
        let renew_at = schedule::renew_at(
            served.info.not_before,
            served.info.not_after,
            self.config.renew_before,
            served.ari.as_ref(),
        );
        schedule::next_attempt(
            renew_at,
            served.issued_here_at,
            self.config.min_renewal_interval,
            retry_at,
        )
    }

    /// Serves `served` for `name` from now on and reports it.
    pub(crate) fn install(&self, name: &str, served: Served, issued: bool) {
        let certificate = served.info.clone();
        let previous = self.state.install(name, served);
        let event = match (issued, previous) {
            (false, _) => {
                info!(name, serial = %certificate.serial_hex, "serving the stored certificate");
                Event::Loaded {
                    name: name.to_owned(),
                    certificate,
                }
            }
            (true, None) => {
                info!(name, serial = %certificate.serial_hex, "certificate issued");
                Event::Issued {
                    name: name.to_owned(),
                    certificate,
                }
            }
            (true, Some(old)) => {
                info!(
                    name,
                    serial = %certificate.serial_hex,
                    previous_serial = %old.info.serial_hex,
                    "certificate renewed"
                );
                Event::Renewed {
                    name: name.to_owned(),
                    previous_serial: old.info.serial_hex,
                    certificate,
                }
            }
        };
        let _ = self.events.send(event);
        self.wake.notify_one();
    }

    /// Stores an issued certificate; a failure is reported, not returned
    /// (the certificate is served either way).
    async fn persist(&self, name: &str, pem: &str) {
        let key = store::certificate_key(&self.config.directory_url, name);
        if let Err(e) = self.store.store(&key, pem.as_bytes()).await {
            let error = Error::store(&key, e);
            warn!(name, error = %error, "the certificate is served but could not be stored");
            let _ = self.events.send(Event::StoreFailed {
                name: name.to_owned(),
                error,
            });
        }
    }
}

/// The order for `name`. A renewal (`current` is the certificate served
/// now) says which certificate it replaces (RFC 9773 §5) when the CA offers
/// renewal information; acmekit orders again without `replaces` if the CA
/// refuses it.
fn issue_request(
    name: &str,
    key_type: KeyType,
    current: Option<&Served>,
    ari_offered: bool,
) -> IssueRequest {
    let mut request = IssueRequest::new([Identifier::dns(name)]);
    request.key_type = key_type;
    if ari_offered {
        request.order.replaces = current.and_then(|c| c.cert_id.clone());
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate for `name` from a CA, so it has an Authority Key
    /// Identifier and therefore an ARI ID.
    fn served(name: &str) -> (Served, String) {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let issuer = rcgen::Issuer::new(ca, &ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let mut leaf = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
        leaf.use_authority_key_identifier_extension = true;
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        let id = acmekit::certificate_id(cert.der()).unwrap();
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let served = bundle::served(
            vec![cert.der().clone()],
            der,
            name,
            SystemTime::now(),
            &provider,
        )
        .unwrap();
        (served, id)
    }

    #[test]
    fn renewals_say_what_they_replace_when_the_ca_offers_ari() {
        let (current, id) = served("a.example");
        assert_eq!(current.cert_id.as_deref(), Some(id.as_str()));
        let renewal = issue_request("a.example", KeyType::Es384, Some(&current), true);
        assert_eq!(renewal.order.replaces, Some(id));
        assert_eq!(renewal.key_type, KeyType::Es384);
        assert_eq!(renewal.order.identifiers, [Identifier::dns("a.example")]);
        // A CA without renewalInfo gets no `replaces`; a first order has
        // nothing to replace.
        let plain = issue_request("a.example", KeyType::Es256, Some(&current), false);
        assert_eq!(plain.order.replaces, None);
        let first = issue_request("a.example", KeyType::Es256, None, true);
        assert_eq!(first.order.replaces, None);
    }
}
