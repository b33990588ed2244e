//! Phase 2: the joined inputs as columns — the `cohort` a script sees.
//! An empty optional cell is an element without a value (a "no value"
//! fault that `present` and `fill` handle and that is an error anywhere
//! else).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use rhai::ImmutableString;

use crate::column::{Column, Data, Fault};
use crate::dataset::{ColumnRef, Dataset};
use crate::sandbox::{Cohort, CohortData};
use crate::schema::ColumnType;

use super::join::Joined;

pub(crate) fn columns(j: &Joined<'_>) -> Cohort {
    let mut columns = BTreeMap::new();
    let ids: Vec<ImmutableString> = j
        .staff_ids
        .iter()
        .map(|s| ImmutableString::from(s.as_str()))
        .collect();
    columns.insert(
        "staff_id".to_owned(),
        Column::from_data(Data::Text(ids), Vec::new()),
    );
    for d in &j.sources {
        let built: Vec<(String, Column)> = d
            .schema()
            .columns
            .par_iter()
            .enumerate()
            .skip(1)
            .map(|(ci, c)| (c.name.clone(), column(d, ci, &c.name, c.ty)))
            .collect();
        columns.extend(built);
    }
    Cohort(Arc::new(CohortData { n: j.n, columns }))
}

/// Schema column `ci` of `d` as a script column: numbers copied from the
/// typed column, text as one shared string per distinct value; an empty
/// cell is a "no value" fault.
fn column(d: &Dataset, ci: usize, name: &str, ty: ColumnType) -> Column {
    let n = d.n_rows();
    let presence = d.presence(ci);
    let faults: Vec<(u32, Arc<Fault>)> = match presence {
        None => Vec::new(),
        Some(p) => {
            let fault = Arc::new(Fault {
                op: "read".to_owned(),
                line: 0,
                column: 0,
                message: format!(
                    "has no value for `{name}` (an empty optional cell; use present or fill)"
                ),
                no_value: true,
            });
            p.iter()
                .enumerate()
                .filter(|(_, has)| !**has)
                .map(|(i, _)| (u32::try_from(i).unwrap_or(u32::MAX), Arc::clone(&fault)))
                .collect()
        }
    };
    let data = match (ty, d.column(ci)) {
        (ColumnType::Integer, Some(ColumnRef::Integer(v))) => Data::Int(v.to_vec()),
        (ColumnType::Decimal, Some(ColumnRef::Decimal(v))) => Data::Dec(v.to_vec()),
        (ColumnType::Text, Some(ColumnRef::Text(t))) => {
            // Region, team and the like repeat a lot: one string each.
            let mut shared: HashMap<&str, ImmutableString> = HashMap::new();
            Data::Text(
                t.iter()
                    .map(|s| {
                        shared
                            .entry(s)
                            .or_insert_with(|| ImmutableString::from(s))
                            .clone()
                    })
                    .collect(),
            )
        }
        (ColumnType::Text, Some(ColumnRef::StaffId(ids))) => Data::Text(
            ids.iter()
                .map(|s| ImmutableString::from(s.as_str()))
                .collect(),
        ),
        // INVARIANT: a dataset's columns have their schema's types.
        (ColumnType::Integer, _) => Data::Int(vec![0; n]),
        (ColumnType::Decimal, _) => Data::Dec(vec![Default::default(); n]),
        (ColumnType::Text, _) => Data::Text(vec![ImmutableString::new(); n]),
    };
    Column::from_data(data, faults)
}
