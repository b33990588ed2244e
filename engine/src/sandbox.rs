//! The rhai sandbox of script API 2: an engine with every limit set
//! explicitly, built from a minimal set of rhai packages (no `eval`, no
//! printing, no clock, no `sleep`, no modules, no closures or function
//! pointers, no comparator sorts, no approximating math), exact checked
//! decimal operators, and the column API (`Column`, `Cohort`, `Terms` and
//! the helpers `ratio`, `rhu`, `clamp`, `min`, `max`, `cut`, `dec`, `when`,
//! `present`, `fill`, the reductions and the group reductions).

use std::sync::Arc;

use rhai::packages::{BasicStringPackage, LogicPackage, Package};
use rhai::{
    Dynamic, Engine, EvalAltResult, ImmutableString, NativeCallContext, OptimizationLevel,
    Position, INT,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::column::{self, runtime, Arith, Cmp, Column, Operand, Terms};
use crate::decimal::{ratio as ratio_dec, rhu as rhu_dec, MAX_SCALE};

/// The script engine's limits. All are set explicitly from the package
/// manifest (rhai's defaults differ between debug and release builds) and
/// recorded in every result document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// rhai operations per script call (`score` and `classify` each run once per cohort).
    pub max_operations: u64,
    /// Element operations per staff member per script call: a column
    /// operation on N staff costs N (`rhu` 2N, `ratio` 4N, a group
    /// reduction 16N).
    pub max_element_operations: u64,
    /// Bytes of live columns per staff member (a decimal element takes 16,
    /// an integer or text element 8, a true/false 1).
    pub max_column_bytes: u64,
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

/// The number of limits.
pub const N_LIMITS: usize = 11;

impl Limits {
    /// Each field by name, in declaration order.
    pub fn fields(&self) -> [(&'static str, u64); N_LIMITS] {
        let u = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        [
            ("max_operations", self.max_operations),
            ("max_element_operations", self.max_element_operations),
            ("max_column_bytes", self.max_column_bytes),
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

    /// Upper bounds a manifest may ask for, chosen so that the worst script
    /// within them ends in seconds (RELIABILITY.md states the bound and the
    /// script that reaches it).
    pub(crate) fn ceilings() -> Limits {
        Limits {
            max_operations: 1_000_000,
            max_element_operations: 1_000,
            max_column_bytes: 4_096,
            max_call_levels: 64,
            max_expr_depth: 256,
            max_function_expr_depth: 256,
            max_string_size: 64 << 10,
            max_array_size: 256,
            max_map_size: 256,
            max_variables: 4096,
            max_functions: 1024,
        }
    }
}

/// Names of the engine's helpers: a script may not define a function
/// with one of these names (it would silently replace the helper).
pub const HELPERS: &[&str] = &[
    "ratio",
    "rhu",
    "clamp",
    "min",
    "max",
    "cut",
    "dec",
    "when",
    "present",
    "fill",
    "sum",
    "mean",
    "count",
    "group_sum",
    "group_mean",
    "group_min",
    "group_max",
    "group_count",
    "terms",
    "len",
    "push",
    "mixin",
    "contains",
    "keys",
    "back_trace",
    "score_of",
];

/// The `Cohort` scripts see: the joined input columns by name, and `n`.
#[derive(Debug, Clone)]
pub struct Cohort(pub Arc<CohortData>);

/// The joined input columns of a cohort.
#[derive(Debug)]
pub struct CohortData {
    pub n: usize,
    pub columns: std::collections::BTreeMap<String, Column>,
}

fn places(d: INT) -> Result<u32, Box<EvalAltResult>> {
    u32::try_from(d)
        .ok()
        .filter(|p| *p <= MAX_SCALE)
        .ok_or_else(|| runtime(format!("rhu: decimal places must be 0..=28, found {d}")))
}

fn op(d: &Dynamic, what: &str) -> Result<Operand, Box<EvalAltResult>> {
    Operand::from_dynamic(d, what)
}

fn scalar_num(d: &Dynamic, what: &str) -> Result<Decimal, Box<EvalAltResult>> {
    if let Ok(i) = d.as_int() {
        return Ok(Decimal::from(i));
    }
    d.as_decimal().map_err(|_| {
        runtime(format!(
            "{what}: expected a number, found {}",
            d.type_name()
        ))
    })
}

fn no_division() -> Box<EvalAltResult> {
    runtime(
        "`/` is not available: divide with ratio(a, b), which is rhu(a / b, 8) (every division is rounded by name)",
    )
}

fn no_power() -> Box<EvalAltResult> {
    runtime("`**` on decimals is not available (it approximates); multiply explicitly")
}

fn no_modulo() -> Box<EvalAltResult> {
    runtime("`%` on decimals and columns is not available")
}

fn disabled(name: &'static str) -> impl Fn() -> Result<Dynamic, Box<EvalAltResult>> {
    move || Err(runtime(format!("{name} is not available in rule scripts")))
}

/// Whether any argument is a column-like value (Column or Terms).
fn is_columnar(d: &Dynamic) -> bool {
    d.is::<Column>() || d.is::<Terms>()
}

/// Build the sandboxed engine for a package's limits.
pub fn build_engine(limits: &Limits) -> Engine {
    let mut e = Engine::new_raw();
    // Only comparisons and string basics (interpolation, len); no math,
    // time, array (comparator sorts, closures), function-pointer, blob or
    // language-core (sleep, exit, parse_json, tags) packages.
    e.register_global_module(LogicPackage::new().as_shared_module());
    e.register_global_module(BasicStringPackage::new().as_shared_module());
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
        // Registered operators must win over rhai's built-in ones (which
        // round decimals silently and have approximating `**` and `/`).
        .set_fast_operators(false)
        // No constant folding with built-in operators at compile time.
        .set_optimization_level(OptimizationLevel::None)
        // No shared string interner: it is a lock every thread would contend on.
        .set_max_strings_interned(0);
    // No eval, no output, no function pointers: refused when compiled.
    for sym in [
        "eval",
        "print",
        "debug",
        "Fn",
        "call",
        "curry",
        "is_def_fn",
        "is_shared",
    ] {
        e.disable_symbol(sym);
    }
    e.on_print(|_| {});
    e.on_debug(|_, _, _| {});
    // The debugging feature (used only to locate where a limit stopped a
    // script) would give scripts `back_trace()`; shadow it.
    e.register_fn("back_trace", disabled("back_trace"));
    e.register_fn("sleep", |_: INT| -> Result<(), Box<EvalAltResult>> {
        Err(runtime("sleep is not available in rule scripts"))
    });

    register_scalar_ops(&mut e);
    register_mixed_scalar_ops(&mut e);
    register_column_ops(&mut e);
    register_helpers(&mut e);
    register_collections(&mut e);
    register_types(&mut e);
    e
}

/// Exact, checked scalar decimal operators; no `/`, `%` or `**` on decimals.
fn register_scalar_ops(e: &mut Engine) {
    for (sym, a) in [("+", Arith::Add), ("-", Arith::Sub), ("*", Arith::Mul)] {
        let f = move |x: Operand, y: Operand| -> Result<Dynamic, Box<EvalAltResult>> {
            column::scalar_arith(a, &x, &y)
        };
        e.register_fn(sym, move |x: Decimal, y: Decimal| {
            f(Operand::Dec(x), Operand::Dec(y))
        });
        e.register_fn(sym, move |x: Decimal, y: INT| {
            f(Operand::Dec(x), Operand::Int(y))
        });
        e.register_fn(sym, move |x: INT, y: Decimal| {
            f(Operand::Int(x), Operand::Dec(y))
        });
        let assign = format!("{sym}=");
        e.register_fn(
            assign.as_str(),
            move |x: &mut Decimal, y: Decimal| -> Result<(), Box<EvalAltResult>> {
                *x = scalar_num(&f(Operand::Dec(*x), Operand::Dec(y))?, sym)?;
                Ok(())
            },
        );
        e.register_fn(
            assign.as_str(),
            move |x: &mut Decimal, y: INT| -> Result<(), Box<EvalAltResult>> {
                *x = scalar_num(&f(Operand::Dec(*x), Operand::Int(y))?, sym)?;
                Ok(())
            },
        );
    }
    e.register_fn("/", |_: Decimal, _: Decimal| -> Result<Dynamic, _> {
        Err(no_division())
    });
    e.register_fn("/", |_: Decimal, _: INT| -> Result<Dynamic, _> {
        Err(no_division())
    });
    e.register_fn("/", |_: INT, _: Decimal| -> Result<Dynamic, _> {
        Err(no_division())
    });
    e.register_fn("/", |_: INT, _: INT| -> Result<Dynamic, _> {
        Err(no_division())
    });
    e.register_fn("/=", |_: &mut Decimal, _: Decimal| -> Result<(), _> {
        Err(no_division())
    });
    e.register_fn("/=", |_: &mut Decimal, _: INT| -> Result<(), _> {
        Err(no_division())
    });
    e.register_fn("/=", |_: &mut INT, _: INT| -> Result<(), _> {
        Err(no_division())
    });
    e.register_fn("**", |_: Decimal, _: Decimal| -> Result<Dynamic, _> {
        Err(no_power())
    });
    e.register_fn("**", |_: Decimal, _: INT| -> Result<Dynamic, _> {
        Err(no_power())
    });
    e.register_fn("**", |_: INT, _: Decimal| -> Result<Dynamic, _> {
        Err(no_power())
    });
    e.register_fn("%", |_: Decimal, _: Decimal| -> Result<Dynamic, _> {
        Err(no_modulo())
    });
    e.register_fn("%", |_: Decimal, _: INT| -> Result<Dynamic, _> {
        Err(no_modulo())
    });
    e.register_fn("%", |_: INT, _: Decimal| -> Result<Dynamic, _> {
        Err(no_modulo())
    });
}

/// The operators whose operands must have matching types.
const TYPED_OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "+", "-", "*"];

/// Refuse `op` between an `A` and a `B` (rhai's own fallback would give
/// `false` for `"a" == 1` and `true` for `"a" != 1`).
fn refuse_mixed<A: rhai::Variant + Clone, B: rhai::Variant + Clone>(
    e: &mut Engine,
    left: &'static str,
    right: &'static str,
) {
    for &sym in TYPED_OPS {
        e.register_fn(
            sym,
            move |_: A, _: B| -> Result<Dynamic, Box<EvalAltResult>> {
                Err(column::type_mismatch(sym, left, right))
            },
        );
    }
}

/// Text, numbers and true/false never meet in a comparison or in
/// arithmetic: each mixed pair is a type error naming the operator and
/// both types (the script position is added by rhai).
fn register_mixed_scalar_ops(e: &mut Engine) {
    type S = ImmutableString;
    const T: &str = "a text";
    const I: &str = "an integer";
    const D: &str = "a decimal";
    const B: &str = "a true/false";
    refuse_mixed::<S, INT>(e, T, I);
    refuse_mixed::<INT, S>(e, I, T);
    refuse_mixed::<S, Decimal>(e, T, D);
    refuse_mixed::<Decimal, S>(e, D, T);
    refuse_mixed::<S, bool>(e, T, B);
    refuse_mixed::<bool, S>(e, B, T);
    refuse_mixed::<bool, INT>(e, B, I);
    refuse_mixed::<INT, bool>(e, I, B);
    refuse_mixed::<bool, Decimal>(e, B, D);
    refuse_mixed::<Decimal, bool>(e, D, B);
    // rhai's string package would remove one text from another with `-`.
    for sym in ["-", "-="] {
        e.register_fn(
            sym,
            move |_: &mut S, _: S| -> Result<Dynamic, Box<EvalAltResult>> {
                Err(runtime(format!(
                    "type error: `{sym}` between a text and a text: text has no arithmetic (join texts with `+` or `${{...}}`)"
                )))
            },
        );
    }
}

/// Register `f` for (Column, Column), (Column, Dynamic), (Dynamic, Column)
/// and the same with `Terms`.
macro_rules! binary_columnar {
    ($e:expr, $sym:expr, $f:expr) => {{
        let f = $f;
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Column, b: Column| {
            f(&ctx, Dynamic::from(a), Dynamic::from(b))
        });
        $e.register_fn(
            $sym,
            move |ctx: NativeCallContext, a: Column, b: Dynamic| f(&ctx, Dynamic::from(a), b),
        );
        $e.register_fn(
            $sym,
            move |ctx: NativeCallContext, a: Dynamic, b: Column| f(&ctx, a, Dynamic::from(b)),
        );
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Terms, b: Dynamic| {
            f(&ctx, Dynamic::from(a), b)
        });
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Dynamic, b: Terms| {
            f(&ctx, a, Dynamic::from(b))
        });
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Terms, b: Terms| {
            f(&ctx, Dynamic::from(a), Dynamic::from(b))
        });
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Terms, b: Column| {
            f(&ctx, Dynamic::from(a), Dynamic::from(b))
        });
        $e.register_fn($sym, move |ctx: NativeCallContext, a: Column, b: Terms| {
            f(&ctx, Dynamic::from(a), Dynamic::from(b))
        });
    }};
}

fn register_column_ops(e: &mut Engine) {
    for (sym, a) in [("+", Arith::Add), ("-", Arith::Sub), ("*", Arith::Mul)] {
        binary_columnar!(
            e,
            sym,
            move |ctx: &NativeCallContext,
                  x: Dynamic,
                  y: Dynamic|
                  -> Result<Dynamic, Box<EvalAltResult>> {
                column::arith(a, &op(&x, sym)?, &op(&y, sym)?, ctx.call_position())
            }
        );
    }
    for (sym, c) in [
        ("==", Cmp::Eq),
        ("!=", Cmp::Ne),
        ("<", Cmp::Lt),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        (">=", Cmp::Ge),
    ] {
        binary_columnar!(e, sym, move |ctx: &NativeCallContext,
                                       x: Dynamic,
                                       y: Dynamic|
              -> Result<Column, Box<EvalAltResult>> {
            column::compare(c, &op(&x, sym)?, &op(&y, sym)?, ctx.call_position())
        });
    }
    for sym in ["&", "|"] {
        binary_columnar!(e, sym, move |ctx: &NativeCallContext,
                                       x: Dynamic,
                                       y: Dynamic|
              -> Result<Column, Box<EvalAltResult>> {
            column::logic(sym, &op(&x, sym)?, Some(&op(&y, sym)?), ctx.call_position())
        });
    }
    for sym in ["/", "%", "**"] {
        binary_columnar!(
            e,
            sym,
            move |_: &NativeCallContext,
                  _: Dynamic,
                  _: Dynamic|
                  -> Result<Dynamic, Box<EvalAltResult>> {
                Err(match sym {
                    "/" => no_division(),
                    "%" => no_modulo(),
                    _ => no_power(),
                })
            }
        );
    }
    e.register_fn(
        "!",
        |ctx: NativeCallContext, a: Column| -> Result<Column, Box<EvalAltResult>> {
            column::logic("!", &Operand::Col(a), None, ctx.call_position())
        },
    );
    e.register_fn(
        "-",
        |ctx: NativeCallContext, a: Column| -> Result<Column, Box<EvalAltResult>> {
            column::neg(&a, ctx.call_position())
        },
    );
}

fn register_helpers(e: &mut Engine) {
    // ratio, min, max: scalars stay scalars, columns are elementwise.
    for name in ["ratio", "min", "max"] {
        let f = move |ctx: &NativeCallContext,
                      a: Dynamic,
                      b: Dynamic|
              -> Result<Dynamic, Box<EvalAltResult>> {
            if is_columnar(&a) || is_columnar(&b) {
                return column::binary_fn(
                    name,
                    &op(&a, name)?,
                    &op(&b, name)?,
                    ctx.call_position(),
                )
                .map(Dynamic::from);
            }
            scalar_binary(name, &a, &b)
        };
        e.register_fn(
            name,
            move |ctx: NativeCallContext, a: Dynamic, b: Dynamic| f(&ctx, a, b),
        );
    }
    e.register_fn(
        "rhu",
        |ctx: NativeCallContext, x: Dynamic, d: INT| -> Result<Dynamic, Box<EvalAltResult>> {
            let p = places(d)?;
            if let Some(t) = x.read_lock::<Terms>() {
                let mut t = t.clone();
                t.value = column::rhu(&Operand::Col(t.value.clone()), p, ctx.call_position())?;
                t.rounded = Some(p);
                return Ok(Dynamic::from(t));
            }
            if x.is::<Column>() {
                return column::rhu(&op(&x, "rhu")?, p, ctx.call_position()).map(Dynamic::from);
            }
            Ok(Dynamic::from_decimal(rhu_dec(scalar_num(&x, "rhu")?, p)))
        },
    );
    e.register_fn(
        "clamp",
        |ctx: NativeCallContext,
         x: Dynamic,
         lo: Dynamic,
         hi: Dynamic|
         -> Result<Dynamic, Box<EvalAltResult>> {
            if is_columnar(&x) || is_columnar(&lo) || is_columnar(&hi) {
                return column::clamp(
                    &op(&x, "clamp")?,
                    &op(&lo, "clamp")?,
                    &op(&hi, "clamp")?,
                    ctx.call_position(),
                )
                .map(Dynamic::from);
            }
            let (x, lo, hi) = (
                scalar_num(&x, "clamp")?,
                scalar_num(&lo, "clamp")?,
                scalar_num(&hi, "clamp")?,
            );
            if lo > hi {
                return Err(runtime("clamp: lo is greater than hi"));
            }
            Ok(Dynamic::from_decimal(x.max(lo).min(hi)))
        },
    );
    e.register_fn(
        "cut",
        |p: Dynamic, n: Dynamic| -> Result<INT, Box<EvalAltResult>> {
            let (p, n) = (scalar_num(&p, "cut")?, scalar_num(&n, "cut")?);
            let prod = crate::decimal::mul_exact(p, n)
                .map_err(|e| runtime(format!("cut: the product {}", e.reason())))?;
            INT::try_from(rhu_dec(prod, 0)).map_err(|_| runtime("cut: result out of integer range"))
        },
    );
    e.register_fn(
        "dec",
        |ctx: NativeCallContext, x: Dynamic| -> Result<Dynamic, Box<EvalAltResult>> {
            if let Some(c) = x.read_lock::<Column>() {
                return column::to_dec(&c, ctx.call_position()).map(Dynamic::from);
            }
            Ok(Dynamic::from_decimal(scalar_num(&x, "dec")?))
        },
    );
    e.register_fn(
        "when",
        |ctx: NativeCallContext,
         c: Dynamic,
         a: Dynamic,
         b: Dynamic|
         -> Result<Dynamic, Box<EvalAltResult>> {
            column::when(
                &op(&c, "when")?,
                &op(&a, "when")?,
                &op(&b, "when")?,
                ctx.call_position(),
            )
        },
    );
    e.register_fn(
        "present",
        |ctx: NativeCallContext, x: Column| -> Result<Column, Box<EvalAltResult>> {
            column::present(&x, ctx.call_position())
        },
    );
    e.register_fn(
        "fill",
        |ctx: NativeCallContext, x: Column, v: Dynamic| -> Result<Column, Box<EvalAltResult>> {
            column::fill(&x, &op(&v, "fill")?, ctx.call_position())
        },
    );
    for name in ["sum", "mean", "count", "min", "max"] {
        e.register_fn(
            name,
            move |ctx: NativeCallContext, x: Column| -> Result<Dynamic, Box<EvalAltResult>> {
                column::reduce(name, &x, ctx.call_position())
            },
        );
        e.register_fn(
            name,
            move |ctx: NativeCallContext, x: Terms| -> Result<Dynamic, Box<EvalAltResult>> {
                column::reduce(name, &x.value, ctx.call_position())
            },
        );
    }
    for name in ["group_sum", "group_mean", "group_min", "group_max"] {
        e.register_fn(
            name,
            move |ctx: NativeCallContext,
                  x: Column,
                  key: Column|
                  -> Result<Column, Box<EvalAltResult>> {
                column::group(name, &x, &key, ctx.call_position())
            },
        );
    }
    e.register_fn(
        "group_count",
        |ctx: NativeCallContext, key: Column| -> Result<Column, Box<EvalAltResult>> {
            column::group("group_count", &key, &key, ctx.call_position())
        },
    );
    e.register_fn(
        "terms",
        |ctx: NativeCallContext,
         values: rhai::Map,
         weights: rhai::Map|
         -> Result<Terms, Box<EvalAltResult>> {
            column::terms(&values, &weights, ctx.call_position())
        },
    );
}

/// `ratio`, `min`, `max` on two scalars (integers stay integers for min/max).
fn scalar_binary(name: &str, a: &Dynamic, b: &Dynamic) -> Result<Dynamic, Box<EvalAltResult>> {
    if name != "ratio" {
        if let (Ok(x), Ok(y)) = (a.as_int(), b.as_int()) {
            return Ok(Dynamic::from_int(if name == "min" {
                x.min(y)
            } else {
                x.max(y)
            }));
        }
    }
    let (x, y) = (scalar_num(a, name)?, scalar_num(b, name)?);
    match name {
        "ratio" => {
            if y.is_zero() {
                return Err(runtime("ratio: division by zero"));
            }
            ratio_dec(x, y)
                .map(Dynamic::from_decimal)
                .ok_or_else(|| runtime("ratio: quotient overflows"))
        }
        "min" => Ok(Dynamic::from_decimal(x.min(y))),
        _ => Ok(Dynamic::from_decimal(x.max(y))),
    }
}

/// The few array and map functions a policy may need (no closures, no sorts).
fn register_collections(e: &mut Engine) {
    e.register_fn("push", |a: &mut rhai::Array, v: Dynamic| a.push(v));
    e.register_fn("len", |a: &mut rhai::Array| a.len() as INT);
    e.register_fn("len", |m: &mut rhai::Map| m.len() as INT);
    e.register_fn("contains", |m: &mut rhai::Map, k: ImmutableString| {
        m.contains_key(k.as_str())
    });
    e.register_fn("mixin", |m: &mut rhai::Map, o: rhai::Map| {
        for (k, v) in o {
            m.insert(k, v);
        }
    });
}

fn register_types(e: &mut Engine) {
    e.register_type_with_name::<Column>("Column");
    e.register_type_with_name::<Terms>("Terms");
    e.register_get("value", |t: &mut Terms| t.value.clone());
    e.register_type_with_name::<Cohort>("Cohort");
    e.register_get("n", |c: &mut Cohort| {
        INT::try_from(c.0.n).unwrap_or(INT::MAX)
    });
    e.register_indexer_get(
        |c: &mut Cohort, field: &str| -> Result<Column, Box<EvalAltResult>> {
            c.0.columns.get(field).cloned().ok_or_else(|| {
                runtime(format!(
                    "the cohort has no column `{field}`{}",
                    did_you_mean(field, c.0.columns.keys().map(String::as_str), "columns")
                ))
            })
        },
    );
    e.register_fn("len", |c: &mut Column| c.len() as INT);
    e.register_fn("to_string", |c: &mut Column| -> ImmutableString {
        format!("column of {} {} values", c.len(), c.data().kind()).into()
    });
    e.register_fn("to_string", |t: &mut Terms| -> ImmutableString {
        format!("terms of {} parts", t.parts.len()).into()
    });
}

/// Edit distance between two names, in characters: insertions,
/// deletions, substitutions and swaps of two neighbours each count 1
/// (optimal string alignment).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            d[i * w + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let sub = d[(i - 1) * w + j - 1] + usize::from(a[i - 1] != b[j - 1]);
                let mut best = sub.min(d[(i - 1) * w + j] + 1).min(d[i * w + j - 1] + 1);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(d[(i - 2) * w + j - 2] + 1);
                }
                best
            };
        }
    }
    d[a.len() * w + b.len()]
}

/// A hint for an unknown name: "; did you mean `x`?" naming the closest
/// known names (by edit distance, ignoring case), or, when none is close,
/// the list of the known ones ("; the known {what} are: ...").
pub fn did_you_mean<'a>(
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
    what: &str,
) -> String {
    let mut known: Vec<&str> = known.into_iter().collect();
    known.sort_unstable();
    known.dedup();
    let lower = name.to_lowercase();
    let limit = ((name.chars().count() + 1) / 3).clamp(1, 3);
    let scored: Vec<(usize, &str)> = known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .collect();
    match scored.iter().map(|(d, _)| *d).min() {
        Some(best) => {
            let close: Vec<String> = scored
                .iter()
                .filter(|(d, _)| *d == best)
                .map(|(_, k)| format!("`{k}`"))
                .collect();
            format!("; did you mean {}?", close.join(" or "))
        }
        None if known.is_empty() => String::new(),
        None => format!("; the known {what} are: {}", known.join(", ")),
    }
}

/// The script line `line` (1-based) with a caret under `column` (1-based,
/// in characters), indented, for error messages:
///
/// ```text
///    3 |   let u = ;
///      |           ^
/// ```
///
/// Empty when the line does not exist. Tabs before the column are kept so
/// that the caret lines up; a trailing `\r` (CRLF files) is dropped.
pub fn excerpt(src: &str, line: usize, column: usize) -> String {
    let Some(text) = line.checked_sub(1).and_then(|i| src.split('\n').nth(i)) else {
        return String::new();
    };
    let text = text.strip_suffix('\r').unwrap_or(text);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect();
    let mut pad: String = text
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    while pad.chars().count() < column.saturating_sub(1) {
        pad.push(' ');
    }
    let num = line.to_string();
    let gutter = " ".repeat(num.len());
    format!("\n  {num} | {text}\n  {gutter} | {pad}^")
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
            max_element_operations: 100,
            max_column_bytes: 1000,
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
        let d = |s: &str| eval(s).unwrap().as_decimal().unwrap();
        assert_eq!(d("ratio(2, 3)"), dec("0.66666667"));
        assert_eq!(d("rhu(69.165, 2)"), dec("69.17"));
        assert_eq!(d("clamp(0.7, -0.5, 0.5)"), dec("0.5"));
        assert_eq!(d("clamp(-2, -0.5, 0.5)"), dec("-0.5"));
        assert_eq!(eval("min(3, 20)").unwrap().as_int().unwrap(), 3);
        assert_eq!(d("max(2, 1.5)"), dec("2"));
        assert_eq!(d("min(1.5, 2)"), dec("1.5"));
        assert_eq!(eval("cut(0.05, 50)").unwrap().as_int().unwrap(), 3);
        assert_eq!(eval("cut(0.05, 30)").unwrap().as_int().unwrap(), 2);
        assert_eq!(eval("cut(0.05, 10)").unwrap().as_int().unwrap(), 1);
        assert_eq!(d("0.1 + 0.2"), dec("0.3"));
        assert_eq!(d("0.6 * 3"), dec("1.8"));
        assert_eq!(d("let x = 0.5; x *= 3; x += 1; x"), dec("2.5"));
        assert!(eval("1.5 > 1").unwrap().as_bool().unwrap());
    }

    #[test]
    fn names_and_excerpts_for_error_messages() {
        assert_eq!(edit_distance("ratoi", "ratio"), 1);
        assert_eq!(edit_distance("sales_amout", "sales_amount"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean("RHU", ["rhu", "ratio"], "functions"),
            "; did you mean `rhu`?"
        );
        assert_eq!(
            did_you_mean("mx", ["mix", "max", "min"], "functions"),
            "; did you mean `max` or `mix`?"
        );
        assert_eq!(
            did_you_mean("zzzz", ["max", "min"], "functions"),
            "; the known functions are: max, min"
        );
        assert_eq!(did_you_mean("zzzz", [], "functions"), "");
        assert_eq!(
            excerpt("a\r\nb = ;\r\n", 2, 5),
            "\n  2 | b = ;\n    |     ^"
        );
        // A column past the end of the line still gets its caret.
        assert_eq!(excerpt("ab", 1, 4), "\n  1 | ab\n    |    ^");
        assert_eq!(excerpt("a\nb", 3, 1), "");
        assert_eq!(excerpt("a", 0, 0), "");
        // Terminal controls in the line are not printed raw.
        assert_eq!(excerpt("x\u{1b}[2J", 1, 1), "\n  1 | x [2J\n    | ^");
    }

    #[test]
    fn ratio_by_zero_is_an_error() {
        let e = eval("ratio(1, 0)").unwrap_err();
        assert!(e.to_string().contains("division by zero"), "{e}");
    }

    #[test]
    fn nothing_approximates_or_rounds_silently() {
        for (src, needle) in [
            ("1.0 / 3", "ratio"),
            ("7 / 2", "ratio"),
            ("let x = 1.5; x /= 2; x", "ratio"),
            ("2.0 ** 0.5", "approximates"),
            ("2 ** 0.5", "approximates"),
            ("5.5 % 2", "not available"),
            ("sqrt(2.0)", "sqrt"),
            ("exp(1.0)", "exp"),
            ("ln(2.0)", "ln"),
            ("tan(1.0)", "tan"),
            ("sleep(1)", "sleep"),
            ("0.0000000000000000000000000001 * 0.1", "inexact"),
            ("7922816251426433759354395033.5 + 0.05", "inexact"),
            (
                "let x = 0.0000000000000000000000000001; x *= 0.1; x",
                "inexact",
            ),
            ("79228162514264337593543950335 * 2", "overflow"),
            ("cut(79228162514264337593543950335, 2)", "overflow"),
            ("cut(1, 79228162514264337593543950335)", "integer range"),
            ("cut(0.5, 79228162514264337593543950335)", "inexact"),
            ("[3, 1, 2].sort(|a, b| 0.5)", "sort"),
            ("timestamp()", "timestamp"),
        ] {
            let e = build_engine(&limits())
                .compile(src)
                .map_err(|e| e.to_string())
                .and_then(|ast| {
                    build_engine(&limits())
                        .eval_ast::<Dynamic>(&ast)
                        .map_err(|e| e.to_string())
                });
            match e {
                Err(m) => assert!(m.to_lowercase().contains(needle), "{src}: {m}"),
                Ok(v) => panic!("{src} gave {v}"),
            }
        }
    }
}
