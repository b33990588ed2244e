//! The product's journeys end to end on a real sled ledger: HR publishes
//! rules, stewards record inputs, the operator publishes a ranking, the
//! auditor verifies and replays (from the ledger and from a bundle), staff
//! check receipts; and the failure paths, each leaving the ledger unchanged.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{copy_dir, fails, new_key, ok, publish_args, rankproof, repo, text, World};

fn log_len(dir: &Path) -> usize {
    let out = ok(dir, &["log", "--format", "json"]);
    let v: Value = serde_json::from_str(&out).expect("log --format json is JSON");
    v.as_array()
        .or_else(|| v.get("entries").and_then(Value::as_array))
        .map(Vec::len)
        .expect("log lists entries")
}

fn world() -> World {
    World::new("test.example/ledger")
}

fn publish_v1(w: &World) {
    w.publish_rules("marketing-v1");
}

fn record(w: &World, period: &str, source: &str, file: &Path) -> Output {
    rankproof(
        w.dir(),
        &[
            "input",
            "record",
            "--signer",
            "steward.key",
            "--period",
            period,
            "--source",
            source,
            file.to_str().expect("utf-8 path"),
        ],
    )
}

fn record_examples(w: &World) {
    for s in ["crm", "survey", "oa"] {
        let o = record(w, "2025-Q1", s, &repo().join(format!("examples/{s}.csv")));
        assert!(o.status.success(), "{}", text(&o));
    }
}

/// Publish the example ranking; returns the printed JSON.
fn publish_ranking(w: &World) -> Value {
    let out = ok(
        w.dir(),
        &[&publish_args("operator.key")[..], &["--format", "json"]].concat(),
    );
    serde_json::from_str(&out).expect("rank --format json prints JSON")
}

#[test]
fn publish_record_rank_verify_replay_receipt_journey() {
    let w = world();
    publish_v1(&w);
    record_examples(&w);
    let published = publish_ranking(&w);
    let id = published["ranking"].as_u64().expect("the ranking ID");
    let results = published["results"].as_array().expect("results");
    assert_eq!(results.len(), 60);
    assert_eq!(results[0]["position"], 1);
    for field in [
        "staff_id",
        "name",
        "region",
        "team",
        "sales",
        "customer",
        "teamwork",
        "total",
        "rank",
        "grade",
        "bonus_multiplier",
    ] {
        assert!(results[0].get(field).is_some(), "results carry {field}");
    }

    // A ledger dry run gives the same results as the published ranking.
    let dry: Value = serde_json::from_str(&ok(
        w.dir(),
        &[
            "rank",
            "--period",
            "2025-Q1",
            "--rules",
            "marketing@1.0.0",
            "--format",
            "json",
        ],
    ))
    .expect("JSON");
    assert_eq!(dry["results"], published["results"]);

    ok(w.dir(), &["verify"]);
    let replay = ok(w.dir(), &["replay", "--all"]);
    assert!(replay.contains("matches"), "{replay}");
    assert!(replay.contains("1 of 1 ranking(s) replayed"), "{replay}");
    let id_s = id.to_string();
    ok(w.dir(), &["replay", "--ranking", &id_s]);

    // explain shows the inputs, dimensions, weights and the rules applied.
    let staff = results[5]["staff_id"]
        .as_str()
        .expect("staff id")
        .to_string();
    let explain = ok(w.dir(), &["explain", "--ranking", &id_s, "--staff", &staff]);
    for needle in ["sales_amount", "weight", "contribution", "grade", "bonus"] {
        assert!(
            explain.contains(needle),
            "explain shows {needle}:\n{explain}"
        );
    }

    // The staff member's receipt verifies offline and shows their result.
    ok(
        w.dir(),
        &[
            "receipt",
            "issue",
            "--ranking",
            &id_s,
            "--staff",
            &staff,
            "--out",
            "r.json",
        ],
    );
    let shown = ok(
        w.dir(),
        &["receipt", "verify", "r.json", "--log-vkey", &w.log_vkey],
    );
    assert!(shown.contains(&staff), "{shown}");
    assert!(
        shown.contains(results[5]["total"].as_str().expect("total")),
        "{shown}"
    );

    // Any edit to the receipt fails verification with exit 1.
    let receipt = fs::read_to_string(w.dir().join("r.json")).expect("receipt");
    let grade = results[5]["grade"].as_str().expect("grade");
    let other = if grade == "S" { "A" } else { "S" };
    let edits = [
        receipt.replace(
            &format!("\"grade\": \"{grade}\""),
            &format!("\"grade\": \"{other}\""),
        ),
        receipt.replace("\"leaf_index\": 5", "\"leaf_index\": 4"),
        receipt.replacen("\"salt\": \"", "\"salt\": \"0", 1),
    ];
    for (i, forged) in edits.iter().enumerate() {
        assert_ne!(forged, &receipt, "edit {i} changed something");
        let path = format!("forged{i}.json");
        fs::write(w.dir().join(&path), forged).expect("write");
        fails(
            w.dir(),
            &["receipt", "verify", &path, "--log-vkey", &w.log_vkey],
            1,
        );
    }
    // A flipped hex digit of the salt.
    let v: Value = serde_json::from_str(&receipt).expect("receipt JSON");
    let salt = v["salt"].as_str().expect("salt");
    let flipped = format!(
        "{}{}",
        if salt.starts_with('0') { '1' } else { '0' },
        &salt[1..]
    );
    fs::write(w.dir().join("salt.json"), receipt.replace(salt, &flipped)).expect("write");
    fails(
        w.dir(),
        &["receipt", "verify", "salt.json", "--log-vkey", &w.log_vkey],
        1,
    );
    // The wrong log key.
    let other_log = new_key(w.dir(), "test.example/ledger", "other-log.key");
    fails(
        w.dir(),
        &["receipt", "verify", "r.json", "--log-vkey", &other_log],
        1,
    );

    // Receipts for everyone.
    ok(
        w.dir(),
        &[
            "receipt",
            "issue",
            "--ranking",
            &id_s,
            "--all",
            "--out",
            "all",
        ],
    );
    assert_eq!(fs::read_dir(w.dir().join("all")).expect("dir").count(), 60);

    // The auditor: bundle only, with the log key.
    ok(w.dir(), &["export", "--out", "bundle"]);
    fs::remove_dir_all(w.dir().join("ledger")).expect("the ledger is gone");
    ok(
        w.dir(),
        &["verify", "--bundle", "bundle", "--log-vkey", &w.log_vkey],
    );
    let replay = ok(
        w.dir(),
        &[
            "replay",
            "--all",
            "--bundle",
            "bundle",
            "--log-vkey",
            &w.log_vkey,
        ],
    );
    assert!(replay.contains("matches"), "{replay}");

    // A blob swapped in the bundle: the replay refuses it (exit 1).
    let blobs = w.dir().join("bundle/blobs");
    let first = fs::read_dir(&blobs)
        .expect("blobs")
        .next()
        .expect("a blob")
        .expect("entry")
        .path();
    fs::write(&first, b"not the recorded bytes").expect("write");
    fails(
        w.dir(),
        &[
            "replay",
            "--all",
            "--bundle",
            "bundle",
            "--log-vkey",
            &w.log_vkey,
        ],
        1,
    );
}

#[test]
fn refusals_write_nothing() {
    let w = world();
    let v1 = repo().join("rules/marketing-v1");
    let v1s = v1.to_str().expect("utf-8");
    let before = log_len(w.dir());
    // Wrong role: a steward cannot publish rules.
    fails(
        w.dir(),
        &["rules", "publish", "--signer", "steward.key", v1s],
        2,
    );
    assert_eq!(log_len(w.dir()), before);
    publish_v1(&w);
    let after_publish = log_len(w.dir());
    // Publishing the same version again with the same content is a no-op.
    ok(w.dir(), &["rules", "publish", "--signer", "hr.key", v1s]);
    // The same name and version with different content is refused.
    let changed = w.dir().join("changed");
    copy_dir(&v1, &changed);
    let manifest = changed.join("package.toml");
    let mut m = fs::read_to_string(&manifest).expect("manifest");
    m = m.replacen("description = \"", "description = \"(edited) ", 1);
    fs::write(&manifest, m).expect("write");
    let out = fails(
        w.dir(),
        &[
            "rules",
            "publish",
            "--signer",
            "hr.key",
            changed.to_str().expect("utf-8"),
        ],
        2,
    );
    assert!(out.contains("never changes"), "{out}");
    // A package whose own test cases fail is refused.
    let broken = w.dir().join("broken");
    copy_dir(&v1, &broken);
    let bm = broken.join("package.toml");
    let m = fs::read_to_string(&bm).expect("manifest").replacen(
        "version = \"1.0.0\"",
        "version = \"1.0.1\"",
        1,
    );
    fs::write(&bm, m).expect("write");
    let script = broken.join("policy.rhai");
    let s = fs::read_to_string(&script).expect("script");
    fs::write(
        &script,
        s.replacen("attainment_pts: 0.55", "attainment_pts: 0.56", 1),
    )
    .expect("write");
    fails(
        w.dir(),
        &[
            "rules",
            "publish",
            "--signer",
            "hr.key",
            broken.to_str().expect("utf-8"),
        ],
        2,
    );
    assert_eq!(log_len(w.dir()), after_publish);

    // A bad dataset: refused with the file and line, nothing recorded.
    let crm = fs::read_to_string(repo().join("examples/crm.csv")).expect("crm");
    let mut lines: Vec<String> = crm.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen(',', ",,", 1);
    let bad = w.dir().join("bad-crm.csv");
    fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let o = record(&w, "2025-Q1", "crm", &bad);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad-crm.csv"), "{}", text(&o));
    // A duplicate staff ID.
    let dup = w.dir().join("dup-crm.csv");
    let mut d = lines.clone();
    d[3] = crm.lines().nth(2).expect("row").to_string();
    fs::write(&dup, d.join("\n") + "\n").expect("write");
    let o = record(&w, "2025-Q1", "crm", &dup);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // An unknown source, and a period outside the package's effective range.
    let o = record(&w, "2025-Q1", "payroll", &repo().join("examples/crm.csv"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = record(&w, "1999-Q1", "crm", &repo().join("examples/crm.csv"));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The operator key cannot record inputs.
    let o = rankproof(
        w.dir(),
        &[
            "input",
            "record",
            "--signer",
            "operator.key",
            "--period",
            "2025-Q1",
            "--source",
            "crm",
            repo().join("examples/crm.csv").to_str().expect("utf-8"),
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(log_len(w.dir()), after_publish);

    // Ranking with a source missing: refused, nothing written.
    let o = record(&w, "2025-Q1", "crm", &repo().join("examples/crm.csv"));
    assert!(o.status.success(), "{}", text(&o));
    let n = log_len(w.dir());
    fails(w.dir(), &publish_args("operator.key"), 2);
    // The wrong role cannot publish a ranking even when inputs are complete.
    for s in ["survey", "oa"] {
        let o = record(&w, "2025-Q1", s, &repo().join(format!("examples/{s}.csv")));
        assert!(o.status.success(), "{}", text(&o));
    }
    fails(w.dir(), &publish_args("hr.key"), 2);
    assert_eq!(log_len(w.dir()), n + 2);
}

#[test]
fn dry_run_agrees_with_the_independent_oracle_on_random_cohorts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let oracle = repo().join("tests/oracle");
    let cases: [(&str, &[&str], &str); 4] = [
        ("150", &[], "1.0.0"),
        ("7", &["--small"], "1.0.0"),
        ("40", &["--all-zero-leads"], "1.0.0"),
        ("120", &[], "2.0.0"),
    ];
    for (seed, (n, extra, version)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("c{seed}"));
        let mut gen = Command::new("python3");
        gen.arg(oracle.join("gen_cohort.py"))
            .args(["--n", n, "--seed", &(seed + 11).to_string(), "--out"])
            .arg(&out)
            .args(*extra);
        let o = gen.output().expect("python3 runs");
        assert!(o.status.success(), "gen_cohort: {}", text(&o));
        let f = |s: &str| out.join(format!("{s}.csv")).to_string_lossy().into_owned();
        let expected = Command::new("python3")
            .arg(oracle.join("marketing.py"))
            .args([
                "--crm",
                &f("crm"),
                "--survey",
                &f("survey"),
                "--oa",
                &f("oa"),
            ])
            .args(["--rules-version", version])
            .output()
            .expect("python3 runs");
        assert!(expected.status.success(), "oracle: {}", text(&expected));
        let pkg = if *version == "1.0.0" {
            "rules/marketing-v1"
        } else {
            "rules/marketing-v2"
        };
        let pkg = repo().join(pkg);
        let got = rankproof(
            tmp.path(),
            &[
                "rank",
                "--rules",
                pkg.to_str().expect("utf-8"),
                "--period",
                "2025-Q1",
                "--input",
                &format!("crm={}", f("crm")),
                "--input",
                &format!("survey={}", f("survey")),
                "--input",
                &format!("oa={}", f("oa")),
                "--format",
                "json",
            ],
        );
        assert!(got.status.success(), "rank: {}", text(&got));
        fs::write(out.join("expected.json"), &expected.stdout).expect("write");
        fs::write(out.join("got.json"), &got.stdout).expect("write");
        let cmp = Command::new("python3")
            .arg(oracle.join("compare.py"))
            .arg(out.join("expected.json"))
            .arg(out.join("got.json"))
            .output()
            .expect("python3 runs");
        assert!(
            cmp.status.success(),
            "cohort {seed} (n={n} {extra:?} v{version}) differs:\n{}",
            text(&cmp)
        );
    }
}

/// The replay promise of RULES.md section 3: the rankings recorded by the
/// engine that shipped script API 2 (an audit bundle of a real ledger,
/// written once by `scripts/make-replay-fixture.sh`) replay byte for byte in
/// this build. The result hashes are pinned here as well as signed in the
/// bundle, so a regenerated fixture shows in review. If this fails, the
/// engine changed published results: that needs a new script API, not a
/// new fixture.
#[test]
fn recorded_script_api_2_rankings_replay_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = repo().join("tests/e2e/data");
    let bundle = data.join("replay-api2");
    let key = fs::read_to_string(data.join("replay-api2.log-vkey")).expect("log key");
    let bundle = bundle.to_str().expect("utf-8");
    let args = ["--bundle", bundle, "--log-vkey", key.trim()];
    let verified = ok(tmp.path(), &[&["verify"][..], &args].concat());
    assert!(verified.contains("3 packages' own cases run"), "{verified}");
    let out = ok(tmp.path(), &[&["replay", "--all"][..], &args].concat());
    for (ranking, hash) in [
        (
            "ranking 10 (2025-Q1 marketing@1.0.0, 300 staff)",
            "9bb6c10b9552f8e5fc06e53eaac029b2d6d40284fce0fcbb6fd8a709b581978e",
        ),
        (
            "ranking 14 (2025-Q2 marketing@2.0.0, 300 staff)",
            "37e1d3727b780b11fa1e573bb361b17b924f688747098fdad194bedc0d56f0f0",
        ),
        (
            "ranking 16 (2025-01 callcentre@0.1.0, 5 staff)",
            "3019ba2d303d11f80f3b8b29f4d3a6b2f4682042c0efdb23982e812afc29f07c",
        ),
    ] {
        assert!(
            out.contains(&format!("{ranking}: replayed, result {hash} matches")),
            "{ranking}:\n{out}"
        );
    }
    assert!(
        out.contains("3 of 3 ranking(s) replayed to the published result"),
        "{out}"
    );
}

/// The worked example of FORMAT.md §12.1 verifies with its log key, and any
/// edit to it fails.
#[test]
fn receipt_worked_example_verifies() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let example = repo().join("tests/e2e/data/receipt-example.json");
    let key = "example.org/ranking-log+c92ccd3b+AWy2Bv6+GYvvwBd0aoe/EemGcUVhb1hLkSspNQDswcDd";
    let verify = |extra: &[&str]| {
        let args = ["receipt", "verify", example.to_str().expect("utf-8")];
        ok(
            tmp.path(),
            &[&args[..], &["--log-vkey", key], extra].concat(),
        )
    };
    let shown = verify(&[]);
    assert!(
        shown.contains("E000001") && shown.contains("唐洋"),
        "{shown}"
    );
    // The record's arithmetic is checked (FORMAT.md §12, check 7), and
    // every score's terms are shown with their sum and the reported score.
    for line in [
        "  arithmetic checked: 15 terms of 4 scores add up exactly; \
         4 reported scores rounded half up to 2 places",
        "  sales = 82.037815",
        "  term                  value  weight  contribution",
        "  growth_pts        79.411765    0.15   11.91176475",
        "  sum: 55 + 4.4117646 + 11.91176475 + 10.71428565 = 82.037815, reported 82.04",
        "  innovation_pts    100    0.15            15",
        "  total = 81.43",
        "  sum: 15.9 + 49.222689 + 16.311 = 81.433689, reported 81.43",
        "    rounded to places: 2",
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "the output has the line {line:?}:\n{shown}"
        );
    }
    // The JSON output carries the explanation and what the check found.
    let json: Value = serde_json::from_str(&verify(&["--format", "json"])).expect("JSON");
    assert_eq!(
        json["explain"]["scoring"]["teamwork"]["terms"]["share_pts"],
        serde_json::json!([100, "0.15", "15"])
    );
    assert_eq!(
        json["arithmetic"],
        serde_json::json!({"scores": 4, "terms": 15, "reported": 4, "report_decimals": 2})
    );
    let text = fs::read_to_string(&example).expect("example");
    for (from, to) in [
        ("\"grade\": \"A\"", "\"grade\": \"S\""),
        ("\"total\": \"81.43\"", "\"total\": \"91.43\""),
        ("\"leaf_index\": 0", "\"leaf_index\": 1"),
    ] {
        assert!(text.contains(from), "the example holds {from}");
        let forged = tmp.path().join("forged.json");
        fs::write(&forged, text.replacen(from, to, 1)).expect("write");
        fails(
            tmp.path(),
            &[
                "receipt",
                "verify",
                forged.to_str().expect("utf-8"),
                "--log-vkey",
                key,
            ],
            1,
        );
    }
}
