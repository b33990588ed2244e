//! Tamper tests on exported bundles: every change is caught and the first
//! bad entry is named.

use std::fs;
use std::path::Path;

use rankproof_ledger::bundle::{export, split_lines, verify_bundle};
use rankproof_ledger::verify::verify_log;
use rankproof_ledger::{Checkpoint, EntryProblem, Hash, SecretKey, SignedCheckpoint, VerifyError};

use crate::fixture;

fn bundle() -> (tempfile::TempDir, rankproof_ledger::VerifierKey, Vec<u8>) {
    let mut f = fixture();
    f.populate();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    export(&f.ledger, &out).unwrap();
    let cp = f.ledger.checkpoint().to_text().into_bytes();
    (dir, f.log.verifier().clone(), cp)
}

fn entries(dir: &Path) -> Vec<Vec<u8>> {
    split_lines(&fs::read(dir.join("bundle/entries.jsonl")).unwrap())
}

fn write_entries(dir: &Path, lines: &[Vec<u8>]) {
    let mut data = Vec::new();
    for l in lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    fs::write(dir.join("bundle/entries.jsonl"), data).unwrap();
}

fn failing_seq(r: Result<rankproof_ledger::VerifyReport, VerifyError>) -> u64 {
    match r {
        Err(VerifyError::Entry { seq, .. }) => seq,
        other => panic!("expected an entry failure, got {other:?}"),
    }
}

#[test]
fn untouched_bundle_verifies() {
    let (dir, vkey, cp) = bundle();
    let r = verify_bundle(&dir.path().join("bundle"), &vkey, Some(&cp)).unwrap();
    assert_eq!(r.size, 10);
    assert_eq!(r.n_blob_refs, 5);
}

fn check_tampered(
    lines: &[Vec<u8>],
    dir: &Path,
    vkey: &rankproof_ledger::VerifierKey,
    i: usize,
    pos: usize,
    mask: u8,
) {
    let blob_dir = dir.join("bundle/blobs");
    let blob = |h: &Hash| Ok(fs::read(blob_dir.join(h.to_hex())).ok());
    let cp = fs::read(dir.join("bundle/checkpoint")).unwrap();
    // Entries after the tampered one cannot change which entry is named
    // first, so verifying the prefix is enough (and much faster).
    let mut tampered = lines[..=i].to_vec();
    tampered[i][pos] ^= mask;
    let r = verify_log(tampered.into_iter().map(Ok), &blob, &cp, Some(vkey), None);
    assert_eq!(
        failing_seq(r),
        i as u64,
        "line {i} byte {pos} mask {mask:#x}"
    );
}

#[test]
fn changed_bytes_in_any_entry_line_name_that_entry() {
    let (dir, vkey, _) = bundle();
    let lines = entries(dir.path());
    for (i, line) in lines.iter().enumerate() {
        // The first and last byte, bytes inside the signature, and positions
        // spread over the rest of the line.
        let text = std::str::from_utf8(line).unwrap();
        let sig_at = text.find("\"sig\":\"").unwrap() + 7;
        let mut positions = vec![0, line.len() - 1, sig_at, sig_at + 43, sig_at + 85];
        positions.extend((1..8).map(|k| k * (line.len() - 1) / 8));
        for pos in positions {
            check_tampered(&lines, dir.path(), &vkey, i, pos, 0x01);
        }
    }
    // And through the files, for one line.
    let mut t = lines.clone();
    t[6][40] ^= 1;
    write_entries(dir.path(), &t);
    assert_eq!(
        failing_seq(verify_bundle(&dir.path().join("bundle"), &vkey, None)),
        6
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn any_random_byte_change_names_its_entry(line: proptest::sample::Index, pos: proptest::sample::Index, mask in 1u8..=255) {
        use std::sync::OnceLock;
        static BUNDLE: OnceLock<(tempfile::TempDir, rankproof_ledger::VerifierKey, Vec<Vec<u8>>)> = OnceLock::new();
        let (dir, vkey, lines) = BUNDLE.get_or_init(|| {
            let (dir, vkey, _) = bundle();
            let lines = entries(dir.path());
            (dir, vkey, lines)
        });
        let i = line.index(lines.len());
        let p = pos.index(lines[i].len());
        check_tampered(lines, dir.path(), vkey, i, p, mask);
    }
}

#[test]
fn dropped_reordered_or_duplicated_entries_are_named() {
    let (dir, vkey, _) = bundle();
    let b = dir.path().join("bundle");
    let lines = entries(dir.path());
    let mut dropped = lines.clone();
    dropped.remove(4);
    write_entries(dir.path(), &dropped);
    assert_eq!(failing_seq(verify_bundle(&b, &vkey, None)), 4);
    let mut swapped = lines.clone();
    swapped.swap(5, 7);
    write_entries(dir.path(), &swapped);
    assert_eq!(failing_seq(verify_bundle(&b, &vkey, None)), 5);
    let mut dup = lines.clone();
    dup.insert(3, lines[2].clone());
    write_entries(dir.path(), &dup);
    assert_eq!(failing_seq(verify_bundle(&b, &vkey, None)), 3);
    // Dropping the last entry is caught by the signed checkpoint.
    write_entries(dir.path(), &lines[..lines.len() - 1]);
    assert!(matches!(
        verify_bundle(&b, &vkey, None),
        Err(VerifyError::SizeMismatch {
            checkpoint: 10,
            entries: 9
        })
    ));
}

#[test]
fn swapped_or_missing_blob_is_named() {
    let (dir, vkey, _) = bundle();
    let b = dir.path().join("bundle");
    let h = Hash::of(b"results");
    fs::write(b.join("blobs").join(h.to_hex()), b"other results").unwrap();
    match verify_bundle(&b, &vkey, None) {
        Err(VerifyError::Entry {
            seq: 7,
            problem: EntryProblem::BlobMismatch(x),
        }) => assert_eq!(x, h),
        other => panic!("{other:?}"),
    }
    fs::remove_file(b.join("blobs").join(h.to_hex())).unwrap();
    assert!(matches!(
        verify_bundle(&b, &vkey, None),
        Err(VerifyError::Entry {
            seq: 7,
            problem: EntryProblem::MissingBlob(_)
        })
    ));
}

#[test]
fn checkpoint_signed_by_another_key_is_refused() {
    let (dir, vkey, _) = bundle();
    let b = dir.path().join("bundle");
    let cp_text = fs::read_to_string(b.join("checkpoint")).unwrap();
    let head = rankproof_ledger::note::Note::parse(cp_text.as_bytes()).unwrap();
    let head = Checkpoint::parse_text(head.text()).unwrap();
    let impostor = SecretKey::generate(&head.origin).unwrap();
    let forged = SignedCheckpoint::sign(head.clone(), &impostor).unwrap();
    fs::write(b.join("checkpoint"), forged.to_text()).unwrap();
    assert!(matches!(
        verify_bundle(&b, &vkey, None),
        Err(VerifyError::Checkpoint(_))
    ));
    // A bundle verified against the wrong log key fails at genesis.
    fs::write(b.join("checkpoint"), &cp_text).unwrap();
    assert!(matches!(
        verify_bundle(&b, impostor.verifier(), None),
        Err(VerifyError::Entry {
            seq: 0,
            problem: EntryProblem::WrongLogKey { .. }
        })
    ));
    // A cosignature from an unknown witness is ignored.
    let mut note = rankproof_ledger::note::Note::parse(cp_text.as_bytes()).unwrap();
    note.add_signature(&SecretKey::generate("witness.example").unwrap());
    fs::write(b.join("checkpoint"), note.to_text()).unwrap();
    verify_bundle(&b, &vkey, None).unwrap();
    // Edited keys file.
    let keys = fs::read_to_string(b.join("keys")).unwrap();
    fs::write(b.join("keys"), keys.replace("hr@1", "admin@1")).unwrap();
    assert_eq!(verify_bundle(&b, &vkey, None), Err(VerifyError::KeysFile));
}

#[test]
fn rewritten_history_and_rollback_are_detected_with_a_trusted_checkpoint() {
    // Log A; an auditor keeps its checkpoint at size 7.
    let mut f = fixture();
    f.populate();
    let old_cp = {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("b");
        export(&f.ledger, &b).unwrap();
        let lines = split_lines(&fs::read(b.join("entries.jsonl")).unwrap());
        let leaves: Vec<Hash> = lines[..7]
            .iter()
            .map(|l| rankproof_ledger::leaf_hash(l))
            .collect();
        SignedCheckpoint::sign(
            Checkpoint {
                origin: crate::ORIGIN.into(),
                size: 7,
                root: rankproof_ledger::merkle::root(&leaves),
                extensions: vec![],
            },
            &f.log,
        )
        .unwrap()
        .to_text()
    };
    f.ledger.verify(Some(old_cp.as_bytes())).unwrap();
    // The same log key re-creates a different history (a fork).
    let mut g = crate::fixture_on(rankproof_ledger::MemStorage::new());
    g.log = f.log.clone();
    let mut forked = rankproof_ledger::Ledger::create(
        rankproof_ledger::MemStorage::new(),
        crate::ORIGIN,
        &f.log,
        &[f.admin.verifier().clone()],
    )
    .unwrap();
    for k in [&f.hr, &f.steward, &f.operator, &f.reviewer] {
        let role = match k.name() {
            "hr" => rankproof_ledger::Role::Hr,
            "steward" => rankproof_ledger::Role::Steward,
            "operator" => rankproof_ledger::Role::Operator,
            _ => rankproof_ledger::Role::Reviewer,
        };
        forked.grant(k.verifier(), role, &f.admin).unwrap();
    }
    for i in 0..6 {
        forked
            .append(
                rankproof_ledger::Kind::RulesPublish,
                crate::body(serde_json::json!({"forged": i})),
                vec![],
                &f.hr,
            )
            .unwrap();
    }
    forked.verify(None).unwrap();
    assert_eq!(
        forked.verify(Some(old_cp.as_bytes())),
        Err(VerifyError::Rewritten { trusted: 7 })
    );
    // Rollback: a log shorter than the trusted checkpoint.
    let short = crate::fixture();
    let short_cp = {
        let mut s = short;
        s.log = f.log.clone();
        s
    };
    drop(short_cp);
    let mut small = rankproof_ledger::Ledger::create(
        rankproof_ledger::MemStorage::new(),
        crate::ORIGIN,
        &f.log,
        &[f.admin.verifier().clone()],
    )
    .unwrap();
    small
        .grant(f.hr.verifier(), rankproof_ledger::Role::Hr, &f.admin)
        .unwrap();
    assert!(matches!(
        small.verify(Some(old_cp.as_bytes())),
        Err(VerifyError::Rollback {
            trusted: 7,
            size: 2
        })
    ));
    drop(g);
}
