//! The rhai sandbox: an engine with every limit set explicitly, no `eval`,
//! no printing, no clock, no modules, and the helper functions of the
//! script API (`ratio`, `rhu`, `clamp`, `min`, `max`, `cut`, `dec`) plus the
//! read-only `Cohort` statistics type.

use std::collections::BTreeMap;
use std::sync::Arc;

use rhai::{Dynamic, Engine, EvalAltResult, ImmutableString, OptimizationLevel, Position, INT};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decimal::{ratio as ratio_dec, rhu as rhu_dec, MAX_SCALE};

/// The script engine's limits. All are set explicitly from the package
/// manifest (rhai's defaults differ between debug and release builds) and
/// recorded in every result document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Operations per script function call (each of derive/score/classify per staff member).
    pub max_operations: u64,
    /// Nesting depth of function calls (bounds recursion).
    pub max_call_levels: usize,
    /// Expression nesting depth at top level (parse time).
    pub max_expr_depth: usize,
    /// Expression nesting depth inside functions (parse time).
    pub max_function_expr_depth: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Elements in one array.
    pub max_array_size: usize,
    /// Entries in one object map.
    pub max_map_size: usize,
    /// Variables in scope at any instant.
    pub max_variables: usize,
    /// Script functions defined in the package script (parse time).
    pub max_functions: usize,
}

impl Limits {
    /// Each field by name, in declaration order.
    pub fn fields(&self) -> [(&'static str, u64); 9] {
        let u = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("max_operations", self.max_operations),
            ("max_call_levels", u(self.max_call_levels)),
            ("max_expr_depth", u(self.max_expr_depth)),
            ("max_function_expr_depth", u(self.max_function_expr_depth)),
            ("max_string_size", u(self.max_string_size)),
            ("max_array_size", u(self.max_array_size)),
            ("max_map_size", u(self.max_map_size)),
            ("max_variables", u(self.max_variables)),
            ("max_functions", u(self.max_functions)),
        ]
    }

    /// The limits as a JSON object of integers.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.fields()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect(),
        )
    }

    /// Upper bounds a manifest may ask for (keeps a package from disabling
    /// the sandbox by setting absurd limits).
    pub(crate) fn ceilings() -> Limits {
        Limits {
            max_operations: 10_000_000,
            max_call_levels: 64,
            max_expr_depth: 256,
            max_function_expr_depth: 256,
            max_string_size: 1 << 20,
            max_array_size: 1 << 16,
            max_map_size: 1 << 16,
            max_variables: 4096,
            max_functions: 1024,
        }
    }
}

/// Per-field cohort statistics over all staff members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldStats {
    /// Staff members with a value for the field.
    pub count: u64,
    pub min: Option<Decimal>,
    pub max: Option<Decimal>,
    pub sum: Decimal,
    /// `ratio(sum, count)`; `None` when count is 0.
    pub mean: Option<Decimal>,
}

/// Read-only statistics of the cohort, shared by every script call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortStats {
    pub n: u64,
    pub fields: BTreeMap<String, FieldStats>,
}

/// The `Cohort` type scripts see: a cheap shared handle.
#[derive(Debug, Clone)]
pub struct Cohort(pub Arc<CohortStats>);

/// The `row` scripts see: a staff member's joined fields, read-only and
/// shared (no copy per call). `row.field` and `row["field"]` read a field;
/// a field that does not exist is an error.
#[derive(Debug, Clone)]
pub struct ScriptRow(pub Arc<rhai::Map>);

fn runtime(msg: impl Into<String>) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        Dynamic::from(msg.into()),
        Position::NONE,
    ))
}

/// A number argument as a decimal (integers convert exactly).
fn num(d: &Dynamic, what: &str) -> Result<Decimal, Box<EvalAltResult>> {
    if let Ok(i) = d.as_int() {
        return Ok(Decimal::from(i));
    }
    if let Ok(x) = d.as_decimal() {
        return Ok(x);
    }
    Err(runtime(format!(
        "{what}: expected a number, found {}",
        d.type_name()
    )))
}

fn places(d: INT) -> Result<u32, Box<EvalAltResult>> {
    u32::try_from(d)
        .ok()
        .filter(|p| *p <= MAX_SCALE)
        .ok_or_else(|| runtime(format!("rhu: decimal places must be 0..=28, found {d}")))
}

fn field_stats<'a>(c: &'a Cohort, field: &str) -> Result<&'a FieldStats, Box<EvalAltResult>> {
    c.0.fields.get(field).ok_or_else(|| {
        runtime(format!(
            "cohort has no numeric field `{field}` (known: {})",
            c.0.fields.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })
}

fn present(v: Option<Decimal>, stat: &str, field: &str) -> Result<Decimal, Box<EvalAltResult>> {
    v.ok_or_else(|| {
        runtime(format!(
            "cohort.{stat}(\"{field}\"): no staff member has a value"
        ))
    })
}

/// Build the sandboxed engine for a package's limits.
pub fn build_engine(limits: &Limits) -> Engine {
    let mut e = Engine::new();
    e.set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_function_expr_depth)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_variables(limits.max_variables)
        .set_max_functions(limits.max_functions)
        .set_strict_variables(true)
        .set_fail_on_invalid_map_property(true)
        .set_optimization_level(OptimizationLevel::Simple)
        // No shared string interner: it is a lock every thread would contend on.
        .set_max_strings_interned(0);
    // No eval, no output: these are refused when the script is compiled.
    e.disable_symbol("eval");
    e.disable_symbol("print");
    e.disable_symbol("debug");
    // Belt and braces: should output ever be reached, it goes nowhere.
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    // The debugging feature (used only to locate where a limit stopped a
    // script) would give scripts `back_trace()`; shadow it.
    e.register_fn("back_trace", || -> Result<Dynamic, Box<EvalAltResult>> {
        Err(runtime("back_trace is not available in rule scripts"))
    });

    e.register_fn(
        "ratio",
        |a: Dynamic, b: Dynamic| -> Result<Decimal, Box<EvalAltResult>> {
            let (a, b) = (num(&a, "ratio")?, num(&b, "ratio")?);
            ratio_dec(a, b).ok_or_else(|| {
                runtime(if b.is_zero() {
                    "ratio: division by zero".to_owned()
                } else {
                    "ratio: quotient overflows".to_owned()
                })
            })
        },
    );
    e.register_fn(
        "rhu",
        |x: Dynamic, d: INT| -> Result<Decimal, Box<EvalAltResult>> {
            Ok(rhu_dec(num(&x, "rhu")?, places(d)?))
        },
    );
    e.register_fn(
        "clamp",
        |x: Dynamic, lo: Dynamic, hi: Dynamic| -> Result<Decimal, Box<EvalAltResult>> {
            let (x, lo, hi) = (num(&x, "clamp")?, num(&lo, "clamp")?, num(&hi, "clamp")?);
            if lo > hi {
                return Err(runtime("clamp: lo is greater than hi"));
            }
            Ok(x.max(lo).min(hi))
        },
    );
    for (name, pick_first) in [("min", true), ("max", false)] {
        e.register_fn(
            name,
            move |a: Dynamic, b: Dynamic| -> Result<Dynamic, Box<EvalAltResult>> {
                if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
                    return Ok(Dynamic::from_int(if pick_first {
                        x.min(y)
                    } else {
                        x.max(y)
                    }));
                }
                let (x, y) = (num(&a, name)?, num(&b, name)?);
                Ok(Dynamic::from_decimal(if pick_first {
                    x.min(y)
                } else {
                    x.max(y)
                }))
            },
        );
    }
    e.register_fn(
        "cut",
        |p: Dynamic, n: Dynamic| -> Result<INT, Box<EvalAltResult>> {
            let v = rhu_dec(num(&p, "cut")? * num(&n, "cut")?, 0);
            INT::try_from(v).map_err(|_| runtime("cut: result out of integer range"))
        },
    );
    e.register_fn("dec", |x: Dynamic| -> Result<Decimal, Box<EvalAltResult>> {
        num(&x, "dec")
    });

    register_typed_helpers(&mut e);

    e.register_type_with_name::<ScriptRow>("Row");
    e.register_indexer_get(
        |r: &mut ScriptRow, field: &str| -> Result<Dynamic, Box<EvalAltResult>> {
            r.0.get(field)
                .cloned()
                .ok_or_else(|| runtime(format!("row has no field `{field}`")))
        },
    );
    e.register_type_with_name::<Cohort>("Cohort");
    e.register_get("n", |c: &mut Cohort| -> INT {
        INT::try_from(c.0.n).unwrap_or(INT::MAX)
    });
    e.register_fn(
        "count",
        |c: &mut Cohort, f: ImmutableString| -> Result<INT, Box<EvalAltResult>> {
            Ok(INT::try_from(field_stats(c, &f)?.count).unwrap_or(INT::MAX))
        },
    );
    e.register_fn(
        "min",
        |c: &mut Cohort, f: ImmutableString| -> Result<Decimal, Box<EvalAltResult>> {
            present(field_stats(c, &f)?.min, "min", &f)
        },
    );
    e.register_fn(
        "max",
        |c: &mut Cohort, f: ImmutableString| -> Result<Decimal, Box<EvalAltResult>> {
            present(field_stats(c, &f)?.max, "max", &f)
        },
    );
    e.register_fn(
        "sum",
        |c: &mut Cohort, f: ImmutableString| -> Result<Decimal, Box<EvalAltResult>> {
            Ok(field_stats(c, &f)?.sum)
        },
    );
    e.register_fn(
        "mean",
        |c: &mut Cohort, f: ImmutableString| -> Result<Decimal, Box<EvalAltResult>> {
            present(field_stats(c, &f)?.mean, "mean", &f)
        },
    );
    e
}

/// `ratio` on two numbers already converted to decimals.
fn ratio_of(a: Decimal, b: Decimal) -> Result<Decimal, Box<EvalAltResult>> {
    ratio_dec(a, b).ok_or_else(|| {
        runtime(if b.is_zero() {
            "ratio: division by zero".to_owned()
        } else {
            "ratio: quotient overflows".to_owned()
        })
    })
}

/// `cut` on two numbers already converted to decimals.
fn cut_of(p: Decimal, n: Decimal) -> Result<INT, Box<EvalAltResult>> {
    let v = rhu_dec(p * n, 0);
    INT::try_from(v).map_err(|_| runtime("cut: result out of integer range"))
}

/// Exactly typed versions of the numeric helpers, next to the `Dynamic`
/// ones registered above. Same results: each converts its arguments as
/// `num` does (integers exactly to decimals) and runs the same code. They
/// only spare rhai the search through `Dynamic` parameter permutations on
/// every call, and the argument type dispatch; arguments of any other type
/// still reach the `Dynamic` versions and their error messages.
fn register_typed_helpers(e: &mut Engine) {
    let d = Decimal::from;
    e.register_fn("ratio", ratio_of);
    e.register_fn("ratio", move |a: INT, b: Decimal| ratio_of(d(a), b));
    e.register_fn("ratio", move |a: Decimal, b: INT| ratio_of(a, d(b)));
    e.register_fn("ratio", move |a: INT, b: INT| ratio_of(d(a), d(b)));

    e.register_fn(
        "rhu",
        |x: Decimal, p: INT| -> Result<Decimal, Box<EvalAltResult>> { Ok(rhu_dec(x, places(p)?)) },
    );
    e.register_fn(
        "rhu",
        move |x: INT, p: INT| -> Result<Decimal, Box<EvalAltResult>> {
            Ok(rhu_dec(d(x), places(p)?))
        },
    );

    e.register_fn(
        "clamp",
        |x: Decimal, lo: Decimal, hi: Decimal| -> Result<Decimal, Box<EvalAltResult>> {
            if lo > hi {
                return Err(runtime("clamp: lo is greater than hi"));
            }
            Ok(x.max(lo).min(hi))
        },
    );

    e.register_fn("min", |a: INT, b: INT| -> INT { a.min(b) });
    e.register_fn("min", |a: Decimal, b: Decimal| -> Decimal { a.min(b) });
    e.register_fn("min", move |a: INT, b: Decimal| -> Decimal { d(a).min(b) });
    e.register_fn("min", move |a: Decimal, b: INT| -> Decimal { a.min(d(b)) });
    e.register_fn("max", |a: INT, b: INT| -> INT { a.max(b) });
    e.register_fn("max", |a: Decimal, b: Decimal| -> Decimal { a.max(b) });
    e.register_fn("max", move |a: INT, b: Decimal| -> Decimal { d(a).max(b) });
    e.register_fn("max", move |a: Decimal, b: INT| -> Decimal { a.max(d(b)) });

    e.register_fn("cut", cut_of);
    e.register_fn("cut", move |p: Decimal, n: INT| cut_of(p, d(n)));
    e.register_fn("cut", move |p: INT, n: Decimal| cut_of(d(p), n));
    e.register_fn("cut", move |p: INT, n: INT| cut_of(d(p), d(n)));

    e.register_fn("dec", |x: Decimal| -> Decimal { x });
    e.register_fn("dec", move |x: INT| -> Decimal { d(x) });
}

/// Re-run one call on a fresh engine that records the position of every
/// step, and return the last position reached: where a limit stopped the
/// script. (rhai moves the position of limit errors to the outermost call
/// site, so the normal run cannot say where inside the script it was.)
pub(crate) fn locate_stop(
    limits: &Limits,
    ast: &rhai::AST,
    function: &str,
    args: Vec<Dynamic>,
) -> Option<(usize, usize)> {
    use rhai::debugger::{DebuggerCommand, DebuggerEvent};
    use std::sync::Mutex;
    let last = Arc::new(Mutex::new(Position::NONE));
    let sink = Arc::clone(&last);
    let mut engine = build_engine(limits);
    #[allow(deprecated)] // rhai marks the debugger API volatile; rhai is pinned exactly
    engine.register_debugger(
        |_, d| d,
        move |_ctx, event, _node, _source, pos| {
            if matches!(event, DebuggerEvent::Start | DebuggerEvent::Step) && !pos.is_none() {
                if let Ok(mut l) = sink.lock() {
                    *l = pos;
                }
            }
            Ok(DebuggerCommand::StepInto)
        },
    );
    let opts = rhai::CallFnOptions::new()
        .eval_ast(false)
        .rewind_scope(true);
    let _ =
        engine.call_fn_with_options::<Dynamic>(opts, &mut rhai::Scope::new(), ast, function, args);
    let pos = *last.lock().ok()?;
    Some((pos.line()?, pos.position().unwrap_or(0)))
}

/// Which limit a rhai error hit, if any.
pub(crate) fn limit_hit(err: &EvalAltResult) -> Option<&'static str> {
    match err.unwrap_inner() {
        EvalAltResult::ErrorTooManyOperations(_) => Some("max_operations"),
        EvalAltResult::ErrorStackOverflow(_) => Some("max_call_levels"),
        EvalAltResult::ErrorTooManyVariables(_) => Some("max_variables"),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            let w = what.to_ascii_lowercase();
            Some(if w.contains("string") {
                "max_string_size"
            } else if w.contains("array") {
                "max_array_size"
            } else if w.contains("map") {
                "max_map_size"
            } else {
                "data size"
            })
        }
        _ => None,
    }
}

/// The innermost known position of a rhai error (line, column).
pub(crate) fn position_of(err: &EvalAltResult) -> Option<(usize, usize)> {
    let mut cur = err;
    let mut best = err.position();
    while let EvalAltResult::ErrorInFunctionCall(.., inner, _) = cur {
        if !inner.position().is_none() {
            best = inner.position();
        }
        cur = inner;
    }
    Some((best.line()?, best.position().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn limits() -> Limits {
        Limits {
            max_operations: 10_000,
            max_call_levels: 16,
            max_expr_depth: 64,
            max_function_expr_depth: 32,
            max_string_size: 1024,
            max_array_size: 256,
            max_map_size: 64,
            max_variables: 64,
            max_functions: 32,
        }
    }

    fn eval(src: &str) -> Result<Dynamic, Box<EvalAltResult>> {
        build_engine(&limits()).eval::<Dynamic>(src)
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn helpers_compute_exact_decimals() {
        assert_eq!(
            eval("ratio(2, 3)").unwrap().as_decimal().unwrap(),
            dec("0.66666667")
        );
        assert_eq!(
            eval("rhu(69.165, 2)").unwrap().as_decimal().unwrap(),
            dec("69.17")
        );
        assert_eq!(
            eval("clamp(0.7, -0.5, 0.5)").unwrap().as_decimal().unwrap(),
            dec("0.5")
        );
        assert_eq!(
            eval("clamp(-2, -0.5, 0.5)").unwrap().as_decimal().unwrap(),
            dec("-0.5")
        );
        assert_eq!(eval("min(3, 20)").unwrap().as_int().unwrap(), 3);
        assert_eq!(eval("max(2, 1.5)").unwrap().as_decimal().unwrap(), dec("2"));
        assert_eq!(
            eval("min(1.5, 2)").unwrap().as_decimal().unwrap(),
            dec("1.5")
        );
        assert_eq!(eval("cut(0.05, 50)").unwrap().as_int().unwrap(), 3);
        assert_eq!(eval("cut(0.05, 30)").unwrap().as_int().unwrap(), 2);
        assert_eq!(eval("cut(0.05, 10)").unwrap().as_int().unwrap(), 1);
        // literals are exact decimals under no_float
        assert_eq!(eval("0.1 + 0.2").unwrap().as_decimal().unwrap(), dec("0.3"));
        assert_eq!(eval("0.6 * 3").unwrap().as_decimal().unwrap(), dec("1.8"));
        assert!(eval("1.5 > 1").unwrap().as_bool().unwrap());
    }

    #[test]
    fn ratio_by_zero_is_an_error() {
        let e = eval("ratio(1, 0)").unwrap_err();
        assert!(e.to_string().contains("division by zero"), "{e}");
    }

    #[test]
    fn cohort_methods() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "leads".to_owned(),
            FieldStats {
                count: 2,
                min: Some(dec("1")),
                max: Some(dec("9")),
                sum: dec("10"),
                mean: Some(dec("5")),
            },
        );
        let c = Cohort(Arc::new(CohortStats { n: 2, fields }));
        let engine = build_engine(&limits());
        let mut scope = rhai::Scope::new();
        scope.push("cohort", c);
        let r: Decimal = engine
            .eval_with_scope(&mut scope, r#"cohort.max("leads") + cohort.min("leads") + cohort.mean("leads") + cohort.sum("leads") + cohort.n + cohort.count("leads")"#)
            .unwrap();
        assert_eq!(r, dec("29"));
        let e = engine
            .eval_with_scope::<Dynamic>(&mut scope, r#"cohort.max("nope")"#)
            .unwrap_err();
        assert!(e.to_string().contains("no numeric field `nope`"), "{e}");
    }
}
