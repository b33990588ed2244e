//! `Dataset::parse` for every source of the marketing package, with the
//! canonical round trip (`rankproof_engine::fuzzing::dataset`).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rankproof_engine::{fuzzing, RulePackage};

const MANIFEST: &[u8] = include_bytes!("../../rules/marketing-v1/package.toml");
const SCRIPT: &[u8] = include_bytes!("../../rules/marketing-v1/policy.rhai");

fn package() -> &'static RulePackage {
    static PKG: OnceLock<RulePackage> = OnceLock::new();
    PKG.get_or_init(|| {
        RulePackage::from_files(fuzzing::package_files(MANIFEST, "policy.rhai", SCRIPT))
            .expect("the marketing-v1 package loads")
    })
}

fuzz_target!(|data: &[u8]| fuzzing::dataset(package(), data));
