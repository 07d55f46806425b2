//! External account binding (RFC 8555 §7.3.4): the MAC-signed JWS that ties
//! a new ACME account to an account the CA already knows (ZeroSSL, Google
//! Trust Services, Sectigo, step-ca with EAB).

use aws_lc_rs::hmac;
use base64::Engine as _;
use serde::Serialize;
use std::fmt;

use crate::error::{Error, Result};
use crate::jws::{self, Jws};
use crate::key::Jwk;

/// The MAC algorithm of an external account binding (RFC 7518 §3.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// HMAC with SHA-256 (`HS256`), what CAs hand out unless they say
    /// otherwise. The default.
    #[default]
    Hs256,
    /// HMAC with SHA-384 (`HS384`).
    Hs384,
    /// HMAC with SHA-512 (`HS512`).
    Hs512,
}

impl MacAlgorithm {
    /// The JWS `alg` value.
    pub fn jws_alg(self) -> &'static str {
        match self {
            MacAlgorithm::Hs256 => "HS256",
            MacAlgorithm::Hs384 => "HS384",
            MacAlgorithm::Hs512 => "HS512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            MacAlgorithm::Hs256 => hmac::HMAC_SHA256,
            MacAlgorithm::Hs384 => hmac::HMAC_SHA384,
            MacAlgorithm::Hs512 => hmac::HMAC_SHA512,
        }
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.jws_alg())
    }
}

impl std::str::FromStr for MacAlgorithm {
    type Err = Error;
    /// Parses `HS256`, `HS384` or `HS512` (any case).
    fn from_str(s: &str) -> Result<Self> {
        [
            MacAlgorithm::Hs256,
            MacAlgorithm::Hs384,
            MacAlgorithm::Hs512,
        ]
        .into_iter()
        .find(|a| a.jws_alg().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown external account binding MAC algorithm {s:?}; use HS256, HS384 or HS512"
            ))
        })
    }
}

/// The credentials a CA gives for external account binding: a key
/// identifier and a MAC key, plus the MAC algorithm (HS256 unless the CA
/// says otherwise). Pass it in [`crate::NewAccount::external_account_binding`].
///
/// `Debug` shows the key ID and algorithm, never the MAC key.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalAccountBinding {
    kid: String,
    key: Vec<u8>,
    algorithm: MacAlgorithm,
}

impl fmt::Debug for ExternalAccountBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccountBinding")
            .field("kid", &self.kid)
            .field("key", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// The protected header of the binding JWS (RFC 8555 §7.3.4: `alg`, `kid`
/// and `url`; "The "nonce" field MUST NOT be present").
#[derive(Serialize)]
struct Protected<'a> {
    alg: &'a str,
    kid: &'a str,
    url: &'a str,
}

impl ExternalAccountBinding {
    /// Binding credentials from the key ID and the MAC key as the CA shows
    /// it: base64url (RFC 8555 §7.3.4: the CA "SHOULD provide the MAC key
    /// in base64url-encoded form"); trailing `=` padding is accepted. Uses
    /// HS256; see [`Self::with_algorithm`].
    pub fn new(kid: impl Into<String>, mac_key_base64url: &str) -> Result<Self> {
        let kid = kid.into();
        if kid.is_empty() {
            return Err(Error::InvalidArgument(
                "the external account binding key ID is empty; use the key ID your CA gave you"
                    .into(),
            ));
        }
        let encoded = mac_key_base64url.trim().trim_end_matches('=');
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| {
                // The key itself stays out of the message.
                Error::InvalidArgument(format!(
                    "the external account binding MAC key for key ID {kid:?} is not base64url; \
                     copy it exactly as your CA shows it"
                ))
            })?;
        if key.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "the external account binding MAC key for key ID {kid:?} is empty"
            )));
        }
        Ok(Self::from_raw_key(kid, key))
    }

    /// Binding credentials from an already decoded MAC key. Uses HS256.
    pub fn from_raw_key(kid: impl Into<String>, mac_key: impl Into<Vec<u8>>) -> Self {
        ExternalAccountBinding {
            kid: kid.into(),
            key: mac_key.into(),
            algorithm: MacAlgorithm::default(),
        }
    }

    /// Uses another MAC algorithm (HS384 or HS512), when the CA says so.
    pub fn with_algorithm(mut self, algorithm: MacAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The key identifier the CA gave.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The MAC algorithm.
    pub fn algorithm(&self) -> MacAlgorithm {
        self.algorithm
    }

    /// The `externalAccountBinding` JWS for a newAccount request to `url`
    /// whose account key is `account_jwk` (RFC 8555 §7.3.4: the payload is
    /// the account's JWK; `url` is the newAccount URL of the outer JWS).
    pub(crate) fn sign(&self, account_jwk: &Jwk, url: &str) -> Result<Jws> {
        let protected = serde_json::to_vec(&Protected {
            alg: self.algorithm.jws_alg(),
            kid: &self.kid,
            url,
        })
        .map_err(|e| Error::Key(format!("EAB header serialization: {e}")))?;
        mac_jws(
            self.algorithm,
            &self.key,
            &protected,
            account_jwk.to_json().as_bytes(),
        )
    }
}

/// A flattened JWS MAC-ed with `key`.
fn mac_jws(alg: MacAlgorithm, key: &[u8], protected: &[u8], payload: &[u8]) -> Result<Jws> {
    let key = hmac::Key::new(alg.hmac(), key);
    jws::assemble(protected, payload, |input| {
        Ok(hmac::sign(&key, input).as_ref().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64_decode;
    use crate::key::{AccountKey, KeyType};

    /// RFC 7515 Appendix A.1: the HS256 example, byte for byte.
    #[test]
    fn rfc7515_a_1_hs256() {
        let key = b64_decode(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
        )
        .unwrap();
        let jws = mac_jws(
            MacAlgorithm::Hs256,
            &key,
            b"{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
            b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}",
        )
        .unwrap();
        assert_eq!(jws.protected, "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
        assert_eq!(
            jws.payload,
            "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
        );
        assert_eq!(jws.signature, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    }

    /// RFC 4231 §4.3 (test case 2): each algorithm maps to its HMAC.
    #[test]
    fn rfc4231_test_case_2_per_algorithm() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        for (alg, expected) in [
            (MacAlgorithm::Hs256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
            (MacAlgorithm::Hs384, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649"),
            (MacAlgorithm::Hs512, "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"),
        ] {
            let key = hmac::Key::new(alg.hmac(), b"Jefe");
            let tag = hmac::sign(&key, b"what do ya want for nothing?");
            assert_eq!(hex(tag.as_ref()), expected, "{alg}");
        }
    }

    /// RFC 8555 §7.3.4's binding: protected {alg, kid, url} without a
    /// nonce, the account JWK as payload, a MAC that verifies.
    #[test]
    fn rfc8555_7_3_4_binding_shape() {
        let account = AccountKey::generate(KeyType::Es256).unwrap();
        let url = "https://example.com/acme/new-account";
        for (alg, len) in [
            (MacAlgorithm::Hs256, 32),
            (MacAlgorithm::Hs384, 48),
            (MacAlgorithm::Hs512, 64),
        ] {
            let eab = ExternalAccountBinding::new("kid-1", "c2VjcmV0LWtleS1ieXRlcw")
                .unwrap()
                .with_algorithm(alg);
            let jws = eab.sign(account.jwk(), url).unwrap();
            let header: serde_json::Value =
                serde_json::from_slice(&b64_decode(&jws.protected).unwrap()).unwrap();
            assert_eq!(
                header,
                serde_json::json!({ "alg": alg.jws_alg(), "kid": "kid-1", "url": url })
            );
            assert_eq!(
                b64_decode(&jws.payload).unwrap(),
                account.jwk().to_json().as_bytes()
            );
            let mac = b64_decode(&jws.signature).unwrap();
            assert_eq!(mac.len(), len);
            let key = hmac::Key::new(alg.hmac(), b"secret-key-bytes");
            let input = format!("{}.{}", jws.protected, jws.payload);
            hmac::verify(&key, input.as_bytes(), &mac).expect("MAC verifies");
        }
    }

    #[test]
    fn mac_key_parsing_and_debug() {
        let plain = ExternalAccountBinding::new("k", "c2VjcmV0").unwrap();
        let padded = ExternalAccountBinding::new("k", "c2VjcmV0=\n").unwrap();
        assert_eq!(plain, padded);
        assert_eq!(plain.algorithm(), MacAlgorithm::Hs256);
        assert_eq!(plain.kid(), "k");
        let shown = format!("{plain:?}");
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("secret"),
            "{shown}"
        );
        assert!(shown.contains("<redacted>"));

        for bad in ["not base64!", "", "===="] {
            let err = ExternalAccountBinding::new("kid-9", bad).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{bad}: {err}");
            assert!(err.to_string().contains("kid-9"), "{err}");
        }
        let err = ExternalAccountBinding::new("k", "secret?value").unwrap_err();
        assert!(
            !err.to_string().contains("secret"),
            "the key stays out: {err}"
        );
        assert!(ExternalAccountBinding::new("", "c2VjcmV0").is_err());
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(
            "hs384".parse::<MacAlgorithm>().unwrap(),
            MacAlgorithm::Hs384
        );
        assert_eq!(
            "HS512".parse::<MacAlgorithm>().unwrap(),
            MacAlgorithm::Hs512
        );
        assert!("RS256".parse::<MacAlgorithm>().is_err());
        assert_eq!(MacAlgorithm::default().to_string(), "HS256");
    }
}
