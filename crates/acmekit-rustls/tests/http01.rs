//! http-01 through `Http01Service` on Pebble's httpPort; HTTPS through a
//! plain `tokio_rustls::TlsAcceptor` over `AutoCert::server_config`.

mod common;

use acmekit_rustls::tokio_rustls::TlsAcceptor;
use acmekit_rustls::ChallengeType;
use acmekit_testkit::{unique_name, verify_chain};
use bytes::Bytes;
use common::*;
use http_body_util::Empty;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

/// One plain-HTTP request; (status, Location).
async fn plain_get(port: u16, host: &str, path: &str) -> (u16, Option<String>) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let location = resp
        .headers()
        .get(hyper::header::LOCATION)
        .map(|l| l.to_str().unwrap().to_owned());
    (resp.status().as_u16(), location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http01_service_on_pebbles_http_port() {
    let (http_listener, http_port) = bind().await;
    let (https, https_port) = bind().await;
    // Pebble's tlsPort leads nowhere: only http-01 can succeed.
    let pebble = pebble(Some(http_port), None);
    let name = unique_name();
    let acme = builder(&pebble)
        .domains([&name])
        .challenges([ChallengeType::Http01])
        .build()
        .await
        .unwrap();

    // Port 80: the http-01 responder in front of a redirect to HTTPS.
    let responder = acme.clone();
    let http_server = tokio::spawn(async move {
        while let Ok((tcp, _)) = http_listener.accept().await {
            let service = responder.http01_redirect();
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(tcp), service));
        }
    });

    let issued = within("the certificate", acme.obtain(&name)).await.unwrap();
    assert_eq!(issued.names, std::slice::from_ref(&name));
    assert_eq!(orders(&pebble), 1);

    // HTTPS with an acceptor of the application's own.
    let acceptor = TlsAcceptor::from(acme.server_config());
    let https_server = tokio::spawn(async move {
        while let Ok((tcp, _)) = https.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let page = hyper::service::service_fn(|_| async {
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(Bytes::from_static(PAGE.as_bytes())),
                        ))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), page)
                        .await;
                }
            });
        }
    });
    let client = client(&pebble).await;
    let tls = connect(&client, https_port, &name).await.unwrap();
    verify_chain(&peer_chain(&tls), &pebble.root_pem().await, &[&name]).unwrap();
    assert_eq!(serial(&tls), issued.serial_hex);
    assert_eq!(get(&mut http(tls).await, &name).await, PAGE);
    within("openssl", openssl_verifies(&pebble, https_port, &name)).await;

    // Everything but challenges is redirected; stale tokens are 404.
    assert_eq!(
        plain_get(http_port, &name, "/some/page?x=1").await,
        (308, Some(format!("https://{name}/some/page?x=1")))
    );
    let stale = plain_get(http_port, &name, "/.well-known/acme-challenge/abc_DEF-123").await;
    assert_eq!(stale, (404, None));
    let bad = plain_get(http_port, &name, "/.well-known/acme-challenge/a.b").await;
    assert_eq!(bad, (404, None));

    http_server.abort();
    https_server.abort();
}
