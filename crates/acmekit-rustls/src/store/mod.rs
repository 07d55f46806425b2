//! Where certificates, their keys and the account live between runs: the
//! [`Store`] trait, a directory ([`DirStore`]) and memory ([`MemoryStore`]).

mod dir;
mod memory;

pub use dir::DirStore;
pub use memory::MemoryStore;

use acmekit::http::BoxFuture;

use crate::error::StoreError;

/// Keeps certificates, certificate keys and account credentials.
///
/// # Contract
///
/// - **Keys** are relative paths: segments joined by `/`, each made of
///   ASCII letters, digits, `.`, `-` and `_`, never empty, never starting
///   with `.`. Today they are `accounts/<CA host>/account.json`,
///   `certificates/<CA host>/<name>.pem` and, for the certificate's renewal
///   information (RFC 9773), `certificates/<CA host>/<name>.ari.json`; a
///   store must not depend on that layout, only on the alphabet.
/// - **Values are secret.** Every value may hold a private key (the
///   certificate's or the account's). Keep them private: [`DirStore`] writes
///   files with mode 0600 in directories with mode 0700.
/// - **Atomic and durable.** After [`Store::store`] returns `Ok`, a
///   [`Store::load`] of the key — in this process or after a crash — returns
///   the whole new value; a load racing with a store returns the old value
///   or the new one, never a mix or a truncated value.
/// - **Absent is not an error.** `load` returns `Ok(None)` for a key never
///   stored; `Err` means the store could not answer (permissions, network),
///   and the manager retries later with backoff instead of ordering.
/// - **Speed.** Nothing is called during a TLS handshake. `load` runs at
///   start (for the configured names) and before the first order for an
///   on-demand name, which the handshake waits for; `store` runs after
///   issuance. Network stores are fine; answer within seconds.
/// - **Concurrency.** Calls for different keys may run concurrently. One
///   manager never stores the same key twice at once. Several processes may
///   share a store: the last write wins, and a process that finds a newer
///   certificate in the store uses it instead of renewing.
/// - **Cancellation.** Futures are dropped only when the manager shuts down;
///   a dropped `store` must leave the old value or the new one.
pub trait Store: Send + Sync + 'static {
    /// Reads the value stored under `key`, `None` if there is none.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;

    /// Stores `value` under `key`, replacing any previous value atomically.
    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// The key of the account credentials for a CA.
pub(crate) fn account_key(directory_url: &str) -> String {
    format!("accounts/{}/account.json", ca_segment(directory_url))
}

/// The key of the certificate (with its private key) for `name` from a CA.
/// `name` is already normalized (letters, digits, `-` and `.`).
pub(crate) fn certificate_key(directory_url: &str, name: &str) -> String {
    format!("certificates/{}/{name}.pem", ca_segment(directory_url))
}

/// The key of the renewal information (ARI) kept for the certificate of
/// `name` from a CA.
pub(crate) fn ari_key(directory_url: &str, name: &str) -> String {
    format!("certificates/{}/{name}.ari.json", ca_segment(directory_url))
}

/// A key segment naming a CA: the directory URL's host and port (and
/// path, so two CAs on one host stay apart), in the key alphabet.
fn ca_segment(directory_url: &str) -> String {
    let rest = directory_url
        .split_once("://")
        .map_or(directory_url, |(_, r)| r);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let raw = if path.is_empty() || path == "dir" || path == "directory" {
        host.to_owned()
    } else {
        format!("{host}-{path}")
    };
    let s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// Checks a key against the contract's alphabet; returns its segments.
pub(crate) fn key_segments(key: &str) -> Option<Vec<&str>> {
    let segments: Vec<&str> = key.split('/').collect();
    let ok = segments.iter().all(|s| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    });
    ok.then_some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(
            account_key("https://127.0.0.1:14000/dir"),
            "accounts/127.0.0.1_14000/account.json"
        );
        assert_eq!(
            certificate_key(
                "https://acme-v02.api.letsencrypt.org/directory",
                "www.example.com"
            ),
            "certificates/acme-v02.api.letsencrypt.org/www.example.com.pem"
        );
        assert_eq!(
            account_key("https://ca.example/acme/staging/directory"),
            "accounts/ca.example-acme_staging_directory/account.json"
        );
        assert_eq!(
            ari_key("https://127.0.0.1:14000/dir", "www.example.com"),
            "certificates/127.0.0.1_14000/www.example.com.ari.json"
        );
        for key in [
            account_key("https://127.0.0.1:14000/dir"),
            ari_key("https://127.0.0.1:14000/dir", "a.example"),
            certificate_key("https://x/../../etc", "a.example"),
            account_key(".hidden"),
        ] {
            assert!(key_segments(&key).is_some(), "{key}");
        }
    }

    #[test]
    fn bad_keys_are_refused() {
        for bad in [
            "", "/abs", "a//b", "a/../b", "a/.b", "a/b c", "a\\b", "a/b/",
        ] {
            assert!(key_segments(bad).is_none(), "{bad:?}");
        }
        assert_eq!(key_segments("a/b.pem"), Some(vec!["a", "b.pem"]));
    }
}
