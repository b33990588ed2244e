//! `rankproof-ledger`: a signed, append-only ledger with an RFC 6962 Merkle
//! tree, C2SP checkpoints and offline verification.
//!
//! - [`jcs`]: RFC 8785 canonical JSON;
//! - [`keys`]: Ed25519 keys in C2SP signed-note form;
//! - [`entry`], [`registry`]: signed entries, kinds, roles and the key
//!   registry replayed from the log;
//! - [`merkle`]: pure RFC 6962/9162 tree functions (also for results trees);
//! - [`note`]: C2SP signed-note, tlog-checkpoint and tlog-proof;
//! - [`storage`], [`ledger`]: the stored log (sled or in memory);
//! - [`verify`], [`bundle`]: whole-log verification and audit bundles;
//! - [`receipt`]: staff receipts and salted results-tree leaves;
//! - [`files`]: reading user-named files (no links, FIFOs or devices, bounded);
//! - [`fuzzing`]: entry points for fuzzers and their regression tests.
//!
//! The byte-level formats are specified in `FORMAT.md`.
//!
//! ```
//! use rankproof_ledger::{Blob, Kind, Ledger, MemStorage, Role, SecretKey};
//!
//! let log = SecretKey::generate("example.org/ledger").unwrap();
//! let admin = SecretKey::generate("admin").unwrap();
//! let hr = SecretKey::generate("hr").unwrap();
//! let mut ledger =
//!     Ledger::create(MemStorage::new(), "example.org/ledger", &log, &[admin.verifier().clone()])
//!         .unwrap();
//! ledger.grant(hr.verifier(), Role::Hr, &admin).unwrap();
//! let mut body = serde_json::Map::new();
//! body.insert("name".into(), "marketing".into());
//! let added = ledger
//!     .append(Kind::RulesPublish, body, vec![Blob::new(b"package bytes".to_vec())], &hr)
//!     .unwrap();
//! assert_eq!(added.entry.seq(), 2);
//! let proof = ledger.tlog_proof(2, None).unwrap();
//! proof.verify(&added.entry.leaf_hash(), log.verifier()).unwrap();
//! assert_eq!(ledger.verify(None).unwrap().size, 3);
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod bundle;
pub mod entry;
pub mod files;
pub mod fuzzing;
pub mod hash;
pub mod jcs;
pub mod keys;
pub mod ledger;
pub mod merkle;
pub mod note;
pub mod receipt;
pub mod registry;
pub mod storage;
pub mod verify;

pub use entry::{Entry, EntryError, Kind, Role, UnsignedEntry, ENTRY_SIG_PREFIX, MAX_ENTRY_BYTES};
pub use files::{read_regular_file, FileError};
pub use hash::{leaf_hash, node_hash, Hash};
pub use keys::{KeyArgError, KeyError, KeyFile, KeyId, SecretKey, VerifierKey};
pub use ledger::{AppendedEntry, Blob, Ledger, LedgerError, NewEntry, StoredBlob};
pub use note::{Checkpoint, Note, NoteError, SignedCheckpoint, TlogProof};
pub use registry::{AuthError, KeyRecord, Registry};
pub use storage::{MemStorage, SledStorage, Storage, StorageError};
pub use verify::{EntryProblem, VerifyError, VerifyReport};
