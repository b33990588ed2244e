//! Evaluation of a rule package on one period's datasets, phase by phase:
//!
//! 1. [`join`]: check the inputs and join them on staff ID (sorted);
//! 2. [`cohort`]: the joined inputs as columns (the script's `cohort`);
//! 3. [`score`]: `fn score(cohort)` once, the declared scores as columns;
//! 4. [`order`]: ranking order and competition rank (no script);
//! 5. [`quota`]: `fn grade_quota(n)` once, and the grade distribution;
//! 6. [`classify`]: `fn classify(cohort, scores, standing)` once;
//! 7. [`document`]: per-staff records with their explanations, and the
//!    canonical result document.
//!
//! Scripts run once per cohort; every per-staff computation is native, and
//! the parallel parts are collected in a fixed order, so the result does
//! not depend on the thread count.

mod classify;
mod cohort;
mod document;
mod join;
pub(crate) mod order;
mod quota;
mod score;
mod script;

use std::collections::BTreeMap;

use crate::dataset::Dataset;
use crate::package::RulePackage;
use crate::period::Period;
use crate::schema::SourceName;

pub use document::{
    Explanation, GradeCount, InputRef, Ranking, StaffResult, StaffSummary, SummaryRow,
};

/// The engine version recorded in every result. Part of the replay
/// contract: a result is reproducible by the same engine version. 0.2.0 is
/// the first engine of script API 2; rankings written by 0.1 (per-row
/// script API) do not replay under it.
pub const ENGINE_VERSION: &str = "rankproof-engine/0.2.0";

/// The `format` tag of a result document.
pub const RANKING_FORMAT: &str = "rankproof-ranking/2";

/// The script API this engine runs (`[package] script_api`).
pub const SCRIPT_API: u64 = 2;

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
    #[error("every staff member is missing from at least one source ({excluded} excluded under [join] missing_staff = \"exclude\"), so nobody is eligible; record the sources' files of the same staff")]
    NoEligibleStaff { excluded: usize },
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
    /// The first staff member (in staff-ID order) the failure concerns, or
    /// `(cohort)` when it concerns no single one.
    pub staff_id: String,
    /// The limit that stopped the script, with its value, if one did.
    pub limit: Option<(String, u64)>,
    pub message: String,
}

/// The staff label of failures that concern the whole cohort.
pub const COHORT: &str = "(cohort)";

/// Compute a ranking from a package and one dataset per declared source.
///
/// Column operations run on as many threads as the caller's rayon pool has
/// (`rayon::current_num_threads()`, so `ThreadPool::install` and
/// `RAYON_NUM_THREADS` choose the parallelism); the scripts themselves run
/// on a thread with a stack of [`SCRIPT_STACK_BYTES`] so that the deepest
/// recursion a package may allow (`max_call_levels` ≤ 64) is stopped by the
/// limit, never by a native stack overflow. The result does not depend on
/// the thread count.
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
    let mut joined = join::join(pkg, inputs, period)?;
    let cohort = cohort::columns(&joined);
    let ctx = script::Ctx {
        pkg,
        staff_ids: &joined.staff_ids,
    };
    let scored = score::score(&ctx, &cohort)?;
    let spec = pkg.ranking();
    let keys: Vec<(crate::package::Direction, &[rust_decimal::Decimal])> = spec
        .order
        .iter()
        .map(|k| (k.direction, scored.values(&k.score)))
        .collect();
    let positions = order::order(&keys, &joined.staff_ids);
    let ranks = order::competition_ranks(&positions, scored.values(&spec.rank_by));
    let quota = quota::grade_quota(&ctx, joined.n)?;
    let classified = classify::classify(&ctx, &cohort, &scored, &positions, &ranks)?;
    let mut cohort_explain = BTreeMap::new();
    for (section, values) in [
        ("classification", &classified.explain_scalars),
        ("details", &scored.detail_scalars),
    ] {
        let m: BTreeMap<String, crate::jcs::Json> = values
            .iter()
            .map(|(k, v)| (k.clone(), document::scalar_json(v)))
            .collect();
        cohort_explain.insert(section.to_owned(), m);
    }
    let excluded = std::mem::take(&mut joined.excluded);
    let records = document::Records::new(pkg, joined, scored, classified, positions, ranks);
    let grades: Vec<&str> = records.grades().collect();
    let grade_distribution = quota::distribution(&spec.grades, &quota, &grades);
    drop(grades);
    Ok(document::ranking(
        pkg,
        inputs,
        period,
        grade_distribution,
        cohort_explain,
        records,
        excluded,
    ))
}
