//! On-demand issuance: concurrent handshakes for a new allowed name share
//! one order; refused and rate-limited names get a handshake error and
//! cause no order. Orders are counted from Pebble's log.

mod common;

use acmekit_rustls::{Error, Event};
use acmekit_testkit::unique_name;
use common::*;
use std::time::Duration;

fn allowed(name: &str) -> bool {
    name.starts_with("ok-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_handshakes_cause_one_order() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let acme = builder(&pebble).on_demand(allowed).build().await.unwrap();
    let mut events = acme.events();
    let server = serve_https(acme.clone(), https);
    let client = client(&pebble).await;
    let name = format!("ok-{}", unique_name());
    assert_eq!(orders(&pebble), 0);

    let handshakes: Vec<_> = (0..20)
        .map(|_| {
            let (client, name) = (client.clone(), name.clone());
            tokio::spawn(async move {
                let tls = connect(&client, port, &name).await?;
                Ok::<_, std::io::Error>(serial(&tls))
            })
        })
        .collect();
    let mut serials = Vec::new();
    for h in handshakes {
        let serial = within("a handshake", h).await.unwrap();
        serials.push(serial.expect("every handshake gets the certificate"));
    }
    assert!(serials.iter().all(|s| *s == serials[0]), "{serials:?}");
    assert_eq!(orders(&pebble), 1, "exactly one order for 20 handshakes");

    match events.try_recv() {
        Ok(Event::Issued {
            name: n,
            certificate,
        }) => {
            assert_eq!(n, name);
            assert_eq!(certificate.serial_hex, serials[0]);
        }
        other => panic!("expected one Issued event, got {other:?}"),
    }
    assert!(events.try_recv().is_err(), "no second issuance");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_rate_limited_names_cause_no_order() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let acme = builder(&pebble)
        .on_demand(allowed)
        .on_demand_limit(1, Duration::from_secs(3600))
        .build()
        .await
        .unwrap();
    let server = serve_https(acme.clone(), https);
    let client = client(&pebble).await;

    // The policy refuses: the handshake fails, nothing is ordered.
    let refused = format!("no-{}", unique_name());
    assert!(connect(&client, port, &refused).await.is_err());
    assert!(matches!(
        acme.obtain(&refused).await,
        Err(Error::NotAllowed { .. })
    ));
    assert_eq!(orders(&pebble), 0);

    // The limit allows one new name per hour: the first is ordered…
    let first = format!("ok-{}", unique_name());
    within("the first name", connect(&client, port, &first))
        .await
        .expect("the first allowed name gets a certificate");
    assert_eq!(orders(&pebble), 1);

    // …the second is refused without an order, in the handshake and in
    // `obtain` alike.
    let second = format!("ok-{}", unique_name());
    assert!(within("the second name", connect(&client, port, &second))
        .await
        .is_err());
    let err = acme.obtain(&second).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err}");
    assert!(
        err.to_string().contains("too many new on-demand names"),
        "{err}"
    );
    assert_eq!(orders(&pebble), 1);
    assert!(acme.certificate(&second).is_none());
    assert!(acme.certificate(&first).is_some());
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolver_orders_in_the_background_without_waiting() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let acme = builder(&pebble).on_demand(allowed).build().await.unwrap();
    let mut events = acme.events();
    // An acceptor of the application's own: handshakes never wait.
    let acceptor = acmekit_rustls::tokio_rustls::TlsAcceptor::from(acme.server_config());
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = https.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // tls-alpn-01 validations complete here too, then close.
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    let client = client(&pebble).await;
    let name = format!("ok-{}", unique_name());

    // The first handshake fails at once but starts the order…
    assert!(connect(&client, port, &name).await.is_err());
    let issued = within("the background order", async {
        loop {
            match events.recv().await {
                Ok(Event::Issued {
                    name: n,
                    certificate,
                }) if n == name => break certificate,
                Ok(_) => {}
                Err(e) => panic!("events channel: {e}"),
            }
        }
    })
    .await;
    // …and later handshakes get the certificate.
    let tls = connect(&client, port, &name).await.unwrap();
    assert_eq!(serial(&tls), issued.serial_hex);
    assert_eq!(orders(&pebble), 1);
    server.abort();
}
