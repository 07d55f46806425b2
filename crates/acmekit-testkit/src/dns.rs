//! A minimal DNS client for tests: one TXT query over UDP (RFC 1035).

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// The TXT values at `name` on `server` (empty on NXDOMAIN or no data).
pub(crate) fn query_txt(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let id = (std::process::id() as u16) ^ 0x5a5a;
    let mut query = vec![0u8; 12];
    query[..2].copy_from_slice(&id.to_be_bytes());
    query[5] = 1; // QDCOUNT
    for label in name.trim_end_matches('.').split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 16, 0, 1]); // root, TXT, IN

    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    socket.connect(server).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    for _ in 0..3 {
        socket.send(&query).map_err(|e| e.to_string())?;
        match socket.recv(&mut buf) {
            Ok(n) if n >= 12 && buf[..2] == id.to_be_bytes() => return parse(&buf[..n]),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) => return Err(e.to_string()),
        }
    }
    Err(format!("no answer from {server}"))
}

fn parse(msg: &[u8]) -> Result<Vec<String>, String> {
    let rcode = msg[3] & 0xf;
    if rcode != 0 && rcode != 3 {
        return Err(format!("RCODE {rcode}"));
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([msg[i], msg[i + 1]]));
    let (questions, answers) = (count(4), count(6));
    let mut pos = 12;
    for _ in 0..questions {
        pos = skip_name(msg, pos)? + 4;
    }
    let mut values = Vec::new();
    for _ in 0..answers {
        pos = skip_name(msg, pos)?;
        let fixed = msg.get(pos..pos + 10).ok_or("short record")?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        pos += 10;
        let rdata = msg.get(pos..pos + len).ok_or("short rdata")?;
        pos += len;
        if rtype == 16 {
            let mut value = Vec::new();
            let mut i = 0;
            while i < rdata.len() {
                let n = usize::from(rdata[i]);
                value.extend_from_slice(rdata.get(i + 1..i + 1 + n).ok_or("short string")?);
                i += 1 + n;
            }
            values.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
    Ok(values)
}

/// The position after the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, String> {
    loop {
        let len = *msg.get(pos).ok_or("name runs past the end")?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xc0 == 0xc0 => return Ok(pos + 2),
            l => pos += 1 + usize::from(l),
        }
    }
}
