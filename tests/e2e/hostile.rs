//! Hostile rule scripts through the real binary: each is stopped with a
//! clear error (naming the limit or the refused feature, and the script
//! position where there is one), `rules check` fails, `rules publish` is
//! refused, and the ledger does not change.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::rankproof;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// (what, code placed at the start of `fn score`, words the error must hold)
const HOSTILE: &[(&str, &str, &[&str])] = &[
    (
        "unbounded loop",
        "let i = 0; loop { i += 1; }",
        &["operations", "line"],
    ),
    (
        "busy while",
        "let i = 0; while true { i += 1; }",
        &["operations", "line"],
    ),
    ("deep recursion", "fn_deep(0);", &["call", "line"]),
    (
        "huge string",
        "let s = \"x\"; loop { s += s; }",
        &["string", "line"],
    ),
    (
        "huge array",
        "let a = []; loop { a.push(1); }",
        &["array", "line"],
    ),
    (
        "huge map",
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        // rhai checks a map's size when it is passed on, not on every
        // index assignment: the operations limit stops this one first.
        &["limit", "line"],
    ),
    ("eval", "eval(\"1\");", &["eval"]),
    ("print", "print(\"leak\");", &["print"]),
    ("debug", "debug(\"leak\");", &["debug"]),
    ("clock", "let t = timestamp();", &["timestamp"]),
    ("float", "let f = to_float(1);", &["to_float"]),
    (
        "file access",
        "let f = open_file(\"/etc/passwd\");",
        &["open_file"],
    ),
];

#[test]
fn hostile_scripts_are_stopped_and_never_published() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let new_key = |name: &str, file: &str| -> String {
        let o = rankproof(dir, &["key", "new", "--name", name, "--out", file]);
        assert!(o.status.success(), "{}", text(&o));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .expect("vkey")
            .trim()
            .to_string()
    };
    new_key("hostile.example/log", "log.key");
    let admin = new_key("admin", "admin.key");
    let hr = new_key("hr", "hr.key");
    let o = rankproof(
        dir,
        &[
            "init",
            "--origin",
            "hostile.example/log",
            "--log-key",
            "log.key",
            "--admin",
            &admin,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = rankproof(
        dir,
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            &hr,
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let log_before = rankproof(dir, &["log", "--format", "json"]).stdout;

    let original = repo().join("rules/marketing-v1");
    let script = fs::read_to_string(original.join("policy.rhai")).expect("policy");
    let mut stopped = 0;
    for (i, (what, code, words)) in HOSTILE.iter().enumerate() {
        let pkg = dir.join(format!("pkg{i}"));
        copy_dir(&original, &pkg);
        let hostile = script.replacen(
            "fn score(row, cohort) {",
            &format!("fn fn_deep(n) {{ fn_deep(n + 1) }}\nfn score(row, cohort) {{\n    {code}"),
            1,
        );
        assert_ne!(hostile, script, "the hook point exists");
        fs::write(pkg.join("policy.rhai"), hostile).expect("write");
        let pkg_s = pkg.to_str().expect("utf-8");

        let check = rankproof(dir, &["rules", "check", pkg_s]);
        assert_ne!(check.status.code(), Some(0), "{what}: rules check passed");
        let out = text(&check).to_lowercase();
        for w in *words {
            assert!(
                out.contains(w),
                "{what}: the error does not mention {w:?}:\n{out}"
            );
        }
        assert!(!out.contains("leak\n"), "{what}: the script printed");
        assert!(!out.contains("panicked"), "{what}: panic\n{out}");

        let publish = rankproof(dir, &["rules", "publish", "--signer", "hr.key", pkg_s]);
        assert_eq!(publish.status.code(), Some(2), "{what}: {}", text(&publish));
        let dry = rankproof(
            dir,
            &[
                "rank",
                "--rules",
                pkg_s,
                "--period",
                "2025-Q1",
                "--input",
                &format!("crm={}", repo().join("examples/crm.csv").display()),
                "--input",
                &format!("survey={}", repo().join("examples/survey.csv").display()),
                "--input",
                &format!("oa={}", repo().join("examples/oa.csv").display()),
            ],
        );
        assert_eq!(dry.status.code(), Some(2), "{what}: {}", text(&dry));
        assert!(!text(&dry).contains("panicked"), "{what}: panic");
        stopped += 1;
    }
    assert_eq!(
        rankproof(dir, &["log", "--format", "json"]).stdout,
        log_before,
        "a hostile package changed the ledger"
    );
    eprintln!(
        "hostile scripts: {stopped} of {} stopped with a clear error; ledger unchanged",
        HOSTILE.len()
    );
}
