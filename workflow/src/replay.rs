//! What a replay finds when a recomputed ranking differs from the
//! published one.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// One difference between a published ranking and its replay.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mismatch {
    /// The ranking could not be recomputed from its recorded materials.
    Materials(String),
    /// The recomputed result document hashes differently.
    ResultHash {
        /// The published `result`.
        published: String,
        /// The hash of the recomputed document.
        replayed: String,
    },
    /// A staff member's member differs.
    Field {
        /// The staff member.
        staff_id: String,
        /// The member.
        field: String,
        /// Its published value (JSON).
        published: String,
        /// Its replayed value (JSON).
        replayed: String,
    },
    /// Published but absent from the replay.
    MissingStaff(String),
    /// In the replay but not published.
    ExtraStaff(String),
    /// Every per-staff member agrees: the difference is in the header or
    /// the explanations.
    Elsewhere,
    /// The salted results root differs from the published one.
    ResultsRoot,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Materials(e) => write!(f, "cannot recompute: {e}"),
            Mismatch::ResultHash {
                published,
                replayed,
            } => write!(
                f,
                "result hash {replayed} differs from the published {published}"
            ),
            Mismatch::Field {
                staff_id,
                field,
                published,
                replayed,
            } => write!(
                f,
                "staff {staff_id}: {field} published {published}, replayed {replayed}"
            ),
            Mismatch::MissingStaff(id) => {
                write!(f, "staff {id}: published but missing from the replay")
            }
            Mismatch::ExtraStaff(id) => write!(f, "staff {id}: in the replay but not published"),
            Mismatch::Elsewhere => write!(
                f,
                "per-staff members agree; the difference is in the document header or explanations"
            ),
            Mismatch::ResultsRoot => {
                write!(f, "the salted results root differs from the published one")
            }
        }
    }
}

/// Staff-by-staff, member-by-member differences of two lists of records.
pub fn diff_records(
    published: impl Iterator<Item = Map<String, Value>>,
    replayed: impl Iterator<Item = Map<String, Value>>,
) -> Vec<Mismatch> {
    let index =
        |it: &mut dyn Iterator<Item = Map<String, Value>>| -> BTreeMap<String, Map<String, Value>> {
            it.filter_map(|r| {
                let id = r.get("staff_id")?.as_str()?.to_owned();
                Some((id, r))
            })
            .collect()
        };
    let mut published = published;
    let mut replayed = replayed;
    let a = index(&mut published);
    let b = index(&mut replayed);
    let mut out = Vec::new();
    for (id, ra) in &a {
        let Some(rb) = b.get(id) else {
            out.push(Mismatch::MissingStaff(id.clone()));
            continue;
        };
        for (k, va) in ra {
            if k == "explain" {
                continue;
            }
            if rb.get(k) != Some(va) {
                out.push(Mismatch::Field {
                    staff_id: id.clone(),
                    field: k.clone(),
                    published: va.to_string(),
                    replayed: rb.get(k).unwrap_or(&Value::Null).to_string(),
                });
            }
        }
    }
    for id in b.keys().filter(|id| !a.contains_key(*id)) {
        out.push(Mismatch::ExtraStaff(id.clone()));
    }
    if out.is_empty() {
        out.push(Mismatch::Elsewhere);
    }
    out
}
