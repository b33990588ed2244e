//! `rankproof receipt issue | verify`: one staff member's offline proof
//! that their result is the published one. Format: FORMAT.md, "Receipts".

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::fail::{bad, env, finding, CmdResult};
use crate::files::{receipt_file_name, write_new};
use crate::keyfile::parse_vkey_arg;
use crate::out::Out;
use crate::render::{receipt as render_receipt, safe, TextFormat};
use crate::store::{self, LedgerArg};

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Write a staff member's receipt (or every staff member's with --all).
    Issue(IssueArgs),
    /// Verify a receipt offline with the log's public key.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// The ranking (entry number or entry-hash prefix).
    #[arg(long)]
    pub ranking: String,
    /// The staff member's ID.
    #[arg(long, required_unless_present = "all")]
    pub staff: Option<String>,
    /// Issue a receipt for every staff member of the ranking (--out is a
    /// directory; files are named from the staff IDs without collisions and
    /// never overwritten).
    #[arg(long, conflicts_with = "staff")]
    pub all: bool,
    /// The receipt file (or directory with --all).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The receipt file.
    pub file: PathBuf,
    /// The log's verifier key (name+hexid+base64), or a file holding it.
    #[arg(long)]
    pub log_vkey: String,
    /// Also say whether the ranking is still current, from this ledger.
    #[arg(long, conflicts_with = "bundle")]
    pub ledger: Option<PathBuf>,
    /// Also say whether the ranking is still current, from this bundle.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

pub fn run(c: ReceiptCommand, out: &mut Out) -> CmdResult {
    match c {
        ReceiptCommand::Issue(a) => issue(a, out),
        ReceiptCommand::Verify(a) => verify(a, out),
    }
}

fn issue(a: IssueArgs, out: &mut Out) -> CmdResult {
    let l = store::open(&a.ledger.ledger)?;
    let wf = rankproof_workflow::Workflow::open(l)?;
    if a.all {
        let (seq, receipts) = wf.receipts(&a.ranking)?;
        std::fs::create_dir_all(&a.out)
            .map_err(|e| env(format!("creating {}: {e}", a.out.display())))?;
        for (staff, bytes) in &receipts {
            write_new(&a.out.join(receipt_file_name(staff)), bytes)?;
        }
        out.line(format!(
            "wrote {} receipts for ranking {seq} to {}",
            receipts.len(),
            a.out.display()
        ))?;
        return Ok(());
    }
    let staff = a.staff.as_deref().unwrap_or_default();
    let bytes = wf.receipt(&a.ranking, staff)?;
    write_new(&a.out, &bytes)?;
    out.line(format!(
        "wrote the receipt of {} in ranking {} to {}",
        safe(staff),
        wf.ranking(&a.ranking)?.seq,
        a.out.display()
    ))?;
    Ok(())
}

fn verify(a: VerifyArgs, out: &mut Out) -> CmdResult {
    let log_key = parse_vkey_arg(&a.log_vkey)?;
    let bytes = std::fs::read(&a.file)
        .map_err(|e| bad(format!("cannot read {}: {e}", a.file.display())))?;
    let v = rankproof_workflow::verify_receipt(&bytes, &log_key)
        .map_err(|e| finding(format!("receipt {}: {e}", a.file.display())))?;
    // Whether the ranking is still the authoritative one, from a log; with
    // a log, the package's display labels and report precision too.
    let mut labels = crate::render::Labels::new();
    let mut report_decimals = None;
    let standing = match (&a.ledger, &a.bundle) {
        (None, None) => None,
        (ledger, bundle) => {
            let src = store::SourceArgs {
                ledger: ledger.clone().unwrap_or_else(|| PathBuf::from("ledger")),
                bundle: bundle.clone(),
                log_vkey: Some(a.log_vkey.clone()),
            };
            let view = store::view(&src)?;
            if let Ok((_, pkg)) = view.package(&v.body.rules.id()) {
                labels = pkg.labels().clone();
                report_decimals = Some(pkg.ranking().report_decimals);
            }
            let r = view
                .catalog()
                .ranking(v.ranking_seq)
                .filter(|r| r.leaf_hex == v.ranking_leaf);
            Some(match r {
                None => {
                    return Err(finding(format!(
                        "ranking {} of the receipt is not in that log",
                        v.ranking_seq
                    )))
                }
                Some(r) => r.superseded_by,
            })
        }
    };
    // Check 7 (FORMAT.md §12), the record's own arithmetic, ran in
    // `verify_receipt` with the reported scores' places left open; with the
    // package known, again with its `report_decimals`.
    let sums = match report_decimals {
        None => v.arithmetic,
        Some(d) => v
            .arithmetic_with(d)
            .map_err(|e| finding(format!("receipt {}: {e}", a.file.display())))?,
    };
    match a.format {
        TextFormat::Json => out.json(&json!({
            "ok": true,
            "ranking": v.ranking_seq,
            "period": v.body.period,
            "rules": v.body.rules.id(),
            "operator": v.operator,
            "log_size": v.log_size,
            "staff_id": v.record.staff_id,
            "position": v.record.position,
            "rank": v.record.rank,
            "grade": v.record.grade,
            "bonus_multiplier": v.record.bonus_multiplier,
            "flags": v.record.flags,
            "scores": v.record.scores.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "attributes": v.record.attributes.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "current": standing.map(|s| s.is_none()),
            "superseded_by": standing.flatten(),
            "explain": v.record.explain,
            "arithmetic": {
                "scores": sums.scores,
                "terms": sums.terms,
                "reported": sums.reported,
                "report_decimals": sums.places,
            },
        }))?,
        TextFormat::Table => {
            out.text(&render_receipt::text(
                &a.file.display().to_string(),
                log_key.name(),
                &v,
                &labels,
            ))?;
            match standing {
                None => {}
                Some(None) => out.line(format!(
                    "  ranking {} is the current ranking of its period",
                    v.ranking_seq
                ))?,
                Some(Some(s)) => out.line(format!(
                    "  ranking {} was superseded by ranking {s}; ask for a receipt of ranking {s}",
                    v.ranking_seq
                ))?,
            }
            out.text(&render_receipt::arithmetic(&sums))?;
            out.text(&render_receipt::terms(&v.record, &labels))?;
        }
    }
    Ok(())
}
