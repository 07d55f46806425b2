//! [`MemoryStore`]: nothing survives the process.

use acmekit::http::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Store;
use crate::error::StoreError;

/// Keeps everything in memory: every restart orders new certificates
/// (and creates a new account). For tests, and for processes that share a
/// clone of it. Clones share their contents.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    entries: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys stored so far, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let value = self.lock().get(key).cloned();
        Box::pin(async move { Ok(value) })
    }

    fn store<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.lock().insert(key.to_owned(), value.to_vec());
        Box::pin(async { Ok(()) })
    }
}
