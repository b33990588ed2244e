//! The fuzz targets' bodies (`rankproof_ledger::fuzzing`) on stable: every
//! committed seed in `fuzz/seeds/<target>/` plus deterministic mutations of
//! them must not panic and must keep the round-trip properties. CI runs
//! this without nightly or cargo-fuzz; `fuzz/run.sh` runs the real fuzzers.
//!
//! `RANKPROOF_FUZZ_CASES` sets the number of mutated cases per target
//! (default 3000).

use rankproof_ledger::fuzzing;
use rankproof_ledger::VerifierKey;

/// Mutated cases per target.
#[path = "../../../fuzz/harness.rs"]
mod harness;

use harness::{campaign, seeds};
use std::path::PathBuf;

#[test]
fn log_vkey_parses() {
    assert_eq!(
        fuzzing::log_key(),
        &VerifierKey::parse(fuzzing::LOG_VKEY).unwrap()
    );
}

#[test]
fn seed_receipt_verifies() {
    // The receipt seed is real: the mutations start from an accepted input.
    let bytes = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/receipt/demo.receipt.json"),
    )
    .unwrap();
    rankproof_ledger::receipt::verify(&bytes, fuzzing::log_key()).unwrap();
}

#[test]
fn seed_entries_parse() {
    for (name, bytes) in seeds("entry") {
        assert!(rankproof_ledger::Entry::parse(&bytes).is_ok(), "{name}");
    }
}

#[test]
fn fuzz_seeds_entry() {
    campaign("entry", 0x0e47_a1b2_c3d4_e5f6, fuzzing::entry);
}

#[test]
fn fuzz_seeds_note() {
    campaign("note", 0x6e07_e123_4567_89ab, fuzzing::note);
}

#[test]
fn fuzz_seeds_receipt() {
    campaign("receipt", 0x7ece_1b7f_0000_0001, fuzzing::receipt);
}

#[test]
fn fuzz_seeds_jcs() {
    campaign("jcs", 0x1c5c_0000_0000_0001, fuzzing::jcs);
}
