//! `RulePackage::from_files` with the input as `package.toml` (next to a
//! minimal script), then as the script (next to the real manifest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rankproof_engine::fuzzing;

const MANIFEST: &[u8] = include_bytes!("../../rules/marketing-v1/package.toml");

fuzz_target!(|data: &[u8]| {
    fuzzing::manifest(data);
    fuzzing::script(MANIFEST, data);
});
