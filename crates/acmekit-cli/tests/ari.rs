//! `acmekit renew` follows the CA's renewal information (RFC 9773), against
//! acme2certifier (Pebble 2.4 has no renewalInfo).

use acmekit_testkit::{unique_name, Acme2Certifier};
use std::path::PathBuf;
use std::process::{Command, Output};

struct Setup {
    a2c: Acme2Certifier,
    state: PathBuf,
    ca: PathBuf,
}

impl Setup {
    fn new(force_window: bool) -> Setup {
        let a2c = Acme2Certifier::builder()
            .renewal_force(force_window)
            .start();
        let state = std::env::temp_dir().join(format!("acmekit-cli-ari-{}", unique_name()));
        let ca = state.with_extension("ca.pem");
        std::fs::write(&ca, a2c.listener_ca_pem()).unwrap();
        Setup { a2c, state, ca }
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
            .args([
                "--server",
                &self.a2c.directory_url(),
                "--ca-cert",
                self.ca.to_str().unwrap(),
            ])
            .args(["--state-dir", self.state.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "acmekit {args:?}: {out:?}");
        out
    }

    fn meta(&self, name: &str) -> serde_json::Value {
        let p = self.state.join("certificates").join(name).join("meta.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
        let _ = std::fs::remove_file(&self.ca);
    }
}

/// acme2certifier validates nothing in this configuration: `true` is a
/// hook that "publishes" every record.
const HOOK: &str = "true";

#[test]
fn renewal_waits_for_the_suggested_window() {
    let s = Setup::new(false);
    let name = unique_name();
    s.run(&["issue", "-d", &name, "--accept-tos", "--dns-hook", HOOK]);
    assert!(s.meta(&name)["ari_cert_id"].as_str().unwrap().contains('.'));
    let out = s.run(&["renew", "--all"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("not due (renewal suggested by the CA at"),
        "{stdout}"
    );
    let meta = s.meta(&name);
    let ari = &meta["ari"];
    assert!(ari["renew_at"].as_str().unwrap() >= ari["window_start"].as_str().unwrap());
    assert!(ari["renew_at"].as_str().unwrap() <= ari["window_end"].as_str().unwrap());
    // The picked time is kept across runs.
    s.run(&["renew", "--all"]);
    assert_eq!(s.meta(&name)["ari"]["renew_at"], ari["renew_at"]);
}

#[test]
fn renewal_inside_the_window_replaces_the_old_certificate() {
    let s = Setup::new(true);
    let name = unique_name();
    s.run(&["issue", "-d", &name, "--accept-tos", "--dns-hook", HOOK]);
    let old = s.meta(&name);
    let out = s.run(&["renew", "-d", &name]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("renewed"), "{stdout}");
    let new = s.meta(&name);
    assert_ne!(new["serial"], old["serial"]);
    assert_ne!(new["ari_cert_id"], old["ari_cert_id"]);
}
