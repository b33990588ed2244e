//! `rankproof receipt issue | verify`: one staff member's offline proof
//! that their result is the published one. Format: FORMAT.md, "Receipts".

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use rankproof_ledger::{merkle, receipt};
use serde_json::Value;

use super::keys::parse_vkey_arg;
use super::ledger::open;
use super::workflow::{self, find_ranking, Materials};
use crate::exit::{finding, CmdResult};

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Write a staff member's receipt (or every staff member's with --all).
    Issue(IssueArgs),
    /// Verify a receipt offline with the log's public key.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The ranking (entry number or entry-hash prefix).
    #[arg(long)]
    pub ranking: String,
    /// The staff member's ID.
    #[arg(long, required_unless_present = "all")]
    pub staff: Option<String>,
    /// Issue a receipt for every staff member of the ranking (--out is a directory).
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
}

pub fn run(ledger: &Path, c: ReceiptCommand) -> CmdResult {
    match c {
        ReceiptCommand::Issue(a) => issue(ledger, a),
        ReceiptCommand::Verify(a) => verify(a),
    }
}

fn issue(ledger: &Path, a: IssueArgs) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.all_entries()?;
    let e = find_ranking(&entries, &a.ranking)?;
    let published = workflow::PublishedResults::load(&l, e).map_err(finding)?;
    let chain = receipt::ReceiptChain::collect(&l, e.seq())?;
    let make = |idx: usize| -> anyhow::Result<Vec<u8>> {
        let path = merkle::inclusion_proof(&published.leaves, idx as u64)?;
        let result = published.record(idx)?;
        Ok(chain.encode(&receipt::StaffResult {
            result: &result,
            salt: published.salts[idx],
            leaf_index: idx as u64,
            path: &path,
        }))
    };
    if a.all {
        fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        for idx in 0..published.len() {
            let id = published.staff_id(idx).unwrap_or_default();
            let safe: String = id
                .chars()
                .map(|c| {
                    if c.is_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = a.out.join(format!("{safe}.receipt.json"));
            fs::write(&path, make(idx)?).with_context(|| format!("writing {}", path.display()))?;
        }
        println!(
            "wrote {} receipts for ranking {} to {}",
            published.len(),
            e.seq(),
            a.out.display()
        );
        return Ok(());
    }
    let staff = a.staff.as_deref().unwrap_or_default();
    let idx = published
        .find(staff)
        .ok_or_else(|| anyhow!("staff {staff} is not in ranking {}", e.seq()))?;
    fs::write(&a.out, make(idx)?).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote the receipt of {staff} in ranking {} to {}",
        e.seq(),
        a.out.display()
    );
    Ok(())
}

fn verify(a: VerifyArgs) -> CmdResult {
    let log_key = parse_vkey_arg(&a.log_vkey)?;
    let bytes = fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let v = receipt::verify(&bytes, &log_key)
        .map_err(|e| finding(anyhow!("receipt {}: {e}", a.file.display())))?;
    let period = v
        .entry
        .body()
        .get("period")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let rules = v
        .entry
        .body()
        .get("rules")
        .map(|r| {
            format!(
                "{}@{}",
                r.get("name").and_then(Value::as_str).unwrap_or("?"),
                r.get("version").and_then(Value::as_str).unwrap_or("?")
            )
        })
        .unwrap_or_default();
    let s = |k: &str| match v.result.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(x) => x.to_string(),
        None => String::new(),
    };
    println!("receipt OK: {}", a.file.display());
    println!(
        "  {} {} ({} / {})",
        s("staff_id"),
        s("name"),
        s("region"),
        s("team")
    );
    println!(
        "  ranking {} for {} under {}, signed by operator {}",
        v.entry.seq(),
        period,
        rules,
        v.operator.handle()
    );
    println!(
        "  sales {}  customer {}  teamwork {}  total {}",
        s("sales"),
        s("customer"),
        s("teamwork"),
        s("total")
    );
    println!(
        "  position {}  rank {}  grade {}  bonus ×{}",
        s("position"),
        s("rank"),
        s("grade"),
        s("bonus_multiplier")
    );
    println!(
        "  proven in the log {} at size {} (checkpoint signed by the log key)",
        log_key.name(),
        v.log_size
    );
    Ok(())
}
