//! `RulePackage::from_files` with the input as `package.toml` (next to the
//! real script), then as the script (next to the real manifest).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rankproof_engine::fuzzing;

const MANIFEST: &[u8] = include_bytes!("../../rules/marketing-v1/package.toml");
const SCRIPT: &[u8] = include_bytes!("../../rules/marketing-v1/policy.rhai");

fuzz_target!(|data: &[u8]| fuzzing::manifest(MANIFEST, "policy.rhai", SCRIPT, data));
