//! The http-01 responder as a hyper `Service` wrapper (no tower), and a
//! redirect to HTTPS for everything else.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::service::Service;
use std::convert::Infallible;
use std::fmt;
use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::manager::Inner;
use crate::names::normalize;

/// Where http-01 responses live (RFC 8555 §8.3).
pub const CHALLENGE_PATH_PREFIX: &str = "/.well-known/acme-challenge/";

/// A hyper [`Service`] answering http-01 challenges in front of another
/// service. Make it with [`AutoCert::http01_service`](crate::AutoCert::http01_service)
/// or [`AutoCert::http01_redirect`](crate::AutoCert::http01_redirect).
///
/// - `GET`/`HEAD /.well-known/acme-challenge/<token>` for a live token:
///   `200` with the key authorization (`text/plain`).
/// - Any other request under that prefix — an unknown token, a token
///   outside the base64url alphabet, another method: `404`, and the inner
///   service never sees it.
/// - Everything else goes to the inner service unchanged.
///
/// The response body is `Either<Full<Bytes>, B>` where `B` is the inner
/// service's body. Serve it with `hyper::server::conn::http1` (see the
/// crate README). With axum, adapt the router first:
/// `acme.http01_service(hyper_util::service::TowerToHyperService::new(router))`
/// (hyper-util's `service` feature), and serve the result with hyper.
#[derive(Clone)]
pub struct Http01Service<S> {
    inner: Arc<Inner>,
    service: S,
}

impl<S: fmt::Debug> fmt::Debug for Http01Service<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http01Service")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S> Http01Service<S> {
    pub(crate) fn new(inner: Arc<Inner>, service: S) -> Self {
        Http01Service { inner, service }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.service
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Http01Service<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<Either<Full<Bytes>, ResBody>>;
    type Error = S::Error;
    type Future = Http01Future<S::Future>;

    fn call(&self, req: Request<ReqBody>) -> Self::Future {
        let lookup = |token: &str| self.inner.state.token(token);
        match challenge_response(req.method(), req.uri().path(), lookup) {
            Some(resp) => Http01Future {
                state: FutureState::Ready(Some(resp)),
            },
            None => Http01Future {
                state: FutureState::Inner(Box::pin(self.service.call(req))),
            },
        }
    }
}

/// The answer for a challenge path, `None` for any other path.
fn challenge_response(
    method: &Method,
    path: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Option<Response<Full<Bytes>>> {
    let token = path.strip_prefix(CHALLENGE_PATH_PREFIX)?;
    // RFC 8555 §8.3: tokens are base64url; anything else is never looked up.
    let valid = acmekit::challenge::validate_token(token).is_ok();
    let body = (valid && (method == Method::GET || method == Method::HEAD))
        .then(|| lookup(token))
        .flatten();
    Some(match body {
        Some(key_authorization) => text(StatusCode::OK, key_authorization),
        None => text(StatusCode::NOT_FOUND, "no such challenge\n".to_owned()),
    })
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// The future of [`Http01Service`].
pub struct Http01Future<F> {
    state: FutureState<F>,
}

enum FutureState<F> {
    Ready(Option<Response<Full<Bytes>>>),
    Inner(Pin<Box<F>>),
}

impl<F> fmt::Debug for Http01Future<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http01Future").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for Http01Future<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<Either<Full<Bytes>, B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().state {
            FutureState::Ready(resp) => {
                // Polled again after completion: answer 404 rather than panic.
                let resp = resp
                    .take()
                    .unwrap_or_else(|| text(StatusCode::NOT_FOUND, String::new()));
                Poll::Ready(Ok(resp.map(Either::Left)))
            }
            FutureState::Inner(f) => f
                .as_mut()
                .poll(cx)
                .map(|r| r.map(|resp| resp.map(Either::Right))),
        }
    }
}

/// A hyper [`Service`] that redirects every request to the same host and
/// path over `https://` (`308 Permanent Redirect`), or answers `400` when
/// the request names no valid host.
#[derive(Clone, Debug, Default)]
pub struct RedirectToHttps {
    port: Option<u16>,
}

impl RedirectToHttps {
    /// Redirects to the default HTTPS port (443).
    pub fn new() -> Self {
        Self::default()
    }

    /// Redirects to `port` instead of 443.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port).filter(|p| *p != 443);
        self
    }
}

impl<B> Service<Request<B>> for RedirectToHttps {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<B>) -> Self::Future {
        ready(Ok(redirect(&req, self.port)))
    }
}

fn redirect<B>(req: &Request<B>, port: Option<u16>) -> Response<Full<Bytes>> {
    let authority = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
        .or_else(|| req.uri().authority().cloned());
    let host = authority.as_ref().and_then(|a| {
        let h = a.host();
        let ip = h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok();
        if ip {
            Some(h.to_owned())
        } else {
            normalize(h)
        }
    });
    let Some(host) = host else {
        return text(
            StatusCode::BAD_REQUEST,
            "a valid Host header is required\n".into(),
        );
    };
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    match HeaderValue::try_from(format!("https://{host}{port}{path}")) {
        Ok(location) => {
            let mut resp = text(StatusCode::PERMANENT_REDIRECT, String::new());
            resp.headers_mut().insert(LOCATION, location);
            resp
        }
        Err(_) => text(StatusCode::BAD_REQUEST, "invalid request target\n".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(token: &str) -> Option<String> {
        (token == "tok_-1").then(|| "tok_-1.thumb".to_owned())
    }

    fn status(resp: &Option<Response<Full<Bytes>>>) -> Option<u16> {
        resp.as_ref().map(|r| r.status().as_u16())
    }

    #[test]
    fn answers_live_tokens_only() {
        let p = |t: &str| format!("{CHALLENGE_PATH_PREFIX}{t}");
        let ok = challenge_response(&Method::GET, &p("tok_-1"), lookup);
        assert_eq!(status(&ok), Some(200));
        assert_eq!(
            ok.unwrap().headers()[CONTENT_TYPE],
            HeaderValue::from_static("text/plain")
        );
        assert_eq!(
            status(&challenge_response(&Method::HEAD, &p("tok_-1"), lookup)),
            Some(200)
        );
        for (method, token) in [
            (Method::GET, "other"),
            (Method::POST, "tok_-1"),
            (Method::GET, "tok_-1/x"),
            (Method::GET, "..%2Ftok"),
            (Method::GET, ""),
            (Method::GET, "tok.-1"),
        ] {
            let resp = challenge_response(&method, &p(token), |t| {
                assert!(t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
                lookup(t)
            });
            assert_eq!(status(&resp), Some(404), "{method} {token}");
        }
        for path in ["/", "/.well-known/acme-challenge", "/index.html"] {
            assert!(
                challenge_response(&Method::GET, path, lookup).is_none(),
                "{path}"
            );
        }
    }

    fn redirect_of(uri: &str, host: Option<&str>, port: Option<u16>) -> (u16, Option<String>) {
        let mut req = Request::builder().uri(uri);
        if let Some(h) = host {
            req = req.header(HOST, h);
        }
        let resp = redirect(&req.body(()).unwrap(), port);
        let location = resp
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        (resp.status().as_u16(), location)
    }

    #[test]
    fn redirects_to_https() {
        assert_eq!(
            redirect_of("/a/b?c=d", Some("Example.COM:80"), None),
            (308, Some("https://example.com/a/b?c=d".into()))
        );
        assert_eq!(
            redirect_of("/", Some("example.com"), Some(8443)),
            (308, Some("https://example.com:8443/".into()))
        );
        assert_eq!(
            redirect_of("/", Some("[::1]:80"), None),
            (308, Some("https://[::1]/".into()))
        );
        assert_eq!(
            redirect_of("http://example.org/x", None, None),
            (308, Some("https://example.org/x".into()))
        );
        assert_eq!(redirect_of("/", None, None).0, 400);
        assert_eq!(redirect_of("/", Some("bad host!"), None).0, 400);
        assert_eq!(redirect_of("/", Some("evil.example/x"), None).0, 400);
    }
}
