//! The fuzz targets' bodies (`rankproof_engine::fuzzing`) on stable: every
//! committed seed in `fuzz/seeds/<target>/` plus deterministic mutations of
//! them must not panic and must keep the canonical round trip. CI runs this
//! without nightly or cargo-fuzz; `fuzz/run.sh` runs the real fuzzers.
//!
//! `RANKPROOF_FUZZ_CASES` sets the number of mutated cases per target
//! (default 3000).

use std::path::PathBuf;
use std::sync::OnceLock;

use rankproof_engine::{fuzzing, RulePackage};

use crate::common::{package, repo};

/// Mutated cases per target.
fn cases() -> usize {
    std::env::var("RANKPROOF_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

/// The committed seeds of a target, in name order.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// xorshift64*: a tiny deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the formats under test.
const INTERESTING: &[u8] = b"\n\r\t \",:[]{}\\-+.0123456789eE=#/+ABCxyz\x00\x7f\x80\xe2\xef\xff";

/// One mutation of `input`: 1 to 4 byte-level edits (flip, set, insert,
/// delete, duplicate or drop a range, splice from another seed).
fn mutate(rng: &mut Rng, input: &[u8], pool: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                v.remove(rng.below(len));
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                v.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            6 => {
                let other = &pool[rng.below(pool.len())].1;
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
            7 if len > 0 => {
                v.truncate(rng.below(len));
            }
            _ => {}
        }
    }
    v
}

/// Run `body` on every seed and on `cases()` mutations; returns the number
/// of inputs tried.
fn campaign(target: &str, seed: u64, body: fn(&[u8])) -> usize {
    let pool = seeds(target);
    for (name, bytes) in &pool {
        if std::panic::catch_unwind(|| body(bytes)).is_err() {
            panic!("fuzz target `{target}` panicked on seed {name}");
        }
    }
    let mut rng = Rng(seed);
    let n = cases();
    for i in 0..n {
        let (name, base) = &pool[i % pool.len()];
        let input = mutate(&mut rng, base, &pool);
        if std::panic::catch_unwind(|| body(&input)).is_err() {
            panic!(
                "fuzz target `{target}` panicked on mutation {i} of seed {name}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
    pool.len() + n
}

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
        "fn score(row, cohort) { let m = -9223372036854775807 - 1; #{ total: 1, explain: #{ min: m } } }",
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
