//! Phase 5: `fn grade_quota(n)` once, and the grade distribution against it.

use std::collections::BTreeMap;

use rhai::{Dynamic, INT};

use super::document::GradeCount;
use super::script::Ctx;
use super::{EvalError, COHORT};

/// Grade → quota; empty when the package has no `grade_quota` or it returns `()`.
pub(crate) fn grade_quota(ctx: &Ctx<'_>, n: usize) -> Result<BTreeMap<String, u64>, EvalError> {
    if !ctx.pkg.has_quota {
        return Ok(BTreeMap::new());
    }
    let n_int = INT::try_from(n).unwrap_or(INT::MAX);
    let out = ctx.call("grade_quota", || vec![Dynamic::from_int(n_int)])?;
    if out.is_unit() {
        return Ok(BTreeMap::new());
    }
    let m = out.try_cast::<rhai::Map>().ok_or_else(|| {
        ctx.bad_return(
            "grade_quota",
            COHORT,
            "something other than a map or ()".into(),
        )
    })?;
    let grades = &ctx.pkg.ranking().grades;
    let mut q = BTreeMap::new();
    for (k, v) in m {
        if !grades.iter().any(|g| g == k.as_str()) {
            return Err(ctx.bad_return(
                "grade_quota",
                COHORT,
                format!("a quota for undeclared grade `{k}`"),
            ));
        }
        let c = v
            .as_int()
            .ok()
            .and_then(|x| u64::try_from(x).ok())
            .ok_or_else(|| {
                ctx.bad_return(
                    "grade_quota",
                    COHORT,
                    format!("a non-integer quota for `{k}`"),
                )
            })?;
        q.insert(k.to_string(), c);
    }
    Ok(q)
}

/// For each declared grade, in declared order: its count, its quota and
/// whether the count exceeds the quota.
pub(crate) fn distribution(
    grades: &[String],
    quota: &BTreeMap<String, u64>,
    assigned: &[&str],
) -> Vec<GradeCount> {
    grades
        .iter()
        .map(|g| {
            let count = assigned.iter().filter(|a| **a == g.as_str()).count() as u64;
            let q = quota.get(g).copied();
            GradeCount {
                grade: g.clone(),
                count,
                quota: q,
                exceeded: q.is_some_and(|q| count > q),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_counts_against_quota() {
        let grades: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        // (quota, assigned grades, expected (count, quota, exceeded) per grade)
        type Row<'a> = (
            &'a [(&'a str, u64)],
            &'a [&'a str],
            &'a [(u64, Option<u64>, bool)],
        );
        let table: &[Row<'_>] = &[
            (
                &[],
                &["A", "B", "B"],
                &[(1, None, false), (2, None, false), (0, None, false)],
            ),
            (
                &[("A", 1), ("B", 1), ("C", 1)],
                &["A", "A", "C"],
                &[(2, Some(1), true), (0, Some(1), false), (1, Some(1), false)],
            ),
            (
                &[("A", 0)],
                &["B"],
                &[(0, Some(0), false), (1, None, false), (0, None, false)],
            ),
        ];
        for (q, assigned, want) in table {
            let quota: BTreeMap<String, u64> = q.iter().map(|(g, c)| (g.to_string(), *c)).collect();
            let got = distribution(&grades, &quota, assigned);
            let got: Vec<(u64, Option<u64>, bool)> =
                got.iter().map(|g| (g.count, g.quota, g.exceeded)).collect();
            assert_eq!(&got, want);
        }
    }
}
