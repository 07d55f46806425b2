//! Host names as they arrive in SNI and in the configuration: one
//! canonical spelling, and a check that a certificate can be ordered for it.

use std::net::IpAddr;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_NAME: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;

/// The canonical form of a host name: ASCII lower case, no trailing dot.
///
/// `None` for anything this crate will not order a certificate for: IP
/// addresses, wildcards (they need dns-01), and names that are not
/// letters-digits-hyphens labels (international names must arrive in their
/// punycode form, as they do in SNI).
pub(crate) fn normalize(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_NAME || name.parse::<IpAddr>().is_ok() {
        return None;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= MAX_LABEL
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    name.split('.').all(label_ok).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn canonical_form() {
        assert_eq!(
            normalize("WWW.Example.COM.").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(
            normalize("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(normalize("localhost").as_deref(), Some("localhost"));
    }

    #[test]
    fn refuses_what_cannot_be_ordered() {
        for bad in [
            "",
            ".",
            "*.example.com",
            "127.0.0.1",
            "::1",
            "a..b",
            "-a.example",
            "a-.example",
            "bücher.example",
            "a_b.example",
            "a/b",
            "../etc",
            &"a".repeat(64),
            &format!("{}.example", "a.".repeat(130)),
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
