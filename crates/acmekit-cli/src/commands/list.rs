//! `acmekit list`.

use anyhow::Result;
use serde_json::json;
use std::time::SystemTime;

use crate::commands::schedule;
use crate::context::Ctx;

/// Runs `list`.
pub fn run(ctx: &Ctx) -> Result<()> {
    let now = SystemTime::now();
    let mut docs = Vec::new();
    let certs = ctx.store.certificates()?;
    if certs.is_empty() {
        ctx.out
            .result(format!("no certificates in {}", ctx.store.root().display()));
    }
    for (dir, meta) in certs {
        let not_after = schedule::parse(&meta.not_after)?;
        let due = schedule::is_due(&meta, now)?;
        let days = not_after
            .duration_since(now)
            .map(|d| d.as_secs() / 86_400)
            .unwrap_or(0);
        let state = if not_after <= now {
            "EXPIRED"
        } else if due {
            "due for renewal"
        } else {
            "valid"
        };
        ctx.out.result(format!(
            "{}\n    names:   {}\n    expires: {} ({days} days, {state})\n    path:    {}",
            meta.names[0],
            meta.names.join(", "),
            meta.not_after,
            dir.display()
        ));
        docs.push(json!({"names": meta.names, "not_after": meta.not_after, "due": due, "expired": not_after <= now, "dir": dir, "server": meta.server, "serial": meta.serial}));
    }
    ctx.out.document(&json!({"certificates": docs}));
    Ok(())
}
