//! `rankproof rules check | publish | list | show | diff`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use rankproof_engine::{CaseOutcome, LeftOut, RulePackage};
use rankproof_workflow::RulesOutcome;
use serde_json::{json, Value};

use crate::fail::{bad, finding, CmdResult};
use crate::files::read_package;
use crate::keyfile::read_secret_key;
use crate::out::Out;
use crate::render::table::Table;
use crate::render::{safe, short, TextFormat};
use crate::store::{self, LedgerArg, SourceArgs};

mod bless;
mod diff;

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load a package directory, compile its script and run its own test cases.
    Check(CheckArgs),
    /// Run the package's own cases, then publish every file to the ledger.
    Publish(PublishArgs),
    /// List the published rule packages.
    List(ListArgs),
    /// Show a published package: entry, files, sources.
    Show(ShowArgs),
    /// Manifest, schema and script changes between two packages (folders or
    /// published NAME@VERSION).
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The package directory (holds package.toml).
    pub dir: PathBuf,
    /// Rewrite every case's expected.json from what the current package
    /// computes, showing what changed (a case that expects an error keeps
    /// its text unless the error changed).
    #[arg(long)]
    pub bless: bool,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// The HR signer's secret key file.
    #[arg(long)]
    pub signer: PathBuf,
    /// The package directory.
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// NAME@VERSION, e.g. marketing@1.0.0.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The older package: a package folder, or NAME@VERSION published in
    /// the ledger (or bundle).
    pub a: String,
    /// The newer package: a package folder, or NAME@VERSION.
    pub b: String,
}

pub fn run(c: RulesCommand, out: &mut Out) -> CmdResult {
    match c {
        RulesCommand::Check(a) => check(&a, out),
        RulesCommand::Publish(a) => publish(a, out),
        RulesCommand::List(a) => list(a, out),
        RulesCommand::Show(a) => show(a, out),
        RulesCommand::Diff(a) => diff(a, out),
    }
}

fn load(dir: &std::path::Path) -> CmdResult<(RulePackage, Vec<LeftOut>)> {
    let contents = read_package(dir)?;
    let pkg = RulePackage::from_files(contents.files)
        .map_err(|e| bad(format!("rule package {}: {e}", dir.display())))?;
    Ok((pkg, contents.left_out))
}

/// The files a package publishes (size, SHA-256 prefix, path) and the ones
/// present in its folder that it leaves out.
fn file_listing(pkg: &RulePackage, left_out: &[LeftOut]) -> String {
    let mut s = String::new();
    let total: usize = pkg.files().values().map(Vec::len).sum();
    let _ = writeln!(
        s,
        "files   {} published ({total} bytes):",
        pkg.files().len()
    );
    let hashes = pkg.file_hashes();
    for (path, bytes) in pkg.files() {
        let h = hashes.get(path).map(|h| short(h, 12)).unwrap_or_default();
        let _ = writeln!(s, "  {:>9}  {h}  {}", bytes.len(), safe(path));
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            s,
            "left out {} (in the folder, not published):",
            left_out.len()
        );
        for l in left_out {
            let _ = writeln!(s, "  {}  ({})", safe(&l.path), safe(&l.reason));
        }
    }
    s
}

fn check(a: &CheckArgs, out: &mut Out) -> CmdResult {
    let (pkg, left_out) = load(&a.dir)?;
    let mut s = String::new();
    let _ = writeln!(s, "package {} ({})", safe(&pkg.id()), a.dir.display());
    let _ = writeln!(s, "hash    {}", pkg.hash_hex());
    let _ = writeln!(s, "script  {} compiled", safe(pkg.script_path()));
    s.push_str(&file_listing(&pkg, &left_out));
    if a.bless {
        out.text(&s)?;
        return bless::bless(&pkg, &a.dir, out);
    }
    let reports = pkg.run_tests();
    let mut failed = 0;
    for r in &reports {
        match &r.outcome {
            CaseOutcome::Pass => {
                let _ = writeln!(s, "PASS  {}  {}", safe(&r.name), safe(&r.description));
            }
            CaseOutcome::Mismatch(diffs) => {
                failed += 1;
                let _ = writeln!(
                    s,
                    "FAIL  {}  {}  ({} mismatches)",
                    safe(&r.name),
                    safe(&r.description),
                    diffs.len()
                );
                for d in diffs {
                    let _ = writeln!(
                        s,
                        "      {}: expected {}, actual {}",
                        safe(&d.path),
                        safe(&d.expected),
                        safe(&d.actual)
                    );
                }
            }
            CaseOutcome::Error(e) => {
                failed += 1;
                let _ = writeln!(s, "FAIL  {}  {}", safe(&r.name), safe(&r.description));
                for line in e.lines() {
                    let _ = writeln!(s, "      error: {}", safe(line));
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "{} cases: {} passed, {} failed",
        reports.len(),
        reports.len() - failed,
        failed
    );
    out.text(&s)?;
    if reports.is_empty() {
        out.flush()?;
        return Err(bad(
            "the package has no test cases (add tests/<case>/expected.json)",
        ));
    }
    if failed > 0 {
        out.flush()?;
        return Err(finding(format!(
            "{failed} of {} package test cases failed",
            reports.len()
        )));
    }
    Ok(())
}

fn publish(a: PublishArgs, out: &mut Out) -> CmdResult {
    let contents = read_package(&a.dir)?;
    for l in &contents.left_out {
        out.line(format!(
            "not published: {} ({})",
            safe(&l.path),
            safe(&l.reason)
        ))?;
    }
    let files = contents.files;
    let key = read_secret_key(&a.signer)?;
    let mut wf = store::workflow(&a.ledger.ledger)?;
    match wf.publish_rules(files, &key)? {
        RulesOutcome::Published {
            seq,
            id,
            hash,
            n_files,
        } => out.line(format!(
            "published {} as entry {seq} (package {hash}, {n_files} files)",
            safe(&id)
        ))?,
        RulesOutcome::AlreadyPublished { seq, id } => out.line(format!(
            "{} is already published as entry {seq} with identical content; nothing written",
            safe(&id)
        ))?,
    }
    Ok(())
}

fn list(a: ListArgs, out: &mut Out) -> CmdResult {
    let v = store::view(&a.source)?;
    let packages: Vec<_> = v.catalog().packages().collect();
    match a.format {
        TextFormat::Json => out.json(&Value::Array(
            packages
                .iter()
                .map(|p| {
                    json!({
                        "entry": p.seq,
                        "package": p.body.id(),
                        "effective_from": p.body.effective_from,
                        "effective_until": p.body.effective_until,
                        "package_hash": p.body.package_hash.to_hex(),
                        "signer": p.signer,
                        "time": p.body.time.as_ref().map(|t| t.as_str()),
                    })
                })
                .collect(),
        ))?,
        TextFormat::Table => {
            let mut t = Table::new(["entry", "package", "effective", "hash", "signer", "time"]);
            for p in packages {
                t.row([
                    p.seq.to_string(),
                    safe(&p.body.id()).into_owned(),
                    format!(
                        "{}..{}",
                        safe(&p.body.effective_from),
                        safe(p.body.effective_until.as_deref().unwrap_or(""))
                    ),
                    short(&p.body.package_hash.to_hex(), 16),
                    safe(&p.signer).into_owned(),
                    p.body
                        .time
                        .as_ref()
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                ]);
            }
            out.text(&t.render())?;
        }
    }
    Ok(())
}

fn show(a: ShowArgs, out: &mut Out) -> CmdResult {
    let v = store::view(&a.source)?;
    let (rec, pkg) = v.package(&a.id)?;
    let sources: Vec<(String, Vec<String>)> = pkg
        .sources()
        .iter()
        .map(|(name, schema)| {
            (
                name.to_string(),
                schema.columns.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    match a.format {
        TextFormat::Json => out.json(&json!({
            "package": pkg.id(),
            "entry": rec.seq,
            "signer": rec.signer,
            "time": rec.body.time.as_ref().map(|t| t.as_str()),
            "description": pkg.description(),
            "effective_from": rec.body.effective_from,
            "effective_until": rec.body.effective_until,
            "package_hash": pkg.hash_hex(),
            "files": pkg.file_hashes(),
            "sources": sources.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "test_cases": pkg.tests().len(),
        }))?,
        TextFormat::Table => {
            out.line(format!("package     {}", safe(&pkg.id())))?;
            out.line(format!(
                "entry       {} (signed by {})",
                rec.seq,
                safe(&rec.signer)
            ))?;
            out.line(format!("description {}", safe(pkg.description())))?;
            out.line(format!(
                "effective   {}..{}",
                pkg.effective_from(),
                pkg.effective_until()
                    .map(|p| p.to_string())
                    .unwrap_or_default()
            ))?;
            out.line(format!("hash        {}", pkg.hash_hex()))?;
            out.line(format!("test cases  {}", pkg.tests().len()))?;
            out.line("files:")?;
            for (path, h) in pkg.file_hashes() {
                out.line(format!("  {h}  {}", safe(&path)))?;
            }
            out.line("sources:")?;
            for (name, cols) in sources {
                out.line(format!("  {}: {}", safe(&name), safe(&cols.join(", "))))?;
            }
        }
    }
    Ok(())
}

fn diff(a: DiffArgs, out: &mut Out) -> CmdResult {
    let mut view = None;
    let mut side = |arg: &str| -> CmdResult<diff::Side> {
        let path = std::path::Path::new(arg);
        if path.is_dir() || !arg.contains('@') {
            let (pkg, _) = load(path)?;
            return Ok(diff::Side {
                label: arg.trim_end_matches('/').to_owned(),
                pkg,
            });
        }
        if view.is_none() {
            view = Some(store::view(&a.source)?);
        }
        let v = view.as_ref().ok_or_else(|| bad("no ledger"))?;
        let (_, pkg) = v.package(arg)?;
        Ok(diff::Side {
            label: arg.to_owned(),
            pkg,
        })
    };
    let sa = side(&a.a)?;
    let sb = side(&a.b)?;
    out.text(&safe_lines(&diff::report(&sa, &sb)))?;
    Ok(())
}

/// Escape each line of a diff, keeping the line breaks.
fn safe_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "\n"));
            format!("{}{nl}", safe(body))
        })
        .collect()
}
