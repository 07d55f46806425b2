//! dns-01 through RFC 2136 dynamic updates signed with TSIG (RFC 8945):
//! `present` adds `_acme-challenge.NAME. 60 IN TXT "VALUE"` to the zone on
//! the given server, `cleanup` deletes exactly that record. The zone is
//! the one given with `--dns-zone`, or found by asking the same server
//! for the SOA of the record's name and then of each parent.

mod keyfile;
mod transport;
mod tsig;
mod wire;

use acmekit::Dns01;
use anyhow::{bail, Context as _, Result};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tsig::{TsigKey, TsigRecord, VerifyError};
use wire::{
    request_flags, txt_rdata, Message, Name, Question, Record, CLASS_IN, CLASS_NONE, FLAG_AA,
    OPCODE_QUERY, OPCODE_UPDATE, TYPE_SOA, TYPE_TSIG, TYPE_TXT,
};

/// TTL of the TXT records added.
const TTL: u32 = 60;
/// Default DNS port when `--dns-rfc2136` names none.
const DNS_PORT: u16 = 53;

/// Publishes dns-01 records with signed dynamic updates.
pub struct Rfc2136 {
    /// The server as the user wrote it (for messages).
    server: String,
    addr: SocketAddr,
    key: TsigKey,
    zone: Option<Name>,
    /// Zones already found, by record name.
    zones: Mutex<HashMap<Name, Name>>,
}

impl Rfc2136 {
    /// Reads the key file and resolves the server; nothing is sent yet.
    pub async fn new(server: &str, key_file: &Path, zone: Option<&str>) -> Result<Self> {
        let text = std::fs::read_to_string(key_file)
            .with_context(|| format!("cannot read the TSIG key file {}", key_file.display()))?;
        let key = keyfile::parse(&text).map_err(|e| {
            anyhow::anyhow!(
                "the TSIG key file {} is not a usable BIND key file: {e}",
                key_file.display()
            )
        })?;
        let zone = match zone {
            Some(z) => Some(Name::parse(z).map_err(|e| anyhow::anyhow!("--dns-zone: {e}"))?),
            None => None,
        };
        let addr = resolve(server).await?;
        Ok(Rfc2136 {
            server: server.to_owned(),
            addr,
            key,
            zone,
            zones: Mutex::new(HashMap::new()),
        })
    }

    /// Adds the TXT record.
    pub async fn present(&self, record: &Dns01) -> Result<(), String> {
        self.update(record, CLASS_IN, TTL, "add").await
    }

    /// Deletes exactly the TXT record `present` added (other values at the
    /// same name stay).
    pub async fn cleanup(&self, record: &Dns01) -> Result<(), String> {
        self.update(record, CLASS_NONE, 0, "delete").await
    }

    async fn update(
        &self,
        record: &Dns01,
        class: u16,
        ttl: u32,
        action: &str,
    ) -> Result<(), String> {
        let name = Name::parse(&record.name)?;
        let zone = self.zone_of(&name).await?;
        let what = format!(
            "the DNS update to {action} TXT {name} in zone {zone} at {}",
            self.server
        );
        let message = Message {
            id: random_id(),
            flags: request_flags(OPCODE_UPDATE),
            questions: vec![Question {
                name: zone.clone(),
                qtype: TYPE_SOA,
                qclass: CLASS_IN,
            }],
            authority: vec![Record {
                name: name.clone(),
                rtype: TYPE_TXT,
                class,
                ttl,
                rdata: txt_rdata(&record.value),
            }],
            ..Message::default()
        };
        let response = self.send(&message, &what).await?;
        match response.rcode() {
            0 => {
                tracing::debug!(%name, %zone, server = %self.server, action, "DNS update accepted");
                Ok(())
            }
            rcode => Err(format!(
                "{what} failed: {}",
                update_rcode_text(rcode, &zone, &self.key.name)
            )),
        }
    }

    /// The zone `name` belongs to: `--dns-zone`, or the owner of the SOA
    /// the server returns for `name` or the nearest parent it knows.
    async fn zone_of(&self, name: &Name) -> Result<Name, String> {
        if let Some(zone) = &self.zone {
            if !name.is_within(zone) {
                return Err(format!(
                    "{name} is not in the zone {zone} given with --dns-zone"
                ));
            }
            return Ok(zone.clone());
        }
        if let Some(zone) = lock(&self.zones).get(name) {
            return Ok(zone.clone());
        }
        let mut candidate = Some(name.clone());
        while let Some(c) = candidate {
            if c.as_str().is_empty() {
                break;
            }
            if let Some(zone) = self.soa_owner(&c).await? {
                tracing::debug!(%name, %zone, server = %self.server, "found the zone");
                lock(&self.zones).insert(name.clone(), zone.clone());
                return Ok(zone);
            }
            candidate = c.parent();
        }
        Err(format!(
            "cannot find the DNS zone of {name}: {} answered no SOA query for it or its parents; name the zone with --dns-zone",
            self.server
        ))
    }

    /// Asks for the SOA of `candidate`: the zone's name if the server
    /// answers with one (in the answer, or authoritatively in the authority
    /// section of a negative answer); `None` to try the parent.
    async fn soa_owner(&self, candidate: &Name) -> Result<Option<Name>, String> {
        let query = Message {
            id: random_id(),
            flags: request_flags(OPCODE_QUERY),
            questions: vec![Question {
                name: candidate.clone(),
                qtype: TYPE_SOA,
                qclass: CLASS_IN,
            }],
            ..Message::default()
        };
        let what = format!("the SOA query for {candidate} at {}", self.server);
        let response = self.send(&query, &what).await?;
        // NOERROR (0) or NXDOMAIN (3) may carry the zone; REFUSED, NOTAUTH,
        // SERVFAIL… mean "not here": try the parent.
        if !matches!(response.rcode(), 0 | 3) {
            return Ok(None);
        }
        if let Some(soa) = response
            .answers
            .iter()
            .find(|r| r.rtype == TYPE_SOA && &r.name == candidate)
        {
            return Ok(Some(soa.name.clone()));
        }
        if response.flags & FLAG_AA != 0 {
            if let Some(soa) = response
                .authority
                .iter()
                .find(|r| r.rtype == TYPE_SOA && candidate.is_within(&r.name))
            {
                return Ok(Some(soa.name.clone()));
            }
        }
        Ok(None)
    }

    /// Signs `message`, sends it and returns the verified response. A
    /// response without TSIG is accepted only to report its error RCODE.
    async fn send(&self, message: &Message, what: &str) -> Result<Message, String> {
        let signed = self.key.sign(&message.encode(), now(), None);
        let bytes = transport::exchange(self.addr, &signed.bytes)
            .await
            .map_err(|e| format!("{what} failed: {e}"))?;
        let decoded = Message::decode(&bytes).map_err(|e| format!("{what} failed: {e}"))?;
        let response = decoded.message;
        let tsig = match (response.additional.last(), decoded.last_additional_at) {
            (Some(r), Some(at)) if r.rtype == TYPE_TSIG => {
                let tsig = TsigRecord::parse(r).map_err(|e| format!("{what} failed: {e}"))?;
                Some((tsig, at))
            }
            _ => None,
        };
        match tsig {
            Some((tsig, at)) => {
                self.key
                    .verify_response(&signed.mac, &bytes, at, &tsig, now())
                    .map_err(|e| {
                        format!(
                            "{what} failed: {}",
                            self.tsig_failure_text(&e, response.rcode())
                        )
                    })?;
                Ok(response)
            }
            None if response.rcode() != 0 => Ok(response),
            None => Err(format!(
                "{what} failed: the response is not signed with TSIG, so it cannot be trusted"
            )),
        }
    }

    fn tsig_failure_text(&self, e: &VerifyError, rcode: u16) -> String {
        let key = &self.key.name;
        match e {
            VerifyError::Server(code) => {
                let hint = match *code {
                    tsig::BADSIG => format!(
                        "the server does not accept the signature: the secret of key {key} differs from the server's"
                    ),
                    tsig::BADKEY => format!(
                        "the server does not know key {key} with algorithm {}",
                        self.key.algorithm.name()
                    ),
                    tsig::BADTIME => {
                        "this machine's clock and the server's differ by more than 5 minutes".to_owned()
                    }
                    _ => "the server rejected the TSIG signature".to_owned(),
                };
                format!(
                    "{}, TSIG error {}: {hint}",
                    rcode_name(rcode),
                    tsig::error_name(*code)
                )
            }
            VerifyError::OtherKey(other) => {
                format!("the response is signed with another TSIG key, {other}")
            }
            VerifyError::BadMac | VerifyError::TruncatedMac => {
                "the TSIG signature of the response does not verify (wrong secret, or a tampered response)".to_owned()
            }
            VerifyError::BadTime { signed, now } => format!(
                "the response's TSIG time ({signed}) is more than 5 minutes from this machine's ({now}): check the clocks"
            ),
        }
    }
}

/// `HOST`, `HOST:PORT`, `IP`, `IPV4:PORT` or `[IPV6]:PORT` to an address.
async fn resolve(server: &str) -> Result<SocketAddr> {
    if let Ok(addr) = server.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let bare = server.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    let (host, port) = match server.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => (host, port),
            Err(_) => bail!("--dns-rfc2136 {server:?}: the port {port:?} is not a number"),
        },
        None => (server, DNS_PORT),
    };
    if host.is_empty() {
        bail!("--dns-rfc2136 {server:?}: give the DNS server as HOST[:PORT]");
    }
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("--dns-rfc2136: cannot resolve the DNS server {host}"))?;
    addrs
        .next()
        .with_context(|| format!("--dns-rfc2136: the DNS server {host} has no address"))
}

/// The mnemonic of an RCODE (RFC 1035, RFC 2136 §2.2).
fn rcode_name(rcode: u16) -> String {
    match rcode {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        6 => "YXDOMAIN".into(),
        7 => "YXRRSET".into(),
        8 => "NXRRSET".into(),
        9 => "NOTAUTH".into(),
        10 => "NOTZONE".into(),
        other => format!("RCODE {other}"),
    }
}

/// An update's error RCODE with what it usually means.
fn update_rcode_text(rcode: u16, zone: &Name, key: &Name) -> String {
    let hint = match rcode {
        2 => "the server failed to apply it; see its log".to_owned(),
        4 => "the server does not implement dynamic updates".to_owned(),
        5 => format!("the server does not allow key {key} to update zone {zone} (check allow-update / update-policy)"),
        9 => format!("the server is not authoritative for zone {zone}, or does not accept key {key}"),
        10 => format!("the name is not in zone {zone}"),
        _ => String::new(),
    };
    if hint.is_empty() {
        rcode_name(rcode)
    } else {
        format!("{} ({hint})", rcode_name(rcode))
    }
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    // A predictable ID only weakens spoofing protection, which TSIG
    // provides anyway; fall back to the clock.
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return (now() & 0xffff) as u16;
    }
    u16::from_be_bytes(b)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn server_addresses() {
        assert_eq!(
            resolve("127.0.0.1:5353").await.unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            resolve("192.0.2.1").await.unwrap(),
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(resolve("::1").await.unwrap(), "[::1]:53".parse().unwrap());
        assert_eq!(
            resolve("[::1]:54").await.unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert_eq!(resolve("localhost:55").await.unwrap().port(), 55);
        assert!(resolve("localhost:x")
            .await
            .unwrap_err()
            .to_string()
            .contains("not a number"));
        assert!(resolve(":53").await.is_err());
    }

    #[test]
    fn rcodes_read_well() {
        let zone = Name::parse("example.com").unwrap();
        let key = Name::parse("k").unwrap();
        assert!(update_rcode_text(5, &zone, &key)
            .starts_with("REFUSED (the server does not allow key k"));
        assert!(update_rcode_text(9, &zone, &key).starts_with("NOTAUTH"));
        assert_eq!(update_rcode_text(7, &zone, &key), "YXRRSET");
        assert_eq!(rcode_name(42), "RCODE 42");
    }
}
