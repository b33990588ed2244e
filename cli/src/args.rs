//! Argument values shared by several commands.

use rankproof_engine::Period;

use crate::fail::{bad, CmdResult};

/// Parse a `--period`.
pub fn period(s: &str) -> CmdResult<Period> {
    s.parse().map_err(bad)
}
