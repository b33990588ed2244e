//! Model test: random appends (allowed and refused) and reopens of a sled
//! ledger, against a plain in-memory model.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rankproof_ledger::merkle::{self, verify_consistency, verify_inclusion};
use rankproof_ledger::{
    Hash, Kind, Ledger, LedgerError, SecretKey, SledStorage, Storage, TlogProof,
};
use serde_json::json;

use crate::{body, fixture_on, Fixture};

#[derive(Debug, Clone)]
enum Op {
    /// Append with the key of the right role (index into KINDS).
    Append { kind: usize, n_blobs: u8, tag: u16 },
    /// Append with a key that lacks the role: refused.
    Refused { kind: usize },
    /// Append several entries in one commit.
    Batch { n: u8 },
    /// Close and reopen the database.
    Reopen,
}

const KINDS: [Kind; 6] = [
    Kind::RulesPublish,
    Kind::InputRecord,
    Kind::RankingPublish,
    Kind::AppealFile,
    Kind::AppealDecide,
    Kind::CalibrationAdjust,
];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..KINDS.len(), 0u8..3, any::<u16>()).prop_map(|(kind, n_blobs, tag)| Op::Append { kind, n_blobs, tag }),
        1 => (0..KINDS.len()).prop_map(|kind| Op::Refused { kind }),
        1 => (1u8..5).prop_map(|n| Op::Batch { n }),
        2 => Just(Op::Reopen),
    ]
}

fn signer<S: Storage>(f: &Fixture<S>, kind: Kind) -> &SecretKey {
    match kind {
        Kind::RulesPublish => &f.hr,
        Kind::InputRecord => &f.steward,
        Kind::RankingPublish => &f.operator,
        _ => &f.reviewer,
    }
}

fn wrong_signer<S: Storage>(f: &Fixture<S>, kind: Kind) -> &SecretKey {
    match kind {
        Kind::RulesPublish => &f.steward,
        _ => &f.hr,
    }
}

struct Model {
    entries: Vec<Vec<u8>>,
    blobs: BTreeMap<Hash, Vec<u8>>,
}

fn check<S: Storage>(l: &Ledger<S>, m: &Model, probe: u64) {
    assert_eq!(l.len(), m.entries.len() as u64);
    let leaves: Vec<Hash> = m
        .entries
        .iter()
        .map(|e| rankproof_ledger::leaf_hash(e))
        .collect();
    let root = merkle::root(&leaves);
    assert_eq!(l.root(), root);
    assert_eq!(l.checkpoint().checkpoint().root, root);
    assert_eq!(l.checkpoint().checkpoint().size, l.len());
    for (seq, bytes) in m.entries.iter().enumerate() {
        assert_eq!(&l.entry_bytes(seq as u64).unwrap(), bytes);
    }
    for (h, b) in &m.blobs {
        assert_eq!(l.blob(h).unwrap().as_ref(), Some(b));
    }
    let n = l.len();
    let seq = probe % n;
    let proof = l.inclusion_proof(seq, n).unwrap();
    assert_eq!(proof, merkle::inclusion_proof(&leaves, seq).unwrap());
    verify_inclusion(seq, n, &leaves[seq as usize], &proof, &root).unwrap();
    let tp = TlogProof::parse(&l.tlog_proof(seq, None).unwrap().to_text()).unwrap();
    tp.verify(&leaves[seq as usize], l.log_key()).unwrap();
    let old = probe % (n + 1);
    let cproof = l.consistency_proof(old, n).unwrap();
    verify_consistency(
        old,
        n,
        &merkle::root(&leaves[..old as usize]),
        &root,
        &cproof,
    )
    .unwrap();
    assert_eq!(
        l.root_at(old).unwrap(),
        merkle::root(&leaves[..old as usize])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn random_appends_and_reopens_match_the_model(ops in prop::collection::vec(op(), 1..24), probe: u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let mut f = fixture_on(SledStorage::open(&path).unwrap());
        let mut m = Model { entries: Vec::new(), blobs: BTreeMap::new() };
        for seq in 0..f.ledger.len() {
            m.entries.push(f.ledger.entry_bytes(seq).unwrap());
        }
        for op in ops {
            match op {
                Op::Append { kind, n_blobs, tag } => {
                    let kind = KINDS[kind];
                    let blobs: Vec<Vec<u8>> = (0..n_blobs).map(|i| format!("blob {tag} {i}").into_bytes()).collect();
                    let s = signer(&f, kind).clone();
                    let out = f.ledger.append(kind, body(json!({"tag": tag})), blobs.iter().cloned().map(rankproof_ledger::Blob::new).collect(), &s).unwrap();
                    m.entries.push(out.entry.bytes().to_vec());
                    for b in blobs {
                        m.blobs.insert(Hash::of(&b), b);
                    }
                }
                Op::Refused { kind } => {
                    let kind = KINDS[kind];
                    let s = wrong_signer(&f, kind).clone();
                    let r = f.ledger.append(kind, body(json!({})), vec![b"never".to_vec().into()], &s);
                    prop_assert!(matches!(r, Err(LedgerError::Unauthorized(_))));
                    prop_assert_eq!(f.ledger.blob(&Hash::of(b"never")).unwrap(), None);
                }
                Op::Batch { n } => {
                    let hr = f.hr.clone();
                    let new = (0..n).map(|i| rankproof_ledger::NewEntry {
                        kind: Kind::RulesPublish,
                        body: body(json!({"batch": i})),
                        blobs: vec![vec![i].into()],
                        signer: &hr,
                    }).collect();
                    for out in f.ledger.append_batch(new).unwrap() {
                        m.entries.push(out.entry.bytes().to_vec());
                    }
                    for i in 0..n {
                        m.blobs.insert(Hash::of(&[i]), vec![i]);
                    }
                }
                Op::Reopen => {
                    let Fixture { log, admin, hr, steward, operator, reviewer, ledger } = f;
                    drop(ledger);
                    let mut ledger = Ledger::open(reopen(&path)).unwrap();
                    ledger.attach_log_key(log.clone()).unwrap();
                    f = Fixture { log, admin, hr, steward, operator, reviewer, ledger };
                }
            }
            check(&f.ledger, &m, probe);
        }
        let report = f.ledger.verify(None).unwrap();
        prop_assert_eq!(report.size, m.entries.len() as u64);
    }
}

#[test]
fn second_open_reports_ledger_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let _first = SledStorage::open(&path).unwrap();
    match SledStorage::open(&path) {
        Err(rankproof_ledger::StorageError::InUse(p)) => assert_eq!(p, path),
        other => panic!("expected InUse, got {other:?}"),
    }
}

#[test]
fn proofs_from_cached_upper_levels_match_the_pure_functions() {
    // More than 2^9 entries, so levels >= 8 come from the in-memory cache.
    let mut f = crate::fixture();
    let hr = f.hr.clone();
    for round in 0..2u64 {
        let new = (0..300u64)
            .map(|i| rankproof_ledger::NewEntry {
                kind: Kind::RulesPublish,
                body: body(json!({"round": round, "i": i})),
                blobs: vec![],
                signer: &hr,
            })
            .collect();
        f.ledger.append_batch(new).unwrap();
        let n = f.ledger.len();
        let leaves: Vec<Hash> = (0..n).map(|s| f.ledger.leaf_hash(s).unwrap()).collect();
        assert_eq!(f.ledger.root(), merkle::root(&leaves));
        for seq in (0..n).step_by(37).chain([n - 1]) {
            assert_eq!(
                f.ledger.inclusion_proof(seq, n).unwrap(),
                merkle::inclusion_proof(&leaves, seq).unwrap()
            );
            let size = seq + 1;
            assert_eq!(
                f.ledger.inclusion_proof(seq / 2, size).unwrap(),
                merkle::inclusion_proof(&leaves[..size as usize], seq / 2).unwrap()
            );
            assert_eq!(
                f.ledger.consistency_proof(seq, n).unwrap(),
                merkle::consistency_proof(&leaves, seq).unwrap()
            );
            assert_eq!(
                f.ledger.root_at(size).unwrap(),
                merkle::root(&leaves[..size as usize])
            );
        }
        // Proofs read low levels from tiles, not from per-node records:
        // garbage in those records changes nothing.
        for level in 0..8u8 {
            for index in 0..(n >> level) {
                let mut key = b"n".to_vec();
                key.push(level);
                key.extend_from_slice(&index.to_be_bytes());
                f.ledger.storage().raw_put(&key, &[0xaa; 32]).unwrap();
            }
        }
        for seq in (0..n).step_by(53) {
            assert_eq!(
                f.ledger.inclusion_proof(seq, n).unwrap(),
                merkle::inclusion_proof(&leaves, seq).unwrap()
            );
        }
        // Restore the records for the next round.
        for level in 0..8u8 {
            for index in 0..(n >> level) {
                let mut key = b"n".to_vec();
                key.push(level);
                key.extend_from_slice(&index.to_be_bytes());
                let w = 1usize << level;
                let i = index as usize * w;
                let h = merkle::root(&leaves[i..i + w]);
                f.ledger.storage().raw_put(&key, &h.0).unwrap();
            }
        }
    }
}

/// Reopen the sled store. Dropping a `sled::Db` releases its file lock when
/// its last internal handle goes, which on a loaded machine can trail the
/// drop by a moment: retry briefly on "in use".
fn reopen(path: &std::path::Path) -> SledStorage {
    for _ in 0..200 {
        match SledStorage::open(path) {
            Err(rankproof_ledger::StorageError::InUse(_)) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("the sled store stayed locked after its handle was dropped")
}
