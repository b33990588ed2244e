//! `rankproof input record | check | list | show`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rankproof_engine::{ReadOptions, TextEncoding};
use rankproof_workflow::{InputRecordEntry, RecordOutcome, RecordRequest, WorkflowError};
use serde_json::{json, Value};

use crate::fail::{bad, CmdResult, Failure};
use crate::files;
use crate::keyfile::read_secret_key;
use crate::out::Out;
use crate::render::table::Table;
use crate::render::{safe, short, TextFormat};
use crate::store::{self, LedgerArg, SourceArgs};

#[derive(Debug, Subcommand)]
pub enum InputCommand {
    /// Validate and record a source's dataset for a period.
    Record(RecordArgs),
    /// Validate a file exactly as `record` would, against the period's
    /// recorded sources, without recording it (no key needed).
    Check(CheckArgs),
    /// List the recorded datasets.
    List(ListArgs),
    /// Show one recorded dataset.
    Show(ShowArgs),
}

/// The file, its period and source, and how to read it (shared by
/// `record` and `check`, which validate in exactly the same way).
#[derive(Debug, Args)]
pub struct FileArgs {
    /// The period: 2025-03, 2025-Q1 or 2025.
    #[arg(long)]
    pub period: String,
    /// The source name (e.g. crm, survey, oa).
    #[arg(long)]
    pub source: String,
    /// Validate against this published package, which must be in effect for
    /// the period (default: the one published package in effect that names
    /// the source; required when several do).
    #[arg(long, value_name = "NAME@VERSION")]
    pub rules: Option<String>,
    /// The text encoding of a CSV export (utf-8, utf-16le, utf-16be, gbk,
    /// gb18030); default: detected and reported.
    #[arg(long)]
    pub encoding: Option<String>,
    /// The sheet of a workbook (.xlsx, .xls, .ods); default: the first.
    #[arg(long)]
    pub sheet: Option<String>,
    /// The export file (CSV, tab-separated text, JSON or a workbook).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// The steward's secret key file.
    #[arg(long)]
    pub signer: PathBuf,
    #[command(flatten)]
    pub input: FileArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub input: FileArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only this period.
    #[arg(long)]
    pub period: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The record's entry number.
    pub id: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

pub fn run(c: InputCommand, out: &mut Out) -> CmdResult {
    match c {
        InputCommand::Record(a) => record(a, out),
        InputCommand::Check(a) => check(a, out),
        InputCommand::List(a) => list(a, out),
        InputCommand::Show(a) => show(a, out),
    }
}

/// The request `record` and `check` validate.
fn request(a: &FileArgs) -> CmdResult<RecordRequest> {
    let period = crate::args::period(&a.period)?;
    let encoding = match &a.encoding {
        Some(e) => Some(
            e.parse::<TextEncoding>()
                .map_err(|m| bad(format!("--encoding: {m}")))?,
        ),
        None => None,
    };
    let bytes = files::read(&a.file)?;
    Ok(RecordRequest {
        period,
        source: a.source.clone(),
        file_name: a.file.display().to_string(),
        bytes,
        rules: a.rules.clone(),
        options: ReadOptions {
            encoding,
            sheet: a.sheet.clone(),
            ..Default::default()
        },
    })
}

/// A file with problems: say first how it was read (the encoding or the
/// sheet), as the report of a clean file does; the problems follow.
fn how_read(e: WorkflowError, out: &mut Out) -> Failure {
    if let WorkflowError::DatasetProblems(p) = &e {
        if let Some(h) = &p.read_as {
            // A failed write surfaces with the error below.
            let _ = out.line(format!("{}: {}", safe(&p.file), safe(h)));
        }
    }
    e.into()
}

fn record(a: RecordArgs, out: &mut Out) -> CmdResult {
    let key = read_secret_key(&a.signer)?;
    let req = request(&a.input)?;
    let period = req.period;
    let source = &a.input.source;
    let mut wf = store::workflow(&a.ledger.ledger)?;
    let outcome = {
        let _p = crate::progress::Phase::start(format!("validating {}", a.input.file.display()));
        wf.record_input(req, &key).map_err(|e| how_read(e, out))?
    };
    match outcome {
        RecordOutcome::Recorded {
            seq,
            package,
            rows,
            dataset,
            supersedes,
            report,
        } => {
            out.line(safe(&report))?;
            out.line(format!(
                "recorded {period}/{} as entry {seq}: {rows} rows, dataset {dataset}",
                safe(source)
            ))?;
            out.line(format!("validated against {}", safe(&package)))?;
            if let Some((s, d)) = supersedes {
                out.line(format!(
                    "this supersedes entry {s} (dataset {d}), which stays in the ledger"
                ))?;
            }
        }
        RecordOutcome::AlreadyRecorded { seq, package } => {
            out.line(format!(
                "this dataset is already recorded for {period}/{} as entry {seq}; nothing written",
                safe(source)
            ))?;
            out.line(format!("validated against {}", safe(&package)))?;
        }
    }
    Ok(())
}

fn check(a: CheckArgs, out: &mut Out) -> CmdResult {
    let req = request(&a.input)?;
    let period = req.period;
    let source = &a.input.source;
    let v = store::view(&a.source)?;
    let c = {
        let _p = crate::progress::Phase::start(format!("checking {}", a.input.file.display()));
        v.check_input(&req).map_err(|e| how_read(e, out))?
    };
    out.line(safe(&c.report))?;
    out.line(format!(
        "{} is valid for {period}/{}: {} rows, unsalted dataset {} (recording adds a secret \
         salt, RULES.md §6)",
        safe(&a.input.file.display().to_string()),
        safe(source),
        c.rows,
        c.dataset_hash()
    ))?;
    out.line(format!("validated against {}", safe(&c.package_id)))?;
    if c.checked_against.is_empty() {
        out.line(format!(
            "no other source of the package is recorded for {period} yet"
        ))?;
    } else {
        let with: Vec<String> = c
            .checked_against
            .iter()
            .map(|(s, e)| format!("{} (entry {e})", safe(s)))
            .collect();
        out.line(format!(
            "checked against the sources recorded for {period}: {}",
            with.join(", ")
        ))?;
    }
    match v.catalog().dataset_in_force(&period.to_string(), source) {
        Some(prev) if c.already == Some(prev.seq) => out.line(format!(
            "this dataset is already recorded as entry {}; nothing recorded",
            prev.seq
        ))?,
        Some(prev) => out.line(format!(
            "nothing recorded; `input record` would supersede entry {}",
            prev.seq
        ))?,
        None => out.line("nothing recorded")?,
    }
    Ok(())
}

fn status(r: &InputRecordEntry) -> String {
    match r.superseded_by {
        Some(s) => format!("superseded by {s}"),
        None => "in force".into(),
    }
}

fn json_of(r: &InputRecordEntry) -> Value {
    json!({
        "entry": r.seq,
        "period": r.body.period,
        "source": r.body.source,
        "rows": r.body.rows,
        "file": {"name": r.body.file.name, "sha256": r.body.file.sha256.to_hex(), "bytes": r.body.file.bytes},
        "dataset": r.body.dataset.to_hex(),
        "rules": r.body.rules,
        "package_hash": r.body.package_hash.to_hex(),
        "supersedes": r.body.supersedes,
        "superseded_by": r.superseded_by,
        "signer": r.signer,
        "time": r.body.time.as_ref().map(|t| t.as_str()),
    })
}

fn list(a: ListArgs, out: &mut Out) -> CmdResult {
    if let Some(p) = &a.period {
        crate::args::period(p)?;
    }
    let v = store::view(&a.source)?;
    let rows: Vec<&InputRecordEntry> = v.catalog().inputs(a.period.as_deref()).collect();
    match a.format {
        TextFormat::Json => out.json(&Value::Array(rows.iter().map(|r| json_of(r)).collect()))?,
        TextFormat::Table => {
            let mut t = Table::new([
                "entry", "period", "source", "rows", "file", "dataset", "package", "status", "time",
            ])
            .right(&[0, 3]);
            for r in rows {
                t.row([
                    r.seq.to_string(),
                    safe(&r.body.period).into_owned(),
                    safe(&r.body.source).into_owned(),
                    r.body.rows.to_string(),
                    safe(&r.body.file.name).into_owned(),
                    short(&r.body.dataset.to_hex(), 16),
                    safe(&r.body.rules).into_owned(),
                    status(r),
                    r.body
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
    let r = v.catalog().input(a.id).ok_or_else(|| {
        bad(format!(
            "entry {} is not a recorded dataset; see `rankproof input list`",
            a.id
        ))
    })?;
    match a.format {
        TextFormat::Json => out.json(&json_of(r))?,
        TextFormat::Table => {
            out.line(format!(
                "entry       {} (signed by {})",
                r.seq,
                safe(&r.signer)
            ))?;
            out.line(format!("period      {}", safe(&r.body.period)))?;
            out.line(format!("source      {}", safe(&r.body.source)))?;
            out.line(format!("rows        {}", r.body.rows))?;
            out.line(format!(
                "file        {} ({} bytes, sha256 {})",
                safe(&r.body.file.name),
                r.body.file.bytes,
                r.body.file.sha256
            ))?;
            out.line(format!("dataset     {}", r.body.dataset))?;
            out.line(format!(
                "validated   {} (package {})",
                safe(&r.body.rules),
                r.body.package_hash
            ))?;
            out.line(format!(
                "supersedes  {}",
                r.body
                    .supersedes
                    .map_or_else(|| "nothing".to_owned(), |s| format!("entry {s}"))
            ))?;
            out.line(format!("status      {}", status(r)))?;
            if let Some(t) = &r.body.time {
                out.line(format!("time        {t}"))?;
            }
        }
    }
    Ok(())
}
