//! The one-call flow: order → all authorizations at once → finalize →
//! download, with a [`Solver`] publishing the challenges.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use tracing::{debug, warn};

use crate::account::Account;
use crate::authz::{validation_failed, Authorization, Challenge};
use crate::cert::CertificateChain;
use crate::challenge::Proof;
use crate::csr::CertificateKey;
use crate::error::{Error, Result};
use crate::http::BoxFuture;
use crate::key::KeyType;
use crate::order::{NewOrder, Order};
use crate::types::{AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier, OrderStatus};

/// The error a solver reports; shown to the user as one line.
pub type SolverError = Box<dyn std::error::Error + Send + Sync>;

/// One challenge to publish: the identifier, the challenge the solver
/// chose, and what to publish.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChallengeTask {
    /// The identifier as the certificate will name it (`*.` kept).
    pub identifier: Identifier,
    /// The authorization URL.
    pub authorization_url: String,
    /// The challenge being answered.
    pub challenge: Challenge,
    /// What to publish.
    pub proof: Proof,
}

/// Publishes and removes challenge responses (an HTTP file, a DNS TXT
/// record, a TLS certificate).
///
/// # Contract
///
/// - **Choice.** [`Solver::preferences`] lists the challenge types the
///   solver can publish, best first; for each authorization the first type
///   the server offers is used.
/// - **Present.** [`Solver::present`] returns once the proof is published
///   and visible to the CA (for DNS: propagated). The flow calls `present`
///   for every authorization of the order concurrently and answers no
///   challenge before every `present` has returned, so propagation waits
///   overlap. It may block on I/O (async); it must not block the thread.
/// - **Cleanup.** [`Solver::cleanup`] is called exactly once for every task
///   whose `present` was called, whether issuance succeeded or failed (also
///   when `present` itself failed, so it must tolerate a half-done present).
///   Its errors are logged, not returned.
/// - **Idempotence.** Both may be called again for the same task in a later
///   run (a resumed order): presenting twice or removing what is not there
///   is not an error.
/// - **Cancellation.** If the issuing future is dropped, pending calls are
///   dropped at their next `.await` and cleanup does not run: a solver that
///   must never leave records behind should make them expire, or the caller
///   should run the flow to completion (it ends on its own deadline).
pub trait Solver: Send + Sync {
    /// The challenge types this solver can publish, best first.
    fn preferences(&self) -> &[ChallengeType];

    /// Publishes a proof.
    fn present<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>>;

    /// Removes a published proof.
    fn cleanup<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>>;
}

/// What to issue.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct IssueRequest {
    /// The order to place.
    pub order: NewOrder,
    /// The type of certificate key to generate (when `csr` is `None`).
    pub key_type: KeyType,
    /// A CSR (DER) to send instead of generating a key.
    pub csr: Option<Vec<u8>>,
    /// The common name of the root the chain should lead to (e.g.
    /// `ISRG Root X1`): when set and the default chain leads elsewhere,
    /// the alternate chains (RFC 8555 §7.4.2) are fetched until one
    /// matches; none matching keeps the default chain. When unset, no
    /// alternate is fetched. See [`crate::select_chain`].
    pub preferred_chain: Option<String>,
}

impl IssueRequest {
    /// A certificate for these identifiers with a fresh ECDSA P-256 key.
    pub fn new(identifiers: impl IntoIterator<Item = Identifier>) -> Self {
        IssueRequest {
            order: NewOrder::new(identifiers),
            ..Self::default()
        }
    }
}

/// An issued certificate.
#[derive(Debug)]
#[non_exhaustive]
pub struct Issued {
    /// The final order (its `url` and `certificate` URLs included).
    pub order: Order,
    /// The certificate chain.
    pub chain: CertificateChain,
    /// The generated key; `None` when the caller gave a CSR.
    pub key: Option<CertificateKey>,
}

impl Account {
    /// Issues a certificate for `identifiers` with a fresh ECDSA P-256 key.
    pub async fn issue(&self, identifiers: &[Identifier], solver: &dyn Solver) -> Result<Issued> {
        self.issue_with(&IssueRequest::new(identifiers.iter().cloned()), solver)
            .await
    }

    /// Issues a certificate as `request` says.
    pub async fn issue_with(&self, request: &IssueRequest, solver: &dyn Solver) -> Result<Issued> {
        let order = self.new_order(&request.order).await?;
        debug!(url = %order.url, status = %order.status, "order created");
        self.complete_order(order, request, solver).await
    }

    /// Drives an existing order (new, or fetched by URL to resume) to a
    /// downloaded certificate.
    pub async fn complete_order(
        &self,
        order: Order,
        request: &IssueRequest,
        solver: &dyn Solver,
    ) -> Result<Issued> {
        let order = match order.status {
            OrderStatus::Pending => {
                self.authorize(&order, solver).await?;
                order
            }
            OrderStatus::Invalid => {
                return Err(Error::OrderFailed {
                    url: order.url,
                    problem: order.error.map(Box::new),
                })
            }
            _ => order,
        };
        let mut key = None;
        let order = match order.status {
            OrderStatus::Valid | OrderStatus::Processing => self.poll_until_valid(order).await?,
            _ => {
                let csr = match &request.csr {
                    Some(csr) => csr.clone(),
                    None => {
                        let k = CertificateKey::generate(request.key_type)?;
                        let csr = k.csr_der(&order.identifiers)?;
                        key = Some(k);
                        csr
                    }
                };
                self.finalize_and_wait(&order, &csr).await?
            }
        };
        let Some(cert_url) = order.certificate.clone() else {
            return Err(Error::invalid(
                &order.url,
                "the order is valid but names no certificate URL",
            ));
        };
        let chain = match &request.preferred_chain {
            Some(issuer) => self.download_preferred_chain(&cert_url, issuer).await?,
            None => self.download_certificate(&cert_url).await?,
        };
        Ok(Issued { order, chain, key })
    }

    /// Completes every pending authorization of `order` concurrently:
    /// present all, then answer all, then poll all; cleanup always runs.
    pub async fn authorize(&self, order: &Order, solver: &dyn Solver) -> Result<()> {
        let authzs = join_all(
            order
                .authorizations
                .iter()
                .map(|url| Box::pin(self.authorization(url)) as BoxFuture<'_, _>)
                .collect(),
        )
        .await
        .into_iter()
        .collect::<Result<Vec<Authorization>>>()?;

        let mut tasks = Vec::new();
        for authz in authzs {
            match authz.status {
                AuthorizationStatus::Valid => continue,
                AuthorizationStatus::Pending => tasks.push(self.task_for(authz, solver)?),
                _ => return Err(validation_failed(authz)),
            }
        }
        if tasks.is_empty() {
            return Ok(());
        }

        let presented = join_all(tasks.iter().map(|t| solver.present(t)).collect()).await;
        let result = match presented
            .into_iter()
            .zip(&tasks)
            .find_map(|(r, t)| r.err().map(|e| (e, t)))
        {
            Some((e, t)) => Err(Error::Solver {
                identifier: t.identifier.value.clone(),
                reason: e.to_string(),
            }),
            None => {
                let answered = join_all(
                    tasks
                        .iter()
                        .map(|t| Box::pin(self.answer(t)) as BoxFuture<'_, _>)
                        .collect(),
                )
                .await;
                answered
                    .into_iter()
                    .collect::<Result<Vec<()>>>()
                    .map(|_| ())
            }
        };

        for (r, t) in join_all(tasks.iter().map(|t| solver.cleanup(t)).collect())
            .await
            .into_iter()
            .zip(&tasks)
        {
            if let Err(e) = r {
                warn!(identifier = %t.identifier, error = %e, "challenge cleanup failed");
            }
        }
        result
    }

    fn task_for(&self, authz: Authorization, solver: &dyn Solver) -> Result<ChallengeTask> {
        let identifier = authz.certificate_identifier();
        let challenge = solver
            .preferences()
            .iter()
            .find_map(|pref| authz.challenge(pref))
            .ok_or_else(|| Error::NoSupportedChallenge {
                identifier: identifier.value.clone(),
                offered: authz
                    .challenges
                    .iter()
                    .map(|c| c.kind.to_string())
                    .collect(),
            })?
            .clone();
        let proof = Proof::for_account(&challenge, &identifier, self)?;
        Ok(ChallengeTask {
            identifier,
            authorization_url: authz.url,
            challenge,
            proof,
        })
    }

    /// Answers one challenge and waits for its authorization.
    async fn answer(&self, task: &ChallengeTask) -> Result<()> {
        let answered = self.respond(&task.challenge).await?;
        match answered.status {
            // RFC 8555 §7.1.6: one valid challenge makes the authorization valid.
            ChallengeStatus::Valid => Ok(()),
            ChallengeStatus::Invalid => Err(Error::ValidationFailed {
                identifier: task.identifier.value.clone(),
                url: task.authorization_url.clone(),
                problem: answered.error.map(Box::new),
            }),
            _ => self
                .poll_authorization(&task.authorization_url)
                .await
                .map(|_| ()),
        }
    }
}

/// Runs futures concurrently on the current task and returns their
/// outputs in order.
pub(crate) async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    out.into_iter()
        .map(|v| v.expect("every future finished"))
        .collect()
}
