//! The real `acmekit` binary against a real Pebble: every solver, every
//! command, file modes, kill-and-rerun, and the error cases.

use acmekit_testkit::{unique_name, verify_chain, Pebble};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// One Pebble for this binary, validating http-01 and tls-alpn-01 on ports
/// the CLI's own standalone servers (or the test's webroot server) serve.
struct Env {
    pebble: Pebble,
    ca_file: PathBuf,
    http_port: u16,
    tls_port: u16,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let http_port = acmekit_testkit::ports::free_tcp_port();
        let tls_port = acmekit_testkit::ports::free_tcp_port();
        let pebble = Pebble::builder()
            .validation_ports(http_port, tls_port)
            .start();
        let ca_file =
            std::env::temp_dir().join(format!("acmekit-cli-test-ca-{}.pem", std::process::id()));
        std::fs::write(&ca_file, pebble.listener_ca_pem()).unwrap();
        Env {
            pebble,
            ca_file,
            http_port,
            tls_port,
        }
    })
}

/// Tests that bind Pebble's validation ports take turns.
fn port_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

struct State(PathBuf);

impl State {
    fn new() -> State {
        let dir = std::env::temp_dir().join(format!("acmekit-cli-state-{}", unique_name()));
        State(dir)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn acmekit(state: &State, args: &[&str]) -> Command {
    let e = env();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmekit"));
    cmd.arg("--server")
        .arg(e.pebble.directory_url())
        .arg("--ca-cert")
        .arg(&e.ca_file)
        .arg("--state-dir")
        .arg(&state.0)
        .args(args)
        .env_remove("ACMEKIT_SERVER")
        .stdin(Stdio::null());
    cmd
}

fn run(state: &State, args: &[&str]) -> Output {
    acmekit(state, args).output().expect("run acmekit")
}

fn ok(state: &State, args: &[&str]) -> String {
    let out = run(state, args);
    assert!(
        out.status.success(),
        "acmekit {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(state: &State, args: &[&str]) -> String {
    let out = run(state, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "acmekit {args:?} should fail: {out:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let last = stderr.lines().last().unwrap_or("").to_owned();
    assert!(
        last.starts_with("error: "),
        "one clear error line, got {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    last
}

fn http_flag() -> String {
    format!("127.0.0.1:{}", env().http_port)
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn check_certificate(state: &State, first: &str, names: &[&str]) {
    let dir = state
        .0
        .join("certificates")
        .join(first.replacen("*.", "_.", 1));
    for f in [
        "cert.pem",
        "chain.pem",
        "fullchain.pem",
        "key.pem",
        "meta.json",
    ] {
        assert!(dir.join(f).exists(), "{f} missing in {}", dir.display());
    }
    assert_eq!(mode(&dir.join("key.pem")), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert!(!dir.join("pending.json").exists());
    let full = std::fs::read_to_string(dir.join("fullchain.pem")).unwrap();
    let chain = acmekit::CertificateChain::from_pem(&full).unwrap();
    let ders: Vec<Vec<u8>> = chain.certificates().iter().map(|c| c.to_vec()).collect();
    let root = block_on(env().pebble.root_pem());
    let covered: Vec<String> = names.iter().map(|n| n.replacen("*.", "x.", 1)).collect();
    let covered: Vec<&str> = covered.iter().map(String::as_str).collect();
    verify_chain(&ders, &root, &covered).unwrap();
    // The key on disk matches the certificate.
    let key =
        acmekit::CertificateKey::from_pem(&std::fs::read_to_string(dir.join("key.pem")).unwrap())
            .unwrap();
    let csr = key
        .csr_der(&[acmekit::Identifier::dns("x.example")])
        .unwrap();
    assert!(!csr.is_empty());
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

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

/// A dns hook writing through challtestsrv's management API.
fn dns_hook_script(state: &State, extra: &str) -> String {
    let script = state.0.with_extension("hook.sh");
    let url = env().pebble.challtestsrv_url();
    let body = format!(
        r#"#!/bin/sh
{extra}
case "$1" in
  present) path=set-txt; data="{{\"host\":\"$2.\",\"value\":\"$3\"}}" ;;
  cleanup) path=clear-txt; data="{{\"host\":\"$2.\"}}" ;;
esac
python3 -c 'import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST"))' "{url}/$path" "$data"
"#
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.to_string_lossy().into_owned()
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
