//! Phase 2: the joined inputs as columns — the `cohort` a script sees.
//! An empty optional cell is an element without a value (a "no value"
//! fault that `present` and `fill` handle and that is an error anywhere
//! else).

use std::collections::BTreeMap;
use std::sync::Arc;

use rayon::prelude::*;
use rhai::ImmutableString;

use crate::column::{Column, Data, Fault};
use crate::dataset::Value;
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
            .map(|(ci, c)| {
                let rows = d.rows();
                let mut faults = Vec::new();
                let mut missing = |i: usize| {
                    faults.push((
                        i as u32,
                        Arc::new(Fault {
                            op: "read".to_owned(),
                            line: 0,
                            column: 0,
                            message: format!(
                                "has no value for `{}` (an empty optional cell; use present or fill)",
                                c.name
                            ),
                            no_value: true,
                        }),
                    ))
                };
                let data = match c.ty {
                    ColumnType::Integer => Data::Int(
                        rows.iter()
                            .enumerate()
                            .map(|(i, r)| match &r.values[ci] {
                                Some(Value::Integer(x)) => *x,
                                _ => {
                                    missing(i);
                                    0
                                }
                            })
                            .collect(),
                    ),
                    ColumnType::Decimal => Data::Dec(
                        rows.iter()
                            .enumerate()
                            .map(|(i, r)| match &r.values[ci] {
                                Some(v) => v.as_decimal().unwrap_or_default(),
                                None => {
                                    missing(i);
                                    Default::default()
                                }
                            })
                            .collect(),
                    ),
                    ColumnType::Text => Data::Text(
                        rows.iter()
                            .enumerate()
                            .map(|(i, r)| match &r.values[ci] {
                                Some(Value::Text(t)) => ImmutableString::from(t.as_str()),
                                _ => {
                                    missing(i);
                                    ImmutableString::new()
                                }
                            })
                            .collect(),
                    ),
                };
                (c.name.clone(), Column::from_data(data, faults))
            })
            .collect();
        columns.extend(built);
    }
    Cohort(Arc::new(CohortData { n: j.n, columns }))
}
