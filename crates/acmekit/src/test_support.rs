//! A scripted ACME server behind [`HttpClient`], for unit tests of what
//! Pebble 2.4 cannot be made to do (newAuthz, keyChange's 409 Conflict).
//! It answers the directory and newNonce itself and every POST with a
//! closure, and records every request.

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use std::sync::{Arc, Mutex};

use crate::http::{BoxFuture, HttpClient, HttpRequest, HttpResponse};
use crate::{Account, AccountKey, Client, KeyType};

/// A reply to a POST: status, extra headers, body.
pub(crate) type Reply = (StatusCode, Vec<(&'static str, &'static str)>, String);

/// Every request the scripted CA received, in order.
pub(crate) type Seen = Arc<Mutex<Vec<HttpRequest>>>;

type PostHandler = Box<dyn Fn(&HttpRequest) -> Reply + Send + Sync>;

struct ScriptedCa {
    directory: serde_json::Value,
    post: PostHandler,
    seen: Seen,
}

impl HttpClient for ScriptedCa {
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, crate::Result<HttpResponse>> {
        self.seen.lock().unwrap().push(req.clone());
        let mut headers = HeaderMap::new();
        headers.insert("replay-nonce", HeaderValue::from_static("bm9uY2U"));
        let (status, extra, body) = match (&req.method, req.url.as_str()) {
            (&Method::GET, "https://ca.test/dir") => {
                (StatusCode::OK, Vec::new(), self.directory.to_string())
            }
            (&Method::HEAD, "https://ca.test/nonce") => (StatusCode::OK, Vec::new(), String::new()),
            (&Method::POST, _) => (self.post)(&req),
            _ => (StatusCode::NOT_FOUND, Vec::new(), String::new()),
        };
        for (name, value) in extra {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        Box::pin(async move {
            Ok(HttpResponse {
                status,
                headers,
                body: body.into(),
            })
        })
    }
}

/// An account `https://ca.test/acct/1` (ES256) on a scripted CA whose
/// directory is the RFC 8555 minimum plus the members of `extra`.
pub(crate) async fn scripted_account(
    extra: serde_json::Value,
    post: impl Fn(&HttpRequest) -> Reply + Send + Sync + 'static,
) -> (Account, Seen) {
    let mut directory = serde_json::json!({
        "newNonce": "https://ca.test/nonce",
        "newAccount": "https://ca.test/new-acct",
        "newOrder": "https://ca.test/new-order",
        "revokeCert": "https://ca.test/revoke",
        "keyChange": "https://ca.test/key-change",
    });
    if let serde_json::Value::Object(extra) = extra {
        directory.as_object_mut().unwrap().extend(extra);
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let client = Client::builder("https://ca.test/dir")
        .http_client(Box::new(ScriptedCa {
            directory,
            post: Box::new(post),
            seen: seen.clone(),
        }))
        .build()
        .await
        .unwrap();
    let key = AccountKey::generate(KeyType::Es256).unwrap();
    let account = Account::from_parts(client, key, "https://ca.test/acct/1".into());
    (account, seen)
}

/// The decoded protected header and payload of a recorded JWS request.
pub(crate) fn decode_jws(req: &HttpRequest) -> (serde_json::Value, serde_json::Value) {
    let jws: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    let part = |member: &str| -> serde_json::Value {
        let bytes = crate::b64_decode(jws[member].as_str().unwrap()).unwrap();
        if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        }
    };
    (part("protected"), part("payload"))
}
