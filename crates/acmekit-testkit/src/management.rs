//! The management APIs: challtestsrv (mock DNS) and Pebble (roots,
//! revocation status). Every call opens a fresh connection, so these work
//! from any tokio runtime.

use serde_json::{json, Value};

use crate::http::{self, Response};
use crate::Pebble;

impl Pebble {
    /// Makes challtestsrv answer TXT queries for `fqdn` with `value` (in
    /// addition to values set before). A missing trailing `.` is added.
    ///
    /// # Panics
    ///
    /// If challtestsrv does not answer 200.
    pub async fn set_txt(&self, fqdn: &str, value: &str) {
        self.challtestsrv(
            "/set-txt",
            json!({ "host": fqdn_dot(fqdn), "value": value }),
        )
        .await;
    }

    /// Removes every TXT value set for `fqdn`.
    ///
    /// # Panics
    ///
    /// If challtestsrv does not answer 200.
    pub async fn clear_txt(&self, fqdn: &str) {
        self.challtestsrv("/clear-txt", json!({ "host": fqdn_dot(fqdn) }))
            .await;
    }

    /// Makes challtestsrv answer A queries for `host` with `ip` instead of
    /// the default `127.0.0.1`.
    ///
    /// # Panics
    ///
    /// If challtestsrv does not answer 200.
    pub async fn add_a(&self, host: &str, ip: &str) {
        self.challtestsrv(
            "/add-a",
            json!({ "host": fqdn_dot(host), "addresses": [ip] }),
        )
        .await;
    }

    /// Makes challtestsrv answer AAAA queries for `host` with `ip` (there is
    /// no default AAAA answer).
    ///
    /// # Panics
    ///
    /// If challtestsrv does not answer 200.
    pub async fn add_aaaa(&self, host: &str, ip: &str) {
        self.challtestsrv(
            "/add-aaaa",
            json!({ "host": fqdn_dot(host), "addresses": [ip] }),
        )
        .await;
    }

    /// Pebble's root certificate (PEM): `GET /roots/0` on the management
    /// API. A new one is made at every Pebble start.
    ///
    /// # Panics
    ///
    /// If Pebble does not answer 200.
    pub async fn root_pem(&self) -> String {
        self.management_ok("/roots/0").await.text()
    }

    /// Pebble's root certificate number `n` (PEM): `GET /roots/<n>` on the
    /// management API. With `PEBBLE_ALTERNATE_ROOTS=k` Pebble has roots
    /// `0..=k`, one per certificate chain it offers (root 0 heads the
    /// default chain); [`Pebble::root_pem`] is `root_pem_n(0)`.
    ///
    /// # Panics
    ///
    /// If Pebble does not answer 200 (e.g. no root number `n`).
    pub async fn root_pem_n(&self, n: usize) -> String {
        self.management_ok(&format!("/roots/{n}")).await.text()
    }

    /// Pebble's issuing intermediate certificate (PEM): `GET
    /// /intermediates/0` on the management API.
    ///
    /// # Panics
    ///
    /// If Pebble does not answer 200.
    pub async fn intermediate_pem(&self) -> String {
        self.management_ok("/intermediates/0").await.text()
    }

    /// The revocation status of the certificate with serial `serial_hex`
    /// (hexadecimal): `GET /cert-status-by-serial/<hex>`, e.g.
    /// `{"Status": "Revoked", "Serial": ..., "Reason": 4, ...}`.
    ///
    /// # Panics
    ///
    /// If Pebble does not answer 200 (404 for an unknown serial) or the
    /// body is not JSON.
    pub async fn cert_status(&self, serial_hex: &str) -> Value {
        let response = self
            .management_ok(&format!("/cert-status-by-serial/{serial_hex}"))
            .await;
        serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "acmekit-testkit: cert-status-by-serial/{serial_hex} is not JSON ({e}): {}",
                response.text()
            )
        })
    }

    /// `GET path` on Pebble's management API, which must answer 200.
    async fn management_ok(&self, path: &str) -> Response {
        let response = http::get_https(self.management_addr(), path, &self.listener_ca_der())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "acmekit-testkit: GET {}{path} failed: {e}",
                    self.management_url()
                )
            });
        if response.status != 200 {
            panic!(
                "acmekit-testkit: GET {}{path} answered {}: {}",
                self.management_url(),
                response.status,
                response.text()
            );
        }
        response
    }

    /// `POST path` with `body` on challtestsrv's management API, which must
    /// answer 200.
    async fn challtestsrv(&self, path: &str, body: Value) {
        let response = http::post_json(self.challtestsrv_addr(), path, &body.to_string())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "acmekit-testkit: POST {}{path} failed: {e}",
                    self.challtestsrv_url()
                )
            });
        if response.status != 200 {
            panic!(
                "acmekit-testkit: POST {}{path} {body} answered {}: {}",
                self.challtestsrv_url(),
                response.status,
                response.text()
            );
        }
    }
}

/// `name` with a trailing dot, as DNS servers spell fully qualified names.
fn fqdn_dot(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}
