//! dns-01 through RFC 2136 dynamic updates: the real `acmekit` binary
//! updates a real BIND 9 with TSIG-signed messages, and a real Pebble
//! resolves the TXT records through that BIND.

use acmekit_testkit::{unique_name, verify_chain, Bind, Pebble};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// One BIND and one Pebble resolving through it, for this binary.
struct Env {
    bind: Bind,
    pebble: Pebble,
    ca_file: PathBuf,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let bind = Bind::start();
        eprintln!("named started in {:?}", bind.started_in());
        let pebble = Pebble::builder().dns_server(bind.addr()).start();
        let ca_file = std::env::temp_dir().join(format!(
            "acmekit-rfc2136-test-ca-{}.pem",
            std::process::id()
        ));
        std::fs::write(&ca_file, pebble.listener_ca_pem()).unwrap();
        Env {
            bind,
            pebble,
            ca_file,
        }
    })
}

/// A state directory (and files beside it), removed at the end.
struct State(PathBuf);

impl State {
    fn new() -> State {
        State(std::env::temp_dir().join(format!("acmekit-rfc2136-state-{}", unique_name())))
    }

    /// A file next to the state directory.
    fn file(&self, suffix: &str, contents: &str) -> String {
        let path = self.0.with_extension(suffix);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        for suffix in ["key", "bad.key"] {
            let _ = std::fs::remove_file(self.0.with_extension(suffix));
        }
    }
}

/// `acmekit --server … --ca-cert … --state-dir … ARGS` against the shared
/// Pebble, or against `server` when given (for errors found before any
/// request).
fn run(state: &State, server: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_acmekit"));
    match server {
        Some(url) => cmd.arg("--server").arg(url),
        None => {
            let e = env();
            cmd.arg("--server")
                .arg(e.pebble.directory_url())
                .arg("--ca-cert")
                .arg(&e.ca_file)
        }
    };
    cmd.arg("--state-dir")
        .arg(&state.0)
        .args(args)
        .env_remove("ACMEKIT_SERVER")
        .env_remove("ACMEKIT_DNS_RFC2136")
        .env_remove("ACMEKIT_TSIG_KEY")
        .env_remove("ACMEKIT_DNS_ZONE")
        .stdin(Stdio::null())
        .output()
        .expect("run acmekit")
}

fn ok(state: &State, args: &[&str]) -> String {
    let out = run(state, None, args);
    assert!(
        out.status.success(),
        "acmekit {args:?} failed:\nstdout: {}\nstderr: {}\n--- named ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        env().bind.log()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail with exit code `code`; returns stderr's
/// last line (for code 1: the one `error: …` line).
fn fails_with(code: i32, state: &State, server: Option<&str>, args: &[&str]) -> String {
    let out = run(state, server, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "acmekit {args:?} should exit {code}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    if code == 1 {
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(lines.len(), 1, "one clear error line, got {stderr}");
        let last = stderr.lines().last().unwrap_or("");
        assert!(last.starts_with("error: "), "{stderr}");
        return last.to_owned();
    }
    stderr
}

fn bind_flag() -> String {
    env().bind.addr().to_string()
}

fn key_file() -> String {
    env().bind.key_file().to_string_lossy().into_owned()
}

/// A name in BIND's zone no test has used: `x<random>.acmekit.test`.
fn zone_name() -> String {
    let unique = unique_name();
    let label = unique.split('.').next().unwrap();
    format!("{label}.{}", Bind::ZONE)
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn check_chain(state: &State, first: &str, covered: &[&str]) {
    let full = std::fs::read_to_string(
        state
            .0
            .join("certificates")
            .join(first)
            .join("fullchain.pem"),
    )
    .unwrap();
    let chain = acmekit::CertificateChain::from_pem(&full).unwrap();
    let ders: Vec<Vec<u8>> = chain.certificates().iter().map(|c| c.to_vec()).collect();
    let root = block_on(env().pebble.root_pem());
    verify_chain(&ders, &root, covered).unwrap();
}

/// A name and its wildcard (two TXT values at one name, added and removed
/// concurrently); the records are gone afterwards; `renew` reuses the
/// solver from meta.json.
#[test]
fn issue_name_and_wildcard_through_bind_then_renew() {
    let state = State::new();
    let name = zone_name();
    let wildcard = format!("*.{name}");
    let out = ok(
        &state,
        &[
            "issue",
            "-d",
            &name,
            "-d",
            &wildcard,
            "--accept-tos",
            "--dns-rfc2136",
            &bind_flag(),
            "--tsig-key",
            &key_file(),
        ],
    );
    assert!(out.contains("certificate saved"), "{out}");
    let wildcard_covered = format!("x.{name}");
    check_chain(&state, &name, &[&name, &wildcard_covered]);
    let record = format!("_acme-challenge.{name}");
    assert_eq!(
        env().bind.txt(&record),
        Vec::<String>::new(),
        "cleanup left TXT records"
    );

    // meta.json keeps the solver (the key by absolute path, never the
    // secret) and `renew` uses it.
    let meta_path = state.0.join("certificates").join(&name).join("meta.json");
    let meta = std::fs::read_to_string(&meta_path).unwrap();
    assert!(!meta.contains(env().bind.secret()), "{meta}");
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    assert_eq!(meta["solver"]["dns_rfc2136"], bind_flag().as_str());
    assert_eq!(meta["solver"]["tsig_key"], key_file().as_str());
    let old_serial = meta["serial"].clone();
    let out = ok(&state, &["renew", "-d", &name, "--force"]);
    assert!(out.contains("renewed"), "{out}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert_ne!(meta["serial"], old_serial);
    assert!(env().bind.txt(&record).is_empty());
}

/// A key whose secret is not the server's: BIND answers NOTAUTH/BADSIG.
#[test]
fn a_wrong_tsig_secret_fails_with_one_clear_line() {
    let state = State::new();
    let name = zone_name();
    let real = std::fs::read_to_string(env().bind.key_file()).unwrap();
    let wrong = real.replace(
        env().bind.secret(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    );
    assert_ne!(real, wrong);
    let key = state.file("bad.key", &wrong);
    let server = bind_flag();
    let err = fails_with(1, &state, None, &issue_args(&name, &server, &key, &[]));
    assert!(err.contains("TSIG error BADSIG"), "{err}");
    assert!(err.contains(&bind_flag()), "{err}");
    assert!(err.contains(env().bind.key_name()), "{err}");

    // With the zone given there is no SOA query: the update itself fails.
    let args = issue_args(&name, &server, &key, &["--dns-zone", Bind::ZONE]);
    let err = fails_with(1, &state, None, &args);
    assert!(err.contains("DNS update to add TXT"), "{err}");
    assert!(err.contains("TSIG error BADSIG"), "{err}");

    // The right secret under another algorithm is another key: BADKEY.
    let other_algorithm = state.file("key", &real.replace("hmac-sha256", "hmac-sha512"));
    let args = issue_args(&name, &server, &other_algorithm, &[]);
    let err = fails_with(1, &state, None, &args);
    assert!(err.contains("TSIG error BADKEY"), "{err}");
    assert!(err.contains("hmac-sha512"), "{err}");
}

/// `issue -d NAME --accept-tos --dns-rfc2136 SERVER --tsig-key KEY EXTRA…`
fn issue_args<'a>(name: &'a str, server: &'a str, key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "issue",
        "-d",
        name,
        "--accept-tos",
        "--dns-rfc2136",
        server,
        "--tsig-key",
        key,
    ];
    args.extend_from_slice(extra);
    args
}

/// Zone discovery and update errors name the server and the RCODE.
#[test]
fn zones_the_server_does_not_serve_and_unreachable_servers() {
    let state = State::new();
    let outside = unique_name(); // x….example.com: not BIND's zone
    let (server, key) = (bind_flag(), key_file());
    let err = fails_with(1, &state, None, &issue_args(&outside, &server, &key, &[]));
    assert!(err.contains("cannot find the DNS zone"), "{err}");
    assert!(err.contains("--dns-zone"), "{err}");

    let args = issue_args(&outside, &server, &key, &["--dns-zone", "example.com"]);
    let err = fails_with(1, &state, None, &args);
    assert!(err.contains("NOTAUTH"), "{err}");
    assert!(err.contains("zone example.com"), "{err}");

    let closed = format!("127.0.0.1:{}", acmekit_testkit::ports::free_udp_tcp_port());
    let err = fails_with(1, &state, None, &issue_args(&outside, &closed, &key, &[]));
    assert!(err.contains(&closed), "{err}");
}

/// Problems found before any request: no server is needed.
#[test]
fn bad_key_files_and_flag_combinations_are_refused() {
    const NOWHERE: &str = "https://127.0.0.1:9/dir";
    const NAME: &str = "a.acmekit.test";
    const SERVER: &str = "127.0.0.1:53";
    let state = State::new();

    let missing = state.0.with_extension("missing.key");
    let missing = missing.to_string_lossy();
    let err = fails_with(
        1,
        &state,
        Some(NOWHERE),
        &issue_args(NAME, SERVER, &missing, &[]),
    );
    assert!(err.contains("cannot read the TSIG key file"), "{err}");
    assert!(err.contains("missing.key"), "{err}");

    let malformed = state.file(
        "key",
        "key \"k\" {\n\talgorithm hmac-md5;\n\tsecret \"c2VjcmV0\";\n};\n",
    );
    let err = fails_with(
        1,
        &state,
        Some(NOWHERE),
        &issue_args(NAME, SERVER, &malformed, &[]),
    );
    assert!(err.contains("not a usable BIND key file"), "{err}");
    assert!(
        err.contains("line 2: the algorithm hmac-md5 is not supported"),
        "{err}"
    );

    // Both dns-01 solvers, or no key: usage errors.
    let both = issue_args(NAME, SERVER, &malformed, &["--dns-hook", "true"]);
    let err = fails_with(2, &state, Some(NOWHERE), &both);
    assert!(err.contains("cannot be used with"), "{err}");
    let no_key = ["issue", "-d", NAME, "--dns-rfc2136", SERVER];
    let err = fails_with(2, &state, Some(NOWHERE), &no_key);
    assert!(err.contains("--tsig-key"), "{err}");
}
