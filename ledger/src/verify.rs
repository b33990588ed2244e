//! Whole-log verification, shared by the stored ledger and export bundles.
//!
//! Entries are checked in order: canonical bytes, seq, prev link, signer's
//! role as of that position, blobs; signatures are collected in chunks and
//! each is checked with strict Ed25519 verification (in parallel within a
//! chunk). The first problem by position is reported.

use std::sync::atomic::{AtomicBool, Ordering};

use ed25519_dalek::{Signature, VerifyingKey};

use crate::entry::{Entry, EntryError};
use crate::hash::Hash;
use crate::keys::VerifierKey;
use crate::merkle::{empty_root, CompactRange};
use crate::note::{NoteError, SignedCheckpoint};
use crate::registry::{AuthError, Registry};

const BATCH: usize = 1024;

/// What is wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    /// Not a well-formed canonical entry.
    #[error(transparent)]
    Malformed(#[from] EntryError),
    /// The `seq` field is not the entry's position.
    #[error(
        "seq field is {found}, expected {expected} (entries dropped, duplicated or reordered?)"
    )]
    WrongSeq {
        /// The position.
        expected: u64,
        /// The field.
        found: u64,
    },
    /// `prev` is not the previous entry's leaf hash.
    #[error("prev does not match the previous entry's leaf hash {expected}")]
    BrokenLink {
        /// The previous leaf hash.
        expected: Hash,
    },
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The signer was not allowed to sign this entry here.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// The genesis names a different log key than the one trusted.
    #[error("genesis log key {found} is not the expected log key {expected}")]
    WrongLogKey {
        /// The trusted key.
        expected: String,
        /// The key in genesis.
        found: String,
    },
    /// A referenced blob is missing.
    #[error("blob {0} is missing")]
    MissingBlob(Hash),
    /// A blob's contents do not hash to its name.
    #[error("blob {0} does not match its hash")]
    BlobMismatch(Hash),
    /// The entry's line in a bundle does not end with a newline (the file
    /// was cut short, or written by something else).
    #[error("its line in entries.jsonl does not end with a newline (file cut short?)")]
    Unterminated,
}

/// Why verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The first bad entry.
    #[error("entry {seq}: {problem}")]
    Entry {
        /// Its position.
        seq: u64,
        /// What is wrong.
        problem: EntryProblem,
    },
    /// The log has no entries.
    #[error("the log is empty")]
    Empty,
    /// The signed checkpoint is malformed or not signed by the log key.
    #[error("checkpoint: {0}")]
    Checkpoint(NoteError),
    /// The checkpoint's size differs from the number of entries.
    #[error("checkpoint covers {checkpoint} entries but the log has {entries} (entries dropped or added?)")]
    SizeMismatch {
        /// Size in the checkpoint.
        checkpoint: u64,
        /// Entries present.
        entries: u64,
    },
    /// The entries' root differs from the signed checkpoint's.
    #[error("root of the {size} entries does not match the signed checkpoint")]
    RootMismatch {
        /// Tree size.
        size: u64,
    },
    /// The trusted checkpoint is malformed or not signed by the log key.
    #[error("trusted checkpoint: {0}")]
    Trusted(NoteError),
    /// The log is shorter than the trusted checkpoint.
    #[error(
        "rollback: the trusted checkpoint covers {trusted} entries but the log has only {size}"
    )]
    Rollback {
        /// Trusted size.
        trusted: u64,
        /// Current size.
        size: u64,
    },
    /// The first entries no longer hash to the trusted root.
    #[error("history rewritten: the first {trusted} entries do not match the trusted checkpoint")]
    Rewritten {
        /// Trusted size.
        trusted: u64,
    },
    /// The bundle's `keys` file does not list what the log registers.
    #[error("keys file does not match the keys registered by the log")]
    KeysFile,
    /// Reading entries or blobs failed for a reason outside the data (an
    /// I/O error, permissions): the environment failed, nothing was shown
    /// to be wrong.
    #[error("read failed: {0}")]
    Read(String),
    /// Data verification needs is missing or unusable (an entry missing from
    /// the store, a bundle file that is a link, a device or too large, a file
    /// in `blobs/` that no entry references).
    #[error("{0}")]
    Damaged(String),
    /// A stored proof structure (tree node or leaf-hash tile) is missing or
    /// disagrees with the entries: proofs served from it would be wrong.
    #[error("stored {what} is {problem}; the entries themselves verify")]
    Store {
        /// Which structure, e.g. `tree node (level 3, index 5)`.
        what: String,
        /// `missing` or `wrong`.
        problem: &'static str,
    },
}

impl VerifyError {
    /// Whether this says the data is wrong (tampering or damage: exit 1 for
    /// an auditor), as opposed to the environment failing to read it.
    pub fn is_finding(&self) -> bool {
        !matches!(self, VerifyError::Read(_))
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The log's origin.
    pub origin: String,
    /// The log key.
    pub log_key: VerifierKey,
    /// Number of entries.
    pub size: u64,
    /// The verified root.
    pub root: Hash,
    /// Number of blob references checked.
    pub n_blob_refs: u64,
    /// Size of the trusted checkpoint the log was shown to extend.
    pub trusted_size: Option<u64>,
    /// The registry at the end of the log.
    pub registry: Registry,
}

struct PendingSig {
    seq: u64,
    msg: Vec<u8>,
    sig: Signature,
    key: VerifyingKey,
}

/// Check pending signatures with strict Ed25519 verification, every one of
/// them, in parallel; the seq of the first (smallest) bad one, if any.
///
/// Batch verification is not used: it accepts signatures strict
/// verification rejects (a small-order or non-canonically encoded `R`, an
/// `R` with a torsion component), and whether it does depends on random
/// coefficients drawn from the whole batch, so appending an honest entry
/// could flip the verdict. The verdict here is the conjunction of
/// `verify_strict` over the entries and so depends on nothing else
/// (thread count, batch boundaries or build).
fn flush(pending: &mut Vec<PendingSig>) -> Option<u64> {
    if pending.is_empty() {
        return None;
    }
    use rayon::prelude::*;
    let bad = pending
        .par_iter()
        .filter(|p| p.key.verify_strict(&p.msg, &p.sig).is_err())
        .map(|p| p.seq)
        .min();
    pending.clear();
    bad
}

fn entry_err(seq: u64, problem: impl Into<EntryProblem>) -> VerifyError {
    VerifyError::Entry {
        seq,
        problem: problem.into(),
    }
}

struct State {
    /// The leaf hashes, when the caller wants them back.
    leaves: Option<Vec<Hash>>,
    registry: Option<Registry>,
    range: CompactRange,
    prev: Hash,
    n_blob_refs: u64,
}

impl State {
    fn check<B>(
        &mut self,
        seq: u64,
        bytes: &[u8],
        blob: &B,
        log_key: Option<&VerifierKey>,
    ) -> Result<PendingSig, VerifyError>
    where
        B: Fn(&Hash) -> Result<Option<Vec<u8>>, VerifyError> + ?Sized,
    {
        let e = Entry::parse(bytes).map_err(|err| entry_err(seq, err))?;
        if e.seq() != seq {
            return Err(entry_err(
                seq,
                EntryProblem::WrongSeq {
                    expected: seq,
                    found: e.seq(),
                },
            ));
        }
        if *e.prev() != self.prev {
            return Err(entry_err(
                seq,
                EntryProblem::BrokenLink {
                    expected: self.prev,
                },
            ));
        }
        let key = match self.registry.as_mut() {
            None => {
                let r = Registry::from_genesis(e.unsigned()).map_err(|err| entry_err(seq, err))?;
                if let Some(k) = log_key {
                    if r.log_key() != k {
                        return Err(entry_err(
                            seq,
                            EntryProblem::WrongLogKey {
                                expected: k.to_string(),
                                found: r.log_key().to_string(),
                            },
                        ));
                    }
                }
                let key = r.log_key().clone();
                self.registry = Some(r);
                key
            }
            Some(r) => r.admit(e.unsigned()).map_err(|err| entry_err(seq, err))?,
        };
        for h in e.blobs() {
            let data = blob(h)?.ok_or_else(|| entry_err(seq, EntryProblem::MissingBlob(*h)))?;
            if Hash::of(&data) != *h {
                return Err(entry_err(seq, EntryProblem::BlobMismatch(*h)));
            }
            self.n_blob_refs += 1;
        }
        self.prev = e.leaf_hash();
        self.range.append(e.leaf_hash());
        if let Some(l) = self.leaves.as_mut() {
            l.push(e.leaf_hash());
        }
        Ok(PendingSig {
            seq,
            msg: e.signing_bytes().map_err(|err| entry_err(seq, err))?,
            sig: *e.signature(),
            key: *key.public(),
        })
    }
}

/// Verify a whole log given as entry bytes in order, a blob lookup, the
/// latest signed checkpoint, optionally the expected log key (otherwise the
/// genesis entry's key is used) and optionally an older trusted checkpoint.
pub fn verify_log<I, B>(
    entries: I,
    blob: &B,
    checkpoint: &[u8],
    log_key: Option<&VerifierKey>,
    trusted: Option<&[u8]>,
) -> Result<VerifyReport, VerifyError>
where
    I: IntoIterator<Item = Result<Vec<u8>, VerifyError>>,
    B: Fn(&Hash) -> Result<Option<Vec<u8>>, VerifyError> + ?Sized,
{
    verify_log_leaves(entries, blob, checkpoint, log_key, trusted, false).map(|(r, _)| r)
}

/// [`verify_log`], also returning the verified leaf hashes if asked.
pub(crate) fn verify_log_leaves<I, B>(
    entries: I,
    blob: &B,
    checkpoint: &[u8],
    log_key: Option<&VerifierKey>,
    trusted: Option<&[u8]>,
    want_leaves: bool,
) -> Result<(VerifyReport, Vec<Hash>), VerifyError>
where
    I: IntoIterator<Item = Result<Vec<u8>, VerifyError>>,
    B: Fn(&Hash) -> Result<Option<Vec<u8>>, VerifyError> + ?Sized,
{
    let mut st = State {
        leaves: want_leaves.then(Vec::new),
        registry: None,
        range: CompactRange::new(),
        prev: Hash::ZERO,
        n_blob_refs: 0,
    };
    // With an expected log key the trusted checkpoint is opened at once;
    // otherwise as soon as the genesis entry names the log key.
    let mut trusted_raw = trusted;
    let mut trusted_state: Option<(SignedCheckpoint, Option<Hash>)> = None;
    if let (Some(t), Some(k)) = (trusted, log_key) {
        let c = SignedCheckpoint::open(t, k).map_err(VerifyError::Trusted)?;
        trusted_state = Some((c, None));
        trusted_raw = None;
    }
    // Entries are checked in order on this thread; their signatures go in
    // chunks to a worker that verifies each chunk strictly in parallel, so
    // parsing and signature checks overlap. A signature is sent only after
    // its entry passed every other check, so the smallest bad signature
    // always precedes any later structural problem: the first problem by
    // position is reported whatever the timing.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<PendingSig>>(2);
    let found_bad = AtomicBool::new(false);
    let (outcome, bad) = std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            let mut bad: Option<u64> = None;
            for mut chunk in rx {
                if bad.is_none() {
                    bad = flush(&mut chunk);
                    if bad.is_some() {
                        found_bad.store(true, Ordering::Relaxed);
                    }
                }
            }
            bad
        });
        let mut pending: Vec<PendingSig> = Vec::with_capacity(BATCH);
        let mut seq = 0u64;
        let outcome = (|| -> Result<(), VerifyError> {
            for item in entries {
                if found_bad.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let p = item.and_then(|bytes| st.check(seq, &bytes, blob, log_key))?;
                pending.push(p);
                if pending.len() >= BATCH {
                    let chunk = std::mem::replace(&mut pending, Vec::with_capacity(BATCH));
                    // The worker only stops receiving by panicking.
                    if tx.send(chunk).is_err() {
                        return Err(VerifyError::Read("signature worker stopped".into()));
                    }
                }
                seq += 1;
                if let (Some(t), Some(r)) = (trusted_raw, st.registry.as_ref()) {
                    let c = SignedCheckpoint::open(t, r.log_key()).map_err(VerifyError::Trusted)?;
                    trusted_state = Some((c, None));
                    trusted_raw = None;
                }
                if let Some((c, root)) = trusted_state.as_mut() {
                    if c.checkpoint().size == seq {
                        *root = Some(st.range.root());
                    }
                }
            }
            Ok(())
        })();
        if !pending.is_empty() {
            let _ = tx.send(pending);
        }
        drop(tx);
        let bad = worker
            .join()
            .map_err(|_| VerifyError::Read("signature worker panicked".into()));
        (outcome, bad)
    });
    if let Some(bad) = bad? {
        return Err(entry_err(bad, EntryProblem::BadSignature));
    }
    outcome?;
    let State {
        leaves,
        registry,
        range,
        n_blob_refs,
        ..
    } = st;
    let registry = registry.ok_or(VerifyError::Empty)?;
    let log_key = registry.log_key().clone();
    let cp = SignedCheckpoint::open(checkpoint, &log_key).map_err(VerifyError::Checkpoint)?;
    let size = range.size();
    if cp.checkpoint().size != size {
        return Err(VerifyError::SizeMismatch {
            checkpoint: cp.checkpoint().size,
            entries: size,
        });
    }
    if cp.checkpoint().root != range.root() {
        return Err(VerifyError::RootMismatch { size });
    }
    let mut trusted_size = None;
    if let Some((c, root)) = trusted_state {
        let t = c.checkpoint();
        if t.size > size {
            return Err(VerifyError::Rollback {
                trusted: t.size,
                size,
            });
        }
        let ok = if t.size == 0 {
            t.root == empty_root()
        } else {
            root == Some(t.root)
        };
        if !ok {
            return Err(VerifyError::Rewritten { trusted: t.size });
        }
        trusted_size = Some(t.size);
    }
    Ok((
        VerifyReport {
            origin: registry.origin().to_owned(),
            log_key,
            size,
            root: range.root(),
            n_blob_refs,
            trusted_size,
            registry,
        },
        leaves.unwrap_or_default(),
    ))
}
