//! `rankproof`: the command line. The only crate that prints, reads the
//! environment or chooses exit codes; glue between `engine` and `ledger`.

mod cmd;
mod exit;
mod progress;
mod table;

use std::path::PathBuf;
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
    /// The ledger directory (a sled database).
    #[arg(
        long,
        global = true,
        env = "RANKPROOF_LEDGER",
        default_value = "ledger"
    )]
    pub ledger: PathBuf,

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
    /// Compute a ranking (dry run from files, or from the ledger).
    Rank(cmd::rank::RankArgs),
    /// List the ledger's entries.
    Log(cmd::ledger::LogArgs),
    /// Print the latest signed checkpoint.
    Checkpoint(cmd::ledger::CheckpointArgs),
    /// Verify the whole ledger, or an exported bundle.
    Verify(cmd::ledger::VerifyArgs),
    /// Export an audit bundle.
    Export(cmd::ledger::ExportArgs),
    /// Record a source's dataset for a period.
    #[command(subcommand)]
    Input(cmd::flow::InputCommand),
    /// Recompute published rankings from the recorded rules and inputs.
    Replay(cmd::flow::ReplayArgs),
    /// Show how one staff member's result was computed.
    Explain(cmd::flow::ExplainArgs),
    /// Issue and verify staff receipts.
    #[command(subcommand)]
    Receipt(cmd::receipt::ReceiptCommand),
    /// The whole story on the bundled example data, narrated step by step.
    Demo(cmd::demo::DemoArgs),
    /// Write a deterministic synthetic cohort (benchmarks and tests).
    #[command(hide = true)]
    Gen(cmd::rank::GenArgs),
}

/// A closed stdout (`rankproof log | head`) ends the process quietly, as
/// for any Unix tool killed by SIGPIPE; every other panic is a bug and keeps
/// the default report.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(c) => cmd::keys::run(&cli.ledger, c),
        Command::Init(a) => cmd::ledger::init(&cli.ledger, a),
        Command::Rules(c) => cmd::rules::run(&cli.ledger, c),
        Command::Rank(a) => cmd::rank::run(&cli.ledger, a),
        Command::Log(a) => cmd::ledger::log(&cli.ledger, a),
        Command::Checkpoint(a) => cmd::ledger::checkpoint(&cli.ledger, a),
        Command::Verify(a) => cmd::ledger::verify(&cli.ledger, a),
        Command::Export(a) => cmd::ledger::export(&cli.ledger, a),
        Command::Input(c) => cmd::flow::input(&cli.ledger, c),
        Command::Replay(a) => cmd::flow::replay(&cli.ledger, a),
        Command::Explain(a) => cmd::flow::explain(&cli.ledger, a),
        Command::Receipt(c) => cmd::receipt::run(&cli.ledger, c),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Gen(a) => cmd::rank::gen(a),
    };
    exit::report(result)
}
