//! `receipt::verify` under the fixed log key of the seed receipt.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| rankproof_ledger::fuzzing::receipt(data));
