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
fn a_script_api_this_engine_does_not_run_is_refused() {
    // Script API 1 (engine 0.1's per-row scripts) and any future number.
    for api in ["1", "3"] {
        let e = with_manifest(|m| m.replace("script_api = 2", &format!("script_api = {api}")))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("package.toml: line "), "{e}");
        assert!(
            e.contains(&format!(
                "package.script_api: script API {api} is not run by this engine"
            )),
            "{e}"
        );
        assert!(e.contains("it runs script API 2"), "{e}");
    }
    // and a manifest without it says it is required
    let e = with_manifest(|m| {
        m.lines()
            .filter(|l| !l.starts_with("script_api"))
            .map(|l| format!("{l}\n"))
            .collect()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("script_api"), "{e}");
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
        rankproof_engine::CaseOutcome::Mismatch(diffs) => {
            assert_eq!(diffs.len(), 1, "{diffs:?}");
            assert_eq!(diffs[0].path, "results[2].grade (staff T03)");
            assert_eq!(diffs[0].expected, "\"S\"");
            assert_eq!(diffs[0].actual, "\"A\"");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_mismatch_is_reported_results_before_summaries() {
    let mut files = v1_files();
    let p = "tests/tie-across-grade-boundary/expected.json";
    let mut v: serde_json::Value = serde_json::from_slice(&files[p]).unwrap();
    v["results"][2]["grade"] = "S".into();
    v["results"][5]["total"] = "1".into();
    v["grade_distribution"][0]["count"] = 9.into();
    v["n"] = 21.into();
    files.insert(p.into(), serde_json::to_vec(&v).unwrap());
    let pkg = RulePackage::from_files(files).unwrap();
    let r = pkg
        .run_tests()
        .into_iter()
        .find(|r| r.name == "tie-across-grade-boundary")
        .unwrap();
    let rankproof_engine::CaseOutcome::Mismatch(diffs) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    let paths: Vec<&str> = diffs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "results[2].grade (staff T03)",
            "results[5].total (staff T06)",
            "n",
            "grade_distribution[0].count",
        ]
    );
}

#[test]
fn unknown_keys_in_expected_json_are_named_with_a_did_you_mean() {
    let mut files = v1_files();
    let p = "tests/bands-below-10/expected.json";
    let mut v: serde_json::Value = serde_json::from_slice(&files[p]).unwrap();
    v["reslts"] = serde_json::json!([]);
    v["results"][1]["gradee"] = "S".into();
    v["grade_distribution"] = serde_json::json!([{"grade": "S", "cuont": 1}]);
    files.insert(p.into(), serde_json::to_vec(&v).unwrap());
    let pkg = RulePackage::from_files(files).unwrap();
    let r = pkg
        .run_tests()
        .into_iter()
        .find(|r| r.name == "bands-below-10")
        .unwrap();
    let rankproof_engine::CaseOutcome::Error(e) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    for want in [
        "tests/bands-below-10/expected.json: unknown key `reslts`; did you mean `results`?",
        "tests/bands-below-10/expected.json: results[1]: unknown key `gradee`; did you mean `grade`?",
        "tests/bands-below-10/expected.json: grade_distribution[0]: unknown key `cuont`; did you mean `count`?",
    ] {
        assert!(e.contains(want), "{want}\nnot in\n{e}");
    }
}

// ---- what a package is: the files its manifest names ----

fn folder_with(extra: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    let mut f = v1_files();
    for (p, b) in extra {
        f.insert((*p).to_owned(), b.to_vec());
    }
    f
}

#[test]
fn a_package_is_exactly_the_files_its_manifest_names() {
    let folder = folder_with(&[
        ("policy.rhai~", b"old"),
        (".~lock.crm.csv#", b"lock"),
        ("tests/bands-below-10/.DS_Store", b"x"),
        ("tests/bands-below-10/.crm.csv.swp", b"x"),
        ("~$report.xlsx", b"x"),
        ("notes.txt", b"draft"),
        ("tests/bands-below-10/crm.csv.bak", b"x"),
    ]);
    let c = rankproof_engine::package_contents(folder).unwrap();
    let clean = v1_files();
    assert_eq!(c.files, clean, "the package is the clean folder's files");
    let left: Vec<(&str, &str)> = c
        .left_out
        .iter()
        .map(|l| (l.path.as_str(), l.reason.as_str()))
        .collect();
    assert_eq!(left.len(), 7, "{left:?}");
    let reason = |p: &str| left.iter().find(|(x, _)| *x == p).unwrap().1;
    assert!(reason("policy.rhai~").starts_with("an editor backup"));
    assert!(reason(".~lock.crm.csv#").starts_with("an office lock file"));
    assert!(reason("tests/bands-below-10/.DS_Store").starts_with("a file-manager file"));
    assert!(reason("tests/bands-below-10/.crm.csv.swp").starts_with("an editor swap file"));
    assert!(reason("~$report.xlsx").starts_with("an office owner"));
    assert!(reason("notes.txt").starts_with("not named by `[package] files`"));
    // the loaded package hashes only the named files
    let pkg = RulePackage::from_files(c.files).unwrap();
    assert_eq!(pkg.hash(), RulePackage::from_files(clean).unwrap().hash());
}

#[test]
fn a_file_map_with_an_unnamed_file_does_not_load() {
    let files = folder_with(&[("notes.txt", b"draft")]);
    match RulePackage::from_files(files).unwrap_err() {
        RuleError::BadFile { file, message } => {
            assert_eq!(file, "notes.txt");
            assert!(
                message.contains("not named by `[package] files`"),
                "{message}"
            );
        }
        other => panic!("{other}"),
    }
}

#[test]
fn files_patterns_publish_more_and_a_pattern_matching_nothing_is_an_error() {
    let mut folder = folder_with(&[("docs/rationale.md", b"why"), ("docs/a/b.md", b"deep")]);
    let m = String::from_utf8(folder["package.toml"].clone()).unwrap();
    let with = m.replace(
        "files = [\"tests/HAND-CHECKS.md\"]",
        "files = [\"tests/*.md\", \"docs/**\"]",
    );
    assert_ne!(with, m);
    folder.insert("package.toml".into(), with.into_bytes());
    let c = rankproof_engine::package_contents(folder.clone()).unwrap();
    assert!(c.files.contains_key("docs/rationale.md"));
    assert!(c.files.contains_key("docs/a/b.md"));
    assert!(c.files.contains_key("tests/HAND-CHECKS.md"));
    assert!(c.left_out.is_empty(), "{:?}", c.left_out);
    let typo = m.replace(
        "files = [\"tests/HAND-CHECKS.md\"]",
        "files = [\"tests/HAND-CHECK.md\", \"../x\"]",
    );
    folder.insert("package.toml".into(), typo.into_bytes());
    let e = rankproof_engine::package_contents(folder)
        .unwrap_err()
        .to_string();
    assert!(e.contains("package.files"), "{e}");
    assert!(
        e.contains("files[0] `tests/HAND-CHECK.md` matches no file"),
        "{e}"
    );
    assert!(e.contains("files[1] `../x` is not a relative"), "{e}");
}

#[test]
fn a_folder_holding_a_secret_key_is_refused_named_or_not() {
    let secret = b"PRIVATE+KEY+hr+0a1b2c3d+AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefghij\n";
    let pem = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
    for (path, bytes) in [
        ("hr.key", &secret[..]),
        (".hr.key", &secret[..]),
        ("tests/bands-below-10/id_ed25519", &pem[..]),
    ] {
        let e = rankproof_engine::package_contents(folder_with(&[(path, bytes)]))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(path), "{e}");
        assert!(e.contains("looks like a secret key"), "{e}");
        assert!(
            !e.contains("AbCdEf") && !e.contains("b3BlbnNz"),
            "the key leaked: {e}"
        );
        // and never loadable even if the manifest named it
        assert!(RulePackage::from_files(folder_with(&[(path, bytes)])).is_err());
    }
    // a key pasted into the script is refused too
    let mut f = v1_files();
    f.get_mut("policy.rhai")
        .unwrap()
        .extend_from_slice(b"// PRIVATE+KEY+x+00000000+AAAA\n");
    let e = RulePackage::from_files(f).unwrap_err().to_string();
    assert!(e.starts_with("policy.rhai (line"), "{e}");
}

#[test]
fn labels_name_declared_names_and_are_part_of_the_package() {
    let plain = RulePackage::from_files(v1_files()).unwrap();
    assert!(plain.labels().is_empty());
    assert_eq!(plain.label("total"), "total");
    let pkg = with_manifest(|m| {
        format!("{m}\n[labels]\ntotal = \"综合得分\"\nsales_amount = \"销售额\"\n")
    })
    .unwrap();
    assert_eq!(pkg.label("total"), "综合得分");
    assert_eq!(pkg.label("sales_amount"), "销售额");
    assert_eq!(pkg.label("grade"), "grade");
    assert_ne!(
        pkg.hash(),
        plain.hash(),
        "labels are hashed with the package"
    );
    let e = with_manifest(|m| format!("{m}\n[labels]\ntotl = \"综合得分\"\ngrade = \" 等级\"\n"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("labels: `grade`: the label must be 1 to 32 characters"),
        "{e}"
    );
    assert!(
        e.contains("`totl` is not a name of this package; did you mean `total`?"),
        "{e}"
    );
}
