//! The fuzz targets' bodies (`rankproof_engine::fuzzing`) on stable: every
//! committed seed in `fuzz/seeds/<target>/` plus deterministic mutations of
//! them must not panic and must keep the canonical round trip. CI runs this
//! without nightly or cargo-fuzz; `fuzz/run.sh` runs the real fuzzers.
//!
//! `RANKPROOF_FUZZ_CASES` sets the number of mutated cases per target
//! (default 3000).

use std::sync::OnceLock;

use rankproof_engine::{fuzzing, RulePackage};

use crate::common::{package, repo};

/// Mutated cases per target.
#[path = "../../../fuzz/harness.rs"]
mod harness;

use harness::{campaign, seeds};

fn marketing() -> &'static RulePackage {
    static PKG: OnceLock<RulePackage> = OnceLock::new();
    PKG.get_or_init(|| package("marketing-v1"))
}

fn marketing_manifest() -> &'static [u8] {
    static FILE: OnceLock<Vec<u8>> = OnceLock::new();
    FILE.get_or_init(|| std::fs::read(repo().join("rules/marketing-v1/package.toml")).unwrap())
}

fn dataset(data: &[u8]) {
    fuzzing::dataset(marketing(), data);
}

fn manifest(data: &[u8]) {
    fuzzing::manifest(data);
    fuzzing::script(marketing_manifest(), data);
}

#[test]
fn seed_datasets_parse() {
    // Every dataset seed (but the `regression-*` crashers, which must be
    // refused) is accepted by some source: mutations start from inputs that
    // reach the round trip.
    let pkg = marketing();
    for (name, bytes) in seeds("dataset") {
        if name.starts_with("regression-") {
            continue;
        }
        let ok = pkg
            .sources()
            .values()
            .any(|s| rankproof_engine::Dataset::parse(s, &name, &bytes).is_ok());
        assert!(ok, "seed {name} is refused by every source");
    }
}

#[test]
fn fuzz_seeds_dataset() {
    campaign("dataset", 0xda7a_5e70_0000_0001, dataset);
}

#[test]
fn fuzz_seeds_manifest() {
    campaign("manifest", 0x3a41_fe57_0000_0001, manifest);
}

/// i64::MIN has no absolute value: the safe-integer range checks of CSV
/// integers and JSON numbers must not negate it (overflow panic in debug
/// builds, and a wrapped, accepted out-of-range value in release builds).
#[test]
fn regression_i64_min_is_refused_not_negated() {
    let pkg = marketing();
    let survey = pkg.source("survey").unwrap();
    let oa = pkg.source("oa").unwrap();
    let csv =
        "staff_id,csat,nps,complaints,complaints_resolved_72h\nE1,4,-9223372036854775808,0,0\n";
    let e = rankproof_engine::Dataset::parse(survey, "s.csv", csv.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("outside the integer range"), "{e}");
    let json = r#"[{"staff_id":"E1","collaboration":-9223372036854775808,"knowledge_shares":0,"mentoring":"1","innovations_adopted":0,"training_score":"1"}]"#;
    let e = rankproof_engine::Dataset::parse(oa, "o.json", json.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("safe integer"), "{e}");
    for input in [csv.as_bytes(), json.as_bytes()] {
        dataset(input);
    }
}

/// The same for a script value: an explanation holding `i64::MIN` is
/// written as a decimal string like any integer beyond ±(2^53 − 1).
#[test]
fn regression_script_i64_min_is_written_as_string() {
    let pkg = crate::hostile::load(
        "fn score(c) { let m = -9223372036854775807 - 1; #{ total: 1, explain: #{ min: m } } }",
    )
    .unwrap();
    let schema = pkg.source("main").unwrap();
    let ds = rankproof_engine::Dataset::parse(schema, "main.csv", b"staff_id,x\nA1,1\n").unwrap();
    let inputs = std::collections::BTreeMap::from([(schema.source.clone(), ds)]);
    let r = rankproof_engine::rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).unwrap();
    let bytes = String::from_utf8(r.canonical_bytes()).unwrap();
    assert!(bytes.contains(r#""min":"-9223372036854775808""#), "{bytes}");
}

#[test]
fn minimal_script_loads_with_every_manifest_seed() {
    // Manifest mutations start from manifests that load next to the minimal
    // script, so they reach every validation step.
    for (name, bytes) in seeds("manifest") {
        if name.ends_with(".toml") {
            let files = fuzzing::package_files(&bytes, "policy.rhai", fuzzing::MINIMAL_SCRIPT);
            RulePackage::from_files(files).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
