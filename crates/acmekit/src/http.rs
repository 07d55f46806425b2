//! The HTTP transport behind a small object-safe trait, plus the header
//! parsing ACME needs (Retry-After, Link, Replay-Nonce).

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// A boxed, `Send` future: what object-safe async traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Largest response body accepted (certificate chains are a few KiB).
pub const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// `User-Agent` sent with every request (RFC 8555 §6.1: clients MUST send one).
pub const USER_AGENT: &str = concat!("acmekit/", env!("CARGO_PKG_VERSION"));

/// One HTTP request.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// GET, HEAD or POST.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// `Content-Type` of the body, if any.
    pub content_type: Option<&'static str>,
    /// `Accept`, if any.
    pub accept: Option<&'static str>,
    /// Body bytes.
    pub body: Bytes,
}

/// One HTTP response, body fully read and size-bounded.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl HttpResponse {
    /// A header as a string, if present and ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// `Retry-After` as an absolute time, in either form (RFC 9110 §10.2.3).
    pub fn retry_after(&self) -> Option<SystemTime> {
        parse_retry_after(self.header("retry-after")?, SystemTime::now())
    }

    /// Every `Link` target with the given relation, across all Link headers.
    pub fn links(&self, rel: &str) -> Vec<String> {
        parse_links(self.headers.get_all("link").iter(), rel)
    }

    /// True when the content type says problem document.
    pub fn is_problem(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.starts_with("application/problem+json"))
    }
}

/// The transport acmekit sends requests through. Implement it to use
/// another HTTP stack or to inject faults in tests.
pub trait HttpClient: Send + Sync + 'static {
    /// Sends one request and reads the whole response (at most
    /// [`MAX_RESPONSE_BYTES`] of body).
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>>;
}

/// The default transport: hyper with rustls (aws-lc-rs), HTTP/1.1 and
/// HTTP/2, connection reuse, `TCP_NODELAY` on.
pub struct HyperTransport {
    client: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl HyperTransport {
    /// Builds a transport trusting `roots` (webpki roots when `None`).
    /// Plain `http://` is refused unless `allow_http` is set.
    pub fn new(
        extra_roots: &[rustls_pki_types::CertificateDer<'static>],
        use_webpki_roots: bool,
        allow_http: bool,
        timeout: Duration,
    ) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        if use_webpki_roots {
            roots.extend(webpki_roots_iter());
        }
        for r in extra_roots {
            roots
                .add(r.clone())
                .map_err(|e| Error::InvalidArgument(format!("unusable CA certificate: {e}")))?;
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::InvalidArgument(format!("TLS configuration: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if allow_http {
            builder
                .https_or_http()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http)
        } else {
            builder
                .https_only()
                .enable_http1()
                .enable_http2()
                .wrap_connector(http)
        };
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HyperTransport { client, timeout })
    }
}

fn webpki_roots_iter() -> impl Iterator<Item = rustls_pki_types::TrustAnchor<'static>> {
    webpki_roots::TLS_SERVER_ROOTS.iter().cloned()
}

impl HttpClient for HyperTransport {
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        Box::pin(async move {
            let url = req.url.clone();
            let transport = |reason: String| Error::Transport {
                url: url.clone(),
                reason,
            };
            let mut builder = Request::builder()
                .method(req.method)
                .uri(&req.url)
                .header("user-agent", USER_AGENT);
            if let Some(ct) = req.content_type {
                builder = builder.header(CONTENT_TYPE, HeaderValue::from_static(ct));
            }
            if let Some(a) = req.accept {
                builder = builder.header("accept", HeaderValue::from_static(a));
            }
            let request = builder
                .body(Full::new(req.body))
                .map_err(|e| Error::InvalidArgument(format!("bad URL {url:?}: {e}")))?;
            let exchange = async {
                let resp = self
                    .client
                    .request(request)
                    .await
                    .map_err(|e| transport(error_chain(&e)))?;
                let (parts, body) = resp.into_parts();
                let body = Limited::new(body, MAX_RESPONSE_BYTES)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            Error::invalid(
                                &url,
                                format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
                            )
                        } else {
                            transport(format!("reading the response: {e}"))
                        }
                    })?
                    .to_bytes();
                Ok(HttpResponse {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                })
            };
            match tokio::time::timeout(self.timeout, exchange).await {
                Ok(r) => r,
                Err(_) => Err(transport(format!("no response within {:?}", self.timeout))),
            }
        })
    }
}

/// Flattens an error and its sources into one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let part = c.to_string();
        if !s.contains(&part) {
            s.push_str(": ");
            s.push_str(&part);
        }
        cur = c.source();
    }
    s
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
/// A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return now.checked_add(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.max(now))
}

/// Extracts every target with relation `rel` from Link header values
/// (RFC 8288): several links per header, several headers, quoted or bare
/// `rel`, several relations in one `rel`.
pub fn parse_links<'a>(values: impl Iterator<Item = &'a HeaderValue>, rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    for v in values {
        let Ok(s) = v.to_str() else { continue };
        let mut rest = s;
        while let Some(start) = rest.find('<') {
            let Some(end) = rest[start..].find('>') else {
                break;
            };
            let target = &rest[start + 1..start + end];
            rest = &rest[start + end + 1..];
            // Parameters run to the next ',' outside quotes.
            let mut in_quotes = false;
            let mut stop = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ',' if !in_quotes => {
                        stop = i;
                        break;
                    }
                    _ => {}
                }
            }
            let params = &rest[..stop];
            rest = &rest[stop..];
            let matches = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case(rel))
            });
            if matches {
                out.push(target.to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(now + Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(now));
        // RFC 9110's own example date.
        let date = parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", SystemTime::UNIX_EPOCH);
        assert_eq!(
            date,
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_799))
        );
        // A date in the past means now.
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 1999 23:59:59 GMT", now),
            Some(now)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn links_several_per_header_and_several_headers() {
        let h1 = HeaderValue::from_static(
            r#"<https://ca/dir>;rel="index", <https://ca/cert/1/alt/0>; rel="alternate", <https://ca/a,b>;rel=alternate"#,
        );
        let h2 = HeaderValue::from_static(
            r#"<https://ca/cert/1/alt/1>;title="x, y";rel="up alternate""#,
        );
        let alts = parse_links([&h1, &h2].into_iter(), "alternate");
        assert_eq!(
            alts,
            vec![
                "https://ca/cert/1/alt/0",
                "https://ca/a,b",
                "https://ca/cert/1/alt/1"
            ]
        );
        assert_eq!(
            parse_links([&h1, &h2].into_iter(), "index"),
            vec!["https://ca/dir"]
        );
        assert_eq!(
            parse_links([&h2].into_iter(), "up"),
            vec!["https://ca/cert/1/alt/1"]
        );
        assert!(parse_links([&h1].into_iter(), "next").is_empty());
    }
}
