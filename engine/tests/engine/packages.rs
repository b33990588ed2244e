//! Package loading: valid-by-construction manifests, errors with file,
//! line and field, and the package hash.

use std::collections::BTreeMap;

use rankproof_engine::{package_hash, RuleError, RulePackage};
use sha2::{Digest, Sha256};

use crate::common::{read_dir, repo};

fn v1_files() -> BTreeMap<String, Vec<u8>> {
    read_dir(&repo().join("rules/marketing-v1"))
}

fn with_manifest(edit: impl Fn(&str) -> String) -> Result<RulePackage, RuleError> {
    let mut files = v1_files();
    let m = String::from_utf8(files["package.toml"].clone()).unwrap();
    let edited = edit(&m);
    assert_ne!(edited, m, "the edit changed nothing");
    files.insert("package.toml".into(), edited.into_bytes());
    RulePackage::from_files(files)
}

#[test]
fn marketing_v1_loads() {
    let pkg = RulePackage::from_files(v1_files()).unwrap();
    assert_eq!(pkg.id(), "marketing@1.0.0");
    assert_eq!(pkg.sources().len(), 3);
    assert_eq!(
        pkg.ranking().scores,
        ["sales", "customer", "teamwork", "total"]
    );
    assert_eq!(pkg.limits().max_operations, 100_000);
    assert!(pkg.tests().len() >= 6);
    assert!(pkg.is_effective(&"2025-Q1".parse().unwrap()));
    assert!(!pkg.is_effective(&"2024-12".parse().unwrap()));
}

#[test]
fn package_hash_is_sha256_of_the_sha256sum_listing() {
    let files = v1_files();
    let mut listing = String::new();
    for (p, b) in &files {
        listing.push_str(&format!("{}  {p}\n", hex::encode(Sha256::digest(b))));
    }
    let want: [u8; 32] = Sha256::digest(listing.as_bytes()).into();
    assert_eq!(package_hash(&files), want);
    let pkg = RulePackage::from_files(files.clone()).unwrap();
    assert_eq!(pkg.hash(), want);
    // one byte anywhere changes it
    let mut f2 = files;
    f2.get_mut("tests/HAND-CHECKS.md").unwrap().push(b' ');
    assert_ne!(package_hash(&f2), want);
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let e =
        with_manifest(|m| m.replace("report_decimals = 2", "report_decimals = = 2")).unwrap_err();
    match e {
        RuleError::BadField { file, line, .. } => {
            assert_eq!(file, "package.toml");
            let m = String::from_utf8(v1_files()["package.toml"].clone()).unwrap();
            let want = m
                .lines()
                .position(|l| l.starts_with("report_decimals"))
                .unwrap()
                + 1;
            assert_eq!(line, want);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn semantic_errors_name_field_and_line() {
    let e = with_manifest(|m| m.replace("version = \"1.0.0\"", "version = \"1.0\"")).unwrap_err();
    assert!(e.to_string().starts_with("package.toml: line "), "{e}");
    assert!(
        e.to_string()
            .contains("package.version: `1.0` is not a semantic version"),
        "{e}"
    );

    let e =
        with_manifest(|m| m.replace("max_call_levels = 16", "max_call_levels = 0")).unwrap_err();
    assert!(
        e.to_string()
            .contains("limits.max_call_levels: 0 is outside"),
        "{e}"
    );

    let e =
        with_manifest(|m| m.replace("type = \"decimal\"\ngt = 0", "type = \"decimal\"\ngt = 0.5"))
            .unwrap_err();
    assert!(e.to_string().contains("no floats"), "{e}");

    let e = with_manifest(|m| {
        m.replace(
            "type = \"integer\"\nge = 0\naliases = [\"线索数\"]",
            "type = \"int\"\nge = 0\naliases = [\"线索数\"]",
        )
    })
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("sources.crm.columns[7] (leads): type `int`"),
        "{e}"
    );

    let e = with_manifest(|m| m.replace("rank_by = \"total\"", "rank_by = \"sales\"")).unwrap_err();
    assert!(e.to_string().contains("ranking.rank_by"), "{e}");

    let e = with_manifest(|m| m.replace("max_map_size = 256", "max_map_size = 256\nmax_stuff = 1"))
        .unwrap_err();
    assert!(e.to_string().contains("unknown field `max_stuff`"), "{e}");

    let e = with_manifest(|m| m.replace("max_variables = 256\n", "")).unwrap_err();
    assert!(
        e.to_string().contains("missing field `max_variables`"),
        "{e}"
    );
}

#[test]
fn missing_files_and_bad_paths() {
    let mut files = v1_files();
    files.remove("policy.rhai");
    assert_eq!(
        RulePackage::from_files(files).unwrap_err(),
        RuleError::MissingFile("policy.rhai".into())
    );
    let mut files = v1_files();
    files.insert("../evil".into(), vec![]);
    assert!(RulePackage::from_files(files).is_err());
    let mut files = v1_files();
    files.remove("package.toml");
    assert_eq!(
        RulePackage::from_files(files).unwrap_err(),
        RuleError::MissingFile("package.toml".into())
    );
}

#[test]
fn script_syntax_errors_name_line_and_column() {
    let mut files = v1_files();
    let s = String::from_utf8(files["policy.rhai"].clone()).unwrap();
    files.insert(
        "policy.rhai".into(),
        s.replacen("let growth_pts =", "let growth_pts = =", 1)
            .into_bytes(),
    );
    match RulePackage::from_files(files).unwrap_err() {
        RuleError::Script {
            file, line, column, ..
        } => {
            assert_eq!(file, "policy.rhai");
            let want = s
                .lines()
                .position(|l| l.contains("let growth_pts ="))
                .unwrap()
                + 1;
            assert_eq!(line, want);
            assert!(column > 0);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn own_tests_pass_and_a_wrong_expectation_fails() {
    let pkg = RulePackage::from_files(v1_files()).unwrap();
    for r in pkg.run_tests() {
        assert_eq!(r.outcome, rankproof_engine::CaseOutcome::Pass, "{}", r.name);
    }
    let mut files = v1_files();
    let p = "tests/tie-across-grade-boundary/expected.json";
    let s = String::from_utf8(files[p].clone()).unwrap();
    files.insert(
        p.into(),
        s.replacen("\"grade\": \"A\"", "\"grade\": \"S\"", 1)
            .into_bytes(),
    );
    let pkg = RulePackage::from_files(files).unwrap();
    let bad: Vec<_> = pkg
        .run_tests()
        .into_iter()
        .filter(|r| r.outcome != rankproof_engine::CaseOutcome::Pass)
        .collect();
    assert_eq!(bad.len(), 1);
    match &bad[0].outcome {
        rankproof_engine::CaseOutcome::Mismatch {
            path,
            expected,
            actual,
        } => {
            assert_eq!(path, "results[2].grade (staff T03)");
            assert_eq!(expected, "\"S\"");
            assert_eq!(actual, "\"A\"");
        }
        other => panic!("{other:?}"),
    }
}
