//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use rankproof_engine::{synth, Dataset, Period, Ranking, RulePackage, SourceName};

/// Read a package directory into a file map (test-only; the engine does no I/O).
pub fn read_dir(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

pub fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn package(name: &str) -> RulePackage {
    RulePackage::from_files(read_dir(&repo().join("rules").join(name))).unwrap()
}

pub fn inputs(pkg: &RulePackage, files: &[(&str, &[u8])]) -> BTreeMap<SourceName, Dataset> {
    files
        .iter()
        .map(|(s, b)| {
            let schema = pkg.source(s).unwrap();
            (
                schema.source.clone(),
                Dataset::parse(schema, &format!("{s}.csv"), b).unwrap(),
            )
        })
        .collect()
}

pub fn synth_inputs(pkg: &RulePackage, n: usize, seed: u64) -> BTreeMap<SourceName, Dataset> {
    let c = synth::generate(n, seed, synth::CrmHeaders::Canonical);
    inputs(
        pkg,
        &[
            ("crm", c.crm.as_bytes()),
            ("survey", c.survey.as_bytes()),
            ("oa", c.oa.as_bytes()),
        ],
    )
}

pub fn q1() -> Period {
    "2025-Q1".parse().unwrap()
}

pub fn rank_synth(pkg: &RulePackage, n: usize, seed: u64) -> Ranking {
    rankproof_engine::rank(pkg, &synth_inputs(pkg, n, seed), &q1()).unwrap()
}
