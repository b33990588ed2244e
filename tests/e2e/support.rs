//! Shared helpers for running the binary.

use std::path::Path;
use std::process::{Command, Output};

/// Run `rankproof` with `args` in `dir`, with no inherited ledger variable.
#[allow(dead_code)]
pub fn rankproof(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .args(args)
        .current_dir(dir)
        .env_remove("RANKPROOF_LEDGER")
        .output()
        .expect("the rankproof binary runs")
}
