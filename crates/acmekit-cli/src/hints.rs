//! What to do next, by the kind of failure: appended to the one error line.

use acmekit::{Error, ProblemType};

/// A short "what to do" for errors a user can act on.
pub fn hint(e: &anyhow::Error) -> Option<String> {
    let err = e.chain().find_map(|c| c.downcast_ref::<Error>())?;
    let hint = match err {
        Error::Transport { .. } => "check the --server URL, your network and any proxy or firewall",
        Error::RateLimited { .. } => {
            "the CA's rate limit applies; acmekit will not ask again for these names before the time above"
        }
        Error::ValidationFailed { .. } => match err.problem_type() {
            Some(ProblemType::Caa) => {
                "the domain's CAA records do not allow this CA: add a CAA record naming it, or remove the restriction"
            }
            Some(ProblemType::Dns) => {
                "the CA could not resolve the name: check its DNS records (and for dns-01, that the TXT record was published)"
            }
            Some(ProblemType::Connection | ProblemType::Tls) => {
                "the CA could not connect: check that the name points at this machine and that port 80 (http-01) or 443 (tls-alpn-01) is reachable from the internet, or use --dns-hook"
            }
            Some(ProblemType::Unauthorized | ProblemType::IncorrectResponse) => {
                "the CA saw a different answer: check that the name points at this machine (not a CDN or another server), or use --dns-hook"
            }
            _ => "check that the name points at this machine, or use --dns-hook",
        },
        Error::Server { .. } | Error::OrderFailed { .. } => match err.problem_type() {
            Some(ProblemType::RejectedIdentifier | ProblemType::UnsupportedIdentifier) => {
                "this CA will not issue for that name"
            }
            Some(ProblemType::Caa) => {
                "the domain's CAA records do not allow this CA: add a CAA record naming it"
            }
            Some(ProblemType::UserActionRequired) => {
                "visit the CA's page named in the error (often new terms of service), then re-run"
            }
            Some(ProblemType::ExternalAccountRequired) => {
                "this CA requires --eab-kid KID --eab-hmac-key KEY from your CA account"
            }
            Some(ProblemType::AccountDoesNotExist) => {
                "the stored account is unknown to the CA: run `acmekit account register --accept-tos`"
            }
            Some(ProblemType::BadCsr) => "the CA refused the CSR: check --csr or choose another --key-type",
            _ => return None,
        },
        Error::Timeout { .. } => "the CA is slow; re-run the same command later to resume the order",
        _ => return None,
    };
    Some(hint.to_owned())
}
