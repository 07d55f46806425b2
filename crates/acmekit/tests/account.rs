//! Account management against a real Pebble: contact updates,
//! deactivation, key rollover, external account binding (HS256/384/512),
//! the paginated orders list, authorization deactivation, pre-authorization,
//! and what newOrder echoes.
//!
//! Two Pebbles serve this binary: one listing one order per page
//! (`PEBBLE_WFE_ORDERS_PER_PAGE=1`, so every orders list is paginated) and
//! one requiring external account binding.

use acmekit::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse, HyperTransport};
use acmekit::{
    Account, AccountKey, AccountStatus, Client, Error, ExternalAccountBinding, KeyType,
    MacAlgorithm, NewAccount, ProblemType,
};
use acmekit_testkit::Pebble;
use std::sync::OnceLock;
use std::time::Duration;

/// The example keys of Pebble's own EAB configuration
/// (`pebble-config-external-account-bindings.json`).
const EAB_KEYS: &[(&str, &str)] = &[
    (
        "kid-1",
        "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
    ),
    (
        "kid-2",
        "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH",
    ),
];

/// A Pebble that requires external account binding.
fn eab_pebble() -> &'static Pebble {
    static PEBBLE: OnceLock<Pebble> = OnceLock::new();
    PEBBLE.get_or_init(|| Pebble::builder().eab_keys(EAB_KEYS).start())
}

async fn client(pebble: &Pebble) -> Client {
    Client::builder(pebble.directory_url())
        .add_root_pem(pebble.listener_ca_pem().as_bytes())
        .only_added_roots()
        .build()
        .await
        .expect("directory")
}

// ---- §7.3.4 external account binding ----

fn binding(kid: &str, alg: MacAlgorithm) -> ExternalAccountBinding {
    let key = EAB_KEYS.iter().find(|(k, _)| *k == kid).unwrap().1;
    ExternalAccountBinding::new(kid, key)
        .unwrap()
        .with_algorithm(alg)
}

#[tokio::test]
async fn external_account_binding_with_each_mac_algorithm() {
    let pebble = eab_pebble();
    let client = client(pebble).await;
    assert!(
        client
            .directory()
            .meta
            .as_ref()
            .unwrap()
            .external_account_required
    );
    for (kid, alg) in [
        ("kid-1", MacAlgorithm::Hs256),
        ("kid-2", MacAlgorithm::Hs384),
        ("kid-1", MacAlgorithm::Hs512),
    ] {
        let new = NewAccount::agreeing_to_terms(["mailto:eab@example.com"])
            .with_external_account_binding(binding(kid, alg));
        let key = AccountKey::generate(KeyType::Es256).unwrap();
        let (account, resource) = Account::create(&client, key.clone(), &new)
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(resource.status, AccountStatus::Valid, "{alg}");
        // The bound account works like any other, and lookups need no binding.
        assert_eq!(account.fetch().await.unwrap().status, AccountStatus::Valid);
        let (found, _) = Account::find_existing(&client, key).await.unwrap();
        assert_eq!(found.url(), account.url(), "{alg}");
    }
}

#[tokio::test]
async fn missing_binding_fails_before_sending() {
    let client = client(eab_pebble()).await;
    let before = client.stats().requests;
    let err = Account::create(
        &client,
        AccountKey::generate(KeyType::Es256).unwrap(),
        &NewAccount::agreeing_to_terms(["mailto:eab@example.com"]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::ExternalAccountRequired { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::ExternalAccountRequired)
    );
    let message = err.to_string();
    assert!(
        message.contains("requires external account binding"),
        "{message}"
    );
    assert!(message.contains("key ID and MAC key"), "{message}");
    assert_eq!(client.stats().requests, before, "nothing was sent");
}

/// Hides the directory's `externalAccountRequired`, so that a newAccount
/// without a binding reaches Pebble and we see Pebble's own refusal.
struct HideEabRequirement(HyperTransport);

impl HttpClient for HideEabRequirement {
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, acmekit::Result<HttpResponse>> {
        Box::pin(async move {
            let directory = req.method == "GET";
            let mut resp = self.0.request(req).await?;
            if directory {
                let mut dir: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
                dir["meta"]["externalAccountRequired"] = false.into();
                resp.body = serde_json::to_vec(&dir).unwrap().into();
            }
            Ok(resp)
        })
    }
}

#[tokio::test]
async fn missing_binding_is_refused_by_the_server() {
    let pebble = eab_pebble();
    let roots = [rustls_pki_types::CertificateDer::from(
        pebble.listener_ca_der(),
    )];
    let transport = HyperTransport::new(&roots, false, false, Duration::from_secs(30)).unwrap();
    let client = Client::builder(pebble.directory_url())
        .http_client(Box::new(HideEabRequirement(transport)))
        .build()
        .await
        .unwrap();
    let err = Account::create(
        &client,
        AccountKey::generate(KeyType::Es256).unwrap(),
        &NewAccount::agreeing_to_terms(["mailto:eab@example.com"]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::ExternalAccountRequired),
        "{err}"
    );
    assert!(err.to_string().contains("externalAccountBinding"), "{err}");
}

#[tokio::test]
async fn wrong_mac_key_or_kid_is_refused() {
    let client = client(eab_pebble()).await;
    let create = |binding: ExternalAccountBinding| {
        let client = client.clone();
        async move {
            Account::create(
                &client,
                AccountKey::generate(KeyType::Es256).unwrap(),
                &NewAccount::agreeing_to_terms(["mailto:eab@example.com"])
                    .with_external_account_binding(binding),
            )
            .await
            .unwrap_err()
        }
    };
    // kid-1 with kid-2's MAC key. Pebble: 403 unauthorized "external account
    // binding JWS verification error".
    let err = create(ExternalAccountBinding::new("kid-1", EAB_KEYS[1].1).unwrap()).await;
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");
    assert!(
        err.to_string().contains("external account binding"),
        "{err}"
    );
    assert!(
        !err.to_string().contains(EAB_KEYS[1].1),
        "no key in messages"
    );

    // A key ID the CA never issued.
    let err = create(ExternalAccountBinding::new("kid-404", EAB_KEYS[0].1).unwrap()).await;
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");
}
