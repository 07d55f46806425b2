//! `Client`: the directory, the transport, the nonce pool and the one
//! function every signed request goes through.

use bytes::Bytes;
use http::Method;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::{debug, trace};

use crate::error::{Error, Result};
use crate::http::{HttpClient, HttpRequest, HttpResponse, HyperTransport};
use crate::jws::{self, KeyRef};
use crate::key::AccountKey;
use crate::poll::PollPolicy;
use crate::problem::{Problem, ProblemType};
use crate::types::Directory;

/// How many times a request refused with `badNonce` is re-signed and resent.
/// RFC 8555 §6.5: "clients SHOULD retry any request that fails with a badNonce
/// error"; bounded so a broken server cannot keep us looping.
pub const MAX_BAD_NONCE_RETRIES: u32 = 16;

/// Nonces kept for later requests; more are dropped (they expire anyway).
const NONCE_POOL_CAP: usize = 64;

/// A connection to one ACME server. Cheap to clone; clones share the
/// transport (and its kept-alive connections), directory and nonce pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: Box<dyn HttpClient>,
    directory_url: String,
    directory: Directory,
    nonces: Mutex<Vec<String>>,
    poll: PollPolicy,
    stats: Counters,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    nonce_requests: AtomicU64,
    bad_nonce_retries: AtomicU64,
}

/// Request counters of a [`Client`], for monitoring and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP requests sent (directory, nonces and signed requests).
    pub requests: u64,
    /// HEAD newNonce requests (sent only when the pool was empty).
    pub nonce_requests: u64,
    /// Requests re-signed after a `badNonce` refusal.
    pub bad_nonce_retries: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("directory_url", &self.inner.directory_url)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
pub struct ClientBuilder {
    directory_url: String,
    roots: Vec<CertificateDer<'static>>,
    webpki_roots: bool,
    allow_http: bool,
    timeout: Duration,
    http: Option<Box<dyn HttpClient>>,
    poll: PollPolicy,
    error: Option<Error>,
}

impl ClientBuilder {
    /// Also trusts the CA certificates in `pem` for the server's TLS
    /// (a private CA, or Pebble's test CA).
    pub fn add_root_pem(mut self, pem: &[u8]) -> Self {
        let mut found = false;
        for c in CertificateDer::pem_slice_iter(pem) {
            match c {
                Ok(c) => {
                    found = true;
                    self.roots.push(c);
                }
                Err(e) => {
                    self.error = Some(Error::InvalidArgument(format!(
                        "the CA certificate file is not valid PEM: {e}"
                    )));
                }
            }
        }
        if !found && self.error.is_none() {
            self.error = Some(Error::InvalidArgument(
                "the CA certificate file holds no CERTIFICATE block".into(),
            ));
        }
        self
    }

    /// Trusts only the roots added with [`Self::add_root_pem`], not the
    /// built-in web PKI roots.
    pub fn only_added_roots(mut self) -> Self {
        self.webpki_roots = false;
        self
    }

    /// Allows a plain `http://` directory. Off by default: ACME requires TLS
    /// (RFC 8555 §6.1); use this only for test servers.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// Per-request timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Uses another transport instead of the built-in hyper/rustls one.
    pub fn http_client(mut self, http: Box<dyn HttpClient>) -> Self {
        self.http = Some(http);
        self
    }

    /// How authorizations and orders are polled.
    pub fn poll_policy(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// Connects and reads the directory.
    pub async fn build(self) -> Result<Client> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if !self.allow_http && !self.directory_url.starts_with("https://") {
            return Err(Error::InvalidArgument(format!(
                "the directory URL {:?} is not https://; ACME requires TLS",
                self.directory_url
            )));
        }
        let http = match self.http {
            Some(h) => h,
            None => Box::new(HyperTransport::new(
                &self.roots,
                self.webpki_roots,
                self.allow_http,
                self.timeout,
            )?),
        };
        let resp = http
            .request(HttpRequest {
                method: Method::GET,
                url: self.directory_url.clone(),
                content_type: None,
                accept: Some("application/json"),
                body: Bytes::new(),
            })
            .await?;
        if !resp.status.is_success() {
            return Err(error_from_response(&self.directory_url, &resp));
        }
        let directory: Directory = parse_json(&self.directory_url, &resp.body)?;
        let client = Client {
            inner: Arc::new(Inner {
                http,
                directory_url: self.directory_url,
                directory,
                nonces: Mutex::new(Vec::new()),
                poll: self.poll,
                stats: Counters::default(),
            }),
        };
        client.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        client.keep_nonce(&resp);
        Ok(client)
    }
}

impl Client {
    /// Starts building a client for the directory at `url`.
    pub fn builder(directory_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            directory_url: directory_url.into(),
            roots: Vec::new(),
            webpki_roots: true,
            allow_http: false,
            timeout: Duration::from_secs(30),
            http: None,
            poll: PollPolicy::default(),
            error: None,
        }
    }

    /// The directory URL.
    pub fn directory_url(&self) -> &str {
        &self.inner.directory_url
    }

    /// The server's directory.
    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// The certificate profiles the server offers (the directory's
    /// `meta.profiles`: name → description); empty when it offers none.
    pub fn profiles(&self) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        self.inner
            .directory
            .meta
            .as_ref()
            .map_or(&NONE, |m| &m.profiles)
    }

    /// Counters of what this client (and its clones) sent so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.stats;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            nonce_requests: c.nonce_requests.load(Ordering::Relaxed),
            bad_nonce_retries: c.bad_nonce_retries.load(Ordering::Relaxed),
        }
    }

    /// The polling policy.
    pub fn poll_policy(&self) -> &PollPolicy {
        &self.inner.poll
    }

    /// Keeps the response's `Replay-Nonce`, if valid (RFC 8555 §6.5.1:
    /// clients MUST ignore invalid values).
    fn keep_nonce(&self, resp: &HttpResponse) {
        if let Some(n) = resp.header("replay-nonce") {
            if !n.is_empty() && n.bytes().all(is_base64url) {
                let mut pool = self.inner.nonces.lock().unwrap_or_else(|p| p.into_inner());
                if pool.len() < NONCE_POOL_CAP {
                    pool.push(n.to_owned());
                }
            }
        }
    }

    /// A nonce from the pool, or from newNonce when the pool is empty.
    async fn nonce(&self) -> Result<String> {
        let pooled = self
            .inner
            .nonces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        if let Some(n) = pooled {
            return Ok(n);
        }
        let url = &self.inner.directory.new_nonce;
        trace!(%url, "HEAD newNonce");
        self.inner
            .stats
            .nonce_requests
            .fetch_add(1, Ordering::Relaxed);
        let resp = self
            .send(Method::HEAD, url, None, Bytes::new(), None)
            .await?;
        if !resp.status.is_success() {
            return Err(error_from_response(url, &resp));
        }
        match resp.header("replay-nonce") {
            Some(n) if !n.is_empty() && n.bytes().all(is_base64url) => Ok(n.to_owned()),
            _ => Err(Error::invalid(
                url,
                "newNonce returned no valid Replay-Nonce header",
            )),
        }
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&'static str>,
        body: Bytes,
        accept: Option<&'static str>,
    ) -> Result<HttpResponse> {
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.inner
            .http
            .request(HttpRequest {
                method,
                url: url.to_owned(),
                content_type,
                accept,
                body,
            })
            .await
    }

    /// Sends a signed POST (or POST-as-GET when `payload` is `None`): the one
    /// path every signed request takes. Takes a nonce, signs, sends, keeps
    /// the reply's nonce, decodes problems, and re-signs with a fresh nonce
    /// on `badNonce`.
    pub(crate) async fn post(
        &self,
        key: &AccountKey,
        key_ref: KeyRef<'_>,
        url: &str,
        payload: Option<&[u8]>,
        accept: Option<&'static str>,
    ) -> Result<HttpResponse> {
        self.post_passing(key, key_ref, url, payload, accept, None)
            .await
    }

    /// As [`Self::post`], but a reply with status `pass` is returned as it
    /// is, for the caller to interpret (keyChange's 409 Conflict names the
    /// account that holds the key in `Location`, often without a body).
    pub(crate) async fn post_passing(
        &self,
        key: &AccountKey,
        key_ref: KeyRef<'_>,
        url: &str,
        payload: Option<&[u8]>,
        accept: Option<&'static str>,
        pass: Option<http::StatusCode>,
    ) -> Result<HttpResponse> {
        let mut bad_nonces = 0;
        let mut transport_retries = 0;
        loop {
            let nonce = self.nonce().await?;
            let jws = jws::sign(key, key_ref, Some(&nonce), url, payload)?;
            let body = serde_json::to_vec(&jws).expect("JWS serializes");
            debug!(%url, get = payload.is_none(), "ACME request");
            let resp = match self
                .send(
                    Method::POST,
                    url,
                    Some("application/jose+json"),
                    body.into(),
                    accept,
                )
                .await
            {
                Ok(r) => r,
                // A POST-as-GET changes nothing on the server: safe to replay
                // once more with a fresh nonce after a network error.
                Err(e @ Error::Transport { .. }) if payload.is_none() && transport_retries < 2 => {
                    transport_retries += 1;
                    debug!(%url, error = %e, "retrying POST-as-GET after a transport error");
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.keep_nonce(&resp);
            if resp.status.is_success() || Some(resp.status) == pass {
                return Ok(resp);
            }
            let err = error_from_response(url, &resp);
            if err.problem_type() == Some(ProblemType::BadNonce)
                && bad_nonces < MAX_BAD_NONCE_RETRIES
            {
                // RFC 8555 §6.5: the error response carries a fresh nonce,
                // which `keep_nonce` just put in the pool.
                bad_nonces += 1;
                self.inner
                    .stats
                    .bad_nonce_retries
                    .fetch_add(1, Ordering::Relaxed);
                debug!(%url, attempt = bad_nonces, "badNonce: re-signing with a fresh nonce");
                continue;
            }
            return Err(err);
        }
    }

    /// An unauthenticated GET (renewalInfo): keeps the reply's nonce and
    /// turns a non-2xx reply into an error.
    pub(crate) async fn get(
        &self,
        url: &str,
        accept: Option<&'static str>,
    ) -> Result<HttpResponse> {
        debug!(%url, "GET");
        let resp = self
            .send(Method::GET, url, None, Bytes::new(), accept)
            .await?;
        self.keep_nonce(&resp);
        if !resp.status.is_success() {
            return Err(error_from_response(url, &resp));
        }
        Ok(resp)
    }

    /// `post` and parse the JSON body.
    pub(crate) async fn post_json<T: DeserializeOwned>(
        &self,
        key: &AccountKey,
        key_ref: KeyRef<'_>,
        url: &str,
        payload: Option<&[u8]>,
    ) -> Result<(T, HttpResponse)> {
        let resp = self.post(key, key_ref, url, payload, None).await?;
        let value = parse_json(url, &resp.body)?;
        Ok((value, resp))
    }
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

pub(crate) fn parse_json<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        Error::invalid(
            url,
            format!("could not parse the JSON reply ({e}): {}", excerpt(body)),
        )
    })
}

/// A short printable excerpt of a body, for error messages.
fn excerpt(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > 200 {
        format!("{s}…")
    } else {
        s
    }
}

/// Turns a non-2xx response into an error, using the problem document when
/// there is one.
pub(crate) fn error_from_response(url: &str, resp: &HttpResponse) -> Error {
    let retry_after = resp.retry_after();
    match Problem::from_json(&resp.body) {
        Some(mut p) if resp.is_problem() || !p.type_uri.is_empty() => {
            p.status.get_or_insert(resp.status.as_u16());
            Error::from_problem(url, p, retry_after)
        }
        _ => Error::invalid(
            url,
            format!(
                "HTTP {} without a problem document: {}",
                resp.status,
                excerpt(&resp.body)
            ),
        ),
    }
}
