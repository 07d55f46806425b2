//! The settled configuration the builder produces.

use acmekit::{ChallengeType, KeyType};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::limits::Backoff;

/// Decides whether a name seen in a handshake may get a certificate.
pub(crate) type Policy = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Everything [`AutoCertBuilder`](crate::AutoCertBuilder) decided, validated.
pub(crate) struct Config {
    pub(crate) directory_url: String,
    pub(crate) roots_pem: Vec<Vec<u8>>,
    pub(crate) only_added_roots: bool,
    pub(crate) contact: Vec<String>,
    pub(crate) key_type: KeyType,
    pub(crate) challenges: Vec<ChallengeType>,
    /// Normalized names issued at start and kept renewed.
    pub(crate) domains: Vec<String>,
    pub(crate) policy: Option<Policy>,
    pub(crate) renew_before: Option<Duration>,
    pub(crate) min_renewal_interval: Duration,
    pub(crate) retry: Backoff,
    pub(crate) on_demand_max: usize,
    pub(crate) on_demand_per: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("directory_url", &self.directory_url)
            .field("domains", &self.domains)
            .field("on_demand", &self.policy.is_some())
            .field("challenges", &self.challenges)
            .field("key_type", &self.key_type)
            .finish_non_exhaustive()
    }
}
