//! The crate's error type. It is `Clone`, because one issuance's outcome
//! reaches every handshake that waited for it, and the events channel.

use std::sync::Arc;
use std::time::SystemTime;

/// The error a [`Store`](crate::Store) reports; shown to the user as one line.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong getting or keeping a certificate.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work; the message says what to change.
    #[error("invalid acmekit-rustls configuration: {0}")]
    Config(String),
    /// The name is neither configured nor allowed by the on-demand policy,
    /// so no certificate is ordered for it.
    #[error("{name:?} is not a name this server gets certificates for")]
    NotAllowed {
        /// The name, as the client sent it.
        name: String,
    },
    /// An order for this name is not allowed yet: it failed recently and is
    /// backing off, or too many new on-demand names were ordered lately.
    #[error("not ordering a certificate for {name} before {}: {reason}", fmt_time(*.retry_at))]
    RateLimited {
        /// The name.
        name: String,
        /// When an order may be placed again.
        retry_at: SystemTime,
        /// Which limit applies.
        reason: &'static str,
    },
    /// The ACME exchange failed (the server refused, validation failed, the
    /// CA could not be reached, …); the source says why.
    #[error("getting a certificate for {name} failed: {source}")]
    Acme {
        /// The name.
        name: String,
        /// The ACME error.
        #[source]
        source: Arc<acmekit::Error>,
    },
    /// The store could not read or write an entry.
    #[error("the certificate store failed on {key}: {source}")]
    Store {
        /// The store key.
        key: String,
        /// What the store reported.
        #[source]
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// A certificate or key (issued, or read from the store) cannot be used.
    #[error("the certificate for {name} cannot be used: {reason}")]
    Certificate {
        /// The name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The manager was shut down (every handle dropped) before the
    /// certificate was ready.
    #[error("the certificate manager stopped before the certificate for {name} was ready")]
    Stopped {
        /// The name.
        name: String,
    },
}

impl Error {
    pub(crate) fn acme(name: &str, source: acmekit::Error) -> Self {
        Error::Acme {
            name: name.to_owned(),
            source: Arc::new(source),
        }
    }

    pub(crate) fn store(key: &str, source: StoreError) -> Self {
        Error::Store {
            key: key.to_owned(),
            source: Arc::from(source),
        }
    }

    pub(crate) fn certificate(name: &str, reason: impl Into<String>) -> Self {
        Error::Certificate {
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    /// The ACME error behind this one, if any (to match on its problem type).
    pub fn acme_error(&self) -> Option<&acmekit::Error> {
        match self {
            Error::Acme { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An HTTP date (the form Retry-After uses).
pub(crate) fn fmt_time(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_sentence() {
        let e = Error::RateLimited {
            name: "a.example".into(),
            retry_at: SystemTime::UNIX_EPOCH,
            reason: "it failed recently",
        };
        assert_eq!(
            e.to_string(),
            "not ordering a certificate for a.example before Thu, 01 Jan 1970 00:00:00 GMT: it failed recently"
        );
    }
}
