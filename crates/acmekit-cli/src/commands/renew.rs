//! `acmekit renew`: renew what is due, say what is not; exit 0 either way.

use anyhow::{bail, Result};
use serde_json::json;
use std::time::SystemTime;

use crate::cli::RenewArgs;
use crate::commands::obtain::{self, Request};
use crate::commands::schedule;
use crate::context::Ctx;
use crate::solvers::CliSolver;

/// Runs `renew`.
pub async fn run(ctx: &Ctx, args: RenewArgs) -> Result<()> {
    let all = ctx.store.certificates()?;
    let selected: Vec<_> = match &args.domain {
        Some(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            let found: Vec<_> = all
                .into_iter()
                .filter(|(_, m)| m.names[0] == name)
                .collect();
            if found.is_empty() {
                bail!("no managed certificate has {name} as its first name; see `acmekit list`");
            }
            found
        }
        None => all,
    };
    let now = SystemTime::now();
    let ari_wanted = selected
        .iter()
        .any(|(_, m)| m.ari_cert_id.is_some() && m.server == ctx.settings.server);
    let deploy_hook = args
        .deploy_hook
        .clone()
        .or_else(|| ctx.settings.file.deploy_hook.clone());
    let mut report = Vec::new();
    let mut failures = 0;
    let mut client = if ari_wanted {
        Some(ctx.client().await?)
    } else {
        None
    };
    for (dir, mut meta) in selected {
        if let Some(c) = client
            .as_ref()
            .filter(|_| meta.server == ctx.settings.server)
        {
            let before = meta.ari.clone();
            if let Some(warning) = schedule::refresh_ari(c, &mut meta, now).await {
                tracing::warn!("{}: {warning}", meta.names[0]);
            }
            if meta.ari != before {
                crate::store::write_atomic(
                    &dir.join("meta.json"),
                    serde_json::to_string_pretty(&meta)?.as_bytes(),
                    0o644,
                )?;
            }
        }
        let due = schedule::is_due(&meta, SystemTime::now())?;
        if !due && !args.force {
            let when = match &meta.ari {
                Some(a) => format!("renewal suggested by the CA at {}", a.renew_at),
                None => format!("expires {}", meta.not_after),
            };
            ctx.out
                .result(format!("{}: not due ({when})", meta.names[0]));
            report.push(
                json!({"name": meta.names[0], "renewed": false, "not_after": meta.not_after}),
            );
            continue;
        }
        let result = async {
            if meta.server != ctx.settings.server {
                bail!(
                    "it was issued by {}, not {}: run with --server {}",
                    meta.server,
                    ctx.settings.server,
                    meta.server
                );
            }
            if client.is_none() {
                client = Some(ctx.client().await?);
            }
            let client = client.as_ref().expect("set above");
            let account = ctx.require_account(client)?;
            let solver = CliSolver::start(&meta.solver).await?;
            let request = Request {
                names: &meta.names,
                key_type: meta.key_type.parse().unwrap_or_default(),
                csr: None,
                profile: meta.profile.clone(),
                preferred_chain: meta.preferred_chain.clone(),
                solver_args: meta.solver.clone(),
                replaces: meta
                    .ari_cert_id
                    .clone()
                    .filter(|_| client.directory().renewal_info.is_some()),
            };
            let (dir, new_meta) = obtain::obtain(ctx, &account, &request, &solver).await?;
            if let Some(hook) = &deploy_hook {
                obtain::deploy_hook(hook, &dir, &new_meta).await?;
            }
            Ok(new_meta)
        }
        .await;
        match result {
            Ok(new_meta) => {
                ctx.out.result(format!(
                    "{}: renewed (expires {})",
                    meta.names[0], new_meta.not_after
                ));
                report.push(json!({"name": meta.names[0], "renewed": true, "not_after": new_meta.not_after}));
            }
            Err(e) => {
                failures += 1;
                eprintln!("error: {}: renewal failed: {e:#}", meta.names[0]);
                report.push(
                    json!({"name": meta.names[0], "renewed": false, "error": format!("{e:#}")}),
                );
            }
        }
    }
    ctx.out.document(&json!({"certificates": report}));
    if failures > 0 {
        bail!("{failures} renewal(s) failed");
    }
    Ok(())
}
