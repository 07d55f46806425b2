//! [`DirStore`]: a directory on the local file system.

use acmekit::http::BoxFuture;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{key_segments, Store};
use crate::error::StoreError;

/// Files under a directory, one per key.
///
/// Every write goes to a temporary file in the same directory, is synced,
/// renamed over the old file, and the directory is synced: a crash leaves
/// the old value or the new one. Files are created with mode 0600 and
/// directories (the root included) with mode 0700, whatever the umask.
/// File I/O runs on tokio's blocking pool.
#[derive(Clone, Debug)]
pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    /// A store under `root`, created (mode 0700) on the first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let segments = key_segments(key).ok_or_else(|| format!("invalid store key {key:?}"))?;
        Ok(segments.iter().fold(self.root.clone(), |p, s| p.join(s)))
    }
}

impl Store for DirStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            blocking(move || match fs::read(&path) {
                Ok(data) => Ok(Some(data)),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read {}: {e}", path.display()).into()),
            })
            .await
        })
    }

    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let root = self.root.clone();
            let value = value.to_vec();
            blocking(move || write_atomic(&root, &path, &value)).await
        })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("the file store's blocking task failed: {e}"))?
}

/// Creates `dir` and its missing parents with mode 0700, and makes `dir`
/// and every directory between `root` and it exactly 0700.
fn private_dirs(root: &Path, dir: &Path) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut d = Some(dir);
    while let Some(current) = d {
        fs::set_permissions(current, fs::Permissions::from_mode(0o700))?;
        if current == root {
            break;
        }
        d = current.parent().filter(|p| p.starts_with(root));
    }
    Ok(())
}

/// Temp file + fsync + rename + fsync of the directory, mode 0600.
fn write_atomic(root: &Path, path: &Path, data: &[u8]) -> Result<(), StoreError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("{} is not a file path", path.display()).into());
    };
    let tmp = dir.join(format!(
        ".{}.tmp{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        private_dirs(root, dir)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // The umask can only narrow the mode at creation; make it exact.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("cannot write {}: {e}", path.display()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!(
            "acmekit-rustls-dirstore-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&root);
        root
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn round_trip_with_private_modes() {
        let root = temp_root("modes");
        let store = DirStore::new(root.join("cache"));
        assert_eq!(store.load("certificates/ca/a.pem").await.unwrap(), None);
        store.store("certificates/ca/a.pem", b"one").await.unwrap();
        store.store("certificates/ca/a.pem", b"two").await.unwrap();
        assert_eq!(
            store
                .load("certificates/ca/a.pem")
                .await
                .unwrap()
                .as_deref(),
            Some(&b"two"[..])
        );
        let file = root.join("cache/certificates/ca/a.pem");
        assert_eq!(mode(&file), 0o600);
        for d in ["cache", "cache/certificates", "cache/certificates/ca"] {
            assert_eq!(mode(&root.join(d)), 0o700, "{d}");
        }
        let leftovers = fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
        fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let store = DirStore::new(temp_root("escape"));
        for bad in ["../x", "a/../../x", "/etc/passwd", "a/.hidden"] {
            assert!(store.store(bad, b"x").await.is_err(), "{bad}");
            assert!(store.load(bad).await.is_err(), "{bad}");
        }
    }
}
