//! The BIND harness (needs the Debian package `bind9`).

use super::{accepts, processes_matching, wait_until};
use crate::Bind;

#[test]
fn bind_serves_its_zone_and_dies_on_drop() {
    let bind = Bind::start();
    let (name, value) = Bind::FIXED_TXT;
    assert_eq!(bind.txt(name), vec![value.to_owned()]);
    assert!(bind.txt(&format!("nothing.{}", Bind::ZONE)).is_empty());

    let key = std::fs::read_to_string(bind.key_file()).unwrap();
    for part in ["hmac-sha256", bind.key_name(), bind.secret()] {
        assert!(key.contains(part), "{part} missing from {key}");
    }
    assert!(bind.secret().len() >= 40, "a 256-bit secret in base64");

    let dir = bind.dir().to_string_lossy().into_owned();
    let port = bind.port();
    let named = || {
        processes_matching(&[&dir, "named"])
            .into_iter()
            .filter(|p| !p.split_once(": ").unwrap().1.starts_with("sh "))
            .count()
    };
    assert_eq!(named(), 1, "{:?}", processes_matching(&[&dir, "named"]));
    drop(bind);
    wait_until("named is gone", || {
        processes_matching(&[&dir, "named"]).is_empty()
    });
    assert!(!accepts(port));
    assert!(!std::path::Path::new(&dir).exists());
}

#[test]
fn missing_bind_message_names_the_package() {
    let msg = crate::bind::NOT_INSTALLED;
    assert!(msg.contains("apt-get install -y bind9"), "{msg}");
}
