//! `rankproof receipt issue | verify`: one staff member's offline proof
//! that their result is the published one. Format: FORMAT.md, "Receipts".

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use rankproof_ledger::{leaf_hash, merkle, Entry, Hash, Kind, TlogProof, VerifierKey};
use serde_json::{json, Value};

use super::keys::parse_vkey_arg;
use super::ledger::open;
use super::workflow::{self, body_hash, body_str, find_ranking, Materials};
use crate::exit::{fail, finding, CmdResult};

/// Format tag of a receipt file.
pub const RECEIPT_FORMAT: &str = "rankproof-receipt/v1";

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
    let doc: Value = serde_json::from_slice(&l.blob_bytes(&body_hash(e, "result")?)?)
        .context("the published result is not JSON")?;
    let salts = workflow::parse_salts(&l.blob_bytes(&body_hash(e, "salts")?)?)?;
    let results = doc
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the published result has no results"))?;
    if results.len() != salts.len() {
        fail!(
            "ranking {}: {} results but {} salts",
            e.seq(),
            results.len(),
            salts.len()
        );
    }
    let leaves: Vec<Hash> = results
        .iter()
        .zip(&salts)
        .map(|(r, s)| leaf_hash(&workflow::salted_leaf_data(r, s)))
        .collect();
    if merkle::root(&leaves).to_hex() != body_str(e, "results_root")? {
        return Err(finding(anyhow!(
            "ranking {}: the stored results do not match the published results root",
            e.seq()
        )));
    }
    let signer = l
        .registry()
        .key(e.signer())
        .map(|k| k.key.to_string())
        .ok_or_else(|| anyhow!("the ranking's signer {} is not in the registry", e.signer()))?;
    let proof = l.tlog_proof(e.seq(), None)?.to_text();
    let grant = grant_of(&entries, e)?;
    let grant_proof = l.tlog_proof(grant.seq(), None)?.to_text();
    let make = |idx: usize| -> anyhow::Result<Vec<u8>> {
        let path = merkle::inclusion_proof(&leaves, idx as u64)?;
        let receipt = json!({
            "format": RECEIPT_FORMAT,
            "entry": String::from_utf8_lossy(e.bytes()),
            "proof": proof,
            "signer": signer,
            "grant": {"entry": String::from_utf8_lossy(grant.bytes()), "proof": grant_proof},
            "result": results[idx],
            "salt": hex::encode(salts[idx]),
            "leaf_index": idx,
            "path": path.iter().map(Hash::to_hex).collect::<Vec<_>>(),
        });
        let mut out = serde_json::to_vec_pretty(&receipt)?;
        out.push(b'\n');
        Ok(out)
    };
    if a.all {
        fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        for (idx, r) in results.iter().enumerate() {
            let id = r
                .get("staff_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
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
            results.len(),
            e.seq(),
            a.out.display()
        );
        return Ok(());
    }
    let staff = a.staff.as_deref().unwrap_or_default();
    let idx = results
        .iter()
        .position(|r| r.get("staff_id").and_then(Value::as_str) == Some(staff))
        .ok_or_else(|| anyhow!("staff {staff} is not in ranking {}", e.seq()))?;
    fs::write(&a.out, make(idx)?).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote the receipt of {staff} in ranking {} to {}",
        e.seq(),
        a.out.display()
    );
    Ok(())
}

/// The `key.grant` entry that made the ranking's signer an operator before
/// the ranking (the latest such grant).
fn grant_of<'a>(entries: &'a [Entry], ranking: &Entry) -> anyhow::Result<&'a Entry> {
    entries[..usize::try_from(ranking.seq())
        .unwrap_or(usize::MAX)
        .min(entries.len())]
        .iter()
        .rev()
        .find(|g| g.kind() == Kind::KeyGrant && grant_matches(g, ranking.signer()))
        .ok_or_else(|| {
            anyhow!(
                "no operator grant for {} before entry {}",
                ranking.signer(),
                ranking.seq()
            )
        })
}

fn grant_matches(g: &Entry, signer: &str) -> bool {
    let role = g.body().get("role").and_then(Value::as_str);
    let vkey = g
        .body()
        .get("vkey")
        .and_then(Value::as_str)
        .and_then(|s| VerifierKey::parse(s).ok());
    role == Some("operator") && vkey.is_some_and(|k| k.handle() == signer)
}

/// A verified receipt: what the staff member may rely on.
pub struct VerifiedReceipt {
    pub result: Value,
    pub ranking_seq: u64,
    pub period: String,
    pub rules: String,
    pub log_size: u64,
    pub operator: String,
}

/// Verify a receipt's bytes against the log key. Every check is listed in
/// FORMAT.md; the first that fails is returned.
pub fn verify_receipt(bytes: &[u8], log_key: &VerifierKey) -> anyhow::Result<VerifiedReceipt> {
    let r: Value = serde_json::from_slice(bytes).context("the receipt is not JSON")?;
    let field = |k: &str| -> anyhow::Result<&Value> {
        r.get(k).ok_or_else(|| anyhow!("the receipt has no `{k}`"))
    };
    let text = |k: &str| -> anyhow::Result<&str> {
        field(k)?
            .as_str()
            .ok_or_else(|| anyhow!("`{k}` is not a string"))
    };
    if text("format")? != RECEIPT_FORMAT {
        bail!("not a {RECEIPT_FORMAT} receipt");
    }
    // 1. The ranking entry is in the log the log key signed.
    let entry = Entry::parse(text("entry")?.as_bytes()).context("`entry`")?;
    if entry.kind() != Kind::RankingPublish {
        bail!(
            "`entry` is a {} entry, not ranking.publish",
            entry.kind().as_str()
        );
    }
    let proof = TlogProof::parse(text("proof")?).context("`proof`")?;
    if proof.index != entry.seq() {
        bail!(
            "`proof` is for index {}, the entry is {}",
            proof.index,
            entry.seq()
        );
    }
    let cp = proof
        .verify(&entry.leaf_hash(), log_key)
        .context("the ranking entry is not proven in the log's signed checkpoint")?;
    // 2. The entry's signature is the operator's, and the log granted that
    //    key the operator role before the ranking.
    let signer = VerifierKey::parse(text("signer")?).context("`signer`")?;
    if signer.handle() != entry.signer() {
        bail!(
            "`signer` is {}, the entry names {}",
            signer.handle(),
            entry.signer()
        );
    }
    let msg = entry.signing_bytes()?;
    if !signer.verify(&msg, entry.signature()) {
        bail!(
            "the ranking entry's signature does not verify under {}",
            signer.handle()
        );
    }
    let grant = field("grant")?;
    let gtext = grant
        .get("entry")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("`grant.entry` missing"))?;
    let gentry = Entry::parse(gtext.as_bytes()).context("`grant.entry`")?;
    let gproof = TlogProof::parse(
        grant
            .get("proof")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("`grant.proof` missing"))?,
    )
    .context("`grant.proof`")?;
    if gproof.index != gentry.seq() || gentry.seq() >= entry.seq() {
        bail!("the grant is not an earlier entry of the log");
    }
    if gproof.checkpoint != proof.checkpoint {
        bail!("the grant is proven against a different checkpoint");
    }
    gproof
        .verify(&gentry.leaf_hash(), log_key)
        .context("the grant entry is not proven in the log")?;
    if gentry.kind() != Kind::KeyGrant || !grant_matches(&gentry, entry.signer()) {
        bail!(
            "the grant entry does not grant the operator role to {}",
            entry.signer()
        );
    }
    // 3. The staff member's salted result is a leaf of the ranking's results tree.
    let result = field("result")?;
    let salt: [u8; 32] = hex::decode(text("salt")?)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("`salt` is not 32 bytes of hex"))?;
    let idx = field("leaf_index")?
        .as_u64()
        .ok_or_else(|| anyhow!("`leaf_index` is not an integer"))?;
    let path = field("path")?
        .as_array()
        .ok_or_else(|| anyhow!("`path` is not an array"))?
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(Hash::from_hex)
                .ok_or_else(|| anyhow!("`path` holds a value that is not a hash"))
        })
        .collect::<anyhow::Result<Vec<Hash>>>()?;
    let n = entry
        .body()
        .get("n")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("the ranking entry has no n"))?;
    let root = body_hash(&entry, "results_root")?;
    let leaf = leaf_hash(&workflow::salted_leaf_data(result, &salt));
    merkle::verify_inclusion(idx, n, &leaf, &path, &root)
        .map_err(|e| anyhow!("the result is not the published one: {e}"))?;
    if result.get("position").and_then(Value::as_u64) != Some(idx + 1) {
        bail!("the result's position does not match its place in the results tree");
    }
    let rules = entry
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
    Ok(VerifiedReceipt {
        result: result.clone(),
        ranking_seq: entry.seq(),
        period: body_str(&entry, "period")?.to_string(),
        rules,
        log_size: cp.checkpoint().size,
        operator: signer.handle(),
    })
}

fn verify(a: VerifyArgs) -> CmdResult {
    let log_key = parse_vkey_arg(&a.log_vkey)?;
    let bytes = fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let v = verify_receipt(&bytes, &log_key)
        .map_err(|e| finding(anyhow!("receipt {}: {e:#}", a.file.display())))?;
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
        v.ranking_seq, v.period, v.rules, v.operator
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
