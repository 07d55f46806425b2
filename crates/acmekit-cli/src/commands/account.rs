//! `acmekit account …`.

use acmekit::{Account, AccountKey, Client, KeyType};
use anyhow::{Context as _, Result};
use serde_json::json;

use crate::cli::{AccountCommand, RegisterArgs};
use crate::context::Ctx;
use crate::store;

/// Runs an account command.
pub async fn run(ctx: &Ctx, cmd: AccountCommand) -> Result<()> {
    let client = ctx.client().await?;
    match cmd {
        AccountCommand::Register(mut reg) => {
            fill(ctx, &mut reg);
            let account = match ctx.stored_account(&client)? {
                Some(a) => a,
                None => ctx.register(&client, &reg).await?,
            };
            show(ctx, &account).await
        }
        AccountCommand::Show => show(ctx, &ctx.require_account(&client)?).await,
        AccountCommand::Update { email } => {
            let account = ctx.require_account(&client)?;
            ctx.out.step("Updating the account's contact");
            account.update_contacts([format!("mailto:{email}")]).await?;
            show(ctx, &account).await
        }
        AccountCommand::Rollover => rollover(ctx, &client).await,
        AccountCommand::Deactivate => {
            let account = ctx.require_account(&client)?;
            ctx.out.step("Deactivating the account");
            let resource = account.deactivate().await?;
            // The key cannot be used for a new account: keep the files
            // aside rather than delete them.
            let dir = ctx.store.account_dir(client.directory_url());
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let aside = dir.with_extension(format!("deactivated-{stamp}"));
            std::fs::rename(&dir, &aside).with_context(|| {
                format!(
                    "the account is deactivated, but {} could not be moved aside",
                    dir.display()
                )
            })?;
            ctx.out.result(format!(
                "account {} is {}; its files are kept in {}",
                account.url(),
                resource.status,
                aside.display()
            ));
            ctx.out.document(&json!({"url": account.url(), "status": resource.status.to_string(), "kept_in": aside}));
            Ok(())
        }
    }
}

/// Key rollover, safe against interruption: the new key is saved as
/// key-next.pem before the request, and promoted to key.pem after. A run
/// that finds key-next.pem first checks whether the server already took it.
async fn rollover(ctx: &Ctx, client: &Client) -> Result<()> {
    let account = ctx.require_account(client)?;
    let dir = ctx.store.account_dir(client.directory_url());
    let next_path = dir.join("key-next.pem");
    let next = match store::read_optional(&next_path)? {
        Some(pem) => {
            let key = AccountKey::from_pem(&pem)?;
            if let Ok((found, _)) = Account::find_existing(client, key.clone()).await {
                if found.url() == account.url() {
                    ctx.out
                        .step("The interrupted rollover had reached the server; finishing it");
                    return promote(ctx, &dir, &key, &found).await;
                }
            }
            key
        }
        None => {
            let key = AccountKey::generate(KeyType::Es256)?;
            store::write_atomic(&next_path, key.to_pem()?.as_bytes(), 0o600)?;
            key
        }
    };
    ctx.out.step("Rolling the account key over");
    let rolled = account.change_key(next.clone()).await?;
    promote(ctx, &dir, &next, &rolled).await
}

async fn promote(
    ctx: &Ctx,
    dir: &std::path::Path,
    key: &AccountKey,
    account: &Account,
) -> Result<()> {
    store::write_atomic(&dir.join("key.pem"), key.to_pem()?.as_bytes(), 0o600)?;
    let _ = std::fs::remove_file(dir.join("key-next.pem"));
    ctx.out.step(format!(
        "New account key in place (thumbprint {})",
        key.thumbprint()
    ));
    show(ctx, account).await
}

fn fill(ctx: &Ctx, reg: &mut RegisterArgs) {
    let f = &ctx.settings.file;
    if reg.email.is_none() {
        reg.email.clone_from(&f.email);
    }
    reg.accept_tos |= f.accept_tos.unwrap_or(false);
    if reg.eab_kid.is_none() {
        reg.eab_kid.clone_from(&f.eab_kid);
        reg.eab_hmac_key.clone_from(&f.eab_hmac_key);
    }
}

async fn show(ctx: &Ctx, account: &acmekit::Account) -> Result<()> {
    let resource = account.fetch().await?;
    ctx.out.result(format!(
        "account: {}\nstatus:  {}\ncontact: {}\nkey:     {} (thumbprint {})",
        account.url(),
        resource.status,
        if resource.contact.is_empty() {
            "(none)".to_owned()
        } else {
            resource.contact.join(", ")
        },
        account.key().key_type(),
        account.key().thumbprint()
    ));
    ctx.out.document(&json!({"url": account.url(), "status": resource.status.to_string(), "contact": resource.contact, "key_type": account.key().key_type().to_string(), "thumbprint": account.key().thumbprint()}));
    Ok(())
}
