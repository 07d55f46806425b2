//! Interop with acme2certifier, an ACME server we did not write (run by the
//! test kit from a cached Python venv, challenge validation switched off):
//! profiles, issuance, renewalInfo (RFC 9773) and renewal with `replaces`.

use acmekit::{
    certificate_id, Account, AccountKey, Error, Identifier, IssueRequest, Issued, KeyType,
    OrderStatus,
};
use acmekit_testkit::{unique_name, verify_chain, Acme2Certifier, NoopSolver};
use std::time::{Duration, SystemTime};

async fn account(a2c: &Acme2Certifier) -> Account {
    let client = acmekit_testkit::client_for(&a2c.directory_url(), a2c.listener_ca_pem()).await;
    acmekit_testkit::new_account(&client, AccountKey::generate(KeyType::Es256).unwrap()).await
}

fn check_chain(a2c: &Acme2Certifier, issued: &Issued, name: &str) {
    assert_eq!(issued.order.status, OrderStatus::Valid);
    let ders: Vec<Vec<u8>> = issued
        .chain
        .certificates()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    verify_chain(&ders, a2c.issuing_ca_pem(), &[name])
        .unwrap_or_else(|e| panic!("chain does not verify: {e}"));
}

#[tokio::test]
async fn profile_issue_renewal_info_and_renew_with_replaces() {
    let a2c = Acme2Certifier::shared();
    let account = account(a2c).await;
    let offered: Vec<&String> = account.client().profiles().keys().collect();
    assert_eq!(offered, ["classic", "shortlived"]);

    // A profile it does not advertise never reaches it.
    let name = unique_name();
    let mut request = IssueRequest::new([Identifier::dns(&name)]);
    request.order.profile = Some("tlsserver".to_owned());
    let err = account.issue_with(&request, &NoopSolver).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownProfile { offered, .. } if offered == &["classic", "shortlived"]),
        "{err:?}"
    );

    // Issue with a profile it advertises.
    request.order.profile = Some("shortlived".to_owned());
    let issued = account.issue_with(&request, &NoopSolver).await.unwrap();
    check_chain(a2c, &issued, &name);
    let leaf = issued.chain.leaf().to_vec();

    // Its renewal information: a window inside the certificate's validity,
    // and the configured Retry-After (3600 s).
    let asked_at = SystemTime::now();
    let info = account.renewal_info(&leaf).await.unwrap();
    let validity = issued.chain.info();
    let window = info.suggested_window;
    assert!(window.start < window.end, "{window:?}");
    assert!(
        window.start > validity.not_before && window.end <= validity.not_after,
        "{window:?} outside {validity:?}"
    );
    let retry_after = info.retry_after.expect("Retry-After");
    let wait = retry_after.duration_since(asked_at).unwrap();
    assert!(
        wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3601),
        "{wait:?}"
    );
    assert!(!info.should_renew(asked_at), "a fresh certificate");
    let at = info.renewal_time(asked_at, 0.5);
    assert!(at > window.start && at < window.end);

    // Renew it, saying which certificate the new one replaces.
    let id = certificate_id(&leaf).unwrap();
    let mut renewal = IssueRequest::new([Identifier::dns(&name)]);
    renewal.order.replaces = Some(id);
    let renewed = account.issue_with(&renewal, &NoopSolver).await.unwrap();
    check_chain(a2c, &renewed, &name);
    assert_ne!(renewed.chain.info().serial_hex, validity.serial_hex);
}

#[tokio::test]
async fn forced_renewal_opens_the_window_now() {
    let a2c = Acme2Certifier::builder().renewal_force(true).start();
    let account = account(&a2c).await;
    let name = unique_name();
    let issued = account
        .issue(&[Identifier::dns(&name)], &NoopSolver)
        .await
        .unwrap();
    check_chain(&a2c, &issued, &name);
    let info = account.renewal_info(issued.chain.leaf()).await.unwrap();
    // 0.46.3 answers a window from a year ago to a day ahead: open now,
    // and most of it already past.
    let now = SystemTime::now();
    assert!(info.suggested_window.start < now, "{info:?}");
    assert!(info.should_renew(now));
    assert_eq!(info.renewal_time(now, 0.5), now, "renew at once");
}
