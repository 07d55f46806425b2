//! The one error type of the library, designed to be matched by callers.

use std::time::{Duration, SystemTime};

use crate::problem::{Problem, ProblemType};

/// A specialised `Result` for acmekit.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to an ACME server.
///
/// Each variant is a situation a caller can act on. The `Display` text is one
/// sentence with the server's own detail where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a problem document (RFC 8555 §6.7).
    #[error("the ACME server refused the request to {url}: {problem}")]
    Server {
        /// The request URL.
        url: String,
        /// The server's problem document.
        problem: Box<Problem>,
        /// When the server asked us to come back (Retry-After), if it said.
        retry_after: Option<SystemTime>,
    },
    /// The server rate-limited the request (`rateLimited`).
    #[error("the ACME server rate-limited the request to {url}: {problem}{}", retry_hint(*.retry_after))]
    RateLimited {
        /// The request URL.
        url: String,
        /// The server's problem document.
        problem: Box<Problem>,
        /// When the limit lifts, if the server said (Retry-After).
        retry_after: Option<SystemTime>,
    },
    /// The server could not be reached, or the connection failed.
    #[error("could not reach the ACME server at {url}: {reason}; check the URL and your network")]
    Transport {
        /// The request URL.
        url: String,
        /// What failed, in words.
        reason: String,
    },
    /// The server sent a reply that does not follow the protocol.
    #[error("the ACME server sent an invalid reply to {url}: {reason}")]
    InvalidResponse {
        /// The request URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An authorization or order reached a state it cannot leave.
    #[error("validation of {identifier} failed: {}", problem_or(.problem, "the server gave no reason"))]
    ValidationFailed {
        /// The identifier whose authorization failed.
        identifier: String,
        /// The authorization URL.
        url: String,
        /// The challenge's (or authorization's) error, if the server sent one.
        problem: Option<Box<Problem>>,
    },
    /// The order became `invalid`.
    #[error("the order {url} is invalid: {}", problem_or(.problem, "the server gave no reason"))]
    OrderFailed {
        /// The order URL.
        url: String,
        /// The order's error, if the server sent one.
        problem: Option<Box<Problem>>,
    },
    /// Waiting for a resource timed out; the URL lets a caller resume later.
    #[error("gave up waiting after {waited:?} for {url} (last status: {status}); it can be resumed by URL")]
    Timeout {
        /// The resource being polled.
        url: String,
        /// Its last status.
        status: String,
        /// How long we waited.
        waited: Duration,
    },
    /// None of an authorization's challenges can be solved by the solver.
    #[error("no challenge the solver supports is offered for {identifier} (offered: {})", offered.join(", "))]
    NoSupportedChallenge {
        /// The identifier.
        identifier: String,
        /// The challenge types the server offered.
        offered: Vec<String>,
    },
    /// The solver failed to present or clean up a challenge.
    #[error("the challenge solver failed for {identifier}: {reason}")]
    Solver {
        /// The identifier.
        identifier: String,
        /// What the solver reported.
        reason: String,
    },
    /// A key could not be generated, parsed or used.
    #[error("key error: {0}")]
    Key(String),
    /// A CSR or certificate could not be built or parsed.
    #[error("certificate error: {0}")]
    Certificate(String),
    /// The directory says new accounts need external account binding
    /// (`meta.externalAccountRequired`) and none was given. Nothing was sent.
    /// [`Error::problem_type`] reports it as
    /// [`ProblemType::ExternalAccountRequired`], like the server's own refusal.
    #[error(
        "the ACME server at {directory} requires external account binding: set \
         NewAccount::external_account_binding to the key ID and MAC key your CA gave you \
         (ExternalAccountBinding::new(kid, mac_key))"
    )]
    ExternalAccountRequired {
        /// The directory URL.
        directory: String,
    },
    /// Key rollover refused: the new key already belongs to an account
    /// (RFC 8555 §7.3.5: 409 Conflict). Nothing changed; the account keeps
    /// its old key.
    #[error("the new account key already belongs to {}; roll over to a freshly generated key", .account.as_deref().unwrap_or("another account"))]
    KeyInUse {
        /// The keyChange URL.
        url: String,
        /// The URL of the account that holds the key, if the server said
        /// (the `Location` header).
        account: Option<String>,
    },
    /// The directory lacks something this operation needs.
    #[error("the ACME server does not support {0}")]
    Unsupported(String),
    /// The order asks for a certificate profile the server does not
    /// advertise in its directory; nothing was sent.
    #[error("the ACME server does not offer the certificate profile {profile:?} ({})", offered_profiles(.offered))]
    UnknownProfile {
        /// The profile asked for.
        profile: String,
        /// The profiles the directory advertises (may be empty).
        offered: Vec<String>,
    },
    /// The caller passed an argument that cannot work.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

fn retry_hint(at: Option<SystemTime>) -> String {
    match at {
        Some(t) => format!("; retry after {}", httpdate::fmt_http_date(t)),
        None => String::new(),
    }
}

fn offered_profiles(offered: &[String]) -> String {
    if offered.is_empty() {
        "it advertises no profiles".to_owned()
    } else {
        format!("it offers: {}", offered.join(", "))
    }
}

fn problem_or(p: &Option<Box<Problem>>, fallback: &str) -> String {
    p.as_ref()
        .map_or_else(|| fallback.to_owned(), |p| p.to_string())
}

impl Error {
    /// The server's problem document, if this error carries one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Error::Server { problem, .. } | Error::RateLimited { problem, .. } => Some(&**problem),
            Error::ValidationFailed { problem, .. } | Error::OrderFailed { problem, .. } => {
                problem.as_deref()
            }
            _ => None,
        }
    }

    /// The problem type, if the server sent one; also
    /// [`ProblemType::ExternalAccountRequired`] for
    /// [`Error::ExternalAccountRequired`], so a caller matches one type
    /// whether the directory or the server said it.
    pub fn problem_type(&self) -> Option<ProblemType> {
        match self {
            Error::ExternalAccountRequired { .. } => Some(ProblemType::ExternalAccountRequired),
            _ => self.problem().map(Problem::kind),
        }
    }

    /// When the server asked us to retry, if it did.
    pub fn retry_after(&self) -> Option<SystemTime> {
        match self {
            Error::Server { retry_after, .. } | Error::RateLimited { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    pub(crate) fn invalid(url: &str, reason: impl Into<String>) -> Self {
        Error::InvalidResponse {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn from_problem(
        url: &str,
        problem: Problem,
        retry_after: Option<SystemTime>,
    ) -> Self {
        let problem = Box::new(problem);
        let url = url.to_owned();
        if problem.kind() == ProblemType::RateLimited {
            Error::RateLimited {
                url,
                problem,
                retry_after,
            }
        } else {
            Error::Server {
                url,
                problem,
                retry_after,
            }
        }
    }
}
