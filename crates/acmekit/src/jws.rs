//! Flattened JWS JSON serialization (RFC 7515 §7.2.2) as ACME uses it
//! (RFC 8555 §6.2): `alg`, `nonce`, `url`, and either `jwk` or `kid`.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::b64;
use crate::error::{Error, Result};
use crate::key::AccountKey;

/// How the JWS names its key (RFC 8555 §6.2: `jwk` for newAccount and
/// revocation by certificate key, `kid` for everything else).
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeyRef<'a> {
    Jwk,
    Kid(&'a str),
}

#[derive(Serialize)]
struct Protected<'a> {
    alg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwk: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    url: &'a str,
}

/// A flattened JWS ready to send.
#[derive(Serialize)]
pub(crate) struct Jws {
    pub(crate) protected: String,
    pub(crate) payload: String,
    pub(crate) signature: String,
}

/// Signs `payload` (`None` for POST-as-GET, which has an empty payload).
pub(crate) fn sign(
    key: &AccountKey,
    key_ref: KeyRef<'_>,
    nonce: Option<&str>,
    url: &str,
    payload: Option<&[u8]>,
) -> Result<Jws> {
    let jwk_json;
    let jwk = match key_ref {
        KeyRef::Jwk => {
            jwk_json = RawValue::from_string(key.jwk().to_json())
                .map_err(|e| Error::Key(format!("JWK serialization: {e}")))?;
            Some(&*jwk_json)
        }
        KeyRef::Kid(_) => None,
    };
    let protected = Protected {
        alg: key.key_type().jws_alg(),
        jwk,
        kid: match key_ref {
            KeyRef::Kid(k) => Some(k),
            KeyRef::Jwk => None,
        },
        nonce,
        url,
    };
    let protected = serde_json::to_vec(&protected)
        .map_err(|e| Error::Key(format!("JWS header serialization: {e}")))?;
    sign_raw(key, &protected, payload.unwrap_or_default())
}

/// Signs a protected header and payload given as bytes.
pub(crate) fn sign_raw(key: &AccountKey, protected: &[u8], payload: &[u8]) -> Result<Jws> {
    assemble(protected, payload, |input| key.sign(input))
}

/// Encodes header and payload, computes the signature (or MAC) over the
/// JWS signing input `base64url(protected) || '.' || base64url(payload)`
/// (RFC 7515 §5.1) with `sign`, and assembles the flattened JWS.
pub(crate) fn assemble(
    protected: &[u8],
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>>,
) -> Result<Jws> {
    let protected = b64(protected);
    let payload = b64(payload);
    let mut input = String::with_capacity(protected.len() + 1 + payload.len());
    input.push_str(&protected);
    input.push('.');
    input.push_str(&payload);
    let signature = b64(&sign(input.as_bytes())?);
    Ok(Jws {
        protected,
        payload,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64_decode;
    use crate::key::KeyType;

    /// RFC 8037 Appendix A.3 (thumbprint) and A.4 (Ed25519 signature).
    #[test]
    fn rfc8037_ed25519_example() {
        let seed = b64_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
        let key = AccountKey::ed25519_from_seed(&seed);
        assert_eq!(
            key.jwk().to_json(),
            r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
        );
        assert_eq!(
            key.thumbprint(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
        let jws = sign_raw(&key, br#"{"alg":"EdDSA"}"#, b"Example of Ed25519 signing").unwrap();
        assert_eq!(jws.protected, "eyJhbGciOiJFZERTQSJ9");
        assert_eq!(jws.payload, "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        assert_eq!(
            jws.signature,
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn header_members() {
        let key = AccountKey::generate(KeyType::Es256).unwrap();
        let jws = sign(&key, KeyRef::Jwk, Some("n1"), "https://x/acct", Some(b"{}")).unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&b64_decode(&jws.protected).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["nonce"], "n1");
        assert_eq!(header["url"], "https://x/acct");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert!(header.get("kid").is_none());
        assert_eq!(b64_decode(&jws.signature).unwrap().len(), 64);

        let jws = sign(
            &key,
            KeyRef::Kid("https://x/acct/1"),
            Some("n2"),
            "https://x/o",
            None,
        )
        .unwrap();
        let header: serde_json::Value =
            serde_json::from_slice(&b64_decode(&jws.protected).unwrap()).unwrap();
        assert_eq!(header["kid"], "https://x/acct/1");
        assert!(header.get("jwk").is_none());
        assert_eq!(jws.payload, "", "POST-as-GET has an empty payload");
    }
}
