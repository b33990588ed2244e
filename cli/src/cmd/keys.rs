//! `rankproof key ...` (owned by the ledger work).
use std::path::Path;

use clap::Subcommand;

use crate::exit::CmdResult;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {}

pub fn run(_ledger: &Path, c: KeyCommand) -> CmdResult {
    match c {}
}
