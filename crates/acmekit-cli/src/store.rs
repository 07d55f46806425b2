//! The state directory: accounts and certificates on disk.
//!
//! ```text
//! STATE/accounts/<server host>/account.json   directory + account URL
//! STATE/accounts/<server host>/key.pem        account key (0600)
//! STATE/certificates/<first name>/cert.pem, chain.pem, fullchain.pem,
//!                                 key.pem (0600), meta.json
//! STATE/certificates/<first name>/pending.json, pending-key.pem (0600)
//!                                 an order in flight, for kill-and-rerun
//! ```
//!
//! Every file is written atomically (temp file in the same directory,
//! fsync, rename, fsync of the directory); directories are 0700 and private
//! files 0600 whatever the umask.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` (and any missing parents, all 0700) and makes it 0700.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))
}

/// Writes `data` to `path` atomically with the given mode.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = path
        .parent()
        .context("a file path has a parent directory")?;
    private_dir(dir)?;
    let name = path
        .file_name()
        .context("a file path has a name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed `mode` at creation; widen nothing, but
        // make sure it is exactly `mode`.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a file to a string, `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// What is kept about an account.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccountFile {
    /// Directory URL.
    pub directory: String,
    /// Account URL.
    pub url: String,
}

/// What is kept about a certificate besides its PEM files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertMeta {
    /// The names, in the order given.
    pub names: Vec<String>,
    /// Directory URL of the CA.
    pub server: String,
    /// Profile asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Key type of the certificate key.
    pub key_type: String,
    /// Order URL.
    pub order_url: String,
    /// Certificate URL.
    pub certificate_url: String,
    /// Serial number (hex).
    pub serial: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// ARI certificate ID, when computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ari_cert_id: Option<String>,
    /// Preferred chain, as asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_chain: Option<String>,
    /// How challenges were answered, reused by `renew`.
    #[serde(default)]
    pub solver: crate::cli::SolverArgs,
    /// When the certificate was revoked (RFC 3339), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// The last renewal information (RFC 9773) the server gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ari: Option<AriState>,
}

/// Renewal information as last fetched, with the renewal time picked once
/// inside the window (picking again on every run would skew renewals
/// toward the start of the window).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AriState {
    /// Suggested window start, RFC 3339.
    pub window_start: String,
    /// Suggested window end, RFC 3339.
    pub window_end: String,
    /// The renewal time picked inside the window, RFC 3339.
    pub renew_at: String,
    /// Do not ask again before this, RFC 3339 (from Retry-After).
    pub next_check: String,
    /// The server's explanation page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation_url: Option<String>,
}

impl CertMeta {
    /// Reads `dir/meta.json`; `None` when there is none. A file that does
    /// not parse, or names no identifier, is a clear error.
    pub fn load(dir: &Path) -> Result<Option<CertMeta>> {
        let path = dir.join("meta.json");
        let Some(text) = read_optional(&path)? else {
            return Ok(None);
        };
        let damaged = || {
            format!(
                "{} is damaged; remove the directory and issue again",
                path.display()
            )
        };
        let meta: CertMeta = serde_json::from_str(&text).with_context(damaged)?;
        anyhow::ensure!(
            !meta.names.is_empty(),
            "{}: it names no identifier",
            damaged()
        );
        Ok(Some(meta))
    }
}

/// An order in flight, saved before the order is worked so that a killed
/// run can finish it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The names asked for.
    pub names: Vec<String>,
    /// Directory URL.
    pub server: String,
    /// Order URL.
    pub order_url: String,
}

impl Store {
    /// A store rooted at `root` (created 0700 on first write).
    pub fn new(root: PathBuf) -> Self {
        Store { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// When the CA's rate limit for `name` lifts, if one was recorded and
    /// has not passed (`STATE/ratelimits.json`, kept across runs).
    pub fn rate_limited_until(&self, server: &str, name: &str) -> Result<Option<String>> {
        let limits = self.rate_limits()?;
        let now = time::OffsetDateTime::now_utc();
        Ok(limits
            .get(&format!("{server} {name}"))
            .filter(|until| {
                time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339)
                    .is_ok_and(|t| t > now)
            })
            .cloned())
    }

    /// Records that the CA rate-limited these names until `until` (RFC 3339).
    pub fn record_rate_limit(&self, server: &str, names: &[String], until: &str) -> Result<()> {
        let mut limits = self.rate_limits()?;
        for n in names {
            limits.insert(format!("{server} {n}"), until.to_owned());
        }
        let path = self.root.join("ratelimits.json");
        write_atomic(
            &path,
            serde_json::to_string_pretty(&limits)?.as_bytes(),
            0o600,
        )
    }

    fn rate_limits(&self) -> Result<std::collections::BTreeMap<String, String>> {
        let path = self.root.join("ratelimits.json");
        Ok(read_optional(&path)?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default())
    }

    /// `STATE/accounts/<host of the directory URL>`.
    pub fn account_dir(&self, directory_url: &str) -> PathBuf {
        self.root
            .join("accounts")
            .join(host_dir_name(directory_url))
    }

    /// `STATE/certificates/<first name>`.
    pub fn cert_dir(&self, first_name: &str) -> PathBuf {
        self.root.join("certificates").join(name_dir(first_name))
    }

    /// Every managed certificate: (directory, metadata).
    pub fn certificates(&self) -> Result<Vec<(PathBuf, CertMeta)>> {
        let base = self.root.join("certificates");
        let entries = match fs::read_dir(&base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", base.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let dir = entry?.path();
            if let Some(meta) = CertMeta::load(&dir)? {
                out.push((dir, meta));
            }
        }
        out.sort_by(|a, b| a.1.names.cmp(&b.1.names));
        Ok(out)
    }
}

/// A file-system-safe directory name for a server: host and port.
fn host_dir_name(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    sanitize(&host.replace(':', "_"))
}

/// `*.example.com` is kept as `_.example.com`.
fn name_dir(name: &str) -> String {
    sanitize(&name.replacen("*.", "_.", 1))
}

fn sanitize(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_directory_names() {
        assert_eq!(
            host_dir_name("https://127.0.0.1:14000/dir"),
            "127.0.0.1_14000"
        );
        assert_eq!(
            host_dir_name("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org"
        );
        assert_eq!(name_dir("*.example.com"), "_.example.com");
        assert_eq!(name_dir("../etc"), "_.._etc");
        assert_eq!(name_dir("::1"), "__1");
    }

    #[test]
    fn atomic_write_sets_exact_modes() {
        let dir = std::env::temp_dir().join(format!("acmekit-store-test-{}", std::process::id()));
        let file = dir.join("sub/key.pem");
        write_atomic(&file, b"secret", 0o600).unwrap();
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(file.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dmode, 0o700);
        write_atomic(&file, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"new");
        let leftovers: Vec<_> = fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
