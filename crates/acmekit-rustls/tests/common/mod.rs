//! Shared by the integration tests: a Pebble whose validation ports are the
//! server's, an HTTPS server on an `AutoCert`, a rustls client that trusts
//! Pebble's root, `openssl s_client`, and counting orders in Pebble's log.

#![allow(dead_code)] // each test binary uses a different part

pub mod proxy;

use acmekit_rustls::tokio_rustls::client::TlsStream;
use acmekit_rustls::tokio_rustls::TlsConnector;
use acmekit_rustls::{rustls, AutoCert};
use acmekit_testkit::Pebble;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Bounds every wait, so a broken test fails instead of hanging. Not an
/// assertion about speed: issuance against a local Pebble takes well under
/// a second.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, f)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// A listener on a fresh loopback port.
pub async fn bind() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A Pebble of its own (orders are counted from its log) whose VA checks
/// http-01 on `http` and tls-alpn-01 on `tls`; `None` points at a port
/// nothing listens on.
pub fn pebble(http: Option<u16>, tls: Option<u16>) -> Pebble {
    // The crate's `tracing` output, shown for failing tests.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let unused = acmekit_testkit::ports::free_tcp_port;
    Pebble::builder()
        .validation_ports(http.unwrap_or_else(unused), tls.unwrap_or_else(unused))
        .start()
}

/// newOrder requests Pebble has handled.
pub fn orders(pebble: &Pebble) -> usize {
    pebble
        .log()
        .lines()
        .filter(|l| l.contains("POST /order-plz"))
        .count()
}

/// A builder for `pebble`'s directory, trusting only its listener CA.
pub fn builder(pebble: &Pebble) -> acmekit_rustls::AutoCertBuilder {
    AutoCert::builder(pebble.directory_url())
        .add_root_pem(pebble.listener_ca_pem().as_bytes())
        .only_added_roots()
        .contact("mailto:test@example.com")
}

/// A fresh directory for a store, removed first if left over.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "acmekit-rustls-{tag}-{}-{}",
        std::process::id(),
        acmekit_testkit::unique_name()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Serves a page over HTTPS with `acme.accept` until aborted.
pub fn serve_https(acme: AutoCert, listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acme = acme.clone();
            tokio::spawn(async move {
                if let Ok(Some(tls)) = acme.accept(tcp).await {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service_fn(page))
                        .await;
                }
            });
        }
    })
}

pub const PAGE: &str = "hello over TLS\n";

async fn page(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        PAGE.as_bytes(),
    ))))
}

/// A rustls client trusting only Pebble's root (new at every Pebble start),
/// without session resumption.
pub async fn client(pebble: &Pebble) -> TlsConnector {
    let root_pem = pebble.root_pem().await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(root_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // A resumed session shows the certificate of the session it resumes:
    // every handshake here must show the certificate served now.
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// A verified TLS connection to `127.0.0.1:port` for `name`.
pub async fn connect(
    client: &TlsConnector,
    port: u16,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    client.connect(server_name, tcp).await
}

/// The certificates the server presented, leaf first.
pub fn peer_chain(tls: &TlsStream<TcpStream>) -> Vec<Vec<u8>> {
    tls.get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.to_vec())
        .collect()
}

/// The serial (hex) of the leaf the server presented.
pub fn serial(tls: &TlsStream<TcpStream>) -> String {
    let chain = peer_chain(tls);
    acmekit::certificate_info(&chain[0]).unwrap().serial_hex
}

/// An HTTP/1.1 connection over `tls`; send as many requests as needed.
pub async fn http(
    tls: TlsStream<TcpStream>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// `GET /` on an open connection; the body.
pub async fn get(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: &str,
) -> String {
    sender.ready().await.unwrap();
    let req = Request::get("/")
        .header(hyper::header::HOST, host)
        .body(Empty::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// `openssl s_client` connects, checks the chain against Pebble's root and
/// the name; panics with its output otherwise.
pub async fn openssl_verifies(pebble: &Pebble, port: u16, name: &str) {
    let dir = temp_dir("openssl");
    std::fs::create_dir_all(&dir).unwrap();
    let root = dir.join("root.pem");
    std::fs::write(&root, pebble.root_pem().await).unwrap();
    let out = tokio::process::Command::new("openssl")
        .arg("s_client")
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", name, "-verify_hostname", name])
        .arg("-CAfile")
        .arg(&root)
        .arg("-verify_return_error")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl is installed (Debian package openssl)");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("Verify return code: 0 (ok)"),
        "openssl s_client failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
