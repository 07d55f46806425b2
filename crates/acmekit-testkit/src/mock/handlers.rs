//! The mock's default answers: a directory, nonces, accounts and orders
//! made up from the request, renewalInfo from the configured window.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpStream;

use super::wire::{read_request, write_response, Request};
use super::{MockResponse, RecordedRequest, Route, State};
use crate::process::lock;

const RENEWAL_INFO: &str = "/renewal-info/";

/// Reads one request, records it, answers it (scripted or default).
pub(crate) async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let route = route_of(&request.path);
    let (protected, payload) = decode_jws(&request.body);
    let response = {
        let mut state = lock(&state);
        state.requests.push(RecordedRequest {
            method: request.method.clone(),
            path: request.path.clone(),
            route,
            payload: payload.clone(),
            protected,
        });
        state.counter += 1;
        let nonce = format!("mock-nonce-{}", state.counter);
        let scripted = route.and_then(|r| state.scripts.get_mut(&r)?.pop_front());
        let mut response = match scripted {
            Some(r) => r,
            None => answer(&state, route, &request, payload.as_ref()),
        };
        if !response
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("replay-nonce"))
        {
            response.headers.push(("Replay-Nonce".to_owned(), nonce));
        }
        response
    };
    write_response(
        &mut stream,
        response.status,
        &response.headers,
        &response.body,
        request.method == "HEAD",
    )
    .await;
}

fn route_of(path: &str) -> Option<Route> {
    Some(match path {
        "/dir" => Route::Directory,
        "/nonce" => Route::NewNonce,
        "/new-account" => Route::NewAccount,
        "/new-order" => Route::NewOrder,
        p if p.starts_with("/order/") => Route::Order,
        p if p.starts_with(RENEWAL_INFO) => Route::RenewalInfo,
        _ => return None,
    })
}

/// The protected header and payload of a flattened JWS, decoded as JSON.
/// No signature is checked: this is a mock.
fn decode_jws(body: &[u8]) -> (Option<Value>, Option<Value>) {
    let Ok(jws) = serde_json::from_slice::<Value>(body) else {
        return (None, None);
    };
    let part = |name: &str| {
        let text = jws.get(name)?.as_str()?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice::<Value>(&bytes).ok()
    };
    (part("protected"), part("payload"))
}

fn answer(
    state: &State,
    route: Option<Route>,
    request: &Request,
    payload: Option<&Value>,
) -> MockResponse {
    let base = &state.base_url;
    let n = state.counter;
    let method = request.method.as_str();
    match (route, method) {
        (Some(Route::Directory), "GET") => MockResponse::json(200, &directory(state)),
        (Some(Route::NewNonce), "HEAD") => MockResponse::new(200),
        (Some(Route::NewNonce), "GET") => MockResponse::new(204),
        (Some(Route::NewAccount), "POST") => {
            let existing = payload.is_some_and(|p| p["onlyReturnExisting"] == true);
            let account = json!({ "status": "valid", "orders": format!("{base}/acct/{n}/orders") });
            MockResponse::json(if existing { 200 } else { 201 }, &account)
                .header("Location", &format!("{base}/acct/{n}"))
        }
        (Some(Route::NewOrder), "POST") => {
            let empty = json!({});
            let order = order(base, n, payload.unwrap_or(&empty));
            MockResponse::json(201, &order).header("Location", &format!("{base}/order/{n}"))
        }
        (Some(Route::Order), "POST") => MockResponse::json(200, &order(base, n, &json!({}))),
        (Some(Route::RenewalInfo), "GET") => renewal_info(state, &request.path),
        (Some(_), _) => MockResponse::problem(405, "malformed", "method not allowed")
            .header("Allow", "GET, HEAD, POST"),
        (None, _) => MockResponse::problem(404, "malformed", "the mock has no such resource"),
    }
}

fn directory(state: &State) -> Value {
    let base = &state.base_url;
    let mut dir = json!({
        "newNonce": format!("{base}/nonce"),
        "newAccount": format!("{base}/new-account"),
        "newOrder": format!("{base}/new-order"),
        "revokeCert": format!("{base}/revoke-cert"),
        "keyChange": format!("{base}/key-change"),
        "meta": { "termsOfService": format!("{base}/terms") },
    });
    if state.renewal_info {
        dir["renewalInfo"] = json!(format!("{base}/renewal-info"));
    }
    if !state.profiles.is_empty() {
        dir["meta"]["profiles"] = json!(state.profiles);
    }
    dir
}

/// A pending order echoing what was asked for; no field is ever null.
fn order(base: &str, n: u64, asked: &Value) -> Value {
    let mut order = json!({
        "status": "pending",
        "expires": rfc3339(SystemTime::now() + std::time::Duration::from_secs(7 * 24 * 3600)),
        "identifiers": asked.get("identifiers").cloned().unwrap_or_else(|| json!([])),
        "authorizations": [],
        "finalize": format!("{base}/order/{n}/finalize"),
    });
    for field in ["profile", "replaces", "notBefore", "notAfter"] {
        if let Some(v) = asked.get(field) {
            order[field] = v.clone();
        }
    }
    order
}

fn renewal_info(state: &State, path: &str) -> MockResponse {
    let id = &path[RENEWAL_INFO.len()..];
    if !id.contains('.') {
        return MockResponse::problem(400, "malformed", &format!("{id:?} is not a certificate ID"));
    }
    let (start, end) = state.window;
    let info = json!({
        "suggestedWindow": { "start": rfc3339(start), "end": rfc3339(end) },
        "explanationURL": format!("{}/docs/ari", state.base_url),
    });
    let response = MockResponse::json(200, &info);
    match &state.retry_after {
        Some(value) => response.header("Retry-After", value),
        None => response,
    }
}

fn rfc3339(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|e| panic!("acmekit-testkit: cannot format a time: {e}"))
}
