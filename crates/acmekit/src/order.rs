//! Orders (RFC 8555 §7.4): create, fetch, finalize, poll.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::SystemTime;
use time::OffsetDateTime;
use tracing::{debug, warn};

use crate::account::Account;
use crate::error::{Error, Result};
use crate::poll::Backoff;
use crate::problem::{Problem, ProblemType};
use crate::types::{lenient_time, Identifier, IdentifierType, OrderStatus};

/// An order object (RFC 8555 §7.1.3), with the URL it lives at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Order {
    /// The order URL (from newOrder's `Location`): keep it to resume later.
    #[serde(skip)]
    pub url: String,
    /// The order's status.
    pub status: OrderStatus,
    /// When the server will stop working on the order.
    #[serde(
        default,
        with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    /// The identifiers the certificate will be for.
    pub identifiers: Vec<Identifier>,
    /// Requested start of validity.
    #[serde(
        default,
        with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    /// Requested end of validity.
    #[serde(
        default,
        with = "lenient_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_after: Option<OffsetDateTime>,
    /// Why the order failed, when it is `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
    /// URLs of the authorizations to complete.
    #[serde(default)]
    pub authorizations: Vec<String>,
    /// URL to POST the CSR to.
    pub finalize: String,
    /// URL of the issued certificate, once `valid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The certificate profile (draft-ietf-acme-profiles), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The certificate ID this order replaces (RFC 9773), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
    /// Retry-After from the reply this object came in, if any.
    #[serde(skip)]
    pub retry_after: Option<SystemTime>,
}

/// What to ask for in newOrder (RFC 8555 §7.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOrder {
    /// The identifiers (at least one).
    pub identifiers: Vec<Identifier>,
    /// Requested `notBefore`.
    pub not_before: Option<OffsetDateTime>,
    /// Requested `notAfter`.
    pub not_after: Option<OffsetDateTime>,
    /// A profile the directory advertises.
    pub profile: Option<String>,
    /// The ARI certificate ID of the certificate this one replaces.
    pub replaces: Option<String>,
}

impl NewOrder {
    /// An order for these identifiers.
    pub fn new(identifiers: impl IntoIterator<Item = Identifier>) -> Self {
        NewOrder {
            identifiers: identifiers.into_iter().collect(),
            ..Self::default()
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NewOrderPayload<'a> {
    identifiers: &'a [Identifier],
    #[serde(with = "lenient_time", skip_serializing_if = "Option::is_none")]
    not_before: Option<OffsetDateTime>,
    #[serde(with = "lenient_time", skip_serializing_if = "Option::is_none")]
    not_after: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<&'a str>,
}

impl Account {
    /// Creates an order (POST newOrder).
    ///
    /// - **Profile.** A `profile` the directory does not advertise in
    ///   `meta.profiles` is refused before anything is sent
    ///   ([`Error::UnknownProfile`], listing the ones it offers).
    /// - **Replaces.** When the server refuses `replaces` (RFC 9773 §5) with
    ///   `alreadyReplaced`, or with `malformed` naming the certificate ID or
    ///   the field, the order is placed once more without it and a warning is
    ///   logged: the renewal goes ahead, only without ARI's benefits (such as
    ///   Let's Encrypt's rate-limit exemption).
    pub async fn new_order(&self, new: &NewOrder) -> Result<Order> {
        if new.identifiers.is_empty() {
            return Err(Error::InvalidArgument(
                "an order needs at least one identifier".into(),
            ));
        }
        if let Some(profile) = &new.profile {
            let offered = self.client().profiles();
            if !offered.contains_key(profile) {
                return Err(Error::UnknownProfile {
                    profile: profile.clone(),
                    offered: offered.keys().cloned().collect(),
                });
            }
        }
        let Some(replaces) = new.replaces.as_deref() else {
            return self.post_new_order(new, None).await;
        };
        match self.post_new_order(new, Some(replaces)).await {
            Err(e) if refuses_replaces(&e, replaces) => {
                warn!(
                    replaces,
                    error = %e,
                    "the server refused newOrder's `replaces`; ordering again without it \
                     (this renewal is not marked as replacing the certificate)"
                );
                self.post_new_order(new, None).await
            }
            other => other,
        }
    }

    /// POST newOrder once, with or without `replaces`.
    async fn post_new_order(&self, new: &NewOrder, replaces: Option<&str>) -> Result<Order> {
        let url = &self.client().directory().new_order;
        let payload = serde_json::to_vec(&NewOrderPayload {
            identifiers: &new.identifiers,
            not_before: new.not_before,
            not_after: new.not_after,
            profile: new.profile.as_deref(),
            replaces,
        })
        .expect("payload serializes");
        let (mut order, resp): (Order, _) = self.post_json(url, Some(&payload)).await?;
        let Some(location) = resp.location() else {
            return Err(Error::invalid(url, "newOrder reply has no Location header"));
        };
        order.url = location.to_owned();
        order.retry_after = resp.retry_after();
        // The certificate will name what the order names: an order for other
        // identifiers than asked for is a server bug to stop at here, not
        // after validating and paying for the wrong names.
        if let Err(reason) = check_identifiers(&new.identifiers, &order.identifiers) {
            return Err(Error::invalid(&order.url, reason));
        }
        Ok(order)
    }

    /// Fetches an order by URL (POST-as-GET): resume an order this way.
    pub async fn order(&self, url: &str) -> Result<Order> {
        let (mut order, resp): (Order, _) = self.post_json(url, None).await?;
        order.url = url.to_owned();
        order.retry_after = resp.retry_after();
        Ok(order)
    }

    /// Sends the CSR (DER) to the order's finalize URL and returns the
    /// order as the server answers (often `processing`). The order URL is
    /// kept from `order`: finalize replies need not carry `Location`.
    pub async fn finalize(&self, order: &Order, csr_der: &[u8]) -> Result<Order> {
        let payload = serde_json::to_vec(&serde_json::json!({ "csr": crate::b64(csr_der) }))
            .expect("payload serializes");
        let (mut updated, resp): (Order, _) =
            self.post_json(&order.finalize, Some(&payload)).await?;
        updated.url = order.url.clone();
        updated.retry_after = resp.retry_after();
        Ok(updated)
    }

    /// Finalizes `order` and waits until it is `valid`. When the server says
    /// `orderNotReady` (authorizations still settling), the order is fetched
    /// and polled until `ready`, then finalized once more.
    pub async fn finalize_and_wait(&self, order: &Order, csr_der: &[u8]) -> Result<Order> {
        let order = match self.finalize(order, csr_der).await {
            Ok(o) => o,
            Err(e) if e.problem_type() == Some(ProblemType::OrderNotReady) => {
                debug!(url = %order.url, "orderNotReady: waiting for the order to become ready");
                let ready = self.wait_order(&order.url, &OrderStatus::Ready).await?;
                self.finalize(&ready, csr_der).await?
            }
            Err(e) => return Err(e),
        };
        self.poll_until_valid(order).await
    }

    /// Polls a finalized order until it is `valid`.
    ///
    /// Which states end the wait follows eggsampler/acme's
    /// `checkFinalizedOrderStatus` and RFC 8555 §7.1.6: `processing` keeps
    /// waiting (after Retry-After if given); `valid` is done; `invalid` is
    /// the order's error; `pending` (authorizations not fulfilled) and
    /// `ready` (not finalized) are errors after finalization.
    pub async fn poll_until_valid(&self, mut order: Order) -> Result<Order> {
        let mut backoff = Backoff::new(self.client().poll_policy());
        loop {
            match &order.status {
                OrderStatus::Valid => return Ok(order),
                OrderStatus::Processing => {}
                OrderStatus::Invalid => {
                    return Err(Error::OrderFailed {
                        url: order.url,
                        problem: order.error.map(Box::new),
                    })
                }
                OrderStatus::Pending => {
                    return Err(Error::invalid(
                        &order.url,
                        "the order is back to pending after finalization: its authorizations are not fulfilled",
                    ))
                }
                OrderStatus::Ready => {
                    return Err(Error::invalid(
                        &order.url,
                        "the order is still ready after finalization: the server did not accept the CSR",
                    ))
                }
                OrderStatus::Unknown(s) => {
                    return Err(Error::invalid(&order.url, format!("unknown order status {s:?}")))
                }
            }
            if !backoff.wait(order.retry_after).await {
                return Err(Error::Timeout {
                    url: order.url,
                    status: order.status.to_string(),
                    waited: backoff.elapsed(),
                });
            }
            order = self.order(&order.url).await?;
        }
    }

    /// Polls an order until it reaches `target` (used for `ready`);
    /// `invalid` ends the wait with the order's error.
    async fn wait_order(&self, url: &str, target: &OrderStatus) -> Result<Order> {
        let mut backoff = Backoff::new(self.client().poll_policy());
        loop {
            let order = self.order(url).await?;
            if &order.status == target || order.status == OrderStatus::Valid {
                return Ok(order);
            }
            if order.status == OrderStatus::Invalid {
                return Err(Error::OrderFailed {
                    url: order.url,
                    problem: order.error.map(Box::new),
                });
            }
            if !backoff.wait(order.retry_after).await {
                return Err(Error::Timeout {
                    url: order.url,
                    status: order.status.to_string(),
                    waited: backoff.elapsed(),
                });
            }
        }
    }
}

/// True when newOrder's refusal is about its `replaces` field: the type
/// RFC 9773 §5 defines for it (`alreadyReplaced`), or `malformed` whose
/// detail names the certificate ID or the field (how servers predating
/// `alreadyReplaced`, and some since, refuse an ID they do not accept).
fn refuses_replaces(err: &Error, cert_id: &str) -> bool {
    let Some(problem) = err.problem() else {
        return false;
    };
    match problem.kind() {
        ProblemType::AlreadyReplaced => true,
        ProblemType::Malformed => problem
            .detail
            .as_deref()
            .is_some_and(|d| d.contains(cert_id) || d.to_ascii_lowercase().contains("replaces")),
        _ => false,
    }
}

/// An identifier as compared: its type, and its value with DNS names in
/// lower case (DNS is case-insensitive, and servers such as Pebble and
/// Boulder lower-case them) and IP addresses in canonical form.
fn comparable(id: &Identifier) -> (String, String) {
    let value = match id.kind {
        IdentifierType::Dns => id.value.to_ascii_lowercase(),
        IdentifierType::Ip => match id.value.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => id.value.clone(),
        },
        _ => id.value.clone(),
    };
    (id.kind.as_str().to_owned(), value)
}

/// Checks that an order names exactly the identifiers asked for, as sets
/// (order and duplicates do not matter). The error says what is missing
/// and what was added.
pub(crate) fn check_identifiers(
    requested: &[Identifier],
    returned: &[Identifier],
) -> std::result::Result<(), String> {
    let requested: BTreeSet<_> = requested.iter().map(comparable).collect();
    let returned: BTreeSet<_> = returned.iter().map(comparable).collect();
    if requested == returned {
        return Ok(());
    }
    let list = |set: Vec<&(String, String)>| {
        set.iter()
            .map(|(kind, value)| format!("{kind}:{value}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let missing: Vec<_> = requested.difference(&returned).collect();
    let added: Vec<_> = returned.difference(&requested).collect();
    let mut reason = String::from("the order does not name the identifiers asked for");
    if !missing.is_empty() {
        reason.push_str(&format!("; missing: {}", list(missing)));
    }
    if !added.is_empty() {
        reason.push_str(&format!("; not asked for: {}", list(added)));
    }
    Err(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_identifiers_compare_as_sets() {
        let ask = [
            Identifier::dns("WWW.Example.org"),
            Identifier::dns("*.example.org"),
            Identifier::parse("2001:DB8:0:0::1"),
            Identifier::dns("www.example.org"),
        ];
        let got = [
            Identifier::parse("2001:db8::1"),
            Identifier::dns("*.example.org"),
            Identifier::dns("www.example.org"),
        ];
        assert_eq!(check_identifiers(&ask, &got), Ok(()));

        let err = check_identifiers(
            &[Identifier::dns("a.example"), Identifier::dns("b.example")],
            &[Identifier::dns("a.example"), Identifier::dns("c.example")],
        )
        .unwrap_err();
        assert_eq!(
            err,
            "the order does not name the identifiers asked for; \
             missing: dns:b.example; not asked for: dns:c.example"
        );
        let err = check_identifiers(&[Identifier::dns("a.example")], &[]).unwrap_err();
        assert!(err.ends_with("missing: dns:a.example"), "{err}");
        // A DNS name and an IP address with the same text differ.
        let ip_as_dns = Identifier::dns("192.0.2.1");
        assert!(check_identifiers(&[Identifier::parse("192.0.2.1")], &[ip_as_dns]).is_err());
        // The wildcard is part of the name.
        assert!(check_identifiers(
            &[Identifier::dns("*.example.org")],
            &[Identifier::dns("example.org")]
        )
        .is_err());
    }

    /// Every member RFC 8555 §7.1.3 defines, the error with its
    /// subproblems (§6.7.1) included.
    #[test]
    fn rfc8555_order_error_with_subproblems() {
        let order: Order = serde_json::from_str(
            r#"{
              "status": "invalid",
              "expires": "2016-01-20T14:09:07.99Z",
              "identifiers": [{ "type": "dns", "value": "_example.org" }],
              "notBefore": "2016-01-01T00:00:00Z",
              "notAfter": "2016-01-08T00:00:00Z",
              "error": {
                "type": "urn:ietf:params:acme:error:malformed",
                "detail": "Some of the identifiers requested were rejected",
                "subproblems": [{
                  "type": "urn:ietf:params:acme:error:malformed",
                  "detail": "Invalid underscore in DNS name \"_example.org\"",
                  "identifier": { "type": "dns", "value": "_example.org" }
                }]
              },
              "authorizations": [],
              "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize"
            }"#,
        )
        .unwrap();
        let error = order.error.unwrap();
        assert_eq!(error.kind(), ProblemType::Malformed);
        assert_eq!(
            error.subproblems[0].identifier,
            Some(Identifier::dns("_example.org"))
        );
        assert_eq!(order.not_after.unwrap().unix_timestamp(), 1_452_211_200);
        assert!(order.certificate.is_none());
    }

    /// RFC 8555 §7.1.3's order example.
    #[test]
    fn rfc8555_7_1_3_order() {
        let order: Order = serde_json::from_str(
            r#"{
              "status": "valid",
              "expires": "2016-01-20T14:09:07.99Z",
              "identifiers": [
                { "type": "dns", "value": "www.example.org" },
                { "type": "dns", "value": "example.org" }
              ],
              "notBefore": "2016-01-01T00:00:00Z",
              "notAfter": "2016-01-08T00:00:00Z",
              "authorizations": [
                "https://example.com/acme/authz/PAniVnsZcis",
                "https://example.com/acme/authz/r4HqLzrSrpI"
              ],
              "finalize": "https://example.com/acme/order/TOlocE8rfgo/finalize",
              "certificate": "https://example.com/acme/cert/mAt3xBGaobw"
            }"#,
        )
        .unwrap();
        assert_eq!(order.status, OrderStatus::Valid);
        assert_eq!(order.identifiers[1], Identifier::dns("example.org"));
        assert_eq!(order.authorizations.len(), 2);
        assert_eq!(order.not_before.unwrap().unix_timestamp(), 1_451_606_400);
        assert_eq!(order.expires.unwrap().millisecond(), 990);
        assert_eq!(
            order.certificate.as_deref(),
            Some("https://example.com/acme/cert/mAt3xBGaobw")
        );
    }

    #[test]
    fn invalid_order_carries_its_error() {
        let order: Order = serde_json::from_str(
            r#"{"status":"invalid","identifiers":[],"finalize":"f",
                "error":{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids"},
                "expires":"not a date"}"#,
        )
        .unwrap();
        assert_eq!(order.error.unwrap().kind(), ProblemType::Caa);
        assert_eq!(
            order.expires, None,
            "an unparsable date does not fail the order"
        );
    }

    #[test]
    fn which_refusals_are_about_replaces() {
        let id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
        let refusal = |kind: &str, detail: &str| {
            let problem: Problem = serde_json::from_value(serde_json::json!({
                "type": format!("urn:ietf:params:acme:error:{kind}"),
                "detail": detail,
            }))
            .unwrap();
            Error::from_problem("https://ca/new-order", problem, None)
        };
        assert!(refuses_replaces(&refusal("alreadyReplaced", "x"), id));
        assert!(refuses_replaces(
            &refusal("malformed", &format!("certificate {id} not found")),
            id
        ));
        assert!(refuses_replaces(
            &refusal("malformed", "invalid Replaces field"),
            id
        ));
        assert!(!refuses_replaces(
            &refusal("malformed", "bad identifier"),
            id
        ));
        assert!(!refuses_replaces(&refusal("rateLimited", id), id));
        assert!(!refuses_replaces(&Error::invalid("u", id), id));
    }

    #[test]
    fn new_order_payload_has_no_nulls() {
        let new = NewOrder::new([Identifier::dns("a.example"), Identifier::parse("::1")]);
        let json = serde_json::to_string(&NewOrderPayload {
            identifiers: &new.identifiers,
            not_before: None,
            not_after: None,
            profile: None,
            replaces: None,
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"identifiers":[{"type":"dns","value":"a.example"},{"type":"ip","value":"::1"}]}"#
        );
        let json = serde_json::to_string(&NewOrderPayload {
            identifiers: &new.identifiers[..1],
            not_before: Some(OffsetDateTime::from_unix_timestamp(1_451_606_400).unwrap()),
            not_after: None,
            profile: Some("shortlived"),
            replaces: Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
        })
        .unwrap();
        assert!(
            json.contains(r#""notBefore":"2016-01-01T00:00:00Z""#),
            "{json}"
        );
        assert!(json.contains(r#""profile":"shortlived""#));
        assert!(json.contains(r#""replaces":"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE""#));
    }
}
