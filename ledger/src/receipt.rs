//! Staff receipts (FORMAT.md §11.4, §12): one person's salted result, its
//! path to a ranking's results root, the signed `ranking.publish` entry, and
//! the chain of authority behind its signer: the `key.grant` that made the
//! signer an operator, the grant that made that grant's signer an admin, and
//! so on back to the genesis entry, every one with a C2SP tlog-proof against
//! the same signed checkpoint.
//!
//! A receipt verifies offline with nothing but the log's verifier key, and
//! forging one takes more than the log key: every grant in the chain must
//! carry a valid signature by an admin the previous link names, in full.

use serde_json::{json, Map, Value};

use crate::entry::{Entry, EntryError, Kind, Role};
use crate::hash::{leaf_hash, Hash};
use crate::keys::{KeyError, VerifierKey};
use crate::ledger::{Ledger, LedgerError};
use crate::merkle::{self, ProofError};
use crate::note::{NoteError, SignedCheckpoint, TlogProof};
use crate::registry::Registry;
use crate::storage::Storage;

/// Format tag of a receipt.
pub const RECEIPT_FORMAT: &str = "rankproof-receipt/v2";

/// The most links a receipt's chain may have.
pub const MAX_CHAIN_LINKS: usize = 256;

/// Why a receipt does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// The receipt is not well-formed.
    #[error("malformed receipt: {0}")]
    Malformed(String),
    /// An embedded entry does not parse.
    #[error("`{field}` is not a valid entry: {source}")]
    Entry {
        /// Which member.
        field: String,
        /// Why.
        source: EntryError,
    },
    /// A tlog-proof does not parse or does not verify.
    #[error("`{field}` does not prove the entry in the log: {source}")]
    Log {
        /// Which member.
        field: String,
        /// Why.
        source: NoteError,
    },
    /// The operator's key or signature is wrong.
    #[error("ranking signature: {0}")]
    Signature(String),
    /// The chain of grants does not back the signer.
    #[error("grant chain, link {link}: {why}")]
    Grant {
        /// The link (0 = the operator's grant).
        link: usize,
        /// What is wrong.
        why: String,
    },
    /// The result is not a leaf of the published results tree.
    #[error("the result is not the published one: {0}")]
    NotPublished(ProofError),
    /// The result's position does not match its leaf index.
    #[error("the result's position {position} does not match leaf index {index}")]
    Position {
        /// `result.position`.
        position: u64,
        /// `leaf_index`.
        index: u64,
    },
}

/// Why a receipt could not be built from a ledger or an entry list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptBuildError {
    /// The entry is not a `ranking.publish`.
    #[error("entry {0} is not a ranking.publish entry")]
    NotARanking(u64),
    /// No entry with that seq.
    #[error("there is no entry {0}")]
    NoSuchEntry(u64),
    /// The registry does not explain a signer (the log does not verify).
    #[error("entry {seq}: signer {signer} does not hold {role} from an earlier grant; run `rankproof verify`")]
    NoGrant {
        /// The entry.
        seq: u64,
        /// Its signer.
        signer: String,
        /// The role it needs.
        role: Role,
    },
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A proof could not be built.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

fn malformed(s: impl Into<String>) -> ReceiptError {
    ReceiptError::Malformed(s.into())
}

/// The data of a staff member's leaf in a results tree:
/// `JCS({"result": result, "salt": hex(salt)})`.
pub fn salted_leaf_data(result: &Value, salt: &[u8; 32]) -> Vec<u8> {
    let v = json!({"result": result, "salt": hex::encode(salt)});
    // INVARIANT: `result` was parsed from or built as JCS-able JSON (no
    // floats outside the safe range); an unencodable value yields no bytes,
    // which can never match a published leaf.
    crate::jcs::to_vec(&v).unwrap_or_default()
}

/// The leaf hash of a staff member's salted result.
pub fn salted_leaf(result: &Value, salt: &[u8; 32]) -> Hash {
    leaf_hash(&salted_leaf_data(result, salt))
}

/// The same leaf hash from the result's JCS bytes, without building a JSON
/// value: `{"result":` ‖ result ‖ `,"salt":"` ‖ hex(salt) ‖ `"}` is the
/// JCS form of the leaf object ("result" sorts before "salt"). `result_jcs`
/// must already be canonical.
pub fn salted_leaf_canonical(result_jcs: &[u8], salt: &[u8; 32]) -> Hash {
    let mut data = Vec::with_capacity(result_jcs.len() + 96);
    data.extend_from_slice(b"{\"result\":");
    data.extend_from_slice(result_jcs);
    data.extend_from_slice(b",\"salt\":\"");
    data.extend_from_slice(hex::encode(salt).as_bytes());
    data.extend_from_slice(b"\"}");
    leaf_hash(&data)
}

/// One staff member's part of a receipt.
#[derive(Debug, Clone)]
pub struct StaffResult<'a> {
    /// The staff member's result object `r_i`.
    pub result: &'a Value,
    /// Its salt `s_i`.
    pub salt: [u8; 32],
    /// Its leaf index (position − 1).
    pub leaf_index: u64,
    /// Its inclusion proof in the results tree.
    pub path: &'a [Hash],
}

/// The part of a receipt common to every staff member of one ranking: the
/// ranking entry and its proof, the operator's key, and the grant chain
/// back to genesis with proofs, all against one checkpoint.
#[derive(Debug, Clone)]
pub struct ReceiptChain {
    entry: Entry,
    proof: TlogProof,
    signer: VerifierKey,
    links: Vec<(Entry, TlogProof)>,
}

impl ReceiptChain {
    /// Collect the chain for the ranking entry `ranking_seq` of an open
    /// ledger, with proofs against its latest checkpoint.
    pub fn collect<S: Storage>(
        ledger: &Ledger<S>,
        ranking_seq: u64,
    ) -> Result<ReceiptChain, ReceiptBuildError> {
        let entry = |seq: u64| -> Result<Entry, ReceiptBuildError> {
            ledger
                .entry(seq)?
                .ok_or(ReceiptBuildError::NoSuchEntry(seq))
        };
        let prove = |seq: u64| -> Result<TlogProof, ReceiptBuildError> {
            Ok(ledger.tlog_proof(seq, None)?)
        };
        build_chain(ledger.registry(), ranking_seq, &entry, &prove)
    }

    /// The same from a verified entry list (e.g. a bundle's) and the signed
    /// checkpoint covering exactly those entries.
    pub fn from_entries(
        entries: &[Entry],
        checkpoint: &SignedCheckpoint,
        ranking_seq: u64,
    ) -> Result<ReceiptChain, ReceiptBuildError> {
        let registry = Registry::replay(entries)
            .map_err(|e| ReceiptBuildError::Ledger(LedgerError::Unauthorized(e)))?;
        let size = checkpoint.checkpoint().size;
        if size != entries.len() as u64 {
            return Err(ProofError::InvalidSizes {
                old: entries.len() as u64,
                new: size,
            }
            .into());
        }
        let leaves: Vec<Hash> = entries.iter().map(Entry::leaf_hash).collect();
        let text = checkpoint.to_text();
        let entry = |seq: u64| -> Result<Entry, ReceiptBuildError> {
            usize::try_from(seq)
                .ok()
                .and_then(|i| entries.get(i))
                .cloned()
                .ok_or(ReceiptBuildError::NoSuchEntry(seq))
        };
        let prove = |seq: u64| -> Result<TlogProof, ReceiptBuildError> {
            Ok(TlogProof {
                extra: None,
                index: seq,
                hashes: merkle::inclusion_proof(&leaves, seq)?,
                checkpoint: text.clone(),
            })
        };
        build_chain(&registry, ranking_seq, &entry, &prove)
    }

    /// The `ranking.publish` entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The operator's key.
    pub fn signer(&self) -> &VerifierKey {
        &self.signer
    }

    /// The chain's entries: the operator's grant first, genesis last.
    pub fn links(&self) -> impl Iterator<Item = &Entry> {
        self.links.iter().map(|(e, _)| e)
    }

    /// Encode one staff member's receipt (pretty JSON with a final newline).
    pub fn encode(&self, staff: &StaffResult<'_>) -> Vec<u8> {
        let chain: Vec<Value> = self
            .links
            .iter()
            .map(|(e, p)| {
                json!({
                    "entry": String::from_utf8_lossy(e.bytes()),
                    "proof": p.to_text(),
                })
            })
            .collect();
        let v = json!({
            "format": RECEIPT_FORMAT,
            "entry": String::from_utf8_lossy(self.entry.bytes()),
            "proof": self.proof.to_text(),
            "signer": self.signer.to_string(),
            "chain": chain,
            "result": staff.result,
            "salt": hex::encode(staff.salt),
            "leaf_index": staff.leaf_index,
            "path": staff.path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        });
        // INVARIANT: a `Value` built from strings, integers and parsed JSON
        // always serializes.
        let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Walk from the ranking's signer back to genesis through the registry:
/// each key's role records the seq of the grant that gave it.
fn build_chain(
    registry: &Registry,
    ranking_seq: u64,
    entry: &dyn Fn(u64) -> Result<Entry, ReceiptBuildError>,
    prove: &dyn Fn(u64) -> Result<TlogProof, ReceiptBuildError>,
) -> Result<ReceiptChain, ReceiptBuildError> {
    let ranking = entry(ranking_seq)?;
    if ranking.kind() != Kind::RankingPublish {
        return Err(ReceiptBuildError::NotARanking(ranking_seq));
    }
    let granted = |e: &Entry, role: Role| -> Result<(VerifierKey, u64), ReceiptBuildError> {
        registry
            .key(e.signer())
            .and_then(|r| r.roles.get(&role).map(|s| (r.key.clone(), *s)))
            .filter(|(_, s)| *s < e.seq())
            .ok_or_else(|| ReceiptBuildError::NoGrant {
                seq: e.seq(),
                signer: e.signer().to_owned(),
                role,
            })
    };
    let (signer, mut seq) = granted(&ranking, Role::Operator)?;
    let mut links = Vec::new();
    loop {
        let link = entry(seq)?;
        let next = if seq == 0 {
            None
        } else {
            Some(granted(&link, Role::Admin)?.1)
        };
        links.push((link, prove(seq)?));
        match next {
            Some(s) => seq = s,
            None => break,
        }
    }
    Ok(ReceiptChain {
        proof: prove(ranking_seq)?,
        entry: ranking,
        signer,
        links,
    })
}

/// A verified receipt: what the staff member may rely on.
#[derive(Debug, Clone)]
pub struct VerifiedReceipt {
    /// The staff member's result as published.
    pub result: Map<String, Value>,
    /// The verified `ranking.publish` entry.
    pub entry: Entry,
    /// The operator key that signed it.
    pub operator: VerifierKey,
    /// The admin keys of the chain, from the one that granted the operator
    /// role back to a genesis admin.
    pub admins: Vec<VerifierKey>,
    /// The leaf hash of the log's genesis entry (compare it with the log's
    /// published genesis to know it is the same log).
    pub genesis: Hash,
    /// The size of the log at the checkpoint the proofs use.
    pub log_size: u64,
}

/// The members of a receipt, all required, no others.
const MEMBERS: [&str; 9] = [
    "chain",
    "entry",
    "format",
    "leaf_index",
    "path",
    "proof",
    "result",
    "salt",
    "signer",
];

fn exact_members(v: &Value, what: &str, names: &[&str]) -> Result<(), ReceiptError> {
    let obj = v
        .as_object()
        .ok_or_else(|| malformed(format!("{what} is not an object")))?;
    if let Some(extra) = obj.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(malformed(format!("{what} has an unknown member `{extra}`")));
    }
    if let Some(missing) = names.iter().find(|n| !obj.contains_key(**n)) {
        return Err(malformed(format!("{what} has no `{missing}`")));
    }
    Ok(())
}

fn text<'a>(v: &'a Value, k: &str) -> Result<&'a str, ReceiptError> {
    v.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("`{k}` is missing or not a string")))
}

fn entry_at(field: &str, s: &str) -> Result<Entry, ReceiptError> {
    Entry::parse(s.as_bytes()).map_err(|source| ReceiptError::Entry {
        field: field.to_owned(),
        source,
    })
}

fn proof_at(field: &str, s: &str) -> Result<TlogProof, ReceiptError> {
    TlogProof::parse(s).map_err(|source| ReceiptError::Log {
        field: field.to_owned(),
        source,
    })
}

/// Verify a receipt's bytes against the log's verifier key (FORMAT.md §12).
/// The first failing check is returned.
pub fn verify(bytes: &[u8], log_key: &VerifierKey) -> Result<VerifiedReceipt, ReceiptError> {
    let r: Value =
        crate::jcs::parse_strict(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let format = text(&r, "format")?;
    if format != RECEIPT_FORMAT {
        return Err(malformed(if format == "rankproof-receipt/v1" {
            "a rankproof-receipt/v1 receipt does not carry the grant chain; issue a new receipt"
                .to_owned()
        } else {
            format!("not a {RECEIPT_FORMAT} receipt")
        }));
    }
    exact_members(&r, "the receipt", &MEMBERS)?;
    // 1–2. The ranking entry is in the log the log key signed.
    let entry = entry_at("entry", text(&r, "entry")?)?;
    if entry.kind() != Kind::RankingPublish {
        return Err(malformed(format!(
            "`entry` is a {} entry, not ranking.publish",
            entry.kind().as_str()
        )));
    }
    let proof = proof_at("proof", text(&r, "proof")?)?;
    if proof.index != entry.seq() {
        return Err(malformed(format!(
            "`proof` is for index {}, the entry is {}",
            proof.index,
            entry.seq()
        )));
    }
    let cp = proof
        .verify(&entry.leaf_hash(), log_key)
        .map_err(|source| ReceiptError::Log {
            field: "proof".into(),
            source,
        })?;
    // 3. The operator signed it.
    let signer = VerifierKey::parse(text(&r, "signer")?)
        .map_err(|e: KeyError| ReceiptError::Signature(format!("`signer`: {e}")))?;
    if signer.handle() != entry.signer() {
        return Err(ReceiptError::Signature(format!(
            "`signer` is {}, the entry names {}",
            signer.handle(),
            entry.signer()
        )));
    }
    let msg = entry
        .signing_bytes()
        .map_err(|source| ReceiptError::Entry {
            field: "entry".into(),
            source,
        })?;
    if !signer.verify(&msg, entry.signature()) {
        return Err(ReceiptError::Signature(format!(
            "does not verify under {}",
            signer.handle()
        )));
    }
    // 4. The chain of grants back to genesis.
    let (admins, genesis) = verify_chain(&r, &entry, &signer, &proof, log_key)?;
    // 5. The salted result is a leaf of the ranking's results tree.
    let result = r
        .get("result")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("`result` is missing or not an object"))?;
    let salt_hex = text(&r, "salt")?;
    let salt: [u8; 32] = Hash::from_hex(salt_hex)
        .map(|h| h.0)
        .ok_or_else(|| malformed("`salt` is not 32 bytes of lowercase hex"))?;
    let idx = r
        .get("leaf_index")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("`leaf_index` is not an integer"))?;
    let path = r
        .get("path")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("`path` is not an array"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(Hash::from_hex)
                .ok_or_else(|| malformed("`path` holds a value that is not a hash"))
        })
        .collect::<Result<Vec<Hash>, ReceiptError>>()?;
    let body = entry.body();
    let n = body
        .get("n")
        .and_then(Value::as_u64)
        .ok_or_else(|| malformed("the ranking entry has no `n`"))?;
    let root = body
        .get("results_root")
        .and_then(Value::as_str)
        .and_then(Hash::from_hex)
        .ok_or_else(|| malformed("the ranking entry has no `results_root`"))?;
    let result_value = Value::Object(result.clone());
    let leaf = salted_leaf(&result_value, &salt);
    merkle::verify_inclusion(idx, n, &leaf, &path, &root).map_err(ReceiptError::NotPublished)?;
    // 6. The position agrees with the leaf's place.
    let position = result.get("position").and_then(Value::as_u64).unwrap_or(0);
    if Some(position) != idx.checked_add(1) {
        return Err(ReceiptError::Position {
            position,
            index: idx,
        });
    }
    Ok(VerifiedReceipt {
        result: result.clone(),
        entry,
        operator: signer,
        admins,
        genesis,
        log_size: cp.checkpoint().size,
    })
}

/// Check 4 of FORMAT.md §12: `chain[0]` grants `operator` to `signer`
/// (compared in full), each later link grants `admin` to the key that
/// signed the link before it (that signature is checked under the key the
/// link names in full), and the last link is the genesis entry, signed by
/// the log key and naming the admin that signed the link before it. Every
/// link is proven against the ranking's checkpoint, byte for byte, with a
/// smaller seq than the link before. Returns the chain's admin keys and the
/// genesis leaf hash.
fn verify_chain(
    r: &Value,
    ranking: &Entry,
    signer: &VerifierKey,
    proof: &TlogProof,
    log_key: &VerifierKey,
) -> Result<(Vec<VerifierKey>, Hash), ReceiptError> {
    let links = r
        .get("chain")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("`chain` is not an array"))?;
    if links.is_empty() || links.len() > MAX_CHAIN_LINKS {
        return Err(malformed(format!(
            "`chain` must hold 1 to {MAX_CHAIN_LINKS} links, it holds {}",
            links.len()
        )));
    }
    let mut admins = Vec::new();
    // The entry whose signature the next link must explain.
    let mut signed: Entry = ranking.clone();
    for (i, link) in links.iter().enumerate() {
        let bad = |why: String| ReceiptError::Grant { link: i, why };
        let what = format!("chain[{i}]");
        exact_members(link, &format!("`{what}`"), &["entry", "proof"])?;
        let e = entry_at(&format!("{what}.entry"), text(link, "entry")?)?;
        let p = proof_at(&format!("{what}.proof"), text(link, "proof")?)?;
        if p.checkpoint != proof.checkpoint {
            return Err(bad(
                "proven against a different checkpoint than the ranking (must be the same signed note)"
                    .into(),
            ));
        }
        if p.index != e.seq() {
            return Err(bad(format!(
                "the proof is for index {}, the entry is {}",
                p.index,
                e.seq()
            )));
        }
        if e.seq() >= signed.seq() {
            return Err(bad(format!(
                "entry {} is not earlier than entry {} it must back",
                e.seq(),
                signed.seq()
            )));
        }
        p.verify(&e.leaf_hash(), log_key)
            .map_err(|source| ReceiptError::Log {
                field: format!("{what}.proof"),
                source,
            })?;
        let is_last = i + 1 == links.len();
        // The key this link shows to hold the role `signed` needed.
        let key = match e.kind() {
            Kind::KeyGrant => {
                let role = e.body().get("role").and_then(Value::as_str);
                let want = if i == 0 { Role::Operator } else { Role::Admin };
                if role != Some(want.as_str()) {
                    return Err(bad(format!(
                        "entry {} grants {:?}, not {want}",
                        e.seq(),
                        role.unwrap_or("nothing")
                    )));
                }
                if e.body().get("effective_from").and_then(Value::as_u64) != Some(e.seq() + 1) {
                    return Err(bad(format!(
                        "entry {} has an effective_from other than {}",
                        e.seq(),
                        e.seq() + 1
                    )));
                }
                let key = e
                    .body()
                    .get("vkey")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("entry {} names no vkey", e.seq())))
                    .and_then(|s| {
                        VerifierKey::parse(s)
                            .map_err(|err| bad(format!("entry {}: vkey: {err}", e.seq())))
                    })?;
                if is_last {
                    return Err(bad(
                        "the chain ends before the genesis entry (entry 0)".into()
                    ));
                }
                key
            }
            Kind::Genesis if i > 0 => {
                if !is_last {
                    return Err(bad("the genesis entry must be the last link".into()));
                }
                let reg = Registry::from_genesis(e.unsigned())
                    .map_err(|err| bad(format!("entry 0: {err}")))?;
                if reg.log_key() != log_key {
                    return Err(bad(format!(
                        "the genesis entry names the log key {}, not {log_key}",
                        reg.log_key()
                    )));
                }
                let msg = e.signing_bytes().map_err(|source| ReceiptError::Entry {
                    field: format!("{what}.entry"),
                    source,
                })?;
                if !log_key.verify(&msg, e.signature()) {
                    return Err(bad(
                        "the genesis entry's signature does not verify under the log key".into(),
                    ));
                }
                reg.key(signed.signer())
                    .map(|rec| rec.key.clone())
                    .ok_or_else(|| {
                        bad(format!(
                            "{} is not a genesis admin, and no grant of admin to it is given",
                            signed.signer()
                        ))
                    })?
            }
            k => {
                return Err(bad(format!(
                    "entry {} is a {k} entry, not a key.grant{}",
                    e.seq(),
                    if i > 0 { " or genesis" } else { "" }
                )))
            }
        };
        if i == 0 {
            if key != *signer {
                return Err(bad(format!(
                    "entry {} grants operator to {key}, not to the signer {signer}",
                    e.seq()
                )));
            }
        } else {
            // `key` must have signed `signed` (a grant of the previous link).
            if key.handle() != signed.signer() {
                return Err(bad(format!(
                    "entry {} names {}, but entry {} is signed by {}",
                    e.seq(),
                    key.handle(),
                    signed.seq(),
                    signed.signer()
                )));
            }
            let msg = signed
                .signing_bytes()
                .map_err(|source| ReceiptError::Entry {
                    field: format!("chain[{}].entry", i - 1),
                    source,
                })?;
            if !key.verify(&msg, signed.signature()) {
                return Err(bad(format!(
                    "entry {}'s signature does not verify under {key}",
                    signed.seq()
                )));
            }
            admins.push(key);
        }
        if e.kind() == Kind::Genesis {
            return Ok((admins, e.leaf_hash()));
        }
        signed = e;
    }
    Err(ReceiptError::Grant {
        link: links.len() - 1,
        why: "the chain ends before the genesis entry (entry 0)".into(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn canonical_and_value_leaves_agree() {
        let result = json!({"staff_id": "E1", "name": "王芳", "total": "87.5",
                            "rank": 3, "explain": {"b": [1, "x"], "a": null}});
        let jcs = crate::jcs::to_vec(&result).unwrap();
        let salt = [7u8; 32];
        assert_eq!(
            salted_leaf(&result, &salt),
            salted_leaf_canonical(&jcs, &salt)
        );
    }
}
