//! Renewal in the background: the certificate is swapped under an open
//! connection; a failed renewal is reported and the old certificate keeps
//! serving.

mod common;

use acmekit_rustls::{ChallengeType, Event};
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
    let (https, https_port) = bind().await;
    let pebble = pebble(Some(http_port), None);
    let name = unique_name();
    let acme = builder(&pebble)
        .domains([&name])
        .challenges([ChallengeType::Http01])
        .renew_before(ALWAYS_DUE)
        .min_renewal_interval(Duration::ZERO)
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(7200))
        .build()
        .await
        .unwrap();
    let mut events = acme.events();

    // http-01 is answered only until the first certificate is issued.
    let responder = acme.clone();
    let http_server = tokio::spawn(async move {
        while let Ok((tcp, _)) = http_listener.accept().await {
            let service = responder.http01_redirect();
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
        }
    });
    let first = within("the first certificate", acme.obtain(&name))
        .await
        .unwrap();
    http_server.abort();
    let _ = http_server.await;

    // The renewal, due at once, fails validation.
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
                Ok(Event::Renewed { .. }) => panic!("the renewal cannot succeed"),
                Ok(_) => {}
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
    let server = serve_https(acme.clone(), https);
    let client = client(&pebble).await;
    let tls = connect(&client, https_port, &name).await.unwrap();
    assert_eq!(serial(&tls), first.serial_hex);
    assert_eq!(
        acme.certificate(&name).unwrap().serial_hex,
        first.serial_hex
    );
    server.abort();
}
