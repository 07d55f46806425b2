//! What the manager reports to the application, besides `tracing`.

use acmekit::{CertificateInfo, SuggestedWindow};
use std::time::SystemTime;

use crate::error::Error;

/// Something that happened to a certificate. Receive them with
/// [`AutoCert::events`](crate::AutoCert::events); every event is also
/// logged with `tracing` (failures at `warn`, the rest at `info`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A certificate was read from the store and is now served.
    Loaded {
        /// The name.
        name: String,
        /// The certificate.
        certificate: CertificateInfo,
    },
    /// A certificate was issued for a name that had none, and is now served.
    Issued {
        /// The name.
        name: String,
        /// The certificate.
        certificate: CertificateInfo,
    },
    /// A certificate was renewed; the new one is served to new handshakes
    /// (connections already open keep the old one).
    Renewed {
        /// The name.
        name: String,
        /// Serial number (hex) of the certificate it replaces.
        previous_serial: String,
        /// The new certificate.
        certificate: CertificateInfo,
    },
    /// The CA's renewal information (ARI, RFC 9773) for a served
    /// certificate was fetched. The certificate renews at `renew_at`: a
    /// time picked at random inside the suggested window, once per window
    /// (or earlier, when [`renew_before`](crate::AutoCertBuilder::renew_before)
    /// says so). Sent after every successful fetch; failed fetches are only
    /// logged (renewal then follows the last window, or the lifetime).
    RenewalInfo {
        /// The name.
        name: String,
        /// Serial number (hex) of the certificate it is about.
        serial: String,
        /// When the CA suggests renewing.
        suggested_window: SuggestedWindow,
        /// A page explaining the window (e.g. an incident), if the CA gave one.
        explanation_url: Option<String>,
        /// When the certificate is renewed (not counting a failure
        /// backoff or [`min_renewal_interval`](crate::AutoCertBuilder::min_renewal_interval)).
        renew_at: SystemTime,
    },
    /// Issuing or renewing failed. The old certificate, if any, keeps
    /// serving; the next attempt is at `retry_at` (exponential backoff).
    Failed {
        /// The name.
        name: String,
        /// What failed.
        error: Error,
        /// True when a certificate was being renewed.
        renewal: bool,
        /// When the next attempt may start.
        retry_at: SystemTime,
    },
    /// A certificate was issued and is served, but could not be stored: it
    /// will not survive a restart.
    StoreFailed {
        /// The name.
        name: String,
        /// What the store reported.
        error: Error,
    },
}
