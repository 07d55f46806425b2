//! Authorizations and challenges (RFC 8555 §7.5): fetch, respond, poll,
//! deactivate (§7.5.2), and pre-authorization with newAuthz (§7.4.1).

use serde::{Deserialize, Serialize};
use std::time::SystemTime;
use time::OffsetDateTime;

use crate::account::Account;
use crate::error::{Error, Result};
use crate::poll::Backoff;
use crate::problem::Problem;
use crate::types::{lenient_time, AuthorizationStatus, ChallengeStatus, ChallengeType, Identifier};

/// An authorization object (RFC 8555 §7.1.4), with its URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Authorization {
    /// The authorization URL.
    #[serde(skip)]
    pub url: String,
    /// The identifier being authorized (for a wildcard, the base domain).
    pub identifier: Identifier,
    /// The authorization's status.
    pub status: AuthorizationStatus,
    /// When it expires.
    #[serde(
        default,
        with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    /// The challenges offered (or, once valid, the one that succeeded).
    #[serde(default)]
    pub challenges: Vec<Challenge>,
    /// True when this authorization is for a wildcard name.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub wildcard: bool,
    /// Retry-After from the reply this object came in, if any.
    #[serde(skip)]
    pub retry_after: Option<SystemTime>,
}

impl Authorization {
    /// The identifier the certificate will name: `*.` restored for wildcards.
    pub fn certificate_identifier(&self) -> Identifier {
        let mut id = self.identifier.clone();
        if self.wildcard && !id.value.starts_with("*.") {
            id.value = format!("*.{}", id.value);
        }
        id
    }

    /// The first challenge of the given type.
    pub fn challenge(&self, kind: &ChallengeType) -> Option<&Challenge> {
        self.challenges.iter().find(|c| &c.kind == kind)
    }

    /// The first error among the challenges (why the authorization failed).
    pub fn error(&self) -> Option<&Problem> {
        self.challenges.iter().find_map(|c| c.error.as_ref())
    }
}

/// A challenge object (RFC 8555 §7.1.5, §8). Unknown types parse as
/// [`ChallengeType::Unknown`]; fields this library does not know are kept
/// in `extra`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Challenge {
    /// The challenge type.
    #[serde(rename = "type")]
    pub kind: ChallengeType,
    /// The URL to POST the response to.
    pub url: String,
    /// The challenge's status.
    pub status: ChallengeStatus,
    /// The token (absent in some newer challenge types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the server validated it.
    #[serde(
        default,
        with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub validated: Option<OffsetDateTime>,
    /// Why validation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// Other members (e.g. dns-persist-01's `issuer-domain-names`).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Account {
    /// Fetches an authorization (POST-as-GET).
    pub async fn authorization(&self, url: &str) -> Result<Authorization> {
        let (mut authz, resp): (Authorization, _) = self.post_json(url, None).await?;
        authz.url = url.to_owned();
        authz.retry_after = resp.retry_after();
        Ok(authz)
    }

    /// Deactivates an authorization (RFC 8555 §7.5.2), e.g. one no longer
    /// needed, so the account holds no authorization it does not use.
    /// Returns the authorization as the server answers (status
    /// `deactivated`).
    pub async fn deactivate_authorization(&self, url: &str) -> Result<Authorization> {
        let (mut authz, resp): (Authorization, _) = self
            .post_json(url, Some(br#"{"status":"deactivated"}"#))
            .await?;
        authz.url = url.to_owned();
        authz.retry_after = resp.retry_after();
        Ok(authz)
    }

    /// Asks for an authorization before any order (pre-authorization,
    /// RFC 8555 §7.4.1) and returns it, its URL from `Location`.
    ///
    /// Fails without sending anything with [`Error::Unsupported`] when the
    /// directory has no `newAuthz` (Let's Encrypt, Pebble), and with
    /// [`Error::InvalidArgument`] for a wildcard ("pre-authorization cannot
    /// be used to authorize issuance of certificates containing wildcard
    /// domain names").
    pub async fn new_authorization(&self, identifier: &Identifier) -> Result<Authorization> {
        let Some(url) = self.client().directory().new_authz.as_deref() else {
            return Err(Error::Unsupported(
                "pre-authorization: the directory has no newAuthz URL; \
                 place an order with new_order instead"
                    .into(),
            ));
        };
        if identifier.is_wildcard() {
            return Err(Error::InvalidArgument(format!(
                "{identifier} is a wildcard, which pre-authorization cannot authorize; \
                 place an order for it instead"
            )));
        }
        let payload = serde_json::to_vec(&serde_json::json!({ "identifier": identifier }))
            .expect("payload serializes");
        let (mut authz, resp): (Authorization, _) = self.post_json(url, Some(&payload)).await?;
        let Some(location) = resp.location() else {
            return Err(Error::invalid(url, "newAuthz reply has no Location header"));
        };
        authz.url = location.to_owned();
        authz.retry_after = resp.retry_after();
        Ok(authz)
    }

    /// Tells the server the challenge is ready to be validated (POST `{}`,
    /// RFC 8555 §7.5.1). Returns the challenge as the server answers.
    pub async fn respond(&self, challenge: &Challenge) -> Result<Challenge> {
        Ok(self.post_json(&challenge.url, Some(b"{}")).await?.0)
    }

    /// Polls an authorization until it is no longer `pending`. `valid`
    /// returns it; any other final state is [`Error::ValidationFailed`] with
    /// the challenge's error.
    pub async fn poll_authorization(&self, url: &str) -> Result<Authorization> {
        let mut backoff = Backoff::new(self.client().poll_policy());
        let mut retry_after = None;
        loop {
            if !backoff.wait(retry_after).await {
                return Err(Error::Timeout {
                    url: url.to_owned(),
                    status: AuthorizationStatus::Pending.to_string(),
                    waited: backoff.elapsed(),
                });
            }
            let authz = self.authorization(url).await?;
            match authz.status {
                AuthorizationStatus::Valid => return Ok(authz),
                AuthorizationStatus::Pending => retry_after = authz.retry_after,
                _ => return Err(validation_failed(authz)),
            }
        }
    }
}

pub(crate) fn validation_failed(authz: Authorization) -> Error {
    let problem = authz.error().cloned();
    Error::ValidationFailed {
        identifier: authz.certificate_identifier().value,
        url: authz.url,
        problem: Some(Box::new(problem.unwrap_or_else(|| Problem {
            detail: Some(format!("the authorization is {}", authz.status)),
            ..Problem::default()
        }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemType;
    use crate::test_support::{decode_jws, scripted_account, Seen};
    use http::StatusCode;

    /// An authorization for www.example.org, as newAuthz creates it.
    const NEW_AUTHZ: &str = r#"{
      "status": "pending",
      "expires": "2016-01-02T14:09:30Z",
      "identifier": { "type": "dns", "value": "www.example.org" },
      "challenges": [
        { "type": "http-01", "url": "https://ca.test/chall/1",
          "status": "pending", "token": "DGyRejmCefe7v4NfDGDKfA" }
      ]
    }"#;

    async fn pre_authz_account(new_authz: bool) -> (Account, Seen) {
        let extra = if new_authz {
            serde_json::json!({ "newAuthz": "https://ca.test/new-authz" })
        } else {
            serde_json::json!({})
        };
        scripted_account(extra, |req| {
            assert_eq!(req.url, "https://ca.test/new-authz");
            (
                StatusCode::CREATED,
                vec![("location", "https://ca.test/authz/1")],
                NEW_AUTHZ.to_owned(),
            )
        })
        .await
    }

    /// RFC 8555 §7.4.1: POST `{"identifier": …}` to newAuthz with the
    /// account's `kid`; the reply is an authorization, its URL in Location.
    #[tokio::test]
    async fn rfc8555_7_4_1_pre_authorization() {
        let (account, seen) = pre_authz_account(true).await;
        let authz = account
            .new_authorization(&Identifier::dns("www.example.org"))
            .await
            .unwrap();
        assert_eq!(authz.url, "https://ca.test/authz/1");
        assert_eq!(authz.status, AuthorizationStatus::Pending);
        assert!(authz.challenge(&ChallengeType::Http01).is_some());

        let post = seen.lock().unwrap().last().unwrap().clone();
        assert_eq!(post.url, "https://ca.test/new-authz");
        let (header, payload) = decode_jws(&post);
        assert_eq!(
            payload,
            serde_json::json!({ "identifier": { "type": "dns", "value": "www.example.org" } })
        );
        assert_eq!(header["kid"], "https://ca.test/acct/1");
        assert_eq!(header["url"], "https://ca.test/new-authz");
    }

    #[tokio::test]
    async fn pre_authorization_refusals_send_nothing() {
        let (account, seen) = pre_authz_account(true).await;
        let before = seen.lock().unwrap().len();
        let err = account
            .new_authorization(&Identifier::dns("*.example.org"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert!(err.to_string().contains("wildcard"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), before);

        let (account, seen) = pre_authz_account(false).await;
        let before = seen.lock().unwrap().len();
        let err = account
            .new_authorization(&Identifier::dns("www.example.org"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
        assert!(err.to_string().contains("newAuthz"), "{err}");
        assert_eq!(seen.lock().unwrap().len(), before);
    }

    /// RFC 8555 §7.1.4's authorization example.
    #[test]
    fn rfc8555_7_1_4_authorization() {
        let authz: Authorization = serde_json::from_str(
            r#"{
              "status": "valid",
              "expires": "2015-03-01T14:09:07.99Z",
              "identifier": { "type": "dns", "value": "www.example.org" },
              "challenges": [
                {
                  "url": "https://example.com/acme/chall/prV_B7yEyA4",
                  "type": "http-01",
                  "status": "valid",
                  "token": "DGyRejmCefe7v4NfDGDKfA",
                  "validated": "2014-12-01T12:05:58.16Z"
                }
              ],
              "wildcard": false
            }"#,
        )
        .unwrap();
        assert_eq!(authz.status, AuthorizationStatus::Valid);
        let c = authz.challenge(&ChallengeType::Http01).unwrap();
        assert_eq!(c.token.as_deref(), Some("DGyRejmCefe7v4NfDGDKfA"));
        assert!(c.validated.is_some());
        assert!(!authz.wildcard);
    }

    #[test]
    fn unknown_challenges_and_failures_parse() {
        let authz: Authorization = serde_json::from_str(
            r#"{
              "status": "invalid",
              "identifier": { "type": "dns", "value": "example.org" },
              "wildcard": true,
              "challenges": [
                { "type": "dns-persist-01", "url": "https://ca/c/1", "status": "pending",
                  "issuer-domain-names": ["ca.example"] },
                { "type": "x-future-01", "url": "https://ca/c/2", "status": "pending", "token": "t" },
                { "type": "dns-01", "url": "https://ca/c/3", "status": "invalid", "token": "t",
                  "error": { "type": "urn:ietf:params:acme:error:dns", "detail": "NXDOMAIN" } }
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(authz.challenges[0].kind, ChallengeType::DnsPersist01);
        assert!(authz.challenges[0]
            .extra
            .contains_key("issuer-domain-names"));
        assert_eq!(
            authz.challenges[1].kind,
            ChallengeType::Unknown("x-future-01".into())
        );
        assert_eq!(authz.certificate_identifier().value, "*.example.org");
        assert_eq!(
            authz.challenges[0].issuer_domain_names().unwrap(),
            ["ca.example"]
        );
        let err = validation_failed(authz);
        assert_eq!(err.problem_type(), Some(ProblemType::Dns));
        assert!(err.to_string().contains("*.example.org"));
        assert!(err.to_string().contains("NXDOMAIN"));
    }

    /// The drafts' own challenge objects (draft-ietf-acme-dns-account-label
    /// §3, draft-ietf-acme-dns-persist-02 §3.1 Figure 1), and unknown types
    /// shaped in ways this library has never seen: all parse, nothing is
    /// lost, and serializing gives the members back without `null`s.
    #[test]
    fn draft_and_unknown_challenges_parse() {
        let authz: Authorization = serde_json::from_str(
            r#"{
              "status": "pending",
              "identifier": { "type": "dns", "value": "www.example.org" },
              "challenges": [
                {
                  "type": "dns-account-01",
                  "url": "https://example.com/acme/chall/i00MGYwLWIx",
                  "status": "pending",
                  "token": "ODE4OWY4NTktYjhmYS00YmY1LTk5MDgtZTFjYTZmNjZlYTUx"
                },
                {
                  "type": "dns-persist-01",
                  "url": "https://ca.example/acme/authz/1234/0",
                  "status": "pending",
                  "issuerDomainNames": ["authority.example", "ca.example.net"]
                },
                {
                  "type": "x-quantum-01",
                  "url": "https://ca.example/acme/chall/q",
                  "status": "x-paused",
                  "nonce": { "a": [1, 2, null] },
                  "validationMethods": null
                }
              ]
            }"#,
        )
        .unwrap();
        let kinds: Vec<&ChallengeType> = authz.challenges.iter().map(|c| &c.kind).collect();
        assert_eq!(
            kinds,
            [
                &ChallengeType::DnsAccount01,
                &ChallengeType::DnsPersist01,
                &ChallengeType::Unknown("x-quantum-01".into())
            ]
        );
        let account = &authz.challenges[0];
        assert_eq!(
            account.token.as_deref(),
            Some("ODE4OWY4NTktYjhmYS00YmY1LTk5MDgtZTFjYTZmNjZlYTUx")
        );
        assert!(account.is_computable());
        let persist = &authz.challenges[1];
        assert_eq!(persist.token, None);
        assert_eq!(
            persist.issuer_domain_names().unwrap(),
            ["authority.example", "ca.example.net"]
        );
        let unknown = &authz.challenges[2];
        assert_eq!(unknown.status, ChallengeStatus::Unknown("x-paused".into()));
        assert!(!unknown.is_computable());
        assert_eq!(unknown.extra["nonce"]["a"][1], 2);
        assert!(unknown.issuer_domain_names().is_err());

        let back = serde_json::to_value(persist).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "type": "dns-persist-01",
                "url": "https://ca.example/acme/authz/1234/0",
                "status": "pending",
                "issuerDomainNames": ["authority.example", "ca.example.net"]
            })
        );
    }
}
