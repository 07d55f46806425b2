//! `acmekit issue`.

use anyhow::{bail, Context as _, Result};
use serde_json::json;

use crate::cli::IssueArgs;
use crate::commands::obtain::{self, Request};
use crate::commands::schedule;
use crate::context::Ctx;
use crate::solvers::CliSolver;
use crate::store;

/// Runs `issue`.
pub async fn run(ctx: &Ctx, mut args: IssueArgs) -> Result<()> {
    apply_config(ctx, &mut args);
    let csr = match &args.csr {
        Some(path) => Some(read_csr(path)?),
        None => None,
    };
    if args.domains.is_empty() {
        bail!("name at least one domain with -d NAME");
    }
    let mut names: Vec<String> = Vec::new();
    for d in &args.domains {
        let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
        let d = d.trim_start_matches('[').trim_end_matches(']').to_owned();
        check_name(&d)?;
        if !names.contains(&d) {
            names.push(d);
        }
    }

    // Nothing to do when a valid certificate for the same names exists.
    let dir = ctx.store.cert_dir(&names[0]);
    if !args.force && !dir.join("pending.json").exists() {
        if let Some(meta) = store::CertMeta::load(&dir)? {
            let mut have = meta.names.clone();
            let mut want = names.clone();
            have.sort();
            want.sort();
            if have == want && !schedule::is_due(&meta, std::time::SystemTime::now())? {
                ctx.out.result(format!(
                    "{}: a valid certificate exists (expires {}); nothing to do (use --force to issue anyway)",
                    names[0], meta.not_after
                ));
                ctx.out.document(&json!({"issued": false, "reason": "valid certificate exists", "names": meta.names, "not_after": meta.not_after, "dir": dir}));
                return Ok(());
            }
        }
    }

    // Renewals may run from another directory: keep the key file's path
    // absolute in meta.json.
    if let Some(key) = &mut args.solver.tsig_key {
        *key = std::path::absolute(&*key)
            .with_context(|| format!("cannot resolve the path {}", key.display()))?;
    }
    let solver = CliSolver::start(&args.solver).await?;
    let client = ctx.client().await?;
    let account = ctx.account(&client, &args.register).await?;
    let request = Request {
        names: &names,
        key_type: args.key_type.into(),
        csr,
        profile: args.profile.clone(),
        preferred_chain: args.preferred_chain.clone(),
        solver_args: args.solver.clone(),
        replaces: None,
    };
    let (dir, meta) = obtain::obtain(ctx, &account, &request, &solver).await?;
    ctx.out.result(format!(
        "{}: certificate saved in {} (expires {})",
        names.join(", "),
        dir.display(),
        meta.not_after
    ));
    if let Some(hook) = &args.deploy_hook {
        obtain::deploy_hook(hook, &dir, &meta).await?;
    }
    ctx.out.document(&json!({"issued": true, "names": meta.names, "dir": dir, "not_after": meta.not_after, "serial": meta.serial, "order_url": meta.order_url, "certificate_url": meta.certificate_url}));
    Ok(())
}

/// Fills unset options from the config file.
fn apply_config(ctx: &Ctx, args: &mut IssueArgs) {
    let f = &ctx.settings.file;
    let fill = |slot: &mut Option<String>, v: &Option<String>| {
        if slot.is_none() {
            slot.clone_from(v);
        }
    };
    fill(&mut args.register.email, &f.email);
    fill(&mut args.register.eab_kid, &f.eab_kid);
    fill(&mut args.register.eab_hmac_key, &f.eab_hmac_key);
    args.register.accept_tos |= f.accept_tos.unwrap_or(false);
    let s = &mut args.solver;
    if s.http.is_none()
        && s.webroot.is_none()
        && s.tls_alpn.is_none()
        && s.dns_hook.is_none()
        && s.dns_rfc2136.is_none()
    {
        s.http.clone_from(&f.http);
        s.webroot.clone_from(&f.webroot);
        s.tls_alpn.clone_from(&f.tls_alpn);
        s.dns_hook.clone_from(&f.dns_hook);
        s.dns_rfc2136.clone_from(&f.dns_rfc2136);
        s.tsig_key.clone_from(&f.tsig_key);
        s.dns_zone.clone_from(&f.dns_zone);
    }
    fill(&mut args.deploy_hook, &f.deploy_hook);
    fill(&mut args.profile, &f.profile);
    fill(&mut args.preferred_chain, &f.preferred_chain);
}

/// Refuses names no CA can issue for, before anything is sent.
fn check_name(name: &str) -> Result<()> {
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bare = name.strip_prefix("*.").unwrap_or(name);
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.len() > 253 {
        Some("it is longer than 253 characters".to_owned())
    } else if bare.contains('*') {
        Some("a wildcard may only be the whole leftmost label (*.example.com)".to_owned())
    } else if let Some(label) = bare.split('.').find(|l| l.is_empty() || l.len() > 63) {
        Some(if label.is_empty() {
            "it has an empty label".to_owned()
        } else {
            format!("the label {label:?} is longer than 63 characters")
        })
    } else if let Some(label) = bare
        .split('.')
        .find(|l| l.starts_with('-') || l.ends_with('-'))
    {
        Some(format!("the label {label:?} starts or ends with a hyphen"))
    } else {
        bare.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
            .map(|c| {
                format!(
                    "{c:?} is not allowed (international names must be given in punycode, xn--…)"
                )
            })
    };
    match problem {
        Some(p) => bail!("{name:?} is not a valid DNS name or IP address: {p}"),
        None => Ok(()),
    }
}

fn read_csr(path: &std::path::Path) -> Result<Vec<u8>> {
    let raw =
        std::fs::read(path).with_context(|| format!("cannot read the CSR {}", path.display()))?;
    if raw.starts_with(b"-----BEGIN") {
        use rustls_pki_types::pem::PemObject;
        let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(&raw)
            .with_context(|| format!("{} is not a PEM CERTIFICATE REQUEST", path.display()))?;
        Ok(der.as_ref().to_vec())
    } else {
        Ok(raw)
    }
}
