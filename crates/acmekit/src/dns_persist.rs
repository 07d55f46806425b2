//! dns-persist-01 (draft-ietf-acme-dns-persist): a persistent TXT record at
//! `_validation-persist.<domain>` naming the CA and the account, which can
//! stay in place for every later order.
//!
//! The record is an RFC 8659 issue-value:
//! `<issuer-domain-name>; accounturi=<URI>[; policy=wildcard][; persistUntil=<unix seconds>]`.
//! Draft -02 made `accounturi` a hashed URI under the CA's
//! `accountHashPrefix` and renamed the challenge's `issuer-domain-names` to
//! `issuerDomainNames`; servers of drafts -00/-01 (the ones deployed so far)
//! expect the account URL itself. Both are read; the directory says which
//! form the server expects.

use crate::authz::Challenge;
use crate::error::{Error, Result};
use crate::types::{DirectoryMeta, Identifier, IdentifierType};
use crate::{b64, sha256};

/// The label prepended to the validated name (draft §4).
pub const VALIDATION_PERSIST_LABEL: &str = "_validation-persist";

/// Most issuer domain names a challenge may carry (draft §3.1: "Clients
/// MUST consider a challenge malformed if the issuerDomainNames array is
/// empty or if it contains more than 10 entries").
pub const MAX_ISSUER_DOMAIN_NAMES: usize = 10;

/// Longest character-string in a TXT record (RFC 1035 §3.3.14).
const TXT_STRING_MAX: usize = 255;

/// What to publish for dns-persist-01: one TXT record. Unlike dns-01 it
/// need not be removed after validation; it keeps authorizing this account
/// at this CA until removed (or until `persist_until`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsPersist01 {
    /// `_validation-persist.<domain>` (no trailing dot; for a wildcard, the
    /// base domain).
    pub name: String,
    /// The CA's issuer domain name chosen from the challenge.
    pub issuer_domain_name: String,
    /// The `accounturi` value: the hashed account URI (draft -02) or the
    /// account URL (drafts -00/-01).
    pub account_uri: String,
    /// Adds `policy=wildcard`, which lets the record also authorize
    /// `*.<domain>` and subdomains (draft §5). Set for wildcard identifiers.
    pub wildcard: bool,
    /// Adds `persistUntil=<unix seconds>`: the CA stops honouring the record
    /// after that time (draft §4.1 item 5). `None` by default.
    pub persist_until: Option<u64>,
}

impl DnsPersist01 {
    /// The TXT record value, e.g.
    /// `authority.example; accounturi=https://ca.example/acct/123; policy=wildcard`.
    pub fn value(&self) -> String {
        let mut v = format!(
            "{}; accounturi={}",
            self.issuer_domain_name, self.account_uri
        );
        if self.wildcard {
            v.push_str("; policy=wildcard");
        }
        if let Some(t) = self.persist_until {
            v.push_str(&format!("; persistUntil={t}"));
        }
        v
    }

    /// The value split into TXT character-strings of at most 255 octets,
    /// as a record longer than that must be published (draft §9.1, RFC 1035
    /// §3.3.14); the CA concatenates them. One string for a short value.
    pub fn txt_strings(&self) -> Vec<String> {
        // The value is ASCII (A-label names, URIs, digits), so any byte
        // offset is a character boundary.
        self.value()
            .as_bytes()
            .chunks(TXT_STRING_MAX)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect()
    }
}

/// The hashed account URI of draft -02 §4.1:
/// `<accountHashPrefix>sha-256/<base64url(SHA-256(len(domain) || domain || thumbprint || account URL))>`.
///
/// `domain` is the name the record is published for (normalized: lower
/// case, no trailing dot), or `None` for the draft's domain-independent
/// opt-out form (`*`), which can be reused across domains but lets anyone
/// correlate them. `thumbprint` is the account key's RFC 7638 thumbprint,
/// base64url as in key authorizations.
pub fn dns_persist_account_uri(
    account_hash_prefix: &str,
    domain: Option<&str>,
    thumbprint: &str,
    account_url: &str,
) -> Result<String> {
    let domain = domain.map_or_else(|| "*".to_owned(), normalize_name);
    let len = u8::try_from(domain.len()).map_err(|_| {
        Error::InvalidArgument(format!("{domain:?} is longer than a DNS name can be"))
    })?;
    let mut input = Vec::with_capacity(1 + domain.len() + thumbprint.len() + account_url.len());
    input.push(len);
    input.extend_from_slice(domain.as_bytes());
    input.extend_from_slice(thumbprint.as_bytes());
    input.extend_from_slice(account_url.as_bytes());
    Ok(format!(
        "{account_hash_prefix}sha-256/{}",
        b64(&sha256(&input))
    ))
}

impl Challenge {
    /// The issuer domain names of a dns-persist-01 challenge
    /// (`issuerDomainNames`, or `issuer-domain-names` as drafts -00/-01 and
    /// deployed servers spell it), normalized to lower case without a
    /// trailing dot. Errors when the member is missing, empty, longer than
    /// [`MAX_ISSUER_DOMAIN_NAMES`], or holds something that is not an
    /// ASCII domain name, all of which the draft calls malformed.
    pub fn issuer_domain_names(&self) -> Result<Vec<String>> {
        let malformed = |why: &str| {
            Error::invalid(
                &self.url,
                format!("the dns-persist-01 challenge is malformed: {why}"),
            )
        };
        let value = self
            .extra
            .get("issuerDomainNames")
            .or_else(|| self.extra.get("issuer-domain-names"))
            .ok_or_else(|| malformed("it has no issuerDomainNames"))?;
        let names = value
            .as_array()
            .ok_or_else(|| malformed("issuerDomainNames is not an array"))?;
        if names.is_empty() || names.len() > MAX_ISSUER_DOMAIN_NAMES {
            return Err(malformed(&format!(
                "issuerDomainNames has {} entries (1 to {MAX_ISSUER_DOMAIN_NAMES} allowed)",
                names.len()
            )));
        }
        names
            .iter()
            .map(|n| {
                let n = n
                    .as_str()
                    .ok_or_else(|| malformed("an issuer domain name is not a string"))?;
                let n = normalize_name(n);
                if n.is_empty()
                    || n.len() > 253
                    || !n
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                {
                    return Err(malformed(&format!("{n:?} is not an issuer domain name")));
                }
                Ok(n)
            })
            .collect()
    }
}

/// Lower case, no trailing dot (draft §9.2 for ASCII names; identifiers
/// and issuer names reach us as A-labels already).
fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Builds the record for `challenge` of `identifier`, for the account with
/// URL `account_url` and key thumbprint `thumbprint`, on a server whose
/// directory metadata is `meta`.
pub(crate) fn dns_persist01(
    challenge: &Challenge,
    identifier: &Identifier,
    thumbprint: &str,
    account_url: &str,
    meta: Option<&DirectoryMeta>,
) -> Result<DnsPersist01> {
    if identifier.kind != IdentifierType::Dns {
        return Err(Error::InvalidArgument(format!(
            "dns-persist-01 validates DNS names, not {} identifiers ({})",
            identifier.kind, identifier.value
        )));
    }
    let offered = challenge.issuer_domain_names()?;
    let malformed = |why: String| {
        Error::invalid(
            &challenge.url,
            format!("the dns-persist-01 challenge is malformed: {why}"),
        )
    };
    let directory_names: Vec<String> = meta
        .map(|m| {
            m.issuer_domain_names
                .iter()
                .map(|n| normalize_name(n))
                .collect()
        })
        .unwrap_or_default();
    // Draft -02 §3.2: "When D is available, the client MUST consider a
    // challenge malformed if any value in D is absent from C."
    if let Some(missing) = directory_names.iter().find(|d| !offered.contains(d)) {
        return Err(malformed(format!(
            "the directory's issuer domain name {missing:?} is not offered"
        )));
    }
    let hash_prefix = meta.and_then(|m| m.account_hash_prefix.as_deref());
    if hash_prefix.is_some() {
        // Draft -02 §3.2: "When I is available, the client MUST consider a
        // challenge malformed if any value in C is absent from I." Only
        // checked against -02 servers: earlier drafts had no such rule.
        let caa: Vec<String> = meta
            .map(|m| m.caa_identities.iter().map(|n| normalize_name(n)).collect())
            .unwrap_or_default();
        if !caa.is_empty() {
            if let Some(extra) = offered.iter().find(|c| !caa.contains(c)) {
                return Err(malformed(format!(
                    "the issuer domain name {extra:?} is not among the directory's caaIdentities"
                )));
            }
        }
    }
    // A name from the directory stays valid for every later challenge
    // (draft -02 §3.2), so prefer one: the record then outlives this order.
    let issuer = offered
        .iter()
        .find(|c| directory_names.contains(c))
        .unwrap_or(&offered[0])
        .clone();
    let domain = normalize_name(identifier.base_name());
    let account_uri = match hash_prefix {
        Some(prefix) => dns_persist_account_uri(prefix, Some(&domain), thumbprint, account_url)?,
        None => account_url.to_owned(),
    };
    Ok(DnsPersist01 {
        name: format!("{VALIDATION_PERSIST_LABEL}.{domain}"),
        issuer_domain_name: issuer,
        account_uri,
        wildcard: identifier.is_wildcard(),
        persist_until: None,
    })
}

#[cfg(test)]
mod tests;
