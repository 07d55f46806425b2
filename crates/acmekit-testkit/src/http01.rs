//! The http-01 responder: where Pebble's VA fetches
//! `/.well-known/acme-challenge/<token>`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::process::lock;

const PREFIX: &str = "/.well-known/acme-challenge/";
const MAX_REQUEST: usize = 16 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers `GET /.well-known/acme-challenge/<token>` with the key
/// authorization registered for `<token>` (`text/plain`), 404 otherwise.
///
/// It listens on `127.0.0.1` and `[::1]:`[`Pebble::http_port`](crate::Pebble::http_port)
/// and runs on the kit's background runtime. Tokens are shared by every test
/// using the same [`Pebble`](crate::Pebble): use unique tokens (ACME tokens
/// are random anyway).
#[derive(Debug)]
pub struct Http01Responder {
    port: u16,
    tokens: Arc<Mutex<HashMap<String, String>>>,
    stop: watch::Sender<bool>,
}

impl Http01Responder {
    /// Binds a free loopback port and starts serving.
    pub(crate) fn start() -> Http01Responder {
        let listeners = crate::ports::bind_loopback_listeners();
        let port = listeners[0]
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("acmekit-testkit: http-01 responder address: {e}"));
        for l in &listeners {
            l.set_nonblocking(true)
                .unwrap_or_else(|e| panic!("acmekit-testkit: http-01 responder: {e}"));
        }
        let tokens = Arc::new(Mutex::new(HashMap::new()));
        let (stop, stopped) = watch::channel(false);
        let served = tokens.clone();
        for listener in listeners {
            let served = served.clone();
            let mut stopped = stopped.clone();
            crate::runtime::handle().spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .unwrap_or_else(|e| panic!("acmekit-testkit: http-01 responder: {e}"));
                loop {
                    tokio::select! {
                        _ = stopped.changed() => break,
                        accepted = listener.accept() => {
                            if let Ok((stream, _)) = accepted {
                                tokio::spawn(serve(stream, served.clone()));
                            }
                        }
                    }
                }
            });
        }
        Http01Responder { port, tokens, stop }
    }

    /// Serves `key_authorization` for `token` (replacing any previous one).
    pub fn add(&self, token: &str, key_authorization: &str) {
        lock(&self.tokens).insert(token.to_owned(), key_authorization.to_owned());
    }

    /// Stops serving `token` (404 from then on).
    pub fn remove(&self, token: &str) {
        lock(&self.tokens).remove(token);
    }

    /// The loopback port it listens on (Pebble's `httpPort`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops accepting connections (the listening socket is closed).
    pub(crate) fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Http01Responder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn serve(mut stream: TcpStream, tokens: Arc<Mutex<HashMap<String, String>>>) {
    let Ok(Some(head)) = tokio::time::timeout(IO_TIMEOUT, read_head(&mut stream)).await else {
        return;
    };
    let mut parts = head.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    let found = match (method, path.strip_prefix(PREFIX)) {
        ("GET" | "HEAD", Some(token)) => lock(&tokens).get(token).cloned(),
        _ => None,
    };
    let (status, body) = match found {
        Some(key_authorization) => ("200 OK", key_authorization),
        None => ("404 Not Found", "not found\n".to_owned()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    let _ = tokio::time::timeout(IO_TIMEOUT, async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Reads the request head; returns its first line.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 2048];
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || raw.len() > MAX_REQUEST {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&raw);
    head.lines().next().map(str::to_owned)
}
