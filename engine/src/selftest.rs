//! A package's own test cases (`tests/<case>/` with one input file per
//! source and `expected.json`), run against the engine.

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::eval::rank;
use crate::package::{RulePackage, TestCase};
use crate::period::Period;

/// The outcome of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Pass,
    /// The first field that differs, as a path like `results[3].grade`.
    Mismatch {
        path: String,
        expected: String,
        actual: String,
    },
    /// The case could not run (bad expected.json, input or evaluation error
    /// when none was expected, or no error when one was).
    Error(String),
}

/// One case's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseReport {
    pub name: String,
    pub description: String,
    pub outcome: CaseOutcome,
}

impl RulePackage {
    /// Run every test case of the package, in name order.
    pub fn run_tests(&self) -> Vec<CaseReport> {
        self.tests.iter().map(|t| run_case(self, t)).collect()
    }
}

fn run_case(pkg: &RulePackage, case: &TestCase) -> CaseReport {
    let mut description = String::new();
    let outcome = (|| -> Result<CaseOutcome, String> {
        let bytes = pkg
            .files
            .get(&case.expected)
            .ok_or("expected.json is missing")?;
        let expected: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{}: {e}", case.expected))?;
        let obj = expected
            .as_object()
            .ok_or_else(|| format!("{}: expected a JSON object", case.expected))?;
        description = obj
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_owned();
        let period: Period = obj
            .get("period")
            .and_then(|p| p.as_str())
            .ok_or_else(|| format!("{}: needs \"period\"", case.expected))?
            .parse()
            .map_err(|e| format!("{}: {e}", case.expected))?;
        let want_error = obj.get("error").and_then(|e| e.as_str());
        let mut inputs = BTreeMap::new();
        let mut failure: Option<String> = None;
        for (s, path) in &case.inputs {
            let schema = &pkg.sources[s];
            let bytes = pkg
                .files
                .get(path)
                .ok_or_else(|| format!("{path} is missing"))?;
            match Dataset::parse(schema, path, bytes) {
                Ok(d) => {
                    inputs.insert(s.clone(), d);
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        let result = match failure {
            Some(f) => Err(f),
            None => rank(pkg, &inputs, &period).map_err(|e| e.to_string()),
        };
        match (want_error, result) {
            (Some(w), Err(e)) if e.contains(w) => Ok(CaseOutcome::Pass),
            (Some(w), Err(e)) => Ok(CaseOutcome::Mismatch {
                path: "error".into(),
                expected: format!("an error containing {w:?}"),
                actual: e,
            }),
            (Some(w), Ok(_)) => Ok(CaseOutcome::Mismatch {
                path: "error".into(),
                expected: format!("an error containing {w:?}"),
                actual: "success".into(),
            }),
            (None, Err(e)) => Ok(CaseOutcome::Error(e)),
            (None, Ok(r)) => {
                let actual = r.to_json();
                for key in ["n", "grade_distribution", "results"] {
                    let Some(want) = obj.get(key) else { continue };
                    let got = actual.get(key).cloned().unwrap_or(serde_json::Value::Null);
                    if let Some((path, e, a)) = first_difference(key, want, &got) {
                        return Ok(CaseOutcome::Mismatch {
                            path,
                            expected: e,
                            actual: a,
                        });
                    }
                }
                Ok(CaseOutcome::Pass)
            }
        }
    })();
    CaseReport {
        name: case.name.clone(),
        description,
        outcome: outcome.unwrap_or_else(CaseOutcome::Error),
    }
}

/// The first place `got` differs from `want`. Objects in `want` are matched
/// as subsets (only the fields written are pinned); arrays must have equal
/// length; everything else must be equal.
pub fn first_difference(
    path: &str,
    want: &serde_json::Value,
    got: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value as J;
    match (want, got) {
        (J::Object(w), J::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&J::Null);
                let label = match g.get("staff_id").and_then(|s| s.as_str()) {
                    Some(id) if k != "staff_id" => format!("{path}.{k} (staff {id})"),
                    _ => format!("{path}.{k}"),
                };
                if let Some(d) = first_difference(&label, wv, gv) {
                    return Some(d);
                }
            }
            None
        }
        (J::Array(w), J::Array(g)) => {
            for (i, (wv, gv)) in w.iter().zip(g.iter()).enumerate() {
                if let Some(d) = first_difference(&format!("{path}[{i}]"), wv, gv) {
                    return Some(d);
                }
            }
            if w.len() != g.len() {
                return Some((
                    format!("{path}.length"),
                    w.len().to_string(),
                    g.len().to_string(),
                ));
            }
            None
        }
        (w, g) if w == g => None,
        (w, g) => Some((path.to_owned(), w.to_string(), g.to_string())),
    }
}
