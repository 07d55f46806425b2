//! Challenge solvers the CLI offers: a standalone http-01 server, a
//! webroot, a standalone tls-alpn-01 server, and for dns-01 a hook command
//! or RFC 2136 dynamic updates. [`CliSolver`] combines the ones the user
//! chose.

mod dns_hook;
mod http;
mod rfc2136;
mod tls_alpn;
mod webroot;

use acmekit::http::BoxFuture;
use acmekit::{ChallengeTask, ChallengeType, Proof, Solver, SolverError};
use anyhow::{bail, Result};

use crate::cli::SolverArgs;

/// The solvers chosen on the command line, behind one [`Solver`].
pub struct CliSolver {
    http: Option<http::HttpServer>,
    webroot: Option<webroot::Webroot>,
    tls_alpn: Option<tls_alpn::TlsAlpnServer>,
    dns_hook: Option<dns_hook::DnsHook>,
    rfc2136: Option<rfc2136::Rfc2136>,
    preferences: Vec<ChallengeType>,
}

impl CliSolver {
    /// Starts the chosen solvers (binding their ports now, so that a busy
    /// port is reported before any order is placed).
    pub async fn start(args: &SolverArgs) -> Result<Self> {
        let http = match &args.http {
            Some(addr) => Some(http::HttpServer::bind(addr).await?),
            None => None,
        };
        let tls_alpn = match &args.tls_alpn {
            Some(addr) => Some(tls_alpn::TlsAlpnServer::bind(addr).await?),
            None => None,
        };
        let webroot = args.webroot.clone().map(webroot::Webroot::new);
        let dns_hook = args.dns_hook.clone().map(dns_hook::DnsHook::new);
        if http.is_some() && webroot.is_some() {
            bail!("--http and --webroot both answer http-01; choose one");
        }
        if dns_hook.is_some() && args.dns_rfc2136.is_some() {
            bail!("--dns-hook and --dns-rfc2136 both answer dns-01; choose one");
        }
        let rfc2136 = match (&args.dns_rfc2136, &args.tsig_key) {
            (Some(server), Some(key)) => {
                Some(rfc2136::Rfc2136::new(server, key, args.dns_zone.as_deref()).await?)
            }
            (Some(_), None) => bail!("--dns-rfc2136 needs --tsig-key FILE to sign its updates"),
            (None, _) => None,
        };
        let mut preferences = Vec::new();
        if http.is_some() || webroot.is_some() {
            preferences.push(ChallengeType::Http01);
        }
        if tls_alpn.is_some() {
            preferences.push(ChallengeType::TlsAlpn01);
        }
        if dns_hook.is_some() || rfc2136.is_some() {
            preferences.push(ChallengeType::Dns01);
        }
        if preferences.is_empty() {
            bail!(
                "no way to answer challenges: give --http [ADDR], --webroot DIR, --tls-alpn [ADDR], --dns-hook CMD or --dns-rfc2136 SERVER"
            );
        }
        Ok(CliSolver {
            http,
            webroot,
            tls_alpn,
            dns_hook,
            rfc2136,
            preferences,
        })
    }
}

impl Solver for CliSolver {
    fn preferences(&self) -> &[ChallengeType] {
        &self.preferences
    }

    fn present<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            match &task.proof {
                Proof::Http01(h) => match (&self.http, &self.webroot) {
                    (Some(server), _) => server.add(h),
                    (None, Some(webroot)) => webroot.present(h)?,
                    _ => return Err("no http-01 solver configured".into()),
                },
                Proof::TlsAlpn01(t) => match &self.tls_alpn {
                    Some(server) => server.add(t)?,
                    None => return Err("no tls-alpn-01 solver configured".into()),
                },
                Proof::Dns01(d) => match (&self.dns_hook, &self.rfc2136) {
                    (Some(hook), _) => hook.run("present", d).await?,
                    (None, Some(rfc2136)) => rfc2136.present(d).await?,
                    (None, None) => return Err("no dns-01 solver configured".into()),
                },
                other => return Err(format!("cannot publish {other:?}").into()),
            }
            Ok(())
        })
    }

    fn cleanup<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            match &task.proof {
                Proof::Http01(h) => {
                    if let Some(server) = &self.http {
                        server.remove(h);
                    }
                    if let Some(webroot) = &self.webroot {
                        webroot.cleanup(h)?;
                    }
                }
                Proof::TlsAlpn01(t) => {
                    if let Some(server) = &self.tls_alpn {
                        server.remove(t);
                    }
                }
                Proof::Dns01(d) => {
                    if let Some(hook) = &self.dns_hook {
                        hook.run("cleanup", d).await?;
                    }
                    if let Some(rfc2136) = &self.rfc2136 {
                        rfc2136.cleanup(d).await?;
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }
}
