//! Engine commands end to end: rules check, dry-run rank (engine work).

#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::path::{Path, PathBuf};
use std::process::Output;

use unicode_width::UnicodeWidthStr;

use crate::support::rankproof;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn rank_examples(extra: &[&str]) -> Output {
    rank_examples_in("2025-Q1", extra)
}

fn rank_examples_in(period: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "rank",
        "--rules",
        "rules/marketing-v1",
        "--input",
        "crm=examples/crm.csv",
        "--input",
        "survey=examples/survey.csv",
        "--input",
        "oa=examples/oa.csv",
        "--period",
        period,
    ];
    args.extend_from_slice(extra);
    rankproof(&repo(), &args)
}

/// Copy a directory tree (for editing a package in a temp dir).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn rules_check_passes_for_both_marketing_versions() {
    for (dir, id) in [
        ("rules/marketing-v1", "marketing@1.0.0"),
        ("rules/marketing-v2", "marketing@2.0.0"),
    ] {
        let o = rankproof(&repo(), &["rules", "check", dir]);
        assert_eq!(o.status.code(), Some(0), "{}", show(&o));
        let out = text(&o.stdout);
        assert!(out.contains(&format!("package {id}")), "{out}");
        assert!(out.contains("PASS  tie-across-grade-boundary"), "{out}");
        assert!(out.contains("6 cases: 6 passed, 0 failed"), "{out}");
    }
}

#[test]
fn rules_md_worked_example_passes() {
    let o = rankproof(&repo(), &["rules", "check", "examples/rules/callcentre"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(text(&o.stdout).contains("PASS  basic"), "{}", show(&o));
}

#[test]
fn rules_check_reports_a_failing_case_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let exp = pkg.join("tests/zero-leads-zero-prev/expected.json");
    let s = std::fs::read_to_string(&exp)
        .unwrap()
        .replacen("\"67.3\"", "\"67.31\"", 1);
    std::fs::write(&exp, s).unwrap();
    let o = rankproof(tmp.path(), &["rules", "check", "pkg"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(out.contains("FAIL  zero-leads-zero-prev"), "{out}");
    assert!(
        out.contains("results[0].total (staff S1): expected \"67.31\", actual \"67.3\""),
        "{out}"
    );
}

#[test]
fn rules_check_refuses_a_broken_package_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = rankproof(tmp.path(), &["rules", "check", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("the package has no `package.toml`"),
        "{}",
        show(&o)
    );

    let pkg = tmp.path().join("pkg");
    copy_dir(&repo().join("rules/marketing-v1"), &pkg);
    let script = pkg.join("policy.rhai");
    let s = std::fs::read_to_string(&script).unwrap();
    std::fs::write(
        &script,
        s.replacen("fn score(c) {", "fn score(c) {\n    loop { }", 1),
    )
    .unwrap();
    let o = rankproof(tmp.path(), &["rules", "check", "pkg"]);
    // the script compiles but every case now fails, stopped by max_operations
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains("stopped by limit max_operations = 100000"),
        "{out}"
    );
    assert!(out.contains("policy.rhai: line "), "{out}");
}

#[test]
fn rank_json_has_every_field_in_position_order() {
    let o = rank_examples(&["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["package"]["name"], "marketing");
    assert_eq!(j["period"], "2025-Q1");
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 60);
    let mut last_total: Option<rust_decimal::Decimal> = None;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["position"].as_u64(), Some(i as u64 + 1));
        assert!(r["rank"].as_u64().unwrap() <= i as u64 + 1);
        for k in ["staff_id", "name", "region", "team", "grade"] {
            assert!(r[k].is_string(), "{k}: {r}");
        }
        for k in ["sales", "customer", "teamwork", "total", "bonus_multiplier"] {
            let s = r[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} must be a string"));
            assert!(
                !s.contains('e') && !s.ends_with(".0") && !s.starts_with('+'),
                "{k} = {s}"
            );
        }
        let total: rust_decimal::Decimal = r["total"].as_str().unwrap().parse().unwrap();
        if let Some(prev) = last_total {
            assert!(total <= prev, "position order is total descending");
        }
        last_total = Some(total);
    }
    // the output is the canonical document: one line, no insignificant space
    let body = o.stdout.strip_suffix(b"\n").unwrap();
    assert!(!body.contains(&b'\n') && !body.starts_with(b"{ "));
    assert!(
        body.starts_with(b"{\"engine_version\":"),
        "members in JCS order"
    );
}

#[test]
fn rank_output_is_identical_at_any_thread_count() {
    let one = {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rankproof"));
        c.current_dir(repo()).env("RAYON_NUM_THREADS", "1");
        c.args([
            "rank",
            "--rules",
            "rules/marketing-v1",
            "--input",
            "crm=examples/crm.csv",
            "--input",
            "survey=examples/survey.csv",
            "--input",
            "oa=examples/oa.csv",
            "--period",
            "2025-Q1",
            "--format",
            "json",
        ]);
        c.output().unwrap()
    };
    let four = {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_rankproof"));
        c.current_dir(repo()).env("RAYON_NUM_THREADS", "4");
        c.args([
            "rank",
            "--rules",
            "rules/marketing-v1",
            "--input",
            "crm=examples/crm.csv",
            "--input",
            "survey=examples/survey.csv",
            "--input",
            "oa=examples/oa.csv",
            "--period",
            "2025-Q1",
            "--format",
            "json",
        ]);
        c.output().unwrap()
    };
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(one.stdout, four.stdout);
}

#[test]
fn rank_table_is_aligned_for_chinese_text_and_shows_quota() {
    let o = rank_examples(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("position"))
        .unwrap();
    // every row has its `total` column ending at the same display column
    let col_end = |l: &str, idx: usize| -> usize {
        // columns are separated by runs of two or more spaces
        let mut w = 0;
        let mut n = 0;
        let mut in_gap = true;
        let chars: Vec<char> = l.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            let gap =
                *c == ' ' && (chars.get(i + 1) == Some(&' ') || (i > 0 && chars[i - 1] == ' '));
            if in_gap && !gap {
                n += 1;
            }
            if !in_gap && gap && n == idx {
                return w;
            }
            in_gap = gap;
            w += c.to_string().width();
        }
        w
    };
    let total_col = 10; // position rank staff_id name region team sales customer teamwork total
    let want = col_end(lines[header], total_col);
    for l in &lines[header + 2..header + 62] {
        assert_eq!(col_end(l, total_col), want, "misaligned: {l}");
    }
    assert!(
        lines[header + 2].contains('华') || out.contains("华东"),
        "{out}"
    );
    assert!(out.contains("grade distribution"), "{out}");
    assert!(out.contains("S          3      3  at quota"), "{out}");
}

#[test]
fn rank_csv_has_a_header_and_one_line_per_staff() {
    let o = rank_examples(&["--format", "csv"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = text(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "staff_id,name,region,team,sales,customer,teamwork,total,position,rank,grade,bonus_multiplier,flags");
    assert_eq!(lines.len(), 61);
}

#[test]
fn bad_inputs_exit_2_with_file_line_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let crm = std::fs::read_to_string(repo().join("examples/crm.csv")).unwrap();
    let mut lines: Vec<String> = crm.lines().map(str::to_owned).collect();
    // line 5: collection rate out of range
    let mut cells: Vec<String> = lines[4].split(',').map(str::to_owned).collect();
    let last = cells.len() - 1;
    cells[last] = "1.2".into();
    lines[4] = cells.join(",");
    std::fs::write(tmp.path().join("crm.csv"), lines.join("\n")).unwrap();
    let rules = repo().join("rules/marketing-v1");
    let survey = repo().join("examples/survey.csv");
    let oa = repo().join("examples/oa.csv");
    let args = |crm: &str| {
        vec![
            "rank".to_owned(),
            "--rules".to_owned(),
            rules.to_str().unwrap().to_owned(),
            "--input".to_owned(),
            format!("crm={crm}"),
            "--input".to_owned(),
            format!("survey={}", survey.display()),
            "--input".to_owned(),
            format!("oa={}", oa.display()),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        rankproof(tmp.path(), &a)
    };
    let o = run(args("crm.csv"));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        text(&o.stderr).contains(
            "crm.csv: line 5, column `collection_rate`: 1.2 is outside the allowed range [0, 1]"
        ),
        "{}",
        show(&o)
    );

    // a staff member missing from crm
    let short: Vec<&str> = crm.lines().filter(|l| !l.starts_with("E000007,")).collect();
    std::fs::write(tmp.path().join("short.csv"), short.join("\n")).unwrap();
    let o = run(args("short.csv"));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("staff `E000007`")
            && text(&o.stderr).contains("missing from source `crm`"),
        "{}",
        show(&o)
    );

    // empty file, missing file, bad --input, unknown source, bad period
    std::fs::write(tmp.path().join("empty.csv"), "").unwrap();
    let o = run(args("empty.csv"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("empty.csv: the file has no data rows"),
        "{}",
        show(&o)
    );
    let o = run(args("nope.csv"));
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot read nope.csv"),
        "{}",
        show(&o)
    );
    let mut a = args("crm.csv");
    a[4] = "crm".into();
    let o = run(a);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("write SOURCE=FILE"),
        "{}",
        show(&o)
    );
    let mut a = args("crm.csv");
    a[4] = "hr=crm.csv".into();
    let o = run(a);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no source `hr`"), "{}", show(&o));
    let o = rank_examples_in("2025-Q5", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("`2025-Q5` is not a period"),
        "{}",
        show(&o)
    );
    let o = rank_examples_in("2024-12", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("outside the package's effective span"),
        "{}",
        show(&o)
    );
}

#[test]
fn gen_writes_a_cohort_that_ranks() {
    let tmp = tempfile::tempdir().unwrap();
    let o = rankproof(
        tmp.path(),
        &["gen", "--n", "25", "--seed", "7", "--out", "c"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let rules = repo().join("rules/marketing-v2");
    let o = rankproof(
        tmp.path(),
        &[
            "rank",
            "--rules",
            rules.to_str().unwrap(),
            "--input",
            "crm=c/crm.csv",
            "--input",
            "survey=c/survey.csv",
            "--input",
            "oa=c/oa.csv",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["n"], 25);
    assert_eq!(j["package"]["version"], "2.0.0");
    assert_eq!(j["period"], "2025-01");
}
