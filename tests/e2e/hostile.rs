//! Hostile rule scripts through the real binary: each is stopped with a
//! clear error (naming the limit or the refused feature, and the script
//! position where there is one), `rules check` fails, `rules publish` is
//! refused, and the ledger does not change.

use std::fs;

use crate::support::{copy_dir, rankproof, repo, text, World};

/// Where a hostile snippet goes in the marketing policy.
#[derive(Clone, Copy)]
enum At {
    /// On its own line at the start of `fn score` (the line is checked).
    Score,
    /// On its own line at the top of the script, before every function
    /// (line 1).
    Top,
}

/// (what, where, code, words the error must hold, whether the error must
/// name the code's line). The first 12 are the original snippets; the
/// rest are the issue-9 sandbox attacks and the issue-10 type errors.
const HOSTILE: &[(&str, At, &str, &[&str], bool)] = &[
    (
        "unbounded loop",
        At::Score,
        "let i = 0; loop { i += 1; }",
        &["stopped by limit max_operations = 100000"],
        true,
    ),
    (
        "busy while",
        At::Score,
        "let i = 0; while true { i += 1; }",
        &["stopped by limit max_operations = 100000"],
        true,
    ),
    (
        "deep recursion",
        At::Score,
        "fn_deep(0);",
        &["stopped by limit max_call_levels = 16"],
        false,
    ),
    (
        "huge string",
        At::Score,
        "let s = \"x\"; loop { s += s; }",
        &["stopped by limit max_string_size = 4096"],
        true,
    ),
    (
        "huge array",
        At::Score,
        "let a = []; loop { a.push(1); }",
        &["stopped by limit max_array_size = 256"],
        true,
    ),
    (
        "huge map",
        At::Score,
        "let m = #{}; let i = 0; loop { m[`k${i}`] = i; i += 1; }",
        // rhai checks a map's size when it is passed on, not on every
        // index assignment: the operations limit stops this one first.
        &["stopped by limit max_operations = 100000"],
        true,
    ),
    (
        "column arithmetic in a loop",
        At::Score,
        "let x = c.sales_amount; loop { x = x + 1; }",
        &["stopped by limit max_element_operations = 400"],
        true,
    ),
    (
        "hoarding columns",
        At::Score,
        "let v = []; loop { v.push(c.sales_amount * 1); }",
        &["stopped by limit max_column_bytes = 2048"],
        true,
    ),
    ("eval", At::Score, "eval(\"1\");", &["eval"], true),
    ("print", At::Score, "print(\"leak\");", &["print"], true),
    ("debug", At::Score, "debug(\"leak\");", &["debug"], true),
    (
        "clock",
        At::Score,
        "let t = timestamp();",
        &["timestamp"],
        true,
    ),
    (
        "float",
        At::Score,
        "let f = to_float(1);",
        &["to_float"],
        true,
    ),
    (
        "file access",
        At::Score,
        "let f = open_file(\"/etc/passwd\");",
        &["open_file"],
        true,
    ),
    // ---- issue 9: the sandbox -------------------------------------------
    (
        "sleep",
        At::Score,
        "sleep(400);",
        &["sleep is not available in rule scripts"],
        true,
    ),
    (
        "tan(PI()/2)",
        At::Score,
        "let t = tan(PI() / 2);",
        &["unknown function `pi` (called with no arguments)"],
        true,
    ),
    (
        "tan",
        At::Score,
        "let t = tan(1.5);",
        &["unknown function `tan` (called with a decimal)"],
        true,
    ),
    (
        "sqrt",
        At::Score,
        "let r = sqrt(2.0);",
        &["unknown function `sqrt` (called with a decimal)"],
        true,
    ),
    (
        "exp",
        At::Score,
        "let r = exp(1.0);",
        &["unknown function `exp` (called with a decimal)"],
        true,
    ),
    (
        "ln",
        At::Score,
        "let r = ln(2.0);",
        &["unknown function `ln` (called with a decimal)"],
        true,
    ),
    (
        "fractional power",
        At::Score,
        "let r = 2.0 ** 0.5;",
        &["`**` on decimals is not available (it approximates)"],
        true,
    ),
    (
        "integer to a fractional power",
        At::Score,
        "let r = 2 ** 0.5;",
        &["`**` on decimals is not available (it approximates)"],
        true,
    ),
    (
        "decimal division",
        At::Score,
        "let q = 1.0 / 3;",
        &["`/` is not available: divide with ratio(a, b)"],
        true,
    ),
    (
        "column division",
        At::Score,
        "let q = c.sales_amount / c.sales_target;",
        &["`/` is not available: divide with ratio(a, b)"],
        true,
    ),
    (
        "cut on a huge decimal",
        At::Score,
        "let k = cut(79228162514264337593543950335, 2);",
        &["cut: the product", "overflow"],
        true,
    ),
    (
        "cut to a huge count",
        At::Score,
        "let k = cut(0.5, 79228162514264337593543950335);",
        &["cut: the product", "inexact"],
        true,
    ),
    (
        "fn ratio",
        At::Top,
        "fn ratio(a, b) { a }",
        &["fn ratio would replace the engine's helper `ratio`"],
        true,
    ),
    (
        "fn rhu",
        At::Top,
        "fn rhu(x, d) { x }",
        &["fn rhu would replace the engine's helper `rhu`"],
        true,
    ),
    (
        "fn dec",
        At::Top,
        "fn dec(x) { x }",
        &["fn dec would replace the engine's helper `dec`"],
        true,
    ),
    (
        "closure in a value",
        At::Score,
        "let note = `${|x| x + 1}`;",
        &["closures (`|x| ...`) are not available"],
        true,
    ),
    (
        "function pointer in a value",
        At::Score,
        "let note = `${Fn(\"rhu\")}`;",
        &["reserved keyword 'fn' is disabled"],
        true,
    ),
    (
        "comparator sort",
        At::Score,
        "let a = [3, 1, 2]; a.sort(|x, y| 0.5);",
        &["closures (`|x| ...`) are not available"],
        true,
    ),
    (
        "plain sort",
        At::Score,
        "let a = [3, 1, 2]; a.sort();",
        &["unknown function `sort`"],
        true,
    ),
    (
        "product past 28 digits",
        At::Score,
        "let p = 0.0000000000000000000000000001 * 0.1;",
        &["*: ", "inexact"],
        true,
    ),
    (
        "sum past 28 digits",
        At::Score,
        "let s = 7922816251426433759354395033.5 + 0.05;",
        &["+: ", "inexact"],
        true,
    ),
    (
        "product overflow",
        At::Score,
        "let p = 79228162514264337593543950335 * 2;",
        &["*: ", "overflow"],
        true,
    ),
    // ---- issue 10: text against numbers, unknown names ------------------
    (
        "text == number",
        At::Score,
        "let t = \"12\" == 12;",
        &["type error: `==` between a text and an integer"],
        true,
    ),
    (
        "text < number",
        At::Score,
        "let t = \"12\" < 12.5;",
        &["type error: `<` between a text and a decimal"],
        true,
    ),
    (
        "text + number",
        At::Score,
        "let t = \"12\" + 1;",
        &["type error: `+` between a text and an integer"],
        true,
    ),
    (
        "text column == number",
        At::Score,
        "let t = c.region == 1;",
        &["type error: `==` between a text column and an integer"],
        true,
    ),
    (
        "number column == text",
        At::Score,
        "let t = c.sales_amount == \"1000\";",
        &["type error: `==` between a decimal column and a text"],
        true,
    ),
    (
        "misspelt column",
        At::Score,
        "let t = c.sales_amout;",
        &["the cohort has no column `sales_amout`; did you mean `sales_amount`?"],
        true,
    ),
    (
        "misspelt function",
        At::Score,
        "let t = ratoi(1, 2);",
        &["unknown function `ratoi` (called with an integer, an integer); did you mean `ratio`?"],
        true,
    ),
    (
        "syntax error",
        At::Score,
        "let t = 1 +;",
        &["unexpected ';'", "    let t = 1 +;\n", "|                ^"],
        true,
    ),
];

/// The snippets refused when the package loads (compile time); every
/// other one is stopped when the script runs.
const REFUSED_AT_LOAD: &[&str] = &[
    "eval",
    "print",
    "debug",
    "fn ratio",
    "fn rhu",
    "fn dec",
    "closure in a value",
    "function pointer in a value",
    "comparator sort",
    "syntax error",
];

#[test]
fn hostile_scripts_are_stopped_and_never_published() {
    let w = World::new("hostile.example/log");
    let dir = w.dir();
    let log_before = rankproof(dir, &["log", "--format", "json"]).stdout;

    let original = repo().join("rules/marketing-v1");
    let script = fs::read_to_string(original.join("policy.rhai")).expect("policy");
    // The line of `fn score` in the original script (1-based).
    let score_line = script
        .lines()
        .position(|l| l.starts_with("fn score(c) {"))
        .expect("the hook point exists")
        + 1;
    let mut stopped = 0;
    for (i, (what, at, code, words, names_line)) in HOSTILE.iter().enumerate() {
        let pkg = dir.join(format!("pkg{i}"));
        copy_dir(&original, &pkg);
        let (hostile, line) = match at {
            // fn_deep takes the line of `fn score`, which moves one down.
            At::Score => (
                script.replacen(
                    "fn score(c) {",
                    &format!("fn fn_deep(n) {{ fn_deep(n + 1) }}\nfn score(c) {{\n    {code}"),
                    1,
                ),
                score_line + 2,
            ),
            At::Top => (format!("{code}\n{script}"), 1),
        };
        assert_ne!(hostile, script, "the hook point exists");
        // Every other snippet is saved with CRLF line endings (as Windows
        // editors write): the reported lines must not change.
        let hostile = if i % 2 == 1 {
            hostile.replace('\n', "\r\n")
        } else {
            hostile
        };
        fs::write(pkg.join("policy.rhai"), hostile).expect("write");
        let pkg_s = pkg.to_str().expect("utf-8");

        let check = rankproof(dir, &["rules", "check", pkg_s]);
        let out = text(&check).to_lowercase();
        // 2: the package does not load; 1: it loads and its own test
        // cases fail with the script error.
        let want = if REFUSED_AT_LOAD.contains(what) { 2 } else { 1 };
        assert_eq!(
            check.status.code(),
            Some(want),
            "{what}: rules check:\n{out}"
        );
        for w in *words {
            assert!(
                out.contains(w),
                "{what}: the error does not mention {w:?}:\n{out}"
            );
        }
        if *names_line {
            assert!(
                out.contains(&format!("policy.rhai: line {line}, column ")),
                "{what}: the error does not name line {line}:\n{out}"
            );
        } else {
            assert!(out.contains("line"), "{what}: no line:\n{out}");
        }
        assert!(!out.contains("leak\n"), "{what}: the script printed");
        assert!(!out.contains("panicked"), "{what}: panic\n{out}");

        let publish = rankproof(dir, &["rules", "publish", "--signer", "hr.key", pkg_s]);
        assert_eq!(publish.status.code(), Some(2), "{what}: {}", text(&publish));
        let pout = text(&publish).to_lowercase();
        if check.status.code() == Some(2) {
            // Refused when the package loads: publish gives the same error.
            assert!(
                words.iter().all(|w| pout.contains(w)),
                "{what}: publish does not give the refusal:\n{pout}"
            );
        } else {
            assert!(
                pout.contains("the package's own test cases fail"),
                "{what}: publish does not name the failing cases:\n{pout}"
            );
        }
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
        let dout = text(&dry).to_lowercase();
        assert!(!dout.contains("panicked"), "{what}: panic");
        assert!(
            words.iter().all(|w| dout.contains(w)),
            "{what}: rank does not give the refusal:\n{dout}"
        );
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
