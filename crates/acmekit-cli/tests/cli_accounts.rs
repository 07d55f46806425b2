//! `acmekit revoke` and the account commands against a real Pebble;
//! external account binding against a Pebble that requires it.

mod common;

use acmekit_testkit::{unique_name, Pebble};
use common::*;

#[test]
fn revoke_marks_the_certificate_and_renew_replaces_it() {
    let state = State::new();
    let name = unique_name();
    let hook = dns_hook_script(&state, "");
    ok(
        &state,
        &["issue", "-d", &name, "--accept-tos", "--dns-hook", &hook],
    );
    let meta_path = state.0.join("certificates").join(&name).join("meta.json");
    let meta = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let serial = meta(&meta_path)["serial"].as_str().unwrap().to_owned();

    let line = fails(
        &state,
        &["revoke", "-d", &name, "--reason", "becauseISaidSo"],
    );
    assert!(
        line.contains("keyCompromise"),
        "the error lists the reasons: {line}"
    );

    let out = ok(
        &state,
        &["revoke", "-d", &name, "--reason", "keyCompromise"],
    );
    assert!(out.contains("revoked"), "{out}");
    let status = block_on(env().pebble.cert_status(&serial));
    assert_eq!(status["Status"], "Revoked", "{status}");
    assert!(meta(&meta_path)["revoked"].is_string());

    // Revoking twice: the CA's alreadyRevoked, in one line.
    let line = fails(&state, &["revoke", "-d", &name]);
    assert!(line.contains("alreadyRevoked"), "{line}");

    // A revoked certificate is due: renew replaces it.
    let out = ok(&state, &["renew", "--all"]);
    assert!(out.contains("renewed"), "{out}");
    assert_ne!(meta(&meta_path)["serial"].as_str().unwrap(), serial);
    assert!(meta(&meta_path)["revoked"].is_null());
}

#[test]
fn revoke_with_the_certificate_key_when_no_account_is_stored() {
    let state = State::new();
    let name = unique_name();
    let hook = dns_hook_script(&state, "");
    ok(
        &state,
        &["issue", "-d", &name, "--accept-tos", "--dns-hook", &hook],
    );
    let serial = {
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(state.0.join("certificates").join(&name).join("meta.json"))
                .unwrap(),
        )
        .unwrap();
        m["serial"].as_str().unwrap().to_owned()
    };
    std::fs::remove_dir_all(state.0.join("accounts")).unwrap();
    ok(&state, &["revoke", "-d", &name, "--reason", "superseded"]);
    let status = block_on(env().pebble.cert_status(&serial));
    assert_eq!(status["Status"], "Revoked", "{status}");
}

#[test]
fn account_update_rollover_deactivate() {
    let state = State::new();
    ok(
        &state,
        &[
            "account",
            "register",
            "--accept-tos",
            "--email",
            "first@example.com",
        ],
    );
    let show = |s: &State| -> serde_json::Value {
        serde_json::from_str(&ok(s, &["--json", "account", "show"])).unwrap()
    };
    let before = show(&state);

    ok(
        &state,
        &["account", "update", "--email", "second@example.com"],
    );
    assert_eq!(show(&state)["contact"][0], "mailto:second@example.com");

    ok(&state, &["account", "rollover"]);
    let after = show(&state);
    assert_eq!(after["url"], before["url"], "same account");
    assert_ne!(after["thumbprint"], before["thumbprint"], "new key");
    let account_dir = std::fs::read_dir(state.0.join("accounts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(mode(&account_dir.join("key.pem")), 0o600);
    assert!(!account_dir.join("key-next.pem").exists());
    // The rolled-over account still issues.
    let hook = dns_hook_script(&state, "");
    ok(
        &state,
        &["issue", "-d", &unique_name(), "--dns-hook", &hook],
    );

    let out = ok(&state, &["account", "deactivate"]);
    assert!(out.contains("deactivated"), "{out}");
    let line = fails(&state, &["account", "show"]);
    assert!(line.contains("account register"), "{line}");
}

#[test]
fn external_account_binding_is_required_and_works() {
    // The MAC key from Pebble's example EAB configuration.
    let key = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let eab = Env::start(Pebble::builder().eab_keys(&[("kid-1", key)]));
    let state = State::new();
    let run = |args: &[&str]| acmekit_on(&eab, &state, args).output().unwrap();

    let out = run(&["account", "register", "--accept-tos"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--eab-kid") && err.contains("--eab-hmac-key"),
        "{err}"
    );

    let out = run(&[
        "account",
        "register",
        "--accept-tos",
        "--eab-kid",
        "kid-1",
        "--eab-hmac-key",
        "not base64!",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("base64url"),
        "{out:?}"
    );

    let out = run(&[
        "account",
        "register",
        "--accept-tos",
        "--eab-kid",
        "kid-1",
        "--eab-hmac-key",
        key,
    ]);
    assert!(out.status.success(), "{out:?}");
    let hook = dns_hook_script_on(&eab, &state, "");
    let name = unique_name();
    let out = run(&["issue", "-d", &name, "--dns-hook", &hook]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn preferred_chain_is_honoured() {
    let alt = Env::start(Pebble::builder().env("PEBBLE_ALTERNATE_ROOTS", "2"));
    let state = State::new();
    let roots: Vec<String> = (0..3).map(|n| block_on(alt.pebble.root_pem_n(n))).collect();
    let cn_of = |pem: &str| {
        let chain = acmekit::CertificateChain::from_pem(pem).unwrap();
        let subject = chain.info().subject;
        subject.trim_start_matches("CN=").to_owned()
    };
    let wanted = cn_of(&roots[2]);
    let hook = dns_hook_script_on(&alt, &state, "");
    let name = unique_name();
    let out = acmekit_on(
        &alt,
        &state,
        &[
            "issue",
            "-d",
            &name,
            "--accept-tos",
            "--dns-hook",
            &hook,
            "--preferred-chain",
            &wanted,
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let full = std::fs::read_to_string(
        state
            .0
            .join("certificates")
            .join(&name)
            .join("fullchain.pem"),
    )
    .unwrap();
    let chain = acmekit::CertificateChain::from_pem(&full).unwrap();
    let ders: Vec<Vec<u8>> = chain.certificates().iter().map(|c| c.to_vec()).collect();
    acmekit_testkit::verify_chain(&ders, &roots[2], &[&name]).unwrap();
}
