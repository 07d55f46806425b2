//! TSIG (RFC 8945): HMAC signatures over DNS messages with a secret
//! shared with the server. Requests are signed; responses are verified
//! against the request's MAC.

use aws_lc_rs::{constant_time, hmac};
use std::fmt;

use super::wire::{put_u16, Name, Reader, Record, CLASS_ANY, TYPE_TSIG};

/// How far (seconds) the signer's and the verifier's clocks may differ.
pub const FUDGE: u16 = 300;

/// The HMAC algorithms the CLI signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `hmac-sha256` (what `tsig-keygen` makes by default).
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl Algorithm {
    /// Every supported algorithm.
    pub const ALL: [Algorithm; 3] = [
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// The algorithm's name as BIND and the TSIG record spell it (without
    /// the trailing dot).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    /// Looks an algorithm up by name (any case, trailing dot allowed).
    pub fn from_name(s: &str) -> Option<Algorithm> {
        let s = s.strip_suffix('.').unwrap_or(s);
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    fn output_len(self) -> usize {
        match self {
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha384 => 48,
            Algorithm::HmacSha512 => 64,
        }
    }
}

/// A TSIG key: its name, algorithm and secret. `Debug` never shows the
/// secret.
#[derive(Clone)]
pub struct TsigKey {
    /// The key's name (the owner name of TSIG records).
    pub name: Name,
    /// The HMAC algorithm.
    pub algorithm: Algorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// The fields of a TSIG record (RFC 8945 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigRecord {
    /// The key name (the record's owner).
    pub key_name: Name,
    /// The algorithm name.
    pub algorithm: Name,
    /// Seconds since the epoch when the message was signed (48 bits).
    pub time_signed: u64,
    /// Allowed clock difference, seconds.
    pub fudge: u16,
    /// The MAC.
    pub mac: Vec<u8>,
    /// The message ID when it was signed.
    pub original_id: u16,
    /// The TSIG error (an extended RCODE: BADSIG, BADKEY, BADTIME, …).
    pub error: u16,
    /// Other data (the server's time with BADTIME).
    pub other: Vec<u8>,
}

/// TSIG error BADSIG.
pub const BADSIG: u16 = 16;
/// TSIG error BADKEY.
pub const BADKEY: u16 = 17;
/// TSIG error BADTIME.
pub const BADTIME: u16 = 18;
/// TSIG error BADTRUNC.
pub const BADTRUNC: u16 = 22;

/// The mnemonic of a TSIG error code.
pub fn error_name(code: u16) -> String {
    match code {
        BADSIG => "BADSIG".into(),
        BADKEY => "BADKEY".into(),
        BADTIME => "BADTIME".into(),
        BADTRUNC => "BADTRUNC".into(),
        other => format!("error {other}"),
    }
}

impl TsigRecord {
    /// Reads a TSIG record (the algorithm name is never compressed, but
    /// pointers are followed anyway).
    pub fn parse(record: &Record) -> Result<TsigRecord, String> {
        if record.rtype != TYPE_TSIG {
            return Err("not a TSIG record".into());
        }
        let mut r = Reader {
            bytes: &record.rdata,
            pos: 0,
        };
        let algorithm = r.name()?;
        let time_signed = r.u48()?;
        let fudge = r.u16()?;
        let mac_len = r.u16()?;
        let mac = r.take(usize::from(mac_len))?.to_vec();
        let original_id = r.u16()?;
        let error = r.u16()?;
        let other_len = r.u16()?;
        let other = r.take(usize::from(other_len))?.to_vec();
        Ok(TsigRecord {
            key_name: record.name.clone(),
            algorithm,
            time_signed,
            fudge,
            mac,
            original_id,
            error,
            other,
        })
    }

    /// The record in wire form.
    pub fn to_record(&self) -> Record {
        let mut rdata = Vec::with_capacity(64 + self.mac.len());
        self.algorithm.encode(&mut rdata);
        put_u48(&mut rdata, self.time_signed);
        put_u16(&mut rdata, self.fudge);
        put_u16(&mut rdata, self.mac.len() as u16);
        rdata.extend_from_slice(&self.mac);
        put_u16(&mut rdata, self.original_id);
        put_u16(&mut rdata, self.error);
        put_u16(&mut rdata, self.other.len() as u16);
        rdata.extend_from_slice(&self.other);
        Record {
            name: self.key_name.clone(),
            rtype: TYPE_TSIG,
            class: CLASS_ANY,
            ttl: 0,
            rdata,
        }
    }

    /// Appends the "TSIG variables" the MAC covers (RFC 8945 §4.3.3):
    /// key name, class, TTL, algorithm, time signed, fudge, error, other.
    fn variables(&self, out: &mut Vec<u8>) {
        self.key_name.encode(out);
        put_u16(out, CLASS_ANY);
        out.extend_from_slice(&0u32.to_be_bytes());
        self.algorithm.encode(out);
        put_u48(out, self.time_signed);
        put_u16(out, self.fudge);
        put_u16(out, self.error);
        put_u16(out, self.other.len() as u16);
        out.extend_from_slice(&self.other);
    }
}

/// A signed request: the bytes to send and its MAC (the response's MAC
/// covers it).
#[derive(Debug, Clone)]
pub struct Signed {
    /// The message with the TSIG record appended.
    pub bytes: Vec<u8>,
    /// The request's MAC.
    pub mac: Vec<u8>,
}

/// Why a response's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The server reported a TSIG error (BADSIG, BADKEY, BADTIME, …).
    Server(u16),
    /// The response names another key or algorithm.
    OtherKey(String),
    /// The MAC does not match.
    BadMac,
    /// The MAC is shorter than RFC 8945 §5.2.2.1 allows.
    TruncatedMac,
    /// The response was signed too far from our time.
    BadTime {
        /// The server's time signed.
        signed: u64,
        /// Our time.
        now: u64,
    },
}

impl TsigKey {
    /// A key; `secret` is the decoded shared secret.
    pub fn new(name: Name, algorithm: Algorithm, secret: Vec<u8>) -> TsigKey {
        TsigKey {
            name,
            algorithm,
            secret,
        }
    }

    /// The MAC over `prior_mac` (as MAC size + MAC, for responses), the
    /// message without its TSIG record, and the TSIG variables.
    fn mac(&self, prior_mac: Option<&[u8]>, message: &[u8], tsig: &TsigRecord) -> Vec<u8> {
        let key = hmac::Key::new(self.algorithm.hmac(), &self.secret);
        let mut ctx = hmac::Context::with_key(&key);
        if let Some(prior) = prior_mac {
            ctx.update(&(prior.len() as u16).to_be_bytes());
            ctx.update(prior);
        }
        ctx.update(message);
        let mut vars = Vec::with_capacity(64);
        tsig.variables(&mut vars);
        ctx.update(&vars);
        ctx.sign().as_ref().to_vec()
    }

    /// The TSIG record for a message signed at `time_signed`, MAC empty.
    fn unsigned_record(&self, message: &[u8], time_signed: u64) -> TsigRecord {
        let original_id = message
            .get(..2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .unwrap_or(0);
        TsigRecord {
            key_name: self.name.clone(),
            algorithm: algorithm_name(self.algorithm),
            time_signed,
            fudge: FUDGE,
            mac: Vec::new(),
            original_id,
            error: 0,
            other: Vec::new(),
        }
    }

    /// Signs `message` (a complete message without a TSIG record):
    /// appends the TSIG record and increments ARCOUNT. `prior_mac` is the
    /// request's MAC when signing a response.
    pub fn sign(&self, message: &[u8], time_signed: u64, prior_mac: Option<&[u8]>) -> Signed {
        let mut tsig = self.unsigned_record(message, time_signed);
        tsig.mac = self.mac(prior_mac, message, &tsig);
        let mut bytes = message.to_vec();
        tsig.to_record().encode(&mut bytes);
        if bytes.len() >= 12 {
            let arcount = u16::from_be_bytes([bytes[10], bytes[11]]).wrapping_add(1);
            bytes[10..12].copy_from_slice(&arcount.to_be_bytes());
        }
        Signed {
            bytes,
            mac: tsig.mac,
        }
    }

    /// Verifies a response whose last additional record, starting at byte
    /// `tsig_at`, is `tsig`; `request_mac` is the MAC of the request it
    /// answers and `now` our time (seconds since the epoch).
    pub fn verify_response(
        &self,
        request_mac: &[u8],
        response: &[u8],
        tsig_at: usize,
        tsig: &TsigRecord,
        now: u64,
    ) -> Result<(), VerifyError> {
        if tsig.error != 0 {
            return Err(VerifyError::Server(tsig.error));
        }
        if tsig.key_name != self.name || tsig.algorithm != algorithm_name(self.algorithm) {
            return Err(VerifyError::OtherKey(format!(
                "{} ({})",
                tsig.key_name, tsig.algorithm
            )));
        }
        let full = self.algorithm.output_len();
        if tsig.mac.len() > full || tsig.mac.len() < (full / 2).max(10) {
            return Err(VerifyError::TruncatedMac);
        }
        // The message as it was before the TSIG record was added: ARCOUNT
        // one less, the original ID.
        let mut stripped = response.get(..tsig_at).unwrap_or_default().to_vec();
        if stripped.len() < 12 {
            return Err(VerifyError::BadMac);
        }
        stripped[..2].copy_from_slice(&tsig.original_id.to_be_bytes());
        let arcount = u16::from_be_bytes([stripped[10], stripped[11]]).wrapping_sub(1);
        stripped[10..12].copy_from_slice(&arcount.to_be_bytes());
        let expected = self.mac(Some(request_mac), &stripped, tsig);
        constant_time::verify_slices_are_equal(&expected[..tsig.mac.len()], &tsig.mac)
            .map_err(|_| VerifyError::BadMac)?;
        if now.abs_diff(tsig.time_signed) > u64::from(tsig.fudge) {
            return Err(VerifyError::BadTime {
                signed: tsig.time_signed,
                now,
            });
        }
        Ok(())
    }
}

/// The algorithm's name as a DNS name.
fn algorithm_name(algorithm: Algorithm) -> Name {
    // The names are constants that always parse.
    Name::parse(algorithm.name()).unwrap_or_else(|_| unreachable!())
}

fn put_u48(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

#[cfg(test)]
mod tests {
    use super::super::wire::Message;
    use super::*;

    /// The key used below: name `k.test.`, hmac-sha256, secret
    /// `"0123456789abcdef0123456789abcdef"` (32 ASCII bytes).
    fn key(algorithm: Algorithm) -> TsigKey {
        TsigKey::new(
            Name::parse("k.test").unwrap(),
            algorithm,
            b"0123456789abcdef0123456789abcdef".to_vec(),
        )
    }

    /// A 12-byte update header (ID 0xabcd, opcode 5, all counts zero)
    /// stands for the message: the MAC covers whatever bytes precede it.
    const MESSAGE: [u8; 12] = [0xab, 0xcd, 0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const TIME: u64 = 1_700_000_000;

    /// The MAC input written out by hand (RFC 8945 §4.3.3) and the MAC
    /// computed independently with Python:
    ///
    /// ```text
    /// python3 -c 'import hmac,hashlib,sys; sys.stdout.write(hmac.new(
    ///   b"0123456789abcdef0123456789abcdef", bytes.fromhex(
    ///   "abcd28000000000000000000"            # the message
    ///   "016b047465737400"                    # key name k.test.
    ///   "00ff" "00000000"                     # class ANY, TTL 0
    ///   "0b686d61632d73686132353600"          # hmac-sha256.
    ///   "00006553f100" "012c"                 # time 1700000000, fudge 300
    ///   "0000" "0000"),                       # error 0, other len 0
    ///   hashlib.sha256).hexdigest())'
    /// ```
    const EXPECTED_MAC: &str = "f25b3fac5ab3141f215b55beff3f3cdf577e461c5669d012ae2d7426867b0bbb";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn request_mac_matches_an_independent_computation() {
        let signed = key(Algorithm::HmacSha256).sign(&MESSAGE, TIME, None);
        assert_eq!(hex(&signed.mac), EXPECTED_MAC);
    }

    #[test]
    fn signing_appends_the_tsig_record_and_counts_it() {
        let signed = key(Algorithm::HmacSha256).sign(&MESSAGE, TIME, None);
        let b = &signed.bytes;
        assert_eq!(&b[..10], &MESSAGE[..10]);
        assert_eq!(&b[10..12], &[0, 1], "ARCOUNT counts the TSIG record");
        #[rustfmt::skip]
        let head: &[u8] = &[
            1, b'k', 4, b't', b'e', b's', b't', 0, // owner: the key name
            0x00, 0xfa,                            // TYPE TSIG (250)
            0x00, 0xff,                            // CLASS ANY
            0, 0, 0, 0,                            // TTL 0
            0x00, 61,                              // RDLENGTH: 13+6+2+2+32+2+2+2
            11, b'h', b'm', b'a', b'c', b'-', b's', b'h', b'a', b'2', b'5', b'6', 0,
            0x00, 0x00, 0x65, 0x53, 0xf1, 0x00,    // time signed
            0x01, 0x2c,                            // fudge 300
            0x00, 0x20,                            // MAC size 32
        ];
        assert_eq!(&b[12..12 + head.len()], head);
        let mac_at = 12 + head.len();
        assert_eq!(&b[mac_at..mac_at + 32], &signed.mac[..]);
        assert_eq!(&b[mac_at + 32..], &[0xab, 0xcd, 0, 0, 0, 0]);

        let decoded = Message::decode(b).unwrap();
        let tsig = TsigRecord::parse(&decoded.message.additional[0]).unwrap();
        assert_eq!(decoded.last_additional_at, Some(12));
        assert_eq!(tsig.time_signed, TIME);
        assert_eq!(tsig.original_id, 0xabcd);
        assert_eq!(tsig.to_record(), decoded.message.additional[0]);
    }

    /// A response signed the way a server signs it (request MAC first)
    /// verifies; a changed byte, another key, a server error or a stale
    /// time do not.
    #[test]
    fn responses_verify_only_when_intact() {
        for algorithm in Algorithm::ALL {
            let k = key(algorithm);
            let request = k.sign(&MESSAGE, TIME, None);
            let mut response_msg = MESSAGE;
            response_msg[2] |= 0x80; // QR
            let response = k.sign(&response_msg, TIME + 1, Some(&request.mac));
            let decoded = Message::decode(&response.bytes).unwrap();
            let at = decoded.last_additional_at.unwrap();
            let tsig = TsigRecord::parse(&decoded.message.additional[0]).unwrap();
            assert_eq!(
                k.verify_response(&request.mac, &response.bytes, at, &tsig, TIME),
                Ok(())
            );

            let mut tampered = response.bytes.clone();
            tampered[3] ^= 1;
            assert_eq!(
                k.verify_response(&request.mac, &tampered, at, &tsig, TIME),
                Err(VerifyError::BadMac)
            );
            let mut other_secret = k.clone();
            other_secret.secret[0] ^= 1;
            assert_eq!(
                other_secret.verify_response(&request.mac, &response.bytes, at, &tsig, TIME),
                Err(VerifyError::BadMac)
            );
            assert_eq!(
                k.verify_response(&request.mac, &response.bytes, at, &tsig, TIME + 1000),
                Err(VerifyError::BadTime {
                    signed: TIME + 1,
                    now: TIME + 1000
                })
            );
            let refused = TsigRecord {
                error: BADSIG,
                mac: vec![],
                ..tsig.clone()
            };
            assert_eq!(
                k.verify_response(&request.mac, &response.bytes, at, &refused, TIME),
                Err(VerifyError::Server(BADSIG))
            );
            let mut renamed = tsig.clone();
            renamed.key_name = Name::parse("other").unwrap();
            assert!(matches!(
                k.verify_response(&request.mac, &response.bytes, at, &renamed, TIME),
                Err(VerifyError::OtherKey(_))
            ));
        }
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(
            Algorithm::from_name("HMAC-SHA512."),
            Some(Algorithm::HmacSha512)
        );
        assert_eq!(Algorithm::from_name("hmac-md5"), None);
        assert_eq!(error_name(BADKEY), "BADKEY");
        assert!(!format!("{:?}", key(Algorithm::HmacSha256)).contains("0123"));
    }
}
