//! Fetching the CA's renewal information (ARI, RFC 9773) for served
//! certificates, in tasks of their own (never on a handshake), and keeping
//! it next to the certificate in the store. The timing rules are in
//! [`schedule`](crate::schedule).

use acmekit::RenewalInfo;
use std::sync::Arc;
use std::time::SystemTime;
use tracing::{debug, info, warn};

use crate::ari_record;
use crate::error::fmt_time;
use crate::events::Event;
use crate::manager::{lock, Inner};
use crate::schedule::{self, Ari, Window};
use crate::store;

impl Inner {
    /// Starts fetching the renewal information of the certificate served
    /// for `name`, unless a fetch for it is running. The task wakes the
    /// maintenance loop when it ends.
    pub(crate) fn start_ari_check(self: &Arc<Self>, name: &str) {
        if !lock(&self.ari_checks).insert(name.to_owned()) {
            return;
        }
        let this = self.clone();
        let name = name.to_owned();
        self.runtime.spawn(async move {
            this.check_ari(&name).await;
            lock(&this.ari_checks).remove(&name);
            this.wake.notify_one();
        });
    }

    /// One fetch: records what it learnt on the served certificate (if it
    /// is still the same one), stores it, logs it and reports it.
    async fn check_ari(&self, name: &str) {
        let Some(served) = self.state.served(name) else {
            return;
        };
        let Some(cert_id) = served.cert_id.clone() else {
            return;
        };
        let fetched = match self.client().await {
            Ok(client) if client.directory().renewal_info.is_none() => None,
            Ok(client) => Some(client.renewal_info_by_id(&cert_id).await),
            Err(e) => Some(Err(e)),
        };
        let now = SystemTime::now();
        let previous = served.ari.as_ref();
        let (ari, info) = match fetched {
            None => {
                debug!(
                    name,
                    "the CA offers no renewal information; renewing by lifetime"
                );
                (Ari::unsupported(now), None)
            }
            Some(Ok(info)) => {
                let window = Window {
                    start: info.suggested_window.start,
                    end: info.suggested_window.end,
                };
                let candidate = info.random_renewal_time();
                let ari = Ari::fetched(previous, window, candidate, info.next_check(now));
                (ari, Some(info))
            }
            Some(Err(e)) => {
                let ari = Ari::failed(previous, now, e.retry_after());
                let fallback = if ari.pick.is_some() {
                    "the last suggested window"
                } else {
                    "the lifetime"
                };
                warn!(
                    name,
                    error = %e,
                    next_check = %fmt_time(ari.next_check),
                    "could not fetch renewal information; renewal follows {fallback}"
                );
                self.state.set_ari(name, &cert_id, ari);
                return;
            }
        };
        if !self.state.set_ari(name, &cert_id, ari) {
            debug!(
                name,
                "the certificate changed during the renewal information fetch"
            );
            return;
        }
        self.persist_ari(name, &cert_id, &ari).await;
        if let Some(info) = info {
            let renew_at = schedule::renew_at(
                served.info.not_before,
                served.info.not_after,
                self.config.renew_before,
                Some(&ari),
            );
            self.report_ari(
                name,
                &served.info.serial_hex,
                &info,
                previous,
                &ari,
                renew_at,
            );
        }
    }

    /// Logs a fetched window (at `info` when it is new) and sends the event.
    fn report_ari(
        &self,
        name: &str,
        serial: &str,
        info: &RenewalInfo,
        previous: Option<&Ari>,
        ari: &Ari,
        renew_at: SystemTime,
    ) {
        let window = info.suggested_window;
        let new_window =
            previous.and_then(|p| p.pick).map(|p| p.window) != ari.pick.map(|p| p.window);
        let explanation = info.explanation_url.as_deref().unwrap_or("");
        if new_window {
            info!(
                name,
                serial,
                window_start = %fmt_time(window.start),
                window_end = %fmt_time(window.end),
                renew_at = %fmt_time(renew_at),
                explanation,
                "renewal information: a new suggested window"
            );
        } else {
            debug!(name, serial, renew_at = %fmt_time(renew_at), "renewal information unchanged");
        }
        let _ = self.events.send(Event::RenewalInfo {
            name: name.to_owned(),
            serial: serial.to_owned(),
            suggested_window: window,
            explanation_url: info.explanation_url.clone(),
            renew_at,
        });
    }

    /// The stored renewal information of the certificate with ARI ID
    /// `cert_id`; `None` (logged) when there is none usable.
    pub(crate) async fn load_ari(&self, name: &str, cert_id: &str) -> Option<Ari> {
        let key = store::ari_key(&self.config.directory_url, name);
        let bytes = match self.store.load(&key).await {
            Ok(bytes) => bytes?,
            Err(e) => {
                warn!(name, key, error = %e, "cannot read the stored renewal information; fetching it again");
                return None;
            }
        };
        ari_record::decode(&bytes, cert_id)
            .inspect_err(|reason| {
                debug!(name, key, reason, "ignoring the stored renewal information")
            })
            .ok()
    }

    /// Stores the renewal information of a certificate; a failure is only
    /// logged (it is fetched again after a restart).
    pub(crate) async fn persist_ari(&self, name: &str, cert_id: &str, ari: &Ari) {
        let key = store::ari_key(&self.config.directory_url, name);
        let record = ari_record::encode(cert_id, ari);
        if let Err(e) = self.store.store(&key, &record).await {
            warn!(name, key, error = %e, "could not store the renewal information");
        }
    }
}
