//! `acmekit account …`.

use anyhow::Result;
use serde_json::json;

use crate::cli::{AccountCommand, RegisterArgs};
use crate::context::Ctx;

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
        AccountCommand::Update { .. } | AccountCommand::Rollover | AccountCommand::Deactivate => {
            anyhow::bail!("this account command needs a newer acmekit library")
        }
    }
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
