//! dns-persist-01 against draft-ietf-acme-dns-persist-02's own examples
//! (§3.1 Figure 1, §10.1–§10.6), plus the -00/-01 form servers deploy.

use super::*;

/// RFC 7638 §3.1's example thumbprint, used by draft -02 §10.2.
const THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const ACCOUNT_URL: &str = "https://ca.example/acct/123";
const HASHED: &str =
    "https://ca.example/account-hash/sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw";

/// Draft -02 §3.1 Figure 1 (and §10.1 step 1).
fn figure_1() -> Challenge {
    serde_json::from_str(
        r#"{
          "type": "dns-persist-01",
          "url": "https://ca.example/acme/authz/1234/0",
          "status": "pending",
          "issuerDomainNames": ["authority.example", "ca.example.net"]
        }"#,
    )
    .unwrap()
}

/// Draft -02 §10.3 Figure 6.
fn figure_6() -> DirectoryMeta {
    serde_json::from_str(
        r#"{
          "accountHashPrefix": "https://ca.example/account-hash/",
          "issuerDomainNames": ["authority.example", "ca.example.net"]
        }"#,
    )
    .unwrap()
}

/// The TXT character-strings of a draft figure, concatenated as the CA
/// reads them.
fn joined(strings: &[&str]) -> String {
    strings.concat()
}

/// Draft -02 §10.2: both hashed-URI test vectors.
#[test]
fn draft_10_2_hashed_uri_vectors() {
    let prefix = "https://ca.example/account-hash/";
    assert_eq!(
        dns_persist_account_uri(prefix, Some("example.com"), THUMBPRINT, ACCOUNT_URL).unwrap(),
        HASHED
    );
    // The name is normalized before hashing.
    assert_eq!(
        dns_persist_account_uri(prefix, Some("Example.COM."), THUMBPRINT, ACCOUNT_URL).unwrap(),
        HASHED
    );
    assert_eq!(
        dns_persist_account_uri(prefix, None, THUMBPRINT, ACCOUNT_URL).unwrap(),
        "https://ca.example/account-hash/sha-256/NpDnSwUthQK8zCgFdefYxAdAVPnygMLbs9US6oO-5ug"
    );
    assert!(
        dns_persist_account_uri(prefix, Some(&"a".repeat(256)), THUMBPRINT, ACCOUNT_URL).is_err()
    );
}

/// Draft -02 §10.1 (and §4.1 Figure 2, §10.3 Figure 7): the basic record.
#[test]
fn draft_10_1_basic_record() {
    let meta = figure_6();
    let record = dns_persist01(
        &figure_1(),
        &Identifier::dns("example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta),
    )
    .unwrap();
    assert_eq!(record.name, "_validation-persist.example.com");
    assert_eq!(record.issuer_domain_name, "authority.example");
    assert_eq!(record.account_uri, HASHED);
    assert_eq!(
        record.value(),
        joined(&[
            "authority.example;",
            " accounturi=https://ca.example/account-hash/",
            "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw",
        ])
    );
    assert_eq!(record.txt_strings(), vec![record.value()]);
}

/// Draft -02 §10.4 and §10.6: wildcard policy and persistUntil.
#[test]
fn draft_10_4_and_10_6_wildcard_and_persist_until() {
    let meta = figure_6();
    let mut record = dns_persist01(
        &figure_1(),
        &Identifier::dns("*.example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta),
    )
    .unwrap();
    // The record lives at the base domain and hashes the base domain.
    assert_eq!(record.name, "_validation-persist.example.com");
    assert!(record.wildcard);
    assert_eq!(
        record.value(),
        joined(&[
            "authority.example;",
            " accounturi=https://ca.example/account-hash/",
            "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw;",
            " policy=wildcard",
        ])
    );
    record.persist_until = Some(1_721_952_000);
    assert_eq!(
        record.value(),
        joined(&[
            "authority.example;",
            " accounturi=https://ca.example/account-hash/",
            "sha-256/5SQm7n6tPh2-PlLbCKGnViTXX5z19SCN4cPGQHSk-kw;",
            " policy=wildcard;",
            " persistUntil=1721952000",
        ])
    );
    // §10.5: persistUntil without the wildcard policy.
    record.wildcard = false;
    assert!(record.value().ends_with("-kw; persistUntil=1721952000"));
}

/// Drafts -00/-01, as deployed: `issuer-domain-names`, no
/// `accountHashPrefix`, and the account URL itself as `accounturi`.
#[test]
fn earlier_drafts_use_the_account_url() {
    let challenge: Challenge = serde_json::from_str(
        r#"{"type": "dns-persist-01", "url": "https://ca/c/1", "status": "pending",
            "issuer-domain-names": ["Letsencrypt.ORG."]}"#,
    )
    .unwrap();
    for meta in [None, Some(DirectoryMeta::default())] {
        let record = dns_persist01(
            &challenge,
            &Identifier::dns("WWW.Example.org"),
            THUMBPRINT,
            "https://ca/acct/7",
            meta.as_ref(),
        )
        .unwrap();
        assert_eq!(record.name, "_validation-persist.www.example.org");
        assert_eq!(
            record.value(),
            "letsencrypt.org; accounturi=https://ca/acct/7"
        );
    }
}

#[test]
fn issuer_choice_prefers_directory_names() {
    let challenge: Challenge = serde_json::from_str(
        r#"{"type": "dns-persist-01", "url": "https://ca/c/1", "status": "pending",
            "issuerDomainNames": ["per-challenge.example", "authority.example"]}"#,
    )
    .unwrap();
    let mut meta = figure_6();
    meta.issuer_domain_names = vec!["authority.example".into()];
    let record = dns_persist01(
        &challenge,
        &Identifier::dns("example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta),
    )
    .unwrap();
    assert_eq!(record.issuer_domain_name, "authority.example");
}

#[test]
fn malformed_challenges_are_refused() {
    let chall = |names: &str| -> Challenge {
        serde_json::from_str(&format!(
            r#"{{"type": "dns-persist-01", "url": "https://ca/c/1", "status": "pending"{names}}}"#
        ))
        .unwrap()
    };
    let eleven: Vec<String> = (0..11).map(|i| format!("\"ca{i}.example\"")).collect();
    for (members, why) in [
        ("", "no issuerDomainNames"),
        (r#", "issuerDomainNames": []"#, "0 entries"),
        (
            &format!(r#", "issuerDomainNames": [{}]"#, eleven.join(",")),
            "11 entries",
        ),
        (r#", "issuerDomainNames": "ca.example""#, "not an array"),
        (r#", "issuerDomainNames": [7]"#, "not a string"),
        (
            r#", "issuerDomainNames": ["ca example"]"#,
            "not an issuer domain name",
        ),
    ] {
        let err = dns_persist01(
            &chall(members),
            &Identifier::dns("example.com"),
            THUMBPRINT,
            ACCOUNT_URL,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("malformed") && err.contains(why),
            "{members}: {err}"
        );
    }

    // Draft -02 §3.2: D ⊆ C and, with caaIdentities, C ⊆ I.
    let mut meta = figure_6();
    meta.issuer_domain_names.push("other.example".into());
    let err = dns_persist01(
        &figure_1(),
        &Identifier::dns("example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("\"other.example\" is not offered"),
        "{err}"
    );
    let mut meta = figure_6();
    meta.caa_identities = vec!["authority.example".into()];
    let err = dns_persist01(
        &figure_1(),
        &Identifier::dns("example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta),
    )
    .unwrap_err();
    assert!(err.to_string().contains("caaIdentities"), "{err}");
    meta.caa_identities.push("CA.example.net".into());
    assert!(dns_persist01(
        &figure_1(),
        &Identifier::dns("example.com"),
        THUMBPRINT,
        ACCOUNT_URL,
        Some(&meta)
    )
    .is_ok());

    let err = dns_persist01(
        &figure_1(),
        &Identifier::parse("192.0.2.1"),
        THUMBPRINT,
        ACCOUNT_URL,
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("DNS names"), "{err}");
}

/// Draft -02 §9.1: a value over 255 octets is split into strings.
#[test]
fn long_values_split_into_txt_strings() {
    let record = DnsPersist01 {
        name: "_validation-persist.example.com".into(),
        issuer_domain_name: "authority.example".into(),
        account_uri: format!("https://ca.example/acct/{}", "x".repeat(400)),
        wildcard: true,
        persist_until: Some(1),
    };
    let strings = record.txt_strings();
    assert_eq!(strings.len(), 2);
    assert_eq!(strings[0].len(), 255);
    assert_eq!(strings.concat(), record.value());
}
