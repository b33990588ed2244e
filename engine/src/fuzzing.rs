//! Entry points for fuzzers and their regression tests.
//!
//! Each function takes arbitrary bytes, runs one parser of this crate on
//! them and checks the properties that must hold for *every* input: no
//! panic, and where the parser accepts the input, its round trip. A violated
//! property panics (that is how a fuzzer notices); nothing here is meant for
//! production code paths.
//!
//! The same functions are driven by the cargo-fuzz targets in `fuzz/` and by
//! the stable regression harness in `tests/engine/fuzz_seeds.rs`, which
//! replays the committed seeds in `fuzz/seeds/` plus deterministic
//! mutations of them. Like the rest of the engine, they do no I/O: the
//! caller hands in the package files.

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::package::{package_hash, RulePackage, MANIFEST};

/// The file map of a package made of a manifest and one script at
/// `script_path`.
pub fn package_files(
    manifest: &[u8],
    script_path: &str,
    script: &[u8],
) -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        (MANIFEST.to_owned(), manifest.to_vec()),
        (script_path.to_owned(), script.to_vec()),
    ])
}

/// The dataset parser, for every source schema of `pkg`: a dataset that
/// parses has a canonical form that parses back to the same canonical form.
pub fn dataset(pkg: &RulePackage, data: &[u8]) {
    for schema in pkg.sources().values() {
        let Ok(d) = Dataset::parse(schema, "fuzz", data) else {
            continue;
        };
        assert!(d.n_rows() > 0, "an accepted dataset has rows");
        assert!(
            d.staff_ids().windows(2).all(|w| w[0] < w[1]),
            "rows are sorted by unique staff ID"
        );
        let canon = d.canonical_bytes();
        let again = Dataset::parse(schema, "fuzz", &canon);
        let again = match again {
            Ok(a) => a,
            Err(e) => panic!(
                "the canonical form of an accepted `{}` dataset is refused: {e}\n{}",
                schema.source,
                String::from_utf8_lossy(&canon)
            ),
        };
        assert_eq!(
            String::from_utf8_lossy(&again.canonical_bytes()),
            String::from_utf8_lossy(&canon),
            "canonical bytes must survive a re-parse"
        );
        assert_eq!(again.sha256(), d.sha256());
    }
}

/// The smallest script a manifest can name: the required functions, empty.
/// Fuzzing a manifest next to it keeps each run about the manifest, not
/// about compiling a long script.
pub const MINIMAL_SCRIPT: &[u8] =
    b"fn score(c) { #{} }\nfn classify(c, scores, standing) { #{} }\n";

/// The package loader with `data` as `package.toml`, next to
/// [`MINIMAL_SCRIPT`] as `policy.rhai`. A package that loads hashes its files.
pub fn manifest(data: &[u8]) {
    load(package_files(data, "policy.rhai", MINIMAL_SCRIPT));
}

/// The package loader with `data` as the script `policy.rhai`, next to
/// `manifest` (which names that script).
pub fn script(manifest: &[u8], data: &[u8]) {
    load(package_files(manifest, "policy.rhai", data));
}

fn load(files: BTreeMap<String, Vec<u8>>) {
    let hash = package_hash(&files);
    if let Ok(pkg) = RulePackage::from_files(files) {
        assert_eq!(pkg.hash(), hash);
        for s in pkg.sources().values() {
            let _ = s.to_json();
        }
    }
}
