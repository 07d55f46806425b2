//! [`PebbleSolver`]: an `acmekit::Solver` that publishes challenges through
//! the kit's responders and challtestsrv's DNS, for tests and the demo; and
//! [`NoopSolver`] for servers that do not validate.

use acmekit::http::BoxFuture;
use acmekit::{ChallengeTask, ChallengeType, Proof, Solver, SolverError};

use crate::Pebble;

/// Publishes http-01 tokens on the kit's http-01 responder, dns-01 TXT
/// records through challtestsrv, and tls-alpn-01 certificates on the kit's
/// tls-alpn-01 responder, all for the given Pebble.
#[derive(Debug)]
pub struct PebbleSolver<'p> {
    pebble: &'p Pebble,
    preferences: Vec<ChallengeType>,
    publish: bool,
}

impl<'p> PebbleSolver<'p> {
    /// Answers http-01 only.
    pub fn http01(pebble: &'p Pebble) -> Self {
        Self::with(pebble, vec![ChallengeType::Http01])
    }

    /// Answers dns-01 only.
    pub fn dns01(pebble: &'p Pebble) -> Self {
        Self::with(pebble, vec![ChallengeType::Dns01])
    }

    /// Answers tls-alpn-01 only.
    pub fn tls_alpn01(pebble: &'p Pebble) -> Self {
        Self::with(pebble, vec![ChallengeType::TlsAlpn01])
    }

    /// Chooses http-01 but publishes nothing: validation fails.
    pub fn nothing(pebble: &'p Pebble) -> Self {
        PebbleSolver {
            publish: false,
            ..Self::http01(pebble)
        }
    }

    fn with(pebble: &'p Pebble, preferences: Vec<ChallengeType>) -> Self {
        PebbleSolver {
            pebble,
            preferences,
            publish: true,
        }
    }
}

impl Solver for PebbleSolver<'_> {
    fn preferences(&self) -> &[ChallengeType] {
        &self.preferences
    }

    fn present<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            if !self.publish {
                return Ok(());
            }
            match &task.proof {
                Proof::Http01(h) => self.pebble.http01().add(&h.token, &h.body),
                Proof::Dns01(d) => self.pebble.set_txt(&d.name, &d.value).await,
                Proof::TlsAlpn01(t) => self.pebble.tls_alpn01().add(
                    &t.sni,
                    t.certificate_der.clone(),
                    t.private_key_der.clone(),
                ),
                other => return Err(format!("PebbleSolver cannot publish {other:?}").into()),
            }
            Ok(())
        })
    }

    fn cleanup<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            match &task.proof {
                Proof::Http01(h) => self.pebble.http01().remove(&h.token),
                Proof::Dns01(d) => self.pebble.clear_txt(&d.name).await,
                Proof::TlsAlpn01(t) => self.pebble.tls_alpn01().remove(&t.sni),
                _ => {}
            }
            Ok(())
        })
    }
}

/// Chooses http-01 (else dns-01, else tls-alpn-01) and publishes nothing:
/// for servers that do not validate, such as the kit's
/// [`Acme2Certifier`](crate::Acme2Certifier), where every challenge turns
/// valid when answered.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopSolver;

impl Solver for NoopSolver {
    fn preferences(&self) -> &[ChallengeType] {
        &[
            ChallengeType::Http01,
            ChallengeType::Dns01,
            ChallengeType::TlsAlpn01,
        ]
    }

    fn present<'a>(&'a self, _: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async { Ok(()) })
    }

    fn cleanup<'a>(&'a self, _: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A fresh random DNS name (`x<hex>.example.com`): challtestsrv resolves
/// every name to 127.0.0.1, and Pebble cannot reuse an authorization for a
/// name it has never seen.
pub fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "x{:x}{:x}{n:x}.example.com",
        nanos & 0xffff_ffff_ffff,
        std::process::id()
    )
}
