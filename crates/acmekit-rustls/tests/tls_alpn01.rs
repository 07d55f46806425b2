//! The example server, on Pebble's tlsPort, gets its certificate through
//! tls-alpn-01; a rustls client and `openssl s_client` verify the chain
//! against Pebble's root and read the page.

mod common;

#[allow(dead_code)] // `main` and `USAGE` are the example's own
#[path = "../examples/https_server.rs"]
mod example;

use acmekit_testkit::{unique_name, verify_chain};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_server_gets_a_certificate_through_tls_alpn01() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let name = unique_name();
    let cache = temp_dir("tls-alpn01");
    std::fs::create_dir_all(&cache).unwrap();
    let ca_cert = cache.join("pebble-listener-ca.pem");
    std::fs::write(&ca_cert, pebble.listener_ca_pem()).unwrap();
    let args = example::Args::parse(
        [
            "--directory",
            &pebble.directory_url(),
            "--ca-cert",
            &ca_cert.to_string_lossy(),
            "--domain",
            &name,
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--cache",
            &cache.join("state").to_string_lossy(),
        ]
        .map(String::from),
    )
    .unwrap();
    let server = tokio::spawn(example::serve(args, https, None));

    // The first handshake waits for the certificate the server is getting.
    let client = client(&pebble).await;
    let tls = within("the first handshake", connect(&client, port, &name))
        .await
        .expect("handshake with the issued certificate");
    let chain = peer_chain(&tls);
    assert!(chain.len() >= 2, "leaf and intermediate");
    verify_chain(&chain, &pebble.root_pem().await, &[&name]).unwrap();
    let mut conn = http(tls).await;
    assert!(get(&mut conn, &name).await.contains(&name));

    within("openssl", openssl_verifies(&pebble, port, &name)).await;
    assert_eq!(orders(&pebble), 1);
    assert!(!server.is_finished(), "the server keeps serving");
    server.abort();
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn example_arguments() {
    let parse = |a: &[&str]| example::Args::parse(a.iter().map(|s| s.to_string()));
    let args = parse(&[
        "--directory=https://ca/dir",
        "--domain",
        "a",
        "--domain",
        "b",
    ])
    .unwrap();
    assert_eq!(args.domains, ["a", "b"]);
    assert_eq!(args.listen, "[::]:443");
    assert!(parse(&["--domain", "a"])
        .unwrap_err()
        .contains("--directory"));
    assert!(parse(&["--directory", "x"])
        .unwrap_err()
        .contains("--domain"));
    assert!(parse(&["--directory"])
        .unwrap_err()
        .contains("needs a value"));
    assert!(parse(&["--bogus", "1"])
        .unwrap_err()
        .contains("unknown option"));
}
