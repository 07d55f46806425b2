//! Helpers shared by the CLI test binaries: a Pebble per binary, a state
//! directory per test, and running the real `acmekit` binary.
#![allow(dead_code)]

use acmekit_testkit::{unique_name, verify_chain, Pebble};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};

/// One Pebble for this binary, validating http-01 and tls-alpn-01 on ports
/// the CLI's own standalone servers (or the test's webroot server) serve.
pub struct Env {
    pub pebble: Pebble,
    pub ca_file: PathBuf,
    pub http_port: u16,
    pub tls_port: u16,
}

/// The binary's shared Pebble.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| Env::start(Pebble::builder()))
}

impl Env {
    /// Starts a Pebble from `builder`, validating on ports of its own.
    pub fn start(builder: acmekit_testkit::PebbleBuilder) -> Env {
        let http_port = acmekit_testkit::ports::free_tcp_port();
        let tls_port = acmekit_testkit::ports::free_tcp_port();
        let pebble = builder.validation_ports(http_port, tls_port).start();
        let ca_file =
            std::env::temp_dir().join(format!("acmekit-cli-test-ca-{}.pem", unique_name()));
        std::fs::write(&ca_file, pebble.listener_ca_pem()).unwrap();
        Env {
            pebble,
            ca_file,
            http_port,
            tls_port,
        }
    }
}

/// Tests that bind Pebble's validation ports take turns.
pub fn port_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct State(pub PathBuf);

impl State {
    pub fn new() -> State {
        let dir = std::env::temp_dir().join(format!("acmekit-cli-state-{}", unique_name()));
        State(dir)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn acmekit(state: &State, args: &[&str]) -> Command {
    acmekit_on(env(), state, args)
}

/// `acmekit` against the Pebble of `e`.
pub fn acmekit_on(e: &Env, state: &State, args: &[&str]) -> Command {
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

pub fn run(state: &State, args: &[&str]) -> Output {
    acmekit(state, args).output().expect("run acmekit")
}

pub fn ok(state: &State, args: &[&str]) -> String {
    let out = run(state, args);
    assert!(
        out.status.success(),
        "acmekit {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn fails(state: &State, args: &[&str]) -> String {
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

pub fn http_flag() -> String {
    format!("127.0.0.1:{}", env().http_port)
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn check_certificate(state: &State, first: &str, names: &[&str]) {
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

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A dns hook writing through challtestsrv's management API.
pub fn dns_hook_script(state: &State, extra: &str) -> String {
    dns_hook_script_on(env(), state, extra)
}

/// A dns hook for the Pebble of `e`.
pub fn dns_hook_script_on(e: &Env, state: &State, extra: &str) -> String {
    let script = state.0.with_extension("hook.sh");
    let url = e.pebble.challtestsrv_url();
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
