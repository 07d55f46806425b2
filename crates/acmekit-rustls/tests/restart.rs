//! A restart serves the stored certificate without any request to the CA;
//! the store's files are private.

mod common;

use acmekit_testkit::unique_name;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// (path, mode) of everything under `dir`, `dir` included.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(
        dir.display().to_string(),
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
    )];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(modes(&path));
        } else {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            out.push((path.display().to_string(), mode));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_serves_from_the_cache_without_the_ca() {
    let (https, port) = bind().await;
    let pebble = pebble(None, Some(port));
    let client = client(&pebble).await;
    let name = unique_name();
    let cache = temp_dir("restart");

    let acme = builder(&pebble)
        .domains([&name])
        .cache_dir(&cache)
        .build()
        .await
        .unwrap();
    let server = serve_https(acme.clone(), https);
    let tls = within("the first handshake", connect(&client, port, &name))
        .await
        .unwrap();
    let first = serial(&tls);
    drop(tls);
    server.abort();
    drop(acme);

    let files = modes(&cache);
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert!(
        names.iter().any(|p| p.ends_with("/account.json")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|p| p.ends_with(&format!("/{name}.pem"))),
        "{names:?}"
    );
    for (path, mode) in &files {
        let want = if Path::new(path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(*mode, want, "{path}");
    }

    // "Restart": a new manager on the same cache, with no request to the CA.
    let requests = pebble.request_count();
    let (https, port) = bind().await;
    let acme = builder(&pebble)
        .domains([&name])
        .cache_dir(&cache)
        .build()
        .await
        .unwrap();
    assert_eq!(
        acme.certificate(&name).map(|c| c.serial_hex),
        Some(first.clone()),
        "served from the cache as soon as build() returns"
    );
    let server = serve_https(acme.clone(), https);
    let tls = connect(&client, port, &name).await.unwrap();
    assert_eq!(serial(&tls), first);
    assert_eq!(get(&mut http(tls).await, &name).await, PAGE);
    assert_eq!(pebble.request_count(), requests, "no request to the CA");
    assert_eq!(orders(&pebble), 1);
    server.abort();
    let _ = std::fs::remove_dir_all(&cache);
}
