//! The real `acmekit` binary against a real Pebble: every solver, every
//! command, file modes, kill-and-rerun, and the error cases.

mod common;

use acmekit_testkit::unique_name;
use common::*;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn issue_with_standalone_http01_then_idempotent_then_forced() {
    let _ports = port_lock();
    let state = State::new();
    let name = unique_name();
    let out = ok(
        &state,
        &[
            "issue",
            "-d",
            &name,
            "--accept-tos",
            "--email",
            "ops@example.com",
            "--http",
            &http_flag(),
        ],
    );
    assert!(out.contains("certificate saved"), "{out}");
    check_certificate(&state, &name, &[&name]);
    let accounts = state.0.join("accounts");
    let account_dir = std::fs::read_dir(&accounts)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&account_dir.join("key.pem")), 0o600);
    assert_eq!(mode(&account_dir), 0o700);

    // Again: nothing to do.
    let out = ok(&state, &["issue", "-d", &name, "--http", &http_flag()]);
    assert!(out.contains("nothing to do"), "{out}");
    let meta = |s: &State| {
        std::fs::read_to_string(s.0.join("certificates").join(&name).join("meta.json")).unwrap()
    };
    let before = meta(&state);
    // --force issues anew.
    ok(
        &state,
        &["issue", "-d", &name, "--http", &http_flag(), "--force"],
    );
    assert_ne!(meta(&state), before);
}

#[test]
fn issue_with_standalone_tls_alpn01() {
    let _ports = port_lock();
    let state = State::new();
    let name = unique_name();
    let tls = format!("127.0.0.1:{}", env().tls_port);
    ok(
        &state,
        &["issue", "-d", &name, "--accept-tos", "--tls-alpn", &tls],
    );
    check_certificate(&state, &name, &[&name]);
}

/// A tiny static web server over the webroot, on Pebble's http port.
fn serve_webroot(root: PathBuf, port: u16) -> std::thread::JoinHandle<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline && !root.join("STOP").exists() {
            match listener.accept() {
                Ok((mut s, _)) => {
                    use std::io::{Read, Write};
                    s.set_nonblocking(false).unwrap();
                    let mut buf = [0u8; 4096];
                    let n = s.read(&mut buf).unwrap_or(0);
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let path = req
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/')
                        .to_owned();
                    let resp = match std::fs::read(root.join(&path)) {
                        Ok(body) => {
                            let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).into_bytes();
                            r.extend(body);
                            r
                        }
                        Err(_) => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = s.write_all(&resp);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    })
}

#[test]
fn issue_with_webroot() {
    let _ports = port_lock();
    let state = State::new();
    let root = state.0.with_extension("www");
    std::fs::create_dir_all(&root).unwrap();
    let server = serve_webroot(root.clone(), env().http_port);
    let name = unique_name();
    ok(
        &state,
        &[
            "issue",
            "-d",
            &name,
            "--accept-tos",
            "--webroot",
            root.to_str().unwrap(),
        ],
    );
    check_certificate(&state, &name, &[&name]);
    // Cleanup removed the challenge file.
    let left: Vec<_> = std::fs::read_dir(root.join(".well-known/acme-challenge"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
    std::fs::write(root.join("STOP"), "").unwrap();
    server.join().unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn issue_with_dns_hook_including_a_wildcard_then_list_and_json() {
    let state = State::new();
    let name = unique_name();
    let wildcard = format!("*.{name}");
    let hook = dns_hook_script(&state, "");
    ok(
        &state,
        &[
            "issue",
            "-d",
            &name,
            "-d",
            &wildcard,
            "--accept-tos",
            "--dns-hook",
            &hook,
        ],
    );
    check_certificate(&state, &name, &[&name, &wildcard]);

    let out = ok(&state, &["list"]);
    assert!(out.contains(&name) && out.contains("valid"), "{out}");
    let out = ok(&state, &["--json", "list"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["certificates"][0]["names"][1], wildcard.as_str());
    assert_eq!(doc["certificates"][0]["due"], false);
}

#[test]
fn renew_not_due_then_due_with_deploy_hook() {
    let state = State::new();
    let name = unique_name();
    let hook = dns_hook_script(&state, "");
    ok(
        &state,
        &["issue", "-d", &name, "--accept-tos", "--dns-hook", &hook],
    );
    let out = ok(&state, &["renew", "--all"]);
    assert!(out.contains("not due"), "{out}");

    // Make it due: a certificate whose last third of life has begun.
    let meta_path = state.0.join("certificates").join(&name).join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let old_serial = meta["serial"].clone();
    meta["not_before"] = "2020-01-01T00:00:00Z".into();
    meta["not_after"] = "2020-01-10T00:00:00Z".into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
    let marker = state.0.with_extension("deployed");
    let deploy = format!(
        "echo \"$ACMEKIT_NAMES $ACMEKIT_FULLCHAIN_PATH\" > {}",
        marker.display()
    );
    let out = ok(&state, &["renew", "--all", "--deploy-hook", &deploy]);
    assert!(out.contains("renewed"), "{out}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert_ne!(meta["serial"], old_serial);
    let deployed = std::fs::read_to_string(&marker).unwrap();
    assert!(
        deployed.contains(&name) && deployed.contains("fullchain.pem"),
        "{deployed}"
    );
    let _ = std::fs::remove_file(marker);
}

#[test]
fn account_register_and_show() {
    let state = State::new();
    let out = fails(&state, &["account", "show"]);
    assert!(out.contains("account register"), "{out}");
    ok(
        &state,
        &[
            "account",
            "register",
            "--accept-tos",
            "--email",
            "a@example.com",
        ],
    );
    let out = ok(&state, &["--json", "account", "show"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["status"], "valid");
    assert_eq!(doc["contact"][0], "mailto:a@example.com");
}

#[test]
fn killed_run_leaves_no_partial_file_and_rerun_finishes_the_order() {
    let state = State::new();
    let name = unique_name();
    // The first run's hook hangs in present: the order is placed and recorded.
    let slow = dns_hook_script(&state, "[ \"$1\" = present ] && sleep 60");
    let mut child = acmekit(
        &state,
        &["issue", "-d", &name, "--accept-tos", "--dns-hook", &slow],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let pending = state
        .0
        .join("certificates")
        .join(&name)
        .join("pending.json");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending.exists() {
        assert!(Instant::now() < deadline, "the order was never recorded");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let order_url =
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&pending).unwrap())
            .unwrap()["order_url"]
            .as_str()
            .unwrap()
            .to_owned();
    let dir = pending.parent().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let n = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.contains(".tmp"), "partial file {n} left behind");
    }
    assert!(!dir.join("cert.pem").exists());

    let state_hook = dns_hook_script(&State(state.0.with_extension("b")), "");
    let out = acmekit(&state, &["issue", "-d", &name, "--dns-hook", &state_hook])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Resuming the interrupted order"),
        "{stderr}"
    );
    check_certificate(&state, &name, &[&name]);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(
        meta["order_url"],
        order_url.as_str(),
        "the same order was finished"
    );
    let _ = std::fs::remove_file(state_hook);
}

#[test]
fn key_files_are_private_whatever_the_umask() {
    let state = State::new();
    let name = unique_name();
    let hook = dns_hook_script(&state, "");
    let e = env();
    let status = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_acmekit"))
        .args([
            "--server",
            &e.pebble.directory_url(),
            "--ca-cert",
            e.ca_file.to_str().unwrap(),
        ])
        .args([
            "--state-dir",
            state.0.to_str().unwrap(),
            "-q",
            "issue",
            "-d",
            &name,
            "--accept-tos",
            "--dns-hook",
            &hook,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let dir = state.0.join("certificates").join(&name);
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    assert_eq!(mode(&dir.join("meta.json")), 0o644);
    assert_eq!(mode(&state.0), 0o700);
}

#[test]
fn errors_are_one_clear_line() {
    let state = State::new();
    // Unreachable server.
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args([
            "--server",
            "https://127.0.0.1:1/dir",
            "--state-dir",
            state.0.to_str().unwrap(),
            "list",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "list needs no server");
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args([
            "--server",
            "https://127.0.0.1:1/dir",
            "--state-dir",
            state.0.to_str().unwrap(),
        ])
        .args(["issue", "-d", "a.example.com", "--dns-hook", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not reach the ACME server"), "{err}");

    // Terms not agreed.
    let hook = dns_hook_script(&state, "");
    let line = fails(
        &state,
        &["issue", "-d", &unique_name(), "--dns-hook", &hook],
    );
    assert!(
        line.contains("--accept-tos") || line.contains("terms"),
        "{line}"
    );

    // A name refused before anything is sent.
    let line = fails(
        &state,
        &[
            "issue",
            "-d",
            "bad..name.example",
            "--accept-tos",
            "--dns-hook",
            &hook,
        ],
    );
    assert!(
        line.contains("not a valid DNS name") && line.contains("empty label"),
        "{line}"
    );

    // A name Pebble refuses (underscores).
    let refused = format!("a_b.{}", unique_name());
    let line = fails(
        &state,
        &["issue", "-d", &refused, "--accept-tos", "--dns-hook", &hook],
    );
    assert!(
        line.contains("refused") && line.contains("illegal character"),
        "{line}"
    );

    // A hook that fails.
    let line = fails(
        &state,
        &[
            "issue",
            "-d",
            &unique_name(),
            "--accept-tos",
            "--dns-hook",
            "sh -c 'echo no credentials >&2; exit 3' x",
        ],
    );
    assert!(
        line.contains("dns hook") && line.contains("no credentials"),
        "{line}"
    );

    // No solver.
    let line = fails(&state, &["issue", "-d", &unique_name()]);
    assert!(line.contains("--http"), "{line}");

    // Unknown server name.
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args(["--server", "letsencrypt-stagin", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown server"));
}

#[test]
fn help_completions_and_man_page() {
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args(["issue", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--domain",
        "--http",
        "--webroot",
        "--tls-alpn",
        "--dns-hook",
        "--eab-kid",
        "--preferred-chain",
        "--deploy-hook",
        "--force",
    ] {
        assert!(help.contains(flag), "{flag} missing from issue --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("acmekit"));
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .arg("manpage")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH acmekit"));
}

#[test]
fn issue_with_a_caller_csr_and_with_an_rsa_key() {
    let state = State::new();
    let hook = dns_hook_script(&state, "");
    // A CSR made by openssl, with its own key that acmekit never sees.
    let name = unique_name();
    let key = state.0.with_extension("csr-key.pem");
    let csr = state.0.with_extension("csr.pem");
    let status = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .args([
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            csr.to_str().unwrap(),
        ])
        .args([
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            &format!("subjectAltName=DNS:{name}"),
        ])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    ok(
        &state,
        &[
            "issue",
            "-d",
            &name,
            "--csr",
            csr.to_str().unwrap(),
            "--accept-tos",
            "--dns-hook",
            &hook,
        ],
    );
    let dir = state.0.join("certificates").join(&name);
    assert!(dir.join("fullchain.pem").exists());
    assert!(
        !dir.join("key.pem").exists(),
        "no key is written when the CSR is the caller's"
    );

    let rsa_name = unique_name();
    ok(
        &state,
        &[
            "issue",
            "-d",
            &rsa_name,
            "--key-type",
            "rsa2048",
            "--dns-hook",
            &hook,
        ],
    );
    check_certificate(&state, &rsa_name, &[&rsa_name]);
    let pem = std::fs::read_to_string(state.0.join("certificates").join(&rsa_name).join("key.pem"))
        .unwrap();
    assert_eq!(
        acmekit::CertificateKey::from_pem(&pem).unwrap().key_type(),
        acmekit::KeyType::Rs256_2048
    );
    let _ = std::fs::remove_file(key);
    let _ = std::fs::remove_file(csr);
}
