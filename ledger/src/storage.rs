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

    /// The values of the keys `prefix ‖ i` (i as u64 big-endian) for `i` in
    /// `from..to`, in order, `None` where a key is absent. The default reads
    /// them one `get` at a time; a store with ordered iteration does better.
    fn get_seq_range(
        &self,
        prefix: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        (from..to).map(|i| self.get(&seq_key(prefix, i))).collect()
    }
}

/// `prefix ‖ i` (u64 big-endian).
pub(crate) fn seq_key(prefix: u8, i: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(prefix);
    k.extend_from_slice(&i.to_be_bytes());
    k
}

/// Place the `(key, value)` pairs of an ordered scan of `prefix ‖ from` ..
/// `prefix ‖ to` into their slots.
fn place(
    prefix: u8,
    from: u64,
    to: u64,
    pairs: impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StorageError>>,
) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
    let n = usize::try_from(to.saturating_sub(from))
        .map_err(|_| StorageError::Io("range too large".into()))?;
    let mut out: Vec<Option<Vec<u8>>> = vec![None; n];
    for pair in pairs {
        let (k, v) = pair?;
        let i = match k.split_first() {
            Some((&p, rest)) if p == prefix && rest.len() == 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(rest);
                u64::from_be_bytes(b)
            }
            _ => continue,
        };
        if let Some(slot) = i
            .checked_sub(from)
            .and_then(|d| usize::try_from(d).ok())
            .and_then(|d| out.get_mut(d))
        {
            *slot = Some(v);
        }
    }
    Ok(out)
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

    fn get_seq_range(
        &self,
        prefix: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let m = self.lock()?;
        let pairs = m
            .range(seq_key(prefix, from)..seq_key(prefix, to))
            .map(|(k, v)| Ok((k.clone(), v.clone())));
        place(prefix, from, to, pairs)
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

    fn get_seq_range(
        &self,
        prefix: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<Option<Vec<u8>>>, StorageError> {
        let pairs = self
            .db
            .range(seq_key(prefix, from)..seq_key(prefix, to))
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(sled_err));
        place(prefix, from, to, pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default (one get per key) and the two ordered scans agree,
    /// including absent keys and keys of other prefixes in between.
    #[test]
    fn seq_ranges_agree_with_point_reads() {
        struct Plain(MemStorage);
        impl Storage for Plain {
            fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
                self.0.get(key)
            }
            fn commit(&self, writes: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StorageError> {
                self.0.commit(writes)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let sled = SledStorage::open(&dir.path().join("db")).unwrap();
        let mem = MemStorage::new();
        let mut writes = Vec::new();
        for i in [0u64, 1, 2, 5, 255, 256, 257, 1000] {
            writes.push((seq_key(b'e', i), format!("entry {i}").into_bytes()));
            writes.push((seq_key(b'n', i), b"other".to_vec()));
        }
        writes.push((b"e-short".to_vec(), b"x".to_vec()));
        sled.commit(writes.clone()).unwrap();
        mem.commit(writes).unwrap();
        let plain = Plain(mem.clone());
        for (from, to) in [(0, 10), (1, 2), (3, 5), (250, 300), (999, 1001), (7, 7)] {
            let want = plain.get_seq_range(b'e', from, to).unwrap();
            assert_eq!(want.len() as u64, to - from);
            assert_eq!(mem.get_seq_range(b'e', from, to).unwrap(), want);
            assert_eq!(sled.get_seq_range(b'e', from, to).unwrap(), want);
        }
    }
}
