//! The DNS wire format (RFC 1035 §4.1), just as much as dynamic updates
//! (RFC 2136), SOA look-ups and TSIG need. Names are written uncompressed
//! (which is also TSIG's canonical form); reading follows compression
//! pointers.

use std::fmt;

/// RR type SOA.
pub const TYPE_SOA: u16 = 6;
/// RR type TXT.
pub const TYPE_TXT: u16 = 16;
/// RR type TSIG (RFC 8945).
pub const TYPE_TSIG: u16 = 250;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// Class NONE: in an update, "delete this exact RR" (RFC 2136 §2.5.4).
pub const CLASS_NONE: u16 = 254;
/// Class ANY (TSIG records use it).
pub const CLASS_ANY: u16 = 255;
/// Opcode of a standard query.
pub const OPCODE_QUERY: u16 = 0;
/// Opcode of a dynamic update (RFC 2136 §1.3).
pub const OPCODE_UPDATE: u16 = 5;
/// Header flag: this is a response.
pub const FLAG_QR: u16 = 0x8000;
/// Header flag: authoritative answer.
pub const FLAG_AA: u16 = 0x0400;
/// Header flag: the response was truncated (retry over TCP).
pub const FLAG_TC: u16 = 0x0200;

/// Header flags for a request with `opcode` (no recursion desired).
pub fn request_flags(opcode: u16) -> u16 {
    (opcode & 0xf) << 11
}

/// A domain name: lowercase, absolute, without the trailing dot (the root
/// is the empty name). Labels are 1–63 bytes, the whole name at most 255
/// bytes in wire form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name(String);

impl Name {
    /// Parses a name in presentation form (`a.example.com` or
    /// `a.example.com.`), without escapes.
    pub fn parse(s: &str) -> Result<Name, String> {
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        if trimmed.is_empty() {
            return Ok(Name(String::new()));
        }
        let name = trimmed.to_ascii_lowercase();
        let mut wire_len = 1;
        for label in name.split('.') {
            if label.is_empty() {
                return Err(format!("{s:?} is not a DNS name: it has an empty label"));
            }
            if label.len() > 63 {
                return Err(format!(
                    "{s:?} is not a DNS name: the label {label:?} is longer than 63 bytes"
                ));
            }
            if label
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b == b'\\')
            {
                return Err(format!(
                    "{s:?} is not a DNS name: the label {label:?} holds a space, control character or backslash"
                ));
            }
            wire_len += 1 + label.len();
        }
        if wire_len > 255 {
            return Err(format!(
                "{s:?} is not a DNS name: it is longer than 255 bytes"
            ));
        }
        Ok(Name(name))
    }

    /// The name without the trailing dot (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.0.is_empty() {
            return None;
        }
        Some(Name(
            self.0
                .split_once('.')
                .map(|(_, rest)| rest.to_owned())
                .unwrap_or_default(),
        ))
    }

    /// True if `self` is `other` or below it.
    pub fn is_within(&self, other: &Name) -> bool {
        other.0.is_empty()
            || self.0 == other.0
            || self
                .0
                .strip_suffix(&other.0)
                .is_some_and(|head| head.ends_with('.'))
    }

    /// Appends the uncompressed wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if !self.0.is_empty() {
            for label in self.0.split('.') {
                out.push(label.len() as u8);
                out.extend_from_slice(label.as_bytes());
            }
        }
        out.push(0);
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// An entry of the question section (for an update: the zone section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about (for an update: the zone).
    pub name: Name,
    /// Its type.
    pub qtype: u16,
    /// Its class.
    pub qclass: u16,
}

/// A resource record with its RDATA left in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Type.
    pub rtype: u16,
    /// Class.
    pub class: u16,
    /// Time to live, in seconds.
    pub ttl: u32,
    /// RDATA as sent (names inside it may be compressed in received
    /// messages).
    pub rdata: Vec<u8>,
}

impl Record {
    /// Appends the record in wire form.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.name.encode(out);
        put_u16(out, self.rtype);
        put_u16(out, self.class);
        out.extend_from_slice(&self.ttl.to_be_bytes());
        put_u16(out, self.rdata.len() as u16);
        out.extend_from_slice(&self.rdata);
    }
}

/// TXT RDATA for `value`: character-strings of at most 255 bytes each.
pub fn txt_rdata(value: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 1);
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        out.push(0);
    }
    for chunk in bytes.chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out
}

/// A DNS message. In an update (RFC 2136 §2) the four sections are the
/// zone, prerequisite, update and additional sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Transaction ID.
    pub id: u16,
    /// The flags word: QR, opcode, AA, TC, RD, RA, Z and RCODE.
    pub flags: u16,
    /// Question (zone) section.
    pub questions: Vec<Question>,
    /// Answer (prerequisite) section.
    pub answers: Vec<Record>,
    /// Authority (update) section.
    pub authority: Vec<Record>,
    /// Additional section.
    pub additional: Vec<Record>,
}

/// A received message and where its last additional record starts (a
/// TSIG record must be that one, RFC 8945 §5.1).
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// Byte offset of the last record of the additional section, if any.
    pub last_additional_at: Option<usize>,
}

impl Message {
    /// The RCODE (the low four bits; extended RCODEs live in OPT or TSIG).
    pub fn rcode(&self) -> u16 {
        self.flags & 0xf
    }

    /// The wire form, names uncompressed.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        put_u16(&mut out, self.id);
        put_u16(&mut out, self.flags);
        put_u16(&mut out, self.questions.len() as u16);
        put_u16(&mut out, self.answers.len() as u16);
        put_u16(&mut out, self.authority.len() as u16);
        put_u16(&mut out, self.additional.len() as u16);
        for q in &self.questions {
            q.name.encode(&mut out);
            put_u16(&mut out, q.qtype);
            put_u16(&mut out, q.qclass);
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            r.encode(&mut out);
        }
        out
    }

    /// Parses a message.
    pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
        let mut r = Reader { bytes, pos: 0 };
        let id = r.u16()?;
        let flags = r.u16()?;
        let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
        let mut message = Message {
            id,
            flags,
            ..Message::default()
        };
        for _ in 0..counts[0] {
            let name = r.name()?;
            let qtype = r.u16()?;
            let qclass = r.u16()?;
            message.questions.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        let mut last_additional_at = None;
        for (section, count) in counts[1..].iter().enumerate() {
            for _ in 0..*count {
                let start = r.pos;
                let record = r.record()?;
                match section {
                    0 => message.answers.push(record),
                    1 => message.authority.push(record),
                    _ => {
                        last_additional_at = Some(start);
                        message.additional.push(record);
                    }
                }
            }
        }
        Ok(Decoded {
            message,
            last_additional_at,
        })
    }
}

/// Appends a big-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A cursor over a received message.
pub struct Reader<'a> {
    /// The whole message (compression pointers index into it).
    pub bytes: &'a [u8],
    /// The read position.
    pub pos: usize,
}

impl Reader<'_> {
    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.bytes.len());
        match end {
            Some(end) => {
                let s = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err("malformed DNS message: it ends too early".into()),
        }
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian 48-bit integer.
    pub fn u48(&mut self) -> Result<u64, String> {
        let b = self.take(6)?;
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
    }

    /// Reads a (possibly compressed) name.
    pub fn name(&mut self) -> Result<Name, String> {
        let bad = |what: &str| format!("malformed DNS message: {what}");
        let mut labels: Vec<String> = Vec::new();
        let mut pos = self.pos;
        let mut resume = None;
        let mut jumps = 0;
        let mut wire_len = 1;
        loop {
            let len = *self
                .bytes
                .get(pos)
                .ok_or_else(|| bad("a name runs past the end"))?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    pos += 1;
                    break;
                }
                0x00 => {
                    let label = self
                        .bytes
                        .get(pos + 1..pos + 1 + usize::from(len))
                        .ok_or_else(|| bad("a label runs past the end"))?;
                    wire_len += 1 + label.len();
                    if wire_len > 255 {
                        return Err(bad("a name is longer than 255 bytes"));
                    }
                    labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
                    pos += 1 + usize::from(len);
                }
                0xc0 => {
                    let low = *self
                        .bytes
                        .get(pos + 1)
                        .ok_or_else(|| bad("a compression pointer runs past the end"))?;
                    jumps += 1;
                    if jumps > 64 {
                        return Err(bad("compression pointers loop"));
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    pos = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                }
                _ => return Err(bad("unknown label type")),
            }
        }
        self.pos = resume.unwrap_or(pos);
        Ok(Name(labels.join(".")))
    }

    /// Reads a resource record.
    pub fn record(&mut self) -> Result<Record, String> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()?;
        let rdata = self.take(usize::from(len))?.to_vec();
        Ok(Record {
            name,
            rtype,
            class,
            ttl,
            rdata,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    #[test]
    fn names_parse_normalise_and_nest() {
        assert_eq!(name("A.Example.COM.").as_str(), "a.example.com");
        assert_eq!(name(".").to_string(), ".");
        assert_eq!(name("a.example.com").parent(), Some(name("example.com")));
        assert_eq!(name("com").parent(), Some(name(".")));
        assert_eq!(name(".").parent(), None);
        assert!(name("_acme-challenge.example.com").is_within(&name("example.com")));
        assert!(name("example.com").is_within(&name("example.com")));
        assert!(!name("badexample.com").is_within(&name("example.com")));
        assert!(Name::parse("a..b").is_err());
        assert!(Name::parse(&"a".repeat(64)).is_err());
        assert!(Name::parse("a b.com").is_err());
        let long = vec!["abcdefghij"; 25].join(".");
        assert!(Name::parse(&long).is_err());
    }

    /// An update that adds one TXT record, byte by byte (RFC 1035 §4.1,
    /// RFC 2136 §2).
    #[test]
    fn update_message_encoding_matches_hand_computed_bytes() {
        let msg = Message {
            id: 0x1234,
            flags: request_flags(OPCODE_UPDATE),
            questions: vec![Question {
                name: name("ex.test"),
                qtype: TYPE_SOA,
                qclass: CLASS_IN,
            }],
            answers: vec![],
            authority: vec![Record {
                name: name("_a.ex.test"),
                rtype: TYPE_TXT,
                class: CLASS_IN,
                ttl: 60,
                rdata: txt_rdata("v1"),
            }],
            additional: vec![],
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0x12, 0x34,             // ID
            0x28, 0x00,             // QR=0, opcode 5 (UPDATE), no flags
            0x00, 0x01,             // ZOCOUNT
            0x00, 0x00,             // PRCOUNT
            0x00, 0x01,             // UPCOUNT
            0x00, 0x00,             // ADCOUNT
            // zone: ex.test. SOA IN
            2, b'e', b'x', 4, b't', b'e', b's', b't', 0,
            0x00, 0x06, 0x00, 0x01,
            // update: _a.ex.test. IN TXT 60 "v1"
            2, b'_', b'a', 2, b'e', b'x', 4, b't', b'e', b's', b't', 0,
            0x00, 0x10,             // TXT
            0x00, 0x01,             // IN
            0x00, 0x00, 0x00, 0x3c, // TTL 60
            0x00, 0x03,             // RDLENGTH
            2, b'v', b'1',
        ];
        let bytes = msg.encode();
        assert_eq!(bytes, expected);
        let decoded = Message::decode(&bytes).unwrap();
        assert_eq!(decoded.message, msg);
        assert_eq!(decoded.last_additional_at, None);
    }

    #[test]
    fn txt_values_longer_than_255_bytes_are_split() {
        let v = "a".repeat(300);
        let rdata = txt_rdata(&v);
        assert_eq!(rdata.len(), 302);
        assert_eq!(rdata[0], 255);
        assert_eq!(rdata[256], 45);
        assert_eq!(txt_rdata(""), vec![0]);
    }

    #[test]
    fn compressed_names_are_followed_and_loops_refused() {
        // Header with one question and one answer whose owner points at
        // the question's name (offset 12).
        let mut bytes = vec![0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        bytes.extend_from_slice(&[2, b'e', b'x', 4, b't', b'e', b's', b't', 0, 0, 6, 0, 1]);
        bytes.extend_from_slice(&[1, b'x', 0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 5, 0, 2, 1, b'v']);
        let d = Message::decode(&bytes).unwrap();
        assert_eq!(d.message.answers[0].name, name("x.ex.test"));
        assert_eq!(d.message.answers[0].rdata, vec![1, b'v']);
        assert_eq!(d.message.rcode(), 0);

        let mut looping = vec![0, 1, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        looping.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1]);
        assert!(Message::decode(&looping).unwrap_err().contains("loop"));
        assert!(Message::decode(&[0, 1, 2]).is_err());
    }
}
