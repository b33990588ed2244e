//! Export bundles: a directory an auditor verifies with no database.
//!
//! ```text
//! DIR/checkpoint      the latest signed checkpoint (C2SP signed note)
//! DIR/entries.jsonl   one entry per line: its exact JCS bytes, then "\n"
//! DIR/blobs/<hex>     every referenced blob, named by its SHA-256
//! DIR/keys            the log key and every registered key with its roles
//! ```

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::Path;

use crate::files::FileError;
use crate::hash::Hash;
use crate::keys::VerifierKey;
use crate::ledger::{Ledger, LedgerError, MAX_BLOB_BYTES};
use crate::registry::Registry;
use crate::storage::Storage;
use crate::verify::{self, VerifyError, VerifyReport};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The output directory exists and is not empty.
    #[error("{0} exists and is not empty; choose a new directory")]
    NotEmpty(String),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Entries written.
    pub n_entries: u64,
    /// Distinct blobs written.
    pub n_blobs: u64,
}

/// The `keys` file text for a registry: `log <vkey>` then one
/// `key <vkey> <role>@<seq>... [revoked@<seq>]` line per registered key, in
/// byte order of the key handle.
pub fn keys_text(registry: &Registry) -> String {
    let mut s = format!("log {}\n", registry.log_key());
    for rec in registry.keys().values() {
        s.push_str(&format!("key {}", rec.key));
        for (role, seq) in &rec.roles {
            s.push_str(&format!(" {role}@{seq}"));
        }
        if let Some(r) = rec.revoked_at {
            s.push_str(&format!(" revoked@{r}"));
        }
        s.push('\n');
    }
    s
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), ExportError> {
    fs::write(path, data).map_err(io_err(path))
}

/// Write the bundle of `ledger` into `dir` (created; must be new or empty).
pub fn export<S: Storage>(ledger: &Ledger<S>, dir: &Path) -> Result<ExportSummary, ExportError> {
    if dir.exists() {
        let mut it = fs::read_dir(dir).map_err(io_err(dir))?;
        if it.next().is_some() {
            return Err(ExportError::NotEmpty(dir.display().to_string()));
        }
    }
    let blobs_dir = dir.join("blobs");
    fs::create_dir_all(&blobs_dir).map_err(io_err(&blobs_dir))?;
    let entries_path = dir.join("entries.jsonl");
    let file = fs::File::create(&entries_path).map_err(io_err(&entries_path))?;
    let mut w = std::io::BufWriter::new(file);
    let mut n_blobs = 0u64;
    for seq in 0..ledger.len() {
        let bytes = ledger.entry_bytes(seq)?;
        w.write_all(&bytes).map_err(io_err(&entries_path))?;
        w.write_all(b"\n").map_err(io_err(&entries_path))?;
        let e = crate::entry::Entry::parse(&bytes).map_err(LedgerError::from)?;
        for h in e.blobs() {
            let path = blobs_dir.join(h.to_hex());
            if path.exists() {
                continue;
            }
            let data = ledger
                .blob(h)?
                .ok_or_else(|| LedgerError::Corrupt(format!("blob {h} missing")))?;
            write_file(&path, &data)?;
            n_blobs += 1;
        }
    }
    w.flush().map_err(io_err(&entries_path))?;
    write_file(
        &dir.join("checkpoint"),
        ledger.checkpoint().to_text().as_bytes(),
    )?;
    write_file(&dir.join("keys"), keys_text(ledger.registry()).as_bytes())?;
    Ok(ExportSummary {
        n_entries: ledger.len(),
        n_blobs,
    })
}

/// Largest `entries.jsonl` a bundle verification reads.
pub const MAX_ENTRIES_FILE_BYTES: u64 = 4 << 30;
/// Largest `checkpoint` file (a signed note with cosignatures).
pub const MAX_CHECKPOINT_BYTES: u64 = 1 << 20;
/// Largest `keys` file.
pub const MAX_KEYS_FILE_BYTES: u64 = 64 << 20;

fn read(path: &Path, max: u64) -> Result<Vec<u8>, VerifyError> {
    crate::files::read_regular_file(path, max).map_err(file_problem)
}

fn file_problem(e: FileError) -> VerifyError {
    if e.is_finding() {
        VerifyError::Damaged(e.to_string())
    } else {
        VerifyError::Read(e.to_string())
    }
}

/// Every file in `blobs/` must be a regular file named by the hex SHA-256
/// of a blob some entry references (checked after the entries, so the
/// missing and damaged blobs are named first).
fn check_blobs_dir(blobs_dir: &Path, referenced: &BTreeSet<Hash>) -> Result<(), VerifyError> {
    let damaged = |why: String| VerifyError::Damaged(why);
    let shown = blobs_dir.display();
    match fs::symlink_metadata(blobs_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if referenced.is_empty() {
                Ok(())
            } else {
                Err(damaged(format!("{shown} is missing")))
            };
        }
        Err(e) => return Err(VerifyError::Read(format!("{shown}: {e}"))),
        Ok(m) if !m.file_type().is_dir() => {
            return Err(damaged(format!(
                "{shown} is {}, not a directory",
                crate::files::describe(m.file_type())
            )))
        }
        Ok(_) => {}
    }
    let it = fs::read_dir(blobs_dir).map_err(|e| VerifyError::Read(format!("{shown}: {e}")))?;
    for item in it {
        let item = item.map_err(|e| VerifyError::Read(format!("{shown}: {e}")))?;
        let name = item.file_name();
        let path = item.path();
        let t = item
            .file_type()
            .map_err(|e| VerifyError::Read(format!("{}: {e}", path.display())))?;
        if !t.is_file() {
            return Err(damaged(format!(
                "{} is {}; blobs/ holds only regular files",
                path.display(),
                crate::files::describe(t)
            )));
        }
        let hash = name.to_str().and_then(Hash::from_hex).ok_or_else(|| {
            damaged(format!(
                "{} is not named by a blob hash (64 lowercase hex digits); remove it",
                path.display()
            ))
        })?;
        if !referenced.contains(&hash) {
            return Err(damaged(format!(
                "{} is not referenced by any entry; remove it",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Split `entries.jsonl` into lines; each line must end with "\n".
pub fn split_lines(data: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = data.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    // A final "\n" leaves one empty tail; a missing final "\n" leaves a
    // partial last line, which still parses as an entry and is checked.
    if data.ends_with(b"\n") {
        lines.pop();
    }
    lines
}

/// Verify a bundle directory against the log's public key (and optionally
/// an older trusted checkpoint). Uses only the files.
pub fn verify_bundle(
    dir: &Path,
    log_key: &VerifierKey,
    trusted: Option<&[u8]>,
) -> Result<VerifyReport, VerifyError> {
    let data = read(&dir.join("entries.jsonl"), MAX_ENTRIES_FILE_BYTES)?;
    let checkpoint = read(&dir.join("checkpoint"), MAX_CHECKPOINT_BYTES)?;
    let keys = read(&dir.join("keys"), MAX_KEYS_FILE_BYTES)?;
    let blobs_dir = dir.join("blobs");
    let referenced = RefCell::new(BTreeSet::new());
    let blob = |h: &Hash| -> Result<Option<Vec<u8>>, VerifyError> {
        referenced.borrow_mut().insert(*h);
        let path = blobs_dir.join(h.to_hex());
        match crate::files::read_regular_file(&path, MAX_BLOB_BYTES) {
            Ok(d) => Ok(Some(d)),
            Err(FileError::NotFound { .. }) => Ok(None),
            Err(e) => Err(file_problem(e)),
        }
    };
    let lines = split_lines(&data);
    let report = verify::verify_log(
        lines.into_iter().map(Ok),
        &blob,
        &checkpoint,
        Some(log_key),
        trusted,
    )?;
    // Every line ends with "\n" (FORMAT.md §7). A last line without one is
    // checked as an entry above (a cut inside it is named there); a whole
    // entry whose newline was cut off is still a damaged file.
    if !data.ends_with(b"\n") {
        return Err(VerifyError::Entry {
            seq: report.size - 1,
            problem: verify::EntryProblem::Unterminated,
        });
    }
    if keys != keys_text(&report.registry).as_bytes() {
        return Err(VerifyError::KeysFile);
    }
    check_blobs_dir(&blobs_dir, &referenced.borrow())?;
    Ok(report)
}
