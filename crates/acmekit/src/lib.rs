//! acmekit: an ACME (RFC 8555) client library.
//!
//! Accounts, orders, authorizations, every challenge type, finalize and
//! certificate download against any ACME CA (Let's Encrypt, ZeroSSL, Google
//! Trust Services, step-ca, Pebble), on tokio with rustls and aws-lc-rs.
//!
//! ```no_run
//! use acmekit::{Account, AccountKey, Client, Identifier, KeyType, NewAccount};
//! # async fn run(solver: &dyn acmekit::Solver) -> Result<(), acmekit::Error> {
//! let client = Client::builder("https://acme-staging-v02.api.letsencrypt.org/directory")
//!     .build()
//!     .await?;
//! let key = AccountKey::generate(KeyType::Es256)?;
//! let (account, _) =
//!     Account::create(&client, key, &NewAccount::agreeing_to_terms(["mailto:me@example.com"]))
//!         .await?;
//! let issued = account.issue(&[Identifier::dns("example.com")], solver).await?;
//! println!("{}", issued.chain.pem());
//! # Ok(()) }
//! ```
//!
//! Every signed request goes through one function that takes a nonce from a
//! pool fed by every response, signs, sends, decodes problem documents, and
//! re-signs on `badNonce`.

mod account;
mod account_update;
mod ari;
mod authz;
mod cert;
mod chain;
pub mod challenge;
mod client;
mod csr;
mod dns_persist;
mod eab;
mod error;
pub mod http;
mod issue;
mod jws;
mod key;
mod key_change;
mod order;
mod orders_list;
mod poll;
mod problem;
mod revoke;
#[cfg(test)]
mod test_support;
mod types;

pub use account::{Account, AccountCredentials, NewAccount};
pub use ari::{
    certificate_id, RenewalInfo, SuggestedWindow, DEFAULT_CHECK_INTERVAL, MAX_CHECK_INTERVAL,
    MIN_CHECK_INTERVAL,
};
pub use authz::{Authorization, Challenge};
pub use cert::{certificate_info, CertificateChain, CertificateInfo, PEM_CHAIN};
pub use chain::{select_chain, MAX_ALTERNATE_CHAINS, MAX_UP_LINKS};
pub use challenge::{Dns01, DnsAccount01, DnsPersist01, Http01, Proof, TlsAlpn01};
pub use client::{Client, ClientBuilder, ClientStats, MAX_BAD_NONCE_RETRIES};
pub use csr::CertificateKey;
pub use eab::{ExternalAccountBinding, MacAlgorithm};
pub use error::{Error, Result};
pub use issue::{ChallengeTask, IssueRequest, Issued, Solver, SolverError};
pub use key::{AccountKey, Jwk, KeyType};
pub use order::{NewOrder, Order};
pub use orders_list::MAX_ORDER_LIST_PAGES;
pub use poll::PollPolicy;
pub use problem::{Problem, ProblemType};
pub use revoke::{revoke_with_certificate_key, RevocationReason};
pub use types::{
    AccountResource, AccountStatus, AuthorizationStatus, ChallengeStatus, ChallengeType, Directory,
    DirectoryMeta, Identifier, IdentifierType, OrderStatus,
};

use base64::Engine as _;

/// base64url without padding (RFC 7515 §2).
pub(crate) fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

#[cfg(test)]
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// PEM-encodes DER with 64-column lines.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
