//! Phase 6: `fn classify(cohort, scores, standing)` once, after ordering
//! and ranking: a grade, a bonus multiplier, flags and named explanation
//! values for every staff member.

use rhai::{Dynamic, INT};
use rust_decimal::Decimal;

use crate::column::{Column, Data, Operand};
use crate::jcs;
use crate::sandbox::Cohort;

use super::score::{decimals, named_values, Scored};
use super::script::Ctx;
use super::{EvalError, COHORT};

pub(crate) struct Classified {
    /// Index into the declared grades, per staff member.
    pub grade: Vec<u16>,
    pub bonus: Vec<Decimal>,
    /// Flag name and whether it is raised, per staff member; names in byte order.
    pub flags: Vec<(String, Vec<bool>)>,
    /// Named columns for every staff member's explanation, in JCS order.
    pub explain_columns: Vec<(String, Operand)>,
    /// Named single values, written once for the cohort.
    pub explain_scalars: Vec<(String, Operand)>,
}

pub(crate) fn classify(
    ctx: &Ctx<'_>,
    cohort: &Cohort,
    scored: &Scored,
    positions: &[usize],
    ranks: &[u64],
) -> Result<Classified, EvalError> {
    let n = positions.len();
    let mut position = vec![0i64; n];
    let mut rank = vec![0i64; n];
    for (p, &i) in positions.iter().enumerate() {
        position[i] = i64::try_from(p + 1).unwrap_or(i64::MAX);
        rank[i] = i64::try_from(ranks[p]).unwrap_or(i64::MAX);
    }
    let position = Column::from_data(Data::Int(position), Vec::new());
    let rank = Column::from_data(Data::Int(rank), Vec::new());
    let scores: rhai::Map = scored
        .values
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().into(),
                Dynamic::from(Column::from_data(Data::Dec(v.clone()), Vec::new())),
            )
        })
        .collect();
    let n_int = INT::try_from(n).unwrap_or(INT::MAX);
    let out = ctx.call("classify", || {
        let mut standing = rhai::Map::new();
        standing.insert("position".into(), Dynamic::from(position.clone()));
        standing.insert("rank".into(), Dynamic::from(rank.clone()));
        standing.insert("n".into(), Dynamic::from_int(n_int));
        vec![
            Dynamic::from(cohort.clone()),
            Dynamic::from_map(scores.clone()),
            Dynamic::from_map(standing),
        ]
    })?;
    let m = out
        .try_cast::<rhai::Map>()
        .ok_or_else(|| ctx.bad_return("classify", COHORT, "something other than a map".into()))?;
    for k in m.keys() {
        if !matches!(
            k.as_str(),
            "grade" | "bonus_multiplier" | "flags" | "explain"
        ) {
            return Err(ctx.bad_return(
                "classify",
                COHORT,
                format!("undeclared key `{k}` (put it under explain)"),
            ));
        }
    }
    let grades = &ctx.pkg.ranking().grades;
    let bad_grade = |staff: &str, g: &str| {
        ctx.bad_return(
            "classify",
            staff,
            format!("grade `{g}`, which is not among the declared grades {grades:?}"),
        )
    };
    let index_of = |g: &str| grades.iter().position(|x| x == g).map(|k| k as u16);
    let g = m
        .get("grade")
        .ok_or_else(|| ctx.bad_return("classify", COHORT, "no `grade`".into()))?;
    let grade: Vec<u16> = match Operand::from_dynamic(g, "grade") {
        Ok(Operand::Text(t)) => vec![index_of(&t).ok_or_else(|| bad_grade(COHORT, &t))?; n],
        Ok(Operand::Col(c)) => {
            ctx.check("classify", &c, "grade")?;
            match c.data() {
                Data::Text(v) => v
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        index_of(t).ok_or_else(|| bad_grade(ctx.staff_ids[i].as_str(), t))
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(ctx.bad_return(
                        "classify",
                        COHORT,
                        format!("a {} column as `grade`, which must be text", other.kind()),
                    ))
                }
            }
        }
        _ => {
            return Err(ctx.bad_return(
                "classify",
                COHORT,
                format!("a `grade` that is not text ({})", g.type_name()),
            ))
        }
    };
    let b = m.get("bonus_multiplier").ok_or_else(|| {
        ctx.bad_return("classify", COHORT, "no numeric `bonus_multiplier`".into())
    })?;
    let bonus = decimals(ctx, "classify", "bonus_multiplier", b)?;
    let mut flags = Vec::new();
    if let Some(f) = m.get("flags") {
        let fm = f.read_lock::<rhai::Map>().ok_or_else(|| {
            ctx.bad_return(
                "classify",
                COHORT,
                "`flags` that is not a map of flag name to true/false".into(),
            )
        })?;
        for (k, v) in fm.iter() {
            let raised = match Operand::from_dynamic(v, "flags") {
                Ok(Operand::Bool(b)) => vec![b; n],
                Ok(Operand::Col(c)) => {
                    ctx.check("classify", &c, &format!("flags.{k}"))?;
                    match c.data() {
                        Data::Bool(v) => v.clone(),
                        _ => {
                            return Err(ctx.bad_return(
                                "classify",
                                COHORT,
                                format!("flags.{k} that is not true/false"),
                            ))
                        }
                    }
                }
                _ => {
                    return Err(ctx.bad_return(
                        "classify",
                        COHORT,
                        format!("flags.{k} that is not true/false"),
                    ))
                }
            };
            flags.push((k.to_string(), raised));
        }
    }
    flags.sort_by(|a, b| a.0.cmp(&b.0));
    let mut explain = named_values(ctx, "classify", m.get("explain"))?;
    explain.sort_by(|a, b| jcs::utf16_cmp(&a.0, &b.0));
    let (explain_columns, explain_scalars) = explain
        .into_iter()
        .partition(|(_, o)| matches!(o, Operand::Col(_)));
    Ok(Classified {
        grade,
        bonus,
        flags,
        explain_columns,
        explain_scalars,
    })
}
