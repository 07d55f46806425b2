//! The background task: orders certificates for configured names that have
//! none, fetches the renewal information (ARI) of served certificates when
//! it is due, and renews them when they are due. It holds only a weak
//! reference, so it ends when the last handle to the manager is gone.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::debug;

use crate::manager::{lock, Inner, Purpose};

/// The longest sleep: times are re-read at least this often, so a suspended
/// machine or a stepped clock cannot make a renewal late by more.
const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// What to start now and when to look again.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Orders to start.
    due: Vec<(String, Purpose)>,
    /// Names whose renewal information to fetch.
    checks: Vec<String>,
    next: Option<SystemTime>,
}

impl Plan {
    fn consider(&mut self, name: &str, at: SystemTime, purpose: Purpose, now: SystemTime) {
        if at <= now {
            self.due.push((name.to_owned(), purpose));
        } else {
            self.later(at);
        }
    }

    fn check(&mut self, name: &str, at: SystemTime, now: SystemTime) {
        if at <= now {
            self.checks.push(name.to_owned());
        } else {
            self.later(at);
        }
    }

    fn later(&mut self, at: SystemTime) {
        self.next = Some(self.next.map_or(at, |n| n.min(at)));
    }
}

/// Starts the task on the manager's runtime.
pub(crate) fn spawn(inner: &Arc<Inner>) -> AbortHandle {
    let weak = Arc::downgrade(inner);
    let wake = inner.wake.clone();
    inner.runtime.spawn(run(weak, wake)).abort_handle()
}

async fn run(weak: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let sleep = {
            let Some(inner) = weak.upgrade() else { return };
            let now = SystemTime::now();
            let plan = plan(&inner, now);
            for (name, purpose) in plan.due {
                // The attempt runs on its own; its outcome reaches the
                // events channel and wakes this loop.
                if let Err(e) = inner.start(&name, purpose) {
                    debug!(name, error = %e, "not starting");
                }
            }
            for name in plan.checks {
                // Likewise: the fetch wakes this loop when it ends.
                inner.start_ari_check(&name);
            }
            plan.next.map_or(MAX_SLEEP, |t| {
                t.duration_since(now).unwrap_or_default().min(MAX_SLEEP)
            })
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = wake.notified() => {}
        }
    }
}

/// Configured names without a certificate are due at once (or when their
/// backoff ends); served certificates when [`Inner::renewal_attempt_at`]
/// says. Until then, the renewal information of a served certificate that
/// has an ARI ID is fetched when none is known and again at its next check
/// ([`crate::schedule`]). Names with an attempt or a fetch in flight are left
/// alone: it wakes the loop when it ends.
fn plan(inner: &Inner, now: SystemTime) -> Plan {
    let inflight: HashSet<String> = lock(&inner.inflight).keys().cloned().collect();
    let checking: HashSet<String> = lock(&inner.ari_checks).clone();
    let failures = lock(&inner.failures);
    let mut plan = Plan::default();
    for name in &inner.config.domains {
        if !inflight.contains(name) && inner.state.served(name).is_none() {
            let at = failures.retry_at(name).unwrap_or(now);
            plan.consider(name, at, Purpose::Configured, now);
        }
    }
    for (name, served) in inner.state.all_served() {
        if inflight.contains(&name) || checking.contains(&name) {
            continue;
        }
        let at = inner.renewal_attempt_at(&served, failures.retry_at(&name));
        plan.consider(&name, at, Purpose::Renewal, now);
        if at > now && served.cert_id.is_some() {
            let check_at = served.ari.map_or(now, |a| a.next_check);
            plan.check(&name, check_at, now);
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_collects_due_names_and_the_next_time() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut p = Plan::default();
        p.consider("a", now, Purpose::Configured, now);
        p.consider("b", now + Duration::from_secs(50), Purpose::Renewal, now);
        p.consider("c", now + Duration::from_secs(20), Purpose::Renewal, now);
        p.consider("d", now - Duration::from_secs(20), Purpose::Renewal, now);
        p.check("e", now, now);
        p.check("f", now + Duration::from_secs(10), now);
        assert_eq!(
            p,
            Plan {
                due: vec![
                    ("a".into(), Purpose::Configured),
                    ("d".into(), Purpose::Renewal)
                ],
                checks: vec!["e".into()],
                next: Some(now + Duration::from_secs(10)),
            }
        );
    }
}
