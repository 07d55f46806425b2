//! A real BIND 9 (`named`) for RFC 2136 tests: authoritative for one
//! primary zone, [`Bind::ZONE`], which accepts dynamic updates signed with
//! a freshly generated TSIG key (hmac-sha256).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{find_on_path, ServerProcess};
use crate::tempdir::TempDir;

/// Panic message when BIND is missing.
pub(crate) const NOT_INSTALLED: &str =
    "BIND 9 is not installed: install the Debian package `bind9` \
     (apt-get install -y bind9), which provides /usr/sbin/named and /usr/sbin/tsig-keygen, \
     or run `cargo xtask test`, which installs it";
/// How long `named` gets to load its zone and open its port.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// The name of the generated TSIG key.
const KEY_NAME: &str = "acmekit-test-key";

/// A running `named` on a free `127.0.0.1` port (UDP and TCP).
///
/// Dropping it stops `named` and removes its temporary directory; it also
/// dies when the test binary exits without dropping it.
pub struct Bind {
    process: ServerProcess,
    port: u16,
    key_file: PathBuf,
    secret: String,
    started_in: Duration,
    dir: TempDir,
}

impl Bind {
    /// The zone `named` serves and lets the key update.
    pub const ZONE: &'static str = "acmekit.test";

    /// A TXT record the zone always holds: (name, value).
    pub const FIXED_TXT: (&'static str, &'static str) =
        ("fixed-txt.acmekit.test", "acmekit testkit");

    /// Generates a key, writes the configuration and zone, starts `named`
    /// and waits until it has loaded the zone.
    ///
    /// # Panics
    ///
    /// If BIND is not installed (Debian package `bind9`), or `named` fails
    /// to start (the message then carries its output).
    pub fn start() -> Bind {
        let started = Instant::now();
        let named = program("named");
        let keygen = program("tsig-keygen");
        let dir = TempDir::create();
        let port = crate::ports::free_udp_tcp_port();

        let key = Command::new(&keygen)
            .args(["-a", "hmac-sha256", KEY_NAME])
            .output()
            .unwrap_or_else(|e| panic!("acmekit-testkit: cannot run {}: {e}", keygen.display()));
        assert!(
            key.status.success(),
            "acmekit-testkit: tsig-keygen failed: {}",
            String::from_utf8_lossy(&key.stderr)
        );
        let key = String::from_utf8_lossy(&key.stdout).into_owned();
        let secret = key
            .split_once("secret \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(secret, _)| secret.to_owned())
            .unwrap_or_else(|| {
                panic!("acmekit-testkit: no secret in tsig-keygen's output {key:?}")
            });
        let key_file = dir.write("tsig.key", &key);
        dir.write("zone.db", &zone_file());
        let config = config(dir.path(), port, &key_file);
        let config_path = dir.write("named.conf", &config);

        let process = ServerProcess::spawn(
            &named.to_string_lossy(),
            &[
                "-g".to_owned(), // foreground, log to stderr
                "-4".to_owned(), // IPv4 only
                "-n".to_owned(), // one worker thread: the machines are small
                "1".to_owned(),
                "-c".to_owned(),
                config_path.to_string_lossy().into_owned(),
            ],
            &[],
            Some(dir.path()),
        );
        let mut bind = Bind {
            process,
            port,
            key_file,
            secret,
            started_in: Duration::ZERO,
            dir,
        };
        bind.wait_ready();
        bind.started_in = started.elapsed();
        bind
    }

    /// `127.0.0.1:PORT`, for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The port `named` listens on (UDP and TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The key file, in BIND's format as `tsig-keygen` wrote it.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }

    /// The TSIG key's name.
    pub fn key_name(&self) -> &str {
        KEY_NAME
    }

    /// The TSIG key's secret (base64), as in [`Bind::key_file`].
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The directory holding the configuration, zone and journal.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How long [`Bind::start`] took (key generation to zone loaded).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The values of the TXT records at `name`, asked of `named` over UDP
    /// (empty when there are none).
    ///
    /// # Panics
    ///
    /// If `named` does not answer or answers with an error.
    pub fn txt(&self, name: &str) -> Vec<String> {
        crate::dns::query_txt(self.addr(), name)
            .unwrap_or_else(|e| panic!("acmekit-testkit: TXT query for {name} failed: {e}"))
    }

    /// Everything `named` printed so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Waits for "running" (zone loaded) and an open TCP port.
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let running = self.log().lines().any(|l| l.ends_with(" running"));
            if running
                && TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
            {
                return;
            }
            if let Some(status) = self.process.exit_status() {
                self.fail(&format!("named exited during startup ({status})"));
            }
            if Instant::now() >= deadline {
                self.fail(&format!("named was not ready within {READY_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "acmekit-testkit: {what}\n--- named output ---\n{}",
            self.log()
        );
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.process.stop();
        if std::thread::panicking() {
            eprintln!("acmekit-testkit: named's output:\n{}", self.log());
        }
    }
}

impl fmt::Debug for Bind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bind")
            .field("addr", &self.addr())
            .field("zone", &Bind::ZONE)
            .field("key_name", &KEY_NAME)
            .finish_non_exhaustive()
    }
}

/// `name` on `$PATH` or in /usr/sbin (not always on a user's `$PATH`).
fn program(name: &str) -> PathBuf {
    find_on_path(name)
        .or_else(|| {
            let p = Path::new("/usr/sbin").join(name);
            p.is_file().then_some(p)
        })
        .unwrap_or_else(|| panic!("{NOT_INSTALLED}"))
}

/// `named.conf`: everything inside `dir`, only 127.0.0.1:`port`, no
/// recursion, no control channel, the zone updatable with the key.
fn config(dir: &Path, port: u16, key_file: &Path) -> String {
    let d = dir.display();
    format!(
        r#"include "{key}";
options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
zone "{zone}" {{
    type primary;
    file "{d}/zone.db";
    allow-update {{ key "{KEY_NAME}"; }};
}};
"#,
        key = key_file.display(),
        zone = Bind::ZONE,
    )
}

/// The zone: SOA, NS, every name resolving to 127.0.0.1, and one TXT
/// record ([`Bind::FIXED_TXT`]) to check TXT queries against.
fn zone_file() -> String {
    let z = Bind::ZONE;
    format!(
        "$TTL 60\n\
         @ IN SOA ns.{z}. hostmaster.{z}. 1 3600 600 86400 60\n\
         @ IN NS ns.{z}.\n\
         ns IN A 127.0.0.1\n\
         * IN A 127.0.0.1\n\
         {fixed}. IN TXT \"acmekit\" \" testkit\"\n",
        fixed = Bind::FIXED_TXT.0,
    )
}
