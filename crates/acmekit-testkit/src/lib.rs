//! Test harness for acmekit: a real [Pebble](https://github.com/letsencrypt/pebble)
//! ACME server for integration tests.
//!
//! [`Pebble::start`] (or [`Pebble::builder`], or the per-binary
//! [`Pebble::shared`]) runs `pebble` and `pebble-challtestsrv` (mock DNS) on
//! free `127.0.0.1` ports, with a freshly generated listener certificate,
//! plus an http-01 and a tls-alpn-01 responder the tests register challenge
//! responses with. Everything is synchronous to start and stop; the
//! management helpers are `async` and work from any tokio runtime.
//! [`verify_chain`] checks an issued certificate chain. [`Bind`] runs a
//! real BIND 9 that accepts TSIG-signed dynamic updates (RFC 2136), which a
//! Pebble can resolve through ([`PebbleBuilder::dns_server`]).
//!
//! Pebble must be installed (Debian package `pebble`); [`Bind`] (a BIND9
//! primary for RFC 2136 tests) needs the Debian package `bind9`.
//!
//! For what Pebble 2.4 lacks, [`MockAcme`] is a scripted mock ACME server
//! (renewalInfo, profiles, `alreadyReplaced`, malformed replies), and
//! [`Acme2Certifier`] runs acme2certifier, a second independent ACME server
//! (Python, installed once per machine into a cached venv), for interop.

mod a2c;
mod acme;
mod bind;
mod certs;
mod dns;
mod http;
mod http01;
mod management;
mod mock;
mod pebble;
pub mod ports;
mod process;
mod runtime;
mod solver;
mod tempdir;
mod tls_alpn;
mod verify;

#[cfg(test)]
mod tests;

pub use a2c::{Acme2Certifier, Acme2CertifierBuilder};
pub use acme::{client_for, new_account};
pub use bind::Bind;
pub use http01::Http01Responder;
pub use mock::{MockAcme, MockAcmeBuilder, MockResponse, RecordedRequest, Route};
pub use pebble::{Pebble, PebbleBuilder};
pub use solver::{unique_name, NoopSolver, PebbleSolver};
pub use tls_alpn::TlsAlpnResponder;
pub use verify::verify_chain;
