//! Accounts (RFC 8555 §7.3): create (with external account binding when
//! the CA asks for it), look up, fetch, and the saved credentials that let a
//! later process reuse an account. Updates, deactivation and key rollover
//! are in `account_update` and `key_change`; the orders list in
//! `orders_list`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

use crate::client::Client;
use crate::eab::ExternalAccountBinding;
use crate::error::{Error, Result};
use crate::jws::{Jws, KeyRef};
use crate::key::AccountKey;
use crate::types::AccountResource;

/// What to send in newAccount (RFC 8555 §7.3).
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct NewAccount {
    /// Contact URLs, e.g. `mailto:admin@example.com`.
    pub contact: Vec<String>,
    /// Agreement to the terms of service in the directory's `meta`.
    pub terms_of_service_agreed: bool,
    /// Only look up an existing account for the key; never create one.
    pub only_return_existing: bool,
    /// External account binding (RFC 8555 §7.3.4): the key ID and MAC key
    /// the CA gave, for CAs whose directory says `externalAccountRequired`.
    pub external_account_binding: Option<ExternalAccountBinding>,
}

impl NewAccount {
    /// A new account with these contacts, agreeing to the terms of service.
    pub fn agreeing_to_terms(contact: impl IntoIterator<Item = impl Into<String>>) -> Self {
        NewAccount {
            contact: contact.into_iter().map(Into::into).collect(),
            terms_of_service_agreed: true,
            only_return_existing: false,
            external_account_binding: None,
        }
    }

    /// Binds the new account to the CA account these credentials name
    /// (RFC 8555 §7.3.4).
    pub fn with_external_account_binding(mut self, binding: ExternalAccountBinding) -> Self {
        self.external_account_binding = Some(binding);
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewAccountPayload<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    contact: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    terms_of_service_agreed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    only_return_existing: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_account_binding: Option<Jws>,
}

/// What a later process needs to use an account without asking the server:
/// the directory, the account URL and the key. Serialize it to store it;
/// it holds the private key, so store it privately. `Debug` hides the key.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountCredentials {
    /// The directory URL of the server the account lives on.
    pub directory: String,
    /// The account URL (`kid`).
    pub url: String,
    /// The account key as PKCS#8 PEM.
    pub key_pem: String,
}

impl fmt::Debug for AccountCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountCredentials")
            .field("directory", &self.directory)
            .field("url", &self.url)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// An ACME account: a client, a key and the account URL. Cheap to clone;
/// all operations on orders, authorizations and certificates hang off it.
#[derive(Clone)]
pub struct Account {
    pub(crate) inner: Arc<AccountInner>,
}

pub(crate) struct AccountInner {
    pub(crate) client: Client,
    pub(crate) key: AccountKey,
    pub(crate) url: String,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("url", &self.inner.url)
            .field("key", &self.inner.key)
            .finish()
    }
}

impl Account {
    /// Creates an account (or returns the existing one for this key) with
    /// newAccount. Returns the account and the server's account object.
    ///
    /// When the directory says `externalAccountRequired` and `new` carries
    /// no binding, this fails with [`Error::ExternalAccountRequired`]
    /// before sending anything (lookups with `only_return_existing` need
    /// no binding and are sent).
    pub async fn create(
        client: &Client,
        key: AccountKey,
        new: &NewAccount,
    ) -> Result<(Account, AccountResource)> {
        let url = &client.directory().new_account;
        let required = client
            .directory()
            .meta
            .as_ref()
            .is_some_and(|m| m.external_account_required);
        // RFC 8555 §7.1.1: if externalAccountRequired "is present and set
        // to "true", then the CA requires that all newAccount requests
        // include an "externalAccountBinding" field": don't send one that
        // cannot succeed; say what is missing instead.
        if required && new.external_account_binding.is_none() && !new.only_return_existing {
            return Err(Error::ExternalAccountRequired {
                directory: client.directory_url().to_owned(),
            });
        }
        let binding = new
            .external_account_binding
            .as_ref()
            .map(|b| b.sign(key.jwk(), url))
            .transpose()?;
        let payload = serde_json::to_vec(&NewAccountPayload {
            contact: &new.contact,
            terms_of_service_agreed: new.terms_of_service_agreed,
            only_return_existing: new.only_return_existing,
            external_account_binding: binding,
        })
        .expect("payload serializes");
        let (resource, resp): (AccountResource, _) = client
            .post_json(&key, KeyRef::Jwk, url, Some(&payload))
            .await?;
        let Some(kid) = resp.location() else {
            return Err(Error::invalid(
                url,
                "newAccount reply has no Location header",
            ));
        };
        let account = Account::from_parts(client.clone(), key, kid.to_owned());
        Ok((account, resource))
    }

    /// Finds the existing account for `key` (onlyReturnExisting); the
    /// server answers `accountDoesNotExist` when there is none.
    pub async fn find_existing(
        client: &Client,
        key: AccountKey,
    ) -> Result<(Account, AccountResource)> {
        let new = NewAccount {
            only_return_existing: true,
            ..NewAccount::default()
        };
        Self::create(client, key, &new).await
    }

    /// Restores an account from saved credentials, without any request.
    /// The client must be for the same directory.
    pub fn from_credentials(client: &Client, creds: &AccountCredentials) -> Result<Account> {
        if creds.directory != client.directory_url() {
            return Err(Error::InvalidArgument(format!(
                "these account credentials belong to {}, not {}",
                creds.directory,
                client.directory_url()
            )));
        }
        let key = AccountKey::from_pem(&creds.key_pem)?;
        Ok(Account::from_parts(client.clone(), key, creds.url.clone()))
    }

    /// An account from its parts, without any request.
    pub fn from_parts(client: Client, key: AccountKey, url: String) -> Account {
        Account {
            inner: Arc::new(AccountInner { client, key, url }),
        }
    }

    /// The credentials to store for later processes. Holds the private key.
    pub fn credentials(&self) -> Result<AccountCredentials> {
        Ok(AccountCredentials {
            directory: self.inner.client.directory_url().to_owned(),
            url: self.inner.url.clone(),
            key_pem: self.inner.key.to_pem()?,
        })
    }

    /// Fetches the account object (POST-as-GET the account URL).
    pub async fn fetch(&self) -> Result<AccountResource> {
        Ok(self.post_json(&self.inner.url, None).await?.0)
    }

    /// The account URL (the JWS `kid`).
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The account key.
    pub fn key(&self) -> &AccountKey {
        &self.inner.key
    }

    /// The client this account talks through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Signed POST with this account's `kid`.
    pub(crate) async fn post(
        &self,
        url: &str,
        payload: Option<&[u8]>,
        accept: Option<&'static str>,
    ) -> Result<crate::http::HttpResponse> {
        self.inner
            .client
            .post(
                &self.inner.key,
                KeyRef::Kid(&self.inner.url),
                url,
                payload,
                accept,
            )
            .await
    }

    pub(crate) async fn post_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        payload: Option<&[u8]>,
    ) -> Result<(T, crate::http::HttpResponse)> {
        self.inner
            .client
            .post_json(&self.inner.key, KeyRef::Kid(&self.inner.url), url, payload)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8555 §7.3's newAccount payload shape; no `null`s, RFC spelling.
    #[test]
    fn new_account_payload() {
        let new = NewAccount::agreeing_to_terms(["mailto:cert-admin@example.org"]);
        let json = serde_json::to_string(&NewAccountPayload {
            contact: &new.contact,
            terms_of_service_agreed: new.terms_of_service_agreed,
            only_return_existing: new.only_return_existing,
            external_account_binding: None,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"contact":["mailto:cert-admin@example.org"],"termsOfServiceAgreed":true}"#
        );
        let json = serde_json::to_string(&NewAccountPayload {
            contact: &[],
            terms_of_service_agreed: false,
            only_return_existing: true,
            external_account_binding: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"onlyReturnExisting":true}"#);
    }

    /// RFC 8555 §7.3.4: the binding travels as `externalAccountBinding`, a
    /// flattened JWS object, beside the other newAccount members.
    #[test]
    fn new_account_payload_with_binding() {
        let key = AccountKey::generate(crate::KeyType::Es256).unwrap();
        let new = NewAccount::agreeing_to_terms(["mailto:a@example.org"])
            .with_external_account_binding(
                ExternalAccountBinding::new("kid-1", "c2VjcmV0").unwrap(),
            );
        assert!(!format!("{new:?}").contains("c2VjcmV0"));
        let binding = new
            .external_account_binding
            .as_ref()
            .unwrap()
            .sign(key.jwk(), "https://ca/new-acct")
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(
            &serde_json::to_vec(&NewAccountPayload {
                contact: &new.contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
                external_account_binding: Some(binding),
            })
            .unwrap(),
        )
        .unwrap();
        let eab = json["externalAccountBinding"].as_object().unwrap();
        let mut members: Vec<&str> = eab.keys().map(String::as_str).collect();
        members.sort();
        assert_eq!(members, ["payload", "protected", "signature"]);
        assert_eq!(json["termsOfServiceAgreed"], true);
    }

    #[test]
    fn credentials_debug_hides_the_key() {
        let c = AccountCredentials {
            directory: "https://d".into(),
            url: "https://d/acct/1".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----secret".into(),
        };
        assert!(!format!("{c:?}").contains("secret"));
    }
}
