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
    Account, AccountKey, AccountStatus, AuthorizationStatus, Client, Error, ExternalAccountBinding,
    Identifier, KeyType, MacAlgorithm, NewAccount, NewOrder, OrderStatus, ProblemType,
};
use acmekit_testkit::{unique_name, Pebble};
use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;
use time::OffsetDateTime;

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

/// This binary's Pebble: one order per orders-list page.
fn pebble() -> &'static Pebble {
    static PEBBLE: OnceLock<Pebble> = OnceLock::new();
    PEBBLE.get_or_init(|| {
        Pebble::builder()
            .env("PEBBLE_WFE_ORDERS_PER_PAGE", "1")
            .start()
    })
}

/// A Pebble that requires external account binding.
fn eab_pebble() -> &'static Pebble {
    static PEBBLE: OnceLock<Pebble> = OnceLock::new();
    PEBBLE.get_or_init(|| Pebble::builder().eab_keys(EAB_KEYS).start())
}

async fn client(pebble: &Pebble) -> Client {
    pebble.client().await
}

async fn new_account(client: &Client, key: AccountKey) -> Account {
    Account::create(
        client,
        key,
        &NewAccount::agreeing_to_terms(["mailto:first@example.com"]),
    )
    .await
    .expect("newAccount")
    .0
}

async fn account() -> Account {
    let client = client(pebble()).await;
    new_account(&client, AccountKey::generate(KeyType::Es256).unwrap()).await
}

// ---- §7.3.2 update, §7.3.6 deactivation ----

#[tokio::test]
async fn update_contacts_returns_the_account() {
    let account = account().await;
    let updated = account
        .update_contacts(["mailto:a@example.com", "mailto:b@example.com"])
        .await
        .unwrap();
    assert_eq!(updated.status, AccountStatus::Valid);
    assert_eq!(
        updated.contact,
        ["mailto:a@example.com", "mailto:b@example.com"]
    );
    assert_eq!(account.fetch().await.unwrap().contact, updated.contact);

    let cleared = account.update_contacts(Vec::<String>::new()).await.unwrap();
    assert!(cleared.contact.is_empty(), "{cleared:?}");
    assert!(account.fetch().await.unwrap().contact.is_empty());
}

#[tokio::test]
async fn unsupported_contact_is_a_typed_error() {
    let account = account().await;
    let err = account
        .update_contacts(["tel:+12025550100"])
        .await
        .unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::UnsupportedContact),
        "{err}"
    );
    assert_eq!(
        account.fetch().await.unwrap().contact,
        ["mailto:first@example.com"],
        "nothing changed"
    );
}

#[tokio::test]
async fn deactivated_account_is_refused_everywhere() {
    let client = client(pebble()).await;
    let key = AccountKey::generate(KeyType::Es256).unwrap();
    let account = new_account(&client, key.clone()).await;
    let resource = account.deactivate().await.unwrap();
    assert_eq!(resource.status, AccountStatus::Deactivated);

    // Pebble: unauthorized "Account has been deactivated", with HTTP 403
    // where RFC 8555 §7.3.6 says 401.
    let err = account.fetch().await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");
    assert!(err.to_string().contains("deactivated"), "{err}");
    assert_eq!(err.problem().unwrap().status, Some(403));

    let err = account
        .new_order(&NewOrder::new([Identifier::dns(unique_name())]))
        .await
        .unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");

    // The key cannot be found or registered again either.
    let err = Account::find_existing(&client, key.clone())
        .await
        .unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");
    let err = Account::create(
        &client,
        key,
        &NewAccount::agreeing_to_terms(["mailto:x@example.com"]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Unauthorized), "{err}");
}

// ---- §7.3.5 key rollover ----

#[tokio::test]
async fn key_rollover() {
    let client = client(pebble()).await;
    let old_key = AccountKey::generate(KeyType::Es256).unwrap();
    let account = new_account(&client, old_key.clone()).await;
    let new_key = AccountKey::generate(KeyType::Es384).unwrap();

    let rolled = account.change_key(new_key.clone()).await.unwrap();
    assert_eq!(rolled.url(), account.url());
    assert_eq!(rolled.key().thumbprint(), new_key.thumbprint());
    assert_eq!(rolled.fetch().await.unwrap().status, AccountStatus::Valid);
    let order = rolled
        .new_order(&NewOrder::new([Identifier::dns(unique_name())]))
        .await
        .unwrap();
    assert_eq!(order.status, OrderStatus::Pending);

    // The new key finds the same account.
    let (found, _) = Account::find_existing(&client, new_key).await.unwrap();
    assert_eq!(found.url(), account.url());

    // A request signed by the old key is refused. Pebble checks the JWS
    // against the account's new key and answers 400 malformed: here
    // "signature type 'ES256' in JWS header is not supported, expected one
    // of RS256, ES256, ES384 or ES512" (the new key is ES384); for two keys
    // of one type, "JWS verification error".
    let stale = Account::from_parts(client.clone(), old_key.clone(), account.url().to_owned());
    let err = stale.fetch().await.unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert_eq!(err.problem_type(), Some(ProblemType::Malformed), "{err}");
    assert_eq!(err.problem().unwrap().status, Some(400));
    let err = account.fetch().await.unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Malformed), "{err}");

    // Same key type: the signature itself fails.
    let rolled_again = rolled
        .change_key(AccountKey::generate(KeyType::Es384).unwrap())
        .await
        .unwrap();
    let err = rolled.fetch().await.unwrap_err();
    assert_eq!(err.problem_type(), Some(ProblemType::Malformed), "{err}");
    assert!(err.to_string().contains("verification"), "{err}");
    assert_eq!(
        rolled_again.fetch().await.unwrap().status,
        AccountStatus::Valid
    );

    // And the old key no longer names any account.
    let err = Account::find_existing(&client, old_key).await.unwrap_err();
    assert_eq!(
        err.problem_type(),
        Some(ProblemType::AccountDoesNotExist),
        "{err}"
    );
}

/// RFC 8555 §7.3.5 asks for 409 Conflict with the holder's URL (acmekit's
/// `Error::KeyInUse`, unit-tested with a scripted server); Pebble 2.4
/// answers 500 serverInternal "Error rolling over account key (New public
/// key is already in use by account …)". Either way nothing changes.
#[tokio::test]
async fn key_rollover_to_a_key_in_use_changes_nothing() {
    let client = client(pebble()).await;
    let account = new_account(&client, AccountKey::generate(KeyType::Es256).unwrap()).await;
    let other_key = AccountKey::generate(KeyType::Es256).unwrap();
    let other = new_account(&client, other_key.clone()).await;

    let err = account.change_key(other_key).await.unwrap_err();
    match &err {
        Error::KeyInUse {
            account: holder, ..
        } => {
            assert_eq!(holder.as_deref(), Some(other.url()), "{err}");
        }
        Error::Server { problem, .. } => {
            assert_eq!(problem.kind(), ProblemType::ServerInternal, "{err}");
            assert!(err.to_string().contains("already in use"), "{err}");
        }
        _ => panic!("expected KeyInUse or Pebble 2.4's serverInternal, got {err:?}"),
    }
    assert_eq!(account.fetch().await.unwrap().status, AccountStatus::Valid);
    assert_eq!(other.fetch().await.unwrap().status, AccountStatus::Valid);
}

#[tokio::test]
async fn key_rollover_to_the_same_key_sends_nothing() {
    let account = account().await;
    let before = account.client().stats().requests;
    let err = account.change_key(account.key().clone()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert_eq!(account.client().stats().requests, before);
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

// ---- §7.1.2.1 orders list ----

#[tokio::test]
async fn orders_list_follows_every_page() {
    let account = account().await;
    assert!(account.orders().await.unwrap().is_empty(), "no orders yet");

    let mut created = BTreeSet::new();
    for _ in 0..4 {
        let order = account
            .new_order(&NewOrder::new([Identifier::dns(unique_name())]))
            .await
            .unwrap();
        created.insert(order.url);
    }
    let before = account.client().stats().requests;
    let listed = account.orders().await.unwrap();
    let requests = account.client().stats().requests - before;
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert_eq!(listed.into_iter().collect::<BTreeSet<_>>(), created);
    // One page per order (PEBBLE_WFE_ORDERS_PER_PAGE=1) after the account
    // fetch: pagination really happened.
    assert_eq!(requests, 1 + 4);
}

// ---- §7.5.2 deactivation, §7.4.1 pre-authorization ----

#[tokio::test]
async fn deactivate_an_authorization() {
    let account = account().await;
    let order = account
        .new_order(&NewOrder::new([Identifier::dns(unique_name())]))
        .await
        .unwrap();
    let url = &order.authorizations[0];
    let authz = account.deactivate_authorization(url).await.unwrap();
    assert_eq!(authz.status, AuthorizationStatus::Deactivated);
    assert_eq!(&authz.url, url);
    let fetched = account.authorization(url).await.unwrap();
    assert_eq!(fetched.status, AuthorizationStatus::Deactivated);
    // Pebble 2.4 then reports the order as "deactivated", a status RFC 8555
    // does not define for orders: it parses as Unknown.
    let order = account.order(&order.url).await.unwrap();
    assert!(
        matches!(&order.status, OrderStatus::Invalid)
            || matches!(&order.status, OrderStatus::Unknown(s) if s == "deactivated"),
        "{:?}",
        order.status
    );
}

#[tokio::test]
async fn pre_authorization_is_unsupported_by_pebble() {
    let account = account().await;
    assert!(account.client().directory().new_authz.is_none());
    let before = account.client().stats().requests;
    let err = account
        .new_authorization(&Identifier::dns(unique_name()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("newAuthz"), "{err}");
    assert_eq!(account.client().stats().requests, before, "nothing sent");
}

// ---- §7.4 what newOrder echoes ----

#[tokio::test]
async fn order_names_match_case_insensitively() {
    let account = account().await;
    let name = unique_name();
    let shouting = name.to_ascii_uppercase();
    let order = account
        .new_order(&NewOrder::new([
            Identifier::dns(&shouting),
            Identifier::parse("127.0.0.1"),
        ]))
        .await
        .unwrap();
    // Pebble lower-cases DNS names; the check accepts that.
    assert!(
        order.identifiers.contains(&Identifier::dns(&name)),
        "{:?}",
        order.identifiers
    );
    assert_eq!(order.identifiers.len(), 2);
}

#[tokio::test]
async fn order_with_validity_window() {
    let account = account().await;
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let mut new = NewOrder::new([Identifier::dns(unique_name())]);
    new.not_before = Some(now + Duration::from_secs(3600));
    new.not_after = Some(now + Duration::from_secs(3 * 86400));
    let order = account.new_order(&new).await.unwrap();
    assert_eq!(order.status, OrderStatus::Pending);
    eprintln!(
        "Pebble echoed notBefore={:?} notAfter={:?}",
        order.not_before, order.not_after
    );
    // Pebble 2.4 may or may not echo them; when it does, they are ours.
    if let Some(nb) = order.not_before {
        assert_eq!(nb, new.not_before.unwrap());
    }
    if let Some(na) = order.not_after {
        assert_eq!(na, new.not_after.unwrap());
    }
    let fetched = account.order(&order.url).await.unwrap();
    assert_eq!(fetched.not_before, order.not_before);
}
