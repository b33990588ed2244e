//! Read-only access to a log: an open ledger or a verified export bundle.
//! Every read verb works on either.

use std::fs;
use std::path::{Path, PathBuf};

use rankproof_ledger::{
    bundle, Entry, Hash, Ledger, Storage, StoredBlob, VerifierKey, VerifyReport,
};

use crate::error::{Result, WorkflowError};

/// A log's entries and blobs.
pub trait LogSource {
    /// All entries, in log order.
    fn read_entries(&self) -> Result<Vec<Entry>>;
    /// A blob by hash; a missing blob or one that does not hash to its name
    /// is a finding.
    fn blob(&self, h: &Hash) -> Result<Vec<u8>>;
    /// A blob by hash, read now and opened (decompressed and checked) by
    /// [`Fetched::open`], which may run on another thread: several blobs
    /// are then opened side by side. The same findings as [`LogSource::blob`].
    fn fetch(&self, h: &Hash) -> Result<Fetched> {
        self.blob(h).map(|b| Fetched(Pending::Ready(b)))
    }
    /// The log key.
    fn log_key(&self) -> &VerifierKey;
}

/// A blob read from a log, to be opened.
#[derive(Debug)]
pub struct Fetched(Pending);

#[derive(Debug)]
enum Pending {
    /// Read and checked already.
    Ready(Vec<u8>),
    /// As the ledger stores it.
    Stored(StoredBlob),
}

impl Fetched {
    /// The blob's bytes, checked against its name.
    pub fn open(self) -> Result<Vec<u8>> {
        match self.0 {
            Pending::Ready(b) => Ok(b),
            Pending::Stored(s) => checked(&s.hash(), s.open()?),
        }
    }
}

/// `b` if it hashes to `h`.
fn checked(h: &Hash, b: Vec<u8>) -> Result<Vec<u8>> {
    if Hash::of(&b) == *h {
        Ok(b)
    } else {
        Err(WorkflowError::tampered(format!(
            "blob {} in the ledger does not hash to its name",
            h.to_hex()
        )))
    }
}

fn missing(h: &Hash) -> WorkflowError {
    WorkflowError::tampered(format!("blob {} is missing from the ledger", h.to_hex()))
}

impl<S: Storage> LogSource for Ledger<S> {
    fn read_entries(&self) -> Result<Vec<Entry>> {
        self.entries()
            .map(|e| e.map_err(WorkflowError::from))
            .collect()
    }

    fn blob(&self, h: &Hash) -> Result<Vec<u8>> {
        match Ledger::blob(self, h)? {
            Some(b) => checked(h, b),
            None => Err(missing(h)),
        }
    }

    fn fetch(&self, h: &Hash) -> Result<Fetched> {
        match self.stored_blob(h)? {
            Some(s) => Ok(Fetched(Pending::Stored(s))),
            None => Err(missing(h)),
        }
    }

    fn log_key(&self) -> &VerifierKey {
        Ledger::log_key(self)
    }
}

/// An exported audit bundle, verified when opened.
#[derive(Debug)]
pub struct BundleLog {
    dir: PathBuf,
    entries: Vec<Entry>,
    log_key: VerifierKey,
    report: VerifyReport,
}

impl BundleLog {
    /// Verify the bundle at `dir` under `log_key` (and, if given, against a
    /// trusted checkpoint) and read its entries.
    pub fn open(dir: &Path, log_key: &VerifierKey, trusted: Option<&[u8]>) -> Result<BundleLog> {
        let report = bundle::verify_bundle(dir, log_key, trusted).map_err(|source| {
            WorkflowError::Bundle {
                dir: dir.display().to_string(),
                source,
            }
        })?;
        let path = dir.join("entries.jsonl");
        let data = fs::read(&path).map_err(|source| WorkflowError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let entries = bundle::split_lines(&data)
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Entry::parse(l).map_err(|e| {
                    WorkflowError::tampered(format!("{} line {}: {e}", path.display(), i + 1))
                })
            })
            .collect::<Result<Vec<Entry>>>()?;
        Ok(BundleLog {
            dir: dir.to_path_buf(),
            entries,
            log_key: log_key.clone(),
            report,
        })
    }

    /// What verifying the bundle established.
    pub fn report(&self) -> &VerifyReport {
        &self.report
    }
}

impl LogSource for BundleLog {
    fn read_entries(&self) -> Result<Vec<Entry>> {
        Ok(self.entries.clone())
    }

    fn blob(&self, h: &Hash) -> Result<Vec<u8>> {
        let path = self.dir.join("blobs").join(h.to_hex());
        let data = fs::read(&path).map_err(|source| WorkflowError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if Hash::of(&data) != *h {
            return Err(WorkflowError::tampered(format!(
                "{} does not hash to its name",
                path.display()
            )));
        }
        Ok(data)
    }

    fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }
}

impl<T: LogSource + ?Sized> LogSource for Box<T> {
    fn read_entries(&self) -> Result<Vec<Entry>> {
        (**self).read_entries()
    }

    fn blob(&self, h: &Hash) -> Result<Vec<u8>> {
        (**self).blob(h)
    }

    fn fetch(&self, h: &Hash) -> Result<Fetched> {
        (**self).fetch(h)
    }

    fn log_key(&self) -> &VerifierKey {
        (**self).log_key()
    }
}
