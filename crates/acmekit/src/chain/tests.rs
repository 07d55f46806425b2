//! Chain download against a scripted server: `rel="up"` issuers (PEM and
//! DER, relative links, loops), alternates, and chain selection.

use super::*;
use crate::http::{HttpClient, HttpRequest};
use crate::key::{AccountKey, KeyType};
use crate::Client;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One scripted reply: body and Link header values.
#[derive(Clone)]
struct Reply {
    body: Vec<u8>,
    links: Vec<String>,
}

/// Answers the directory, newNonce and POSTs to scripted URLs; records
/// every POSTed URL.
#[derive(Clone, Default)]
struct Scripted {
    replies: Arc<HashMap<String, Reply>>,
    posted: Arc<Mutex<Vec<String>>>,
}

const DIR: &str = "https://ca.test/dir";

impl HttpClient for Scripted {
    fn request(&self, req: HttpRequest) -> BoxFuture<'_, Result<HttpResponse>> {
        Box::pin(async move {
            let mut headers = HeaderMap::new();
            headers.insert("replay-nonce", HeaderValue::from_static("bm9uY2U"));
            let (status, body) = if req.method == Method::GET && req.url == DIR {
                let dir = serde_json::json!({
                    "newNonce": "https://ca.test/nonce",
                    "newAccount": "https://ca.test/acct",
                    "newOrder": "https://ca.test/order",
                    "revokeCert": "https://ca.test/revoke",
                    "keyChange": "https://ca.test/key",
                });
                (StatusCode::OK, dir.to_string().into_bytes())
            } else if req.method == Method::HEAD {
                (StatusCode::OK, Vec::new())
            } else {
                self.posted.lock().unwrap().push(req.url.clone());
                match self.replies.get(&req.url) {
                    Some(reply) => {
                        for l in &reply.links {
                            headers.append("link", HeaderValue::from_str(l).unwrap());
                        }
                        (StatusCode::OK, reply.body.clone())
                    }
                    None => (StatusCode::NOT_FOUND, Vec::new()),
                }
            };
            Ok(HttpResponse {
                status,
                headers,
                body: body.into(),
            })
        })
    }
}

async fn account(script: &Scripted) -> Account {
    let client = Client::builder(DIR)
        .http_client(Box::new(script.clone()))
        .build()
        .await
        .unwrap();
    let key = AccountKey::generate(KeyType::Es256).unwrap();
    Account::from_parts(client, key, "https://ca.test/acct/1".into())
}

/// A CA certificate named `cn` with its key, self-signed or issued.
struct Ca {
    der: Vec<u8>,
    params: CertificateParams,
    key: KeyPair,
}

fn ca(cn: &str, issuer: Option<&Ca>) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    let key = KeyPair::generate().unwrap();
    let cert = match issuer {
        None => params.self_signed(&key).unwrap(),
        Some(i) => params
            .signed_by(&key, &Issuer::new(i.params.clone(), &i.key))
            .unwrap(),
    };
    Ca {
        der: cert.der().to_vec(),
        params,
        key,
    }
}

fn leaf(issuer: &Ca) -> Vec<u8> {
    let params = CertificateParams::new(vec!["leaf.example".to_owned()]).unwrap();
    let key = KeyPair::generate().unwrap();
    params
        .signed_by(&key, &Issuer::new(issuer.params.clone(), &issuer.key))
        .unwrap()
        .der()
        .to_vec()
}

fn pem(ders: &[&[u8]]) -> Vec<u8> {
    ders.iter()
        .map(|d| crate::pem_encode("CERTIFICATE", d))
        .collect::<String>()
        .into_bytes()
}

fn reply(body: Vec<u8>, links: &[&str]) -> Reply {
    Reply {
        body,
        links: links.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn up_links_fetch_issuers_in_pem_and_der() {
    let root = ca("Root A", None);
    let mid = ca("Mid A", Some(&root));
    let leaf = leaf(&mid);
    let mut replies = HashMap::new();
    // Leaf only; the issuer is linked with a relative URL.
    replies.insert(
        "https://ca.test/cert/1".into(),
        reply(pem(&[&leaf]), &[r#"</issuer/mid>;rel="up""#]),
    );
    // The intermediate as DER, linking its own issuer.
    replies.insert(
        "https://ca.test/issuer/mid".into(),
        reply(
            mid.der.clone(),
            &[r#"<https://ca.test/issuer/root>;rel="up""#],
        ),
    );
    // The self-signed root, linking to itself: never fetched twice.
    replies.insert(
        "https://ca.test/issuer/root".into(),
        reply(
            pem(&[&root.der]),
            &[r#"<https://ca.test/issuer/root>;rel="up""#],
        ),
    );
    let script = Scripted {
        replies: Arc::new(replies),
        ..Scripted::default()
    };
    let account = account(&script).await;
    let chain = account
        .download_certificate("https://ca.test/cert/1")
        .await
        .unwrap();
    let got: Vec<&[u8]> = chain.certificates().iter().map(|c| c.as_ref()).collect();
    assert_eq!(got, vec![&leaf[..], &mid.der[..], &root.der[..]]);
    assert_eq!(chain.top_issuer_common_name().as_deref(), Some("Root A"));
    assert_eq!(
        *script.posted.lock().unwrap(),
        [
            "https://ca.test/cert/1",
            "https://ca.test/issuer/mid",
            "https://ca.test/issuer/root"
        ]
    );
    // The PEM holds the whole chain and reparses to the same certificates.
    let again = CertificateChain::from_pem(chain.pem()).unwrap();
    assert_eq!(again.certificates(), chain.certificates());
}

#[tokio::test]
async fn up_link_loops_and_repeats_stop() {
    let root = ca("Root A", None);
    let mid = ca("Mid A", Some(&root));
    let leaf = leaf(&mid);
    let mut replies = HashMap::new();
    replies.insert(
        "https://ca.test/cert/1".into(),
        reply(pem(&[&leaf]), &[r#"<https://ca.test/a>;rel="up""#]),
    );
    // a → b → a: b's certificate is already in the chain, and a was visited.
    replies.insert(
        "https://ca.test/a".into(),
        reply(pem(&[&mid.der]), &[r#"<https://ca.test/b>;rel="up""#]),
    );
    replies.insert(
        "https://ca.test/b".into(),
        reply(pem(&[&mid.der]), &[r#"<https://ca.test/a>;rel="up""#]),
    );
    let script = Scripted {
        replies: Arc::new(replies),
        ..Scripted::default()
    };
    let account = account(&script).await;
    let chain = account
        .download_certificate("https://ca.test/cert/1")
        .await
        .unwrap();
    assert_eq!(chain.certificates().len(), 2);
    assert_eq!(
        script.posted.lock().unwrap().len(),
        3,
        "cert, a, b; then stop"
    );
}

#[tokio::test]
async fn an_endless_up_chain_is_bounded() {
    // Every link leads to a new URL with a new (unrelated) certificate.
    let root = ca("Root A", None);
    let mid = ca("Mid A", Some(&root));
    let mut replies = HashMap::new();
    replies.insert(
        "https://ca.test/cert/1".into(),
        reply(pem(&[&leaf(&mid)]), &[r#"<https://ca.test/up/0>;rel="up""#]),
    );
    for i in 0..(MAX_UP_LINKS + 5) {
        let next = format!(r#"<https://ca.test/up/{}>;rel="up""#, i + 1);
        let other = ca(&format!("Mid {i}"), Some(&root));
        replies.insert(
            format!("https://ca.test/up/{i}"),
            reply(other.der, &[next.as_str()]),
        );
    }
    let script = Scripted {
        replies: Arc::new(replies),
        ..Scripted::default()
    };
    let account = account(&script).await;
    let chain = account
        .download_certificate("https://ca.test/cert/1")
        .await
        .unwrap();
    assert_eq!(chain.certificates().len(), 1 + MAX_UP_LINKS);
    assert_eq!(script.posted.lock().unwrap().len(), 1 + MAX_UP_LINKS);
}

#[tokio::test]
async fn alternates_are_collected_fetched_and_selected() {
    let root_a = ca("Root A", None);
    let root_b = ca("Root B", None);
    let mid_a = ca("Mid", Some(&root_a));
    let leaf = leaf(&mid_a);
    // The same intermediate key, cross-signed by root B.
    let mid_b = mid_a
        .params
        .clone()
        .signed_by(&mid_a.key, &Issuer::new(root_b.params.clone(), &root_b.key))
        .unwrap()
        .der()
        .to_vec();
    let mut replies = HashMap::new();
    replies.insert(
        "https://ca.test/cert/1".into(),
        reply(
            pem(&[&leaf, &mid_a.der]),
            &[
                r#"<https://ca.test/cert/1/alt/1>;rel="alternate", <alt/2>;rel="alternate""#,
                r#"<https://ca.test/cert/1/alt/1>;rel="alternate""#,
                r#"<https://ca.test/dir>;rel="index""#,
            ],
        ),
    );
    replies.insert(
        "https://ca.test/cert/1/alt/1".into(),
        reply(
            pem(&[&leaf, &mid_b]),
            &[r#"<https://ca.test/cert/1>;rel="alternate""#],
        ),
    );
    // A chain ending at root B itself (self-signed top).
    replies.insert(
        "https://ca.test/cert/1/alt/2".into(),
        reply(pem(&[&leaf, &mid_b, &root_b.der]), &[]),
    );
    let script = Scripted {
        replies: Arc::new(replies),
        ..Scripted::default()
    };
    let account = account(&script).await;
    let default = account
        .download_certificate("https://ca.test/cert/1")
        .await
        .unwrap();
    assert_eq!(
        default.alternate_urls(),
        [
            "https://ca.test/cert/1/alt/1",
            "https://ca.test/cert/alt/2",
            "https://ca.test/cert/1/alt/1"
        ],
        "relative links resolve against the certificate URL"
    );

    let chains = account
        .download_chains("https://ca.test/cert/1")
        .await
        .unwrap_err();
    // alt/2 resolved to /cert/alt/2, which the script does not serve.
    assert!(chains.to_string().contains("/cert/alt/2"), "{chains}");

    let mut replies = (*script.replies).clone();
    replies.insert(
        "https://ca.test/cert/alt/2".into(),
        replies["https://ca.test/cert/1/alt/2"].clone(),
    );
    let script = Scripted {
        replies: Arc::new(replies),
        ..Scripted::default()
    };
    let account = self::account(&script).await;
    let chains = account
        .download_chains("https://ca.test/cert/1")
        .await
        .unwrap();
    assert_eq!(chains.len(), 3, "default + 2 distinct alternates");
    assert_eq!(script.posted.lock().unwrap().len(), 3);
    let tops: Vec<Option<String>> = chains.iter().map(|c| c.top_issuer_common_name()).collect();
    assert_eq!(
        tops,
        [
            Some("Root A".to_owned()),
            Some("Root B".to_owned()),
            Some("Root B".to_owned())
        ]
    );
    assert!(chains.iter().all(|c| c.leaf().as_ref() == leaf));

    assert!(std::ptr::eq(
        select_chain(&chains, "root b").unwrap(),
        &chains[1]
    ));
    assert!(std::ptr::eq(
        select_chain(&chains, "Root A").unwrap(),
        &chains[0]
    ));
    assert!(std::ptr::eq(
        select_chain(&chains, "Nobody").unwrap(),
        &chains[0]
    ));
    assert!(std::ptr::eq(
        select_chain(&chains[2..], "Root B").unwrap(),
        &chains[2]
    ));
    assert!(select_chain(&[], "Root A").is_none());

    // The issue flow's variant stops at the first match.
    script.posted.lock().unwrap().clear();
    let chosen = account
        .download_preferred_chain("https://ca.test/cert/1", "Root B")
        .await
        .unwrap();
    assert_eq!(chosen.certificates()[1].as_ref(), mid_b);
    assert_eq!(script.posted.lock().unwrap().len(), 2);
    script.posted.lock().unwrap().clear();
    let chosen = account
        .download_preferred_chain("https://ca.test/cert/1", "Root A")
        .await
        .unwrap();
    assert_eq!(chosen.certificates()[1].as_ref(), mid_a.der);
    assert_eq!(script.posted.lock().unwrap().len(), 1, "default matched");
    script.posted.lock().unwrap().clear();
    let chosen = account
        .download_preferred_chain("https://ca.test/cert/1", "Nobody")
        .await
        .unwrap();
    assert_eq!(chosen.certificates()[1].as_ref(), mid_a.der);
    assert_eq!(script.posted.lock().unwrap().len(), 3);
}

#[test]
fn relative_link_targets() {
    let base = "https://ca.test:14000/certZ/ab12?x=1";
    assert_eq!(
        resolve_url(base, "https://other.test/x"),
        "https://other.test/x"
    );
    assert_eq!(resolve_url(base, "//cdn.test/x"), "https://cdn.test/x");
    assert_eq!(
        resolve_url(base, "/issuer/1"),
        "https://ca.test:14000/issuer/1"
    );
    assert_eq!(
        resolve_url(base, "ab12/alt/1"),
        "https://ca.test:14000/certZ/ab12/alt/1"
    );
    assert_eq!(resolve_url("https://ca.test", "x"), "https://ca.test/x");
}
