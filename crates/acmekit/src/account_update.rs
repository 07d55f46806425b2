//! Changing an account (RFC 8555 §7.3.2) and deactivating it (§7.3.6).

use serde::Serialize;

use crate::account::Account;
use crate::error::Result;
use crate::types::AccountResource;

/// The account update payload. Only the members being changed are sent.
#[derive(Serialize)]
struct AccountUpdate<'a> {
    /// Sent even when empty: `[]` removes every contact.
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
}

impl AccountUpdate<'_> {
    fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("payload serializes")
    }
}

impl Account {
    /// Replaces the account's contact URLs (RFC 8555 §7.3.2) and returns
    /// the account object as the server now has it. An empty list removes
    /// every contact. The server may refuse a URL (`invalidContact`,
    /// `unsupportedContact`: most CAs take only `mailto:`).
    pub async fn update_contacts(
        &self,
        contact: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<AccountResource> {
        let contact: Vec<String> = contact.into_iter().map(Into::into).collect();
        let payload = AccountUpdate {
            contact: Some(&contact),
            status: None,
        }
        .to_vec();
        Ok(self.post_json(self.url(), Some(&payload)).await?.0)
    }

    /// Deactivates the account (RFC 8555 §7.3.6) and returns its final
    /// account object (status `deactivated`). This cannot be undone: the
    /// server refuses every later request signed for this account, usually
    /// with `unauthorized`, and will not create a new account for the key.
    pub async fn deactivate(&self) -> Result<AccountResource> {
        let payload = AccountUpdate {
            contact: None,
            status: Some("deactivated"),
        }
        .to_vec();
        Ok(self.post_json(self.url(), Some(&payload)).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8555 §7.3.2's update and §7.3.6's deactivation payloads.
    #[test]
    fn rfc8555_update_and_deactivation_payloads() {
        let contacts = ["mailto:certificates@example.org".to_owned()];
        let update = AccountUpdate {
            contact: Some(&contacts),
            status: None,
        };
        assert_eq!(
            update.to_vec(),
            br#"{"contact":["mailto:certificates@example.org"]}"#
        );
        let clear = AccountUpdate {
            contact: Some(&[]),
            status: None,
        };
        assert_eq!(clear.to_vec(), br#"{"contact":[]}"#);
        let deactivate = AccountUpdate {
            contact: None,
            status: Some("deactivated"),
        };
        assert_eq!(deactivate.to_vec(), br#"{"status":"deactivated"}"#);
    }
}
