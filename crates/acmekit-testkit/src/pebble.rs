//! Starting and stopping Pebble + challtestsrv.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::certs::ListenerCerts;
use crate::http01::Http01Responder;
use crate::process::{find_on_path, ServerProcess, NOT_INSTALLED};
use crate::tempdir::TempDir;
use crate::tls_alpn::TlsAlpnResponder;

const PEBBLE: &str = "pebble";
const CHALLTESTSRV: &str = "pebble-challtestsrv";
/// How long Pebble and challtestsrv get to open their ports.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Environment the kit sets for Pebble unless the test overrides it.
const DEFAULT_ENV: &[(&str, &str)] = &[
    // Validate at once instead of sleeping 0-15 s first.
    ("PEBBLE_VA_NOSLEEP", "1"),
    // No random badNonce rejections (default 5 %).
    ("PEBBLE_WFE_NONCEREJECT", "0"),
    // No random reuse of valid authorizations (default 50 %).
    ("PEBBLE_AUTHZREUSE", "0"),
];

/// Configures a [`Pebble`] before starting it; see [`Pebble::builder`].
#[derive(Debug, Clone, Default)]
pub struct PebbleBuilder {
    env: BTreeMap<String, String>,
    eab_keys: Option<BTreeMap<String, String>>,
    validation_ports: Option<(u16, u16)>,
    dns_server: Option<SocketAddr>,
}

impl PebbleBuilder {
    /// Points Pebble's `httpPort` and `tlsPort` at ports the test serves
    /// itself (e.g. the CLI's standalone servers) instead of the kit's
    /// responders. [`Pebble::http_port`] and [`Pebble::tls_port`] then
    /// return these.
    pub fn validation_ports(mut self, http: u16, tls: u16) -> Self {
        self.validation_ports = Some((http, tls));
        self
    }

    /// Makes Pebble resolve names (dns-01 TXT records, http-01 hosts)
    /// through this DNS server, such as a [`crate::Bind`], instead of
    /// challtestsrv. challtestsrv still runs; [`Pebble::dns_port`] stays
    /// its port.
    pub fn dns_server(mut self, addr: SocketAddr) -> Self {
        self.dns_server = Some(addr);
        self
    }

    /// Sets an environment variable for Pebble (e.g.
    /// `PEBBLE_WFE_NONCEREJECT=50`), overriding the kit's defaults
    /// `PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0` and
    /// `PEBBLE_AUTHZREUSE=0`.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Requires external account binding, accepting the given
    /// `(key id, base64url-encoded MAC key)` pairs.
    pub fn eab_keys(mut self, keys: &[(&str, &str)]) -> Self {
        let keys = keys
            .iter()
            .map(|(kid, key)| ((*kid).to_owned(), (*key).to_owned()));
        self.eab_keys.get_or_insert_with(BTreeMap::new).extend(keys);
        self
    }

    /// Starts Pebble, challtestsrv and the challenge responders, and waits
    /// until they accept connections.
    ///
    /// # Panics
    ///
    /// If Pebble is not installed, or anything fails to start (the message
    /// then carries the servers' output).
    pub fn start(self) -> Pebble {
        Pebble::launch(self)
    }
}

/// A running Pebble ACME server with its challtestsrv DNS server and the
/// kit's http-01 / tls-alpn-01 responders, all on free `127.0.0.1` ports.
///
/// Dropping it kills and reaps both servers, stops the responders and
/// removes its temporary directory. The servers also die when the test
/// binary exits without dropping it (as with [`Pebble::shared`]).
pub struct Pebble {
    pebble: ServerProcess,
    challtestsrv: ServerProcess,
    http01: Http01Responder,
    tls_alpn01: TlsAlpnResponder,
    http_port: u16,
    tls_port: u16,
    ca_pem: String,
    ca_der: Vec<u8>,
    acme_port: u16,
    management_port: u16,
    dns_port: u16,
    challtestsrv_port: u16,
    _dir: TempDir,
}

impl Pebble {
    /// A builder, to set environment variables or EAB keys first.
    pub fn builder() -> PebbleBuilder {
        PebbleBuilder::default()
    }

    /// Starts a Pebble with the default configuration.
    ///
    /// # Panics
    ///
    /// As [`PebbleBuilder::start`].
    pub fn start() -> Pebble {
        Pebble::builder().start()
    }

    /// One default Pebble per test binary, started on first use and shared by
    /// every test (and every tokio runtime) in it. It is never dropped: its
    /// servers die when the test binary exits.
    pub fn shared() -> &'static Pebble {
        static SHARED: OnceLock<Pebble> = OnceLock::new();
        SHARED.get_or_init(Pebble::start)
    }

    /// The ACME directory URL, `https://127.0.0.1:PORT/dir`.
    pub fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// PEM of the CA that signed the certificate of Pebble's listeners (ACME
    /// and management); an ACME client must trust it.
    pub fn listener_ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// DER of the CA that signed the certificate of Pebble's listeners.
    pub fn listener_ca_der(&self) -> Vec<u8> {
        self.ca_der.clone()
    }

    /// Pebble's `httpPort`: where its VA fetches http-01 responses (served
    /// by [`Pebble::http01`]).
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// Pebble's `tlsPort`: where its VA dials for tls-alpn-01 (served by
    /// [`Pebble::tls_alpn01`]).
    pub fn tls_port(&self) -> u16 {
        self.tls_port
    }

    /// Base URL of Pebble's management API, `https://127.0.0.1:PORT`.
    pub fn management_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.management_port)
    }

    /// The UDP and TCP port of challtestsrv's DNS server, which Pebble uses
    /// as its resolver (every A query answers `127.0.0.1`) unless
    /// [`PebbleBuilder::dns_server`] named another.
    pub fn dns_port(&self) -> u16 {
        self.dns_port
    }

    /// Base URL of challtestsrv's management API, `http://127.0.0.1:PORT`.
    pub fn challtestsrv_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.challtestsrv_port)
    }

    /// Everything Pebble printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        self.pebble.log()
    }

    /// Requests Pebble has handled so far: lines of [`Pebble::log`]
    /// containing `-> calling handler()`.
    pub fn request_count(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains("-> calling handler()"))
            .count()
    }

    /// The http-01 responder listening on [`Pebble::http_port`].
    pub fn http01(&self) -> &Http01Responder {
        &self.http01
    }

    /// The tls-alpn-01 responder listening on [`Pebble::tls_port`].
    pub fn tls_alpn01(&self) -> &TlsAlpnResponder {
        &self.tls_alpn01
    }

    pub(crate) fn management_addr(&self) -> SocketAddr {
        loopback(self.management_port)
    }

    pub(crate) fn challtestsrv_addr(&self) -> SocketAddr {
        loopback(self.challtestsrv_port)
    }

    fn launch(builder: PebbleBuilder) -> Pebble {
        for program in [PEBBLE, CHALLTESTSRV] {
            if find_on_path(program).is_none() {
                panic!("{NOT_INSTALLED}");
            }
        }
        let http01 = Http01Responder::start();
        let tls_alpn01 = TlsAlpnResponder::start();
        let (http_port, tls_port) = builder
            .validation_ports
            .unwrap_or((http01.port(), tls_alpn01.port()));
        let acme_port = crate::ports::free_tcp_port();
        let management_port = crate::ports::free_tcp_port();
        let challtestsrv_port = crate::ports::free_tcp_port();
        let dns_port = crate::ports::free_udp_tcp_port();
        let certs = ListenerCerts::generate();
        let dir = TempDir::create();

        let cert_path = dir.write("listener-cert.pem", &certs.leaf_pem);
        let key_path = dir.write("listener-key.pem", &certs.leaf_key_pem);
        let mut config = serde_json::json!({
            "listenAddress": loopback(acme_port).to_string(),
            "managementListenAddress": loopback(management_port).to_string(),
            "certificate": cert_path,
            "privateKey": key_path,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": builder.eab_keys.is_some(),
        });
        if let Some(keys) = &builder.eab_keys {
            config["externalAccountMACKeys"] = serde_json::json!(keys);
        }
        let config = serde_json::json!({ "pebble": config });
        let config_path = dir.write("pebble-config.json", &config.to_string());

        let dns_addr = loopback(dns_port).to_string();
        let resolver = builder
            .dns_server
            .map(|a| a.to_string())
            .unwrap_or_else(|| dns_addr.clone());
        let challtestsrv = ServerProcess::spawn(
            CHALLTESTSRV,
            &strings(&[
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
                "-dns01",
                &dns_addr,
                "-http01",
                "",
                "-tlsalpn01",
                "",
                "-https01",
                "",
                "-management",
                &loopback(challtestsrv_port).to_string(),
            ]),
            &[],
            None,
        );
        let mut env: BTreeMap<String, String> = DEFAULT_ENV
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.extend(builder.env);
        let env: Vec<(String, String)> = env.into_iter().collect();
        let pebble = ServerProcess::spawn(
            PEBBLE,
            &strings(&[
                "-config",
                &config_path.to_string_lossy(),
                "-dnsserver",
                &resolver,
            ]),
            &env,
            Some(dir.path()),
        );

        let pebble = Pebble {
            pebble,
            challtestsrv,
            http01,
            tls_alpn01,
            http_port,
            tls_port,
            ca_pem: certs.ca_pem,
            ca_der: certs.ca_der,
            acme_port,
            management_port,
            dns_port,
            challtestsrv_port,
            _dir: dir,
        };
        pebble.wait_ready();
        pebble
    }

    /// Polls every server port until it accepts a TCP connection.
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        let ports = [
            ("pebble ACME", self.acme_port),
            ("pebble management", self.management_port),
            ("challtestsrv management", self.challtestsrv_port),
            ("challtestsrv DNS (tcp)", self.dns_port),
        ];
        for (what, port) in ports {
            loop {
                if TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200)).is_ok() {
                    break;
                }
                for (name, server) in [("pebble", &self.pebble), (CHALLTESTSRV, &self.challtestsrv)]
                {
                    if let Some(status) = server.exit_status() {
                        self.fail(&format!("{name} exited during startup ({status})"));
                    }
                }
                if Instant::now() >= deadline {
                    self.fail(&format!(
                        "{what} port {port} did not open within {READY_TIMEOUT:?}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "acmekit-testkit: {what}\n--- pebble output ---\n{}--- challtestsrv output ---\n{}",
            self.pebble.log(),
            self.challtestsrv.log()
        );
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        self.pebble.stop();
        self.challtestsrv.stop();
        self.http01.shutdown();
        self.tls_alpn01.shutdown();
        if std::thread::panicking() {
            let log = self.pebble.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "acmekit-testkit: last lines of pebble's output:\n{}",
                tail.join("\n")
            );
        }
    }
}

impl fmt::Debug for Pebble {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pebble")
            .field("directory_url", &self.directory_url())
            .field("management_url", &self.management_url())
            .field("http_port", &self.http_port())
            .field("tls_port", &self.tls_port())
            .field("dns_port", &self.dns_port)
            .field("challtestsrv_url", &self.challtestsrv_url())
            .finish_non_exhaustive()
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}
