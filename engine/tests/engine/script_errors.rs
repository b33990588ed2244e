//! Script errors that help: type errors at the line where they happen,
//! syntax errors with the line and a caret, "did you mean" for unknown
//! functions and fields, and line numbers that are right for LF and CRLF
//! scripts.

use std::collections::BTreeMap;

use rankproof_engine::{rank, Dataset, EvalError, RuleError};

use crate::hostile::load;

/// Run `score_body` (plus the shared classify) on a two-person cohort.
fn run(score_body: &str) -> Result<(), EvalError> {
    let pkg = load(score_body).unwrap();
    let schema = pkg.source("main").unwrap();
    let ds = Dataset::parse(schema, "main.csv", b"staff_id,x\nA1,1\nA2,2\n").unwrap();
    let inputs = BTreeMap::from([(schema.source.clone(), ds)]);
    rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).map(|_| ())
}

/// The script failure of `score_body`, with its line and message.
fn failure(score_body: &str) -> (usize, usize, String) {
    match run(score_body) {
        Err(EvalError::Script(f)) => (f.line, f.column, f.message.clone()),
        Err(other) => panic!("expected a script failure, got {other}"),
        Ok(()) => panic!("the script ran: {score_body}"),
    }
}

/// The same script with CRLF line endings.
fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

#[test]
fn text_against_a_number_is_a_type_error_at_its_line() {
    for (expr, op, left, right) in [
        ("\"a\" == 1", "==", "a text", "an integer"),
        ("\"a\" != 1", "!=", "a text", "an integer"),
        ("\"a\" < 1", "<", "a text", "an integer"),
        ("1 >= \"a\"", ">=", "an integer", "a text"),
        ("1.5 > \"a\"", ">", "a decimal", "a text"),
        ("\"1.5\" == 1.5", "==", "a text", "a decimal"),
        ("\"a\" + 1", "+", "a text", "an integer"),
        ("1 + \"a\"", "+", "an integer", "a text"),
        ("\"a\" * 2", "*", "a text", "an integer"),
        ("2.5 - \"a\"", "-", "a decimal", "a text"),
        ("true == 1", "==", "a true/false", "an integer"),
        ("1 == true", "==", "an integer", "a true/false"),
        ("\"yes\" == true", "==", "a text", "a true/false"),
        ("c.staff_id == 1", "==", "a text column", "an integer"),
        ("c.staff_id < 1.5", "<", "a text column", "a decimal"),
        ("c.staff_id + 1", "+", "a text column", "an integer"),
        ("c.x == \"1\"", "==", "a decimal column", "a text"),
        ("\"1\" == c.x", "==", "a text", "a decimal column"),
        ("c.x * \"2\"", "*", "a decimal column", "a text"),
        (
            "c.x == c.staff_id",
            "==",
            "a decimal column",
            "a text column",
        ),
        ("(c.x > 1) == 1", "==", "a true/false column", "an integer"),
    ] {
        for script in [
            format!("fn score(c) {{\n  let ok = 1;\n  let t = {expr};\n  #{{ total: 1 }}\n}}"),
            crlf(&format!(
                "fn score(c) {{\n  let ok = 1;\n  let t = {expr};\n  #{{ total: 1 }}\n}}"
            )),
        ] {
            let (line, column, m) = failure(&script);
            assert_eq!(line, 3, "{expr}: {m}");
            assert!(column > 2, "{expr}: column {column}");
            let want = format!("type error: `{op}` between {left} and {right}");
            assert!(m.starts_with(&want), "{expr}: {m}\nwanted: {want}");
        }
    }
}

#[test]
fn compound_assignment_with_text_is_a_type_error() {
    let (line, _, m) = failure("fn score(c) {\n  let t = \"a\";\n  t += 1;\n  #{ total: 1 }\n}");
    assert_eq!(line, 3, "{m}");
    assert!(
        m.starts_with("type error: `+` between a text and an integer"),
        "{m}"
    );
}

#[test]
fn text_minus_text_is_a_type_error() {
    for src in [
        "fn score(c) {\n  let t = \"ab\" - \"b\";\n  #{ total: 1 }\n}",
        "fn score(c) {\n  let t = \"ab\";\n  t -= \"b\";\n  #{ total: 1 }\n}",
    ] {
        let (_, _, m) = failure(src);
        assert!(m.starts_with("type error: `-"), "{m}");
        assert!(m.contains("between a text and a text"), "{m}");
    }
    // Joining texts still works.
    run("fn score(c) {\n  let t = \"a\" + \"b\";\n  t += \"c\";\n  #{ total: when(t == \"abc\", 1, 0) }\n}").unwrap();
}

#[test]
fn same_type_comparisons_still_work() {
    run("fn score(c) {\n  let a = \"x\" == \"x\";\n  let b = 1 < 1.5;\n  let d = true != false;\n  let e = c.staff_id == \"A1\";\n  #{ total: when(e, 1, 0) }\n}").unwrap();
}

#[test]
fn syntax_errors_show_the_line_with_a_caret() {
    for src in [
        "fn score(c) {\n  let t = 1;\n  let u = ;\n  #{ total: 1 }\n}",
        "fn score(c) {\r\n  let t = 1;\r\n  let u = ;\r\n  #{ total: 1 }\r\n}",
    ] {
        match load(src) {
            Err(e @ RuleError::Script { .. }) => {
                let m = e.to_string();
                assert!(m.starts_with("policy.rhai: line 3, column 11: "), "{m}");
                assert!(
                    m.ends_with("\n  3 |   let u = ;\n    |           ^"),
                    "{m:?}"
                );
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }
    // A tab before the error keeps the caret under it.
    let e = load("fn score(c) {\n\tlet t = 1 +;\n  #{ total: 1 }\n}").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("\n  2 | \tlet t = 1 +;\n    | \t           ^"),
        "{e:?}"
    );
}

#[test]
fn load_refusals_show_the_line_too() {
    let e = load("fn score(c) { #{ total: 1 } }\nfn rhu(x, d) { x }").unwrap_err();
    let m = e.to_string();
    assert!(
        m.starts_with("policy.rhai: line 2, column 1: fn rhu would replace"),
        "{m}"
    );
    assert!(m.ends_with("\n  2 | fn rhu(x, d) { x }\n    | ^"), "{m:?}");
}

#[test]
fn unknown_functions_suggest_the_closest_name() {
    for src in [
        "fn score(c) {\n  let a = 1;\n  let t = rhuu(c.x, 1);\n  #{ total: 1 }\n}",
        "fn score(c) {\r\n  let a = 1;\r\n  let t = rhuu(c.x, 1);\r\n  #{ total: 1 }\r\n}",
    ] {
        let (line, column, m) = failure(src);
        assert_eq!((line, column), (3, 11), "{m}");
        assert_eq!(
            m,
            "unknown function `rhuu` (called with a column, an integer); did you mean `rhu`?"
        );
    }
    // The script's own functions are known names too.
    let (_, _, m) = failure("fn bonus_of(x) { x }\nfn score(c) {\n  #{ total: bonus_off(1) }\n}");
    assert!(m.ends_with("did you mean `bonus_of`?"), "{m}");
    // No close name: the available functions are listed.
    let (_, _, m) = failure("fn score(c) {\n  #{ total: frobnicate(c.x) }\n}");
    assert!(
        m.starts_with("unknown function `frobnicate` (called with a column); the known functions are: clamp, "),
        "{m}"
    );
    assert!(
        m.contains(", ratio, rhu, ") && !m.contains("back_trace"),
        "{m}"
    );
    // A known function with arguments it does not take.
    let (_, _, m) = failure("fn score(c) {\n  #{ total: rhu(c.x, 1.5) }\n}");
    assert_eq!(
        m,
        "`rhu` does not take (a column, a decimal); see RULES.md section 3 for its arguments"
    );
}

#[test]
fn unknown_fields_suggest_the_closest_column() {
    for src in [
        "fn score(c) {\n  let a = 1;\n  let t = c.xx;\n  #{ total: 1 }\n}",
        "fn score(c) {\r\n  let a = 1;\r\n  let t = c.xx;\r\n  #{ total: 1 }\r\n}",
    ] {
        let (line, _, m) = failure(src);
        assert_eq!(line, 3, "{m}");
        assert_eq!(m, "the cohort has no column `xx`; did you mean `x`?");
    }
    let (_, _, m) = failure("fn score(c) {\n  #{ total: c.completely_else }\n}");
    assert_eq!(
        m,
        "the cohort has no column `completely_else`; the known columns are: staff_id, x"
    );
}

#[test]
fn runtime_errors_deep_in_a_script_name_their_own_line() {
    // Errors on known lines, with blank lines, comments and a helper
    // function in between (LF and CRLF).
    let src = "// header\n\nfn helper(v) {\n  // comment\n  v + \"oops\"\n}\n\nfn score(c) {\n  let a = 1;\n\n  let b = helper(a);\n  #{ total: 1 }\n}";
    for s in [src.to_owned(), crlf(src)] {
        let (line, _, m) = failure(&s);
        assert_eq!(line, 5, "{m}");
        assert!(
            m.starts_with("type error: `+` between an integer and a text"),
            "{m}"
        );
    }
}

#[test]
fn unknown_map_fields_suggest_a_declared_score() {
    let (line, _, m) =
        failure("fn score(c) {\n  let s = #{ total: 1 };\n  let t = s.totl;\n  #{ total: 1 }\n}");
    assert_eq!(line, 3, "{m}");
    assert_eq!(m, "the map has no field `totl`; did you mean `total`?");
    let (_, _, m) =
        failure("fn score(c) {\n  let s = #{ a: 1 };\n  let t = s.zzzzzz;\n  #{ total: 1 }\n}");
    assert_eq!(m, "the map has no field `zzzzzz`");
}

#[test]
fn manifest_errors_name_the_right_line_with_crlf() {
    // Line 8 of the manifest gets an unknown key, saved with LF and CRLF.
    let mut lines: Vec<&str> = crate::hostile::MANIFEST.lines().collect();
    assert_eq!(lines[7], "script_api = 2");
    lines.insert(7, "bogus_key = 1");
    let lf = lines.join("\n");
    for manifest in [lf.clone(), crlf(&lf)] {
        let mut files = BTreeMap::new();
        files.insert("package.toml".to_owned(), manifest.into_bytes());
        files.insert(
            "policy.rhai".to_owned(),
            b"fn score(c) { #{ total: 1 } }\nfn classify(c, s, t) { #{ grade: \"A\", bonus_multiplier: 1 } }".to_vec(),
        );
        let m = rankproof_engine::RulePackage::from_files(files)
            .unwrap_err()
            .to_string();
        assert!(m.starts_with("package.toml: line 8: "), "{m}");
        assert!(m.contains("bogus_key"), "{m}");
    }
}
