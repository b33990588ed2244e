//! Checks across the sources of one period, run when a dataset is
//! recorded: staff missing from a source, and IDs that differ only by
//! letter case or character width. Every finding at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::dataset::{Dataset, Loc};
use crate::schema::{MissingStaff, SourceName, StaffId};

/// Where a staff ID was found: the source, the file label and the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundAt {
    pub source: SourceName,
    pub file: String,
    pub at: Loc,
}

impl fmt::Display for FoundAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.source, self.file, self.at)
    }
}

/// A disagreement between the sources of a period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrossProblem {
    #[error("staff `{staff_id}` (found in {found}) is missing from source `{missing_from}`; add them to that source's file, remove them from the other, or declare [join] missing_staff = \"exclude\" in the package")]
    Missing {
        staff_id: StaffId,
        found: FoundAt,
        missing_from: SourceName,
    },
    #[error("staff IDs `{staff_id}` ({at}) and `{other}` ({other_at}) differ only by letter case or full-/half-width characters; write one person's ID the same way in every source")]
    Lookalike {
        staff_id: StaffId,
        at: FoundAt,
        other: StaffId,
        other_at: FoundAt,
    },
}

/// Every disagreement found (the first 50, and a count of the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrossProblems {
    pub problems: Vec<CrossProblem>,
    pub n_more: usize,
}

impl fmt::Display for CrossProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::dataset::write_problems(f, &self.problems, self.n_more, "")
    }
}

impl std::error::Error for CrossProblems {}

/// A staff member left out under `missing_staff = "exclude"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excluded {
    pub staff_id: StaffId,
    /// The sources the staff member is missing from.
    pub missing_from: Vec<SourceName>,
}

/// What the check accepted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CrossReport {
    /// Staff not eligible because a source lacks them (only under `exclude`),
    /// in staff ID order.
    pub excluded: Vec<Excluded>,
}

impl CrossReport {
    /// The excluded staff IDs (to pass to [`Dataset::without_staff`]).
    pub fn excluded_ids(&self) -> BTreeSet<StaffId> {
        self.excluded.iter().map(|e| e.staff_id.clone()).collect()
    }
}

const MAX_PROBLEMS: usize = 50;

/// Check `new` against the datasets already recorded for the same period
/// (other sources; a recorded dataset of `new`'s own source is the one
/// being superseded and is skipped). IDs that differ only by case or width
/// are always refused; staff missing from a source are refused or, under
/// [`MissingStaff::Exclude`], listed as excluded.
pub fn cross_check(
    new: &Dataset,
    recorded: &[&Dataset],
    policy: MissingStaff,
) -> Result<CrossReport, CrossProblems> {
    let mut sets: Vec<&Dataset> = vec![new];
    let mut seen_sources: BTreeSet<&SourceName> = BTreeSet::from([&new.schema().source]);
    for d in recorded {
        if seen_sources.insert(&d.schema().source) {
            sets.push(d);
        }
    }
    // Sources in name order, so findings come out in one order.
    sets.sort_by(|a, b| a.schema().source.cmp(&b.schema().source));
    // The usual case: every source lists the same staff. Nobody is then
    // missing, and no two different IDs share a folded key (the reader
    // refuses look-alikes within a file), so there is nothing to find.
    if sets
        .windows(2)
        .all(|w| w[0].staff_ids() == w[1].staff_ids())
    {
        return Ok(CrossReport {
            excluded: Vec::new(),
        });
    }
    let found = |d: &Dataset, at: Loc| FoundAt {
        source: d.schema().source.clone(),
        file: d.file_label().to_owned(),
        at,
    };
    let mut problems = Vec::new();
    let mut n_more = 0usize;
    let mut push = |p: CrossProblem, problems: &mut Vec<CrossProblem>| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(p);
        } else {
            n_more += 1;
        }
    };

    // Look-alike IDs across sources (within one file the reader refuses them).
    let mut by_key: BTreeMap<String, (&StaffId, usize, Loc)> = BTreeMap::new();
    let mut lookalike: BTreeSet<&StaffId> = BTreeSet::new();
    for (si, d) in sets.iter().enumerate() {
        for (i, id) in d.staff_ids().iter().enumerate() {
            let at = d.loc(i).unwrap_or(Loc::Row(0));
            let key = id.fold_key();
            match by_key.get(&key) {
                Some((other, osi, oat)) if *other != id => {
                    lookalike.insert(other);
                    if lookalike.insert(id) {
                        push(
                            CrossProblem::Lookalike {
                                staff_id: id.clone(),
                                at: found(d, at),
                                other: (*other).clone(),
                                other_at: found(sets[*osi], *oat),
                            },
                            &mut problems,
                        );
                    }
                }
                Some(_) => {}
                None => {
                    by_key.insert(key, (id, si, at));
                }
            }
        }
    }

    // Staff missing from a source: walk the union of IDs in order.
    let mut excluded: Vec<Excluded> = Vec::new();
    let mut union: BTreeMap<&StaffId, (usize, Loc)> = BTreeMap::new();
    for (si, d) in sets.iter().enumerate() {
        for (i, id) in d.staff_ids().iter().enumerate() {
            union
                .entry(id)
                .or_insert((si, d.loc(i).unwrap_or(Loc::Row(0))));
        }
    }
    for (id, (si, at)) in union {
        let missing: Vec<SourceName> = sets
            .iter()
            .filter(|d| d.index_of(id).is_none())
            .map(|d| d.schema().source.clone())
            .collect();
        if missing.is_empty() || lookalike.contains(id) {
            continue;
        }
        match policy {
            MissingStaff::Exclude => excluded.push(Excluded {
                staff_id: id.clone(),
                missing_from: missing,
            }),
            MissingStaff::Refuse => {
                for m in missing {
                    push(
                        CrossProblem::Missing {
                            staff_id: id.clone(),
                            found: found(sets[si], at),
                            missing_from: m,
                        },
                        &mut problems,
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(CrossReport { excluded })
    } else {
        Err(CrossProblems { problems, n_more })
    }
}
