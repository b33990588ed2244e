//! `rankproof rules check --bless DIR`: rewrite every case's expected.json
//! from what the current package computes, and show what changed.

use std::fmt::Write as _;
use std::path::Path;

use rankproof_engine::{CaseRun, Period, RulePackage, TestCase};
use serde_json::{Map, Value};

use crate::fail::{bad, env, CmdResult};
use crate::out::Out;
use crate::render::safe;

/// What blessing one case would write, and what changed.
struct Blessed {
    name: String,
    /// The new expected.json bytes, or None when unchanged.
    write: Option<Vec<u8>>,
    /// Readable changes (`staff M1: total "90" -> "89.5"`).
    changes: Vec<String>,
}

pub fn bless(pkg: &RulePackage, dir: &Path, out: &mut Out) -> CmdResult {
    if pkg.tests().is_empty() {
        return Err(bad(
            "the package has no test cases (add tests/<case>/expected.json)",
        ));
    }
    // Every case first: nothing is written unless every case can be blessed.
    let mut blessed = Vec::new();
    let mut problems = Vec::new();
    for case in pkg.tests() {
        match bless_case(pkg, case) {
            Ok(b) => blessed.push(b),
            Err(e) => problems.push(format!("{}: {e}", case.expected)),
        }
    }
    if !problems.is_empty() {
        return Err(bad(format!(
            "nothing blessed; fix these cases first:\n  {}",
            problems.join("\n  ")
        )));
    }
    let mut s = String::new();
    let mut n_changed = 0;
    for (b, case) in blessed.iter().zip(pkg.tests()) {
        match &b.write {
            None => {
                let _ = writeln!(s, "unchanged  {}", safe(&b.name));
            }
            Some(bytes) => {
                n_changed += 1;
                let path = dir.join(&case.expected);
                std::fs::write(&path, bytes)
                    .map_err(|e| env(format!("cannot write {}: {e}", path.display())))?;
                let _ = writeln!(
                    s,
                    "BLESSED    {}  ({} changes, wrote {})",
                    safe(&b.name),
                    b.changes.len(),
                    safe(&case.expected)
                );
                for c in &b.changes {
                    let _ = writeln!(s, "           {}", safe(c));
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "{} cases: {n_changed} rewritten, {} unchanged",
        blessed.len(),
        blessed.len() - n_changed
    );
    out.text(&s)?;
    Ok(())
}

fn bless_case(pkg: &RulePackage, case: &TestCase) -> Result<Blessed, String> {
    let bytes = pkg
        .files()
        .get(&case.expected)
        .ok_or("expected.json is missing")?;
    let old: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let old = old.as_object().ok_or("expected a JSON object")?;
    let period: Period = old
        .get("period")
        .and_then(Value::as_str)
        .ok_or("needs \"period\" (e.g. \"2025-Q1\") to know what to compute")?
        .parse()
        .map_err(|e| format!("period: {e}"))?;
    let mut new = Map::new();
    new.insert(
        "description".into(),
        old.get("description")
            .cloned()
            .unwrap_or(Value::String(String::new())),
    );
    new.insert("period".into(), Value::String(period.to_string()));
    let mut changes = Vec::new();
    let old_error = old.get("error").and_then(Value::as_str);
    match (pkg.run_case_inputs(case, &period), old_error) {
        (CaseRun::Failed(e), Some(w)) if e.contains(w) => {
            new.insert("error".into(), Value::String(w.to_owned()));
        }
        (CaseRun::Failed(e), Some(w)) => {
            changes.push(format!("error changed: {w:?} -> {e:?}"));
            new.insert("error".into(), Value::String(e));
        }
        (CaseRun::Failed(e), None) => {
            changes.push(format!("now an error (results no longer computed): {e:?}"));
            new.insert("error".into(), Value::String(e));
        }
        (CaseRun::Ranked(doc), _) => {
            if let Some(w) = old_error {
                changes.push(format!("no longer an error (was {w:?}); results pinned"));
            }
            let results = results_of(pkg, &doc);
            new.insert("n".into(), doc.get("n").cloned().unwrap_or(Value::Null));
            if old_error.is_none() {
                compare(old, &results, &doc, &mut changes);
            }
            new.insert("results".into(), Value::Array(results));
            new.insert(
                "grade_distribution".into(),
                doc.get("grade_distribution")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
    }
    let mut text = pretty(&Value::Object(new.clone()));
    text.push(b'\n');
    let same = serde_json::from_slice::<Value>(bytes).ok() == Some(Value::Object(new));
    let write = if same && text == *bytes {
        None
    } else {
        if changes.is_empty() {
            changes.push("layout only (keys, order or formatting); values unchanged".into());
        }
        Some(text)
    };
    Ok(Blessed {
        name: case.name.clone(),
        write,
        changes,
    })
}

/// Each staff member's result without the explanation, in a readable order:
/// staff_id, attributes, scores, position, rank, grade, multiplier, flags.
fn results_of(pkg: &RulePackage, doc: &Value) -> Vec<Value> {
    let spec = pkg.ranking();
    let mut keys: Vec<&str> = vec!["staff_id"];
    keys.extend(spec.attributes.iter().map(String::as_str));
    keys.extend(spec.scores.iter().map(String::as_str));
    keys.extend(["position", "rank", "grade", "bonus_multiplier", "flags"]);
    doc.get("results")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    let mut o = Map::new();
                    for k in &keys {
                        if let Some(v) = r.get(*k) {
                            o.insert((*k).to_owned(), v.clone());
                        }
                    }
                    Value::Object(o)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "(not pinned)".to_owned(), Value::to_string)
}

/// Value changes between the old expectation and the new results, staff by
/// staff (matched by staff_id), then `n` and the grade distribution.
fn compare(old: &Map<String, Value>, results: &[Value], doc: &Value, changes: &mut Vec<String>) {
    let id = |r: &Value| r.get("staff_id").and_then(Value::as_str).map(str::to_owned);
    let old_results: Vec<&Value> = old
        .get("results")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    for r in results {
        let Some(sid) = id(r) else { continue };
        let before = old_results.iter().find(|o| id(o).as_deref() == Some(&sid));
        match before {
            None => changes.push(format!("staff {sid}: newly pinned")),
            Some(b) => {
                if let Some(o) = r.as_object() {
                    for (k, v) in o {
                        if b.get(k) != Some(v) {
                            changes.push(format!("staff {sid}: {k} {} -> {v}", show(b.get(k))));
                        }
                    }
                }
            }
        }
    }
    for o in &old_results {
        if let Some(sid) = id(o) {
            if !results.iter().any(|r| id(r).as_deref() == Some(&sid)) {
                changes.push(format!("staff {sid}: no longer in the results"));
            }
        }
    }
    for key in ["n", "grade_distribution"] {
        let new = doc.get(key);
        if old.get(key) != new {
            changes.push(format!("{key} {} -> {}", show(old.get(key)), show(new)));
        }
    }
}

/// JSON with one-space indentation, as the package's own files are written.
fn pretty(v: &Value) -> Vec<u8> {
    use serde::Serialize;
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // INVARIANT: serializing a Value into a Vec cannot fail.
    let _ = v.serialize(&mut ser);
    out
}
