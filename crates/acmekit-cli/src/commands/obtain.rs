//! Obtaining a certificate and writing it: shared by `issue` and `renew`.
//! An order in flight is recorded first (pending.json + pending-key.pem) so
//! that a run killed at any point can be re-run and finish the same order.

use acmekit::{
    Account, CertificateKey, Identifier, IssueRequest, KeyType, NewOrder, OrderStatus, Solver,
};
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use time::format_description::well_known::Rfc3339;

use crate::context::Ctx;
use crate::store::{self, CertMeta, Pending};

/// What to obtain.
pub struct Request<'a> {
    /// The names, first one naming the directory.
    pub names: &'a [String],
    /// Certificate key type.
    pub key_type: KeyType,
    /// A caller CSR (DER) instead of a generated key.
    pub csr: Option<Vec<u8>>,
    /// Profile.
    pub profile: Option<String>,
    /// Preferred chain issuer CN.
    pub preferred_chain: Option<String>,
    /// How challenges are answered (kept for renewals).
    pub solver_args: crate::cli::SolverArgs,
    /// ARI certificate ID of the certificate this one replaces.
    pub replaces: Option<String>,
}

/// Obtains the certificate and writes the files; returns its metadata.
pub async fn obtain(
    ctx: &Ctx,
    account: &Account,
    req: &Request<'_>,
    solver: &dyn Solver,
) -> Result<(PathBuf, CertMeta)> {
    let dir = ctx.store.cert_dir(&req.names[0]);
    let ids: Vec<Identifier> = req.names.iter().map(|n| Identifier::parse(n)).collect();
    let server = account.client().directory_url().to_owned();

    for name in req.names {
        if let Some(until) = ctx.store.rate_limited_until(&server, name)? {
            anyhow::bail!(
                "the CA rate-limited {name} until {until} (remembered from an earlier run); try again after that time"
            );
        }
    }
    match obtain_inner(ctx, account, req, solver, &dir, &server, &ids).await {
        Err(e) => {
            if let Some(acmekit::Error::RateLimited {
                retry_after: Some(at),
                ..
            }) = e.downcast_ref::<acmekit::Error>()
            {
                let until = crate::commands::schedule::format(*at);
                ctx.store.record_rate_limit(&server, req.names, &until)?;
            }
            Err(e)
        }
        ok => ok,
    }
}

async fn obtain_inner(
    ctx: &Ctx,
    account: &Account,
    req: &Request<'_>,
    solver: &dyn Solver,
    dir: &Path,
    server: &str,
    ids: &[Identifier],
) -> Result<(PathBuf, CertMeta)> {
    let server = server.to_owned();
    let dir = dir.to_path_buf();
    let ids = ids.to_vec();
    let pending_path = dir.join("pending.json");
    let pending_key = dir.join("pending-key.pem");
    let resumed = resume(ctx, account, req, &pending_path, &pending_key, &server).await?;
    let (order, key) = match resumed {
        Some(r) => r,
        None => {
            let key = match &req.csr {
                Some(_) => None,
                None => {
                    let key = CertificateKey::generate(req.key_type)?;
                    store::write_atomic(&pending_key, key.to_pem().as_bytes(), 0o600)?;
                    Some(key)
                }
            };
            let mut new = NewOrder::new(ids.clone());
            new.profile = req.profile.clone();
            new.replaces = req.replaces.clone();
            ctx.out.step(format!(
                "Ordering a certificate for {}",
                req.names.join(", ")
            ));
            let order = account.new_order(&new).await?;
            let pending = Pending {
                names: req.names.to_vec(),
                server: server.clone(),
                order_url: order.url.clone(),
            };
            store::write_atomic(
                &pending_path,
                serde_json::to_string_pretty(&pending)?.as_bytes(),
                0o600,
            )?;
            (order, key)
        }
    };
    let csr = match (&req.csr, &key) {
        (Some(csr), _) => csr.clone(),
        (None, Some(key)) => key.csr_der(&order.identifiers)?,
        (None, None) => unreachable!("a key is generated or loaded when no CSR is given"),
    };
    if order.status == OrderStatus::Pending {
        ctx.out.step(format!(
            "Answering {} authorization(s) with {}",
            order.authorizations.len(),
            solver
                .preferences()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("/")
        ));
    }
    let mut request = IssueRequest::new(ids);
    request.csr = Some(csr);
    request.preferred_chain = req.preferred_chain.clone();
    let issued = {
        let _spinner = ctx.out.wait("Waiting for the CA to validate and issue");
        account.complete_order(order, &request, solver).await?
    };
    ctx.out.step("Certificate issued; writing files");

    let info = issued.chain.info();
    let fmt = |t: std::time::SystemTime| {
        time::OffsetDateTime::from(t)
            .format(&Rfc3339)
            .unwrap_or_default()
    };
    let meta = CertMeta {
        names: req.names.to_vec(),
        server,
        profile: req.profile.clone(),
        key_type: req.key_type.to_string(),
        order_url: issued.order.url.clone(),
        certificate_url: issued.order.certificate.clone().unwrap_or_default(),
        serial: info.serial_hex.clone(),
        not_before: fmt(info.not_before),
        not_after: fmt(info.not_after),
        ari_cert_id: acmekit::certificate_id(issued.chain.leaf()).ok(),
        preferred_chain: req.preferred_chain.clone(),
        solver: req.solver_args.clone(),
        ari: None,
        revoked: None,
    };
    write_certificate(&dir, &issued.chain, key.as_ref(), &meta)?;
    // Only now is the order done: a run killed before this line finds
    // pending.json and re-downloads the (valid) order.
    let _ = std::fs::remove_file(&pending_path);
    let _ = std::fs::remove_file(&pending_key);
    Ok((dir, meta))
}

/// Picks up a recorded order for the same names and server, if the server
/// still has it in a state that can finish.
async fn resume(
    ctx: &Ctx,
    account: &Account,
    req: &Request<'_>,
    pending_path: &Path,
    pending_key: &Path,
    server: &str,
) -> Result<Option<(acmekit::Order, Option<CertificateKey>)>> {
    let Some(text) = store::read_optional(pending_path)? else {
        return Ok(None);
    };
    let Ok(pending) = serde_json::from_str::<Pending>(&text) else {
        return Ok(None);
    };
    if pending.names != req.names || pending.server != server {
        return Ok(None);
    }
    let key = match (&req.csr, store::read_optional(pending_key)?) {
        (Some(_), _) => None,
        (None, Some(pem)) => Some(CertificateKey::from_pem(&pem)?),
        (None, None) => return Ok(None),
    };
    match account.order(&pending.order_url).await {
        Ok(order)
            if matches!(
                order.status,
                OrderStatus::Pending
                    | OrderStatus::Ready
                    | OrderStatus::Processing
                    | OrderStatus::Valid
            ) =>
        {
            ctx.out
                .step(format!("Resuming the interrupted order {}", order.url));
            Ok(Some((order, key)))
        }
        _ => Ok(None),
    }
}

/// Writes cert.pem, chain.pem, fullchain.pem, key.pem and meta.json.
fn write_certificate(
    dir: &Path,
    chain: &acmekit::CertificateChain,
    key: Option<&CertificateKey>,
    meta: &CertMeta,
) -> Result<()> {
    store::private_dir(dir)?;
    if let Some(key) = key {
        store::write_atomic(&dir.join("key.pem"), key.to_pem().as_bytes(), 0o600)?;
    }
    store::write_atomic(&dir.join("cert.pem"), chain.leaf_pem().as_bytes(), 0o644)?;
    store::write_atomic(
        &dir.join("chain.pem"),
        chain.issuers_pem().as_bytes(),
        0o644,
    )?;
    let full = format!("{}{}", chain.leaf_pem(), chain.issuers_pem());
    store::write_atomic(&dir.join("fullchain.pem"), full.as_bytes(), 0o644)?;
    store::write_atomic(
        &dir.join("meta.json"),
        serde_json::to_string_pretty(meta)?.as_bytes(),
        0o644,
    )
    .context("writing meta.json")
}

/// Runs the deploy hook with the file paths in its environment.
pub async fn deploy_hook(cmd: &str, dir: &Path, meta: &CertMeta) -> Result<()> {
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("ACMEKIT_CERT_DIR", dir)
        .env("ACMEKIT_CERT_PATH", dir.join("cert.pem"))
        .env("ACMEKIT_CHAIN_PATH", dir.join("chain.pem"))
        .env("ACMEKIT_FULLCHAIN_PATH", dir.join("fullchain.pem"))
        .env("ACMEKIT_KEY_PATH", dir.join("key.pem"))
        .env("ACMEKIT_NAMES", meta.names.join(" "))
        .status()
        .await
        .with_context(|| format!("cannot run the deploy hook {cmd:?}"))?;
    anyhow::ensure!(
        status.success(),
        "the deploy hook {cmd:?} failed ({status}); the certificate is saved in {}",
        dir.display()
    );
    Ok(())
}
