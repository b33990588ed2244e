//! Hostile rule scripts through the real binary: each is stopped with a
//! clear error (naming the limit or the refused feature, and the script
//! position where there is one), `rules check` fails, `rules publish` is
//! refused, and the ledger does not change.

use std::fs;

use crate::support::{copy_dir, rankproof, repo, text, World};

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
    let w = World::new("hostile.example/log");
    let dir = w.dir();
    let log_before = rankproof(dir, &["log", "--format", "json"]).stdout;

    let original = repo().join("rules/marketing-v1");
    let script = fs::read_to_string(original.join("policy.rhai")).expect("policy");
    let mut stopped = 0;
    for (i, (what, code, words)) in HOSTILE.iter().enumerate() {
        let pkg = dir.join(format!("pkg{i}"));
        copy_dir(&original, &pkg);
        let hostile = script.replacen(
            "fn score(c) {",
            &format!("fn fn_deep(n) {{ fn_deep(n + 1) }}\nfn score(c) {{\n    {code}"),
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
