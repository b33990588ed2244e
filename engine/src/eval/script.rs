//! Calling the package script (once per cohort) and turning what goes
//! wrong into errors that name the file, line, column, function, the first
//! staff member concerned and the limit, if one stopped the script.

use std::sync::Arc;

use rhai::{CallFnOptions, Dynamic, EvalAltResult, Scope};

use crate::column::{with_run, Column, Fault, FaultStop, LimitStop, Run};
use crate::package::RulePackage;
use crate::sandbox::{did_you_mean, limit_hit, locate_stop, position_of, HELPERS};
use crate::schema::StaffId;

use super::{EvalError, ScriptFailure, COHORT};

pub(crate) struct Ctx<'a> {
    pub pkg: &'a RulePackage,
    pub staff_ids: &'a [StaffId],
}

impl Ctx<'_> {
    fn new_run(&self) -> Arc<Run> {
        let l = self.pkg.limits();
        Arc::new(Run::new(
            self.staff_ids.len(),
            l.max_element_operations,
            l.max_column_bytes,
        ))
    }

    /// Call a script function once; `args` builds the arguments (called
    /// again only to locate where a rhai limit stopped the script).
    pub fn call(
        &self,
        function: &str,
        args: impl Fn() -> Vec<Dynamic>,
    ) -> Result<Dynamic, EvalError> {
        let opts = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let r = with_run(self.new_run(), || {
            let mut scope = Scope::new();
            self.pkg.engine.call_fn_with_options::<Dynamic>(
                opts,
                &mut scope,
                &self.pkg.ast,
                function,
                args(),
            )
        });
        r.map_err(|e| self.script_error(function, &e, &args))
    }

    fn limit_value(&self, name: &str) -> u64 {
        self.pkg
            .limits()
            .fields()
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .unwrap_or(0)
    }

    fn script_error(
        &self,
        function: &str,
        e: &EvalAltResult,
        args: &dyn Fn() -> Vec<Dynamic>,
    ) -> EvalError {
        let (line, column) = position_of(e).unwrap_or((0, 0));
        // The engine's own payloads: a fault that reached a reduction, or a
        // column limit.
        if let EvalAltResult::ErrorRuntime(payload, _) = innermost(e) {
            if let Some(f) = payload.read_lock::<FaultStop>() {
                return self.fault_error(function, f.index, &f.fault, &f.needed_by);
            }
            if let Some(l) = payload.read_lock::<LimitStop>() {
                return self.failure(
                    function,
                    COHORT,
                    (line, column),
                    Some((l.name.to_owned(), l.value)),
                    format!("stopped by limit {} = {}: {}", l.name, l.value, l.message),
                );
            }
        }
        if let Some(name) = limit_hit(e) {
            let v = self.limit_value(name);
            let at = with_run(self.new_run(), || {
                locate_stop(self.pkg.limits(), &self.pkg.ast, function, args())
            })
            .unwrap_or((line, column));
            return self.failure(
                function,
                COHORT,
                at,
                Some((name.to_owned(), v)),
                format!("stopped by limit {name} = {v}: {}", e.unwrap_inner()),
            );
        }
        let message = match innermost(e) {
            EvalAltResult::ErrorMismatchDataType(want, found, _)
                if found.contains("Column") || found.contains("Terms") =>
            {
                format!(
                    "a column has one value per staff member, not one {want}: `if`, `while`, `&&` and `||` need a single value; choose per staff member with when(condition, a, b) and combine conditions with & and |"
                )
            }
            EvalAltResult::ErrorRuntime(d, _) if d.is_string() => {
                d.clone().into_string().unwrap_or_default()
            }
            EvalAltResult::ErrorFunctionNotFound(sig, _) => self.unknown_function(sig),
            EvalAltResult::ErrorPropertyNotFound(name, _) => {
                let pkg = self.pkg;
                let known = pkg
                    .ranking()
                    .scores
                    .iter()
                    .map(String::as_str)
                    .chain(
                        pkg.sources()
                            .values()
                            .flat_map(|s| s.columns.iter().map(|c| c.name.as_str())),
                    )
                    .chain(["position", "rank", "n", "value"]);
                // Only a close name helps here: the map may be the
                // script's own.
                let hint = did_you_mean(name, known, "fields");
                if hint.starts_with("; did you mean") {
                    format!("the map has no field `{name}`{hint}")
                } else {
                    format!("the map has no field `{name}`")
                }
            }
            other => other.to_string(),
        };
        self.failure(function, COHORT, (line, column), None, message)
    }

    /// "unknown function `rhuu` (called with a column, an integer); did you
    /// mean `rhu`?", or, for a known name, the argument types it was
    /// called with that no version of it takes.
    fn unknown_function(&self, sig: &str) -> String {
        let (name, args) = match sig.split_once(" (") {
            Some((n, a)) => (n.trim(), a.trim_end_matches(')')),
            None => (sig.trim(), ""),
        };
        let args: Vec<String> = if args.is_empty() {
            Vec::new()
        } else {
            args.split(", ").map(type_words).collect()
        };
        let called = if args.is_empty() {
            "no arguments".to_owned()
        } else {
            args.join(", ")
        };
        let script_fns: Vec<&str> = self.pkg.ast.iter_functions().map(|f| f.name).collect();
        let known = HELPERS
            .iter()
            .copied()
            // Reserved names that are not functions a script can call.
            .filter(|h| !matches!(*h, "back_trace" | "keys" | "score_of"))
            .chain(script_fns.iter().copied());
        let is_known = HELPERS.contains(&name) || script_fns.contains(&name);
        if TYPED.contains(&name) && args.len() == 2 {
            return format!(
                "type error: `{name}` between {} and {}: there is no implicit conversion between text, numbers and true/false",
                args[0], args[1]
            );
        }
        if is_known {
            format!("`{name}` does not take ({called}); see RULES.md section 3 for its arguments")
        } else {
            format!(
                "unknown function `{name}` (called with {called}){}",
                did_you_mean(name, known, "functions")
            )
        }
    }

    pub fn failure(
        &self,
        function: &str,
        staff: &str,
        (line, column): (usize, usize),
        limit: Option<(String, u64)>,
        message: String,
    ) -> EvalError {
        EvalError::Script(Box::new(ScriptFailure {
            file: self.pkg.script_path().to_owned(),
            line,
            column,
            function: function.to_owned(),
            staff_id: staff.to_owned(),
            limit,
            message,
        }))
    }

    /// The error for a faulted element that reached `needed_by`.
    pub fn fault_error(
        &self,
        function: &str,
        index: usize,
        f: &Fault,
        needed_by: &str,
    ) -> EvalError {
        let staff = self
            .staff_ids
            .get(index)
            .map(|s| s.as_str())
            .unwrap_or(COHORT);
        let message = if f.no_value {
            format!("staff member {} (needed by {needed_by})", f.message)
        } else {
            format!("{}: {} (needed by {needed_by})", f.op, f.message)
        };
        self.failure(function, staff, (f.line, f.column), None, message)
    }

    /// Refuse a column that has a faulted element.
    pub fn check(&self, function: &str, c: &Column, needed_by: &str) -> Result<(), EvalError> {
        match c.first_fault() {
            None => Ok(()),
            Some((i, f)) => Err(self.fault_error(function, i, f, needed_by)),
        }
    }

    pub fn bad_return(&self, function: &str, staff: &str, message: String) -> EvalError {
        EvalError::BadReturn {
            file: self.pkg.script_path().to_owned(),
            function: function.to_owned(),
            staff_id: staff.to_owned(),
            message,
        }
    }
}

/// Operators reported as type errors when rhai finds no version for the
/// argument types.
const TYPED: &[&str] = &["+", "-", "*", "==", "!=", "<", "<=", ">", ">=", "&", "|"];

/// One argument type of a rhai signature, in the words of RULES.md.
fn type_words(t: &str) -> String {
    let t = t.trim().trim_start_matches("&mut ");
    match t {
        "i64" => "an integer",
        "bool" => "a true/false",
        "&str | ImmutableString | String" | "ImmutableString" | "String" | "&str" => "a text",
        "Decimal" | "rust_decimal::Decimal" => "a decimal",
        "Column" => "a column",
        "Terms" => "terms",
        "Cohort" => "the cohort",
        "()" => "nothing (`()`)",
        "Map" | "rhai::Map" => "a map",
        "Array" | "rhai::Array" => "an array",
        "char" => "a character",
        other => return format!("a {other}"),
    }
    .to_owned()
}

/// The innermost error of nested function calls.
fn innermost(e: &EvalAltResult) -> &EvalAltResult {
    let mut cur = e;
    while let EvalAltResult::ErrorInFunctionCall(.., inner, _) = cur {
        cur = inner;
    }
    cur
}
