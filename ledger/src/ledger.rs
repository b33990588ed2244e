//! The ledger: an append-only log of signed entries over [`Storage`].
//!
//! Storage layout (all in one keyspace):
//! - `e` ‖ seq (u64 BE) → entry JCS bytes;
//! - `b` ‖ sha256 (32 bytes) → blob bytes;
//! - `n` ‖ level (u8) ‖ index (u64 BE) → 32-byte hash of a complete subtree;
//! - `t` ‖ tile (u64 BE) → the leaf hashes of leaves `[256·tile, 256·tile+256)`
//!   concatenated (proofs read one tile instead of eight nodes);
//! - `m/size` → u64 BE; `m/checkpoint` → signed note.
//!
//! Every append writes the entry, its new blobs, its tree nodes and the new
//! signed checkpoint in one commit.
//!
//! Opening a ledger authenticates what appends rely on: the leaf hashes of
//! the tiles must give the root the log key signed, every entry must hash to
//! its leaf, and the registry (who may append what) is replayed from those
//! entries themselves. No index a file edit could change decides
//! authorization.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::entry::{Entry, EntryError, Kind, Role, UnsignedEntry};
use crate::hash::Hash;
use crate::keys::{SecretKey, VerifierKey};
use crate::merkle::{self, CompactRange, ProofError, TreeNodes};
use crate::note::{Checkpoint, NoteError, SignedCheckpoint, TlogProof};
use crate::registry::{self, AuthError, Registry};
use crate::storage::{Storage, StorageError};
use crate::verify::{self, VerifyError, VerifyReport};

const META_SIZE: &[u8] = b"m/size";
const META_CHECKPOINT: &[u8] = b"m/checkpoint";

/// Entries read per ordered scan of the store (open, verify).
const SCAN_ENTRIES: u64 = 4096;

/// Largest blob an entry may reference (1 GiB): appends refuse larger ones
/// and bundle verification reads no more.
pub const MAX_BLOB_BYTES: u64 = 1 << 30;

/// Why a ledger operation failed. Nothing is written when an append fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Storage failed (including "ledger in use").
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The signer may not append this entry here.
    #[error("refused: {0}")]
    Unauthorized(AuthError),
    /// The entry could not be built.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// Appending needs the log key to sign the new checkpoint.
    #[error("the log key is needed to sign checkpoints; none is attached")]
    LogKeyRequired,
    /// The attached key is not this ledger's log key.
    #[error("key {0} is not this ledger's log key")]
    LogKeyMismatch(String),
    /// The store holds no ledger.
    #[error("no ledger here; create one with `rankproof init`")]
    NotInitialized,
    /// The store already holds a ledger.
    #[error("a ledger already exists here")]
    AlreadyInitialized,
    /// `genesis` cannot be appended.
    #[error("genesis is written only by create")]
    GenesisAppend,
    /// The origin does not equal the log key's name.
    #[error("origin {origin:?} must equal the log key's name {key_name:?}")]
    OriginMismatch {
        /// The origin.
        origin: String,
        /// The log key's name.
        key_name: String,
    },
    /// Stored data is inconsistent or does not match the signed checkpoint.
    #[error("ledger storage is corrupt: {0}")]
    Corrupt(String),
    /// A checkpoint could not be signed or read.
    #[error("checkpoint: {0}")]
    Note(NoteError),
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A blob is larger than [`MAX_BLOB_BYTES`].
    #[error("a blob of {size} bytes is larger than the limit of {max} bytes")]
    BlobTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
}

impl LedgerError {
    /// Whether the error says the stored data is wrong (a finding for an
    /// auditor: tampering or damage), as opposed to a refused request or a
    /// failing environment (I/O, lock, missing key).
    pub fn is_finding(&self) -> bool {
        match self {
            LedgerError::Corrupt(_) => true,
            LedgerError::Storage(e) => e.is_finding(),
            LedgerError::Proof(e) => matches!(e, ProofError::NodeUnavailable { .. }),
            _ => false,
        }
    }
}

impl From<AuthError> for LedgerError {
    fn from(e: AuthError) -> Self {
        LedgerError::Unauthorized(e)
    }
}

impl From<NoteError> for LedgerError {
    fn from(e: NoteError) -> Self {
        LedgerError::Note(e)
    }
}

/// The result of a successful append.
#[derive(Debug, Clone)]
pub struct AppendedEntry {
    /// The entry as stored.
    pub entry: Entry,
    /// The signed checkpoint that covers it (after the commit).
    pub checkpoint: SignedCheckpoint,
}

/// A blob's contents with their hash, computed once, when it is made: a
/// writer that needs the hash for the entry body (a ranking's `result`)
/// reads it here, and the ledger stores the blob under the same hash
/// without hashing its bytes again. The bytes cannot change afterwards;
/// they may be shared with their writer (a result document of 100,000
/// staff is about 150 MB, and is not copied to be stored).
#[derive(Debug, Clone)]
pub struct Blob {
    bytes: Arc<Vec<u8>>,
    hash: Hash,
    /// The form the store keeps (FORMAT.md §9), when it was made in
    /// advance ([`Blob::shared_encoded`]).
    stored: Option<Vec<u8>>,
}

impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Blob {}

impl Blob {
    /// Hash `bytes`.
    pub fn new(bytes: Vec<u8>) -> Blob {
        Blob::shared(Arc::new(bytes))
    }
    /// Hash `bytes`, which stay shared with whoever else holds them.
    pub fn shared(bytes: Arc<Vec<u8>>) -> Blob {
        let hash = Hash::of(&bytes);
        Blob {
            bytes,
            hash,
            stored: None,
        }
    }
    /// As [`Blob::shared`], and make the stored (compressed) form at the
    /// same time, on the pool's threads, so that appending it does not
    /// wait for it: hashing is one pass that cannot be split, compressing
    /// is many that can, and together they keep every thread busy.
    pub fn shared_encoded(bytes: Arc<Vec<u8>>) -> Blob {
        let (hash, stored) = rayon::join(|| Hash::of(&bytes), || encode_blob(&bytes));
        Blob {
            bytes,
            hash,
            stored: Some(stored),
        }
    }
    /// `SHA-256(bytes)`.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn len(&self) -> usize {
        self.bytes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
    /// The form the store keeps.
    fn into_stored(self) -> Vec<u8> {
        match self.stored {
            Some(s) => s,
            None => encode_blob(&self.bytes),
        }
    }
}

impl From<Vec<u8>> for Blob {
    fn from(bytes: Vec<u8>) -> Blob {
        Blob::new(bytes)
    }
}

/// A blob's stored bytes (possibly compressed), read but not yet opened.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    hash: Hash,
    stored: Vec<u8>,
}

impl StoredBlob {
    /// The blob's name.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// The blob's bytes, decompressed (bounded by the blob limit). They are
    /// not checked against the name here.
    pub fn open(&self) -> Result<Vec<u8>, LedgerError> {
        decode_blob(&self.hash, &self.stored)
    }
}

/// One entry to append: kind, body, blob contents, signer.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// The kind (not genesis).
    pub kind: Kind,
    /// The body object.
    pub body: Map<String, Value>,
    /// Blob contents this entry references (stored by hash).
    pub blobs: Vec<Blob>,
    /// The signing key.
    pub signer: &'a SecretKey,
}

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = b"e".to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn blob_key(h: &Hash) -> Vec<u8> {
    let mut k = b"b".to_vec();
    k.extend_from_slice(&h.0);
    k
}

fn node_key(level: u8, index: u64) -> Vec<u8> {
    let mut k = b"n".to_vec();
    k.push(level);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

struct StoredNodes<'a, S: Storage>(&'a S);

impl<S: Storage> TreeNodes for StoredNodes<'_, S> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        let unavailable = |reason: String| ProofError::NodeUnavailable {
            level,
            index,
            reason,
        };
        let v = self
            .0
            .get(&node_key(level, index))
            .map_err(|e| unavailable(e.to_string()))?
            .ok_or_else(|| unavailable("missing".into()))?;
        let arr: [u8; 32] = v
            .try_into()
            .map_err(|_| unavailable("not 32 bytes".into()))?;
        Ok(Hash(arr))
    }
}

/// Tree nodes at this level and above are kept in memory (loaded on the
/// first proof after open or append: about size/2^(CACHED_LEVEL-1) nodes),
/// so a proof reads at most CACHED_LEVEL stored nodes plus the right edge.
const CACHED_LEVEL: u8 = 8;

type NodeCache = BTreeMap<(u8, u64), Hash>;

/// Leaves per tile: a tile (`t` ‖ tile index) holds the leaf hashes of
/// leaves `[256·t, 256·t + 256)`, so a node below [`CACHED_LEVEL`] is
/// computed from one stored value instead of one read per level.
const TILE_LEAVES: u64 = 1 << CACHED_LEVEL;

fn tile_key(tile: u64) -> Vec<u8> {
    let mut k = b"t".to_vec();
    k.extend_from_slice(&tile.to_be_bytes());
    k
}

struct CachedNodes<'a, S: Storage> {
    storage: &'a S,
    upper: &'a NodeCache,
    tile: RefCell<Option<(u64, Vec<u8>)>>,
}

impl<S: Storage> CachedNodes<'_, S> {
    /// The hash of a complete subtree below the cached levels, from its tile.
    fn tile_node(&self, level: u8, index: u64) -> Option<Hash> {
        let first = index << level;
        let tile = first / TILE_LEAVES;
        let mut slot = self.tile.borrow_mut();
        if slot.as_ref().map(|(t, _)| *t) != Some(tile) {
            let bytes = self.storage.get(&tile_key(tile)).ok()??;
            *slot = Some((tile, bytes));
        }
        let (_, bytes) = slot.as_ref()?;
        let off = usize::try_from(first % TILE_LEAVES).ok()? * 32;
        let len = (1usize << level) * 32;
        let leaves: Vec<Hash> = bytes
            .get(off..off + len)?
            .chunks_exact(32)
            // INVARIANT: chunks_exact(32) yields 32-byte chunks.
            .map(|c| Hash(c.try_into().unwrap_or_default()))
            .collect();
        Some(merkle::root(&leaves))
    }
}

impl<S: Storage> TreeNodes for CachedNodes<'_, S> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        if level >= CACHED_LEVEL {
            if let Some(h) = self.upper.get(&(level, index)) {
                return Ok(*h);
            }
        } else if let Some(h) = self.tile_node(level, index) {
            return Ok(h);
        }
        StoredNodes(self.storage).node(level, index)
    }
}

fn load_upper<S: Storage>(storage: &S, size: u64) -> NodeCache {
    let mut cache = NodeCache::new();
    let mut level = CACHED_LEVEL;
    while level < 64 && (size >> level) > 0 {
        for index in 0..(size >> level) {
            // A node that cannot be read is simply not cached; the proof
            // then reads it (and reports the error) itself.
            if let Ok(h) = StoredNodes(storage).node(level, index) {
                cache.insert((level, index), h);
            }
        }
        level += 1;
    }
    cache
}

/// An open ledger.
pub struct Ledger<S: Storage> {
    storage: S,
    registry: Registry,
    range: CompactRange,
    last_leaf: Hash,
    checkpoint: SignedCheckpoint,
    log_key: Option<SecretKey>,
    upper: OnceLock<NodeCache>,
}

impl<S: Storage> std::fmt::Debug for Ledger<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("origin", &self.registry.origin())
            .field("size", &self.range.size())
            .finish_non_exhaustive()
    }
}

struct Pending {
    writes: Vec<(Vec<u8>, Vec<u8>)>,
    /// The tile being filled: its index and leaf hashes so far.
    tile: (u64, Vec<u8>),
    registry: Registry,
    range: CompactRange,
    last_leaf: Hash,
    entries: Vec<Entry>,
}

impl<S: Storage> Ledger<S> {
    /// Create a new ledger: write the genesis entry signed by `log_key`
    /// (whose name must equal `origin`), naming the first admins. The log
    /// key stays attached for further appends.
    pub fn create(
        storage: S,
        origin: &str,
        log_key: &SecretKey,
        admins: &[VerifierKey],
    ) -> Result<Ledger<S>, LedgerError> {
        if storage.get(META_SIZE)?.is_some() {
            return Err(LedgerError::AlreadyInitialized);
        }
        if origin != log_key.name() {
            return Err(LedgerError::OriginMismatch {
                origin: origin.to_owned(),
                key_name: log_key.name().to_owned(),
            });
        }
        let unsigned = UnsignedEntry {
            kind: Kind::Genesis,
            seq: 0,
            prev: Hash::ZERO,
            signer: log_key.verifier().handle(),
            blobs: Vec::new(),
            body: registry::genesis_body(origin, log_key.verifier(), admins),
        };
        let registry = Registry::from_genesis(&unsigned)?;
        let entry = unsigned.sign(log_key)?;
        let mut range = CompactRange::new();
        let mut writes = vec![(entry_key(0), entry.bytes().to_vec())];
        for (level, index, h) in range.append(entry.leaf_hash()) {
            writes.push((node_key(level, index), h.0.to_vec()));
        }
        let checkpoint = sign_checkpoint(log_key, &range)?;
        writes.push((tile_key(0), entry.leaf_hash().0.to_vec()));
        writes.push((META_SIZE.to_vec(), 1u64.to_be_bytes().to_vec()));
        writes.push((META_CHECKPOINT.to_vec(), checkpoint.to_text().into_bytes()));
        storage.commit(writes)?;
        Ok(Ledger {
            storage,
            registry,
            range,
            last_leaf: entry.leaf_hash(),
            checkpoint,
            log_key: Some(log_key.clone()),
            upper: OnceLock::new(),
        })
    }

    /// Open an existing ledger (read-only until a log key is attached).
    ///
    /// The stored state is authenticated before it is used: the leaf hashes
    /// (tiles) must give the root of the checkpoint the log key signed,
    /// every entry must hash to its leaf, and the registry is replayed from
    /// the `genesis`/`key.*` entries found among them. Anything else is
    /// [`LedgerError::Corrupt`]. This reads every entry once (no signature
    /// checks: the signed root already fixes their bytes).
    pub fn open(storage: S) -> Result<Ledger<S>, LedgerError> {
        let corrupt = |why: String| LedgerError::Corrupt(why);
        let size_bytes = storage.get(META_SIZE)?.ok_or(LedgerError::NotInitialized)?;
        let size = u64::from_be_bytes(
            size_bytes
                .try_into()
                .map_err(|_| corrupt("size is not 8 bytes".into()))?,
        );
        if size == 0 {
            return Err(corrupt("size is 0 (no genesis entry)".into()));
        }
        let read_entry = |seq: u64| -> Result<Vec<u8>, LedgerError> {
            storage
                .get(&entry_key(seq))?
                .ok_or_else(|| corrupt(format!("entry {seq} missing")))
        };
        let genesis_bytes = read_entry(0)?;
        let genesis = Entry::parse(&genesis_bytes).map_err(|e| corrupt(format!("entry 0: {e}")))?;
        let mut registry = Registry::from_genesis(genesis.unsigned())
            .map_err(|e| corrupt(format!("entry 0: {e}")))?;
        let cp_bytes = storage
            .get(META_CHECKPOINT)?
            .ok_or_else(|| corrupt("checkpoint missing".into()))?;
        let checkpoint = SignedCheckpoint::open(&cp_bytes, registry.log_key())
            .map_err(|e| corrupt(format!("stored checkpoint: {e}")))?;
        let leaves = read_leaves(&storage, size)?;
        let mut range = CompactRange::new();
        for h in &leaves {
            range.append(*h);
        }
        if checkpoint.checkpoint().size != size || checkpoint.checkpoint().root != range.root() {
            return Err(corrupt(
                "stored leaf hashes do not match the signed checkpoint".into(),
            ));
        }
        if crate::hash::leaf_hash(&genesis_bytes) != leaves[0] {
            return Err(corrupt(
                "entry 0 does not match its leaf hash in the signed tree".into(),
            ));
        }
        let mut from = 1u64;
        while from < size {
            let to = from.saturating_add(SCAN_ENTRIES).min(size);
            for (seq, bytes) in (from..).zip(storage.get_seq_range(b'e', from, to)?) {
                let bytes = bytes.ok_or_else(|| corrupt(format!("entry {seq} missing")))?;
                let leaf = usize::try_from(seq).ok().and_then(|i| leaves.get(i));
                if leaf != Some(&crate::hash::leaf_hash(&bytes)) {
                    return Err(corrupt(format!(
                        "entry {seq} does not match its leaf hash in the signed tree"
                    )));
                }
                if !may_be_key_entry(&bytes) {
                    continue;
                }
                let e = Entry::parse(&bytes).map_err(|e| corrupt(format!("entry {seq}: {e}")))?;
                if matches!(e.kind(), Kind::KeyGrant | Kind::KeyRevoke) {
                    registry.set_next_seq(seq);
                    registry
                        .admit(e.unsigned())
                        .map_err(|e| corrupt(format!("entry {seq}: {e}")))?;
                }
            }
            from = to;
        }
        registry.set_next_seq(size);
        let last_leaf = leaves[leaves.len() - 1];
        Ok(Ledger {
            storage,
            registry,
            range,
            last_leaf,
            checkpoint,
            log_key: None,
            upper: OnceLock::new(),
        })
    }

    /// Attach the log key so appends can sign checkpoints.
    pub fn attach_log_key(&mut self, key: SecretKey) -> Result<(), LedgerError> {
        if key.verifier() != self.registry.log_key() {
            return Err(LedgerError::LogKeyMismatch(key.verifier().handle()));
        }
        self.log_key = Some(key);
        Ok(())
    }

    /// Append one entry. Authorization (role, revocation) is checked first;
    /// on any refusal nothing is written.
    pub fn append(
        &mut self,
        kind: Kind,
        body: Map<String, Value>,
        blobs: Vec<Blob>,
        signer: &SecretKey,
    ) -> Result<AppendedEntry, LedgerError> {
        let mut out = self.append_batch(vec![NewEntry {
            kind,
            body,
            blobs,
            signer,
        }])?;
        out.pop()
            .ok_or_else(|| LedgerError::Corrupt("empty append result".into()))
    }

    /// Grant `role` to `vkey` (signed by an admin).
    pub fn grant(
        &mut self,
        vkey: &VerifierKey,
        role: Role,
        signer: &SecretKey,
    ) -> Result<AppendedEntry, LedgerError> {
        let body = registry::grant_body(vkey, role, self.len());
        self.append(Kind::KeyGrant, body, Vec::new(), signer)
    }

    /// Revoke `vkey` (signed by an admin).
    pub fn revoke(
        &mut self,
        vkey: &VerifierKey,
        signer: &SecretKey,
    ) -> Result<AppendedEntry, LedgerError> {
        let body = registry::revoke_body(vkey, self.len());
        self.append(Kind::KeyRevoke, body, Vec::new(), signer)
    }

    /// Append many entries with one atomic, durable commit and one new
    /// checkpoint. All or nothing.
    pub fn append_batch(
        &mut self,
        new: Vec<NewEntry<'_>>,
    ) -> Result<Vec<AppendedEntry>, LedgerError> {
        let log_key = self.log_key.as_ref().ok_or(LedgerError::LogKeyRequired)?;
        let size = self.range.size();
        let tile_index = size / TILE_LEAVES;
        let tile = if size % TILE_LEAVES == 0 {
            Vec::new()
        } else {
            self.storage
                .get(&tile_key(tile_index))?
                .ok_or_else(|| LedgerError::Corrupt(format!("tile {tile_index} missing")))?
        };
        let mut p = Pending {
            writes: Vec::new(),
            tile: (tile_index, tile),
            registry: self.registry.clone(),
            range: self.range.clone(),
            last_leaf: self.last_leaf,
            entries: Vec::with_capacity(new.len()),
        };
        for n in new {
            stage(&mut p, n)?;
        }
        if !p.tile.1.is_empty() {
            let (t, bytes) = std::mem::take(&mut p.tile);
            p.writes.push((tile_key(t), bytes));
        }
        let checkpoint = sign_checkpoint(log_key, &p.range)?;
        p.writes
            .push((META_SIZE.to_vec(), p.range.size().to_be_bytes().to_vec()));
        p.writes
            .push((META_CHECKPOINT.to_vec(), checkpoint.to_text().into_bytes()));
        self.storage.commit(p.writes)?;
        self.registry = p.registry;
        self.range = p.range;
        self.last_leaf = p.last_leaf;
        self.checkpoint = checkpoint.clone();
        self.upper = OnceLock::new();
        Ok(p.entries
            .into_iter()
            .map(|entry| AppendedEntry {
                entry,
                checkpoint: checkpoint.clone(),
            })
            .collect())
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.range.size()
    }

    /// Always false: a ledger has at least its genesis entry.
    pub fn is_empty(&self) -> bool {
        self.range.size() == 0
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        self.registry.origin()
    }

    /// The log's public key.
    pub fn log_key(&self) -> &VerifierKey {
        self.registry.log_key()
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.range.root()
    }

    /// The latest signed checkpoint (always covers every entry).
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The registry as of the end of the log.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The raw bytes of entry `seq`.
    pub fn entry_bytes(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        self.storage
            .get(&entry_key(seq))?
            .ok_or_else(|| LedgerError::Corrupt(format!("entry {seq} missing")))
    }

    /// Entry `seq`, parsed (`None` past the end).
    pub fn entry(&self, seq: u64) -> Result<Option<Entry>, LedgerError> {
        if seq >= self.len() {
            return Ok(None);
        }
        Ok(Some(Entry::parse(&self.entry_bytes(seq)?)?))
    }

    /// All entries in order.
    pub fn entries(&self) -> impl Iterator<Item = Result<Entry, LedgerError>> + '_ {
        (0..self.len()).map(move |seq| Entry::parse(&self.entry_bytes(seq)?).map_err(Into::into))
    }

    /// A blob's contents by hash (as appended: stored blobs are
    /// compressed, FORMAT.md §9; whether they hash to `hash` is the
    /// caller's check, as `verify` does).
    pub fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, LedgerError> {
        self.stored_blob(hash)?.map(|s| s.open()).transpose()
    }

    /// A blob as stored, to be opened later (on any thread): what
    /// [`Ledger::blob`] does in two steps, so that several blobs can be
    /// decompressed side by side.
    pub fn stored_blob(&self, hash: &Hash) -> Result<Option<StoredBlob>, LedgerError> {
        Ok(self.storage.get(&blob_key(hash))?.map(|stored| StoredBlob {
            hash: *hash,
            stored,
        }))
    }

    /// The leaf hash of entry `seq`.
    pub fn leaf_hash(&self, seq: u64) -> Result<Hash, LedgerError> {
        if seq >= self.len() {
            return Err(ProofError::IndexOutOfRange {
                index: seq,
                size: self.len(),
            }
            .into());
        }
        Ok(StoredNodes(&self.storage).node(0, seq)?)
    }

    /// The root of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, LedgerError> {
        if size > self.len() {
            return Err(ProofError::InvalidSizes {
                old: size,
                new: self.len(),
            }
            .into());
        }
        Ok(merkle::root_from(&self.nodes(), size)?)
    }

    /// Inclusion proof of entry `seq` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        if size > self.len() {
            return Err(ProofError::IndexOutOfRange {
                index: seq,
                size: self.len(),
            }
            .into());
        }
        Ok(merkle::inclusion_proof_from(&self.nodes(), seq, size)?)
    }

    /// Consistency proof between the trees of `old` and `new` entries.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, LedgerError> {
        if new > self.len() {
            return Err(ProofError::InvalidSizes { old, new }.into());
        }
        Ok(merkle::consistency_proof_from(&self.nodes(), old, new)?)
    }

    /// A C2SP tlog-proof of entry `seq` against the latest checkpoint.
    pub fn tlog_proof(&self, seq: u64, extra: Option<Vec<u8>>) -> Result<TlogProof, LedgerError> {
        Ok(TlogProof {
            extra,
            index: seq,
            hashes: self.inclusion_proof(seq, self.len())?,
            checkpoint: self.checkpoint.to_text(),
        })
    }

    /// Verify every entry, signature, role, link, blob and the checkpoint;
    /// with `trusted`, also that the log extends that older checkpoint.
    ///
    /// This trusts the genesis entry's log key: a replacement ledger with
    /// another log key verifies too. An auditor who knows the log key uses
    /// [`Ledger::verify_against`].
    pub fn verify(&self, trusted: Option<&[u8]>) -> Result<VerifyReport, VerifyError> {
        self.verify_against(None, trusted)
    }

    /// [`Ledger::verify`] against an expected log key: with `Some(key)` the
    /// genesis entry must name exactly that key (compared in full), the
    /// checkpoint must be signed by it, and `trusted` is opened with it.
    pub fn verify_against(
        &self,
        log_key: Option<&VerifierKey>,
        trusted: Option<&[u8]>,
    ) -> Result<VerifyReport, VerifyError> {
        let size = self.len();
        let entries = (0..size)
            .step_by(SCAN_ENTRIES as usize)
            .flat_map(move |from| {
                let to = from.saturating_add(SCAN_ENTRIES).min(size);
                match self.storage.get_seq_range(b'e', from, to) {
                    Ok(values) => (from..)
                        .zip(values)
                        .map(|(seq, v)| {
                            v.ok_or_else(|| {
                                verify_read(LedgerError::Corrupt(format!("entry {seq} missing")))
                            })
                        })
                        .collect::<Vec<_>>(),
                    Err(e) => vec![Err(verify_read(e.into()))],
                }
            });
        let blob = |h: &Hash| self.blob(h).map_err(verify_read);
        let cp = self
            .storage
            .get(META_CHECKPOINT)
            .map_err(|e| verify_read(e.into()))?
            .unwrap_or_default();
        let (report, leaves) =
            verify::verify_log_leaves(entries, &blob, &cp, log_key, trusted, true)?;
        self.verify_store(leaves)?;
        Ok(report)
    }

    /// Check the stored proof structures against the entries: every
    /// complete-subtree node and every leaf-hash tile must be present and
    /// equal to what the entries give (a torn write that lost one would
    /// otherwise only show when a proof is served).
    /// `leaves` are the verified entries' leaf hashes.
    fn verify_store(&self, leaves: Vec<Hash>) -> Result<(), VerifyError> {
        let read = |e: StorageError| verify_read(e.into());
        let store = |what: String, problem: &'static str| VerifyError::Store { what, problem };
        let mut level = leaves;
        for (t, chunk) in level.chunks(TILE_LEAVES as usize).enumerate() {
            let want: Vec<u8> = chunk.iter().flat_map(|h| h.0).collect();
            match self.storage.get(&tile_key(t as u64)).map_err(read)? {
                None => return Err(store(format!("leaf-hash tile {t}"), "missing")),
                Some(got) if got != want => {
                    return Err(store(format!("leaf-hash tile {t}"), "wrong"))
                }
                Some(_) => {}
            }
        }
        let check_level = |height: u8, hashes: &[Hash]| -> Result<(), VerifyError> {
            for (index, h) in hashes.iter().enumerate() {
                let what = || format!("tree node (level {height}, index {index})");
                match self
                    .storage
                    .get(&node_key(height, index as u64))
                    .map_err(read)?
                {
                    None => return Err(store(what(), "missing")),
                    Some(got) if got != h.0 => return Err(store(what(), "wrong")),
                    Some(_) => {}
                }
            }
            Ok(())
        };
        let mut height: u8 = 0;
        check_level(height, &level)?;
        while level.len() > 1 {
            level = level
                .chunks_exact(2)
                .map(|pair| crate::hash::node_hash(&pair[0], &pair[1]))
                .collect();
            height += 1;
            check_level(height, &level)?;
        }
        Ok(())
    }

    fn nodes(&self) -> CachedNodes<'_, S> {
        CachedNodes {
            storage: &self.storage,
            upper: self
                .upper
                .get_or_init(|| load_upper(&self.storage, self.range.size())),
            tile: RefCell::new(None),
        }
    }

    /// The underlying storage.
    pub fn storage(&self) -> &S {
        &self.storage
    }
}

/// A ledger read error as a verification error: damaged data is a finding,
/// a failing environment is not.
fn verify_read(e: LedgerError) -> VerifyError {
    if e.is_finding() {
        VerifyError::Damaged(e.to_string())
    } else {
        VerifyError::Read(e.to_string())
    }
}

/// Whether canonical entry bytes may be a `key.grant`/`key.revoke` entry.
/// In JCS the top-level `kind` member follows `body` and precedes `prev`,
/// so a key entry always contains this text; a body that happens to contain
/// it too is parsed and found not to be one.
fn may_be_key_entry(bytes: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"\"kind\":\"key.";
    // The first two bytes are compared before the slice: most positions
    // fail there without a call to memcmp.
    bytes
        .windows(NEEDLE.len())
        .any(|w| w[0] == b'"' && w[1] == b'k' && w == NEEDLE)
}

/// The leaf hashes of the first `size` entries, from the tiles: each tile
/// must be whole (256 hashes) except the last, which holds the rest.
fn read_leaves<S: Storage>(storage: &S, size: u64) -> Result<Vec<Hash>, LedgerError> {
    let mut leaves = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let n_tiles = size.div_ceil(TILE_LEAVES);
    for t in 0..n_tiles {
        let want = (size - t * TILE_LEAVES).min(TILE_LEAVES) * 32;
        let bytes = storage
            .get(&tile_key(t))?
            .ok_or_else(|| LedgerError::Corrupt(format!("leaf-hash tile {t} missing")))?;
        if bytes.len() as u64 != want {
            return Err(LedgerError::Corrupt(format!(
                "leaf-hash tile {t} is {} bytes, expected {want}",
                bytes.len()
            )));
        }
        for c in bytes.chunks_exact(32) {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            leaves.push(Hash(h));
        }
    }
    Ok(leaves)
}

fn sign_checkpoint(
    log_key: &SecretKey,
    range: &CompactRange,
) -> Result<SignedCheckpoint, NoteError> {
    SignedCheckpoint::sign(
        Checkpoint {
            origin: log_key.name().to_owned(),
            size: range.size(),
            root: range.root(),
            extensions: Vec::new(),
        },
        log_key,
    )
}

/// Stored blob tags (FORMAT.md §9): the blob's bytes as they are, or a
/// zstd frame of them. The hash is always over the blob's own bytes.
const BLOB_RAW: u8 = b'r';
const BLOB_ZSTD: u8 = b'z';
/// zstd level for stored blobs: result documents and datasets are JSON and
/// compress 10-20x at this level at hundreds of MB/s.
const BLOB_ZSTD_LEVEL: i32 = 3;

/// A blob is compressed in frames of this many bytes (the last one may be
/// shorter), each on its own and side by side on the pool's threads: a
/// result document of 100,000 staff is about 150 MB. Frames of a fixed
/// size make the stored bytes the same on any number of threads.
const BLOB_ZSTD_FRAME_BYTES: usize = 8 << 20;

/// `b` as zstd frames, concatenated; each states its content size.
fn compress(b: &[u8]) -> std::io::Result<Vec<u8>> {
    use rayon::prelude::*;
    let frames = b
        .par_chunks(BLOB_ZSTD_FRAME_BYTES)
        .map(|c| zstd::bulk::compress(c, BLOB_ZSTD_LEVEL))
        .collect::<std::io::Result<Vec<Vec<u8>>>>()?;
    Ok(frames.concat())
}

/// A blob as stored: compressed when that is smaller.
fn encode_blob(b: &[u8]) -> Vec<u8> {
    if b.len() >= 256 {
        if let Ok(z) = compress(b) {
            if z.len() < b.len() {
                let mut out = Vec::with_capacity(z.len() + 1);
                out.push(BLOB_ZSTD);
                out.extend_from_slice(&z);
                return out;
            }
        }
    }
    let mut out = Vec::with_capacity(b.len() + 1);
    out.push(BLOB_RAW);
    out.extend_from_slice(b);
    out
}

/// A stored blob's bytes. Decompression is bounded by the blob limit, so
/// an edited store cannot make it grow without bound.
fn decode_blob(hash: &Hash, stored: &[u8]) -> Result<Vec<u8>, LedgerError> {
    let corrupt = |why: &str| LedgerError::Corrupt(format!("blob {}: {why}", hash.to_hex()));
    match stored.split_first() {
        Some((&BLOB_RAW, rest)) => Ok(rest.to_vec()),
        Some((&BLOB_ZSTD, rest)) => {
            // Frames that state their sizes (every frame this ledger
            // writes) are decompressed side by side, each in one call into
            // its part of the output; zstd checks that each size is true.
            if let Some((frames, total)) = sized_frames(rest) {
                if total > MAX_BLOB_BYTES {
                    return Err(corrupt("decompresses beyond the blob limit"));
                }
                return decompress_frames(&frames).ok_or_else(|| corrupt("does not decompress"));
            }
            use std::io::Read;
            let dec = zstd::stream::read::Decoder::new(rest)
                .map_err(|_| corrupt("does not decompress"))?;
            let mut out = Vec::new();
            dec.take(MAX_BLOB_BYTES + 1)
                .read_to_end(&mut out)
                .map_err(|_| corrupt("does not decompress"))?;
            if out.len() as u64 > MAX_BLOB_BYTES {
                return Err(corrupt("decompresses beyond the blob limit"));
            }
            Ok(out)
        }
        _ => Err(corrupt("unknown storage tag")),
    }
}

/// A zstd frame and the content size it states.
type Frame<'a> = (&'a [u8], usize);

/// The zstd frames of `z` with their stated content sizes, and the sum of
/// the sizes (the frames stop once it passes the blob limit); `None` when
/// a frame does not state its size or `z` does not split into frames (then
/// the streaming decoder decides, within the blob limit).
fn sized_frames(mut z: &[u8]) -> Option<(Vec<Frame<'_>>, u64)> {
    let mut frames = Vec::new();
    let mut total = 0u64;
    while !z.is_empty() && total <= MAX_BLOB_BYTES {
        let len = zstd::zstd_safe::find_frame_compressed_size(z).ok()?;
        let size = zstd::zstd_safe::get_frame_content_size(z).ok()??;
        total = total.saturating_add(size);
        let (frame, rest) = z.split_at_checked(len)?;
        frames.push((frame, usize::try_from(size).ok()?));
        z = rest;
    }
    Some((frames, total))
}

/// Decompress frames of stated sizes into one buffer, side by side; `None`
/// if a frame does not decompress to exactly its stated size.
fn decompress_frames(frames: &[Frame<'_>]) -> Option<Vec<u8>> {
    use rayon::prelude::*;
    let mut out = vec![0u8; frames.iter().map(|f| f.1).sum()];
    let mut parts = Vec::with_capacity(frames.len());
    let mut rest = out.as_mut_slice();
    for &(frame, size) in frames {
        let (part, tail) = std::mem::take(&mut rest).split_at_mut(size);
        parts.push((frame, part));
        rest = tail;
    }
    let ok = parts.into_par_iter().all(|(frame, part)| {
        let want = part.len();
        zstd::zstd_safe::decompress(part, frame).is_ok_and(|n| n == want)
    });
    ok.then_some(out)
}

fn stage(p: &mut Pending, n: NewEntry<'_>) -> Result<(), LedgerError> {
    if n.kind == Kind::Genesis {
        return Err(LedgerError::GenesisAppend);
    }
    let seq = p.range.size();
    if let Some(big) = n.blobs.iter().find(|b| b.len() as u64 > MAX_BLOB_BYTES) {
        return Err(LedgerError::BlobTooLarge {
            size: big.len() as u64,
            max: MAX_BLOB_BYTES,
        });
    }
    // Each blob was hashed once, when it was made.
    let mut hashes: Vec<Hash> = n.blobs.iter().map(Blob::hash).collect();
    hashes.sort();
    hashes.dedup();
    let unsigned = UnsignedEntry {
        kind: n.kind,
        seq,
        prev: p.last_leaf,
        signer: n.signer.verifier().handle(),
        blobs: hashes,
        body: n.body,
    };
    let key = p.registry.check(&unsigned)?;
    if &key != n.signer.verifier() {
        return Err(AuthError::UnknownSigner(n.signer.verifier().to_string()).into());
    }
    let entry = unsigned.clone().sign(n.signer)?;
    p.registry.admit(&unsigned)?;
    p.writes.push((entry_key(seq), entry.bytes().to_vec()));
    for b in n.blobs {
        p.writes.push((blob_key(&b.hash), b.into_stored()));
    }
    for (level, index, h) in p.range.append(entry.leaf_hash()) {
        p.writes.push((node_key(level, index), h.0.to_vec()));
    }
    p.tile.1.extend_from_slice(&entry.leaf_hash().0);
    if p.tile.1.len() as u64 == TILE_LEAVES * 32 {
        let full = std::mem::take(&mut p.tile.1);
        p.writes.push((tile_key(p.tile.0), full));
        p.tile.0 += 1;
    }
    p.last_leaf = entry.leaf_hash();
    p.entries.push(entry);
    Ok(())
}

#[cfg(test)]
mod blob_tests {
    use super::*;

    #[test]
    fn stored_blobs_round_trip_compressed_or_raw() {
        let json = br#"{"a":"1","b":"2"}"#.repeat(1000);
        for b in [Vec::new(), b"tiny".to_vec(), json.clone()] {
            let stored = encode_blob(&b);
            assert_eq!(decode_blob(&Hash::of(&b), &stored).unwrap(), b);
        }
        // JSON is stored compressed, far smaller.
        let stored = encode_blob(&json);
        assert_eq!(stored[0], BLOB_ZSTD);
        assert!(stored.len() * 20 < json.len(), "{}", stored.len());
    }

    #[test]
    fn edited_stored_blobs_are_findings() {
        let h = Hash::of(b"x");
        for bad in [Vec::new(), b"?abc".to_vec(), vec![BLOB_ZSTD, 1, 2, 3, 4]] {
            let e = decode_blob(&h, &bad).unwrap_err();
            assert!(e.is_finding(), "{e}");
        }
        // A high-ratio frame (64 MiB of zeros in a few KiB) decodes in full
        // below the limit. Past MAX_BLOB_BYTES (1 GiB, too large for a unit
        // test) a frame that states its size is refused before decoding,
        // and one that does not is read to the limit + 1 byte and refused.
        let zeros = vec![0u8; 64 << 20];
        let mut stored = vec![BLOB_ZSTD];
        stored.extend_from_slice(&zstd::bulk::compress(&zeros, 3).unwrap());
        assert!(stored.len() < 64 << 10);
        assert_eq!(decode_blob(&h, &stored).unwrap().len(), zeros.len());
    }

    fn sample() -> Vec<u8> {
        (0..200_000u32)
            .flat_map(|i| {
                format!("{{\"staff_id\":\"E{i:06}\",\"x\":\"{}\"}},", i % 97).into_bytes()
            })
            .collect()
    }

    #[test]
    fn stored_blobs_open_to_their_bytes_whichever_way_the_frame_was_made() {
        let b = sample();
        let h = Hash::of(&b);
        // As the ledger writes it: a frame that states its size.
        let stored = encode_blob(&b);
        assert_eq!(stored[0], BLOB_ZSTD);
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&stored[1..]),
            Ok(Some(n)) if n == b.len() as u64
        ));
        assert_eq!(decode_blob(&h, &stored).unwrap(), b);
        // A streamed frame that does not state its size.
        let mut streamed = vec![BLOB_ZSTD];
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        std::io::Write::write_all(&mut e, &b).unwrap();
        streamed.extend(e.finish().unwrap());
        assert!(matches!(
            zstd::zstd_safe::get_frame_content_size(&streamed[1..]),
            Ok(None)
        ));
        assert_eq!(decode_blob(&h, &streamed).unwrap(), b);
        // Raw.
        let mut raw = vec![BLOB_RAW];
        raw.extend_from_slice(&b);
        assert_eq!(decode_blob(&h, &raw).unwrap(), b);
    }

    /// The frames of a stored zstd blob.
    fn frames(stored: &[u8]) -> Vec<&[u8]> {
        sized_frames(&stored[1..])
            .unwrap()
            .0
            .into_iter()
            .map(|f| f.0)
            .collect()
    }

    #[test]
    fn large_blobs_are_stored_in_fixed_frames_the_same_on_any_thread_count() {
        let b: Vec<u8> = sample().repeat(4);
        assert!(b.len() > 2 * BLOB_ZSTD_FRAME_BYTES);
        let h = Hash::of(&b);
        let on = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| encode_blob(&b))
        };
        let stored = on(1);
        assert_eq!(stored, on(3));
        assert_eq!(stored[0], BLOB_ZSTD);
        let fs = frames(&stored);
        assert_eq!(fs.len(), b.len().div_ceil(BLOB_ZSTD_FRAME_BYTES));
        for (f, part) in fs.iter().zip(b.chunks(BLOB_ZSTD_FRAME_BYTES)) {
            assert_eq!(zstd::bulk::decompress(f, part.len()).unwrap(), part);
        }
        assert_eq!(decode_blob(&h, &stored).unwrap(), b);
        // A store where the frames come in another order decodes to other
        // bytes (which then do not hash to the key): no frame is found by
        // its position alone.
        let mut swapped = vec![BLOB_ZSTD];
        swapped.extend_from_slice(fs[1]);
        swapped.extend_from_slice(fs[0]);
        for f in &fs[2..] {
            swapped.extend_from_slice(f);
        }
        assert_ne!(decode_blob(&h, &swapped).unwrap(), b);
        // A frame cut short, or a later frame that lies about its size, is
        // a finding.
        let cut = &stored[..1 + fs[0].len() + fs[1].len() / 2];
        assert!(decode_blob(&h, cut).unwrap_err().is_finding());
        let mut lying = vec![BLOB_ZSTD];
        lying.extend_from_slice(fs[0]);
        lying.extend_from_slice(&zstd::bulk::compress(b"short", 3).unwrap());
        let mut stated = zstd::bulk::compress(b"longer frame", 3).unwrap();
        // A small single-segment frame states its size in the byte after
        // the 4-byte magic and the frame header descriptor.
        assert_eq!(stated[5], 12);
        stated[5] = 13;
        lying.extend_from_slice(&stated);
        assert!(decode_blob(&h, &lying).unwrap_err().is_finding());
    }

    #[test]
    fn a_blob_encoded_in_advance_is_stored_as_one_encoded_at_append() {
        for b in [Vec::new(), b"small".to_vec(), sample(), sample().repeat(3)] {
            let plain = Blob::new(b.clone());
            let early = Blob::shared_encoded(Arc::new(b.clone()));
            assert_eq!(early.hash(), plain.hash());
            assert_eq!(early, plain);
            let stored = early.into_stored();
            assert_eq!(stored, plain.into_stored());
            assert_eq!(decode_blob(&Hash::of(&b), &stored).unwrap(), b);
        }
    }

    #[test]
    fn a_damaged_frame_is_a_finding_not_a_panic() {
        let b = sample();
        let h = Hash::of(&b);
        let stored = encode_blob(&b);
        for cut in [2, 10, stored.len() / 2, stored.len() - 1] {
            let e = decode_blob(&h, &stored[..cut]).unwrap_err().to_string();
            assert!(e.contains("does not decompress"), "{cut}: {e}");
        }
        let mut flipped = stored.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        // Either zstd notices (its checksum or a bad block), or the bytes
        // differ and the caller's hash check does.
        if let Ok(out) = decode_blob(&h, &flipped) {
            assert_ne!(Hash::of(&out), h);
        }
        assert!(decode_blob(&h, b"x").is_err());
        assert!(decode_blob(&h, b"").is_err());
    }
}
