//! Renewal in the background: the certificate is swapped under an open
//! connection; a failed renewal is reported and the old certificate keeps
//! serving.

mod common;

use acmekit_rustls::{ChallengeType, Event, MemoryStore};
use acmekit_testkit::{unique_name, verify_chain};
use common::*;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Longer than Pebble's 5-year lifetime: every certificate is due at once.
const ALWAYS_DUE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_swaps_the_certificate_under_an_open_connection() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let name = unique_name();
    // Renewals follow each other back to back while the test runs (no
    // spacing), so whichever certificate the connection gets, a newer one
    // comes.
    let acme = builder(&pebble)
        .domains([&name])
        .renew_before(ALWAYS_DUE)
        .min_renewal_interval(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let mut events = acme.events();
    let server = serve_https(acme.clone(), https);
    let client = client(&pebble).await;

    let tls = within("the first handshake", connect(&client, port, &name))
        .await
        .unwrap();
    let old = serial(&tls);
    let mut open = http(tls).await;
    assert_eq!(get(&mut open, &name).await, PAGE);

    let renewed = within("the renewal of the connection's certificate", async {
        loop {
            match events.recv().await {
                Ok(Event::Renewed {
                    name: n,
                    previous_serial,
                    certificate,
                }) if n == name && previous_serial == old => break certificate,
                Ok(_) => {}
                Err(e) => panic!("events channel: {e}"),
            }
        }
    })
    .await;
    assert_ne!(renewed.serial_hex, old);

    // The open connection keeps working with the old certificate…
    assert_eq!(get(&mut open, &name).await, PAGE);
    // …and new handshakes get a newer one.
    let tls = connect(&client, port, &name).await.unwrap();
    assert_ne!(serial(&tls), old);
    verify_chain(&peer_chain(&tls), &pebble.root_pem().await, &[&name]).unwrap();
    assert_eq!(get(&mut http(tls).await, &name).await, PAGE);
    assert_eq!(get(&mut open, &name).await, PAGE);
    assert!(orders(&pebble) >= 2);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_renewal_is_reported_and_the_old_certificate_serves_on() {
    let (http_listener, http_port) = bind().await;
    let pebble = pebble(Some(http_port), None);
    let name = unique_name();
    let store = MemoryStore::new();

    // A first manager gets the certificate through http-01…
    let first = builder(&pebble)
        .domains([&name])
        .challenges([ChallengeType::Http01])
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let responder = first.clone();
    let http_server = tokio::spawn(async move {
        while let Ok((tcp, _)) = http_listener.accept().await {
            let service = responder.http01_redirect();
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
        }
    });
    let issued = within("the first certificate", first.obtain(&name))
        .await
        .unwrap();
    http_server.abort();
    let _ = http_server.await;
    drop(first);

    // …a second one on the same store renews it at once, with nobody
    // answering http-01: the renewal fails.
    let builder = builder(&pebble)
        .domains([&name])
        .challenges([ChallengeType::Http01])
        .store(store)
        .renew_before(ALWAYS_DUE)
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(7200));
    let mut events = builder.events();
    let acme = builder.build().await.unwrap();
    let (error, retry_at) = within("the failed renewal", async {
        loop {
            match events.recv().await {
                Ok(Event::Failed {
                    name: n,
                    error,
                    renewal,
                    retry_at,
                }) if n == name => {
                    assert!(renewal);
                    break (error, retry_at);
                }
                Ok(Event::Loaded { certificate, .. }) => {
                    assert_eq!(certificate.serial_hex, issued.serial_hex)
                }
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => panic!("events channel: {e}"),
            }
        }
    })
    .await;
    assert!(error.acme_error().is_some(), "{error}");
    // Backoff: the next attempt waits the initial hour.
    let wait = retry_at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or_default();
    assert!(wait > Duration::from_secs(3000), "{wait:?}");

    // The old certificate still serves.
    let (https, https_port) = bind().await;
    let server = serve_https(acme.clone(), https);
    let client = client(&pebble).await;
    let tls = connect(&client, https_port, &name).await.unwrap();
    assert_eq!(serial(&tls), issued.serial_hex);
    assert_eq!(
        acme.certificate(&name).unwrap().serial_hex,
        issued.serial_hex
    );
    server.abort();
}
