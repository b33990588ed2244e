//! `rankproof rules ...` (check: engine work; publish/list/show/diff: workflow work).
use std::path::Path;

use clap::Subcommand;

use crate::exit::CmdResult;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {}

pub fn run(_ledger: &Path, c: RulesCommand) -> CmdResult {
    match c {}
}
