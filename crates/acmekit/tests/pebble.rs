//! Real certificates from a real Pebble (started by the test kit on free
//! loopback ports), every chain verified against Pebble's root.

use acmekit::{
    Account, AccountCredentials, AccountKey, CertificateKey, ChallengeTask, ChallengeType, Client,
    Error, Identifier, IssueRequest, Issued, KeyType, NewAccount, OrderStatus, ProblemType, Solver,
    SolverError,
};
use acmekit_testkit::{unique_name, verify_chain, Pebble, PebbleSolver};
use std::sync::atomic::{AtomicUsize, Ordering};

async fn client(pebble: &Pebble) -> Client {
    pebble.client().await
}

async fn account(pebble: &Pebble, kind: KeyType) -> Account {
    let client = client(pebble).await;
    let key = AccountKey::generate(kind).unwrap();
    Account::create(
        &client,
        key,
        &NewAccount::agreeing_to_terms(["mailto:test@example.com"]),
    )
    .await
    .expect("newAccount")
    .0
}

async fn check_chain(pebble: &Pebble, issued: &Issued, names: &[&str]) {
    assert_eq!(issued.order.status, OrderStatus::Valid);
    assert!(issued.order.certificate.is_some());
    let ders: Vec<Vec<u8>> = issued
        .chain
        .certificates()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    assert!(ders.len() >= 2, "leaf and intermediate");
    let root = pebble.root_pem().await;
    // A wildcard is checked by verifying a name it covers.
    let covered: Vec<String> = names
        .iter()
        .map(|n| n.replacen("*.", "covered.", 1))
        .collect();
    let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
    verify_chain(&ders, &root, &covered).unwrap_or_else(|e| panic!("chain does not verify: {e}"));
    let mut got = issued.chain.info().names;
    got.sort();
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn http01() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let name = unique_name();
    let issued = account
        .issue(&[Identifier::dns(&name)], &PebbleSolver::http01(pebble))
        .await
        .unwrap();
    check_chain(pebble, &issued, &[&name]).await;
    assert!(issued.key.is_some());
}

#[tokio::test]
async fn dns01() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let name = unique_name();
    let issued = account
        .issue(&[Identifier::dns(&name)], &PebbleSolver::dns01(pebble))
        .await
        .unwrap();
    check_chain(pebble, &issued, &[&name]).await;
}

#[tokio::test]
async fn tls_alpn01() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let name = unique_name();
    let issued = account
        .issue(&[Identifier::dns(&name)], &PebbleSolver::tls_alpn01(pebble))
        .await
        .unwrap();
    check_chain(pebble, &issued, &[&name]).await;
}

#[tokio::test]
async fn several_names_with_a_wildcard() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let base = unique_name();
    let other = unique_name();
    let wildcard = format!("*.{base}");
    let ids = [
        Identifier::dns(&base),
        Identifier::dns(&wildcard),
        Identifier::dns(&other),
        Identifier::dns(format!("www.{other}")),
    ];
    let issued = account
        .issue(&ids, &PebbleSolver::dns01(pebble))
        .await
        .unwrap();
    assert_eq!(issued.order.authorizations.len(), 4);
    check_chain(
        pebble,
        &issued,
        &[&base, &wildcard, &other, &format!("www.{other}")],
    )
    .await;
}

#[tokio::test]
async fn ipv4_and_ipv6_identifiers() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let ids = [Identifier::parse("127.0.0.1"), Identifier::parse("::1")];
    let issued = account
        .issue(&ids, &PebbleSolver::http01(pebble))
        .await
        .unwrap();
    check_chain(pebble, &issued, &["127.0.0.1", "::1"]).await;

    let issued = account
        .issue(
            &[Identifier::parse("127.0.0.1")],
            &PebbleSolver::tls_alpn01(pebble),
        )
        .await
        .unwrap();
    check_chain(pebble, &issued, &["127.0.0.1"]).await;
}

/// Each account key type: Pebble accepts it and issues, or refuses it with
/// a clear, typed error.
#[tokio::test]
async fn every_account_key_type() {
    let pebble = Pebble::shared();
    let client = client(pebble).await;
    let mut report = Vec::new();
    for kind in KeyType::ALL {
        let key = AccountKey::generate(kind).unwrap();
        match Account::create(
            &client,
            key,
            &NewAccount::agreeing_to_terms(Vec::<String>::new()),
        )
        .await
        {
            Ok((account, resource)) => {
                assert_eq!(resource.status, acmekit::AccountStatus::Valid);
                let name = unique_name();
                let issued = account
                    .issue(&[Identifier::dns(&name)], &PebbleSolver::http01(pebble))
                    .await
                    .unwrap_or_else(|e| panic!("{kind}: {e}"));
                check_chain(pebble, &issued, &[&name]).await;
                report.push(format!("{kind}: issued"));
            }
            Err(e) => {
                let message = e.to_string();
                assert!(
                    matches!(
                        e.problem_type(),
                        Some(
                            ProblemType::BadSignatureAlgorithm
                                | ProblemType::BadPublicKey
                                | ProblemType::Malformed
                        )
                    ),
                    "{kind}: refusal must be a typed server problem, got {e:?}"
                );
                assert!(message.contains("ACME server refused"), "{message}");
                report.push(format!("{kind}: refused by Pebble: {message}"));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    // Pebble 2.4 accepts the ECDSA and RSA algorithms; at least those issue.
    for kind in ["ec256", "ec384", "rsa2048"] {
        assert!(
            report.iter().any(|r| r == &format!("{kind}: issued")),
            "{report:?}"
        );
    }
}

#[tokio::test]
async fn account_lookup_fetch_and_saved_credentials() {
    let pebble = Pebble::shared();
    let first = client(pebble).await;
    let key = AccountKey::generate(KeyType::Es384).unwrap();
    let (created, _) = Account::create(
        &first,
        key.clone(),
        &NewAccount::agreeing_to_terms(["mailto:lookup@example.com"]),
    )
    .await
    .unwrap();
    let (found, resource) = Account::find_existing(&first, key).await.unwrap();
    assert_eq!(found.url(), created.url());
    assert_eq!(resource.contact, vec!["mailto:lookup@example.com"]);
    let fetched = created.fetch().await.unwrap();
    assert_eq!(fetched.status, acmekit::AccountStatus::Valid);

    // Saved and restored in a "later process": a new client, no newAccount.
    let saved = serde_json::to_string(&created.credentials().unwrap()).unwrap();
    let restored: AccountCredentials = serde_json::from_str(&saved).unwrap();
    let later = Account::from_credentials(&client(pebble).await, &restored).unwrap();
    assert_eq!(later.url(), created.url());
    let name = unique_name();
    let issued = later
        .issue(&[Identifier::dns(&name)], &PebbleSolver::http01(pebble))
        .await
        .unwrap();
    check_chain(pebble, &issued, &[&name]).await;
}

#[tokio::test]
async fn unknown_account_is_a_typed_error() {
    let pebble = Pebble::shared();
    let client = client(pebble).await;
    let err = Account::find_existing(&client, AccountKey::generate(KeyType::Es256).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::AccountDoesNotExist),
        "{err}"
    );
}

#[tokio::test]
async fn caller_supplied_csr_and_rsa_certificate_key() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let name = unique_name();
    let ids = [Identifier::dns(&name)];
    let key = CertificateKey::generate(KeyType::Rs256_2048).unwrap();
    let mut request = IssueRequest::new(ids.clone());
    request.csr = Some(key.csr_der(&ids).unwrap());
    let issued = account
        .issue_with(&request, &PebbleSolver::http01(pebble))
        .await
        .unwrap();
    assert!(
        issued.key.is_none(),
        "no key is generated when the caller gives a CSR"
    );
    check_chain(pebble, &issued, &[&name]).await;
}

#[tokio::test]
async fn resume_an_order_by_url() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let name = unique_name();
    let request = IssueRequest::new([Identifier::dns(&name)]);
    let order = account.new_order(&request.order).await.unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    assert!(order.url.starts_with("https://"));
    assert!(order
        .authorizations
        .iter()
        .all(|u| u.starts_with("https://")));
    let authz = account
        .authorization(&order.authorizations[0])
        .await
        .unwrap();
    assert_eq!(authz.identifier, Identifier::dns(&name));
    assert!(authz.challenge(&ChallengeType::Http01).is_some());

    // A later process picks the order up by its URL alone.
    let resumed = account.order(&order.url).await.unwrap();
    assert_eq!(resumed.url, order.url);
    let issued = account
        .complete_order(resumed, &request, &PebbleSolver::http01(pebble))
        .await
        .unwrap();
    assert_eq!(issued.order.url, order.url);
    check_chain(pebble, &issued, &[&name]).await;
}

/// A solver whose `present` fails: the error names the identifier and
/// cleanup still runs for every presented task.
struct FailingSolver {
    cleanups: AtomicUsize,
}

impl Solver for FailingSolver {
    fn preferences(&self) -> &[ChallengeType] {
        &[ChallengeType::Http01]
    }
    fn present<'a>(
        &'a self,
        _: &'a ChallengeTask,
    ) -> acmekit::http::BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async { Err("port 80 is already in use".into()) })
    }
    fn cleanup<'a>(
        &'a self,
        _: &'a ChallengeTask,
    ) -> acmekit::http::BoxFuture<'a, Result<(), SolverError>> {
        self.cleanups.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn solver_failure_is_reported_and_cleaned_up() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let (a, b) = (unique_name(), unique_name());
    let solver = FailingSolver {
        cleanups: AtomicUsize::new(0),
    };
    let err = account
        .issue(&[Identifier::dns(&a), Identifier::dns(&b)], &solver)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Solver { .. }), "{err:?}");
    assert!(
        err.to_string().contains("port 80 is already in use"),
        "{err}"
    );
    assert_eq!(solver.cleanups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn failed_validation_carries_the_ca_detail() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    // Publishes nothing: Pebble's validation fails.
    let name = unique_name();
    let err = account
        .issue(&[Identifier::dns(&name)], &PebbleSolver::nothing(pebble))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ValidationFailed { .. }), "{err:?}");
    assert!(err.problem().is_some(), "{err:?}");
    assert!(err.to_string().contains(&name), "{err}");
}

#[tokio::test]
async fn refused_identifier_is_a_typed_error() {
    let pebble = Pebble::shared();
    let account = account(pebble, KeyType::Es256).await;
    let err = account
        .issue(
            &[Identifier::dns("not_a.valid-name..example")],
            &PebbleSolver::http01(pebble),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.problem_type(),
            Some(ProblemType::Malformed | ProblemType::RejectedIdentifier)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("refused"), "{err}");
}
