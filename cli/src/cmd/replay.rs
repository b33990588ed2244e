//! `rankproof replay`: recompute published rankings from the recorded
//! rules and inputs, byte for byte; and `rankproof explain`.

use clap::Args;
use rankproof_workflow::{RankingRecord, ReplayReport};
use serde_json::{json, Value};

use crate::fail::{bad, finding, CmdResult};
use crate::out::Out;
use crate::render::{explain as render_explain, safe, TextFormat};
use crate::store::{self, SourceArgs};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The ranking to replay (entry number or entry-hash prefix).
    #[arg(long, conflicts_with = "all")]
    pub ranking: Option<String>,
    /// Replay every published ranking.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// The ranking (entry number or entry-hash prefix).
    #[arg(long)]
    pub ranking: String,
    /// The staff member's ID.
    #[arg(long)]
    pub staff: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

fn report_json(r: &ReplayReport) -> Value {
    json!({
        "ranking": r.seq,
        "period": r.period,
        "rules": r.rules,
        "n": r.n,
        "result": r.result,
        "current": r.current,
        "ok": r.mismatches.is_empty(),
        "mismatches": r.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

pub fn replay(a: ReplayArgs, out: &mut Out) -> CmdResult {
    if a.ranking.is_none() && !a.all {
        return Err(bad("say which ranking: --ranking ID, or --all"));
    }
    let v = store::view(&a.source)?;
    let targets: Vec<&RankingRecord> = match &a.ranking {
        Some(id) => vec![v.ranking(id)?],
        None => v.catalog().rankings(None).collect(),
    };
    // False claims are findings before any recomputation.
    let audit = v.audit();
    let mut reports = Vec::new();
    for r in &targets {
        let _p = crate::progress::Phase::start(format!("replaying ranking {}", r.seq));
        reports.push(v.replay(r));
    }
    let bad_n = reports.iter().filter(|r| !r.mismatches.is_empty()).count();
    match a.format {
        TextFormat::Json => out.json(&json!({
            "replayed": reports.len(),
            "matching": reports.len() - bad_n,
            "rankings": reports.iter().map(report_json).collect::<Vec<_>>(),
            "false_claims": audit.problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))?,
        TextFormat::Table => {
            if reports.is_empty() {
                out.line("no published rankings to replay")?;
            }
            for r in &reports {
                if r.mismatches.is_empty() {
                    out.line(format!(
                        "ranking {} ({} {}, {} staff{}): replayed, result {} matches",
                        r.seq,
                        safe(&r.period),
                        safe(&r.rules),
                        r.n,
                        if r.current { "" } else { ", superseded" },
                        r.result
                    ))?;
                } else {
                    out.line(format!("ranking {}: MISMATCH", r.seq))?;
                    for m in &r.mismatches {
                        out.line(format!("  {}", safe(&m.to_string())))?;
                    }
                }
            }
            if !reports.is_empty() {
                out.line(format!(
                    "{} of {} ranking(s) replayed to the published result",
                    reports.len() - bad_n,
                    reports.len()
                ))?;
            }
            for p in &audit.problems {
                out.line(format!("false claim: {}", safe(&p.to_string())))?;
            }
        }
    }
    out.flush()?;
    if bad_n > 0 {
        return Err(finding(format!(
            "{bad_n} ranking(s) did not replay to the published result"
        )));
    }
    if let Some(first) = audit.problems.first() {
        return Err(finding(format!(
            "{} false claim(s) in signed entries; the first: {first}",
            audit.problems.len()
        )));
    }
    Ok(())
}

pub fn explain(a: ExplainArgs, out: &mut Out) -> CmdResult {
    let v = store::view(&a.source)?;
    let e = v.explain(&a.ranking, &a.staff)?;
    match a.format {
        TextFormat::Json => {
            let ex = e.record.explanation();
            let pairs = |p: &[(String, String)]| -> Value {
                Value::Object(
                    p.iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.clone())))
                        .collect(),
                )
            };
            out.json(&json!({
                "ranking": e.ranking.seq,
                "period": e.header.period,
                "rules": e.header.package_id(),
                "n": e.header.n,
                "staff_id": e.record.staff_id,
                "attributes": pairs(&e.record.attributes),
                "scores": pairs(&e.record.scores),
                "position": e.record.position,
                "rank": e.record.rank,
                "grade": e.record.grade,
                "bonus_multiplier": e.record.bonus_multiplier,
                "flags": e.record.flags,
                "dimensions": ex.dimensions.iter().map(|d| json!({
                    "score": d.name,
                    "value": d.value,
                    "reported": d.reported,
                    "sum": d.sum,
                    "terms": d.terms.iter().map(|t| json!({
                        "term": t.name, "value": t.value, "weight": t.weight, "contribution": t.contribution,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "explain": e.record.explain,
            }))?
        }
        TextFormat::Table => {
            let labels = v.package(&e.ranking.body.rules.id())?.1.labels().clone();
            out.text(&render_explain::text(
                e.ranking.seq,
                &e.header,
                &e.record,
                &labels,
            ))?
        }
    }
    Ok(())
}
