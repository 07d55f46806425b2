//! Tests against a real Pebble (they need it installed), and of the other
//! servers the kit runs (`servers`).

mod servers;

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{http, Pebble};

mod bind;

async fn directory(pebble: &Pebble) -> serde_json::Value {
    let port = pebble.directory_url().split(':').nth(2).unwrap()[..]
        .trim_end_matches("/dir")
        .parse::<u16>()
        .unwrap();
    let response = http::get_https(
        SocketAddr::from(([127, 0, 0, 1], port)),
        "/dir",
        &pebble.listener_ca_der(),
    )
    .await
    .expect("GET /dir");
    assert_eq!(response.status, 200, "{}", response.text());
    serde_json::from_slice(&response.body).expect("directory is JSON")
}

fn port_of(url: &str) -> u16 {
    let after_host = url.rsplit_once(':').unwrap().1;
    after_host.split('/').next().unwrap().parse().unwrap()
}

/// Pebble processes (other than this one) whose command line contains
/// `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    processes_matching(&[needle, "pebble"])
}

/// Processes (other than this one) whose command line contains every one
/// of `needles`.
fn processes_matching(needles: &[&str]) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == me || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if needles.iter().all(|n| cmdline.contains(n)) {
            found.push(format!("{name}: {cmdline}"));
        }
    }
    found
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

#[tokio::test]
async fn serves_its_directory_over_https_and_counts_requests() {
    let pebble = Pebble::start();
    let before = pebble.request_count();
    let dir = directory(&pebble).await;
    for field in [
        "newAccount",
        "newNonce",
        "newOrder",
        "revokeCert",
        "keyChange",
    ] {
        assert!(dir[field].is_string(), "{field} missing in {dir}");
    }
    assert_eq!(dir["meta"]["externalAccountRequired"], false);
    wait_until("the request is logged", || pebble.request_count() > before);
    assert!(pebble.log().contains("/dir"));
}

#[tokio::test]
async fn serves_root_and_intermediate() {
    let pebble = Pebble::shared();
    let root = pebble.root_pem().await;
    assert!(root.starts_with("-----BEGIN CERTIFICATE-----"), "{root}");
    let intermediate = pebble.intermediate_pem().await;
    assert!(intermediate.starts_with("-----BEGIN CERTIFICATE-----"));
    assert_ne!(root, intermediate);
}

#[tokio::test]
async fn the_shared_pebble_works_from_another_runtime() {
    let pebble = Pebble::shared();
    assert_eq!(pebble.directory_url(), Pebble::shared().directory_url());
    assert!(pebble.root_pem().await.contains("CERTIFICATE"));
}

#[tokio::test]
async fn unknown_serials_have_no_status() {
    let _ = Pebble::shared();
    let result = tokio::spawn(async { Pebble::shared().cert_status("abcdef0123").await }).await;
    let panic = result
        .expect_err("an unknown serial must panic")
        .into_panic();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("answered 404"), "{message}");
}

#[tokio::test]
async fn builder_sets_eab_and_env() {
    let pebble = Pebble::builder()
        .eab_keys(&[(
            "kid-1",
            "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W",
        )])
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .start();
    let dir = directory(&pebble).await;
    assert_eq!(dir["meta"]["externalAccountRequired"], true, "{dir}");
}

/// A DNS query for `name`'s TXT records.
fn txt_query(id: u16, name: &str) -> Vec<u8> {
    let mut query = id.to_be_bytes().to_vec();
    // Recursion desired; one question.
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 16, 0, 1]);
    query
}

/// The answer count and the raw response of a TXT query.
fn ask_txt(dns_port: u16, name: &str) -> (u16, Vec<u8>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
        .send_to(&txt_query(0x4242, name), ("127.0.0.1", dns_port))
        .unwrap();
    let mut buf = [0u8; 1500];
    let n = socket.recv(&mut buf).expect("DNS answer");
    let response = buf[..n].to_vec();
    assert_eq!(&response[..2], &[0x42, 0x42]);
    (u16::from_be_bytes([response[6], response[7]]), response)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn set_txt_is_served_by_dns_and_clear_txt_removes_it() {
    let pebble = Pebble::shared();
    let name = "_acme-challenge.txt-test.example.com";
    pebble.set_txt(name, "the-txt-value").await;
    let (answers, response) = ask_txt(pebble.dns_port(), name);
    assert_eq!(answers, 1);
    assert!(contains(&response, b"the-txt-value"));
    pebble.clear_txt(name).await;
    let (answers, _) = ask_txt(pebble.dns_port(), name);
    assert_eq!(answers, 0);
    // Other record kinds are accepted too.
    pebble.add_a("a-test.example.com", "127.0.0.2").await;
    pebble.add_aaaa("a-test.example.com", "::1").await;
}

async fn http_get(port: u16, path: &str) -> http::Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    http::parse_response(&raw).unwrap()
}

#[tokio::test]
async fn http01_responder_answers_registered_tokens_only() {
    let pebble = Pebble::shared();
    let port = pebble.http_port();
    pebble.http01().add("tok-123", "tok-123.thumbprint");
    let found = http_get(port, "/.well-known/acme-challenge/tok-123").await;
    assert_eq!(
        (found.status, found.text().as_str()),
        (200, "tok-123.thumbprint")
    );
    let missing = http_get(port, "/.well-known/acme-challenge/other").await;
    assert_eq!(missing.status, 404);
    assert_eq!(http_get(port, "/elsewhere").await.status, 404);
    pebble.http01().remove("tok-123");
    let removed = http_get(port, "/.well-known/acme-challenge/tok-123").await;
    assert_eq!(removed.status, 404);
}

#[tokio::test]
async fn tls_alpn_responder_presents_the_certificate_for_the_sni() {
    let pebble = Pebble::shared();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["alpn.example.com".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    pebble.tls_alpn01().add(
        "ALPN.example.com.",
        leaf.der().to_vec(),
        key.serialize_der(),
    );

    let mut config = http::client_config(ca.der()).unwrap();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let connect = |name: &'static str| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(("127.0.0.1", pebble.tls_port())).await?;
            connector
                .connect(ServerName::try_from(name).unwrap(), tcp)
                .await
        }
    };
    let tls = connect("alpn.example.com").await.expect("handshake");
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), Some(&b"acme-tls/1"[..]));
    let presented: Vec<CertificateDer<'_>> = session.peer_certificates().unwrap().to_vec();
    assert_eq!(presented[0].as_ref(), leaf.der().as_ref());
    drop(tls);

    assert!(connect("unknown.example.com").await.is_err());
    pebble.tls_alpn01().remove("alpn.example.com");
    assert!(connect("alpn.example.com").await.is_err());
}

#[tokio::test]
async fn two_pebbles_run_at_once() {
    let (a, b) = (Pebble::start(), Pebble::start());
    assert_ne!(a.directory_url(), b.directory_url());
    assert_ne!(a.http_port(), b.http_port());
    assert_ne!(a.dns_port(), b.dns_port());
    let (dir_a, dir_b) = (directory(&a).await, directory(&b).await);
    assert!(dir_a["newOrder"]
        .as_str()
        .unwrap()
        .contains(&a.directory_url()[..20]));
    assert!(dir_b["newOrder"].is_string());
    assert_ne!(a.root_pem().await, b.root_pem().await);
}

#[test]
fn drop_kills_and_reaps_everything() {
    let pebble = Pebble::start();
    let dns = format!("127.0.0.1:{}", pebble.dns_port());
    let ports = [
        port_of(&pebble.directory_url()),
        port_of(&pebble.management_url()),
        port_of(&pebble.challtestsrv_url()),
        pebble.http_port(),
        pebble.tls_port(),
    ];
    // pebble and challtestsrv (the rest are their `sh` wrappers).
    let servers = || {
        processes_with(&dns)
            .into_iter()
            .filter(|p| !p.split_once(": ").unwrap().1.starts_with("sh "))
            .count()
    };
    assert_eq!(servers(), 2, "{:?}", processes_with(&dns));
    drop(pebble);
    assert_eq!(processes_with(&dns), Vec::<String>::new());
    for port in ports {
        wait_until(&format!("port {port} is closed"), || !accepts(port));
    }
}

const CHILD_ENV: &str = "ACMEKIT_TESTKIT_EXIT_CHILD";

/// Run by `servers_die_with_the_test_process` as a separate process.
#[test]
#[ignore = "run as a child process by servers_die_with_the_test_process"]
fn shared_pebble_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let pebble = Pebble::shared();
        println!(
            "CHILD dns={} acme={}",
            pebble.dns_port(),
            port_of(&pebble.directory_url())
        );
    }
}

#[test]
fn servers_die_with_the_test_process() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "tests::shared_pebble_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD "))
        .unwrap_or_else(|| panic!("no ports in {stdout}"));
    let mut ports = line
        .split(' ')
        .map(|kv| kv.split_once('=').unwrap().1.parse::<u16>().unwrap());
    let (dns, acme) = (ports.next().unwrap(), ports.next().unwrap());
    let needle = format!("127.0.0.1:{dns}");
    wait_until("the child's servers are gone", || {
        processes_with(&needle).is_empty()
    });
    assert!(!accepts(acme));
}

#[test]
fn missing_pebble_message_is_clear() {
    assert!(crate::process::NOT_INSTALLED.contains("apt-get install -y pebble"));
    assert!(crate::process::NOT_INSTALLED.contains("cargo xtask test"));
}
