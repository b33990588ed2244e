//! `entries.jsonl` is one entry per line, each ending in "\n" (FORMAT.md
//! §7): a file whose last newline was cut off is damaged, and the last
//! entry is named; a cut inside the last line names that line too.

use std::fs;

use rankproof_ledger::bundle::{export, verify_bundle};
use rankproof_ledger::{EntryProblem, VerifyError};

use crate::fixture;

#[test]
fn a_bundle_whose_last_newline_or_line_was_cut_is_refused() {
    let mut f = fixture();
    f.populate();
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("bundle");
    export(&f.ledger, &b).unwrap();
    let vkey = f.log.verifier().clone();
    verify_bundle(&b, &vkey, None).unwrap();
    let data = fs::read(b.join("entries.jsonl")).unwrap();
    let last = f.ledger.len() - 1;

    fs::write(b.join("entries.jsonl"), &data[..data.len() - 1]).unwrap();
    assert_eq!(
        verify_bundle(&b, &vkey, None),
        Err(VerifyError::Entry {
            seq: last,
            problem: EntryProblem::Unterminated
        })
    );
    for cut in [2, 10, 100] {
        fs::write(b.join("entries.jsonl"), &data[..data.len() - cut]).unwrap();
        assert!(matches!(
            verify_bundle(&b, &vkey, None),
            Err(VerifyError::Entry { seq, problem: EntryProblem::Malformed(_) }) if seq == last
        ));
    }
    // An empty file has no genesis.
    fs::write(b.join("entries.jsonl"), b"").unwrap();
    assert!(matches!(
        verify_bundle(&b, &vkey, None),
        Err(VerifyError::Entry { seq: 0, .. } | VerifyError::Empty)
    ));
    // Restored, it verifies again.
    fs::write(b.join("entries.jsonl"), &data).unwrap();
    verify_bundle(&b, &vkey, None).unwrap();
}
