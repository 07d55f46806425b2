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
//! Pebble must be installed (Debian package `pebble`); [`Bind`] needs the
//! Debian package `bind9`.

mod bind;
mod certs;
mod dns;
mod http;
mod http01;
mod management;
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

pub use bind::Bind;
pub use http01::Http01Responder;
pub use pebble::{Pebble, PebbleBuilder};
pub use solver::{unique_name, PebbleSolver};
pub use tls_alpn::TlsAlpnResponder;
pub use verify::verify_chain;
