//! Phase 1: check the inputs against the package and join them on staff ID.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::crosscheck::Excluded;
use crate::dataset::Dataset;
use crate::package::RulePackage;
use crate::period::Period;
use crate::schema::{MissingStaff, SourceName, StaffId};

use super::EvalError;

/// The joined inputs: every dataset holds exactly `staff_ids`, in the same
/// (ascending) order, so row `i` of every source is staff member `i`.
pub(crate) struct Joined<'a> {
    pub n: usize,
    pub staff_ids: Vec<StaffId>,
    /// The datasets in source-name order (without the excluded staff).
    pub sources: Vec<Cow<'a, Dataset>>,
    /// Staff left out because a source lacks them (`missing_staff =
    /// "exclude"`), in staff-ID order, with the sources they are missing from.
    pub excluded: Vec<Excluded>,
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
    let mut lists = inputs.values().map(|d| d.staff_ids());
    let same = match lists.next() {
        Some(first) => lists.all(|l| l == first),
        None => true,
    };
    let mut excluded = Vec::new();
    let mut sources: Vec<Cow<'a, Dataset>> = inputs.values().map(Cow::Borrowed).collect();
    if !same {
        let ids: BTreeSet<&StaffId> = inputs.values().flat_map(|d| d.staff_ids().iter()).collect();
        for id in &ids {
            let missing: Vec<SourceName> = inputs
                .iter()
                .filter(|(_, d)| d.index_of(id).is_none())
                .map(|(s, _)| s.clone())
                .collect();
            let Some(first_missing) = missing.first() else {
                continue;
            };
            if pkg.missing_staff() == MissingStaff::Refuse {
                let (fs, fd) = inputs
                    .iter()
                    .find(|(_, d)| d.index_of(id).is_some())
                    .map(|(s, d)| (s.clone(), d))
                    .unwrap_or_else(|| (first_missing.clone(), &inputs[first_missing]));
                let at = fd
                    .index_of(id)
                    .and_then(|i| fd.loc(i))
                    .map(|l| l.to_string())
                    .unwrap_or_default();
                return Err(EvalError::StaffMissing {
                    staff_id: id.to_string(),
                    source_name: first_missing.to_string(),
                    found_in: format!("found in {fs}: {} {at}", fd.file_label()),
                });
            }
            excluded.push(Excluded {
                staff_id: (*id).clone(),
                missing_from: missing,
            });
        }
        let out: BTreeSet<StaffId> = excluded.iter().map(|e| e.staff_id.clone()).collect();
        sources = inputs
            .values()
            .map(|d| Cow::Owned(d.without_staff(&out)))
            .collect();
    }
    let staff_ids: Vec<StaffId> = sources
        .first()
        .map(|d| d.staff_ids().to_vec())
        .unwrap_or_default();
    if staff_ids.is_empty() && !excluded.is_empty() {
        return Err(EvalError::NoEligibleStaff {
            excluded: excluded.len(),
        });
    }
    Ok(Joined {
        n: staff_ids.len(),
        staff_ids,
        sources,
        excluded,
    })
}
