//! Phase 3: `fn score(cohort)` once; the declared scores as columns, the
//! terms of every score built with `terms`, and the named values the
//! script returns under `explain`.

use std::collections::BTreeMap;

use rhai::Dynamic;
use rust_decimal::Decimal;

use crate::column::{Column, Data, Operand, Terms};
use crate::jcs;
use crate::sandbox::Cohort;

use super::script::Ctx;
use super::COHORT;

/// What `score` computed.
pub(crate) struct Scored {
    /// Every declared score (unrounded), one value per staff member.
    pub values: BTreeMap<String, Vec<Decimal>>,
    /// The scores built from `terms`, for the explanation.
    pub terms: BTreeMap<String, Terms>,
    /// Named columns for every staff member's explanation (`explain: #{...}`), in JCS order.
    pub detail_columns: Vec<(String, Operand)>,
    /// Named single values of `explain`, written once for the cohort.
    pub detail_scalars: Vec<(String, Operand)>,
}

impl Scored {
    pub fn values(&self, score: &str) -> &[Decimal] {
        self.values.get(score).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A numeric column (or scalar) as decimals, refusing faulted elements.
pub(crate) fn decimals(
    ctx: &Ctx<'_>,
    function: &str,
    what: &str,
    d: &Dynamic,
) -> Result<Vec<Decimal>, crate::eval::EvalError> {
    let n = ctx.staff_ids.len();
    let o = Operand::from_dynamic(d, what).map_err(|_| {
        ctx.bad_return(
            function,
            COHORT,
            format!("a non-numeric `{what}` ({})", d.type_name()),
        )
    })?;
    match o {
        Operand::Int(i) => Ok(vec![Decimal::from(i); n]),
        Operand::Dec(x) => Ok(vec![x; n]),
        Operand::Col(c) => {
            ctx.check(function, &c, what)?;
            match c.data() {
                Data::Int(v) => Ok(v.iter().map(|x| Decimal::from(*x)).collect()),
                Data::Dec(v) => Ok(v.clone()),
                other => Err(ctx.bad_return(
                    function,
                    COHORT,
                    format!(
                        "a {} column as `{what}`, which must be numeric",
                        other.kind()
                    ),
                )),
            }
        }
        other => Err(ctx.bad_return(
            function,
            COHORT,
            format!("`{what}` that is not a number ({other:?})"),
        )),
    }
}

/// The named values of an `explain` map, in JCS order, checked for faults.
pub(crate) fn named_values(
    ctx: &Ctx<'_>,
    function: &str,
    m: Option<&Dynamic>,
) -> Result<Vec<(String, Operand)>, crate::eval::EvalError> {
    let Some(m) = m else { return Ok(Vec::new()) };
    let m = m
        .read_lock::<rhai::Map>()
        .ok_or_else(|| ctx.bad_return(function, COHORT, "an `explain` that is not a map".into()))?;
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m.iter() {
        let o = Operand::from_dynamic(v, "explain").map_err(|_| {
            ctx.bad_return(
                function,
                COHORT,
                format!(
                    "explain.{k} of type {}: explanations hold columns, numbers, text and true/false",
                    v.type_name()
                ),
            )
        })?;
        if let Operand::Col(c) = &o {
            if c.len() != ctx.staff_ids.len() {
                return Err(ctx.bad_return(
                    function,
                    COHORT,
                    format!("explain.{k}: a column of another cohort"),
                ));
            }
            ctx.check(function, c, &format!("explain.{k}"))?;
        }
        out.push((k.to_string(), o));
    }
    out.sort_by(|a, b| jcs::utf16_cmp(&a.0, &b.0));
    Ok(out)
}

pub(crate) fn score(ctx: &Ctx<'_>, cohort: &Cohort) -> Result<Scored, crate::eval::EvalError> {
    let out = ctx.call("score", || vec![Dynamic::from(cohort.clone())])?;
    let m = out
        .try_cast::<rhai::Map>()
        .ok_or_else(|| ctx.bad_return("score", COHORT, "something other than a map".into()))?;
    let spec = ctx.pkg.ranking();
    for k in m.keys() {
        if k.as_str() != "explain" && !spec.scores.iter().any(|s| s == k.as_str()) {
            return Err(ctx.bad_return(
                "score",
                COHORT,
                format!(
                    "undeclared key `{k}` (declare it in ranking.scores or put it under explain)"
                ),
            ));
        }
    }
    let mut values = BTreeMap::new();
    let mut terms = BTreeMap::new();
    for s in &spec.scores {
        let v = m
            .get(s.as_str())
            .ok_or_else(|| ctx.bad_return("score", COHORT, format!("no `{s}`")))?;
        if let Some(t) = v.read_lock::<Terms>() {
            for c in &t.contributions {
                if let Operand::Col(c) = c {
                    ctx.check("score", c, s)?;
                }
            }
            terms.insert(s.clone(), t.clone());
        }
        let col = v
            .read_lock::<Terms>()
            .map(|t| Dynamic::from::<Column>(t.value.clone()))
            .unwrap_or_else(|| v.clone());
        values.insert(s.clone(), decimals(ctx, "score", s, &col)?);
    }
    let (detail_columns, detail_scalars) = named_values(ctx, "score", m.get("explain"))?
        .into_iter()
        .partition(|(_, o)| matches!(o, Operand::Col(_)));
    Ok(Scored {
        values,
        terms,
        detail_columns,
        detail_scalars,
    })
}
