//! The results tree of a published ranking (FORMAT.md §11.4): the salts
//! document, the salted per-staff leaves, the root, and receipts. The one
//! owner of this format; it does not depend on the engine, so a staff
//! member's verifier needs only this module and the ledger.

use rand_core::{OsRng, RngCore};
use rankproof_ledger::{merkle, receipt, Hash, VerifierKey};
use serde::{Deserialize, Serialize};

use crate::body::{Body, RankingPublish};
use crate::error::{Result, WorkflowError};
use crate::resultdoc::{ResultDoc, StaffRecord};

/// Format tag of the salts document.
pub const SALTS_FORMAT: &str = "rankproof-salts/1";

/// One random 32-byte salt per staff member, in position order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salts(pub Vec<[u8; 32]>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaltsDoc {
    format: String,
    salts: Vec<String>,
}

impl Salts {
    /// Fresh random salts for `n` staff.
    pub fn fresh(n: usize) -> Salts {
        Salts(
            (0..n)
                .map(|_| {
                    let mut s = [0u8; 32];
                    OsRng.fill_bytes(&mut s);
                    s
                })
                .collect(),
        )
    }

    /// The salts document: `JCS({"format": SALTS_FORMAT, "salts": [hex…]})`.
    pub fn to_blob(&self) -> Vec<u8> {
        let doc = SaltsDoc {
            format: SALTS_FORMAT.into(),
            salts: self.0.iter().map(hex::encode).collect(),
        };
        // INVARIANT: a struct of strings is always JCS-encodable.
        serde_json::to_value(&doc)
            .ok()
            .and_then(|v| rankproof_ledger::jcs::to_vec(&v).ok())
            .unwrap_or_default()
    }

    /// Parse a salts document.
    pub fn parse(bytes: &[u8]) -> Result<Salts> {
        let bad = |why: &str| WorkflowError::tampered(format!("salts document: {why}"));
        let doc: SaltsDoc = serde_json::from_slice(bytes).map_err(|_| bad("does not parse"))?;
        if doc.format != SALTS_FORMAT {
            return Err(bad("wrong format tag"));
        }
        doc.salts
            .iter()
            .map(|s| {
                hex::decode(s)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| bad("a salt is not 32 bytes of hex"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Salts)
    }
}

/// The leaf hashes of the results tree: `records[i]` are the canonical
/// bytes of the record at position `i + 1`.
pub fn leaves<'a>(records: impl Iterator<Item = &'a [u8]>, salts: &Salts) -> Result<Vec<Hash>> {
    let records: Vec<&[u8]> = records.collect();
    if records.len() != salts.0.len() {
        return Err(WorkflowError::tampered(format!(
            "{} results but {} salts",
            records.len(),
            salts.0.len()
        )));
    }
    Ok(records
        .iter()
        .zip(&salts.0)
        .map(|(r, s)| receipt::salted_leaf_canonical(r, s))
        .collect())
}

/// The results root over a document's records.
pub fn root_of(doc: &ResultDoc, salts: &Salts) -> Result<Hash> {
    let l = leaves((0..doc.len()).map(|i| doc.record_bytes(i)), salts)?;
    Ok(merkle::root(&l))
}

/// A published ranking's stored results, checked against its entry: the
/// result document hashes to `result`, the salts to `salts`, and the tree
/// over them has root `results_root`.
#[derive(Debug, Clone)]
pub struct PublishedResults {
    /// The result document.
    pub doc: ResultDoc,
    /// The recorded salts.
    pub salts: Salts,
    /// The leaves.
    pub leaves: Vec<Hash>,
}

impl PublishedResults {
    /// Check and assemble (the blobs were read by hash already).
    pub fn check(
        seq: u64,
        body: &RankingPublish,
        doc: Vec<u8>,
        salts: &[u8],
    ) -> Result<PublishedResults> {
        if Hash::of(&doc) != body.result.0 {
            return Err(WorkflowError::tampered(format!(
                "ranking {seq}: the stored result document does not hash to the published result"
            )));
        }
        let doc = ResultDoc::parse(doc)
            .map_err(|e| WorkflowError::tampered(format!("ranking {seq}: {e}")))?;
        let salts = Salts::parse(salts)?;
        let leaves = leaves((0..doc.len()).map(|i| doc.record_bytes(i)), &salts)?;
        if merkle::root(&leaves) != body.results_root.0 || doc.len() as u64 != body.n {
            return Err(WorkflowError::tampered(format!(
                "ranking {seq}: the stored results do not match the published results root"
            )));
        }
        Ok(PublishedResults { doc, salts, leaves })
    }

    /// Number of staff.
    pub fn len(&self) -> usize {
        self.doc.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.doc.is_empty()
    }

    /// The inclusion path of record `idx` in the results tree.
    pub fn path(&self, idx: usize) -> Result<Vec<Hash>> {
        merkle::inclusion_proof(&self.leaves, idx as u64)
            .map_err(|e| WorkflowError::tampered(format!("results tree: {e}")))
    }
}

/// What a verified receipt shows its holder.
#[derive(Debug, Clone)]
pub struct ReceiptView {
    /// The ranking entry's seq.
    pub ranking_seq: u64,
    /// Its leaf hash (hex).
    pub ranking_leaf: String,
    /// The ranking's body.
    pub body: RankingPublish,
    /// The operator's handle.
    pub operator: String,
    /// The checkpoint size it was proven at.
    pub log_size: u64,
    /// The staff member's record.
    pub record: StaffRecord,
}

/// Verify a receipt offline under the log key (FORMAT.md §12).
pub fn verify_receipt(bytes: &[u8], log_key: &VerifierKey) -> Result<ReceiptView> {
    let v = receipt::verify(bytes, log_key)?;
    let body = RankingPublish::of(&v.entry)?;
    let record = StaffRecord::from_json(&v.result, None)
        .map_err(|e| WorkflowError::tampered(format!("receipt result: {e}")))?;
    Ok(ReceiptView {
        ranking_seq: v.entry.seq(),
        ranking_leaf: v.entry.leaf_hash().to_hex(),
        body,
        operator: v.operator.handle(),
        log_size: v.log_size,
        record,
    })
}
