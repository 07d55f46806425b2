//! acme2certifier as a second, independent ACME server: renewalInfo (RFC
//! 9773), profiles and other interop against a server we did not write.
//!
//! acme2certifier (PyPI, GPL-3) is only run as an external test server. It
//! is installed once per machine into a cached venv (see `venv.rs`), and
//! each [`Acme2Certifier`] serves its WSGI application with a small Python
//! launcher on a free `127.0.0.1` port over TLS (the kit's listener CA),
//! under the same reaping wrapper as Pebble, with its openssl CA handler
//! and a CA generated for it. Challenge validation is switched off: every
//! challenge turns valid when answered (use [`NoopSolver`](crate::NoopSolver)).

mod venv;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::certs::ListenerCerts;
use crate::process::ServerProcess;
use crate::tempdir::TempDir;

const LAUNCHER: &str = include_str!("a2c/launcher.py");

/// How long the server gets to open its port (the venv is ready by then).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Configures an [`Acme2Certifier`]; see [`Acme2Certifier::builder`].
#[derive(Clone, Debug)]
pub struct Acme2CertifierBuilder {
    profiles: BTreeMap<String, String>,
    renewal_force: bool,
    renewal_retry_after: u64,
    validity_days: u32,
}

impl Default for Acme2CertifierBuilder {
    fn default() -> Self {
        let profiles = [
            ("classic", "the usual certificate"),
            ("shortlived", "a short-lived certificate"),
        ];
        Acme2CertifierBuilder {
            profiles: profiles
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            renewal_force: false,
            renewal_retry_after: 3600,
            validity_days: 30,
        }
    }
}

impl Acme2CertifierBuilder {
    /// Advertises one more certificate profile (`[Order] profiles`; the
    /// defaults are `classic` and `shortlived`). No `%` in the description:
    /// the config file format would read it as interpolation.
    pub fn profile(mut self, name: &str, description: &str) -> Self {
        self.profiles
            .insert(name.to_owned(), description.to_owned());
        self
    }

    /// `[Renewalinfo] renewal_force`: every renewal window has already
    /// opened, as when a CA wants certificates replaced at once (0.46.3
    /// answers from a year ago to a day ahead).
    pub fn renewal_force(mut self, force: bool) -> Self {
        self.renewal_force = force;
        self
    }

    /// `[Renewalinfo] retry_after_timeout`: the Retry-After of renewalInfo
    /// replies, in seconds (default 3600).
    pub fn renewal_retry_after(mut self, seconds: u64) -> Self {
        self.renewal_retry_after = seconds;
        self
    }

    /// Starts the server and waits until it accepts connections; installs
    /// acme2certifier into the cached venv first if needed.
    ///
    /// # Panics
    ///
    /// If python3 or pip is missing, the installation fails, or the server
    /// does not start (the message then carries its output).
    pub fn start(self) -> Acme2Certifier {
        Acme2Certifier::launch(self)
    }
}

/// A running acme2certifier on a free `127.0.0.1` port, over HTTPS with a
/// certificate from the kit's listener CA. Dropping it kills and reaps the
/// server and removes its state (database, CA, issued certificates).
///
/// Where it deviates from RFC 8555 (tests must not depend on these: no
/// orders list, `replaces` accepted and ignored, no revocation by
/// certificate key, …) is written down in the project's notes on it.
pub struct Acme2Certifier {
    server: ServerProcess,
    port: u16,
    listener_ca_pem: String,
    issuing_ca_pem: String,
    _dir: TempDir,
}

impl Acme2Certifier {
    /// A builder, to add profiles or change the renewalInfo settings.
    pub fn builder() -> Acme2CertifierBuilder {
        Acme2CertifierBuilder::default()
    }

    /// Starts one with the defaults: profiles `classic` and `shortlived`,
    /// renewalInfo Retry-After 3600 s, 30-day certificates.
    ///
    /// # Panics
    ///
    /// As [`Acme2CertifierBuilder::start`].
    pub fn start() -> Acme2Certifier {
        Self::builder().start()
    }

    /// One default instance per test binary, started on first use and never
    /// dropped: the server dies when the test binary exits.
    pub fn shared() -> &'static Acme2Certifier {
        static SHARED: OnceLock<Acme2Certifier> = OnceLock::new();
        SHARED.get_or_init(Acme2Certifier::start)
    }

    /// The directory URL, `https://127.0.0.1:PORT/directory`.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/directory", self.port)
    }

    /// PEM of the CA that signed the server's TLS certificate: an ACME
    /// client must trust it.
    pub fn listener_ca_pem(&self) -> &str {
        &self.listener_ca_pem
    }

    /// PEM of the CA that issues the certificates: the root to verify
    /// issued chains against.
    pub fn issuing_ca_pem(&self) -> &str {
        &self.issuing_ca_pem
    }

    /// Everything the server printed so far (its log and one line per
    /// request).
    pub fn log(&self) -> String {
        self.server.log()
    }

    fn launch(builder: Acme2CertifierBuilder) -> Acme2Certifier {
        let python = venv::python();
        let dir = TempDir::create();
        let state = dir.path();
        let listener = ListenerCerts::generate();
        let (ca_pem, ca_key_pem) = issuing_ca();
        for sub in ["ca", "certs"] {
            std::fs::create_dir_all(state.join(sub)).unwrap_or_else(|e| {
                panic!("acmekit-testkit: cannot create {}: {e}", state.display())
            });
        }
        dir.write("ca/ca.crt", &ca_pem);
        dir.write("ca/ca.key", &ca_key_pem);
        let cert = dir.write("listener-cert.pem", &listener.leaf_pem);
        let key = dir.write("listener-key.pem", &listener.leaf_key_pem);
        let config = dir.write("acme_srv.cfg", &config(&builder, &state.to_string_lossy()));
        let launcher = dir.write("launcher.py", LAUNCHER);
        let port = crate::ports::free_tcp_port();

        let server = ServerProcess::spawn(
            &python.to_string_lossy(),
            &[
                launcher.to_string_lossy().into_owned(),
                port.to_string(),
                cert.to_string_lossy().into_owned(),
                key.to_string_lossy().into_owned(),
            ],
            &[
                (
                    "ACME_SRV_CONFIGFILE".into(),
                    config.to_string_lossy().into(),
                ),
                // Required when challenge validation is switched off.
                ("ACME2CERTIFIER_I_KNOW_THE_RISK".into(), "1".into()),
                ("PYTHONUNBUFFERED".into(), "1".into()),
            ],
            Some(state),
        );
        let a2c = Acme2Certifier {
            server,
            port,
            listener_ca_pem: listener.ca_pem,
            issuing_ca_pem: ca_pem,
            _dir: dir,
        };
        a2c.wait_ready();
        a2c
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = (Ipv4Addr::LOCALHOST, self.port).into();
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self.server.exit_status() {
                self.fail(&format!("acme2certifier exited during startup ({status})"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "acme2certifier did not open port {} within {READY_TIMEOUT:?}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "acmekit-testkit: {what}\n--- acme2certifier output ---\n{}",
            self.server.log()
        );
    }
}

impl Drop for Acme2Certifier {
    fn drop(&mut self) {
        self.server.stop();
        if std::thread::panicking() {
            let log = self.server.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "acmekit-testkit: last lines of acme2certifier's output:\n{}",
                tail.join("\n")
            );
        }
    }
}

impl fmt::Debug for Acme2Certifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acme2Certifier")
            .field("directory_url", &self.directory_url())
            .finish_non_exhaustive()
    }
}

/// The configuration file: openssl CA handler, sqlite database, no contact
/// required, challenge validation off, profiles, renewalInfo settings.
fn config(builder: &Acme2CertifierBuilder, state: &str) -> String {
    let profiles = serde_json::to_string(&builder.profiles)
        .unwrap_or_else(|e| panic!("acmekit-testkit: profiles: {e}"));
    let renewal_force = if builder.renewal_force {
        "True"
    } else {
        "False"
    };
    format!(
        "[DEFAULT]
debug: False
dns_server_list: [\"127.0.0.1\"]

[CAhandler]
handler_module: acme2certifier.cahandlers.openssl_ca_handler
issuing_ca_key: {state}/ca/ca.key
issuing_ca_cert: {state}/ca/ca.crt
issuing_ca_crl: {state}/ca/crl.pem
cert_save_path: {state}/certs
cert_validity_days: {validity}

[DBhandler]
handler: wsgi
dbfile: {state}/acme_srv.db

[Account]
contact_check_disable: True

[Challenge]
challenge_validation_disable: True

[Order]
profiles: {profiles}

[Renewalinfo]
retry_after_timeout: {retry_after}
renewal_force: {renewal_force}
",
        validity = builder.validity_days,
        retry_after = builder.renewal_retry_after,
    )
}

/// A fresh issuing CA for acme2certifier's openssl handler: (certificate
/// PEM, PKCS#8 key PEM).
fn issuing_ca() -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let generate = || -> Result<(String, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "acmekit-testkit acme2certifier CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok((cert.pem(), key.serialize_pem()))
    };
    generate().unwrap_or_else(|e| panic!("acmekit-testkit: cannot generate the issuing CA: {e}"))
}
