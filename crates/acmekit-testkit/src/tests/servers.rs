//! Tests of the mock ACME server and the acme2certifier harness.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::a2c::Acme2Certifier;
use crate::http;
use crate::mock::{MockAcme, MockResponse, Route};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn mock_records_payloads_adds_nonces_and_plays_scripts_once() {
    let mock = MockAcme::builder().profile("p1", "one").start();
    let addr = loopback(mock.port());
    let jws = serde_json::json!({
        "protected": b64(br#"{"alg":"ES256","nonce":"n","url":"u","kid":"k"}"#),
        "payload": b64(br#"{"identifiers":[{"type":"dns","value":"a.example"}],"profile":"p1"}"#),
        "signature": "not checked",
    })
    .to_string();
    mock.script(
        Route::NewOrder,
        MockResponse::problem(409, "alreadyReplaced", "scripted").header("X-Test", "1"),
    );
    let scripted = http::post_json(addr, "/new-order", &jws).await.unwrap();
    assert_eq!(scripted.status, 409);
    assert_eq!(scripted.header("x-test"), Some("1"));
    assert!(scripted.text().contains("alreadyReplaced"));
    let default = http::post_json(addr, "/new-order", &jws).await.unwrap();
    assert_eq!(default.status, 201, "{}", default.text());
    let order: serde_json::Value = serde_json::from_slice(&default.body).unwrap();
    assert_eq!(order["profile"], "p1");
    assert!(order.get("replaces").is_none(), "no nulls: {order}");
    assert!(default.header("location").unwrap().contains("/order/"));
    let nonces = [&scripted, &default].map(|r| r.header("replay-nonce").unwrap().to_owned());
    assert_ne!(nonces[0], nonces[1]);

    let missing = http::post_json(addr, "/nowhere", "{}").await.unwrap();
    assert_eq!(missing.status, 404);
    assert!(missing.header("replay-nonce").is_some());

    let recorded = mock.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].protected.as_ref().unwrap()["kid"], "k");
    assert_eq!(recorded[2].route, None);
    assert_eq!(mock.new_order_payloads().len(), 2);
    assert_eq!(mock.new_order_payloads()[0]["profile"], "p1");
}

#[test]
fn mock_stops_when_dropped() {
    let mock = MockAcme::start();
    let port = mock.port();
    assert!(std::net::TcpStream::connect(loopback(port)).is_ok());
    drop(mock);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(loopback(port)).is_ok() {
        assert!(Instant::now() < deadline, "the mock still accepts");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn acme2certifier_serves_its_directory_over_https_and_stops() {
    let a2c = Acme2Certifier::start();
    let port: u16 = a2c
        .directory_url()
        .trim_start_matches("https://127.0.0.1:")
        .trim_end_matches("/directory")
        .parse()
        .unwrap();
    let ca = CertificateDer::from_pem_slice(a2c.listener_ca_pem().as_bytes()).unwrap();
    let dir = http::get_https(loopback(port), "/directory", &ca)
        .await
        .unwrap();
    assert_eq!(dir.status, 200, "{}", dir.text());
    let dir: serde_json::Value = serde_json::from_slice(&dir.body).unwrap();
    // Its URLs are https (the launcher forces the scheme) on our port.
    let base = format!("https://127.0.0.1:{port}/");
    for field in ["newNonce", "newAccount", "newOrder", "renewalInfo"] {
        let url = dir[field].as_str().unwrap_or_default();
        assert!(url.starts_with(&base), "{field}: {dir}");
    }
    assert_eq!(
        dir["meta"]["profiles"]["shortlived"],
        "a short-lived certificate"
    );
    drop(a2c);
    assert!(std::net::TcpStream::connect(loopback(port)).is_err());
}
