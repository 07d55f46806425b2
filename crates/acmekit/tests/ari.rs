//! ARI (RFC 9773), `replaces`, profiles and malformed replies, against the
//! test kit's scripted mock ACME server (Pebble 2.4 has none of these).

use acmekit::{
    certificate_id, Account, AccountKey, Client, Error, Identifier, KeyType, NewAccount, NewOrder,
};
use acmekit_testkit::{MockAcme, MockResponse, Route};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const HOUR: Duration = Duration::from_secs(3600);

async fn client(mock: &MockAcme) -> Client {
    Client::builder(mock.directory_url())
        .allow_insecure_http(true)
        .build()
        .await
        .expect("directory")
}

async fn account_on(mock: &MockAcme) -> Account {
    let key = AccountKey::generate(KeyType::Es256).unwrap();
    let no_contact = NewAccount::agreeing_to_terms(Vec::<String>::new());
    Account::create(&client(mock).await, key, &no_contact)
        .await
        .expect("newAccount")
        .0
}

/// A certificate with an Authority Key Identifier, as a CA issues them.
fn issued_certificate() -> Vec<u8> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf = rcgen::CertificateParams::new(vec!["renew.example.com".to_owned()]).unwrap();
    leaf.use_authority_key_identifier_extension = true;
    leaf.signed_by(&key, &issuer).unwrap().der().to_vec()
}

fn order_for(name: &str) -> NewOrder {
    NewOrder::new([Identifier::dns(name)])
}

fn replacing(cert_id: &str) -> NewOrder {
    let mut new = order_for("renew.example.com");
    new.replaces = Some(cert_id.to_owned());
    new
}

/// Asserts `t` is within a few seconds of `expected`.
fn assert_close(t: SystemTime, expected: SystemTime) {
    let diff = t.duration_since(expected).unwrap_or_else(|e| e.duration());
    assert!(diff < Duration::from_secs(5), "{t:?} is not {expected:?}");
}

#[tokio::test]
async fn renewal_info_window_and_retry_after() {
    let mock = MockAcme::start();
    let now = SystemTime::now();
    let (start, end) = (now + 10 * HOUR, now + 20 * HOUR);
    mock.set_renewal_window(start, end);
    mock.set_renewal_retry_after(Some("3600"));
    let client = client(&mock).await;
    let cert = issued_certificate();

    let info = client.renewal_info(&cert).await.unwrap();
    // The window goes over the wire in whole seconds.
    assert_close(info.suggested_window.start, start);
    assert_close(info.suggested_window.end, end);
    assert_close(info.retry_after.expect("Retry-After"), now + HOUR);
    assert_eq!(
        info.explanation_url,
        Some(format!("http://127.0.0.1:{}/docs/ari", mock.port()))
    );
    assert_close(info.next_check(now), now + HOUR);
    // Unauthenticated GET of <renewalInfo>/<certificate ID>.
    let asked = mock.requests_to(Route::RenewalInfo);
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].method, "GET");
    let id = certificate_id(&cert).unwrap();
    assert_eq!(asked[0].path, format!("/renewal-info/{id}"));

    // Renewal time: inside the window while it is ahead, "now" once passed.
    assert!(!info.should_renew(now));
    for r in [0.0, 0.25, 0.999] {
        let at = info.renewal_time(now, r);
        assert!(at >= info.suggested_window.start && at < info.suggested_window.end);
    }
    let picked = info.random_renewal_time();
    assert!(picked >= info.suggested_window.start && picked < info.suggested_window.end);
    let after = now + 30 * HOUR;
    assert!(info.should_renew(after));
    assert_eq!(info.renewal_time(after, 0.5), after);

    // A window in the past (the CA wants the certificate replaced now), and
    // no Retry-After: check again in six hours.
    mock.set_renewal_window(now - 2 * HOUR, now - HOUR);
    mock.set_renewal_retry_after(None);
    let account = account_on(&mock).await;
    let info = account.renewal_info(&cert).await.unwrap();
    assert_eq!(info.retry_after, None);
    assert_eq!(info.next_check(now), now + 6 * HOUR);
    assert!(info.should_renew(now));
    assert_eq!(info.renewal_time(now, 0.3), now);
}

#[tokio::test]
async fn no_renewal_info_url_is_unsupported() {
    let mock = MockAcme::builder().renewal_info(false).start();
    let client = client(&mock).await;
    let err = client
        .renewal_info(&issued_certificate())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("renewalInfo"), "{err}");
    assert!(mock.requests_to(Route::RenewalInfo).is_empty());
}

#[tokio::test]
async fn replaces_is_sent() {
    let mock = MockAcme::start();
    let account = account_on(&mock).await;
    let id = certificate_id(&issued_certificate()).unwrap();
    let order = account.new_order(&replacing(&id)).await.unwrap();
    assert_eq!(order.replaces.as_deref(), Some(id.as_str()));
    let sent = mock.new_order_payloads();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["replaces"], id.as_str());
    assert!(
        sent[0].get("profile").is_none(),
        "no null profile: {}",
        sent[0]
    );
}

/// Warnings logged while `f` runs on this thread.
struct Warnings(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Warnings {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut text = String::new();
            event.record(
                &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    text.push_str(&format!("{}={value:?} ", field.name()));
                },
            );
            self.0.lock().unwrap().push(text);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

async fn new_order_logging_warnings(
    account: &Account,
    new: &NewOrder,
) -> (acmekit::Result<acmekit::Order>, Vec<String>) {
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let dispatch = tracing::Dispatch::new(Warnings(warnings.clone()));
    // #[tokio::test] runs on one thread: the default stays in force.
    let guard = tracing::dispatcher::set_default(&dispatch);
    let result = account.new_order(new).await;
    drop(guard);
    let logged = warnings.lock().unwrap().clone();
    (result, logged)
}

#[tokio::test]
async fn already_replaced_is_retried_once_without_replaces() {
    let mock = MockAcme::start();
    let account = account_on(&mock).await;
    let id = certificate_id(&issued_certificate()).unwrap();
    mock.script(
        Route::NewOrder,
        MockResponse::problem(
            409,
            "alreadyReplaced",
            "that certificate was already replaced",
        ),
    );
    let (order, warnings) = new_order_logging_warnings(&account, &replacing(&id)).await;
    let order = order.expect("the retry without replaces succeeds");
    assert_eq!(order.replaces, None);
    let sent = mock.new_order_payloads();
    assert_eq!(sent.len(), 2, "exactly one retry: {sent:?}");
    assert_eq!(sent[0]["replaces"], id.as_str());
    assert!(sent[1].get("replaces").is_none(), "{}", sent[1]);
    assert_eq!(sent[0]["identifiers"], sent[1]["identifiers"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("without it"), "{warnings:?}");
    assert!(warnings[0].contains(&id), "{warnings:?}");
}

#[tokio::test]
async fn malformed_naming_the_certificate_id_is_retried_once_without_replaces() {
    let mock = MockAcme::start();
    let account = account_on(&mock).await;
    let id = certificate_id(&issued_certificate()).unwrap();
    mock.script(
        Route::NewOrder,
        MockResponse::problem(400, "malformed", &format!("no certificate {id} known")),
    );
    account.new_order(&replacing(&id)).await.unwrap();
    let sent = mock.new_order_payloads();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["replaces"], id.as_str());
    assert!(sent[1].get("replaces").is_none());
}

#[tokio::test]
async fn other_refusals_are_not_retried_and_the_retry_is_not_retried() {
    let mock = MockAcme::start();
    let account = account_on(&mock).await;
    let id = certificate_id(&issued_certificate()).unwrap();

    // A malformed that is about something else: returned as is.
    mock.script(
        Route::NewOrder,
        MockResponse::problem(400, "malformed", "bad identifier"),
    );
    let err = account.new_order(&replacing(&id)).await.unwrap_err();
    assert!(err.to_string().contains("bad identifier"), "{err}");
    assert_eq!(mock.new_order_payloads().len(), 1);

    // Refused twice: one retry only, and its error is the one returned.
    mock.script(
        Route::NewOrder,
        MockResponse::problem(409, "alreadyReplaced", "first"),
    );
    mock.script(
        Route::NewOrder,
        MockResponse::problem(409, "alreadyReplaced", "second"),
    );
    let err = account.new_order(&replacing(&id)).await.unwrap_err();
    assert!(err.to_string().contains("second"), "{err}");
    assert_eq!(mock.new_order_payloads().len(), 3);
}

#[tokio::test]
async fn an_advertised_profile_is_sent() {
    let mock = MockAcme::builder()
        .profile("classic", "the usual")
        .profile("shortlived", "six days")
        .start();
    let account = account_on(&mock).await;
    assert_eq!(
        account.client().profiles().keys().collect::<Vec<_>>(),
        ["classic", "shortlived"]
    );
    let mut new = order_for("a.example.com");
    new.profile = Some("shortlived".to_owned());
    let order = account.new_order(&new).await.unwrap();
    assert_eq!(order.profile.as_deref(), Some("shortlived"));
    let sent = mock.new_order_payloads();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["profile"], "shortlived");
    assert!(sent[0].get("replaces").is_none());
}

#[tokio::test]
async fn a_profile_not_advertised_is_refused_before_any_request() {
    let mock = MockAcme::builder()
        .profile("classic", "the usual")
        .profile("shortlived", "six days")
        .start();
    let account = account_on(&mock).await;
    let before = mock.requests().len();
    let mut new = order_for("a.example.com");
    new.profile = Some("tlsserver".to_owned());
    let err = account.new_order(&new).await.unwrap_err();
    match &err {
        Error::UnknownProfile { profile, offered } => {
            assert_eq!(profile, "tlsserver");
            assert_eq!(offered, &["classic", "shortlived"]);
        }
        other => panic!("expected UnknownProfile, got {other:?}"),
    }
    let shown = err.to_string();
    assert!(shown.contains("\"tlsserver\"") && shown.contains("classic, shortlived"));
    assert_eq!(mock.requests().len(), before, "nothing was sent");
    assert!(mock.new_order_payloads().is_empty());

    // A server with no profiles at all.
    let bare = MockAcme::start();
    let bare_account = account_on(&bare).await;
    let err = bare_account.new_order(&new).await.unwrap_err();
    assert!(err.to_string().contains("advertises no profiles"), "{err}");
    assert!(bare.new_order_payloads().is_empty());
}

#[tokio::test]
async fn malformed_json_is_a_clear_invalid_response() {
    let mock = MockAcme::start();
    let account = account_on(&mock).await;
    let location = format!("http://127.0.0.1:{}/order/1", mock.port());
    mock.script(
        Route::NewOrder,
        MockResponse::new(201)
            .body("application/json", r#"{"status": "pending", "identif"#)
            .header("Location", &location),
    );
    let err = account
        .new_order(&order_for("a.example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("/new-order"), "{shown}");
    assert!(shown.contains("could not parse the JSON reply"), "{shown}");

    mock.script(
        Route::RenewalInfo,
        MockResponse::new(200).body("application/json", "[1, 2"),
    );
    let err = account
        .renewal_info(&issued_certificate())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("/renewal-info/"), "{err}");
}

#[tokio::test]
async fn an_oversized_body_is_a_clear_invalid_response() {
    let mock = MockAcme::start();
    let client = client(&mock).await;
    let huge = vec![b' '; acmekit::http::MAX_RESPONSE_BYTES + 4096];
    mock.script(
        Route::RenewalInfo,
        MockResponse::new(200).body("application/json", huge),
    );
    let err = client
        .renewal_info(&issued_certificate())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
    // The client is still usable afterwards.
    client.renewal_info(&issued_certificate()).await.unwrap();
}

#[tokio::test]
async fn unavailable_with_retry_after_says_when() {
    let mock = MockAcme::start();
    let client = client(&mock).await;
    mock.script(
        Route::RenewalInfo,
        MockResponse::problem(503, "serverInternal", "down for maintenance")
            .header("Retry-After", "120"),
    );
    let asked_at = SystemTime::now();
    let err = client
        .renewal_info(&issued_certificate())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Server { .. }), "{err:?}");
    assert!(err.to_string().contains("down for maintenance"), "{err}");
    assert_close(
        err.retry_after().expect("Retry-After"),
        asked_at + Duration::from_secs(120),
    );
}
