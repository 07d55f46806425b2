//! Sending one DNS message and receiving its response: UDP first, TCP
//! when the UDP response is truncated (RFC 1035 §4.2, RFC 7766).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use super::wire::{FLAG_QR, FLAG_TC};

/// How long one UDP attempt waits for its response.
const UDP_WAIT: Duration = Duration::from_secs(2);
/// UDP attempts before giving up.
const UDP_TRIES: usize = 3;
/// How long a TCP exchange may take in all.
const TCP_WAIT: Duration = Duration::from_secs(10);

/// Sends `request` to `server` and returns the response with the same ID.
/// Errors are one sentence naming the server.
pub async fn exchange(server: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let response = udp(server, request).await?;
    let flags = u16::from_be_bytes([response[2], response[3]]);
    if flags & FLAG_TC != 0 {
        tracing::debug!(%server, "DNS response truncated; retrying over TCP");
        return tcp(server, request).await;
    }
    Ok(response)
}

/// True if `response` answers `request` (same ID, QR set).
fn answers(request: &[u8], response: &[u8]) -> bool {
    response.len() >= 12
        && response[..2] == request[..2]
        && u16::from_be_bytes([response[2], response[3]]) & FLAG_QR != 0
}

async fn udp(server: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| format!("cannot open a UDP socket to talk to {server}: {e}"))?;
    socket
        .connect(server)
        .await
        .map_err(|e| format!("cannot reach the DNS server {server}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    for _ in 0..UDP_TRIES {
        socket
            .send(request)
            .await
            .map_err(|e| format!("cannot send to the DNS server {server}: {e}"))?;
        let wait = async {
            loop {
                let n = socket.recv(&mut buf).await?;
                if answers(request, &buf[..n]) {
                    return Ok::<_, std::io::Error>(buf[..n].to_vec());
                }
                // A stray or late datagram: keep waiting.
            }
        };
        match timeout(UDP_WAIT, wait).await {
            Ok(Ok(response)) => return Ok(response),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(format!(
                    "no DNS server is listening at {server} (connection refused)"
                ))
            }
            Ok(Err(e)) => return Err(format!("cannot receive from the DNS server {server}: {e}")),
            Err(_) => continue,
        }
    }
    Err(format!(
        "the DNS server {server} did not answer ({UDP_TRIES} tries over UDP, {} s each)",
        UDP_WAIT.as_secs()
    ))
}

async fn tcp(server: SocketAddr, request: &[u8]) -> Result<Vec<u8>, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&(request.len() as u16).to_be_bytes());
        framed.extend_from_slice(request);
        stream.write_all(&framed).await?;
        loop {
            let len = stream.read_u16().await?;
            let mut response = vec![0u8; usize::from(len)];
            stream.read_exact(&mut response).await?;
            if answers(request, &response) {
                return Ok::<_, std::io::Error>(response);
            }
        }
    };
    match timeout(TCP_WAIT, exchange).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(format!("DNS over TCP to {server} failed: {e}")),
        Err(_) => Err(format!(
            "the DNS server {server} did not answer over TCP within {} s",
            TCP_WAIT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-shot fake server: answers the first UDP query with the TC
    /// bit, then the TCP query in full.
    #[tokio::test]
    async fn truncated_udp_responses_are_retried_over_tcp() {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = tokio::net::TcpListener::bind(addr).await.unwrap();
        let request = vec![0x42, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let (n, peer) = udp.recv_from(&mut buf).await.unwrap();
            let mut truncated = buf[..n].to_vec();
            truncated[2] |= 0x82; // QR + TC
            udp.send_to(&truncated, peer).await.unwrap();
            let (mut conn, _) = tcp.accept().await.unwrap();
            let len = conn.read_u16().await.unwrap();
            let mut q = vec![0u8; usize::from(len)];
            conn.read_exact(&mut q).await.unwrap();
            let mut full = q.clone();
            full[2] |= 0x80;
            full.extend_from_slice(b"extra");
            conn.write_u16(full.len() as u16).await.unwrap();
            conn.write_all(&full).await.unwrap();
        });
        let response = exchange(addr, &request).await.unwrap();
        assert!(response.ends_with(b"extra"));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_as_such() {
        let addr = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let request = [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let err = exchange(addr, &request).await.unwrap_err();
        assert!(err.contains(&addr.to_string()), "{err}");
    }
}
