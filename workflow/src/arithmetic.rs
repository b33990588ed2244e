//! Check 7 of a receipt (FORMAT.md §12): the arithmetic a staff record
//! claims, in exact decimals. A receipt's checks 1–6 prove the record is the
//! published one; this one proves the published record adds up, so its
//! holder need not trust the operator for that (only a replay shows that
//! the values and weights are what the rules make of the inputs).

use rankproof_engine::decimal::{add_exact, canonical, mul_exact, parse_strict, rhu, MAX_SCALE};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// What check 7 found to hold in a record (FORMAT.md §12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arithmetic {
    /// Scores built from terms.
    pub scores: usize,
    /// Their terms.
    pub terms: usize,
    /// Reported scores (every score under `explain.unrounded`).
    pub reported: usize,
    /// The places the reported scores are rounded to: the package's
    /// `report_decimals` when it is known, else the one number of places
    /// the record allows, if only one does.
    pub places: Option<u32>,
}

/// A number of a record: a JSON integer or a decimal string
/// (`-?DIGITS(.DIGITS)?`, RULES.md §8).
fn number(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => parse_strict(s).ok(),
        Value::Number(n) => n.as_i64().map(Decimal::from),
        _ => None,
    }
}

/// A member's value as the message quotes it (the printer escapes it).
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn object<'a>(
    parent: &'a Value,
    key: &str,
    what: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, String> {
    match parent.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(format!("`{what}` is not an object")),
    }
}

/// Check 7 of FORMAT.md §12 on a receipt's `result` (a staff record,
/// RULES.md §8), with exact decimals: for every score under
/// `explain.scoring`, each term's contribution is value × weight exactly,
/// and the contributions add up exactly to `explain.unrounded.<score>`
/// (after `rhu(·, rounded_to)` when `rounded_to` is given); and every
/// reported score is its unrounded score rounded half up, all to one number
/// of places: `report_decimals` when it is known (from the package), else
/// some number 0..=28 (a record does not say which). The error names the
/// score and the term.
pub fn check_arithmetic(
    result: &Map<String, Value>,
    report_decimals: Option<u32>,
) -> Result<Arithmetic, String> {
    let mut found = Arithmetic {
        scores: 0,
        terms: 0,
        reported: 0,
        places: report_decimals,
    };
    let explain = match result.get("explain") {
        None | Some(Value::Null) => return Ok(found),
        Some(e @ Value::Object(_)) => e,
        Some(_) => return Err("`explain` is not an object".into()),
    };
    let unrounded = object(explain, "unrounded", "explain.unrounded")?;
    let unrounded_of = |s: &str| -> Result<Decimal, String> {
        let v = unrounded
            .and_then(|u| u.get(s))
            .ok_or_else(|| format!("score `{}`: `explain.unrounded` does not give it", s))?;
        number(v).ok_or_else(|| {
            format!(
                "score `{}`: its unrounded value {} is not a number",
                s,
                shown(v)
            )
        })
    };
    for (s, scoring) in object(explain, "scoring", "explain.scoring")?
        .into_iter()
        .flatten()
    {
        let terms = object(scoring, "terms", "terms")
            .ok()
            .flatten()
            .ok_or_else(|| format!("score `{}`: its scoring has no `terms` object", s))?;
        let rounded_to = match scoring.get("rounded_to") {
            None => None,
            Some(d) => Some(
                d.as_u64()
                    .filter(|d| *d <= u64::from(MAX_SCALE))
                    .map(|d| d as u32)
                    .ok_or_else(|| {
                        format!(
                            "score `{}`: `rounded_to` {} is not a number of places 0..=28",
                            s,
                            shown(d)
                        )
                    })?,
            ),
        };
        let mut sum = Decimal::ZERO;
        let mut added = Vec::new();
        for (t, vwc) in terms {
            let at = |i: usize, what: &str| -> Result<Decimal, String> {
                let v = vwc.as_array().filter(|a| a.len() == 3).ok_or_else(|| {
                    format!(
                        "score `{}`, term `{}`: not [value, weight, contribution]",
                        s, t
                    )
                })?;
                number(&v[i]).ok_or_else(|| {
                    format!(
                        "score `{}`, term `{}`: the {what} {} is not a number",
                        s,
                        t,
                        shown(&v[i])
                    )
                })
            };
            let (value, weight, contribution) =
                (at(0, "value")?, at(1, "weight")?, at(2, "contribution")?);
            let product = mul_exact(value, weight).map_err(|e| {
                format!(
                    "score `{}`, term `{}`: {} × {} {}",
                    s,
                    t,
                    canonical(&value),
                    canonical(&weight),
                    e.reason()
                )
            })?;
            if product != contribution {
                return Err(format!(
                    "score `{}`, term `{}`: value × weight = {} × {} = {}, but the record says {}",
                    s,
                    t,
                    canonical(&value),
                    canonical(&weight),
                    canonical(&product),
                    canonical(&contribution)
                ));
            }
            sum = add_exact(sum, contribution).map_err(|e| {
                format!(
                    "score `{}`, term `{}`: the sum of the contributions {}",
                    s,
                    t,
                    e.reason()
                )
            })?;
            added.push(canonical(&contribution));
            found.terms += 1;
        }
        let expected = rounded_to.map_or(sum, |d| rhu(sum, d));
        let claimed = unrounded_of(s)?;
        if expected != claimed {
            return Err(format!(
                "score `{}`: its terms add up to {} = {}{}, but its unrounded value is {}",
                s,
                added.join(" + "),
                canonical(&sum),
                rounded_to
                    .map(|d| format!(", rounded half up to {d} places {}", canonical(&expected)))
                    .unwrap_or_default(),
                canonical(&claimed)
            ));
        }
        found.scores += 1;
    }
    // Reported = rhu(unrounded, report_decimals), one number of places for
    // every score (RULES.md §7). `places`: the numbers of places (bit d)
    // every score so far allows.
    let all: u32 = (1 << (MAX_SCALE + 1)) - 1;
    let mut places = report_decimals.map_or(all, |d| 1 << d.min(MAX_SCALE));
    for s in unrounded.into_iter().flat_map(|u| u.keys()) {
        let u = unrounded_of(s)?;
        let reported = result
            .get(s)
            .ok_or_else(|| format!("score `{}`: the record does not report it", s))?;
        let r = number(reported).ok_or_else(|| {
            format!(
                "score `{}`: its reported value {} is not a number",
                s,
                shown(reported)
            )
        })?;
        let fits: u32 = (0..=MAX_SCALE)
            .filter(|&d| rhu(u, d) == r)
            .fold(0, |m, d| m | 1 << d);
        if fits & places == 0 {
            return Err(match report_decimals {
                Some(d) => format!(
                    "score `{}`: reported {}, but {} rounded half up to {d} places \
                     (the package's report_decimals) is {}",
                    s,
                    canonical(&r),
                    canonical(&u),
                    canonical(&rhu(u, d))
                ),
                None if fits == 0 => format!(
                    "score `{}`: reported {}, which is not {} rounded half up to any number of places",
                    s,
                    canonical(&r),
                    canonical(&u)
                ),
                None => format!(
                    "score `{}`: reported {}, which is {} rounded half up to other places than \
                     the scores before it",
                    s,
                    canonical(&r),
                    canonical(&u)
                ),
            });
        }
        places &= fits;
        found.reported += 1;
    }
    if found.places.is_none() && found.reported > 0 && places.count_ones() == 1 {
        found.places = Some(places.trailing_zeros());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(result: &Value, report_decimals: Option<u32>) -> Result<Arithmetic, String> {
        check_arithmetic(result.as_object().expect("an object"), report_decimals)
    }

    /// The `result` of FORMAT.md §12.1's worked example.
    fn example() -> Value {
        let r: Value =
            serde_json::from_str(include_str!("../../tests/e2e/data/receipt-example.json"))
                .expect("the example receipt");
        r["result"].clone()
    }

    /// The example's result with one member (a JSON pointer) replaced.
    fn edited(pointer: &str, to: Value) -> Value {
        let mut r = example();
        *r.pointer_mut(pointer).expect(pointer) = to;
        r
    }

    fn refused(result: &Value, report_decimals: Option<u32>) -> String {
        match check(result, report_decimals) {
            Ok(a) => panic!("the arithmetic was accepted: {a:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn the_worked_example_adds_up() {
        let want = Arithmetic {
            scores: 4,
            terms: 15,
            reported: 4,
            places: Some(2),
        };
        assert_eq!(check(&example(), None), Ok(want));
        assert_eq!(check(&example(), Some(2)), Ok(want));
        // The package's report_decimals, when known, is the one that counts.
        assert_eq!(
            refused(&example(), Some(3)),
            "score `sales`: reported 82.04, but 82.037815 rounded half up to 3 places \
             (the package's report_decimals) is 82.038"
        );
    }

    #[test]
    fn a_contribution_that_is_not_value_times_weight_is_named() {
        let r = edited(
            "/explain/scoring/sales/terms/growth_pts/2",
            json!("11.91176476"),
        );
        assert_eq!(
            refused(&r, None),
            "score `sales`, term `growth_pts`: value × weight = 79.411765 × 0.15 = \
             11.91176475, but the record says 11.91176476"
        );
        // A weight changed alone.
        let r = edited("/explain/scoring/total/terms/sales/1", json!("0.61"));
        let e = refused(&r, None);
        assert!(e.starts_with("score `total`, term `sales`: "), "{e}");
    }

    #[test]
    fn terms_that_do_not_add_up_to_the_unrounded_score_are_named() {
        // Every contribution right, the sum off by one unit.
        let r = edited("/explain/unrounded/sales", json!("82.037816"));
        assert_eq!(
            refused(&r, None),
            "score `sales`: its terms add up to 55 + 4.4117646 + 11.91176475 + 10.71428565 \
             = 82.037815, but its unrounded value is 82.037816"
        );
        // `rounded_to` is applied to the sum: 81.433689 to 3 places is 81.434.
        let r = edited("/explain/scoring/total/rounded_to", json!(3));
        assert_eq!(
            refused(&r, None),
            "score `total`: its terms add up to 15.9 + 49.222689 + 16.311 = 81.433689, \
             rounded half up to 3 places 81.434, but its unrounded value is 81.43"
        );
        // Without `rounded_to`, the sum must be the unrounded score itself.
        let mut r = example();
        r["explain"]["scoring"]["total"]
            .as_object_mut()
            .expect("total")
            .remove("rounded_to");
        let e = refused(&r, None);
        assert!(
            e.contains("= 81.433689, but its unrounded value is 81.43"),
            "{e}"
        );
        let r = edited("/explain/scoring/total/rounded_to", json!(29));
        let e = refused(&r, None);
        assert!(
            e.contains("`rounded_to` 29 is not a number of places"),
            "{e}"
        );
    }

    #[test]
    fn reported_scores_are_the_unrounded_ones_rounded_to_one_number_of_places() {
        let r = edited("/total", json!("81.44"));
        assert_eq!(
            refused(&r, None),
            "score `total`: reported 81.44, which is not 81.43 rounded half up to any \
             number of places"
        );
        // 82.038 is 82.037815 to 3 places, but 81.56 is 81.555 to 2 only.
        let r = edited("/sales", json!("82.038"));
        assert_eq!(
            refused(&r, None),
            "score `teamwork`: reported 81.56, which is 81.555 rounded half up to other \
             places than the scores before it"
        );
        // Half away from zero: 81.555 is never 81.55.
        let r = edited("/teamwork", json!("81.55"));
        assert!(refused(&r, None).starts_with("score `teamwork`: reported 81.55"));
        let mut r = example();
        r.as_object_mut().expect("record").remove("sales");
        assert_eq!(
            refused(&r, None),
            "score `sales`: the record does not report it"
        );
    }

    #[test]
    fn integer_values_and_negative_contributions() {
        let r = json!({
            "staff_id": "A1",
            "position": 1,
            "score": "-3.5",
            "kpi": "7",
            "explain": {
                "scoring": {"score": {"terms": {
                    "calls": [12, "0.5", "6"],
                    "complaints": [3, "-2", "-6"],
                    "late": [-1, "3.5", "-3.5"],
                    "bonus": [4, 0, 0],
                }}},
                "unrounded": {"kpi": 7, "score": "-3.5"}
            }
        });
        assert_eq!(
            check(&r, Some(0)),
            Err(
                "score `score`: reported -3.5, but -3.5 rounded half up to 0 places \
                 (the package's report_decimals) is -4"
                    .into()
            )
        );
        assert_eq!(
            check(&r, None),
            Ok(Arithmetic {
                scores: 1,
                terms: 4,
                reported: 2,
                places: None,
            })
        );
        // A negative contribution written with the wrong sign is named.
        let mut bad = r.clone();
        bad["explain"]["scoring"]["score"]["terms"]["complaints"][2] = json!("6");
        assert_eq!(
            refused(&bad, None),
            "score `score`, term `complaints`: value × weight = 3 × -2 = -6, but the record \
             says 6"
        );
    }

    #[test]
    fn what_is_not_a_number_is_refused() {
        for (term, bad) in [
            (json!([1.5, "1", "1.5"]), "the value 1.5 is not a number"),
            (json!(["1", "1e0", "1"]), "the weight 1e0 is not a number"),
            (
                json!(["1", "1", "+1"]),
                "the contribution +1 is not a number",
            ),
            (json!(["1", "1"]), "not [value, weight, contribution]"),
        ] {
            let r = json!({
                "s": "1",
                "explain": {
                    "scoring": {"s": {"terms": {"t": term}}},
                    "unrounded": {"s": "1"}
                }
            });
            assert_eq!(refused(&r, None), format!("score `s`, term `t`: {bad}"));
        }
        // A product that needs more than 28 places.
        let r = json!({
            "s": "0",
            "explain": {
                "scoring": {"s": {"terms": {"t": ["0.00000000000001", "0.000000000000001", "0"]}}},
                "unrounded": {"s": "0"}
            }
        });
        assert!(refused(&r, None).contains("is inexact"));
        let r = json!({"explain": {"scoring": {"s": ["1", "1", "1"]}}});
        assert_eq!(
            refused(&r, None),
            "score `s`: its scoring has no `terms` object"
        );
    }

    #[test]
    fn a_record_without_terms_passes_trivially() {
        let none = Arithmetic {
            scores: 0,
            terms: 0,
            reported: 0,
            places: None,
        };
        assert_eq!(check(&json!({"staff_id": "A1"}), None), Ok(none));
        let r = json!({"total": "90", "explain": {"scoring": {}, "unrounded": {"total": "90"}}});
        assert_eq!(
            check(&r, None),
            Ok(Arithmetic {
                reported: 1,
                ..none
            })
        );
    }
}
