//! `acmekit revoke`.

use acmekit::{revoke_with_certificate_key, CertificateKey, RevocationReason};
use anyhow::{Context as _, Result};
use serde_json::json;

use crate::cli::RevokeArgs;
use crate::commands::schedule;
use crate::context::Ctx;
use crate::store::{self, CertMeta};

/// Runs `revoke`: signed by the stored account when there is one, else by
/// the certificate's own key.
pub async fn run(ctx: &Ctx, args: RevokeArgs) -> Result<()> {
    let reason: RevocationReason = args.reason.parse().map_err(|_| {
        anyhow::anyhow!(
            "unknown revocation reason {:?}: use one of {}",
            args.reason,
            RevocationReason::ALL
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let name = args.domain.trim_end_matches('.').to_ascii_lowercase();
    let dir = ctx.store.cert_dir(&name);
    let mut meta = CertMeta::load(&dir)?.with_context(|| {
        format!("no managed certificate has {name} as its first name; see `acmekit list`")
    })?;
    let cert_pem = std::fs::read_to_string(dir.join("cert.pem"))
        .with_context(|| format!("cannot read {}", dir.join("cert.pem").display()))?;
    let chain = acmekit::CertificateChain::from_pem(&cert_pem)?;
    let client = ctx.client().await?;
    ctx.out.step(format!(
        "Revoking the certificate for {} ({reason})",
        meta.names.join(", ")
    ));
    match ctx.stored_account(&client)? {
        Some(account) => account.revoke(chain.leaf(), Some(reason)).await?,
        None => {
            let key_pem = std::fs::read_to_string(dir.join("key.pem"))
                .context("no account is stored and the certificate key is missing")?;
            let key = CertificateKey::from_pem(&key_pem)?;
            revoke_with_certificate_key(&client, chain.leaf(), &key, Some(reason)).await?;
        }
    }
    meta.revoked = Some(schedule::format(std::time::SystemTime::now()));
    store::write_atomic(
        &dir.join("meta.json"),
        serde_json::to_string_pretty(&meta)?.as_bytes(),
        0o644,
    )?;
    ctx.out.result(format!(
        "{name}: revoked ({reason}); `acmekit renew -d {name}` issues a replacement"
    ));
    ctx.out.document(&json!({"name": name, "revoked": true, "reason": reason.to_string(), "serial": meta.serial}));
    Ok(())
}
