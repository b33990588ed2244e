//! Hostile scripts: each is stopped by a limit or refused at compile time,
//! with an error naming the limit (or the refused symbol) and the position.

use std::collections::BTreeMap;

use rankproof_engine::{rank, Dataset, EvalError, RuleError, RulePackage};

pub const MANIFEST: &str = r#"
[package]
name = "hostile"
version = "0.1.0"
description = "test"
effective_from = "2025-01"
script = "policy.rhai"
script_api = 2

[limits]
max_operations = 20000
max_element_operations = 50
max_column_bytes = 400
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
fn classify(c, scores, standing) { #{ grade: "A", bonus_multiplier: 1 } }
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
    let e = run("fn score(c) {\n  let i = 0;\n  loop { i += 1; }\n}");
    assert_limit(e, "max_operations", 3);
}

#[test]
fn unbounded_recursion_hits_max_call_levels() {
    let e = run("fn f(n) { f(n + 1) }\nfn score(c) {\n  #{ total: f(0) }\n}");
    assert_limit(e, "max_call_levels", 1);
}

#[test]
fn huge_string_hits_max_string_size() {
    let e = run("fn score(c) {\n  let s = \"x\";\n  loop { s += s; }\n}");
    assert_limit(e, "max_string_size", 3);
}

#[test]
fn huge_array_hits_max_array_size() {
    let e = run("fn score(c) {\n  let a = [];\n  loop { a.push(1); }\n}");
    assert_limit(e, "max_array_size", 3);
}

#[test]
fn huge_map_hits_max_map_size() {
    // rhai checks map sizes when a value is produced (here by mixin); plain
    // indexed inserts are bounded by max_operations.
    let e = run("fn score(c) {\n  let m = #{};\n  let i = 0;\n  loop { m[`k${i}`] = i; m.mixin(#{}); i += 1; }\n}");
    assert_limit(e, "max_map_size", 4);
}

#[test]
fn many_variables_hit_max_variables() {
    let mut body = String::from("fn score(c) {\n");
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
    src.push_str("fn score(c) { #{ total: 1 } }");
    match load(&src) {
        Err(e) => assert!(e.to_string().contains("max_functions = 16"), "{e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn deep_expressions_are_refused_at_compile_time() {
    let deep = format!(
        "fn score(c) {{ #{{ total: {}1{} }} }}",
        "(".repeat(200),
        ")".repeat(200)
    );
    assert_refused(&deep, "max_function_expr_depth = 32");
}

#[test]
fn eval_is_refused() {
    assert_refused("fn score(c) { eval(\"1\") }", "eval");
}

#[test]
fn print_and_debug_are_refused() {
    assert_refused("fn score(c) { print(\"hi\"); #{ total: 1 } }", "print");
    assert_refused("fn score(c) { debug(\"hi\"); #{ total: 1 } }", "debug");
}

#[test]
fn import_is_refused() {
    match load("import \"x\" as y;\nfn score(c) { #{ total: 1 } }") {
        Err(RuleError::Script { line, .. }) => assert_eq!(line, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamp_does_not_exist() {
    let e = run("fn score(c) {\n  let t = timestamp();\n  #{ total: 1 }\n}");
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
    let e = run("fn score(c) {\n  #{ total: to_float(1) }\n}");
    assert!(e.to_string().contains("to_float"), "{e}");
}

#[test]
fn undefined_variables_are_compile_errors() {
    assert_refused(
        "fn score(c) { #{ total: undefined_thing } }",
        "undefined_thing",
    );
}

#[test]
fn misspelt_fields_are_runtime_errors() {
    let e = run("fn score(c) {\n  #{ total: c.y }\n}");
    match &e {
        EvalError::Script(f) if f.line == 2 => {
            assert_eq!(f.staff_id, "(cohort)");
            assert!(f.message.contains("no column `y`"), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn wrong_shapes_are_reported() {
    let e = run("fn score(c) { 42 }");
    assert!(matches!(e, EvalError::BadReturn { .. }), "{e}");
    let e = run("fn score(c) { #{ totl: 1 } }");
    assert!(e.to_string().contains("undeclared key `totl`"), "{e}");
    let e = run("fn score(c) { #{ explain: #{} } }");
    assert!(e.to_string().contains("no `total`"), "{e}");
    let e = run("fn score(c) { #{ total: 1, extra: 2 } }");
    assert!(e.to_string().contains("undeclared key `extra`"), "{e}");
}

#[test]
fn division_by_zero_names_the_position() {
    let e = run("fn score(c) {\n  #{ total: ratio(c.x, 0) }\n}");
    match &e {
        EvalError::Script(f) if f.line == 2 && f.column > 0 => {
            assert!(f.message.contains("division by zero"), "{}", f.message);
            assert_eq!(f.staff_id, "A1");
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
        // Every element overflows; the error names the first staff member.
        let e = pool.install(|| {
            run("fn score(c) {\n  let big = (c.x + 1) * 79228162514264337593543950335;\n  #{ total: big }\n}")
        });
        match e {
            EvalError::Script(f) => {
                assert_eq!((f.staff_id.as_str(), f.line), ("A1", 2), "{f}");
                assert!(f.message.contains("overflow"), "{f}");
            }
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
        b"fn score(c) { #{ total: 1 } }".to_vec(),
    );
    let e = RulePackage::from_files(files).unwrap_err();
    assert!(e.to_string().contains("fn classify"), "{e}");
}

#[test]
fn the_cohort_is_read_only() {
    let e = run("fn score(c) {\n  c.x = 5;\n  #{ total: 1 }\n}");
    match &e {
        EvalError::Script(f) => assert_eq!(f.line, 2, "{e}"),
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
        format!("fn f(n) {{ let a = [n, n + 1]; let m = #{{ a: a }}; f(n + 1) + m.a[0] }}\nfn score(c) {{\n  #{{ total: f(0) }}\n}}\n{CLASSIFY}").into_bytes(),
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
        "fn score(c) {{ #{{ total: {}1{} }} }}\n{CLASSIFY}",
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

fn message_of(e: &EvalError) -> String {
    e.to_string()
}

#[test]
fn if_on_a_column_says_use_when() {
    let e = run("fn score(c) {\n  let t = if c.x > 1 { 1 } else { 0 };\n  #{ total: t }\n}");
    match &e {
        EvalError::Script(f) => {
            assert_eq!(f.line, 2, "{e}");
            assert!(f.message.contains("when(condition, a, b)"), "{e}");
        }
        other => panic!("{other}"),
    }
    let e = run("fn score(c) {\n  let ok = c.x > 1 && c.x < 5;\n  #{ total: 1 }\n}");
    assert!(message_of(&e).contains("when("), "{e}");
}

#[test]
fn when_never_fails_for_the_branch_not_taken() {
    // x = 1 for A1: ratio(1, x - 1) would divide by zero, but when() takes
    // the other branch for A1.
    let pkg = load("fn score(c) {\n  #{ total: when(c.x > 1, ratio(1, c.x - 1), 0) }\n}").unwrap();
    let schema = pkg.source("main").unwrap();
    let ds = Dataset::parse(schema, "main.csv", b"staff_id,x\nA1,1\nA2,3\n").unwrap();
    let inputs = BTreeMap::from([(schema.source.clone(), ds)]);
    let r = rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).unwrap();
    let total =
        |id: &str| rankproof_engine::decimal::canonical(&r.result(id).unwrap().scores["total"]);
    assert_eq!(total("A1"), "0");
    assert_eq!(total("A2"), "0.5");
    // The same division outside when() names A1, the operation and the line.
    let e = run("fn score(c) {\n  let r = ratio(1, c.x - 1);\n  #{ total: r }\n}");
    match &e {
        EvalError::Script(f) => {
            assert_eq!((f.staff_id.as_str(), f.line), ("A1", 2), "{e}");
            assert!(f.message.starts_with("ratio: division by zero"), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_fault_reaching_a_reduction_names_the_staff_member() {
    let e =
        run("fn score(c) {\n  let r = ratio(1, c.x - 2);\n  let m = max(r);\n  #{ total: m }\n}");
    match &e {
        EvalError::Script(f) => {
            assert_eq!((f.staff_id.as_str(), f.line), ("A2", 2), "{e}");
            assert!(f.message.contains("needed by max"), "{e}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn inexact_results_are_errors_not_roundings() {
    let e = run("fn score(c) {\n  #{ total: c.x * 0.0000000000000000000000000001 * 0.5 }\n}");
    match &e {
        EvalError::Script(f) => {
            assert_eq!((f.staff_id.as_str(), f.line), ("A1", 2), "{e}");
            assert!(f.message.contains("inexact"), "{e}");
        }
        other => panic!("{other}"),
    }
    // and on scalars
    let e =
        run("fn score(c) {\n  let t = 0.0000000000000000000000000001 * 0.5;\n  #{ total: t }\n}");
    assert!(message_of(&e).contains("inexact"), "{e}");
}

#[test]
fn approximating_functions_and_division_do_not_exist() {
    for (body, needle) in [
        ("sqrt(2.0)", "sqrt"),
        ("exp(1.0)", "exp"),
        ("ln(2.0)", "ln"),
        ("tan(1.5707963267948966)", "tan"),
        ("sin(PI())", "pi"),
        ("2.0 ** 0.5", "approximates"),
        ("c.x / 3", "ratio"),
        ("1.0 / 3", "ratio"),
        ("sleep(1)", "sleep"),
    ] {
        let e = run(&format!(
            "fn score(c) {{\n  let t = {body};\n  #{{ total: 1 }}\n}}"
        ));
        assert!(
            message_of(&e).to_lowercase().contains(needle),
            "{body}: {e}"
        );
    }
}

#[test]
fn huge_cut_is_an_error_not_a_panic() {
    let e = run("fn score(c) {\n  let k = cut(79228162514264337593543950335, 79228162514264337593543950335);\n  #{ total: k }\n}");
    assert!(message_of(&e).contains("cut"), "{e}");
}

#[test]
fn helpers_cannot_be_shadowed() {
    for name in ["ratio", "rhu", "dec", "when", "max", "terms"] {
        let src = format!("fn {name}(a, b) {{ 0 }}\nfn score(c) {{ #{{ total: 1 }} }}");
        assert_refused(&src, &format!("fn {name} would replace"));
    }
}

#[test]
fn closures_and_function_pointers_are_refused() {
    assert_refused(
        "fn score(c) { let f = |x| x + 1; #{ total: 1 } }",
        "closures",
    );
    assert_refused("fn score(c) { let f = Fn(\"score\"); #{ total: 1 } }", "fn");
    // comparator sorts do not exist
    let e = run("fn score(c) {\n  let a = [3, 1, 2];\n  a.sort();\n  #{ total: 1 }\n}");
    assert!(message_of(&e).contains("sort"), "{e}");
}

#[test]
fn the_per_row_api_is_refused_with_a_pointer_to_v2() {
    assert_refused(
        "fn derive(row) { #{} }\nfn score(c) { #{ total: 1 } }",
        "script api 1",
    );
    let src = "fn score(row, cohort) { #{ total: 1 } }";
    match load(src) {
        Err(e) => assert!(e.to_string().contains("fn score takes 1 parameters"), "{e}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn column_loops_hit_max_element_operations() {
    // 50 element operations per staff member, 2 staff: 100 in all; each
    // column addition costs 2 (one per staff member), so the 51st stops.
    let e = run("fn score(c) {\n  let t = c.x;\n  loop {\n    t = t + 1;\n  }\n}");
    assert_limit(e, "max_element_operations", 4);
}

#[test]
fn hoarding_columns_hits_max_column_bytes() {
    let e = run("fn score(c) {\n  let kept = [];\n  loop {\n    kept.push(c.x + 1);\n  }\n}");
    assert_limit(e, "max_column_bytes", 4);
}

#[test]
fn every_limit_is_recorded_in_the_result() {
    let pkg = load("fn score(c) { #{ total: c.x } }").unwrap();
    let schema = pkg.source("main").unwrap();
    let ds = Dataset::parse(schema, "main.csv", b"staff_id,x\nA1,1\n").unwrap();
    let inputs = BTreeMap::from([(schema.source.clone(), ds)]);
    let r = rank(&pkg, &inputs, &"2025-Q1".parse().unwrap()).unwrap();
    let doc = r.to_json();
    for k in [
        "max_operations",
        "max_element_operations",
        "max_column_bytes",
        "max_call_levels",
        "max_string_size",
    ] {
        assert!(doc["limits"][k].is_u64(), "{k}: {}", doc["limits"]);
    }
    assert_eq!(doc["limits"]["max_element_operations"], 50);
    assert_eq!(doc["script_api"], 2);
}
