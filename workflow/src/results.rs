//! The results tree of a published ranking (FORMAT.md §11.4): the salts
//! document, the salted per-staff leaves, the root, and receipts. The one
//! owner of this format; it does not depend on the engine, so a staff
//! member's verifier needs only this module and the ledger.

use rand_core::{OsRng, RngCore};
use rankproof_ledger::{merkle, receipt, Hash, VerifierKey};
use serde::{Deserialize, Serialize};

use crate::arithmetic::{check_arithmetic, Arithmetic};
use crate::body::{Body, RankingPublish};
use crate::error::{Result, WorkflowError};
use crate::resultdoc::{ResultDoc, StaffRecord};

/// Format tag of the salts document.
pub const SALTS_FORMAT: &str = "rankproof-salts/2";

/// The secrets of a published ranking (FORMAT.md §11.4): the ranking
/// nonce, written into the result document so that the result hash commits
/// to it, and one random 32-byte salt per staff member, in position order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salts {
    /// The ranking nonce.
    pub nonce: [u8; 32],
    /// The per-staff salts.
    pub staff: Vec<[u8; 32]>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SaltsDoc {
    format: String,
    nonce: String,
    salts: Vec<String>,
}

/// 32 bytes from the operating system's random source.
pub fn random32() -> [u8; 32] {
    let mut s = [0u8; 32];
    OsRng.fill_bytes(&mut s);
    s
}

/// `n` values of 32 bytes from the operating system's random source, read
/// in one request (not one system call per staff member).
pub fn random32s(n: usize) -> Vec<[u8; 32]> {
    let mut v = vec![[0u8; 32]; n];
    OsRng.fill_bytes(v.as_flattened_mut());
    v
}

/// Append `b` as lowercase hex.
fn hex_into(b: &[u8; 32], out: &mut Vec<u8>) {
    let mut h = [0u8; 64];
    // INVARIANT: 64 bytes is exactly the room 32 bytes of hex need.
    let _ = hex::encode_to_slice(b, &mut h);
    out.extend_from_slice(&h);
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    // Lowercase only: one spelling per value.
    if s.bytes().any(|c| c.is_ascii_uppercase()) {
        return None;
    }
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
}

impl Salts {
    /// A fresh random nonce and salts for `n` staff.
    pub fn fresh(n: usize) -> Salts {
        Salts {
            nonce: random32(),
            staff: random32s(n),
        }
    }

    /// The nonce as the result document writes it.
    pub fn nonce_hex(&self) -> String {
        hex::encode(self.nonce)
    }

    /// The salts document:
    /// `JCS({"format": SALTS_FORMAT, "nonce": hex, "salts": [hex…]})`,
    /// written directly: the members are in JCS order, and the format tag
    /// and lowercase hex need no escaping.
    pub fn to_blob(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 67 * (self.staff.len() + 1));
        out.extend_from_slice(b"{\"format\":\"");
        out.extend_from_slice(SALTS_FORMAT.as_bytes());
        out.extend_from_slice(b"\",\"nonce\":\"");
        hex_into(&self.nonce, &mut out);
        out.extend_from_slice(b"\",\"salts\":[");
        for (i, s) in self.staff.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            hex_into(s, &mut out);
            out.push(b'"');
        }
        out.extend_from_slice(b"]}");
        out
    }

    /// Parse a salts document.
    pub fn parse(bytes: &[u8]) -> Result<Salts> {
        let bad = |why: &str| WorkflowError::tampered(format!("salts document: {why}"));
        let doc: SaltsDoc = serde_json::from_slice(bytes).map_err(|_| bad("does not parse"))?;
        if doc.format != SALTS_FORMAT {
            return Err(bad(&format!(
                "format {:?}, expected {SALTS_FORMAT:?}",
                doc.format
            )));
        }
        let nonce =
            hex32(&doc.nonce).ok_or_else(|| bad("the nonce is not 32 bytes of lowercase hex"))?;
        let staff = doc
            .salts
            .iter()
            .map(|s| hex32(s).ok_or_else(|| bad("a salt is not 32 bytes of lowercase hex")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Salts { nonce, staff })
    }
}

/// The leaf hashes of the results tree: `records[i]` are the canonical
/// bytes of the record at position `i + 1`.
pub fn leaves<'a>(records: impl Iterator<Item = &'a [u8]>, salts: &Salts) -> Result<Vec<Hash>> {
    let records: Vec<&[u8]> = records.collect();
    if records.len() != salts.staff.len() {
        return Err(WorkflowError::tampered(format!(
            "{} results but {} salts",
            records.len(),
            salts.staff.len()
        )));
    }
    use rayon::prelude::*;
    Ok(records
        .par_iter()
        .zip(&salts.staff)
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
        if doc.header().nonce.as_deref() != Some(salts.nonce_hex().as_str()) {
            return Err(WorkflowError::tampered(format!(
                "ranking {seq}: the result document's nonce is not the one its salts document \
                 records"
            )));
        }
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
    /// What check 7 (the record's own arithmetic) found to hold, with the
    /// number of places of the reported scores left open (a receipt
    /// carries no package): see [`check_arithmetic`].
    pub arithmetic: Arithmetic,
    /// The record as the receipt carries it (JSON), for
    /// [`ReceiptView::arithmetic_with`].
    result: serde_json::Map<String, serde_json::Value>,
}

impl ReceiptView {
    /// Check 7 again with the package's `report_decimals` (known to whoever
    /// has the log): every reported score must be rounded to exactly that
    /// many places.
    pub fn arithmetic_with(&self, report_decimals: u32) -> Result<Arithmetic> {
        check_arithmetic(&self.result, Some(report_decimals)).map_err(arithmetic_error)
    }
}

fn arithmetic_error(e: String) -> WorkflowError {
    WorkflowError::tampered(format!("the result's arithmetic does not hold: {e}"))
}

/// Verify a receipt offline under the log key (FORMAT.md §12).
pub fn verify_receipt(bytes: &[u8], log_key: &VerifierKey) -> Result<ReceiptView> {
    let v = receipt::verify(bytes, log_key)?;
    let body = RankingPublish::of(&v.entry)?;
    let record = StaffRecord::from_json(&v.result, None)
        .map_err(|e| WorkflowError::tampered(format!("receipt result: {e}")))?;
    let arithmetic = check_arithmetic(&v.result, None).map_err(arithmetic_error)?;
    Ok(ReceiptView {
        ranking_seq: v.entry.seq(),
        ranking_leaf: v.entry.leaf_hash().to_hex(),
        body,
        operator: v.operator.handle(),
        log_size: v.log_size,
        record,
        arithmetic,
        result: v.result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FORMAT.md §12.1's worked receipt: check 7 holds with the places
    /// left open (2 is the only number that fits) and with the package's
    /// 2, and fails with any other `report_decimals`, naming the score.
    #[test]
    fn a_receipts_arithmetic_is_checked_again_with_the_packages_places() {
        let bytes = include_bytes!("../../tests/e2e/data/receipt-example.json");
        let key = VerifierKey::parse(
            "example.org/ranking-log+c92ccd3b+AWy2Bv6+GYvvwBd0aoe/EemGcUVhb1hLkSspNQDswcDd",
        )
        .unwrap();
        let v = verify_receipt(bytes, &key).unwrap();
        assert_eq!(v.arithmetic.places, Some(2));
        assert_eq!(v.arithmetic_with(2).unwrap(), v.arithmetic);
        let e = v.arithmetic_with(3).unwrap_err().to_string();
        assert!(
            e.starts_with("the result's arithmetic does not hold: score `"),
            "{e}"
        );
        assert!(e.contains("rounded half up to 3 places"), "{e}");
    }

    #[test]
    fn the_salts_document_is_the_jcs_of_its_members_and_parses_back() {
        for n in [0, 1, 3, 1000] {
            let salts = Salts::fresh(n);
            let doc = SaltsDoc {
                format: SALTS_FORMAT.into(),
                nonce: salts.nonce_hex(),
                salts: salts.staff.iter().map(hex::encode).collect(),
            };
            let jcs = rankproof_ledger::jcs::to_vec(&serde_json::to_value(&doc).unwrap()).unwrap();
            assert_eq!(salts.to_blob(), jcs, "{n} salts");
            assert_eq!(Salts::parse(&salts.to_blob()).unwrap(), salts);
        }
    }

    #[test]
    fn fresh_salts_are_all_different() {
        let s = random32s(10_000);
        assert_eq!(s.len(), 10_000);
        let distinct: std::collections::BTreeSet<_> = s.iter().collect();
        assert_eq!(distinct.len(), s.len());
        assert!(s.iter().all(|x| x != &[0u8; 32]));
    }
}
