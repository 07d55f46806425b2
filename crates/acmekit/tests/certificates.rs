//! After issuance, against a real Pebble: alternate chains
//! (`PEBBLE_ALTERNATE_ROOTS`) each verified against its own root, chain
//! preference, and revocation by account key and by certificate key.

use acmekit::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, HyperTransport};
use acmekit::{
    certificate_info, revoke_with_certificate_key, select_chain, Account, AccountKey,
    CertificateChain, CertificateKey, Client, Identifier, IssueRequest, Issued, KeyType,
    ProblemType, RevocationReason,
};
use acmekit_testkit::{unique_name, verify_chain, Pebble, PebbleSolver};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Alternate roots in the chains Pebble: 1 default + 2 alternate chains.
const ALTERNATE_ROOTS: usize = 2;
/// PEBBLE_CHAIN_LENGTH of the chains Pebble (its default is 2).
const CHAIN_LENGTH: usize = 3;

/// One Pebble with three chains per certificate, shared by this binary's
/// chain tests.
fn chains_pebble() -> &'static Pebble {
    static PEBBLE: OnceLock<Pebble> = OnceLock::new();
    PEBBLE.get_or_init(|| {
        Pebble::builder()
            .env("PEBBLE_ALTERNATE_ROOTS", &ALTERNATE_ROOTS.to_string())
            .env("PEBBLE_CHAIN_LENGTH", &CHAIN_LENGTH.to_string())
            .start()
    })
}

async fn client(pebble: &Pebble) -> Client {
    pebble.client().await
}

/// The usual transport, recording every URL it is asked for.
struct Recording {
    inner: HyperTransport,
    urls: Arc<Mutex<Vec<String>>>,
}

impl HttpClient for Recording {
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, acmekit::Result<HttpResponse>> {
        self.urls.lock().unwrap().push(req.url.clone());
        self.inner.request(req)
    }
}

/// A client whose requested URLs land in the returned list.
async fn recording_client(pebble: &Pebble) -> (Client, Arc<Mutex<Vec<String>>>) {
    let ca = CertificateChain::from_pem(pebble.listener_ca_pem()).unwrap();
    let urls = Arc::new(Mutex::new(Vec::new()));
    let transport = Recording {
        inner: HyperTransport::new(ca.certificates(), false, false, Duration::from_secs(30))
            .unwrap(),
        urls: urls.clone(),
    };
    let client = Client::builder(pebble.directory_url())
        .http_client(Box::new(transport))
        .build()
        .await
        .expect("directory");
    (client, urls)
}

/// How many of `urls` are alternate chains of the certificate at
/// `cert_url` (Pebble: `<cert_url>/alternate/<n>`).
fn alternate_requests(urls: &Mutex<Vec<String>>, cert_url: &str) -> usize {
    urls.lock()
        .unwrap()
        .iter()
        .filter(|u| u.starts_with(cert_url) && u.as_str() != cert_url)
        .count()
}

async fn account(pebble: &Pebble) -> Account {
    account_with(client(pebble).await).await
}

async fn account_with(client: Client) -> Account {
    acmekit_testkit::new_account(&client, AccountKey::generate(KeyType::Es256).unwrap()).await
}

async fn issue(pebble: &Pebble, account: &Account, request: IssueRequest) -> Issued {
    account
        .issue_with(&request, &PebbleSolver::http01(pebble))
        .await
        .expect("issued")
}

fn for_name(name: &str) -> IssueRequest {
    IssueRequest::new([Identifier::dns(name)])
}

fn ders(chain: &CertificateChain) -> Vec<Vec<u8>> {
    chain.certificates().iter().map(|c| c.to_vec()).collect()
}

/// Pebble's roots (PEM) and their common names, root 0 first.
async fn roots(pebble: &Pebble) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for n in 0..=ALTERNATE_ROOTS {
        let pem = pebble.root_pem_n(n).await;
        let chain = CertificateChain::from_pem(&pem).unwrap();
        let cn = chain.top_issuer_common_name().expect("root CN");
        out.push((pem, cn));
    }
    out
}

/// The numbers of the roots `chain` verifies against, for `name`.
fn verifying_roots(chain: &CertificateChain, roots: &[(String, String)], name: &str) -> Vec<usize> {
    (0..roots.len())
        .filter(|&n| verify_chain(&ders(chain), &roots[n].0, &[name]).is_ok())
        .collect()
}

#[tokio::test]
async fn every_chain_verifies_against_its_own_root() {
    let pebble = chains_pebble();
    let (client, urls) = recording_client(pebble).await;
    let account = account_with(client).await;
    let name = unique_name();
    let issued = issue(pebble, &account, for_name(&name)).await;
    let cert_url = issued.order.certificate.clone().unwrap();
    assert_eq!(
        issued.chain.alternate_urls().len(),
        ALTERNATE_ROOTS,
        "the default download collects the alternate links: {:?}",
        issued.chain.alternate_urls()
    );
    assert_eq!(
        alternate_requests(&urls, &cert_url),
        0,
        "none fetched by default"
    );

    let chains = account.download_chains(&cert_url).await.unwrap();
    assert_eq!(chains.len(), 1 + ALTERNATE_ROOTS);
    assert_eq!(chains[0], issued.chain, "the default chain comes first");
    assert_eq!(alternate_requests(&urls, &cert_url), ALTERNATE_ROOTS);
    let roots = roots(pebble).await;
    let mut used = Vec::new();
    for (i, chain) in chains.iter().enumerate() {
        // Pebble 2.4 sends more certificates than PEBBLE_CHAIN_LENGTH (4
        // for 3, never the root): each must be issued by the next.
        assert!(chain.certificates().len() >= CHAIN_LENGTH, "chain {i}");
        assert_eq!(chain.certificates().len(), chains[0].certificates().len());
        for pair in chain.certificates().windows(2) {
            let cert = certificate_info(&pair[0]).unwrap();
            let issuer = certificate_info(&pair[1]).unwrap();
            assert_eq!(cert.issuer, issuer.subject, "chain {i} is in order");
        }
        assert_eq!(
            chain.leaf(),
            issued.chain.leaf(),
            "one certificate, several chains"
        );
        let verifying = verifying_roots(chain, &roots, &name);
        assert_eq!(
            verifying.len(),
            1,
            "chain {i} verifies against one root: {verifying:?}"
        );
        let root = verifying[0];
        assert_eq!(
            chain.top_issuer_common_name().as_deref(),
            Some(roots[root].1.as_str()),
            "chain {i} names its root"
        );
        used.push(root);
    }
    assert_eq!(used[0], 0, "the default chain leads to root 0");
    used.sort();
    used.dedup();
    assert_eq!(
        used.len(),
        1 + ALTERNATE_ROOTS,
        "each chain has its own root"
    );
}

#[tokio::test]
async fn select_chain_by_root_name() {
    let pebble = chains_pebble();
    let account = account(pebble).await;
    let name = unique_name();
    let issued = issue(pebble, &account, for_name(&name)).await;
    let chains = account
        .download_chains(issued.order.certificate.as_deref().unwrap())
        .await
        .unwrap();
    let roots = roots(pebble).await;
    for (n, (root_pem, cn)) in roots.iter().enumerate() {
        let chosen = select_chain(&chains, cn).unwrap();
        verify_chain(&ders(chosen), root_pem, &[&name])
            .unwrap_or_else(|e| panic!("preferring root {n} ({cn}): {e}"));
        let shouted = select_chain(&chains, &cn.to_uppercase()).unwrap();
        assert_eq!(shouted, chosen, "case does not matter");
    }
    let fallback = select_chain(&chains, "No Such Root CA").unwrap();
    assert_eq!(
        fallback, &chains[0],
        "an unknown preference keeps the default"
    );
}

#[tokio::test]
async fn issue_with_a_preferred_chain() {
    let pebble = chains_pebble();
    let (client, urls) = recording_client(pebble).await;
    let account = account_with(client).await;
    let roots = roots(pebble).await;

    // Preferring an alternate root: the issued chain leads there, and
    // alternates are fetched only until it is found.
    let name = unique_name();
    let mut request = for_name(&name);
    request.preferred_chain = Some(roots[2].1.clone());
    let issued = issue(pebble, &account, request).await;
    assert_eq!(verifying_roots(&issued.chain, &roots, &name), [2]);
    assert!(issued.key.is_some());
    let cert_url = issued.order.certificate.clone().unwrap();
    let fetched = alternate_requests(&urls, &cert_url);
    assert!((1..=ALTERNATE_ROOTS).contains(&fetched), "{fetched}");

    // Preferring the default root: no alternate is fetched.
    let name = unique_name();
    let mut request = for_name(&name);
    request.preferred_chain = Some(roots[0].1.clone());
    let issued = issue(pebble, &account, request).await;
    assert_eq!(verifying_roots(&issued.chain, &roots, &name), [0]);
    let cert_url = issued.order.certificate.clone().unwrap();
    assert_eq!(alternate_requests(&urls, &cert_url), 0);

    // An unknown preference: every alternate is tried, the default kept.
    let name = unique_name();
    let mut request = for_name(&name);
    request.preferred_chain = Some("No Such Root CA".into());
    let issued = issue(pebble, &account, request).await;
    assert_eq!(verifying_roots(&issued.chain, &roots, &name), [0]);
    let cert_url = issued.order.certificate.clone().unwrap();
    assert_eq!(alternate_requests(&urls, &cert_url), ALTERNATE_ROOTS);
}

/// Pebble's revocation status of `chain`'s certificate: "Valid" or "Revoked",
/// and the reason code it recorded.
async fn status(pebble: &Pebble, chain: &CertificateChain) -> (String, Option<u64>) {
    let serial = certificate_info(chain.leaf()).unwrap().serial_hex;
    let status = pebble.cert_status(&serial).await;
    (
        status["Status"].as_str().unwrap_or_default().to_owned(),
        status["Reason"].as_u64(),
    )
}

#[tokio::test]
async fn revoke_with_the_account_key() {
    let pebble = Pebble::shared();
    let account = account(pebble).await;
    let issued = issue(pebble, &account, for_name(&unique_name())).await;
    assert_eq!(status(pebble, &issued.chain).await.0, "Valid");
    account
        .revoke(issued.chain.leaf(), Some(RevocationReason::Superseded))
        .await
        .unwrap();
    assert_eq!(
        status(pebble, &issued.chain).await,
        ("Revoked".to_owned(), Some(4))
    );

    // RFC 8555 §7.6: "alreadyRevoked" the second time.
    let err = account
        .revoke(issued.chain.leaf(), Some(RevocationReason::Superseded))
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::AlreadyRevoked),
        "{err}"
    );
    assert!(err.to_string().contains("revoke"), "{err}");
}

#[tokio::test]
async fn revoke_with_the_certificate_key() {
    let pebble = Pebble::shared();
    let account = account(pebble).await;
    let issued = issue(pebble, &account, for_name(&unique_name())).await;
    // The key as it would be read back from disk.
    let key = CertificateKey::from_pem(&issued.key.as_ref().unwrap().to_pem()).unwrap();
    // No account involved: a fresh client, the JWS carries the key as jwk.
    let client = client(pebble).await;
    revoke_with_certificate_key(
        &client,
        issued.chain.leaf(),
        &key,
        Some(RevocationReason::KeyCompromise),
    )
    .await
    .unwrap();
    assert_eq!(
        status(pebble, &issued.chain).await,
        ("Revoked".to_owned(), Some(1))
    );
    let err = revoke_with_certificate_key(&client, issued.chain.leaf(), &key, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::AlreadyRevoked),
        "{err}"
    );
}

#[tokio::test]
async fn revoke_with_an_rsa_certificate_key_and_no_reason() {
    let pebble = Pebble::shared();
    let account = account(pebble).await;
    let mut request = for_name(&unique_name());
    request.key_type = KeyType::Rs256_2048;
    let issued = issue(pebble, &account, request).await;
    let client = client(pebble).await;
    revoke_with_certificate_key(
        &client,
        issued.chain.leaf(),
        issued.key.as_ref().unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status(pebble, &issued.chain).await.0, "Revoked");
}

#[tokio::test]
async fn an_undefined_reason_is_bad_revocation_reason() {
    let pebble = Pebble::shared();
    let account = account(pebble).await;
    let issued = issue(pebble, &account, for_name(&unique_name())).await;
    let err = account
        .revoke(issued.chain.leaf(), Some(RevocationReason::from_code(7)))
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::BadRevocationReason),
        "{err}"
    );
    assert_eq!(status(pebble, &issued.chain).await.0, "Valid");
}

#[tokio::test]
async fn someone_elses_certificate_or_key_is_refused() {
    let pebble = Pebble::shared();
    let owner = account(pebble).await;
    let issued = issue(pebble, &owner, for_name(&unique_name())).await;

    // An account that neither issued it nor holds authorizations for it.
    let stranger = account(pebble).await;
    let err = stranger
        .revoke(issued.chain.leaf(), None)
        .await
        .unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");

    // A key that is not the certificate's.
    let other_key = CertificateKey::generate(KeyType::Es256).unwrap();
    let err =
        revoke_with_certificate_key(&client(pebble).await, issued.chain.leaf(), &other_key, None)
            .await
            .unwrap_err();
    assert!(err.problem().is_some(), "a server refusal: {err:?}");
    assert_eq!(status(pebble, &issued.chain).await.0, "Valid");
}
