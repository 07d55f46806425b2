//! The process-based clients: the acmekit CLI, uacme, certbot and lego.
//! Each sets up one account (not measured) and says how to issue one
//! certificate for a name, with its challenges published by the bench hook
//! in the calling convention that client expects.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::hook;
use super::proc::{self, Spec};

/// What every client needs to know about the run.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Pebble's directory URL.
    pub directory: String,
    /// The CA of Pebble's listener (PEM file).
    pub ca: PathBuf,
    /// challtestsrv's DNS port (lego checks TXT records there).
    pub dns_port: u16,
    /// challtestsrv's management address, for the hook.
    pub challtestsrv: String,
    /// The directory of hook symlinks.
    pub hooks: PathBuf,
    /// Scratch space; each client gets a directory under it.
    pub work: PathBuf,
    /// The `acmekit` binary.
    pub acmekit: PathBuf,
    /// Per certificate.
    pub timeout: Duration,
}

impl Ctx {
    fn hook(&self, name: &str) -> PathBuf {
        self.hooks.join(name)
    }

    /// The client's own scratch directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.work.join(id)
    }
}

/// A process-based client.
pub trait Peer: Send + Sync {
    /// Short name (`cli`, `uacme`, …), as `--clients` spells it.
    fn id(&self) -> &'static str;
    /// Name and version for the table.
    fn label(&self) -> String;
    /// Creates the account (not measured).
    fn setup(&mut self, ctx: &Ctx) -> Result<()>;
    /// The command issuing one certificate for `name`; `slot` (0 up to the
    /// concurrency) picks the state directory of clients that lock theirs.
    fn issue(&self, ctx: &Ctx, name: &str, slot: usize) -> Spec;
    /// Prepares `slots` parallel state directories where needed.
    fn prepare_slots(&mut self, _ctx: &Ctx, _slots: usize) -> Result<()> {
        Ok(())
    }
}

/// The peers `ids` names, in that order (`lib` is not a process peer).
pub fn by_ids(ids: &[String]) -> Vec<Box<dyn Peer>> {
    ids.iter()
        .filter_map(|id| -> Option<Box<dyn Peer>> {
            match id.as_str() {
                "cli" => Some(Box::new(AcmekitCli)),
                "uacme" => Some(Box::new(Uacme::default())),
                "certbot" => Some(Box::new(Certbot)),
                "lego" => Some(Box::new(Lego)),
                _ => None,
            }
        })
        .collect()
}

/// The Debian version of `package` without its revision (`4.9.1`).
pub fn package_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .ok()?;
    let v = String::from_utf8_lossy(&out.stdout);
    let v = v
        .split(':')
        .next_back()?
        .split(['-', '+', '~'])
        .next()?
        .trim();
    (!v.is_empty()).then(|| v.to_owned())
}

fn labelled(name: &str, package: &str) -> String {
    match package_version(package) {
        Some(v) => format!("{name} {v}"),
        None => name.to_owned(),
    }
}

fn setup_log(ctx: &Ctx, id: &str) -> Result<PathBuf> {
    let dir = ctx.dir(id);
    std::fs::create_dir_all(&dir)?;
    Ok(dir.join("setup.log"))
}

/// The acmekit CLI: a fresh process per certificate, `--dns-hook`.
struct AcmekitCli;

impl AcmekitCli {
    fn base(ctx: &Ctx) -> Vec<String> {
        vec![
            "--server".into(),
            ctx.directory.clone(),
            "--ca-cert".into(),
            ctx.ca.display().to_string(),
            "--state-dir".into(),
            ctx.dir("cli").join("state").display().to_string(),
            "--quiet".into(),
        ]
    }
}

impl Peer for AcmekitCli {
    fn id(&self) -> &'static str {
        "cli"
    }

    fn label(&self) -> String {
        format!("acmekit {} CLI", env!("CARGO_PKG_VERSION"))
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<()> {
        let mut args = Self::base(ctx);
        args.extend(["account", "register", "--accept-tos"].map(String::from));
        proc::run_checked(
            &Spec::new(&ctx.acmekit, args),
            &setup_log(ctx, "cli")?,
            ctx.timeout,
        )
    }

    fn issue(&self, ctx: &Ctx, name: &str, _slot: usize) -> Spec {
        let mut args = Self::base(ctx);
        args.extend([
            "issue".into(),
            "-d".into(),
            name.into(),
            "--accept-tos".into(),
            "--dns-hook".into(),
            ctx.hook(hook::DNS_HOOK).display().to_string(),
        ]);
        Spec::new(&ctx.acmekit, args).env(hook::ADDR_ENV, &ctx.challtestsrv)
    }
}

/// lego: the `exec` DNS provider calls the hook; no register-only command,
/// so set-up issues one certificate.
struct Lego;

impl Peer for Lego {
    fn id(&self) -> &'static str {
        "lego"
    }

    fn label(&self) -> String {
        labelled("lego", "lego")
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<()> {
        let name = acmekit_testkit::unique_name();
        proc::run_checked(
            &self.issue(ctx, &name, 0),
            &setup_log(ctx, "lego")?,
            ctx.timeout,
        )
    }

    fn issue(&self, ctx: &Ctx, name: &str, _slot: usize) -> Spec {
        let args: Vec<String> = vec![
            "--server".into(),
            ctx.directory.clone(),
            "--accept-tos".into(),
            "--email".into(),
            "bench@example.com".into(),
            "--path".into(),
            ctx.dir("lego").join("state").display().to_string(),
            "--dns".into(),
            "exec".into(),
            // challtestsrv answers no SOA/NS queries.
            "--dns.disable-cp".into(),
            "--dns.resolvers".into(),
            format!("127.0.0.1:{}", ctx.dns_port),
            "--domains".into(),
            name.into(),
            "run".into(),
        ];
        Spec::new("lego", args)
            .env("LEGO_CA_CERTIFICATES", &ctx.ca)
            .env("EXEC_PATH", ctx.hook(hook::DNS_HOOK))
            .env(hook::ADDR_ENV, &ctx.challtestsrv)
    }
}

/// certbot: manual plugin with auth/cleanup hooks. It locks its config,
/// work and logs directories, so each concurrent slot gets its own copy.
struct Certbot;

impl Certbot {
    fn slot_dir(ctx: &Ctx, slot: usize) -> PathBuf {
        if slot == 0 {
            ctx.dir("certbot")
        } else {
            ctx.dir("certbot").join(format!("slot-{slot}"))
        }
    }

    fn dirs(ctx: &Ctx, slot: usize) -> Vec<String> {
        let d = Self::slot_dir(ctx, slot);
        vec![
            "--server".into(),
            ctx.directory.clone(),
            "--config-dir".into(),
            d.join("config").display().to_string(),
            "--work-dir".into(),
            d.join("work").display().to_string(),
            "--logs-dir".into(),
            d.join("logs").display().to_string(),
            "--non-interactive".into(),
            "--agree-tos".into(),
        ]
    }
}

impl Peer for Certbot {
    fn id(&self) -> &'static str {
        "certbot"
    }

    fn label(&self) -> String {
        labelled("certbot", "certbot")
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<()> {
        let mut args = vec!["register".to_owned()];
        args.extend(Self::dirs(ctx, 0));
        args.push("--register-unsafely-without-email".into());
        proc::run_checked(
            &Spec::new("certbot", args).env("REQUESTS_CA_BUNDLE", &ctx.ca),
            &setup_log(ctx, "certbot")?,
            ctx.timeout,
        )
    }

    fn issue(&self, ctx: &Ctx, name: &str, slot: usize) -> Spec {
        let mut args = vec!["certonly".to_owned()];
        args.extend(Self::dirs(ctx, slot));
        args.extend([
            "--manual".into(),
            "--preferred-challenges".into(),
            "dns".into(),
            "--manual-auth-hook".into(),
            ctx.hook(hook::CERTBOT_AUTH).display().to_string(),
            "--manual-cleanup-hook".into(),
            ctx.hook(hook::CERTBOT_CLEANUP).display().to_string(),
            "-d".into(),
            name.into(),
        ]);
        Spec::new("certbot", args)
            .env("REQUESTS_CA_BUNDLE", &ctx.ca)
            .env(hook::ADDR_ENV, &ctx.challtestsrv)
    }

    fn prepare_slots(&mut self, ctx: &Ctx, slots: usize) -> Result<()> {
        let config = Self::slot_dir(ctx, 0).join("config");
        for slot in 1..slots {
            let dir = Self::slot_dir(ctx, slot);
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            // The account (and whatever else certbot keeps) copied in.
            let status = Command::new("cp")
                .arg("-a")
                .arg(&config)
                .arg(dir.join("config"))
                .status()?;
            if !status.success() {
                bail!("copying {} failed", config.display());
            }
        }
        Ok(())
    }
}

/// uacme: libcurl-gnutls trusts only the system store, so uacme runs in a
/// private mount namespace (entered with nsenter) in which the system
/// bundle also holds Pebble's listener CA. The namespace is held open by a
/// shell that exits when its stdin closes (when the bench ends, however it
/// ends).
#[derive(Default)]
struct Uacme {
    holder: Option<(Child, ChildStdin)>,
}

/// The bundle libcurl-gnutls reads on Debian.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

impl Uacme {
    fn holder_pid(&self) -> u32 {
        self.holder.as_ref().map_or(0, |(c, _)| c.id())
    }

    fn uacme(&self, ctx: &Ctx, args: &[&str]) -> Spec {
        let mut all: Vec<String> = vec![
            "-t".into(),
            self.holder_pid().to_string(),
            "-m".into(),
            "--".into(),
            "uacme".into(),
            "-a".into(),
            ctx.directory.clone(),
            "-c".into(),
            ctx.dir("uacme").join("conf").display().to_string(),
            // ECDSA P-256 keys, like the other clients (uacme's default is RSA).
            "-t".into(),
            "EC".into(),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        Spec::new("nsenter", all).env(hook::ADDR_ENV, &ctx.challtestsrv)
    }

    fn start_namespace(&mut self, ctx: &Ctx) -> Result<()> {
        let bundle = ctx.dir("uacme").join("ca-certificates.crt");
        let mut pem = std::fs::read(SYSTEM_BUNDLE).unwrap_or_default();
        pem.extend(std::fs::read(&ctx.ca)?);
        std::fs::write(&bundle, pem)?;
        let mut child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mount --bind \"$1\" {SYSTEM_BUNDLE} && echo ready && read x; exit 0"
            ))
            .arg("sh")
            .arg(&bundle)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(
                ctx.dir("uacme").join("namespace.log"),
            )?)
            .spawn()
            .context("cannot start unshare (util-linux) for uacme's namespace")?;
        let stdin = child.stdin.take().context("namespace stdin")?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        self.holder = Some((child, stdin));
        if line.trim() != "ready" {
            let log =
                std::fs::read_to_string(ctx.dir("uacme").join("namespace.log")).unwrap_or_default();
            bail!(
                "could not bind-mount a CA bundle for uacme in a private mount namespace (needs root): {}",
                proc::last_lines(&log, 2)
            );
        }
        Ok(())
    }
}

impl Drop for Uacme {
    fn drop(&mut self) {
        if let Some((child, stdin)) = self.holder.take() {
            drop(stdin);
            let _ = proc::wait_timeout(child, Duration::from_secs(5));
        }
    }
}

impl Peer for Uacme {
    fn id(&self) -> &'static str {
        "uacme"
    }

    fn label(&self) -> String {
        labelled("uacme", "uacme")
    }

    fn setup(&mut self, ctx: &Ctx) -> Result<()> {
        std::fs::create_dir_all(ctx.dir("uacme"))?;
        self.start_namespace(ctx)?;
        proc::run_checked(
            &self.uacme(ctx, &["-y", "new"]),
            &setup_log(ctx, "uacme")?,
            ctx.timeout,
        )
    }

    fn issue(&self, ctx: &Ctx, name: &str, _slot: usize) -> Spec {
        let hook = ctx.hook(hook::UACME_HOOK).display().to_string();
        self.uacme(ctx, &["-h", &hook, "issue", name])
    }
}

/// Checks that `path` exists, for clearer errors than a failed spawn.
pub fn require(path: &Path, what: &str) -> Result<()> {
    if path.exists() {
        Ok(())
    } else {
        bail!("{what} not found at {}", path.display())
    }
}
