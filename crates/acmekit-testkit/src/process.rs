//! A server process (pebble or challtestsrv) run under a small `sh` wrapper.
//!
//! The wrapper starts the server in the background and kills it as soon as
//! the wrapper's stdin reaches EOF. The kit holds the write end of that pipe:
//! dropping it (in `Drop`) or the test binary exiting for any reason (a
//! `static` Pebble is never dropped) closes it, so no server outlives the
//! tests. The wrapper also exits on its own when the server dies, which lets
//! the kit notice a server that failed to start.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `sh -c WRAPPER sh CLEANUP_DIR PROGRAM ARGS...`
///
/// - fd 3 keeps the kit's pipe; the server and the main shell get /dev/null.
/// - a watcher subshell blocks reading fd 3 and kills the server at EOF.
/// - the main shell waits for the server, then stops and reaps the watcher,
///   removes CLEANUP_DIR (if not empty) and exits with the server's status.
const WRAPPER: &str = r#"d=$1; shift
exec 3<&0 </dev/null
"$@" 3<&- &
p=$!
{ read dummy <&3; kill $p; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait $p 2>/dev/null
s=$?
kill $w 2>/dev/null
wait $w 2>/dev/null
if [ -n "$d" ]; then rm -rf "$d" 2>/dev/null; fi
exit $s
"#;

/// How long `stop` waits for the server to exit before killing the wrapper.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Panic message when the Pebble binaries are missing.
pub(crate) const NOT_INSTALLED: &str = "pebble is not installed: install the Debian package \
     `pebble` (apt-get install -y pebble), or run `cargo xtask test`, which installs it";

/// A running server, its wrapper and the captured output.
pub(crate) struct ServerProcess {
    name: String,
    child: Mutex<Child>,
    stdin: Mutex<Option<ChildStdin>>,
    log: Arc<Mutex<String>>,
    readers: Mutex<Vec<JoinHandle<()>>>,
}

impl ServerProcess {
    /// Spawns `program args` under the wrapper with extra `env`; `cleanup`
    /// is removed by the wrapper after the server exits.
    pub(crate) fn spawn(
        program: &str,
        args: &[String],
        env: &[(String, String)],
        cleanup: Option<&Path>,
    ) -> ServerProcess {
        let path = find_on_path(program).unwrap_or_else(|| panic!("{NOT_INSTALLED}"));
        let cleanup = cleanup
            .map(|p| p.as_os_str().to_owned())
            .unwrap_or_default();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("sh")
            .arg(cleanup)
            .arg(&path)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("acmekit-testkit: cannot start {program} via sh: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(capture(program, out, log.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(capture(program, err, log.clone()));
        }
        ServerProcess {
            name: program.to_owned(),
            stdin: Mutex::new(child.stdin.take()),
            child: Mutex::new(child),
            log,
            readers: Mutex::new(readers),
        }
    }

    /// Everything the server printed so far (stdout and stderr, by lines).
    pub(crate) fn log(&self) -> String {
        lock(&self.log).clone()
    }

    /// The exit status if the server (and so its wrapper) has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// Stops the server (closing the wrapper's stdin), reaps the wrapper and
    /// collects the remaining output. Idempotent.
    pub(crate) fn stop(&self) {
        drop(lock(&self.stdin).take());
        let mut child = lock(&self.child);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let exited = loop {
            match child.try_wait() {
                Ok(Some(_)) => break true,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) | Err(_) => break false,
            }
        };
        if exited {
            for reader in lock(&self.readers).drain(..) {
                let _ = reader.join();
            }
        } else {
            eprintln!(
                "acmekit-testkit: {} did not stop within {:?}; killing its wrapper",
                self.name, STOP_TIMEOUT
            );
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A reader thread appending each line of `stream` to `log`.
fn capture(
    program: &str,
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(format!("{program}-output"))
        .spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let mut log = lock(&log);
                        log.push_str(&String::from_utf8_lossy(&line));
                        if !log.ends_with('\n') {
                            log.push('\n');
                        }
                    }
                }
            }
        })
        .unwrap_or_else(|e| panic!("acmekit-testkit: cannot spawn a reader thread: {e}"))
}

/// The first executable file named `program` in `$PATH`.
pub(crate) fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Locks, ignoring poisoning (a panicking test must not hide the log).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
