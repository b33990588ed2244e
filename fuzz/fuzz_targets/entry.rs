//! `Entry::parse`: an accepted entry is exactly its input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rankproof_ledger::fuzzing::entry(data));
