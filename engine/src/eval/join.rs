//! Phase 1: check the inputs against the package and join them on staff ID.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataset::Dataset;
use crate::package::RulePackage;
use crate::period::Period;
use crate::schema::{SourceName, StaffId};

use super::EvalError;

/// The joined inputs: every dataset holds exactly `staff_ids`, in the same
/// (ascending) order, so row `i` of every source is staff member `i`.
pub(crate) struct Joined<'a> {
    pub n: usize,
    pub staff_ids: Vec<StaffId>,
    /// The datasets in source-name order.
    pub sources: Vec<&'a Dataset>,
}

pub(crate) fn join<'a>(
    pkg: &RulePackage,
    inputs: &'a BTreeMap<SourceName, Dataset>,
    period: &Period,
) -> Result<Joined<'a>, EvalError> {
    for s in pkg.sources().keys() {
        if !inputs.contains_key(s) {
            return Err(EvalError::MissingSource(s.to_string()));
        }
    }
    for (s, d) in inputs {
        match pkg.sources().get(s) {
            None => return Err(EvalError::UnexpectedSource(s.to_string())),
            Some(schema) if schema != d.schema() => {
                return Err(EvalError::SchemaMismatch(s.to_string()))
            }
            Some(_) => {}
        }
    }
    if !pkg.is_effective(period) {
        let span = match pkg.effective_until() {
            Some(u) => format!("{} to {}", pkg.effective_from(), u),
            None => format!("from {}", pkg.effective_from()),
        };
        return Err(EvalError::NotEffective {
            period: period.to_string(),
            span,
        });
    }

    // Every source must hold exactly the same IDs. The datasets are sorted,
    // so equal ID lists are the fast, common case.
    let mut lists = inputs
        .values()
        .map(|d| d.rows().iter().map(|r| &r.staff_id));
    let same = match lists.next() {
        Some(first) => {
            let first: Vec<&StaffId> = first.collect();
            lists.all(|l| l.eq(first.iter().copied()))
        }
        None => true,
    };
    if !same {
        let ids: BTreeSet<&StaffId> = inputs
            .values()
            .flat_map(|d| d.rows().iter().map(|r| &r.staff_id))
            .collect();
        for id in &ids {
            for (s, d) in inputs {
                if d.row(id).is_none() {
                    let (fs, fd) = inputs
                        .iter()
                        .find(|(_, d)| d.row(id).is_some())
                        .map(|(s, d)| (s.clone(), d))
                        .unwrap_or_else(|| (s.clone(), d));
                    let at = fd.row(id).map(|r| r.at.to_string()).unwrap_or_default();
                    return Err(EvalError::StaffMissing {
                        staff_id: id.to_string(),
                        source_name: s.to_string(),
                        found_in: format!("found in {fs}: {} {at}", fd.file_label()),
                    });
                }
            }
        }
    }
    let sources: Vec<&Dataset> = inputs.values().collect();
    let staff_ids: Vec<StaffId> = sources
        .first()
        .map(|d| d.rows().iter().map(|r| r.staff_id.clone()).collect())
        .unwrap_or_default();
    Ok(Joined {
        n: staff_ids.len(),
        staff_ids,
        sources,
    })
}
