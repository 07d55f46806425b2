//! [`AutoCert`]: the handle an application keeps.

use acmekit::CertificateInfo;
use rustls::ServerConfig;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;
use tracing::debug;

use crate::builder::AutoCertBuilder;
use crate::error::Error;
use crate::events::Event;
use crate::http01::{Http01Service, RedirectToHttps};
use crate::manager::{lock, Inner};
use crate::names::normalize;
use crate::resolver::{offers_acme_tls, CertResolver};

/// Automatic certificates for a rustls server.
///
/// Cheap to clone; clones share everything. A background task orders
/// certificates for the configured names and renews every served
/// certificate; it stops when the last clone (and the last
/// [`server_config`](Self::server_config) or [`resolver`](Self::resolver))
/// is dropped.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = acmekit_rustls::AutoCert::builder("https://acme-v02.api.letsencrypt.org/directory")
///     .domains(["example.com", "www.example.com"])
///     .contact("mailto:admin@example.com")
///     .cache_dir("/var/lib/myapp/acme")
///     .build()
///     .await?;
/// let listener = tokio::net::TcpListener::bind("[::]:443").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     let acme = acme.clone();
///     tokio::spawn(async move {
///         if let Ok(Some(tls)) = acme.accept(tcp).await {
///             // serve HTTP (or anything) over `tls`
/// #           drop(tls);
///         }
///     });
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct AutoCert {
    pub(crate) inner: Arc<Inner>,
    pub(crate) resolver: Arc<CertResolver>,
    pub(crate) server_config: Arc<ServerConfig>,
    pub(crate) challenge_config: Arc<ServerConfig>,
}

impl fmt::Debug for AutoCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AutoCert")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl AutoCert {
    /// Starts configuring certificates from the ACME server whose directory
    /// is at `directory_url` (e.g. Let's Encrypt's
    /// `https://acme-v02.api.letsencrypt.org/directory`).
    pub fn builder(directory_url: impl Into<String>) -> AutoCertBuilder {
        AutoCertBuilder::new(directory_url.into())
    }

    /// Accepts a TLS connection, waiting for the certificate if needed.
    ///
    /// Reads the ClientHello, then:
    /// - a tls-alpn-01 validation (ALPN `acme-tls/1`) is answered with the
    ///   validation certificate and closed: returns `Ok(None)`;
    /// - an allowed name without a certificate first gets one (from the
    ///   store or the CA); concurrent handshakes for the name share that one
    ///   attempt. If it fails, or the name is not allowed, the handshake
    ///   fails with an alert;
    /// - the handshake completes with [`server_config`](Self::server_config)
    ///   and the stream is returned.
    ///
    /// It does not time out: wrap it in `tokio::time::timeout` to bound slow
    /// clients (and the first handshake of a name, which waits for the CA).
    pub async fn accept<IO>(&self, io: IO) -> io::Result<Option<TlsStream<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), io).await?;
        let (validation, name) = {
            let hello = start.client_hello();
            (
                offers_acme_tls(&hello),
                hello.server_name().and_then(normalize),
            )
        };
        if validation {
            // RFC 8737 §3: the validation handshake carries no data.
            let mut tls = start.into_stream(self.challenge_config.clone()).await?;
            let _ = tls.shutdown().await;
            return Ok(None);
        }
        if let Some(name) = name {
            if self.inner.state.cert(&name).is_none() && self.inner.purpose_for(&name).is_some() {
                if let Err(e) = self.inner.obtain(&name).await {
                    debug!(name, error = %e, "no certificate; the handshake fails");
                }
            }
        }
        start
            .into_stream(self.server_config.clone())
            .await
            .map(Some)
    }

    /// A rustls server configuration using [`resolver`](Self::resolver),
    /// with the configured ALPN protocols (after `acme-tls/1` when
    /// tls-alpn-01 is enabled). For `tokio_rustls::TlsAcceptor` and other
    /// acceptors: handshakes for names without a certificate then fail at
    /// once instead of waiting (see [`CertResolver`]).
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server_config.clone()
    }

    /// The certificate resolver, for a `rustls::ServerConfig` of your own.
    pub fn resolver(&self) -> Arc<CertResolver> {
        self.resolver.clone()
    }

    /// Wraps a hyper service with the http-01 responder: requests for
    /// `/.well-known/acme-challenge/<token>` are answered here, everything
    /// else goes to `service`. See [`Http01Service`].
    pub fn http01_service<S>(&self, service: S) -> Http01Service<S> {
        Http01Service::new(self.inner.clone(), service)
    }

    /// The http-01 responder in front of a redirect to `https://`: what
    /// port 80 of an HTTPS site usually serves.
    pub fn http01_redirect(&self) -> Http01Service<RedirectToHttps> {
        self.http01_service(RedirectToHttps::new())
    }

    /// Events from now on: issued, renewed, loaded, renewal information,
    /// failed. A receiver that falls more than 64 events behind loses the
    /// oldest ones.
    pub fn events(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// The certificate served for `name` right now, if any. Only reads
    /// memory.
    pub fn certificate(&self, name: &str) -> Option<CertificateInfo> {
        let name = normalize(name)?;
        self.inner.state.served(&name).map(|s| s.info)
    }

    /// When the background task will start renewing the certificate
    /// served for `name`, if one is: the time picked in the CA's suggested
    /// renewal window (ARI) once its renewal information is known, else
    /// with a third of the lifetime left (or as
    /// [`renew_before`](crate::AutoCertBuilder::renew_before) says, when
    /// earlier); never sooner than a failure backoff or the
    /// [`min_renewal_interval`](crate::AutoCertBuilder::min_renewal_interval)
    /// allow. A time in the past means the renewal is due or running. Only
    /// reads memory.
    pub fn next_renewal(&self, name: &str) -> Option<SystemTime> {
        let name = normalize(name)?;
        let served = self.inner.state.served(&name)?;
        let retry_at = lock(&self.inner.failures).retry_at(&name);
        Some(self.inner.renewal_attempt_at(&served, retry_at))
    }

    /// The certificate for `name`: the one served, else one from the store,
    /// else a new one from the CA (sharing an order already in flight).
    /// Errors if the name is neither configured nor allowed on demand, or
    /// is rate-limited. Handy to warm up an on-demand name.
    pub async fn obtain(&self, name: &str) -> Result<CertificateInfo, Error> {
        let normalized = normalize(name).ok_or_else(|| Error::NotAllowed {
            name: name.to_owned(),
        })?;
        self.inner.obtain(&normalized).await
    }
}
