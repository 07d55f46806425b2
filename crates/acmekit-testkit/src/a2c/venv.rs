//! The Python virtual environment acme2certifier runs from: created once per
//! machine in the cargo target directory and reused by every test binary.
//!
//! It is built in a private temporary directory and renamed into place when
//! complete, so two test binaries creating it at once never see a half-made
//! one (the loser of the race throws its copy away). A venv's interpreter
//! finds its packages relative to itself, so the rename does not break it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

/// The acme2certifier release the kit runs (its notes: shared notes/acme2certifier.md).
pub(crate) const VERSION: &str = "0.46.3";

/// Set to a directory to keep the venv there instead of the target directory.
const VENV_ENV: &str = "ACMEKIT_A2C_VENV";

/// Written last into a finished venv.
const MARKER: &str = ".acmekit-testkit-complete";

const NO_PYTHON: &str = "acme2certifier needs python3 with the venv module and pip \
     (on Debian: apt-get install -y python3 python3-venv python3-pip), and PyPI \
     reachable the first time, to install it into a cached virtual environment";

/// The venv's interpreter, creating the venv first if needed.
///
/// # Panics
///
/// If python3 is missing or the installation fails (the message carries
/// pip's output).
pub(crate) fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = venv_dir();
        if !is_complete(&dir) {
            create(&dir);
        }
        dir.join("bin").join("python")
    })
}

/// Where the venv lives: `$ACMEKIT_A2C_VENV`, else
/// `<target dir>/acme2certifier-venv-<version>`.
fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(VENV_ENV) {
        return PathBuf::from(dir);
    }
    let target = match option_env!("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    };
    target.join(format!("acme2certifier-venv-{VERSION}"))
}

fn is_complete(dir: &Path) -> bool {
    dir.join(MARKER).is_file() && dir.join("bin").join("python").exists()
}

fn create(dir: &Path) {
    let python3 = crate::process::find_on_path("python3").unwrap_or_else(|| panic!("{NO_PYTHON}"));
    let parent = dir.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(parent)
        .unwrap_or_else(|e| panic!("acmekit-testkit: cannot create {}: {e}", parent.display()));
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let building = dir.with_extension(format!("tmp-{}-{nanos}", std::process::id()));
    let started = Instant::now();
    eprintln!(
        "acmekit-testkit: installing acme2certifier {VERSION} into {} (once per machine)",
        dir.display()
    );
    run(
        Command::new(&python3).args(["-m", "venv"]).arg(&building),
        "python3 -m venv",
        &building,
    );
    let pip_target = format!("acme2certifier=={VERSION}");
    run(
        Command::new(building.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &pip_target,
        ]),
        "pip install acme2certifier",
        &building,
    );
    std::fs::write(building.join(MARKER), VERSION).unwrap_or_else(|e| {
        panic!(
            "acmekit-testkit: cannot write to {}: {e}",
            building.display()
        )
    });
    if let Err(e) = std::fs::rename(&building, dir) {
        let _ = std::fs::remove_dir_all(&building);
        // Another test binary finished first: use its venv.
        if !is_complete(dir) {
            panic!(
                "acmekit-testkit: cannot move the acme2certifier venv to {}: {e}",
                dir.display()
            );
        }
    }
    eprintln!(
        "acmekit-testkit: acme2certifier installed in {:.1?}",
        started.elapsed()
    );
}

/// Runs a setup command; on failure removes `building` and panics with the
/// command's output.
fn run(command: &mut Command, what: &str, building: &Path) {
    let output: Output = command
        .output()
        .unwrap_or_else(|e| panic!("{NO_PYTHON}: cannot run {what}: {e}"));
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(building);
        panic!(
            "{NO_PYTHON}: {what} failed ({})\n--- stdout ---\n{}--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
