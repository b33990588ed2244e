//! `rankproof rank` (dry run: engine work; from the ledger: workflow work).
use std::path::Path;

use clap::Args;

use crate::exit::CmdResult;

#[derive(Debug, Args)]
pub struct RankArgs {}

pub fn run(_ledger: &Path, _a: RankArgs) -> CmdResult {
    Err(anyhow::anyhow!("rank is not built yet").into())
}
