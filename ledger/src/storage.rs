//! Storage behind a small trait: point reads and one atomic, durable
//! multi-key commit. `SledStorage` in production, `MemStorage` for tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Another process holds the ledger's lock.
    #[error("ledger in use by another process ({0})")]
    InUse(PathBuf),
    /// An I/O or database error.
    #[error("storage error: {0}")]
    Io(String),
    /// The database reports its own files as corrupt.
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// Whether the stored data itself is wrong (rather than the environment
    /// failing to read it).
    pub fn is_finding(&self) -> bool {
        matches!(self, StorageError::Corrupt(_))
    }
}

fn sled_err(e: sled::Error) -> StorageError {
    match e {
        sled::Error::Corruption { .. } => StorageError::Corrupt(e.to_string()),
        e => StorageError::Io(e.to_string()),
    }
}

/// Key-value storage with atomic, durable batch commits.
pub trait Storage {
    /// Read one key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Write all `(key, value)` pairs atomically, and make them durable
    /// before returning `Ok`: after a crash either all or none are present.
    fn commit(&self, writes: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StorageError>;
}

/// In-memory storage. Clones share the same map (a "reopen" in tests).
type Map = BTreeMap<Vec<u8>, Vec<u8>>;

#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    map: Arc<Mutex<Map>>,
}

impl MemStorage {
    /// An empty store.
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Map>, StorageError> {
        self.map
            .lock()
            .map_err(|_| StorageError::Io("memory store poisoned".into()))
    }

    /// Overwrite one key directly (tests use this to simulate tampering).
    pub fn raw_put(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        self.lock()?.insert(key.to_vec(), value.to_vec());
        Ok(())
    }
}

impl Storage for MemStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.lock()?.get(key).cloned())
    }

    fn commit(&self, writes: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StorageError> {
        let mut m = self.lock()?;
        for (k, v) in writes {
            m.insert(k, v);
        }
        Ok(())
    }
}

/// sled-backed storage: one tree, one `apply_batch` per commit, then `flush`.
#[derive(Debug)]
pub struct SledStorage {
    db: sled::Db,
}

impl SledStorage {
    /// Open (or create) the database at `path`. A second process gets
    /// [`StorageError::InUse`].
    pub fn open(path: &Path) -> Result<SledStorage, StorageError> {
        // Every commit flushes explicitly, so no background flusher thread is
        // needed (it would also hold the lock briefly after a drop).
        match sled::Config::new().path(path).flush_every_ms(None).open() {
            Ok(db) => Ok(SledStorage { db }),
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.to_string().contains("could not acquire lock") =>
            {
                Err(StorageError::InUse(path.to_owned()))
            }
            Err(e) => Err(sled_err(e)),
        }
    }
}

impl Storage for SledStorage {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.db
            .get(key)
            .map(|v| v.map(|iv| iv.to_vec()))
            .map_err(sled_err)
    }

    fn commit(&self, writes: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StorageError> {
        let mut batch = sled::Batch::default();
        for (k, v) in writes {
            batch.insert(k, v);
        }
        self.db.apply_batch(batch).map_err(sled_err)?;
        self.db.flush().map_err(sled_err)?;
        Ok(())
    }
}
