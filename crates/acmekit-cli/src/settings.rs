//! Settings resolved from flags, `ACMEKIT_*` environment variables (clap
//! reads those) and the TOML config file, in that order of precedence.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

use crate::cli::Cli;

/// Server names the CLI knows.
pub const SERVERS: &[(&str, &str)] = &[
    (
        "letsencrypt",
        "https://acme-v02.api.letsencrypt.org/directory",
    ),
    (
        "letsencrypt-staging",
        "https://acme-staging-v02.api.letsencrypt.org/directory",
    ),
    ("zerossl", "https://acme.zerossl.com/v2/DV90"),
    ("google", "https://dv.acme-v02.api.pki.goog/directory"),
];

/// The config file: every key is optional and loses to flags and env.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConfigFile {
    /// `server`
    pub server: Option<String>,
    /// `ca-cert`
    pub ca_cert: Option<PathBuf>,
    /// `email`
    pub email: Option<String>,
    /// `accept-tos`
    pub accept_tos: Option<bool>,
    /// `eab-kid`
    pub eab_kid: Option<String>,
    /// `eab-hmac-key`
    pub eab_hmac_key: Option<String>,
    /// `http`
    pub http: Option<String>,
    /// `webroot`
    pub webroot: Option<PathBuf>,
    /// `tls-alpn`
    pub tls_alpn: Option<String>,
    /// `dns-hook`
    pub dns_hook: Option<String>,
    /// `dns-rfc2136`
    pub dns_rfc2136: Option<String>,
    /// `tsig-key`
    pub tsig_key: Option<PathBuf>,
    /// `dns-zone`
    pub dns_zone: Option<String>,
    /// `deploy-hook`
    pub deploy_hook: Option<String>,
    /// `profile`
    pub profile: Option<String>,
    /// `preferred-chain`
    pub preferred_chain: Option<String>,
}

/// Resolved global settings.
#[derive(Debug)]
pub struct Settings {
    /// Directory URL.
    pub server: String,
    /// Plain http:// to a loopback server was allowed.
    pub insecure_http: bool,
    /// Extra trust root for the server's TLS.
    pub ca_cert: Option<PathBuf>,
    /// The state directory.
    pub state_dir: PathBuf,
    /// The config file's contents.
    pub file: ConfigFile,
}

impl Settings {
    /// Resolves the global flags.
    pub fn resolve(cli: &Cli) -> Result<Self> {
        let state_dir = match &cli.state_dir {
            Some(d) => d.clone(),
            None => default_state_dir()?,
        };
        let config_path = cli.config.clone().or_else(|| {
            let p = state_dir.join("config.toml");
            p.exists().then_some(p)
        });
        let file = match &config_path {
            Some(p) => load_config(p)?,
            None => ConfigFile::default(),
        };
        let server = cli
            .server
            .clone()
            .or_else(|| file.server.clone())
            .unwrap_or_else(|| "letsencrypt".into());
        let server = resolve_server(&server, cli.allow_insecure_http)?;
        let ca_cert = cli.ca_cert.clone().or_else(|| file.ca_cert.clone());
        Ok(Settings {
            insecure_http: server.starts_with("http://"),
            server,
            ca_cert,
            state_dir,
            file,
        })
    }
}

fn load_config(path: &Path) -> Result<ConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("the config file {} is invalid", path.display()))
}

/// A server name or URL to a directory URL.
pub fn resolve_server(s: &str, allow_loopback_http: bool) -> Result<String> {
    if let Some((_, url)) = SERVERS.iter().find(|(name, _)| *name == s) {
        return Ok((*url).to_owned());
    }
    if s.starts_with("https://") {
        return Ok(s.to_owned());
    }
    if let Some(rest) = s.strip_prefix("http://") {
        let host = rest.split('/').next().unwrap_or("");
        let loopback =
            host.starts_with("127.") || host.starts_with("[::1]") || host.starts_with("localhost");
        if allow_loopback_http && loopback {
            return Ok(s.to_owned());
        }
        bail!("{s:?} is plain http://: ACME requires https:// (--allow-insecure-http permits http:// to loopback test servers only)");
    }
    let names: Vec<&str> = SERVERS.iter().map(|(n, _)| *n).collect();
    bail!(
        "unknown server {s:?}: give an https:// directory URL or one of {}",
        names.join(", ")
    )
}

fn default_state_dir() -> Result<PathBuf> {
    if is_root() {
        return Ok(PathBuf::from("/var/lib/acmekit"));
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(x).join("acmekit"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/acmekit")),
        None => bail!("cannot tell where to keep state: set --state-dir, XDG_DATA_HOME or HOME"),
    }
}

fn is_root() -> bool {
    // Reading /proc avoids a libc dependency for getuid().
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers() {
        assert!(resolve_server("letsencrypt-staging", false)
            .unwrap()
            .contains("staging"));
        assert_eq!(
            resolve_server("https://127.0.0.1:14000/dir", false).unwrap(),
            "https://127.0.0.1:14000/dir"
        );
        let e = resolve_server("http://x", false).unwrap_err().to_string();
        assert!(e.contains("https://"), "{e}");
        assert!(resolve_server("http://127.0.0.1:1/dir", false).is_err());
        assert!(resolve_server("http://127.0.0.1:1/dir", true).is_ok());
        assert!(resolve_server("http://example.com/dir", true).is_err());
    }

    #[test]
    fn config_file_rejects_unknown_keys() {
        let ok: ConfigFile = toml::from_str("server = \"zerossl\"\naccept-tos = true\n").unwrap();
        assert_eq!(ok.server.as_deref(), Some("zerossl"));
        assert!(toml::from_str::<ConfigFile>("sever = 1").is_err());
    }
}
