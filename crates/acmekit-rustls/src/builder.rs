//! [`AutoCertBuilder`]: every option, checked once in `build`.

use acmekit::challenge::ACME_TLS_ALPN;
use acmekit::{ChallengeType, KeyType};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::{broadcast, Notify};
use tracing::warn;

use crate::autocert::AutoCert;
use crate::config::{Config, Policy};
use crate::error::Error;
use crate::events::Event;
use crate::limits::{Backoff, Failures, Window};
use crate::manager::{lock, Inner};
use crate::names::normalize;
use crate::resolver::CertResolver;
use crate::state::State;
use crate::store::{DirStore, MemoryStore, Store};

/// Events kept for a receiver that lags behind.
const EVENT_CAPACITY: usize = 64;

/// Configures an [`AutoCert`]; start with [`AutoCert::builder`].
///
/// Defaults: tls-alpn-01 only, ECDSA P-256 certificate keys, the web PKI
/// roots for the CA's TLS, certificates in memory only (set
/// [`cache_dir`](Self::cache_dir)!), ALPN `http/1.1`, renewal at the time
/// the CA's renewal information (ARI, RFC 9773) suggests, else with a third
/// of the lifetime left, retries after 1 minute doubling up to 1 hour, at
/// most 20 new on-demand names per hour.
///
/// Creating the account agrees to the CA's terms of service.
#[must_use = "call .build().await"]
pub struct AutoCertBuilder {
    directory_url: String,
    roots_pem: Vec<Vec<u8>>,
    only_added_roots: bool,
    contact: Vec<String>,
    key_type: KeyType,
    challenges: Vec<ChallengeType>,
    domains: Vec<String>,
    policy: Option<Policy>,
    store: Option<Arc<dyn Store>>,
    alpn: Vec<Vec<u8>>,
    renew_before: Option<Duration>,
    min_renewal_interval: Duration,
    retry: Backoff,
    on_demand_max: usize,
    on_demand_per: Duration,
    events: broadcast::Sender<Event>,
}

impl std::fmt::Debug for AutoCertBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoCertBuilder")
            .field("directory_url", &self.directory_url)
            .field("domains", &self.domains)
            .field("on_demand", &self.policy.is_some())
            .finish_non_exhaustive()
    }
}

impl AutoCertBuilder {
    pub(crate) fn new(directory_url: String) -> Self {
        AutoCertBuilder {
            directory_url,
            roots_pem: Vec::new(),
            only_added_roots: false,
            contact: Vec::new(),
            key_type: KeyType::Es256,
            challenges: vec![ChallengeType::TlsAlpn01],
            domains: Vec::new(),
            policy: None,
            store: None,
            alpn: vec![b"http/1.1".to_vec()],
            renew_before: None,
            min_renewal_interval: Duration::from_secs(600),
            retry: Backoff {
                initial: Duration::from_secs(60),
                max: Duration::from_secs(3600),
            },
            on_demand_max: 20,
            on_demand_per: Duration::from_secs(3600),
            events: broadcast::channel(EVENT_CAPACITY).0,
        }
    }

    /// Events from now on, including those of [`build`](Self::build)
    /// (certificates loaded from the store) and of the background task's
    /// first round, which [`AutoCert::events`] called after `build` could
    /// miss.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Names to serve: each gets its own certificate, ordered at start
    /// unless the store has one, and renewed. Adds to earlier calls.
    pub fn domains(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.domains.extend(names.into_iter().map(Into::into));
        self
    }

    /// Issues on demand: the first handshake for a name without a
    /// certificate asks `allow(name)` (lower case, no trailing dot), and
    /// only if it returns true is a certificate ordered. Keep it fast: it
    /// runs on handshakes (a set lookup, a suffix check). Names refused
    /// never cause an order.
    pub fn on_demand(mut self, allow: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        self.policy = Some(Arc::new(allow));
        self
    }

    /// A contact URL for the account, e.g. `mailto:admin@example.com`.
    /// Adds to earlier calls.
    pub fn contact(mut self, url: impl Into<String>) -> Self {
        self.contact.push(url.into());
        self
    }

    /// Also trusts the CA certificates in `pem` for the ACME server's TLS
    /// (a private CA, or Pebble's test CA).
    pub fn add_root_pem(mut self, pem: &[u8]) -> Self {
        self.roots_pem.push(pem.to_vec());
        self
    }

    /// Trusts only the roots given to [`add_root_pem`](Self::add_root_pem)
    /// for the ACME server's TLS, not the built-in web PKI roots.
    pub fn only_added_roots(mut self) -> Self {
        self.only_added_roots = true;
        self
    }

    /// The type of certificate key to generate (default ECDSA P-256).
    pub fn key_type(mut self, key_type: KeyType) -> Self {
        self.key_type = key_type;
        self
    }

    /// The challenge types to answer, best first: `TlsAlpn01` (answered by
    /// [`AutoCert::accept`] / the resolver on port 443; the default) and
    /// `Http01` (answered by [`AutoCert::http01_service`], which you must
    /// serve on port 80).
    pub fn challenges(mut self, types: impl IntoIterator<Item = ChallengeType>) -> Self {
        self.challenges = types.into_iter().collect();
        self
    }

    /// Keeps certificates, keys and the account in files under `dir`
    /// ([`DirStore`]: atomic writes, 0600 files, 0700 directories).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.store = Some(Arc::new(DirStore::new(dir)));
        self
    }

    /// Keeps certificates, keys and the account in `store`.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The ALPN protocols of [`AutoCert::server_config`], best first
    /// (default `http/1.1`; add `h2` if you serve HTTP/2).
    pub fn alpn_protocols(
        mut self,
        protocols: impl IntoIterator<Item = impl Into<Vec<u8>>>,
    ) -> Self {
        self.alpn = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Renews when less than `remaining` is left before expiry. Without
    /// renewal information from the CA this replaces the default (a third
    /// of the lifetime; half for certificates valid less than 10 days);
    /// with it, the earlier of the two times wins (the CA's suggestion, or
    /// `remaining` before expiry).
    pub fn renew_before(mut self, remaining: Duration) -> Self {
        self.renew_before = Some(remaining);
        self
    }

    /// The least time between two orders for one name by this process
    /// (default 10 minutes): bounds the damage of a
    /// [`renew_before`](Self::renew_before) longer than the lifetime.
    pub fn min_renewal_interval(mut self, interval: Duration) -> Self {
        self.min_renewal_interval = interval;
        self
    }

    /// After a failed order, the next one for the name waits `initial`,
    /// doubled per consecutive failure, at most `max` (default 1 minute,
    /// 1 hour).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry = Backoff { initial, max };
        self
    }

    /// At most `max` orders for new on-demand names in any `per`-long
    /// period (default 20 per hour), so a flood of SNI names cannot use up
    /// the CA's rate limits. Renewals and configured names do not count.
    pub fn on_demand_limit(mut self, max: usize, per: Duration) -> Self {
        self.on_demand_max = max;
        self.on_demand_per = per;
        self
    }

    /// Checks the configuration, loads the stored certificates of the
    /// configured names (so they are served at once), and starts the
    /// background task on the current tokio runtime. Sends no request to
    /// the CA: the account and orders come later, in the background.
    pub async fn build(self) -> Result<AutoCert, Error> {
        let runtime = Handle::try_current()
            .map_err(|_| Error::Config("build() must run inside a tokio runtime".into()))?;
        let config = self.config()?;
        let store = self.store.unwrap_or_else(|| {
            warn!("no cache_dir or store: certificates are ordered again after every restart");
            Arc::new(MemoryStore::new())
        });
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_alpn = config.challenges.contains(&ChallengeType::TlsAlpn01);
        let mut alpn = Vec::new();
        if tls_alpn {
            alpn.push(ACME_TLS_ALPN.to_vec());
        }
        alpn.extend(self.alpn.into_iter().filter(|p| p != ACME_TLS_ALPN));

        let inner = Arc::new(Inner {
            on_demand_window: Mutex::new(Window::new(config.on_demand_max, config.on_demand_per)),
            config,
            store,
            state: State::default(),
            provider: provider.clone(),
            events: self.events,
            wake: Arc::new(Notify::new()),
            runtime,
            inflight: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
            account: tokio::sync::Mutex::new(None),
            client: tokio::sync::Mutex::new(None),
            ari_checks: Mutex::new(HashSet::new()),
            stored_account_rejected: AtomicBool::new(false),
            maintenance: Mutex::new(None),
        });
        let now = SystemTime::now();
        for name in &inner.config.domains {
            match inner.load_stored(name, now).await {
                Ok(Some(served)) => inner.install(name, served, false),
                Ok(None) => {}
                Err(e) => warn!(name, error = %e, "cannot read the stored certificate; will retry"),
            }
        }
        *lock(&inner.maintenance) = Some(crate::maintain::spawn(&inner));

        let resolver = Arc::new(CertResolver {
            inner: inner.clone(),
        });
        let server_config = tls_config(&provider, &resolver, alpn)?;
        let challenge_config = tls_config(&provider, &resolver, vec![ACME_TLS_ALPN.to_vec()])?;
        Ok(AutoCert {
            inner,
            resolver,
            server_config,
            challenge_config,
        })
    }

    /// Validates everything that does not need I/O.
    fn config(&self) -> Result<Config, Error> {
        let config_err = |m: String| Err(Error::Config(m));
        if !self.directory_url.starts_with("https://") {
            return config_err(format!(
                "the directory URL {:?} is not https://; ACME requires TLS",
                self.directory_url
            ));
        }
        for pem in &self.roots_pem {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::Config(format!("a root certificate is not valid PEM: {e}")))?;
            if certs.is_empty() {
                return config_err("a root certificate PEM holds no CERTIFICATE block".into());
            }
        }
        if self.only_added_roots && self.roots_pem.is_empty() {
            return config_err("only_added_roots() without add_root_pem() trusts nothing".into());
        }
        if self.challenges.is_empty() {
            return config_err("no challenge types: use TlsAlpn01 and/or Http01".into());
        }
        if let Some(other) = self
            .challenges
            .iter()
            .find(|c| !matches!(c, ChallengeType::TlsAlpn01 | ChallengeType::Http01))
        {
            return config_err(format!(
                "{other} challenges cannot be answered by a TLS server; use TlsAlpn01 and/or Http01"
            ));
        }
        let mut domains = Vec::new();
        for name in &self.domains {
            let Some(n) = normalize(name) else {
                return config_err(format!(
                    "{name:?} is not a DNS name a certificate can be ordered for here (no IP addresses, no wildcards: they need dns-01; punycode for international names)"
                ));
            };
            if !domains.contains(&n) {
                domains.push(n);
            }
        }
        if domains.is_empty() && self.policy.is_none() {
            return config_err("no names: give domains() or an on_demand() policy".into());
        }
        if self.retry.initial.is_zero() || self.retry.max < self.retry.initial {
            return config_err("retry_backoff needs 0 < initial <= max".into());
        }
        Ok(Config {
            directory_url: self.directory_url.clone(),
            roots_pem: self.roots_pem.clone(),
            only_added_roots: self.only_added_roots,
            contact: self.contact.clone(),
            key_type: self.key_type,
            challenges: self.challenges.clone(),
            domains,
            policy: self.policy.clone(),
            renew_before: self.renew_before,
            min_renewal_interval: self.min_renewal_interval,
            retry: self.retry,
            on_demand_max: self.on_demand_max,
            on_demand_per: self.on_demand_per,
        })
    }
}

fn tls_config(
    provider: &Arc<CryptoProvider>,
    resolver: &Arc<CertResolver>,
    alpn: Vec<Vec<u8>>,
) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS configuration: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = alpn;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoCert;

    fn err(b: AutoCertBuilder) -> String {
        b.config().err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn bad_configurations_are_explained() {
        let b = || AutoCert::builder("https://ca.example/dir");
        assert!(
            err(AutoCert::builder("http://ca.example/dir").domains(["a.example"]))
                .contains("not https://")
        );
        assert!(err(b()).contains("no names"));
        assert!(err(b().domains(["*.a.example"])).contains("wildcards"));
        assert!(err(b().domains(["192.0.2.1"])).contains("IP addresses"));
        assert!(err(b().domains(["a.example"]).challenges([])).contains("no challenge"));
        assert!(err(b()
            .domains(["a.example"])
            .challenges([ChallengeType::Dns01]))
        .contains("dns-01 challenges cannot"));
        assert!(err(b().domains(["a.example"]).add_root_pem(b"junk")).contains("no CERTIFICATE"));
        assert!(err(b().domains(["a.example"]).only_added_roots()).contains("trusts nothing"));
        assert!(err(b()
            .domains(["a.example"])
            .retry_backoff(Duration::ZERO, Duration::ZERO))
        .contains("retry_backoff"));
        let ok = b()
            .domains(["A.example.", "a.example"])
            .on_demand(|_| true)
            .config()
            .unwrap();
        assert_eq!(ok.domains, ["a.example"]);
    }
}
