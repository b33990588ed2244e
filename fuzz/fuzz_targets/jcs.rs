//! Canonical JSON: canonicalization is idempotent and `parse_canonical` exact.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rankproof_ledger::fuzzing::jcs(data));
