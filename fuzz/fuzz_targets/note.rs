//! Signed notes, signed and bare checkpoints, tlog-proofs, with round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rankproof_ledger::fuzzing::note(data));
