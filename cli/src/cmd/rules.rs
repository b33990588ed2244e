//! `rankproof rules ...` (check: engine work; publish/list/show/diff: workflow work).
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use rankproof_engine::{CaseOutcome, RulePackage};

use crate::exit::{self, CmdResult};

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load a package directory, compile its script and run its own test cases.
    Check(CheckArgs),
    /// Run the package's own cases, then publish every file to the ledger.
    Publish(PublishArgs),
    /// List the published rule packages.
    List,
    /// Show a published package: entry, files, sources.
    Show {
        /// NAME@VERSION, e.g. marketing@1.0.0.
        id: String,
    },
    /// Manifest and script changes between two published versions.
    Diff {
        /// NAME@VERSION of the older package.
        a: String,
        /// NAME@VERSION of the newer package.
        b: String,
    },
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The HR signer's secret key file.
    #[arg(long)]
    pub signer: PathBuf,
    /// The package directory.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The package directory (holds package.toml).
    pub dir: PathBuf,
}

pub fn run(ledger: &Path, c: RulesCommand) -> CmdResult {
    match c {
        RulesCommand::Check(a) => check(&a),
        RulesCommand::Publish(a) => crate::cmd::flow::rules_publish(ledger, &a.signer, &a.dir),
        RulesCommand::List => crate::cmd::flow::rules_list(ledger),
        RulesCommand::Show { id } => crate::cmd::flow::rules_show(ledger, &id),
        RulesCommand::Diff { a, b } => crate::cmd::flow::rules_diff(ledger, &a, &b),
    }
}

/// Read a package directory into the engine's file map: every regular file
/// below `dir`, keyed by its `/`-separated relative path. Names starting
/// with `.` (and what is below them) are skipped; symbolic links are refused.
pub fn read_package_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> anyhow::Result<()> {
        let rd = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read directory {}", dir.display()))?;
        for entry in rd {
            let entry =
                entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                anyhow::bail!("{}: file names must be UTF-8", path.display());
            };
            if name.starts_with('.') {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_symlink() {
                anyhow::bail!(
                    "{}: symbolic links are not allowed in a rule package",
                    path.display()
                );
            } else if ft.is_dir() {
                walk(root, &path, out)?;
            } else if ft.is_file() {
                let rel = path.strip_prefix(root)?;
                let rel: Vec<&str> = rel
                    .components()
                    .map(|c| c.as_os_str().to_str().unwrap_or_default())
                    .collect();
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                out.insert(rel.join("/"), bytes);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out)?;
    Ok(out)
}

/// Load and compile a package directory.
pub fn load_package(dir: &Path) -> anyhow::Result<RulePackage> {
    let files = read_package_dir(dir)?;
    RulePackage::from_files(files).with_context(|| format!("rule package {}", dir.display()))
}

fn check(a: &CheckArgs) -> CmdResult {
    use std::fmt::Write as _;
    use std::io::Write as _;
    let pkg = load_package(&a.dir)?;
    // Written in one go (no println!, which panics on a closed pipe).
    let mut out = String::new();
    let _ = writeln!(out, "package {} ({})", pkg.id(), a.dir.display());
    let _ = writeln!(out, "hash    {}", pkg.hash_hex());
    let _ = writeln!(out, "script  {} compiled", pkg.script_path());
    let reports = pkg.run_tests();
    let mut failed = 0;
    for r in &reports {
        match &r.outcome {
            CaseOutcome::Pass => {
                let _ = writeln!(out, "PASS  {}  {}", r.name, r.description);
            }
            CaseOutcome::Mismatch {
                path,
                expected,
                actual,
            } => {
                failed += 1;
                let _ = writeln!(out, "FAIL  {}  {}", r.name, r.description);
                let _ = writeln!(out, "      first mismatch at {path}");
                let _ = writeln!(out, "      expected {expected}");
                let _ = writeln!(out, "      actual   {actual}");
            }
            CaseOutcome::Error(e) => {
                failed += 1;
                let _ = writeln!(out, "FAIL  {}  {}", r.name, r.description);
                let _ = writeln!(out, "      error: {e}");
            }
        }
    }
    let _ = writeln!(
        out,
        "{} cases: {} passed, {} failed",
        reports.len(),
        reports.len() - failed,
        failed
    );
    std::io::stdout()
        .lock()
        .write_all(out.as_bytes())
        .context("cannot write to stdout")?;
    if reports.is_empty() {
        return Err(anyhow::anyhow!(
            "the package has no test cases (add tests/<case>/expected.json)"
        )
        .into());
    }
    if failed > 0 {
        return Err(exit::finding(anyhow::anyhow!(
            "{failed} of {} package test cases failed",
            reports.len()
        )));
    }
    Ok(())
}
