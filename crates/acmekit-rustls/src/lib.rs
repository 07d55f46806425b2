//! Automatic certificates for tokio/rustls servers, from any ACME CA —
//! what Go's `autocert` and Caddy's `certmagic` give Go servers.
//!
//! An [`AutoCert`] gets certificates for the names you configure (or,
//! on demand, for names a handshake asks for and your policy allows),
//! answers the CA's tls-alpn-01 validation on your TLS port and http-01
//! through a hyper service wrapper, keeps certificates renewed in the
//! background (when the CA's renewal information, ARI, suggests; else with
//! a third of the lifetime left), and stores them (and the account) so a
//! restart serves them without asking the CA.
//!
//! ```no_run
//! use acmekit_rustls::AutoCert;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let acme = AutoCert::builder("https://acme-staging-v02.api.letsencrypt.org/directory")
//!     .domains(["example.com"])
//!     .contact("mailto:admin@example.com")
//!     .cache_dir("acme-cache")
//!     .build()
//!     .await?;
//! let listener = tokio::net::TcpListener::bind("[::]:443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let acme = acme.clone();
//!     tokio::spawn(async move {
//!         // Ok(None): a tls-alpn-01 validation, already answered.
//!         if let Ok(Some(tls)) = acme.accept(tcp).await {
//!             // serve your protocol over `tls`
//! #           drop(tls);
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! The pieces:
//!
//! - [`AutoCertBuilder`]: names or an on-demand policy, CA and its trust
//!   roots, contact, key type, challenge types, store, renewal and rate
//!   limits.
//! - [`AutoCert::accept`]: accepts a TLS connection, waiting for the first
//!   certificate of a name if needed (one order per name, however many
//!   handshakes wait). [`AutoCert::server_config`] / [`CertResolver`]: for
//!   acceptors of your own; they never wait.
//! - [`Http01Service`]: http-01 in front of any hyper service, or in front
//!   of [`RedirectToHttps`].
//! - [`Store`]: where certificates live; [`DirStore`] (files, atomic,
//!   private) and [`MemoryStore`].
//! - [`Event`]s on a channel ([`AutoCert::events`]) and `tracing` logs.

mod account;
mod ari_record;
mod autocert;
mod builder;
mod bundle;
mod config;
mod error;
mod events;
mod http01;
mod limits;
mod maintain;
mod manager;
mod names;
mod renewal_info;
mod resolver;
mod schedule;
mod solver;
mod state;
mod store;

pub use autocert::AutoCert;
pub use builder::AutoCertBuilder;
pub use error::{Error, StoreError};
pub use events::Event;
pub use http01::{Http01Future, Http01Service, RedirectToHttps, CHALLENGE_PATH_PREFIX};
pub use resolver::CertResolver;
pub use store::{DirStore, MemoryStore, Store};

/// Re-exported: the types in this crate's API come from these versions.
pub use acmekit::{CertificateInfo, ChallengeType, KeyType, SuggestedWindow};
pub use {rustls, tokio_rustls};

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The workspace README's examples (the library, this crate), compiled as
/// doc tests here because this crate sees both `acmekit` and hyper.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct WorkspaceReadmeDoctests;
