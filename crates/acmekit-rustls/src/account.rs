//! The ACME account: loaded from the store or created on the first order,
//! never before (a restart that only serves cached certificates sends no
//! account request to the CA; the directory is read for the first order or
//! the first renewal information fetch that is due).

use acmekit::{
    Account, AccountCredentials, AccountKey, Client, KeyType, NewAccount, MAX_CHECK_INTERVAL,
};
use std::sync::atomic::Ordering;
use std::time::SystemTime;
use tracing::{info, warn};

use crate::error::Error;
use crate::manager::Inner;
use crate::store;

impl Inner {
    /// The account, loading or creating it on first use. `name` is the
    /// certificate being ordered, for error messages.
    pub(crate) async fn account(&self, name: &str) -> Result<Account, Error> {
        // Held across creation: concurrent first orders create one account.
        let mut slot = self.account.lock().await;
        if let Some(account) = slot.as_ref() {
            return Ok(account.clone());
        }
        let client = self.client().await.map_err(|e| Error::acme(name, e))?;
        let key = store::account_key(&self.config.directory_url);
        if !self.stored_account_rejected.load(Ordering::Relaxed) {
            let stored = self
                .store
                .load(&key)
                .await
                .map_err(|e| Error::store(&key, e))?;
            if let Some(bytes) = stored {
                let restored = serde_json::from_slice::<AccountCredentials>(&bytes)
                    .map_err(|e| e.to_string())
                    .and_then(|c| {
                        Account::from_credentials(&client, &c).map_err(|e| e.to_string())
                    });
                match restored {
                    Ok(account) => {
                        *slot = Some(account.clone());
                        return Ok(account);
                    }
                    Err(reason) => {
                        warn!(
                            key,
                            reason, "ignoring the stored account; creating a new one"
                        )
                    }
                }
            }
        }
        let account_key = AccountKey::generate(KeyType::Es256).map_err(|e| Error::acme(name, e))?;
        // Creating an account agrees to the CA's terms of service, as the
        // crate documentation says.
        let new = NewAccount::agreeing_to_terms(self.config.contact.iter().cloned());
        let (account, _) = Account::create(&client, account_key, &new)
            .await
            .map_err(|e| Error::acme(name, e))?;
        info!(url = account.url(), "ACME account created");
        match account.credentials() {
            Ok(creds) => {
                let json = serde_json::to_vec_pretty(&creds).unwrap_or_default();
                if let Err(e) = self.store.store(&key, &json).await {
                    warn!(key, error = %e, "could not store the account; a restart will create another");
                }
            }
            Err(e) => warn!(error = %e, "could not export the account key"),
        }
        self.stored_account_rejected.store(false, Ordering::Relaxed);
        *slot = Some(account.clone());
        Ok(account)
    }

    /// Drops the account in use, and ignores the stored one, so the next
    /// order creates a new account.
    pub(crate) async fn forget_account(&self) {
        self.stored_account_rejected.store(true, Ordering::Relaxed);
        *self.account.lock().await = None;
    }

    /// The client for the CA, shared by the account and the renewal
    /// information fetches. Built (reading the directory) on first use, and
    /// again once it is a day old, so a CA that starts offering renewal
    /// information is noticed.
    pub(crate) async fn client(&self) -> acmekit::Result<Client> {
        let mut slot = self.client.lock().await;
        let now = SystemTime::now();
        if let Some((client, built)) = slot.as_ref() {
            if now
                .duration_since(*built)
                .is_ok_and(|age| age < MAX_CHECK_INTERVAL)
            {
                return Ok(client.clone());
            }
        }
        let mut builder = Client::builder(&self.config.directory_url);
        for pem in &self.config.roots_pem {
            builder = builder.add_root_pem(pem);
        }
        if self.config.only_added_roots {
            builder = builder.only_added_roots();
        }
        let client = builder.build().await?;
        *slot = Some((client.clone(), now));
        Ok(client)
    }
}
