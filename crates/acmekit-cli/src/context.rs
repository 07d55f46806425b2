//! What every command needs: the client for the server, the store, and the
//! stored account.

use acmekit::{
    Account, AccountKey, Client, ExternalAccountBinding, KeyType, NewAccount, ProblemType,
};
use anyhow::{bail, Context as _, Result};

use crate::cli::RegisterArgs;
use crate::output::Out;
use crate::settings::Settings;
use crate::store::{self, AccountFile, Store};

/// The shared context of a command.
pub struct Ctx {
    /// Resolved settings.
    pub settings: Settings,
    /// The state directory.
    pub store: Store,
    /// Output policy.
    pub out: Out,
}

impl Ctx {
    /// Connects to the server and reads its directory.
    pub async fn client(&self) -> Result<Client> {
        let mut builder =
            Client::builder(&self.settings.server).allow_insecure_http(self.settings.insecure_http);
        if let Some(path) = &self.settings.ca_cert {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
            builder = builder.add_root_pem(&pem).only_added_roots();
        }
        self.out
            .step(format!("Reading the directory at {}", self.settings.server));
        builder.build().await.map_err(Into::into)
    }

    /// The stored account for this server, if any.
    pub fn stored_account(&self, client: &Client) -> Result<Option<Account>> {
        let dir = self.store.account_dir(client.directory_url());
        let (Some(file), Some(key)) = (
            store::read_optional(&dir.join("account.json"))?,
            store::read_optional(&dir.join("key.pem"))?,
        ) else {
            return Ok(None);
        };
        let file: AccountFile = serde_json::from_str(&file)
            .with_context(|| format!("{} is damaged", dir.join("account.json").display()))?;
        let key = AccountKey::from_pem(&key).with_context(|| {
            format!(
                "the account key {} is unusable",
                dir.join("key.pem").display()
            )
        })?;
        Ok(Some(Account::from_parts(client.clone(), key, file.url)))
    }

    /// The stored account, or an error telling how to create one.
    pub fn require_account(&self, client: &Client) -> Result<Account> {
        self.stored_account(client)?.with_context(|| {
            format!(
                "no account for {} in {}: run `acmekit account register --accept-tos` (or `acmekit issue … --accept-tos`) first",
                client.directory_url(),
                self.store.root().display()
            )
        })
    }

    /// The stored account, or a new one registered with `reg`.
    pub async fn account(&self, client: &Client, reg: &RegisterArgs) -> Result<Account> {
        if let Some(a) = self.stored_account(client)? {
            return Ok(a);
        }
        self.register(client, reg).await
    }

    /// Registers (or finds) the account and stores it. The key is written
    /// before the request so that a killed run reuses it.
    pub async fn register(&self, client: &Client, reg: &RegisterArgs) -> Result<Account> {
        let dir = self.store.account_dir(client.directory_url());
        let key_path = dir.join("key.pem");
        let key = match store::read_optional(&key_path)? {
            Some(pem) => AccountKey::from_pem(&pem)?,
            None => {
                let key = AccountKey::generate(KeyType::Es256)?;
                store::write_atomic(&key_path, key.to_pem()?.as_bytes(), 0o600)?;
                key
            }
        };
        let meta = client.directory().meta.clone().unwrap_or_default();
        if let Some(tos) = &meta.terms_of_service {
            if !reg.accept_tos {
                bail!("the CA requires agreeing to its terms of service at {tos}; read them and re-run with --accept-tos");
            }
        }
        if meta.external_account_required && reg.eab_kid.is_none() {
            bail!("this CA requires external account binding: re-run with --eab-kid KID --eab-hmac-key KEY (from your CA account's ACME settings)");
        }
        let mut new =
            NewAccount::agreeing_to_terms(reg.email.iter().map(|e| format!("mailto:{e}")));
        new.terms_of_service_agreed = reg.accept_tos;
        if let (Some(kid), Some(mac)) = (&reg.eab_kid, &reg.eab_hmac_key) {
            let binding = ExternalAccountBinding::new(kid.clone(), mac)
                .context("--eab-hmac-key must be the base64url MAC key your CA gave you")?;
            new = new.with_external_account_binding(binding);
        }
        self.out.step("Registering the account");
        let (account, _) = match Account::create(client, key, &new).await {
            Ok(a) => a,
            Err(e)
                if e.problem_type() == Some(ProblemType::ExternalAccountRequired)
                    && reg.eab_kid.is_none() =>
            {
                bail!("{e}; re-run with --eab-kid KID --eab-hmac-key KEY (from your CA account's ACME settings)")
            }
            Err(e) => return Err(e.into()),
        };
        let file = AccountFile {
            directory: client.directory_url().to_owned(),
            url: account.url().to_owned(),
        };
        store::write_atomic(
            &dir.join("account.json"),
            serde_json::to_string_pretty(&file)?.as_bytes(),
            0o600,
        )?;
        self.out.step(format!("Account {}", account.url()));
        Ok(account)
    }
}
