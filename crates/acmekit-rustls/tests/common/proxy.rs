//! A TLS proxy in front of an ACME server that records what clients send,
//! to read request paths and JWS payloads (e.g. newOrder's `replaces`) of
//! a server that does not log them. It terminates TLS with a certificate
//! for 127.0.0.1 from a CA of its own, and talks TLS to the server.

use acmekit_rustls::rustls;
use acmekit_rustls::tokio_rustls::{TlsAcceptor, TlsConnector};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What one connection's client sent, in order.
type Recording = Arc<Mutex<Vec<u8>>>;

pub struct RecordingProxy {
    port: u16,
    ca_pem: String,
    connections: Arc<Mutex<Vec<Recording>>>,
    task: JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingProxy {
    /// Listens on a fresh loopback port and forwards every connection to
    /// `127.0.0.1:upstream_port`, trusting `upstream_ca_pem` for it.
    pub async fn start(upstream_port: u16, upstream_ca_pem: &str) -> RecordingProxy {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (ca_pem, cert, key) = listener_certificate();
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(upstream_ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let connector = TlsConnector::from(Arc::new(client));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections: Arc<Mutex<Vec<Recording>>> = Arc::default();
        let recorded = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let recording = Recording::default();
                recorded.lock().unwrap().push(recording.clone());
                let (acceptor, connector) = (acceptor.clone(), connector.clone());
                tokio::spawn(async move {
                    let _ = relay(tcp, upstream_port, acceptor, connector, recording).await;
                });
            }
        });
        RecordingProxy {
            port,
            ca_pem,
            connections,
            task,
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that signed the proxy's TLS certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Everything clients sent, one string per connection.
    pub fn sent(&self) -> Vec<String> {
        let connections = self.connections.lock().unwrap();
        connections
            .iter()
            .map(|c| String::from_utf8_lossy(&c.lock().unwrap()).into_owned())
            .collect()
    }

    /// The decoded JSON payloads of the JWS requests clients sent, in the
    /// order their connections were accepted.
    pub fn jws_payloads(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for sent in self.sent() {
            for part in sent.split("\"payload\":\"").skip(1) {
                let Some((b64, _)) = part.split_once('"') else {
                    continue;
                };
                let json = base64url_decode(b64).and_then(|b| serde_json::from_slice(&b).ok());
                out.extend(json);
            }
        }
        out
    }
}

/// One connection: TLS in, TLS out, recording the client's bytes. Ends
/// when the server closes (acme2certifier answers one request per
/// connection).
async fn relay(
    tcp: TcpStream,
    upstream_port: u16,
    acceptor: TlsAcceptor,
    connector: TlsConnector,
    recording: Recording,
) -> std::io::Result<()> {
    let client = acceptor.accept(tcp).await?;
    let upstream = TcpStream::connect(("127.0.0.1", upstream_port)).await?;
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let upstream = connector.connect(name, upstream).await?;
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut upstream_read, mut upstream_write) = tokio::io::split(upstream);
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return upstream_write.shutdown().await;
            }
            recording.lock().unwrap().extend_from_slice(&buf[..n]);
            upstream_write.write_all(&buf[..n]).await?;
        }
    });
    let down = tokio::io::copy(&mut upstream_read, &mut client_write).await;
    let _ = client_write.shutdown().await;
    up.abort();
    down.map(drop)
}

/// (CA PEM, certificate and key for 127.0.0.1 signed by it).
fn listener_certificate() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
    (ca_cert.pem(), leaf.der().clone(), key)
}

/// Unpadded base64url (RFC 4648 §5), as JWS uses; `None` if malformed.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = ((acc << 6) | u32::from(v)) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}
