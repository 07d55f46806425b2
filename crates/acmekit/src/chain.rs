//! Certificate chains beyond the default one (RFC 8555 §7.4.2): issuer
//! certificates linked with `rel="up"`, alternate chains linked with
//! `rel="alternate"`, and choosing a chain by the name of its root.

use tracing::{debug, warn};
use x509_parser::prelude::*;

use crate::account::Account;
use crate::cert::{CertificateChain, PEM_CHAIN};
use crate::error::{Error, Result};
use crate::http::{BoxFuture, HttpResponse};
use crate::issue::join_all;

/// Most `rel="up"` links followed for one chain; a longer path is cut
/// short (and logged) rather than followed forever.
pub const MAX_UP_LINKS: usize = 8;

/// Most alternate chains fetched for one certificate; further links are
/// ignored (and logged).
pub const MAX_ALTERNATE_CHAINS: usize = 8;

/// What a `rel="up"` fetch accepts: a PEM chain, or one DER certificate.
const ISSUER_ACCEPT: &str = "application/pem-certificate-chain, application/pkix-cert;q=0.9";

impl Account {
    /// Downloads a certificate chain (POST-as-GET the certificate URL).
    ///
    /// The chain remembers the `rel="alternate"` URLs the server listed
    /// ([`CertificateChain::alternate_urls`]). When the server sends only
    /// part of the chain and links the issuer with `rel="up"` (as older
    /// ACME servers do), the issuers are fetched and appended, up to
    /// [`MAX_UP_LINKS`] links and never the same URL twice.
    pub async fn download_certificate(&self, url: &str) -> Result<CertificateChain> {
        let resp = self.post(url, None, Some(PEM_CHAIN)).await?;
        let chain = parse_chain(url, &resp)?;
        let chain = self.follow_up_links(url, chain, &resp).await?;
        let alternates = links(url, &resp, "alternate");
        Ok(chain.with_alternate_urls(alternates))
    }

    /// Downloads the default chain and every alternate chain (RFC 8555
    /// §7.4.2), default first, the alternates in the server's order and
    /// fetched concurrently. At most [`MAX_ALTERNATE_CHAINS`] alternates.
    pub async fn download_chains(&self, url: &str) -> Result<Vec<CertificateChain>> {
        let default = self.download_certificate(url).await?;
        let alternates = alternate_urls_to_fetch(url, &default);
        let fetched = join_all(
            alternates
                .iter()
                .map(|u| Box::pin(self.download_certificate(u)) as BoxFuture<'_, _>)
                .collect(),
        )
        .await;
        let mut chains = vec![default];
        for chain in fetched {
            chains.push(chain?);
        }
        Ok(chains)
    }

    /// The chain whose root is named `preferred_issuer_cn` (see
    /// [`CertificateChain::matches_issuer`]), fetching alternates one at a
    /// time only while none matched; the default chain when none matches.
    ///
    /// The default chain is never lost: an alternate that fails to download
    /// is logged and skipped.
    pub(crate) async fn download_preferred_chain(
        &self,
        url: &str,
        preferred_issuer_cn: &str,
    ) -> Result<CertificateChain> {
        let default = self.download_certificate(url).await?;
        if default.matches_issuer(preferred_issuer_cn) {
            return Ok(default);
        }
        for alternate in alternate_urls_to_fetch(url, &default) {
            match self.download_certificate(&alternate).await {
                Ok(chain) if chain.matches_issuer(preferred_issuer_cn) => {
                    debug!(url = %alternate, issuer = preferred_issuer_cn, "preferred chain found");
                    return Ok(chain);
                }
                Ok(_) => {}
                Err(e) => warn!(url = %alternate, error = %e, "alternate chain download failed"),
            }
        }
        debug!(
            issuer = preferred_issuer_cn,
            "no chain has the preferred issuer; using the default chain"
        );
        Ok(default)
    }

    /// Appends issuer certificates linked with `rel="up"` until the top is
    /// self-signed, no link is left, a link repeats, a fetch adds nothing
    /// new, or [`MAX_UP_LINKS`] links were followed.
    async fn follow_up_links(
        &self,
        url: &str,
        mut chain: CertificateChain,
        resp: &HttpResponse,
    ) -> Result<CertificateChain> {
        let mut visited = vec![url.to_owned()];
        let mut next = links(url, resp, "up").into_iter().next();
        while let Some(up) = next.take() {
            let top = chain.certificates().last().expect("a chain is never empty");
            if is_self_signed(top) || visited.contains(&up) {
                break;
            }
            if visited.len() > MAX_UP_LINKS {
                warn!(%url, "stopped following rel=\"up\" links after {MAX_UP_LINKS}");
                break;
            }
            visited.push(up.clone());
            let resp = self.post(&up, None, Some(ISSUER_ACCEPT)).await?;
            let issuers = parse_issuers(&up, &resp)?;
            let mut pem = chain.pem().to_owned();
            let mut added = false;
            for der in issuers {
                if !chain.certificates().iter().any(|c| c.as_ref() == der) {
                    if !pem.ends_with('\n') {
                        pem.push('\n');
                    }
                    pem.push_str(&crate::pem_encode("CERTIFICATE", &der));
                    added = true;
                }
            }
            if !added {
                break;
            }
            chain =
                CertificateChain::from_pem(&pem).map_err(|e| Error::invalid(&up, e.to_string()))?;
            next = links(&up, &resp, "up").into_iter().next();
        }
        Ok(chain)
    }
}

/// The alternates of `default` worth fetching: not the default's own URL,
/// no duplicates, at most [`MAX_ALTERNATE_CHAINS`].
fn alternate_urls_to_fetch(url: &str, default: &CertificateChain) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for alt in default.alternate_urls() {
        if alt != url && !out.contains(alt) {
            out.push(alt.clone());
        }
    }
    if out.len() > MAX_ALTERNATE_CHAINS {
        warn!(%url, count = out.len(), "ignoring alternate chains beyond {MAX_ALTERNATE_CHAINS}");
        out.truncate(MAX_ALTERNATE_CHAINS);
    }
    out
}

/// The response body as a PEM chain.
fn parse_chain(url: &str, resp: &HttpResponse) -> Result<CertificateChain> {
    let pem = std::str::from_utf8(&resp.body)
        .map_err(|_| Error::invalid(url, "the certificate chain is not UTF-8 text"))?;
    CertificateChain::from_pem(pem).map_err(|e| Error::invalid(url, e.to_string()))
}

/// An issuer response: PEM (one or more certificates) or a single DER
/// certificate (`application/pkix-cert`).
fn parse_issuers(url: &str, resp: &HttpResponse) -> Result<Vec<Vec<u8>>> {
    if resp.body.starts_with(b"-----BEGIN")
        || resp.body.first().is_some_and(u8::is_ascii_whitespace)
    {
        let chain = parse_chain(url, resp)?;
        return Ok(chain.certificates().iter().map(|c| c.to_vec()).collect());
    }
    X509Certificate::from_der(&resp.body).map_err(|e| {
        Error::invalid(
            url,
            format!("the issuer certificate is neither PEM nor DER X.509: {e}"),
        )
    })?;
    Ok(vec![resp.body.to_vec()])
}

/// Link targets with relation `rel`, resolved against the request URL
/// (RFC 8288 §3.2 allows relative references).
fn links(base: &str, resp: &HttpResponse, rel: &str) -> Vec<String> {
    resp.links(rel)
        .into_iter()
        .map(|target| resolve_url(base, &target))
        .collect()
}

/// Resolves a URI reference against an absolute `http(s)` URL: absolute,
/// scheme-relative, absolute-path and relative-path forms (RFC 3986 §5.2,
/// without dot-segment removal, which ACME servers have no use for).
pub(crate) fn resolve_url(base: &str, target: &str) -> String {
    let target = target.trim();
    if target.contains("://") {
        return target.to_owned();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return target.to_owned();
    };
    if let Some(authority_and_path) = target.strip_prefix("//") {
        return format!("{scheme}://{authority_and_path}");
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..authority_end]);
    if target.starts_with('/') {
        return format!("{origin}{target}");
    }
    let path = &rest[authority_end..];
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{origin}{dir}{target}")
}

/// True when a certificate's issuer and subject names are the same.
fn is_self_signed(der: &[u8]) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
}

/// Chooses the chain whose top certificate was issued by
/// `preferred_issuer_cn` (or, if the top is self-signed, is named so),
/// compared ignoring ASCII case; otherwise the first (default) chain.
/// `None` only for an empty slice.
///
/// This is the usual "preferred chain" rule (certbot's
/// `--preferred-chain`): the name is the root CA's common name, e.g.
/// `ISRG Root X1`.
pub fn select_chain<'a>(
    chains: &'a [CertificateChain],
    preferred_issuer_cn: &str,
) -> Option<&'a CertificateChain> {
    chains
        .iter()
        .find(|c| c.matches_issuer(preferred_issuer_cn))
        .or_else(|| chains.first())
}

impl CertificateChain {
    /// The common name of the issuer of the chain's top certificate: the
    /// root the chain leads to. For a self-signed top certificate, that is
    /// its own name.
    pub fn top_issuer_common_name(&self) -> Option<String> {
        let top = self.certificates().last()?;
        let (_, cert) = X509Certificate::from_der(top).ok()?;
        let cn = cert.issuer().iter_common_name().next()?.as_str().ok()?;
        Some(cn.to_owned())
    }

    /// True when [`Self::top_issuer_common_name`] is `issuer_cn`, ignoring
    /// ASCII case and surrounding spaces.
    pub fn matches_issuer(&self, issuer_cn: &str) -> bool {
        self.top_issuer_common_name()
            .is_some_and(|cn| cn.trim().eq_ignore_ascii_case(issuer_cn.trim()))
    }
}

#[cfg(test)]
mod tests;
