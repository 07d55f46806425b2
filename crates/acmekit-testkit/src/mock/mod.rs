//! A scripted mock ACME server for what Pebble 2.4 lacks: renewalInfo
//! (RFC 9773), profiles, `alreadyReplaced`, Retry-After, and malformed or
//! oversized replies.
//!
//! **It is a mock, not a CA.** It does not verify JWS signatures, nonces or
//! account URLs, issues no certificates and keeps no order state: it decodes
//! each JWS payload, records it, and answers with canned objects or with
//! the responses a test scripted. Use [`Pebble`](crate::Pebble) (or
//! acme2certifier) for anything a real server can be made to do.
//!
//! It serves plain HTTP on a free `127.0.0.1` port (build the client with
//! `allow_insecure_http(true)`) from the kit's background runtime, so it
//! works from any `#[tokio::test]` runtime.

mod handlers;
mod wire;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::process::lock;

/// The endpoints of the mock, for scripting responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// `GET /dir`.
    Directory,
    /// `HEAD` or `GET /nonce`.
    NewNonce,
    /// `POST /new-account`.
    NewAccount,
    /// `POST /new-order`.
    NewOrder,
    /// `POST /order/<n>` (an order, POST-as-GET).
    Order,
    /// `GET /renewal-info/<certificate ID>`.
    RenewalInfo,
}

/// One request the mock received.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `HEAD` or `POST`.
    pub method: String,
    /// The path, e.g. `/renewal-info/aYhb….AIdl…`.
    pub path: String,
    /// The endpoint, if the path is one the mock knows.
    pub route: Option<Route>,
    /// The JWS payload decoded as JSON (`None` for a GET, a POST-as-GET or
    /// a body that is not a JWS with a JSON payload).
    pub payload: Option<serde_json::Value>,
    /// The JWS protected header decoded as JSON, when there is one.
    pub protected: Option<serde_json::Value>,
}

/// A response to send instead of the mock's default for one request.
/// `Replay-Nonce` is added unless the response sets its own.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MockResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers (name, value), sent as given.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl MockResponse {
    /// An empty response with this status.
    pub fn new(status: u16) -> Self {
        MockResponse {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON (`application/json`) response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status).body("application/json", value.to_string().into_bytes())
    }

    /// An ACME problem document (`application/problem+json`) of type
    /// `urn:ietf:params:acme:error:<kind>`.
    pub fn problem(status: u16, kind: &str, detail: &str) -> Self {
        let problem = serde_json::json!({
            "type": format!("urn:ietf:params:acme:error:{kind}"),
            "detail": detail,
            "status": status,
        });
        Self::new(status).body("application/problem+json", problem.to_string().into_bytes())
    }

    /// Sets the body and its `Content-Type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body.into();
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// Configures a [`MockAcme`] before starting it; see [`MockAcme::builder`].
#[derive(Clone, Debug)]
pub struct MockAcmeBuilder {
    profiles: BTreeMap<String, String>,
    renewal_info: bool,
}

impl Default for MockAcmeBuilder {
    fn default() -> Self {
        MockAcmeBuilder {
            profiles: BTreeMap::new(),
            renewal_info: true,
        }
    }
}

impl MockAcmeBuilder {
    /// Advertises a certificate profile in the directory's `meta.profiles`.
    pub fn profile(mut self, name: &str, description: &str) -> Self {
        self.profiles
            .insert(name.to_owned(), description.to_owned());
        self
    }

    /// Whether the directory has a `renewalInfo` URL (default: yes).
    pub fn renewal_info(mut self, offered: bool) -> Self {
        self.renewal_info = offered;
        self
    }

    /// Binds a free loopback port and starts serving.
    pub fn start(self) -> MockAcme {
        MockAcme::launch(self)
    }
}

/// What the handlers read and the test scripts: shared with the server.
pub(crate) struct State {
    pub(crate) base_url: String,
    pub(crate) profiles: BTreeMap<String, String>,
    pub(crate) renewal_info: bool,
    pub(crate) window: (SystemTime, SystemTime),
    pub(crate) retry_after: Option<String>,
    pub(crate) scripts: HashMap<Route, VecDeque<MockResponse>>,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) counter: u64,
}

/// A running scripted mock ACME server, for what Pebble 2.4 lacks:
/// renewalInfo (RFC 9773), profiles, `alreadyReplaced`, Retry-After, and
/// malformed or oversized replies ([`MockAcme::script`]).
///
/// **It is a mock, not a CA.** It does not verify JWS signatures, nonces or
/// account URLs, issues no certificates and keeps no order state: it decodes
/// each JWS payload, records it ([`MockAcme::requests`]), and answers with
/// canned objects or with the responses a test scripted. Every response
/// carries a `Replay-Nonce`.
///
/// It serves plain HTTP on a free `127.0.0.1` port (build the client with
/// `allow_insecure_http(true)`) from the kit's background runtime, so it
/// works from any `#[tokio::test]` runtime. Dropping it stops it.
///
/// | path | default answer |
/// | --- | --- |
/// | `GET /dir` | directory; `meta.profiles` and `renewalInfo` as built |
/// | `HEAD`/`GET /nonce` | 200 / 204 |
/// | `POST /new-account` | 201 (200 for `onlyReturnExisting`), `Location: /acct/<n>` |
/// | `POST /new-order` | 201 pending order echoing identifiers, `profile`, `replaces`; `Location: /order/<n>` |
/// | `POST /order/<n>` | a pending order |
/// | `GET /renewal-info/<id>` | the configured window, `Retry-After` (default 21600) |
pub struct MockAcme {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
}

impl MockAcme {
    /// A builder, to advertise profiles or drop `renewalInfo`.
    pub fn builder() -> MockAcmeBuilder {
        MockAcmeBuilder::default()
    }

    /// Starts a mock with renewalInfo and no profiles.
    pub fn start() -> MockAcme {
        Self::builder().start()
    }

    fn launch(builder: MockAcmeBuilder) -> MockAcme {
        let listener = crate::ports::bind_tcp_listener();
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("acmekit-testkit: mock ACME address: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("acmekit-testkit: mock ACME: {e}"));
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 60 * 60);
        let state = Arc::new(Mutex::new(State {
            base_url: format!("http://127.0.0.1:{port}"),
            profiles: builder.profiles,
            renewal_info: builder.renewal_info,
            window: (now + day, now + 2 * day),
            retry_after: Some("21600".to_owned()),
            scripts: HashMap::new(),
            requests: Vec::new(),
            counter: 0,
        }));
        let (stop, mut stopped) = watch::channel(false);
        let served = state.clone();
        crate::runtime::handle().spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener)
                .unwrap_or_else(|e| panic!("acmekit-testkit: mock ACME: {e}"));
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            tokio::spawn(handlers::serve(stream, served.clone()));
                        }
                    }
                }
            }
        });
        MockAcme { port, state, stop }
    }

    /// The directory URL, `http://127.0.0.1:PORT/dir`.
    pub fn directory_url(&self) -> String {
        format!("http://127.0.0.1:{}/dir", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers the next request to `route` with `response` instead of the
    /// default. Several calls queue up, first in first out; each scripted
    /// response is used once.
    pub fn script(&self, route: Route, response: MockResponse) {
        lock(&self.state)
            .scripts
            .entry(route)
            .or_default()
            .push_back(response);
    }

    /// The suggested window renewalInfo answers with (default: from one to
    /// two days after the mock started).
    pub fn set_renewal_window(&self, start: SystemTime, end: SystemTime) {
        lock(&self.state).window = (start, end);
    }

    /// The `Retry-After` renewalInfo answers with (default `21600`, six
    /// hours; `None`: no header).
    pub fn set_renewal_retry_after(&self, value: Option<&str>) {
        lock(&self.state).retry_after = value.map(str::to_owned);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// The requests received so far on `route`.
    pub fn requests_to(&self, route: Route) -> Vec<RecordedRequest> {
        let state = lock(&self.state);
        let matching = state.requests.iter().filter(|r| r.route == Some(route));
        matching.cloned().collect()
    }

    /// The payloads of the newOrder requests received so far.
    pub fn new_order_payloads(&self) -> Vec<serde_json::Value> {
        self.requests_to(Route::NewOrder)
            .into_iter()
            .filter_map(|r| r.payload)
            .collect()
    }
}

impl Drop for MockAcme {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl fmt::Debug for MockAcme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAcme")
            .field("directory_url", &self.directory_url())
            .finish_non_exhaustive()
    }
}
