//! Peak memory of reading a CRM dataset and writing its canonical form,
//! for RELIABILITY.md: run under `/usr/bin/time -v` (maximum resident set
//! size) with a CSV made by `gen`:
//!
//! ```text
//! cargo run --release -p rankproof-engine --example read_memory -- gen 1000000 /tmp/crm.csv
//! /usr/bin/time -v target/release/examples/read_memory read /tmp/crm.csv
//! /usr/bin/time -v target/release/examples/read_memory canonical /tmp/crm.json
//! ```
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use rankproof_engine::{synth, Dataset, ReadOptions, RulePackage};

fn package() -> RulePackage {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/marketing-v1");
    let mut files = BTreeMap::new();
    for p in ["package.toml", "policy.rhai"] {
        files.insert(p.to_owned(), std::fs::read(root.join(p)).unwrap());
    }
    for e in walk(&root.join("tests")) {
        let rel = e
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        files.insert(rel, std::fs::read(&e).unwrap());
    }
    RulePackage::from_files(files).unwrap()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if !p.file_name().unwrap().to_str().unwrap().starts_with('.') {
            out.push(p);
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pkg = package();
    let crm = pkg.source("crm").unwrap();
    match args.get(1).map(String::as_str) {
        Some("gen") => {
            let n: usize = args[2].parse().unwrap();
            let c = synth::generate(n, 7, synth::CrmHeaders::Chinese);
            std::fs::write(&args[3], c.crm).unwrap();
        }
        Some("read") => {
            let bytes = std::fs::read(&args[2]).unwrap();
            let (d, report) =
                Dataset::read(&bytes, &args[2], &ReadOptions::default(), crm).unwrap();
            drop(bytes);
            let out = format!("{}.json", args[2].trim_end_matches(".csv"));
            let mut f = std::io::BufWriter::new(std::fs::File::create(&out).unwrap());
            d.write_canonical(&mut f).unwrap();
            println!("{report}; sha256 {}", d.sha256_hex());
        }
        Some("canonical") => {
            let bytes = std::fs::read(&args[2]).unwrap();
            let d = Dataset::from_canonical(&bytes, crm, &args[2]).unwrap();
            println!("{} rows; sha256 {}", d.n_rows(), d.sha256_hex());
        }
        _ => eprintln!("usage: read_memory gen N FILE | read FILE.csv | canonical FILE.json"),
    }
}
