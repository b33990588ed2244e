//! `rankproof`: the command line. Parse → call the workflow library →
//! render. The only crate that prints, reads the environment or chooses
//! exit statuses (`fail.rs`).

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod args;
mod cmd;
mod fail;
mod files;
mod keyfile;
mod out;
mod progress;
mod render;
mod store;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The binary's allocator: scoring allocates and frees many small values
/// (rhai maps, boxed decimals) on every thread, which the system allocator
/// serves slowly. The engine library never chooses an allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Provable performance rankings: published rules, recorded data, a signed
/// append-only ledger, and receipts every staff member can verify offline.
#[derive(Debug, Parser)]
#[command(name = "rankproof", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and inspect signing keys, grant and revoke roles.
    #[command(subcommand)]
    Key(cmd::keys::KeyCommand),
    /// Create a new ledger with its log key and first admin.
    Init(cmd::ledger::InitArgs),
    /// Check, publish and inspect rule packages.
    #[command(subcommand)]
    Rules(cmd::rules::RulesCommand),
    /// Compute a ranking (dry run from files, or from the ledger; --publish appends it).
    Rank(cmd::rank::RankArgs),
    /// List and show published rankings (the stored results).
    #[command(subcommand)]
    Ranking(cmd::ranking::RankingCommand),
    /// List the ledger's entries, saying what each is.
    Log(cmd::ledger::LogArgs),
    /// Print the latest signed checkpoint.
    Checkpoint(cmd::ledger::CheckpointArgs),
    /// Verify the whole ledger, or an exported bundle, and what its entries claim.
    Verify(cmd::ledger::VerifyArgs),
    /// Export an audit bundle.
    Export(cmd::ledger::ExportArgs),
    /// Record, list and show the sources' datasets.
    #[command(subcommand)]
    Input(cmd::input::InputCommand),
    /// Recompute published rankings from the recorded rules and inputs.
    Replay(cmd::replay::ReplayArgs),
    /// Show how one staff member's result was computed.
    Explain(cmd::replay::ExplainArgs),
    /// Issue and verify staff receipts.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCommand),
    /// The whole story on the bundled example data, narrated step by step.
    Demo(cmd::demo::DemoArgs),
    /// Write a deterministic synthetic cohort (benchmarks and tests).
    #[command(hide = true)]
    Gen(cmd::rank::GenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = out::Out::stdout();
    let result = match cli.command {
        Command::Key(c) => cmd::keys::run(c, &mut out),
        Command::Init(a) => cmd::ledger::init(a, &mut out),
        Command::Rules(c) => cmd::rules::run(c, &mut out),
        Command::Rank(a) => cmd::rank::run(a, &mut out),
        Command::Ranking(c) => cmd::ranking::run(c, &mut out),
        Command::Log(a) => cmd::ledger::log(a, &mut out),
        Command::Checkpoint(a) => cmd::ledger::checkpoint(a, &mut out),
        Command::Verify(a) => cmd::ledger::verify(a, &mut out),
        Command::Export(a) => cmd::ledger::export(a, &mut out),
        Command::Input(c) => cmd::input::run(c, &mut out),
        Command::Replay(a) => cmd::replay::replay(a, &mut out),
        Command::Explain(a) => cmd::replay::explain(a, &mut out),
        Command::Receipt(c) => cmd::receipt::run(c, &mut out),
        Command::Demo(a) => cmd::demo::run(a, &mut out),
        Command::Gen(a) => cmd::rank::gen(a, &mut out),
    };
    // Flush what was written before reporting (also after a failure).
    let result = match (result, out.flush()) {
        (Ok(()), Err(e)) => Err(e.into()),
        (r, _) => r,
    };
    fail::report(result)
}
