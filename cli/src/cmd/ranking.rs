//! `rankproof ranking list | show`: published rankings as stored, never a
//! recomputation.

use clap::{Args, Subcommand};
use rankproof_workflow::RankingRecord;
use serde_json::{json, Value};

use crate::fail::CmdResult;
use crate::out::Out;
use crate::render::table::Table;
use crate::render::{safe, Format, TextFormat};
use crate::store::{self, SourceArgs};

#[derive(Debug, Subcommand)]
pub enum RankingCommand {
    /// List the published rankings and which one of each period is current.
    List(ListArgs),
    /// Print a published ranking's stored result.
    Show(ShowArgs),
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
    /// The ranking (entry number or entry-hash prefix).
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(c: RankingCommand, out: &mut Out) -> CmdResult {
    match c {
        RankingCommand::List(a) => list(a, out),
        RankingCommand::Show(a) => show(a, out),
    }
}

fn status(r: &RankingRecord) -> String {
    match r.superseded_by {
        Some(s) => format!("superseded by {s}"),
        None => "current".into(),
    }
}

fn list(a: ListArgs, out: &mut Out) -> CmdResult {
    if let Some(p) = &a.period {
        crate::args::period(p)?;
    }
    let v = store::view(&a.source)?;
    let rows: Vec<&RankingRecord> = v.catalog().rankings(a.period.as_deref()).collect();
    match a.format {
        TextFormat::Json => out.json(&Value::Array(
            rows.iter()
                .map(|r| {
                    json!({
                        "ranking": r.seq,
                        "period": r.body.period,
                        "rules": r.body.rules.id(),
                        "n": r.body.n,
                        "result": r.body.result.to_hex(),
                        "current": r.is_current(),
                        "supersedes": r.body.supersedes,
                        "superseded_by": r.superseded_by,
                        "reason": r.body.reason,
                        "signer": r.signer,
                        "time": r.body.time.as_ref().map(|t| t.as_str()),
                    })
                })
                .collect(),
        ))?,
        TextFormat::Table => {
            let mut t = Table::new([
                "ranking",
                "period",
                "package",
                "n",
                "status",
                "supersedes",
                "reason",
                "time",
            ])
            .right(&[0, 3]);
            for r in rows {
                t.row([
                    r.seq.to_string(),
                    safe(&r.body.period).into_owned(),
                    safe(&r.body.rules.id()).into_owned(),
                    r.body.n.to_string(),
                    status(r),
                    r.body.supersedes.map(|s| s.to_string()).unwrap_or_default(),
                    safe(r.body.reason.as_deref().unwrap_or_default()).into_owned(),
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
    let r = v.ranking(&a.id)?;
    let published = v.published_results(r)?;
    if a.format == Format::Table {
        out.line(format!(
            "ranking {} ({}), signed by {}{}",
            r.seq,
            status(r),
            safe(&r.signer),
            r.body
                .time
                .as_ref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default()
        ))?;
        if let (Some(s), Some(why)) = (r.body.supersedes, &r.body.reason) {
            out.line(format!("supersedes ranking {s}: {}", safe(why)))?;
        }
    }
    let labels = v.package(&r.body.rules.id())?.1.labels().clone();
    crate::render::ranking::print(&published.doc, None, a.format, None, &labels, out)
}
