//! Evaluation: join the inputs, run the package script in parallel, order,
//! rank, classify, and produce the canonical result document.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rayon::prelude::*;
use rhai::{CallFnOptions, Dynamic, EvalAltResult, Scope, INT};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::dataset::{Dataset, Value};
use crate::decimal::{canonical, is_safe_integer, ratio, rhu, write_canonical_json};
use crate::jcs::{self, Json};
use crate::package::{Direction, OrderKey, RulePackage};
use crate::period::Period;
use crate::sandbox::{
    limit_hit, locate_stop, position_of, Cohort, CohortStats, FieldStats, Limits, ScriptRow,
};
use crate::schema::{ColumnType, SourceName, StaffId};

/// The engine version recorded in every result. Part of the replay
/// contract: a result is reproducible by the same engine version.
pub const ENGINE_VERSION: &str = concat!("rankproof-engine/", env!("CARGO_PKG_VERSION"));

/// The `format` tag of a result document.
pub const RANKING_FORMAT: &str = "rankproof-ranking/1";

/// Why a ranking could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("no input for source `{0}`; give one dataset per source")]
    MissingSource(String),
    #[error("source `{0}` is not declared by the package")]
    UnexpectedSource(String),
    #[error("the dataset for source `{0}` was parsed with a different schema than this package's")]
    SchemaMismatch(String),
    #[error("staff `{staff_id}` ({found_in}) is missing from source `{source_name}`; every staff member must appear in every source")]
    StaffMissing {
        staff_id: String,
        source_name: String,
        found_in: String,
    },
    #[error("period {period} is outside the package's effective span ({span})")]
    NotEffective { period: String, span: String },
    /// The script failed or was stopped by a limit.
    #[error("{0}")]
    Script(Box<ScriptFailure>),
    #[error("{file}: fn {function} for staff `{staff_id}` returned {message}")]
    BadReturn {
        file: String,
        function: String,
        staff_id: String,
        message: String,
    },
}

/// Where and why a script failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: line {line}, column {column}: fn {function} for staff `{staff_id}`: {message}")]
pub struct ScriptFailure {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub function: String,
    pub staff_id: String,
    /// The limit that stopped the script, with its value, if one did.
    pub limit: Option<(String, u64)>,
    pub message: String,
}

/// A dataset referenced by a result: its canonical hash and row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub sha256: String,
    pub n_rows: u64,
}

/// A grade's count against its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeCount {
    pub grade: String,
    pub count: u64,
    /// The quota the package's `grade_quota(n)` gives, if any.
    pub quota: Option<u64>,
    /// `count > quota` (a tie on a boundary pushed the grade over its quota).
    pub exceeded: bool,
}

/// Why a staff member got their result: the record's `explain` object,
/// kept as its canonical (JCS) bytes, with members
/// `classification` (what `classify` returned under `explain`: grade and
/// bonus rules applied), `derived` (what `derive` computed), `inputs` (the
/// joined input values used; text and decimals as strings, integers as
/// numbers; no staff ID, no empty cells), `scoring` (what `score` returned
/// under `explain`: sub-scores, weights, contributions) and `unrounded`
/// (every declared score before report rounding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    jcs: String,
    /// Every declared score before report rounding.
    pub unrounded: BTreeMap<String, Decimal>,
}

impl Explanation {
    /// The canonical JSON bytes of the `explain` object.
    pub fn canonical_bytes(&self) -> &[u8] {
        self.jcs.as_bytes()
    }

    /// The `explain` object as a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: written by the JCS writer, so valid JSON.
        serde_json::from_str(&self.jcs).unwrap_or_default()
    }
}

/// One staff member's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffResult {
    pub staff_id: StaffId,
    /// 1..=N in ranking order.
    pub position: u64,
    /// Competition rank on the package's `rank_by` score.
    pub rank: u64,
    /// Text attributes copied from the inputs (e.g. name, region, team).
    pub attributes: BTreeMap<String, String>,
    /// Reported scores: `rhu(score, report_decimals)`.
    pub scores: BTreeMap<String, Decimal>,
    pub grade: String,
    pub bonus_multiplier: Decimal,
    pub flags: Vec<String>,
    pub explanation: Explanation,
}

/// A member value while writing an object.
enum Piece<'a> {
    Str(&'a str),
    Owned(String),
    Int(u64),
    Json(&'a Json),
    Strs(&'a [String]),
    Explain(&'a Explanation),
}

fn write_piece(p: &Piece<'_>, out: &mut Vec<u8>) {
    match p {
        Piece::Str(s) => jcs::write_str(s, out),
        Piece::Owned(s) => jcs::write_str(s, out),
        Piece::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Piece::Json(j) => j.write(out),
        Piece::Strs(a) => {
            out.push(b'[');
            for (i, s) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                jcs::write_str(s, out);
            }
            out.push(b']');
        }
        Piece::Explain(e) => out.extend_from_slice(e.canonical_bytes()),
    }
}

fn write_members(mut members: Vec<(&str, Piece<'_>)>, out: &mut Vec<u8>) {
    members.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
    out.push(b'{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jcs::write_str(k, out);
        out.push(b':');
        write_piece(v, out);
    }
    out.push(b'}');
}

impl StaffResult {
    /// Append the record's JCS bytes: `staff_id`, the attributes, the
    /// reported scores (canonical decimal strings), `position`, `rank`,
    /// `grade`, `bonus_multiplier`, `flags` and `explain`.
    pub fn write_jcs(&self, out: &mut Vec<u8>) {
        let mut m: Vec<(&str, Piece<'_>)> = Vec::with_capacity(16);
        m.push(("staff_id", Piece::Str(self.staff_id.as_str())));
        for (k, v) in &self.attributes {
            m.push((k, Piece::Str(v)));
        }
        for (k, v) in &self.scores {
            m.push((k, Piece::Owned(canonical(v))));
        }
        m.push(("position", Piece::Int(self.position)));
        m.push(("rank", Piece::Int(self.rank)));
        m.push(("grade", Piece::Str(&self.grade)));
        m.push((
            "bonus_multiplier",
            Piece::Owned(canonical(&self.bonus_multiplier)),
        ));
        m.push(("flags", Piece::Strs(&self.flags)));
        m.push(("explain", Piece::Explain(&self.explanation)));
        write_members(m, out);
    }

    /// The record's canonical (JCS) bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2048);
        self.write_jcs(&mut out);
        out
    }

    /// The record as a `serde_json::Value` (decimals as canonical strings).
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: canonical_bytes is valid JSON by construction.
        serde_json::from_slice(&self.canonical_bytes()).unwrap_or_default()
    }
}

/// A computed ranking: the result document and its typed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    pub package_name: String,
    pub package_version: String,
    pub package_hash: String,
    pub period: Period,
    pub inputs: BTreeMap<SourceName, InputRef>,
    pub engine_version: String,
    pub limits: Limits,
    pub order: Vec<OrderKey>,
    pub rank_by: String,
    /// Declared score names, in report order.
    pub score_names: Vec<String>,
    /// Reported scores are rounded (rhu) to this many places.
    pub report_decimals: u32,
    /// Attribute names (text inputs copied into results), in declared order.
    pub attribute_names: Vec<String>,
    pub grade_distribution: Vec<GradeCount>,
    /// In position order.
    pub results: Vec<StaffResult>,
}

fn obj(members: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        members
            .into_iter()
            .map(|(k, v)| (Arc::from(k), v))
            .collect(),
    )
}

fn s(v: impl Into<String>) -> Json {
    Json::Str(v.into())
}

fn int(v: u64) -> Json {
    Json::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Ranking {
    pub fn n(&self) -> usize {
        self.results.len()
    }

    /// A staff member's result.
    pub fn result(&self, id: &str) -> Option<&StaffResult> {
        self.results.iter().find(|r| r.staff_id.as_str() == id)
    }

    /// Everything in the document except `results`.
    fn header(&self) -> Vec<(&'static str, Json)> {
        let mut order: Vec<Json> = self
            .order
            .iter()
            .map(|k| {
                obj(vec![
                    ("score", s(k.score.clone())),
                    ("direction", s(k.direction.as_str())),
                ])
            })
            .collect();
        order.push(obj(vec![("score", s("staff_id")), ("direction", s("asc"))]));
        vec![
            ("format", s(RANKING_FORMAT)),
            ("engine_version", s(self.engine_version.clone())),
            (
                "package",
                obj(vec![
                    ("name", s(self.package_name.clone())),
                    ("version", s(self.package_version.clone())),
                    ("hash", s(self.package_hash.clone())),
                ]),
            ),
            ("period", s(self.period.to_string())),
            (
                "inputs",
                Json::Obj(
                    self.inputs
                        .iter()
                        .map(|(src, r)| {
                            (
                                Arc::from(src.as_str()),
                                obj(vec![
                                    ("sha256", s(r.sha256.clone())),
                                    ("n_rows", int(r.n_rows)),
                                ]),
                            )
                        })
                        .collect(),
                ),
            ),
            (
                "limits",
                Json::Obj(
                    self.limits
                        .fields()
                        .iter()
                        .map(|(k, v)| (Arc::from(*k), int(*v)))
                        .collect(),
                ),
            ),
            ("order", Json::Arr(order)),
            ("rank_by", s(self.rank_by.clone())),
            (
                "scores",
                Json::Arr(self.score_names.iter().map(|x| s(x.clone())).collect()),
            ),
            ("report_decimals", int(u64::from(self.report_decimals))),
            ("n", int(self.results.len() as u64)),
            (
                "grade_distribution",
                Json::Arr(
                    self.grade_distribution
                        .iter()
                        .map(|g| {
                            obj(vec![
                                ("grade", s(g.grade.clone())),
                                ("count", int(g.count)),
                                ("quota", g.quota.map_or(Json::Null, int)),
                                ("exceeded", Json::Bool(g.exceeded)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]
    }

    /// The canonical result document (RFC 8785 JCS; see RULES.md).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024 + self.results.len() * 2048);
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_canonical(&mut out);
        out
    }

    /// Stream the canonical result document to `w`, one staff record at a
    /// time (the whole document never has to be in memory).
    pub fn write_canonical(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let header = self.header();
        let mut m: Vec<(&str, Piece<'_>)> =
            header.iter().map(|(k, v)| (*k, Piece::Json(v))).collect();
        m.push(("results", Piece::Str("")));
        m.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.push(b'{');
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            jcs::write_str(k, &mut buf);
            buf.push(b':');
            if *k == "results" {
                buf.push(b'[');
                for (j, r) in self.results.iter().enumerate() {
                    if j > 0 {
                        buf.push(b',');
                    }
                    r.write_jcs(&mut buf);
                    if buf.len() >= 60 * 1024 {
                        w.write_all(&buf)?;
                        buf.clear();
                    }
                }
                buf.push(b']');
            } else {
                write_piece(v, &mut buf);
            }
        }
        buf.push(b'}');
        w.write_all(&buf)
    }

    /// The result document as a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: canonical_bytes is valid JSON by construction.
        serde_json::from_slice(&self.canonical_bytes()).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes (streamed, not materialised).
    pub fn sha256(&self) -> [u8; 32] {
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.update(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut h = Hashing(Sha256::new());
        // INVARIANT: the hashing writer never fails.
        let _ = self.write_canonical(&mut h);
        h.0.finalize().into()
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

/// Write a script value as JCS: decimal → canonical string, integer →
/// number (a decimal string beyond ±(2^53 − 1)), string, bool, `()` → null,
/// array, map → object.
pub(crate) fn write_dyn(d: &Dynamic, out: &mut Vec<u8>) -> Result<(), String> {
    if d.is_unit() {
        out.extend_from_slice(b"null");
    } else if let Ok(b) = d.as_bool() {
        out.extend_from_slice(if b { b"true" } else { b"false" });
    } else if let Ok(i) = d.as_int() {
        if is_safe_integer(i) {
            jcs::write_int(i, out);
        } else {
            jcs::write_str(&i.to_string(), out);
        }
    } else if let Ok(x) = d.as_decimal() {
        write_canonical_json(&x, out);
    } else if let Some(st) = d.read_lock::<rhai::ImmutableString>() {
        jcs::write_str(&st, out);
    } else if let Some(a) = d.read_lock::<rhai::Array>() {
        out.push(b'[');
        for (i, v) in a.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_dyn(v, out)?;
        }
        out.push(b']');
    } else if let Some(m) = d.read_lock::<rhai::Map>() {
        write_dyn_map(&m, out)?;
    } else {
        return Err(format!(
            "a value of type {} that has no JSON form",
            d.type_name()
        ));
    }
    Ok(())
}

/// Write a script map as a JCS object (members in UTF-16 order of names).
fn write_dyn_map(m: &rhai::Map, out: &mut Vec<u8>) -> Result<(), String> {
    // rhai maps iterate in byte order, which is UTF-16 order unless a key
    // has a character from U+E000 up (UTF-8 lead byte 0xEE or more): only
    // then re-sort.
    if m.keys().any(|k| k.bytes().any(|b| b >= 0xEE)) {
        let mut members: Vec<(&str, &Dynamic)> = m.iter().map(|(k, v)| (k.as_str(), v)).collect();
        members.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
        return write_members_dyn(members.into_iter(), out);
    }
    write_members_dyn(m.iter().map(|(k, v)| (k.as_str(), v)), out)
}

fn write_members_dyn<'a>(
    members: impl Iterator<Item = (&'a str, &'a Dynamic)>,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    out.push(b'{');
    for (i, (k, v)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jcs::write_str(k, out);
        out.push(b':');
        write_dyn(v, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn value_to_dyn(v: &Option<Value>) -> Dynamic {
    match v {
        None => Dynamic::UNIT,
        Some(Value::Text(s)) => Dynamic::from(s.clone()),
        Some(Value::Decimal(d)) => Dynamic::from_decimal(*d),
        Some(Value::Integer(i)) => Dynamic::from_int(*i),
    }
}

fn dyn_number(d: &Dynamic) -> Option<Decimal> {
    d.as_int()
        .ok()
        .map(Decimal::from)
        .or_else(|| d.as_decimal().ok())
}

/// Run `f` for 0..n in parallel; return the results in index order, or the
/// error of the lowest failing index (deterministic at any thread count).
fn par_eval<T: Send>(
    n: usize,
    f: impl Fn(usize) -> Result<T, EvalError> + Sync,
) -> Result<Vec<T>, EvalError> {
    let first_err = AtomicUsize::new(usize::MAX);
    let out: Vec<Option<Result<T, EvalError>>> = (0..n)
        .into_par_iter()
        .map(|i| {
            if i > first_err.load(Ordering::Relaxed) {
                return None;
            }
            let r = f(i);
            if r.is_err() {
                first_err.fetch_min(i, Ordering::Relaxed);
            }
            Some(r)
        })
        .collect();
    let mut v = Vec::with_capacity(n);
    for o in out {
        match o {
            Some(Ok(t)) => v.push(t),
            Some(Err(e)) => return Err(e),
            // Skipped only when a lower index failed, which returns above.
            None => break,
        }
    }
    Ok(v)
}

struct Ctx<'a> {
    pkg: &'a RulePackage,
}

impl Ctx<'_> {
    /// Call a script function; `args` builds the arguments (called again
    /// only to locate where a limit stopped the script).
    fn call(
        &self,
        function: &str,
        staff: &str,
        args: impl Fn() -> Vec<Dynamic>,
    ) -> Result<Dynamic, EvalError> {
        let opts = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        let mut scope = Scope::new();
        self.pkg
            .engine
            .call_fn_with_options::<Dynamic>(opts, &mut scope, &self.pkg.ast, function, args())
            .map_err(|e| self.script_error(function, staff, &e, &args))
    }

    fn script_error(
        &self,
        function: &str,
        staff: &str,
        e: &EvalAltResult,
        args: &dyn Fn() -> Vec<Dynamic>,
    ) -> EvalError {
        let limit = limit_hit(e).map(|name| {
            let v = self
                .pkg
                .limits
                .fields()
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
                .unwrap_or(0);
            (name.to_owned(), v)
        });
        let (line, column) = if limit.is_some() {
            locate_stop(&self.pkg.limits, &self.pkg.ast, function, args())
        } else {
            position_of(e)
        }
        .unwrap_or((0, 0));
        let message = match &limit {
            Some((name, v)) => format!("stopped by limit {name} = {v}: {}", e.unwrap_inner()),
            None => e.to_string(),
        };
        EvalError::Script(Box::new(ScriptFailure {
            file: self.pkg.script_path.clone(),
            line,
            column,
            function: function.to_owned(),
            staff_id: staff.to_owned(),
            limit,
            message,
        }))
    }

    fn bad_return(&self, function: &str, staff: &str, message: String) -> EvalError {
        EvalError::BadReturn {
            file: self.pkg.script_path.clone(),
            function: function.to_owned(),
            staff_id: staff.to_owned(),
            message,
        }
    }
}

struct Scored {
    scores: BTreeMap<String, Decimal>,
    /// JCS bytes of what `score` returned under `explain` (`null` if nothing).
    explain: Vec<u8>,
}

/// Compute a ranking from a package and one dataset per declared source.
///
/// Scripts run on a pool of as many threads as the caller's rayon pool has
/// (`rayon::current_num_threads()`, so `ThreadPool::install` and
/// `RAYON_NUM_THREADS` choose the parallelism), each with a stack of
/// [`SCRIPT_STACK_BYTES`] so that the deepest recursion a package may allow
/// (`max_call_levels` ≤ 64) is stopped by the limit, never by a native
/// stack overflow. The result does not depend on the thread count.
pub fn rank(
    pkg: &RulePackage,
    inputs: &BTreeMap<SourceName, Dataset>,
    period: &Period,
) -> Result<Ranking, EvalError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .stack_size(SCRIPT_STACK_BYTES)
        .thread_name(|i| format!("rankproof-script-{i}"))
        .build();
    match pool {
        Ok(pool) => pool.install(|| rank_in_pool(pkg, inputs, period)),
        // Could not start threads: evaluate on the current pool instead.
        Err(_) => rank_in_pool(pkg, inputs, period),
    }
}

/// Stack size of the script threads (reserved address space, touched only
/// as deep as scripts actually recurse).
pub const SCRIPT_STACK_BYTES: usize = 256 << 20;

fn rank_in_pool(
    pkg: &RulePackage,
    inputs: &BTreeMap<SourceName, Dataset>,
    period: &Period,
) -> Result<Ranking, EvalError> {
    for s in pkg.sources.keys() {
        if !inputs.contains_key(s) {
            return Err(EvalError::MissingSource(s.to_string()));
        }
    }
    for (s, d) in inputs {
        match pkg.sources.get(s) {
            None => return Err(EvalError::UnexpectedSource(s.to_string())),
            Some(schema) if schema != d.schema() => {
                return Err(EvalError::SchemaMismatch(s.to_string()))
            }
            Some(_) => {}
        }
    }
    if !pkg.is_effective(period) {
        let span = match pkg.effective_until {
            Some(u) => format!("{} to {}", pkg.effective_from, u),
            None => format!("from {}", pkg.effective_from),
        };
        return Err(EvalError::NotEffective {
            period: period.to_string(),
            span,
        });
    }

    // Join on staff_id: every source must hold exactly the same IDs. The
    // datasets are sorted, so equal ID lists are the fast, common case.
    let mut lists = inputs
        .values()
        .map(|d| d.rows().iter().map(|r| &r.staff_id));
    let same = match lists.next() {
        Some(first) => {
            let first: Vec<&StaffId> = first.collect();
            lists.all(|l| l.eq(first.iter().copied()))
        }
        None => true,
    };
    let ids: BTreeSet<&StaffId> = if same {
        BTreeSet::new()
    } else {
        inputs
            .values()
            .flat_map(|d| d.rows().iter().map(|r| &r.staff_id))
            .collect()
    };
    for id in &ids {
        for (s, d) in inputs {
            if d.row(id).is_none() {
                let (fs, fd) = inputs
                    .iter()
                    .find(|(_, d)| d.row(id).is_some())
                    .map(|(s, d)| (s.clone(), d))
                    .unwrap_or_else(|| (s.clone(), d));
                let at = fd.row(id).map(|r| r.at.to_string()).unwrap_or_default();
                return Err(EvalError::StaffMissing {
                    staff_id: id.to_string(),
                    source_name: s.to_string(),
                    found_in: format!("found in {fs}: {} {at}", fd.file_label()),
                });
            }
        }
    }
    let n = inputs.values().next().map_or(0, Dataset::n_rows);
    let ctx = Ctx { pkg };

    // Rows as rhai maps (all datasets are sorted by staff ID, same IDs).
    let sources: Vec<&Dataset> = inputs.values().collect();
    let rows: Vec<rhai::Map> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut m = rhai::Map::new();
            for d in &sources {
                let r = &d.rows()[i];
                for (c, v) in d.schema().columns.iter().zip(r.values.iter()) {
                    m.insert(c.name.as_str().into(), value_to_dyn(v));
                }
            }
            m
        })
        .collect();
    // Each row is handed to scripts as a read-only shared `Row`: no copy per call.
    let shared: Vec<Arc<rhai::Map>> = rows.into_par_iter().map(Arc::new).collect();
    let first = inputs.values().next();
    let staff_ids: Vec<StaffId> = first
        .map(|d| d.rows().iter().map(|r| r.staff_id.clone()).collect())
        .unwrap_or_default();

    // derive
    let derived: Vec<rhai::Map> = if pkg.has_derive {
        par_eval(n, |i| {
            let sid = staff_ids[i].as_str();
            let out = ctx.call("derive", sid, || {
                vec![Dynamic::from(ScriptRow(Arc::clone(&shared[i])))]
            })?;
            let m = out.try_cast::<rhai::Map>().ok_or_else(|| {
                ctx.bad_return("derive", sid, "something other than a map".into())
            })?;
            for (k, v) in &m {
                if shared[i].contains_key(k) || !crate::schema::is_identifier(k) {
                    return Err(ctx.bad_return(
                        "derive",
                        sid,
                        format!("field `{k}`, which is an input field or not an identifier"),
                    ));
                }
                if dyn_number(v).is_none() {
                    return Err(ctx.bad_return(
                        "derive",
                        sid,
                        format!("non-numeric `{k}` ({})", v.type_name()),
                    ));
                }
            }
            Ok(m)
        })?
    } else {
        vec![rhai::Map::new(); n]
    };
    let rows: Vec<Arc<rhai::Map>> = if pkg.has_derive {
        shared
            .into_par_iter()
            .zip(derived.par_iter())
            .map(|(r, d)| {
                let mut m = Arc::try_unwrap(r).unwrap_or_else(|a| (*a).clone());
                for (k, v) in d {
                    m.insert(k.clone(), v.clone());
                }
                Arc::new(m)
            })
            .collect()
    } else {
        shared
    };

    // cohort statistics over numeric fields
    let mut numeric: BTreeSet<String> = pkg
        .sources
        .values()
        .flat_map(|s| s.columns.iter())
        .filter(|c| c.ty != ColumnType::Text)
        .map(|c| c.name.clone())
        .collect();
    numeric.extend(derived.iter().flat_map(|m| m.keys().map(|k| k.to_string())));
    // Where each input column lives: (dataset, column index).
    let mut located: BTreeMap<&str, (&Dataset, usize)> = BTreeMap::new();
    for d in inputs.values() {
        for (ci, c) in d.schema().columns.iter().enumerate() {
            located.insert(c.name.as_str(), (d, ci));
        }
    }
    let numeric: Vec<String> = numeric.into_iter().collect();
    let stats: Vec<Result<FieldStats, EvalError>> = numeric
        .par_iter()
        .map(|f| {
            let mut st = FieldStats {
                count: 0,
                min: None,
                max: None,
                sum: Decimal::ZERO,
                mean: None,
            };
            let mut add = |x: Decimal| -> Result<(), EvalError> {
                st.count += 1;
                st.min = Some(st.min.map_or(x, |m: Decimal| m.min(x)));
                st.max = Some(st.max.map_or(x, |m: Decimal| m.max(x)));
                st.sum = st.sum.checked_add(x).ok_or_else(|| {
                    ctx.bad_return("(cohort)", "", format!("an overflowing sum of `{f}`"))
                })?;
                Ok(())
            };
            match located.get(f.as_str()) {
                Some((d, ci)) => {
                    for r in d.rows() {
                        if let Some(x) = r.values[*ci].as_ref().and_then(Value::as_decimal) {
                            add(x)?;
                        }
                    }
                }
                None => {
                    for m in &derived {
                        if let Some(x) = m.get(f.as_str()).and_then(dyn_number) {
                            add(x)?;
                        }
                    }
                }
            }
            st.mean = if st.count > 0 {
                ratio(st.sum, Decimal::from(st.count))
            } else {
                None
            };
            Ok(st)
        })
        .collect();
    let mut fields = BTreeMap::new();
    for (f, st) in numeric.into_iter().zip(stats) {
        fields.insert(f, st?);
    }
    let cohort = Cohort(Arc::new(CohortStats {
        n: u64::try_from(n).unwrap_or(u64::MAX),
        fields,
    }));

    // score
    let spec = &pkg.ranking;
    let scored: Vec<Scored> = par_eval(n, |i| {
        let sid = staff_ids[i].as_str();
        let out = ctx.call("score", sid, || {
            vec![
                Dynamic::from(ScriptRow(Arc::clone(&rows[i]))),
                Dynamic::from(cohort.clone()),
            ]
        })?;
        let m = out
            .try_cast::<rhai::Map>()
            .ok_or_else(|| ctx.bad_return("score", sid, "something other than a map".into()))?;
        let mut scores = BTreeMap::new();
        for s in &spec.scores {
            let v = m
                .get(s.as_str())
                .and_then(dyn_number)
                .ok_or_else(|| ctx.bad_return("score", sid, format!("no numeric `{s}`")))?;
            scores.insert(s.clone(), v);
        }
        for k in m.keys() {
            if k.as_str() != "explain" && !spec.scores.iter().any(|s| s == k.as_str()) {
                return Err(ctx.bad_return("score", sid, format!("undeclared key `{k}` (declare it in ranking.scores or put it under explain)")));
            }
        }
        let mut explain = Vec::with_capacity(1024);
        match m.get("explain") {
            Some(e) => {
                write_dyn(e, &mut explain).map_err(|msg| ctx.bad_return("score", sid, msg))?
            }
            None => explain.extend_from_slice(b"null"),
        }
        Ok(Scored { scores, explain })
    })?;

    // order, position, competition rank
    let keys: Vec<(Direction, Vec<Decimal>)> = spec
        .order
        .iter()
        .map(|k| {
            (
                k.direction,
                scored.iter().map(|x| x.scores[&k.score]).collect(),
            )
        })
        .collect();
    let rank_key: Vec<Decimal> = scored.iter().map(|x| x.scores[&spec.rank_by]).collect();
    let mut order: Vec<usize> = (0..n).collect();
    // The comparator is a total order (staff IDs are unique), so the result
    // does not depend on the sort algorithm or the thread count.
    order.par_sort_unstable_by(|&a, &b| {
        for (direction, v) in &keys {
            let c = match direction {
                Direction::Desc => v[b].cmp(&v[a]),
                Direction::Asc => v[a].cmp(&v[b]),
            };
            if c != std::cmp::Ordering::Equal {
                return c;
            }
        }
        staff_ids[a].cmp(&staff_ids[b])
    });
    let mut ranks = vec![0u64; n];
    for p in 0..n {
        ranks[p] = if p > 0 && rank_key[order[p - 1]] == rank_key[order[p]] {
            ranks[p - 1]
        } else {
            p as u64 + 1
        };
    }

    // quota
    let n_int = INT::try_from(n).unwrap_or(INT::MAX);
    let quota: BTreeMap<String, Option<u64>> = if pkg.has_quota {
        let out = ctx.call("grade_quota", "(cohort)", || vec![Dynamic::from_int(n_int)])?;
        if out.is_unit() {
            BTreeMap::new()
        } else {
            let m = out.try_cast::<rhai::Map>().ok_or_else(|| {
                ctx.bad_return(
                    "grade_quota",
                    "(cohort)",
                    "something other than a map or ()".into(),
                )
            })?;
            let mut q = BTreeMap::new();
            for (k, v) in m {
                if !spec.grades.iter().any(|g| g == k.as_str()) {
                    return Err(ctx.bad_return(
                        "grade_quota",
                        "(cohort)",
                        format!("a quota for undeclared grade `{k}`"),
                    ));
                }
                let c = v
                    .as_int()
                    .ok()
                    .and_then(|x| u64::try_from(x).ok())
                    .ok_or_else(|| {
                        ctx.bad_return(
                            "grade_quota",
                            "(cohort)",
                            format!("a non-integer quota for `{k}`"),
                        )
                    })?;
                q.insert(k.to_string(), Some(c));
            }
            q
        }
    } else {
        BTreeMap::new()
    };

    // classify, in position order
    // Input members of `explain.inputs` in JCS order: (dataset, column, name).
    let mut input_order: Vec<(usize, usize, &str)> = sources
        .iter()
        .enumerate()
        .flat_map(|(di, d)| {
            d.schema()
                .columns
                .iter()
                .enumerate()
                .skip(1)
                .map(move |(ci, c)| (di, ci, c.name.as_str()))
        })
        .collect();
    input_order.sort_by(|a, b| jcs::utf16_cmp(a.2, b.2));
    let results: Vec<StaffResult> = par_eval(n, |p| {
        let i = order[p];
        let sid = staff_ids[i].as_str();
        let sc = &scored[i];
        let args = || {
            let scores_map: rhai::Map = sc
                .scores
                .iter()
                .map(|(k, v)| (k.as_str().into(), Dynamic::from_decimal(*v)))
                .collect();
            let mut standing = rhai::Map::new();
            standing.insert(
                "position".into(),
                Dynamic::from_int(INT::try_from(p + 1).unwrap_or(INT::MAX)),
            );
            standing.insert(
                "rank".into(),
                Dynamic::from_int(INT::try_from(ranks[p]).unwrap_or(INT::MAX)),
            );
            standing.insert("n".into(), Dynamic::from_int(n_int));
            vec![
                Dynamic::from(ScriptRow(Arc::clone(&rows[i]))),
                Dynamic::from_map(scores_map),
                Dynamic::from_map(standing),
                Dynamic::from(cohort.clone()),
            ]
        };
        let out = ctx.call("classify", sid, args)?;
        let m = out
            .try_cast::<rhai::Map>()
            .ok_or_else(|| ctx.bad_return("classify", sid, "something other than a map".into()))?;
        let grade = m
            .get("grade")
            .and_then(|g| g.clone().into_string().ok())
            .filter(|g| spec.grades.contains(g))
            .ok_or_else(|| {
                ctx.bad_return(
                    "classify",
                    sid,
                    format!("no `grade` among the declared grades {:?}", spec.grades),
                )
            })?;
        let bonus_multiplier = m
            .get("bonus_multiplier")
            .and_then(dyn_number)
            .ok_or_else(|| {
                ctx.bad_return("classify", sid, "no numeric `bonus_multiplier`".into())
            })?;
        let flags: Vec<String> = match m.get("flags") {
            None => Vec::new(),
            Some(f) => f
                .clone()
                .try_cast::<rhai::Array>()
                .and_then(|a| {
                    a.into_iter()
                        .map(|x| x.into_string().ok())
                        .collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| {
                    ctx.bad_return(
                        "classify",
                        sid,
                        "`flags` that is not an array of strings".into(),
                    )
                })?,
        };
        for k in m.keys() {
            if !matches!(
                k.as_str(),
                "grade" | "bonus_multiplier" | "flags" | "explain"
            ) {
                return Err(ctx.bad_return(
                    "classify",
                    sid,
                    format!("undeclared key `{k}` (put it under explain)"),
                ));
            }
        }
        let row = &rows[i];
        let mut e = Vec::with_capacity(256 + sc.explain.len() * 2);
        e.extend_from_slice(b"{\"classification\":");
        match m.get("explain") {
            Some(x) => write_dyn(x, &mut e).map_err(|msg| ctx.bad_return("classify", sid, msg))?,
            None => e.extend_from_slice(b"null"),
        }
        e.extend_from_slice(b",\"derived\":");
        write_dyn_map(&derived[i], &mut e).map_err(|msg| ctx.bad_return("derive", sid, msg))?;
        e.extend_from_slice(b",\"inputs\":{");
        let mut first = true;
        for (di, ci, name) in &input_order {
            let Some(v) = &sources[*di].rows()[i].values[*ci] else {
                continue;
            };
            if !first {
                e.push(b',');
            }
            first = false;
            jcs::write_str(name, &mut e);
            e.push(b':');
            match v {
                Value::Text(t) => jcs::write_str(t, &mut e),
                Value::Decimal(d) => write_canonical_json(d, &mut e),
                Value::Integer(x) => jcs::write_int(*x, &mut e),
            }
        }
        e.extend_from_slice(b"},\"scoring\":");
        e.extend_from_slice(&sc.explain);
        e.extend_from_slice(b",\"unrounded\":{");
        let mut unrounded: Vec<(&String, &Decimal)> = sc.scores.iter().collect();
        unrounded.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
        for (k, (name, v)) in unrounded.iter().enumerate() {
            if k > 0 {
                e.push(b',');
            }
            jcs::write_str(name, &mut e);
            e.push(b':');
            write_canonical_json(v, &mut e);
        }
        e.extend_from_slice(b"}}");
        // INVARIANT: every piece written is UTF-8 (strings come from &str).
        let jcs_text = String::from_utf8(e).unwrap_or_default();
        let attributes = spec
            .attributes
            .iter()
            .map(|a| {
                (
                    a.clone(),
                    row.get(a.as_str())
                        .and_then(|v| v.clone().into_string().ok())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let scores = sc
            .scores
            .iter()
            .map(|(k, v)| (k.clone(), rhu(*v, spec.report_decimals)))
            .collect();
        Ok(StaffResult {
            staff_id: staff_ids[i].clone(),
            position: p as u64 + 1,
            rank: ranks[p],
            attributes,
            scores,
            grade,
            bonus_multiplier,
            flags,
            explanation: Explanation {
                jcs: jcs_text,
                unrounded: sc.scores.clone(),
            },
        })
    })?;

    let grade_distribution = spec
        .grades
        .iter()
        .map(|g| {
            let count = results.iter().filter(|r| &r.grade == g).count() as u64;
            let q = quota.get(g).copied().flatten();
            GradeCount {
                grade: g.clone(),
                count,
                quota: q,
                exceeded: q.is_some_and(|q| count > q),
            }
        })
        .collect();

    Ok(Ranking {
        package_name: pkg.name.clone(),
        package_version: pkg.version.to_string(),
        package_hash: pkg.hash_hex(),
        period: *period,
        inputs: inputs
            .par_iter()
            .map(|(s, d)| {
                (
                    s.clone(),
                    InputRef {
                        sha256: d.sha256_hex(),
                        n_rows: d.n_rows() as u64,
                    },
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
        engine_version: ENGINE_VERSION.to_owned(),
        limits: pkg.limits,
        order: spec.order.clone(),
        rank_by: spec.rank_by.clone(),
        score_names: spec.scores.clone(),
        report_decimals: spec.report_decimals,
        attribute_names: spec.attributes.clone(),
        grade_distribution,
        results,
    })
}
