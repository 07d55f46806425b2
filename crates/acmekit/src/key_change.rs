//! Account key rollover (RFC 8555 §7.3.5): a JWS signed by the new key,
//! inside a JWS signed by the old one.

use http::StatusCode;
use serde::Serialize;
use serde_json::value::RawValue;
use tracing::debug;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::jws::{self, Jws, KeyRef};
use crate::key::AccountKey;

/// The inner payload: `{"account": <kid>, "oldKey": <old JWK>}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyChangePayload<'a> {
    account: &'a str,
    old_key: &'a RawValue,
}

/// The inner JWS (RFC 8555 §7.3.5): signed by the new key, with `jwk` (the
/// new key) and the same `url` as the outer JWS (the keyChange URL), and
/// no `nonce` (the RFC: the inner JWS "MUST omit the "nonce" header
/// parameter").
fn inner_jws(
    account_url: &str,
    old_key: &AccountKey,
    new_key: &AccountKey,
    key_change_url: &str,
) -> Result<Jws> {
    let old_jwk = RawValue::from_string(old_key.jwk().to_json())
        .map_err(|e| Error::Key(format!("JWK serialization: {e}")))?;
    let payload = serde_json::to_vec(&KeyChangePayload {
        account: account_url,
        old_key: &old_jwk,
    })
    .expect("payload serializes");
    jws::sign(new_key, KeyRef::Jwk, None, key_change_url, Some(&payload))
}

impl Account {
    /// Replaces the account key with `new_key` (RFC 8555 §7.3.5) and
    /// returns a handle that signs with it.
    ///
    /// `self` (and its clones) keep the old key, which the server refuses
    /// from now on: replace them with the returned handle and store its
    /// [`Account::credentials`] at once. The account URL does not change.
    ///
    /// If the new key already belongs to an account, this fails with
    /// [`Error::KeyInUse`] and nothing changes. If the request fails in
    /// transit, the rollover may or may not have happened: look the
    /// account up with [`Account::find_existing`] and the new key to know.
    pub async fn change_key(&self, new_key: AccountKey) -> Result<Account> {
        if new_key.thumbprint() == self.key().thumbprint() {
            return Err(Error::InvalidArgument(
                "the new account key is the current one; generate a fresh key to roll over to"
                    .into(),
            ));
        }
        let url = &self.client().directory().key_change;
        let inner = inner_jws(self.url(), self.key(), &new_key, url)?;
        let payload = serde_json::to_vec(&inner).expect("JWS serializes");
        // Signed by the old key with its `kid`, like any other request; a
        // badNonce retry re-signs only this outer JWS (the inner one has no
        // nonce to go stale).
        let resp = self
            .client()
            .post_passing(
                self.key(),
                KeyRef::Kid(self.url()),
                url,
                Some(&payload),
                None,
                Some(StatusCode::CONFLICT),
            )
            .await?;
        // RFC 8555 §7.3.5: "If there is an existing account with the new key
        // provided, then the server SHOULD use status code 409 (Conflict)
        // and provide the URL of that account in the Location header field."
        if resp.status == StatusCode::CONFLICT {
            return Err(Error::KeyInUse {
                url: url.clone(),
                account: resp.location().map(str::to_owned),
            });
        }
        debug!(account = %self.url(), "account key rolled over");
        Ok(Account::from_parts(
            self.client().clone(),
            new_key,
            self.url().to_owned(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64_decode;
    use crate::key::{Jwk, KeyType};
    use crate::test_support::{decode_jws, scripted_account};
    use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    /// The outer request: signed by the old key with the account `kid` and
    /// a nonce, sent to keyChange; its payload is the inner JWS. The server
    /// answers 200 with no body (as Pebble does): the new handle has the
    /// new key and the same URL.
    #[tokio::test]
    async fn rollover_request_and_new_handle() {
        let (account, seen) = scripted_account(serde_json::json!({}), |req| {
            assert_eq!(req.url, "https://ca.test/key-change");
            (StatusCode::OK, vec![], String::new())
        })
        .await;
        let new_key = AccountKey::generate(KeyType::Ed25519).unwrap();
        let rolled = account.change_key(new_key.clone()).await.unwrap();
        assert_eq!(rolled.url(), account.url());
        assert_eq!(rolled.key().thumbprint(), new_key.thumbprint());
        assert_ne!(account.key().thumbprint(), new_key.thumbprint());

        let post = seen.lock().unwrap().last().unwrap().clone();
        let (outer, inner) = decode_jws(&post);
        assert_eq!(outer["kid"], "https://ca.test/acct/1");
        assert_eq!(outer["url"], "https://ca.test/key-change");
        assert_eq!(outer["alg"], "ES256");
        assert!(outer.get("nonce").is_some() && outer.get("jwk").is_none());
        let members: Vec<&String> = inner.as_object().unwrap().keys().collect();
        assert_eq!(members, ["payload", "protected", "signature"]);
    }

    /// RFC 8555 §7.3.5's 409 Conflict, with and without a problem document
    /// (Boulder sends one; the RFC requires only Location). Pebble 2.4
    /// answers 500 instead, so this is scripted.
    #[tokio::test]
    async fn conflict_is_key_in_use() {
        for body in [
            String::new(),
            r#"{"type":"urn:ietf:params:acme:error:malformed","detail":"New key is already in use for a different account","status":409}"#.to_owned(),
        ] {
            let (account, _) = scripted_account(serde_json::json!({}), move |_| {
                (
                    StatusCode::CONFLICT,
                    vec![
                        ("location", "https://ca.test/acct/2"),
                        ("content-type", "application/problem+json"),
                    ],
                    body.clone(),
                )
            })
            .await;
            let err = account
                .change_key(AccountKey::generate(KeyType::Es256).unwrap())
                .await
                .unwrap_err();
            match &err {
                Error::KeyInUse { url, account } => {
                    assert_eq!(url, "https://ca.test/key-change");
                    assert_eq!(account.as_deref(), Some("https://ca.test/acct/2"));
                }
                other => panic!("expected KeyInUse, got {other:?}"),
            }
            assert!(err.to_string().contains("https://ca.test/acct/2"), "{err}");
        }
    }

    #[tokio::test]
    async fn same_key_is_refused_before_sending() {
        let (account, seen) =
            scripted_account(serde_json::json!({}), |_| panic!("nothing is sent")).await;
        let before = seen.lock().unwrap().len();
        let err = account.change_key(account.key().clone()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(seen.lock().unwrap().len(), before);
    }

    /// RFC 8555 §7.3.5's example shape: the inner header holds `alg`, the
    /// new key's `jwk` and the keyChange `url`, no `nonce` and no `kid`;
    /// the payload names the account and the old key; the new key signed.
    #[test]
    fn rfc8555_7_3_5_inner_jws() {
        let old = AccountKey::generate(KeyType::Es384).unwrap();
        let new = AccountKey::generate(KeyType::Es256).unwrap();
        let account = "https://example.com/acme/acct/evOfKhNU60wg";
        let url = "https://example.com/acme/key-change";
        let jws = inner_jws(account, &old, &new, url).unwrap();

        let header: serde_json::Value =
            serde_json::from_slice(&b64_decode(&jws.protected).unwrap()).unwrap();
        let new_jwk: serde_json::Value = serde_json::from_str(&new.jwk().to_json()).unwrap();
        assert_eq!(
            header,
            serde_json::json!({ "alg": "ES256", "jwk": new_jwk, "url": url })
        );

        let payload: serde_json::Value =
            serde_json::from_slice(&b64_decode(&jws.payload).unwrap()).unwrap();
        let old_jwk: serde_json::Value = serde_json::from_str(&old.jwk().to_json()).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({ "account": account, "oldKey": old_jwk })
        );

        let Jwk::Ec { x, y, .. } = new.jwk() else {
            panic!("EC key")
        };
        let mut point = vec![4];
        point.extend(b64_decode(x).unwrap());
        point.extend(b64_decode(y).unwrap());
        let input = format!("{}.{}", jws.protected, jws.payload);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(input.as_bytes(), &b64_decode(&jws.signature).unwrap())
            .expect("signed by the new key");
    }
}
