//! Staff receipts (FORMAT.md §11.4, §12): one person's salted result, its
//! path to a ranking's results root, the signed `ranking.publish` entry, the
//! operator's grant, and C2SP tlog-proofs of both entries in the log.
//!
//! A receipt verifies offline with nothing but the log's verifier key.

use serde_json::{json, Map, Value};

use crate::entry::{Entry, EntryError, Kind};
use crate::hash::{leaf_hash, Hash};
use crate::keys::{KeyError, VerifierKey};
use crate::merkle::{self, ProofError};
use crate::note::{NoteError, TlogProof};

/// Format tag of a receipt.
pub const RECEIPT_FORMAT: &str = "rankproof-receipt/v1";

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
        field: &'static str,
        /// Why.
        source: EntryError,
    },
    /// A tlog-proof does not parse or does not verify.
    #[error("`{field}` does not prove the entry in the log: {source}")]
    Log {
        /// Which member.
        field: &'static str,
        /// Why.
        source: NoteError,
    },
    /// The operator's key or signature is wrong.
    #[error("ranking signature: {0}")]
    Signature(String),
    /// The operator grant does not back the signer.
    #[error("operator grant: {0}")]
    Grant(String),
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

/// Everything a receipt holds.
#[derive(Debug, Clone)]
pub struct ReceiptParts<'a> {
    /// The `ranking.publish` entry.
    pub entry: &'a Entry,
    /// Its tlog-proof.
    pub proof: &'a TlogProof,
    /// The operator's verifier key.
    pub signer: &'a VerifierKey,
    /// The grant of `operator` to `signer`.
    pub grant: &'a Entry,
    /// Its tlog-proof (against the same checkpoint).
    pub grant_proof: &'a TlogProof,
    /// The staff member's result object.
    pub result: &'a Value,
    /// Its salt.
    pub salt: [u8; 32],
    /// Its leaf index (position − 1).
    pub leaf_index: u64,
    /// Its inclusion proof in the results tree.
    pub path: &'a [Hash],
}

/// Encode a receipt (pretty JSON with a final newline).
pub fn encode(p: &ReceiptParts<'_>) -> Vec<u8> {
    let v = json!({
        "format": RECEIPT_FORMAT,
        "entry": String::from_utf8_lossy(p.entry.bytes()),
        "proof": p.proof.to_text(),
        "signer": p.signer.to_string(),
        "grant": {
            "entry": String::from_utf8_lossy(p.grant.bytes()),
            "proof": p.grant_proof.to_text(),
        },
        "result": p.result,
        "salt": hex::encode(p.salt),
        "leaf_index": p.leaf_index,
        "path": p.path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
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
    /// The size of the log at the checkpoint the proofs use.
    pub log_size: u64,
}

/// Whether `g` is a `key.grant` of role `operator` to the key `handle`.
pub fn is_operator_grant(g: &Entry, handle: &str) -> bool {
    let role = g.body().get("role").and_then(Value::as_str);
    let vkey = g
        .body()
        .get("vkey")
        .and_then(Value::as_str)
        .and_then(|s| VerifierKey::parse(s).ok());
    g.kind() == Kind::KeyGrant
        && role == Some("operator")
        && vkey.is_some_and(|k| k.handle() == handle)
}

/// The members of a receipt, all required, no others.
const MEMBERS: [&str; 9] = [
    "entry",
    "format",
    "grant",
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

fn entry_at(field: &'static str, s: &str) -> Result<Entry, ReceiptError> {
    Entry::parse(s.as_bytes()).map_err(|source| ReceiptError::Entry { field, source })
}

fn proof_at(field: &'static str, s: &str) -> Result<TlogProof, ReceiptError> {
    TlogProof::parse(s).map_err(|source| ReceiptError::Log { field, source })
}

/// Verify a receipt's bytes against the log's verifier key (FORMAT.md §12).
/// The first failing check is returned.
pub fn verify(bytes: &[u8], log_key: &VerifierKey) -> Result<VerifiedReceipt, ReceiptError> {
    let r: Value =
        serde_json::from_slice(bytes).map_err(|e| malformed(format!("not JSON: {e}")))?;
    if text(&r, "format")? != RECEIPT_FORMAT {
        return Err(malformed(format!("not a {RECEIPT_FORMAT} receipt")));
    }
    exact_members(&r, "the receipt", &MEMBERS)?;
    exact_members(
        r.get("grant").unwrap_or(&Value::Null),
        "`grant`",
        &["entry", "proof"],
    )?;
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
            field: "proof",
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
            field: "entry",
            source,
        })?;
    if !signer.verify(&msg, entry.signature()) {
        return Err(ReceiptError::Signature(format!(
            "does not verify under {}",
            signer.handle()
        )));
    }
    // 4. The log granted that key the operator role before the ranking.
    let grant = r
        .get("grant")
        .ok_or_else(|| malformed("`grant` is missing"))?;
    let gentry = entry_at("grant.entry", text(grant, "entry")?)?;
    let gproof = proof_at("grant.proof", text(grant, "proof")?)?;
    if gproof.index != gentry.seq() || gentry.seq() >= entry.seq() {
        return Err(ReceiptError::Grant(
            "not an earlier entry of the log".into(),
        ));
    }
    if gproof.checkpoint != proof.checkpoint {
        return Err(ReceiptError::Grant(
            "proven against a different checkpoint".into(),
        ));
    }
    gproof
        .verify(&gentry.leaf_hash(), log_key)
        .map_err(|source| ReceiptError::Log {
            field: "grant.proof",
            source,
        })?;
    if !is_operator_grant(&gentry, entry.signer()) {
        return Err(ReceiptError::Grant(format!(
            "entry {} does not grant the operator role to {}",
            gentry.seq(),
            entry.signer()
        )));
    }
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
        log_size: cp.checkpoint().size,
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
