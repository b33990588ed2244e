//! `rankproof init | log | checkpoint | verify | export` (owned by the ledger work).
use std::path::Path;

use clap::Args;

use crate::exit::CmdResult;

#[derive(Debug, Args)]
pub struct InitArgs {}
#[derive(Debug, Args)]
pub struct LogArgs {}
#[derive(Debug, Args)]
pub struct CheckpointArgs {}
#[derive(Debug, Args)]
pub struct VerifyArgs {}
#[derive(Debug, Args)]
pub struct ExportArgs {}

pub fn init(_ledger: &Path, _a: InitArgs) -> CmdResult {
    Err(anyhow::anyhow!("init is not built yet").into())
}
pub fn log(_ledger: &Path, _a: LogArgs) -> CmdResult {
    Err(anyhow::anyhow!("log is not built yet").into())
}
pub fn checkpoint(_ledger: &Path, _a: CheckpointArgs) -> CmdResult {
    Err(anyhow::anyhow!("checkpoint is not built yet").into())
}
pub fn verify(_ledger: &Path, _a: VerifyArgs) -> CmdResult {
    Err(anyhow::anyhow!("verify is not built yet").into())
}
pub fn export(_ledger: &Path, _a: ExportArgs) -> CmdResult {
    Err(anyhow::anyhow!("export is not built yet").into())
}
