//! Renewal follows the CA's renewal information (ARI, RFC 9773), against
//! acme2certifier: Pebble 2.4 has no renewalInfo. Its challenge validation
//! is switched off, so the tls-alpn-01 answers pass without a connection.

mod common;

use acmekit_rustls::{AutoCert, AutoCertBuilder, Event, MemoryStore};
use acmekit_testkit::{unique_name, Acme2Certifier};
use common::proxy::{base64url_decode, RecordingProxy};
use common::within;
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// A builder for the ACME server at `directory_url` whose TLS certificate
/// `ca_pem` signed.
fn builder(directory_url: String, ca_pem: &str) -> AutoCertBuilder {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    AutoCert::builder(directory_url)
        .add_root_pem(ca_pem.as_bytes())
        .only_added_roots()
}

/// The next event about `name`.
async fn next(events: &mut broadcast::Receiver<Event>, name: &str) -> Event {
    within(&format!("an event for {name}"), async {
        loop {
            let event = events.recv().await.expect("events channel");
            let about = match &event {
                Event::Loaded { name, .. }
                | Event::Issued { name, .. }
                | Event::Renewed { name, .. }
                | Event::RenewalInfo { name, .. }
                | Event::Failed { name, .. }
                | Event::StoreFailed { name, .. } => name,
                _ => continue,
            };
            if about == name {
                return event;
            }
        }
    })
    .await
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_window_renews_at_once_replacing_the_old_certificate() {
    // Every window has opened. Retry-After 1 s: should the random pick land
    // in the day of the window still ahead (1 chance in 366), the window is
    // fetched again after the one-minute floor, and picked again (it moves).
    let a2c = Acme2Certifier::builder()
        .renewal_force(true)
        .renewal_retry_after(1)
        .start();
    let a2c_port = a2c
        .directory_url()
        .trim_start_matches("https://127.0.0.1:")
        .trim_end_matches("/directory")
        .parse()
        .unwrap();
    // acme2certifier does not log request bodies: read `replaces` here.
    let proxy = RecordingProxy::start(a2c_port, a2c.listener_ca_pem()).await;
    let name = unique_name();
    let builder = builder(
        format!("https://127.0.0.1:{}/directory", proxy.port()),
        proxy.ca_pem(),
    )
    .domains([&name])
    // The renewal may follow the issuance at once.
    .min_renewal_interval(Duration::ZERO);
    let mut events = builder.events();
    let acme = builder.build().await.unwrap();

    let Event::Issued {
        certificate: issued,
        ..
    } = next(&mut events, &name).await
    else {
        panic!("expected the first certificate");
    };
    let Event::RenewalInfo {
        serial,
        suggested_window: window,
        renew_at,
        ..
    } = next(&mut events, &name).await
    else {
        panic!("expected its renewal information");
    };
    assert_eq!(serial, issued.serial_hex);
    let now = SystemTime::now();
    assert!(window.start < now && now < window.end, "open: {window:?}");
    assert!(renew_at >= window.start && renew_at < window.end);
    // The lifetime rule would wait 20 of the 30 days.
    assert!(renew_at < issued.not_before + 20 * DAY);

    let renewed = within("the renewal", async {
        loop {
            match next(&mut events, &name).await {
                Event::Renewed {
                    previous_serial,
                    certificate,
                    ..
                } => {
                    assert_eq!(previous_serial, issued.serial_hex);
                    break certificate;
                }
                Event::RenewalInfo { .. } => {} // picked again, see above
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    drop(acme);
    assert_ne!(renewed.serial_hex, issued.serial_hex);

    // The renewal information was fetched for the first certificate's ID…
    let sent = proxy.sent();
    let first_id = sent
        .iter()
        .find_map(|s| {
            let path = s.strip_prefix("GET /acme/renewal-info/")?;
            path.split_once(' ').map(|(id, _)| id.to_owned())
        })
        .expect("a renewalInfo request");
    let (_, serial_b64) = first_id.split_once('.').unwrap();
    assert_eq!(
        hex(&base64url_decode(serial_b64).unwrap()),
        issued.serial_hex
    );
    // …and the renewal's newOrder said it replaces that certificate; the
    // first order replaced nothing.
    let orders: Vec<serde_json::Value> = proxy
        .jws_payloads()
        .into_iter()
        .filter(|p| p["identifiers"][0]["value"] == name.as_str())
        .collect();
    assert!(orders.len() >= 2, "{orders:?}");
    assert_eq!(orders[0].get("replaces"), None, "{orders:?}");
    assert_eq!(orders[1]["replaces"], first_id.as_str(), "{orders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_window_sets_the_renewal_time_and_survives_a_restart() {
    let a2c = Acme2Certifier::shared();
    let store = MemoryStore::new();
    let name = unique_name();
    let first = builder(a2c.directory_url(), a2c.listener_ca_pem())
        .domains([&name])
        .store(store.clone());
    let mut events = first.events();
    let acme = first.build().await.unwrap();

    let Event::Issued { certificate, .. } = next(&mut events, &name).await else {
        panic!("expected the first certificate");
    };
    let Event::RenewalInfo {
        serial,
        suggested_window: window,
        renew_at,
        ..
    } = next(&mut events, &name).await
    else {
        panic!("expected its renewal information");
    };
    assert_eq!(serial, certificate.serial_hex);
    // acme2certifier suggests the last 15% of the 30-day lifetime.
    let now = SystemTime::now();
    assert!(window.start > now + 25 * DAY, "{window:?}");
    assert!(window.end <= certificate.not_after, "{window:?}");
    assert!(renew_at >= window.start && renew_at < window.end);
    // That replaces the lifetime rule (a third of the lifetime left)…
    let lifetime = certificate
        .not_after
        .duration_since(certificate.not_before)
        .unwrap();
    assert!(renew_at > certificate.not_after - lifetime / 3);
    // …and is when the background task renews: nothing before the window.
    assert_eq!(acme.next_renewal(&name), Some(renew_at));
    assert!(acme.certificate(&name).is_some());
    drop(acme);

    // A restart keeps the time picked in this window (stored with the
    // certificate) instead of picking again.
    let again = builder(a2c.directory_url(), a2c.listener_ca_pem())
        .domains([&name])
        .store(store);
    let mut events = again.events();
    let acme = again.build().await.unwrap();
    let Event::Loaded {
        certificate: loaded,
        ..
    } = next(&mut events, &name).await
    else {
        panic!("expected the stored certificate");
    };
    assert_eq!(loaded.serial_hex, certificate.serial_hex);
    assert_eq!(acme.next_renewal(&name), Some(renew_at));
}
