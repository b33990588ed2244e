//! The HR author's loop: what `rules check` lists and publishes, `--bless`,
//! every mismatch at once, unknown expected.json keys, `rules diff` of a
//! working folder against a published version, CSV for Excel.

use std::fs;

use crate::support::{copy_dir, fails, ok, rankproof, repo, text, World};

#[test]
fn a_key_file_in_the_folder_is_refused_and_backups_and_lock_files_are_never_published() {
    let w = World::new("authoring.example/log");
    let dir = w.dir();
    let pkg = dir.join("pkg");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    fs::write(pkg.join("policy.rhai~"), "// an old copy\n").expect("authoring test step");
    fs::write(pkg.join(".~lock.crm.csv#"), "lock").expect("authoring test step");
    fs::write(pkg.join("tests/.DS_Store"), [0u8, 1, 2]).expect("authoring test step");
    fs::copy(dir.join("hr.key"), pkg.join("hr.key")).expect("authoring test step");
    let p = pkg.to_str().expect("authoring test step");

    // the key is refused by check and publish, named, never printed
    let key_text = fs::read_to_string(dir.join("hr.key")).expect("authoring test step");
    let secret = key_text
        .trim()
        .rsplit('+')
        .next()
        .expect("authoring test step")
        .to_owned();
    for args in [
        vec!["rules", "check", p],
        vec!["rules", "publish", "--signer", "hr.key", p],
    ] {
        let out = fails(dir, &args, 2);
        assert!(
            out.contains("hr.key (line 1: a rankproof secret key"),
            "{out}"
        );
        assert!(out.contains("move it out of the folder"), "{out}");
        assert!(!out.contains(&secret), "the secret key was printed");
    }
    let log = ok(dir, &["log", "--format", "json"]);
    assert!(!log.contains("rules.publish"), "nothing was published");

    // without the key: published files listed, the rest left out and listed
    fs::remove_file(pkg.join("hr.key")).expect("authoring test step");
    let out = ok(dir, &["rules", "check", p]);
    assert!(out.contains("files   27 published"), "{out}");
    assert!(out.contains("  package.toml\n"), "{out}");
    assert!(out.contains("  tests/HAND-CHECKS.md\n"), "{out}");
    assert!(
        out.contains("left out 3 (in the folder, not published):"),
        "{out}"
    );
    assert!(
        out.contains("policy.rhai~  (an editor backup; never published)"),
        "{out}"
    );
    assert!(
        out.contains(".~lock.crm.csv#  (an office lock file; never published)"),
        "{out}"
    );
    assert!(
        out.contains("tests/.DS_Store  (a file-manager file; never published)"),
        "{out}"
    );
    // the package hash is the clean folder's
    let clean = ok(
        dir,
        &[
            "rules",
            "check",
            repo()
                .join("rules/marketing-v1")
                .to_str()
                .expect("authoring test step"),
        ],
    );
    let hash = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("hash"))
            .expect("authoring test step")
            .to_owned()
    };
    assert_eq!(hash(&out), hash(&clean));

    let published = ok(dir, &["rules", "publish", "--signer", "hr.key", p]);
    assert!(published.contains("27 files"), "{published}");
    assert!(
        published.contains("not published: policy.rhai~ (an editor backup; never published)"),
        "{published}"
    );
    let show = ok(
        dir,
        &["rules", "show", "marketing@1.0.0", "--format", "json"],
    );
    for junk in ["policy.rhai~", ".~lock", ".DS_Store", "hr.key"] {
        assert!(!show.contains(junk), "{junk} was published: {show}");
    }
}

#[test]
fn check_reports_every_mismatch_and_bless_rewrites_and_shows_the_changes() {
    let tmp = tempfile::tempdir().expect("authoring test step");
    let dir = tmp.path();
    let pkg = dir.join("pkg");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let case = pkg.join("tests/bands-below-10/expected.json");
    let orig = fs::read_to_string(&case).expect("authoring test step");
    let mut v: serde_json::Value = serde_json::from_str(&orig).expect("authoring test step");
    v["results"][0]["total"] = "91".into();
    v["results"][3]["grade"] = "A".into();
    v["n"] = 7.into();
    fs::write(
        &case,
        serde_json::to_string_pretty(&v).expect("authoring test step"),
    )
    .expect("authoring test step");
    let p = pkg.to_str().expect("authoring test step");

    let out = fails(dir, &["rules", "check", p], 1);
    let at = |s: &str| out.find(s).unwrap_or_else(|| panic!("{s} not in\n{out}"));
    let a = at("results[0].total (staff B90): expected \"91\", actual \"90\"");
    let b = at("results[3].grade (staff B60): expected \"A\", actual \"B\"");
    let c = at("n: expected 7, actual 6");
    assert!(a < b && b < c, "results before summaries:\n{out}");
    assert!(out.contains("(3 mismatches)"), "{out}");

    // an error case whose error still holds keeps its text
    let err_case = pkg.join("tests/error-staff-missing/expected.json");
    let err_before = fs::read(&err_case).expect("authoring test step");
    let out = ok(dir, &["rules", "check", "--bless", p]);
    assert!(
        out.contains("BLESSED    bands-below-10  (3 changes"),
        "{out}"
    );
    assert!(out.contains("staff B90: total \"91\" -> \"90\""), "{out}");
    assert!(out.contains("staff B60: grade \"A\" -> \"B\""), "{out}");
    assert!(out.contains("n 7 -> 6"), "{out}");
    assert!(out.contains("unchanged  error-staff-missing"), "{out}");
    assert_eq!(
        fs::read(&err_case).expect("authoring test step"),
        err_before
    );
    assert_eq!(
        fs::read_to_string(&case).expect("authoring test step"),
        orig,
        "blessed back to the pinned file"
    );
    ok(dir, &["rules", "check", p]);

    // a changed error is shown and written
    fs::write(
        &err_case,
        r#"{"description": "x", "period": "2025-Q1", "error": "no such words"}"#,
    )
    .expect("authoring test step");
    let out = ok(dir, &["rules", "check", "--bless", p]);
    assert!(
        out.contains("error changed: \"no such words\" -> \"staff `M2`"),
        "{out}"
    );
    ok(dir, &["rules", "check", p]);

    // a script that does not load is never blessed
    fs::write(pkg.join("policy.rhai"), "fn score(c) {").expect("authoring test step");
    let before = fs::read(&case).expect("authoring test step");
    let out = fails(dir, &["rules", "check", "--bless", p], 2);
    assert!(out.contains("policy.rhai: line"), "{out}");
    assert_eq!(fs::read(&case).expect("authoring test step"), before);
}

#[test]
fn unknown_expected_keys_are_named_with_the_case_file_and_a_did_you_mean() {
    let tmp = tempfile::tempdir().expect("authoring test step");
    let dir = tmp.path();
    let pkg = dir.join("pkg");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let case = pkg.join("tests/zero-leads-zero-prev/expected.json");
    let mut v: serde_json::Value =
        serde_json::from_slice(&fs::read(&case).expect("authoring test step"))
            .expect("authoring test step");
    v["results"][0]["bonus_multipler"] = "1".into();
    v["peroid"] = "2025-Q1".into();
    fs::write(
        &case,
        serde_json::to_string_pretty(&v).expect("authoring test step"),
    )
    .expect("authoring test step");
    let out = fails(
        dir,
        &["rules", "check", pkg.to_str().expect("authoring test step")],
        1,
    );
    assert!(out.contains("tests/zero-leads-zero-prev/expected.json: unknown key `peroid`; did you mean `period`?"), "{out}");
    assert!(out.contains("tests/zero-leads-zero-prev/expected.json: results[0]: unknown key `bonus_multipler`; did you mean `bonus_multiplier`?"), "{out}");
}

#[test]
fn diff_a_working_folder_against_the_published_version() {
    let w = World::new("authoring.example/log");
    let dir = w.dir();
    w.publish_rules("marketing-v1");
    let pkg = dir.join("work");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let m = fs::read_to_string(pkg.join("package.toml")).expect("authoring test step");
    let m = m
        .replace("version = \"1.0.0\"", "version = \"1.1.0\"")
        .replace("max_call_levels = 16", "max_call_levels = 12")
        .replace(
            "aliases = [\"培训成绩\"]",
            "aliases = [\"培训成绩\", \"培训分\"]",
        )
        .replace(
            "name = \"collection_rate\"\ntype = \"decimal\"\nge = 0\nle = 1",
            "name = \"collection_rate\"\ntype = \"decimal\"\nge = 0\nle = 1\ndecimals = 4",
        );
    fs::write(pkg.join("package.toml"), m).expect("authoring test step");
    let s = fs::read_to_string(pkg.join("policy.rhai")).expect("authoring test step");
    fs::write(
        pkg.join("policy.rhai"),
        s.replacen(
            "sales: 0.60, customer: 0.20",
            "sales: 0.55, customer: 0.25",
            1,
        ),
    )
    .expect("authoring test step");
    let out = ok(
        dir,
        &[
            "rules",
            "diff",
            "marketing@1.0.0",
            pkg.to_str().expect("authoring test step"),
        ],
    );
    for want in [
        "version: 1.0.0 -> 1.1.0",
        "limits.max_call_levels: 16 -> 12",
        "sources.oa.training_score aliases: [培训成绩] -> [培训成绩, 培训分]",
        "sources.crm.collection_rate decimals: any -> 4",
        "file changed: policy.rhai",
        "-        #{ sales: 0.60, customer: 0.20, teamwork: 0.20 }), 2);",
        "+        #{ sales: 0.55, customer: 0.25, teamwork: 0.20 }), 2);",
    ] {
        assert!(out.contains(want), "{want} not in\n{out}");
    }
    let same = ok(
        dir,
        &[
            "rules",
            "diff",
            "marketing@1.0.0",
            repo()
                .join("rules/marketing-v1")
                .to_str()
                .expect("authoring test step"),
        ],
    );
    assert!(same.contains("identical packages"), "{same}");
    // two published versions
    w.publish_rules("marketing-v2");
    let both = ok(
        dir,
        &["rules", "diff", "marketing@1.0.0", "marketing@2.0.0"],
    );
    assert!(both.contains("version: 1.0.0 -> 2.0.0"), "{both}");
    assert!(
        both.contains("+        #{ sales: 0.50, customer: 0.30, teamwork: 0.20 }), 2);"),
        "{both}"
    );
}

#[test]
fn ranking_csv_for_excel_has_a_bom_and_crlf() {
    let tmp = tempfile::tempdir().expect("authoring test step");
    let dir = tmp.path();
    let root = repo().join("rules/marketing-v1/tests/bands-below-10");
    let arg = |s: &str| format!("{s}={}", root.join(format!("{s}.csv")).display());
    let (crm, survey, oa) = (arg("crm"), arg("survey"), arg("oa"));
    let rules = repo().join("rules/marketing-v1");
    let base = [
        "rank",
        "--rules",
        rules.to_str().expect("authoring test step"),
        "--period",
        "2025-Q1",
        "--input",
        &crm,
        "--input",
        &survey,
        "--input",
        &oa,
    ];
    let plain = rankproof(dir, &[&base[..], &["--format", "csv"]].concat());
    let excel = rankproof(dir, &[&base[..], &["--format", "csv-excel"]].concat());
    assert!(
        plain.status.success() && excel.status.success(),
        "{}{}",
        text(&plain),
        text(&excel)
    );
    assert!(excel.stdout.starts_with(b"\xEF\xBB\xBF"));
    let e = String::from_utf8(excel.stdout[3..].to_vec()).expect("authoring test step");
    let p = String::from_utf8(plain.stdout.clone()).expect("authoring test step");
    assert_eq!(e.replace("\r\n", "\n"), p);
    assert!(e.contains("王伟") && e.contains("\r\n"));
}
