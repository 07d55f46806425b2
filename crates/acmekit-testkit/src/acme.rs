//! acmekit clients and accounts for a test server, so that tests do not
//! each repeat the set-up.

use acmekit::{Account, AccountKey, Client, KeyType, NewAccount};

use crate::Pebble;

/// A client for a directory whose TLS is signed by `ca_pem` (and nothing
/// else: the web PKI roots are not trusted).
pub async fn client_for(directory_url: &str, ca_pem: &str) -> Client {
    Client::builder(directory_url)
        .add_root_pem(ca_pem.as_bytes())
        .only_added_roots()
        .build()
        .await
        .unwrap_or_else(|e| panic!("acmekit-testkit: reading the directory {directory_url}: {e}"))
}

/// A new account with `key`, agreeing to the terms, without contacts.
pub async fn new_account(client: &Client, key: AccountKey) -> Account {
    Account::create(
        client,
        key,
        &NewAccount::agreeing_to_terms(Vec::<String>::new()),
    )
    .await
    .unwrap_or_else(|e| panic!("acmekit-testkit: newAccount: {e}"))
    .0
}

impl Pebble {
    /// A client for this Pebble, trusting its listener CA.
    pub async fn client(&self) -> Client {
        client_for(&self.directory_url(), self.listener_ca_pem()).await
    }

    /// A fresh account with a new key of `kind` on this Pebble.
    pub async fn account(&self, kind: KeyType) -> Account {
        let key = AccountKey::generate(kind)
            .unwrap_or_else(|e| panic!("acmekit-testkit: generating a {kind} key: {e}"));
        new_account(&self.client().await, key).await
    }
}
