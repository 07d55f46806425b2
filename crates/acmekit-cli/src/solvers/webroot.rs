//! http-01 through an existing web server: files under
//! `DIR/.well-known/acme-challenge/`.

use acmekit::Http01;
use std::io::ErrorKind;
use std::path::PathBuf;

/// Writes challenge files into a web server's document root.
pub struct Webroot {
    dir: PathBuf,
}

impl Webroot {
    /// Uses `dir` as the document root.
    pub fn new(dir: PathBuf) -> Self {
        Webroot { dir }
    }

    fn path(&self, h: &Http01) -> PathBuf {
        // The token was checked against the base64url alphabet by acmekit,
        // so it cannot climb out of the directory.
        self.dir.join(".well-known/acme-challenge").join(&h.token)
    }

    /// Writes the key authorization (world-readable: the web server reads it).
    pub fn present(&self, h: &Http01) -> Result<(), String> {
        let path = self.path(h);
        let parent = path.parent().expect("has a parent");
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let tmp = parent.join(format!(".{}.tmp", h.token));
        std::fs::write(&tmp, &h.body)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// Removes the file (absent is fine).
    pub fn cleanup(&self, h: &Http01) -> Result<(), String> {
        match std::fs::remove_file(self.path(h)) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(format!("cannot remove {}: {e}", self.path(h).display()))
            }
            _ => Ok(()),
        }
    }
}
