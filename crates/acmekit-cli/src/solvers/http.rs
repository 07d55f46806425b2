//! A standalone http-01 server: answers
//! `GET /.well-known/acme-challenge/<token>` for live tokens, 404 otherwise.

use acmekit::Http01;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Tokens = Arc<Mutex<HashMap<String, String>>>;

/// The server; it stops when dropped.
pub struct HttpServer {
    tokens: Tokens,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    /// Binds `addr` now, so a busy or privileged port is reported at once.
    pub async fn bind(addr: &str) -> Result<Self> {
        let listener = TcpListener::bind(addr).await.with_context(|| {
            format!("cannot listen on {addr} for http-01 (port 80 needs root or CAP_NET_BIND_SERVICE; a busy port means a web server runs there: use --webroot)")
        })?;
        let tokens: Tokens = Arc::default();
        let served = tokens.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, served.clone()));
            }
        });
        Ok(HttpServer { tokens, task })
    }

    /// Starts serving a token.
    pub fn add(&self, h: &Http01) {
        lock(&self.tokens).insert(h.token.clone(), h.body.clone());
    }

    /// Stops serving a token.
    pub fn remove(&self, h: &Http01) {
        lock(&self.tokens).remove(&h.token);
    }
}

fn lock(t: &Tokens) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

async fn serve(mut stream: TcpStream, tokens: Tokens) {
    let _ = stream.set_nodelay(true);
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if read != Ok(true) {
        return;
    }
    let line = String::from_utf8_lossy(&head);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let body = match (method, target.strip_prefix("/.well-known/acme-challenge/")) {
        ("GET" | "HEAD", Some(token)) => lock(&tokens).get(token).cloned(),
        _ => None,
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", String::new()),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        resp.push_str(&body);
    }
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}
