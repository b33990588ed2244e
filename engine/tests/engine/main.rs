//! Engine integration tests: one binary, one module per concern.
#![allow(clippy::unwrap_used)] // tests unwrap freely

mod common;
mod datasets;
mod determinism;
mod fuzz_seeds;
mod hostile;
mod ingest;
mod marketing;
mod packages;
mod plain;
mod props;
mod script_errors;
