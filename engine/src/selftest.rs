//! A package's own test cases (`tests/<case>/` with one input file per
//! source and `expected.json`), run against the engine.

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::eval::rank;
use crate::package::{RulePackage, TestCase};
use crate::period::Period;

/// One difference between a case's expected.json and the actual result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where, as a path like `results[3].grade (staff M4)`.
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// The outcome of one test case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    Pass,
    /// Every field that differs: per-staff results first (in position
    /// order), then `n`, then the grade distribution.
    Mismatch(Vec<Difference>),
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

/// What a case's inputs give under the package: the result document (as
/// JSON) or the error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseRun {
    Ranked(serde_json::Value),
    Failed(String),
}

/// A case's expected.json, read and checked for unknown keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub description: String,
    pub period: Period,
    /// The whole object as written.
    pub object: serde_json::Map<String, serde_json::Value>,
}

/// Keys the top level of expected.json may have.
pub const EXPECTED_KEYS: [&str; 6] = [
    "description",
    "period",
    "error",
    "results",
    "n",
    "grade_distribution",
];
const DISTRIBUTION_KEYS: [&str; 4] = ["grade", "count", "quota", "exceeded"];

impl RulePackage {
    /// Run every test case of the package, in name order.
    pub fn run_tests(&self) -> Vec<CaseReport> {
        self.tests.iter().map(|t| run_case(self, t)).collect()
    }

    /// Read and check a case's expected.json: valid JSON, an object with a
    /// `period`, and no key the format does not define (at the top level,
    /// in each result and in each grade distribution item). Every problem
    /// is listed, each naming the file and the key, with a did-you-mean.
    pub fn read_expected(&self, case: &TestCase) -> Result<Expected, String> {
        let file = &case.expected;
        let bytes = self.files.get(file).ok_or("expected.json is missing")?;
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("{file}: {e}"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| format!("{file}: expected a JSON object"))?;
        let mut problems = Vec::new();
        let unknown = |problems: &mut Vec<String>, at: &str, key: &str, known: &[&str]| {
            let hint = did_you_mean(key, known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
            problems.push(format!("{file}: {at}unknown key `{key}`{hint}"));
        };
        for k in obj.keys() {
            if !EXPECTED_KEYS.contains(&k.as_str()) {
                unknown(&mut problems, "", k, &EXPECTED_KEYS);
            }
        }
        let mut result_keys: Vec<&str> = crate::package::RECORD_KEYS.to_vec();
        result_keys.extend(self.ranking.scores.iter().map(String::as_str));
        result_keys.extend(self.ranking.attributes.iter().map(String::as_str));
        for (member, known) in [
            ("results", &result_keys[..]),
            ("grade_distribution", &DISTRIBUTION_KEYS[..]),
        ] {
            match obj.get(member) {
                None => {}
                Some(serde_json::Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        match item.as_object() {
                            Some(o) => {
                                for k in o.keys() {
                                    if !known.contains(&k.as_str()) {
                                        unknown(
                                            &mut problems,
                                            &format!("{member}[{i}]: "),
                                            k,
                                            known,
                                        );
                                    }
                                }
                            }
                            None => {
                                problems.push(format!("{file}: {member}[{i}] must be an object"))
                            }
                        }
                    }
                }
                Some(_) => problems.push(format!("{file}: `{member}` must be an array")),
            }
        }
        let description = match obj.get("description") {
            None => String::new(),
            Some(serde_json::Value::String(d)) => d.clone(),
            Some(_) => {
                problems.push(format!("{file}: `description` must be a string"));
                String::new()
            }
        };
        let period = match obj.get("period").and_then(|p| p.as_str()) {
            None => {
                problems.push(format!("{file}: needs \"period\" (e.g. \"2025-Q1\")"));
                None
            }
            Some(p) => match p.parse::<Period>() {
                Ok(p) => Some(p),
                Err(e) => {
                    problems.push(format!("{file}: period: {e}"));
                    None
                }
            },
        };
        match obj.get("error") {
            None | Some(serde_json::Value::String(_)) => {}
            Some(_) => problems.push(format!("{file}: `error` must be a string")),
        }
        if obj.contains_key("error")
            && ["results", "n", "grade_distribution"]
                .iter()
                .any(|k| obj.contains_key(*k))
        {
            problems.push(format!(
                "{file}: a case expects either an `error` or results, not both"
            ));
        }
        match (period, problems.is_empty()) {
            (Some(period), true) => Ok(Expected {
                description,
                period,
                object: obj.clone(),
            }),
            _ => Err(problems.join("\n")),
        }
    }

    /// Parse a case's inputs and rank them for `period`.
    pub fn run_case_inputs(&self, case: &TestCase, period: &Period) -> CaseRun {
        let mut inputs = BTreeMap::new();
        for (s, path) in &case.inputs {
            let schema = &self.sources[s];
            let Some(bytes) = self.files.get(path) else {
                return CaseRun::Failed(format!("{path} is missing"));
            };
            match Dataset::parse(schema, path, bytes) {
                Ok(d) => {
                    inputs.insert(s.clone(), d);
                }
                Err(e) => return CaseRun::Failed(e.to_string()),
            }
        }
        match rank(self, &inputs, period) {
            Ok(r) => CaseRun::Ranked(r.to_json()),
            Err(e) => CaseRun::Failed(e.to_string()),
        }
    }
}

/// The closest known key within edit distance 2, if any.
pub fn did_you_mean<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 4) && *d < k.chars().count())
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn run_case(pkg: &RulePackage, case: &TestCase) -> CaseReport {
    let expected = match pkg.read_expected(case) {
        Ok(e) => e,
        Err(e) => {
            return CaseReport {
                name: case.name.clone(),
                description: String::new(),
                outcome: CaseOutcome::Error(e),
            }
        }
    };
    let obj = &expected.object;
    let want_error = obj.get("error").and_then(|e| e.as_str());
    let result = pkg.run_case_inputs(case, &expected.period);
    let mismatch = |expected: String, actual: String| {
        CaseOutcome::Mismatch(vec![Difference {
            path: "error".into(),
            expected,
            actual,
        }])
    };
    let outcome = match (want_error, result) {
        (Some(w), CaseRun::Failed(e)) if e.contains(w) => CaseOutcome::Pass,
        (Some(w), CaseRun::Failed(e)) => mismatch(format!("an error containing {w:?}"), e),
        (Some(w), CaseRun::Ranked(_)) => {
            mismatch(format!("an error containing {w:?}"), "success".into())
        }
        (None, CaseRun::Failed(e)) => CaseOutcome::Error(e),
        (None, CaseRun::Ranked(actual)) => {
            let mut diffs = Vec::new();
            for key in ["results", "n", "grade_distribution"] {
                let Some(want) = obj.get(key) else { continue };
                let got = actual.get(key).cloned().unwrap_or(serde_json::Value::Null);
                for (path, e, a) in differences(key, want, &got) {
                    diffs.push(Difference {
                        path,
                        expected: e,
                        actual: a,
                    });
                }
            }
            if diffs.is_empty() {
                CaseOutcome::Pass
            } else {
                CaseOutcome::Mismatch(diffs)
            }
        }
    };
    CaseReport {
        name: case.name.clone(),
        description: expected.description,
        outcome,
    }
}

/// Every place `got` differs from `want`, in order. Objects in `want` are
/// matched as subsets (only the fields written are pinned); arrays are
/// compared item by item and a length difference is reported after them;
/// everything else must be equal.
pub fn differences(
    path: &str,
    want: &serde_json::Value,
    got: &serde_json::Value,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    collect_differences(path, want, got, &mut out);
    out
}

fn collect_differences(
    path: &str,
    want: &serde_json::Value,
    got: &serde_json::Value,
    out: &mut Vec<(String, String, String)>,
) {
    use serde_json::Value as J;
    match (want, got) {
        (J::Object(w), J::Object(g)) => {
            for (k, wv) in w {
                let gv = g.get(k).unwrap_or(&J::Null);
                let label = match g.get("staff_id").and_then(|s| s.as_str()) {
                    Some(id) if k != "staff_id" => format!("{path}.{k} (staff {id})"),
                    _ => format!("{path}.{k}"),
                };
                collect_differences(&label, wv, gv, out);
            }
        }
        (J::Array(w), J::Array(g)) => {
            for (i, (wv, gv)) in w.iter().zip(g.iter()).enumerate() {
                collect_differences(&format!("{path}[{i}]"), wv, gv, out);
            }
            if w.len() != g.len() {
                out.push((
                    format!("{path}.length"),
                    w.len().to_string(),
                    g.len().to_string(),
                ));
            }
        }
        (w, g) if w == g => {}
        (w, g) => out.push((path.to_owned(), w.to_string(), g.to_string())),
    }
}

/// The first place `got` differs from `want` (see [`differences`]).
pub fn first_difference(
    path: &str,
    want: &serde_json::Value,
    got: &serde_json::Value,
) -> Option<(String, String, String)> {
    differences(path, want, got).into_iter().next()
}
