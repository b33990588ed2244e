//! Hostile scripts: each is stopped by a limit or refused at compile time,
//! with an error naming the limit (or the refused symbol) and the position.

use std::collections::BTreeMap;

use rankproof_engine::{rank, Dataset, EvalError, RuleError, RulePackage};

const MANIFEST: &str = r#"
[package]
name = "hostile"
version = "0.1.0"
description = "test"
effective_from = "2025-01"
script = "policy.rhai"

[limits]
max_operations = 20000
max_call_levels = 16
max_expr_depth = 64
max_function_expr_depth = 32
max_string_size = 1024
max_array_size = 256
max_map_size = 64
max_variables = 64
max_functions = 16

[ranking]
scores = ["total"]
report_decimals = 2
order = [{ score = "total", direction = "desc" }]
rank_by = "total"
grades = ["A", "B"]

[[sources.main.columns]]
name = "staff_id"
type = "text"

[[sources.main.columns]]
name = "x"
type = "decimal"
"#;

const CLASSIFY: &str = r#"
fn classify(row, scores, standing, cohort) { #{ grade: "A", bonus_multiplier: 1 } }
"#;

pub fn load(score_body: &str) -> Result<RulePackage, RuleError> {
    let script = format!("{score_body}\n{CLASSIFY}");
    let mut files = BTreeMap::new();
    files.insert("package.toml".to_owned(), MANIFEST.as_bytes().to_vec());
    files.insert("policy.rhai".to_owned(), script.into_bytes());
    RulePackage::from_files(files)
}

fn run(score_body: &str) -> EvalError {
    let pkg = load(score_body).unwrap();
    let schema = pkg.source("main").unwrap();
    let ds = Dataset::parse(schema, "main.csv", b"staff_id,x\nA1,1\nA2,2\n").unwrap();
    let inputs = BTreeMap::from([(schema.source.clone(), ds)]);
    rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).unwrap_err()
}

fn assert_limit(err: EvalError, want: &str, want_line: usize) {
    match &err {
        EvalError::Script(f) => {
            assert_eq!(f.limit.as_ref().map(|l| l.0.as_str()), Some(want), "{err}");
            assert_eq!(f.line, want_line, "{err}");
            assert!(f.column > 0, "{err}");
            assert_eq!(f.file, "policy.rhai");
        }
        other => panic!("expected limit {want}, got {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(want) && msg.contains("policy.rhai: line"),
        "{msg}"
    );
}

fn assert_refused(src: &str, needle: &str) {
    match load(src) {
        Err(e @ RuleError::Script { .. }) => {
            let m = e.to_string();
            assert!(m.to_lowercase().contains(needle), "{m}");
            assert!(m.starts_with("policy.rhai: line "), "{m}");
        }
        Err(other) => panic!("expected a script error, got {other}"),
        Ok(_) => panic!("script was accepted: {src}"),
    }
}

#[test]
fn infinite_loop_hits_max_operations() {
    let e = run("fn score(row, cohort) {\n  let i = 0;\n  loop { i += 1; }\n}");
    assert_limit(e, "max_operations", 3);
}

#[test]
fn unbounded_recursion_hits_max_call_levels() {
    let e = run("fn f(n) { f(n + 1) }\nfn score(row, cohort) {\n  #{ total: f(0) }\n}");
    assert_limit(e, "max_call_levels", 1);
}

#[test]
fn huge_string_hits_max_string_size() {
    let e = run("fn score(row, cohort) {\n  let s = \"x\";\n  loop { s += s; }\n}");
    assert_limit(e, "max_string_size", 3);
}

#[test]
fn huge_array_hits_max_array_size() {
    let e = run("fn score(row, cohort) {\n  let a = [];\n  loop { a.push(1); }\n}");
    assert_limit(e, "max_array_size", 3);
}

#[test]
fn huge_map_hits_max_map_size() {
    // rhai checks map sizes when a value is produced (here by mixin); plain
    // indexed inserts are bounded by max_operations.
    let e = run("fn score(row, cohort) {\n  let m = #{};\n  let i = 0;\n  loop { m[`k${i}`] = i; m.mixin(#{}); i += 1; }\n}");
    assert_limit(e, "max_map_size", 4);
}

#[test]
fn many_variables_hit_max_variables() {
    let mut body = String::from("fn score(row, cohort) {\n");
    for i in 0..80 {
        body.push_str(&format!("  let v{i} = {i};\n"));
    }
    body.push_str("  #{ total: 1 }\n}");
    let e = run(&body);
    match &e {
        EvalError::Script(f) => assert_eq!(f.limit, Some(("max_variables".to_owned(), 64))),
        other => panic!("{other}"),
    }
}

#[test]
fn too_many_functions_are_refused() {
    let mut src = String::new();
    for i in 0..20 {
        src.push_str(&format!("fn f{i}() {{ {i} }}\n"));
    }
    src.push_str("fn score(row, cohort) { #{ total: 1 } }");
    match load(&src) {
        Err(e) => assert!(e.to_string().contains("max_functions = 16"), "{e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn deep_expressions_are_refused_at_compile_time() {
    let deep = format!(
        "fn score(row, cohort) {{ #{{ total: {}1{} }} }}",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert_refused(&deep, "max_function_expr_depth = 32");
}

#[test]
fn eval_is_refused() {
    assert_refused("fn score(row, cohort) { eval(\"1\") }", "eval");
}

#[test]
fn print_and_debug_are_refused() {
    assert_refused(
        "fn score(row, cohort) { print(\"hi\"); #{ total: 1 } }",
        "print",
    );
    assert_refused(
        "fn score(row, cohort) { debug(\"hi\"); #{ total: 1 } }",
        "debug",
    );
}

#[test]
fn import_is_refused() {
    match load("import \"x\" as y;\nfn score(row, cohort) { #{ total: 1 } }") {
        Err(RuleError::Script { line, .. }) => assert_eq!(line, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamp_does_not_exist() {
    let e = run("fn score(row, cohort) {\n  let t = timestamp();\n  #{ total: 1 }\n}");
    match &e {
        EvalError::Script(f) if f.limit.is_none() && f.line == 2 => {
            assert!(f.message.contains("timestamp"), "{}", f.message)
        }
        other => panic!("{other}"),
    }
}

#[test]
fn floats_do_not_exist() {
    // Literals are decimals; there is no float type to convert to.
    let e = run("fn score(row, cohort) {\n  #{ total: to_float(1) }\n}");
    assert!(e.to_string().contains("to_float"), "{e}");
}

#[test]
fn undefined_variables_are_compile_errors() {
    assert_refused(
        "fn score(row, cohort) { #{ total: undefined_thing } }",
        "undefined_thing",
    );
}

#[test]
fn misspelt_fields_are_runtime_errors_with_the_staff() {
    let e = run("fn score(row, cohort) {\n  #{ total: row.y }\n}");
    match &e {
        EvalError::Script(f) if f.line == 2 => assert_eq!(f.staff_id, "A1"),
        other => panic!("{other}"),
    }
}

#[test]
fn wrong_shapes_are_reported() {
    let e = run("fn score(row, cohort) { 42 }");
    assert!(matches!(e, EvalError::BadReturn { .. }), "{e}");
    let e = run("fn score(row, cohort) { #{ totl: 1 } }");
    assert!(e.to_string().contains("no numeric `total`"), "{e}");
    let e = run("fn score(row, cohort) { #{ total: 1, extra: 2 } }");
    assert!(e.to_string().contains("undeclared key `extra`"), "{e}");
}

#[test]
fn division_by_zero_names_the_position() {
    let e = run("fn score(row, cohort) {\n  #{ total: ratio(row.x, 0) }\n}");
    match &e {
        EvalError::Script(f) if f.line == 2 => {
            assert!(f.message.contains("division by zero"), "{}", f.message)
        }
        other => panic!("{other}"),
    }
}

#[test]
fn the_first_failing_staff_is_reported_deterministically() {
    // Both fail; A1 comes first in staff order at any thread count.
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let e =
            pool.install(|| run("fn score(row, cohort) {\n  let i = 0;\n  loop { i += 1; }\n}"));
        match e {
            EvalError::Script(f) => assert_eq!(f.staff_id, "A1"),
            other => panic!("{other}"),
        }
    }
}

#[test]
fn required_functions_must_exist() {
    let mut files = BTreeMap::new();
    files.insert("package.toml".to_owned(), MANIFEST.as_bytes().to_vec());
    files.insert(
        "policy.rhai".to_owned(),
        b"fn score(row, cohort) { #{ total: 1 } }".to_vec(),
    );
    let e = RulePackage::from_files(files).unwrap_err();
    assert!(e.to_string().contains("fn classify"), "{e}");
}

#[test]
fn rows_are_read_only() {
    let e = run("fn score(row, cohort) {\n  row.x = 5;\n  #{ total: 1 }\n}");
    match &e {
        EvalError::Script(f) => assert_eq!((f.line, f.staff_id.as_str()), (2, "A1"), "{e}"),
        other => panic!("{other}"),
    }
}

#[test]
fn recursion_at_the_ceiling_is_stopped_without_overflowing_the_stack() {
    // The highest max_call_levels a manifest may ask for, in a debug build,
    // on rayon worker threads.
    let mut files = BTreeMap::new();
    files.insert(
        "package.toml".to_owned(),
        MANIFEST
            .replace("max_call_levels = 16", "max_call_levels = 64")
            .into_bytes(),
    );
    files.insert(
        "policy.rhai".to_owned(),
        format!("fn f(n) {{ let a = [n, n + 1]; let m = #{{ a: a }}; f(n + 1) + m.a[0] }}\nfn score(row, cohort) {{\n  #{{ total: f(0) }}\n}}\n{CLASSIFY}").into_bytes(),
    );
    let pkg = RulePackage::from_files(files).unwrap();
    let schema = pkg.source("main").unwrap();
    let body: String = std::iter::once("staff_id,x\n".to_owned())
        .chain((0..64).map(|i| format!("A{i:02},1\n")))
        .collect();
    let ds = Dataset::parse(schema, "main.csv", body.as_bytes()).unwrap();
    let inputs = BTreeMap::from([(schema.source.clone(), ds)]);
    let e = rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).unwrap_err();
    match &e {
        EvalError::Script(f) => {
            assert_eq!(f.limit, Some(("max_call_levels".to_owned(), 64)), "{e}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn expressions_at_the_depth_ceiling_compile_without_overflowing_the_stack() {
    let mut files = BTreeMap::new();
    let manifest = MANIFEST
        .replace("max_expr_depth = 64", "max_expr_depth = 256")
        .replace(
            "max_function_expr_depth = 32",
            "max_function_expr_depth = 256",
        );
    files.insert("package.toml".to_owned(), manifest.into_bytes());
    let deep = format!(
        "fn score(row, cohort) {{ #{{ total: {}1{} }} }}\n{CLASSIFY}",
        "(".repeat(1000),
        ")".repeat(1000)
    );
    files.insert("policy.rhai".to_owned(), deep.into_bytes());
    let e = RulePackage::from_files(files).unwrap_err();
    assert!(
        e.to_string().contains("max_function_expr_depth = 256"),
        "{e}"
    );
}
