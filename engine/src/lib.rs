//! The rankproof engine: rule packages (a TOML manifest plus a sandboxed
//! rhai script), input datasets and their canonical form, and deterministic
//! evaluation into a canonical result document.
//!
//! The engine does no I/O: it takes bytes and returns values or typed
//! errors. Same package bytes + same dataset bytes + same
//! [`ENGINE_VERSION`] ⇒ byte-identical result, at any thread count.
//!
//! ```
//! use rankproof_engine::{Period, decimal};
//! use rust_decimal::Decimal;
//! let p: Period = "2025-Q1".parse().unwrap();
//! assert_eq!(p.to_string(), "2025-Q1");
//! assert_eq!(decimal::canonical(&"87.50".parse::<Decimal>().unwrap()), "87.5");
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod column;
pub mod crosscheck;
pub mod dataset;
pub mod decimal;
mod eval;
pub mod fuzzing;
pub mod jcs;
pub mod package;
pub mod period;
pub mod read;
pub mod sandbox;
pub mod schema;
pub mod selftest;
pub mod synth;

pub use crosscheck::{cross_check, CrossProblem, CrossProblems, CrossReport, Excluded, FoundAt};
pub use dataset::{
    ColumnRef, Dataset, DatasetError, DatasetProblems, Loc, TextCells, Value, ValueRef,
};
pub use eval::{
    rank, EvalError, Explanation, GradeCount, InputRef, Ranking, ScriptFailure, StaffResult,
    StaffSummary, SummaryRow, COHORT, ENGINE_VERSION, RANKING_FORMAT, SCRIPT_API,
};
pub use package::{
    package_contents, package_hash, Direction, LeftOut, OrderKey, PackageContents, RankingSpec,
    RuleError, RulePackage, TestCase, Version, RECORD_KEYS,
};
pub use period::{BadPeriod, Period};
pub use read::{EncodingSource, InputFormat, InputLimits, ReadOptions, ReadReport, TextEncoding};
pub use sandbox::Limits;
pub use schema::{
    Column, ColumnType, MissingStaff, RowPolicy, SourceName, SourceRules, SourceSchema, StaffId,
};
pub use selftest::{CaseOutcome, CaseReport, CaseRun, Difference, Expected};
