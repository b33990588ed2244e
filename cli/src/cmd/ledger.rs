//! `rankproof init | log | checkpoint | verify | export`.

use std::path::PathBuf;

use clap::Args;
use rankproof_ledger::{bundle, VerifierKey, VerifyReport};
use rankproof_workflow::{AuditReport, LogSource, View};
use serde_json::{json, Value};

use crate::fail::{bad, env, finding, refuse, CmdResult};
use crate::keyfile::{parse_vkey_arg, read_secret_key};
use crate::out::Out;
use crate::render::table::Table;
use crate::render::{log as log_render, safe, short, TextFormat};
use crate::store::{self, LedgerArg, SourceArgs};

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// The log's origin (e.g. `example.com/rankproof`); must equal the log key's name.
    #[arg(long)]
    pub origin: String,
    /// The log's secret key file (signs genesis and every checkpoint).
    #[arg(long)]
    pub log_key: PathBuf,
    /// A first admin's verifier key (repeatable).
    #[arg(long = "admin", required = true)]
    pub admins: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// An older checkpoint you kept: the log must extend it.
    #[arg(long)]
    pub trusted: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TextFormat::Table)]
    pub format: TextFormat,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub ledger: LedgerArg,
    /// The bundle directory to create (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn init(a: InitArgs, out: &mut Out) -> CmdResult {
    let log_key = read_secret_key(&a.log_key)?;
    if log_key.name() != a.origin {
        refuse!(
            "--origin {:?} must equal the log key's name {:?}; create the log key with \
             `rankproof key new --name {}`",
            safe(&a.origin),
            safe(log_key.name()),
            safe(&a.origin)
        );
    }
    let admins = a
        .admins
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse_vkey_arg(s).map_err(|f| bad(format!("--admin (number {}): {}", i + 1, f.message)))
        })
        .collect::<CmdResult<Vec<VerifierKey>>>()?;
    let l = store::create(&a.ledger.ledger, &a.origin, &log_key, &a.log_key, &admins)?;
    out.line(format!(
        "created ledger {} at {}",
        safe(l.origin()),
        a.ledger.ledger.display()
    ))?;
    out.line(format!("log key: {}", l.log_key()))?;
    Ok(())
}

pub fn log(a: LogArgs, out: &mut Out) -> CmdResult {
    let v = store::view(&a.source)?;
    match a.format {
        TextFormat::Json => {
            let rows: Vec<Value> = v
                .entries()
                .iter()
                .map(|e| {
                    json!({
                        "seq": e.seq(),
                        "kind": e.kind().as_str(),
                        "signer": e.signer(),
                        "leaf_hash": e.leaf_hash().to_hex(),
                        "prev": e.prev().to_hex(),
                        "blobs": e.blobs().iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
                        "summary": log_render::summary(&v.describe(e)),
                        "body": e.body(),
                    })
                })
                .collect();
            out.json(&Value::Array(rows))?;
        }
        TextFormat::Table => {
            let mut t = Table::new(["SEQ", "KIND", "SIGNER", "BLOBS", "LEAF", "WHAT"]);
            for e in v.entries() {
                t.row([
                    e.seq().to_string(),
                    e.kind().to_string(),
                    safe(e.signer()).into_owned(),
                    e.blobs().len().to_string(),
                    short(&e.leaf_hash().to_hex(), 16),
                    log_render::summary(&v.describe(e)),
                ]);
            }
            out.text(&t.render_plain())?;
        }
    }
    Ok(())
}

pub fn checkpoint(a: CheckpointArgs, out: &mut Out) -> CmdResult {
    let l = store::open(&a.ledger.ledger)?;
    out.text(&l.checkpoint().to_text())?;
    Ok(())
}

fn audit_json(r: &AuditReport) -> Value {
    json!({
        "claims_checked": r.workflow_entries,
        "packages_checked": r.packages_checked,
        "problems": r.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "times_backwards": r.time_warnings.iter().map(|w| json!({
            "seq": w.seq, "time": w.time.as_str(), "after_seq": w.after_seq, "after_time": w.after_time.as_str(),
        })).collect::<Vec<_>>(),
    })
}

fn print_audit<L: LogSource>(
    v: &View<L>,
    what: String,
    r: &VerifyReport,
    format: TextFormat,
    out: &mut Out,
) -> CmdResult {
    let (origin, size, root, n_blob_refs, trusted) = (
        &r.origin,
        r.size,
        r.root.to_hex(),
        r.n_blob_refs,
        r.trusted_size,
    );
    let audit = v.audit();
    match format {
        TextFormat::Json => out.json(&json!({
            "ok": audit.problems.is_empty(),
            "what": what,
            "origin": origin,
            "log_key": v.source().log_key().to_string(),
            "entries": size,
            "root": root,
            "blob_refs": n_blob_refs,
            "trusted_size": trusted,
            "workflow": audit_json(&audit),
        }))?,
        TextFormat::Table => {
            if audit.problems.is_empty() {
                out.line(format!("ok: {what} verified"))?;
            } else {
                out.line(format!("FAILED: {what}: signed entries make false claims"))?;
            }
            out.line(format!("origin:  {}", safe(origin)))?;
            out.line(format!("log key: {}", v.source().log_key()))?;
            out.line(format!("entries: {size}"))?;
            out.line(format!("root:    {root}"))?;
            out.line(format!("blob references checked: {n_blob_refs}"))?;
            if let Some(t) = trusted {
                out.line(format!("consistent with trusted checkpoint of {t} entries"))?;
            }
            out.line(format!(
                "workflow claims checked: {} entries, {} packages' own cases run",
                audit.workflow_entries, audit.packages_checked
            ))?;
            for p in &audit.problems {
                out.line(format!("  false claim: {}", safe(&p.to_string())))?;
            }
            for w in &audit.time_warnings {
                out.line(format!(
                    "  note: entry {} has time {}, earlier than entry {}'s {} (times are \
                     informative; the clock went backwards)",
                    w.seq, w.time, w.after_seq, w.after_time
                ))?;
            }
        }
    }
    if let Some(first) = audit.problems.first() {
        out.flush()?;
        return Err(finding(format!(
            "{} false claim(s) in signed entries; the first: {first}",
            audit.problems.len()
        )));
    }
    Ok(())
}

pub fn verify(a: VerifyArgs, out: &mut Out) -> CmdResult {
    let trusted = a
        .trusted
        .as_ref()
        .map(|p| {
            rankproof_ledger::read_regular_file(p, bundle::MAX_CHECKPOINT_BYTES)
                .map_err(|e| bad(format!("trusted checkpoint: {e}")))
        })
        .transpose()?;
    if let Some(dir) = &a.source.bundle {
        let vkey = a
            .source
            .log_vkey
            .as_deref()
            .ok_or_else(|| bad("--bundle needs --log-vkey"))?;
        let vkey = parse_vkey_arg(vkey).map_err(|f| bad(format!("--log-vkey: {}", f.message)))?;
        if !dir.join("entries.jsonl").is_file() {
            refuse!(
                "{} is not a bundle (no entries.jsonl); create one with `rankproof export --out DIR`",
                dir.display()
            );
        }
        let b = {
            let _p = crate::progress::Phase::start(format!("verifying bundle {}", dir.display()));
            rankproof_workflow::BundleLog::open(dir, &vkey, trusted.as_deref())?
        };
        let r = b.report().clone();
        let v = View::open(b)?;
        return print_audit(&v, format!("bundle {}", dir.display()), &r, a.format, out);
    }
    let l = store::open(&a.source.ledger)?;
    let log_vkey = a
        .source
        .log_vkey
        .as_deref()
        .map(|k| parse_vkey_arg(k).map_err(|f| bad(format!("--log-vkey: {}", f.message))))
        .transpose()?;
    let r = {
        let _p = crate::progress::Phase::start(format!("verifying {} entries", l.len()));
        l.verify_against(log_vkey.as_ref(), trusted.as_deref())
            .map_err(|e| if e.is_finding() { finding(e) } else { env(e) })?
    };
    let v = View::open(l)?;
    print_audit(
        &v,
        format!("ledger {}", a.source.ledger.display()),
        &r,
        a.format,
        out,
    )
}

pub fn export(a: ExportArgs, out: &mut Out) -> CmdResult {
    let l = store::open(&a.ledger.ledger)?;
    let s = bundle::export(&l, &a.out).map_err(|e| match e {
        bundle::ExportError::NotEmpty(_) => bad(e),
        bundle::ExportError::Ledger(e) => e.into(),
        e => env(e),
    })?;
    out.line(format!(
        "exported {} entries and {} blobs to {}",
        s.n_entries,
        s.n_blobs,
        a.out.display()
    ))?;
    out.line(format!(
        "verify with: rankproof verify --bundle {} --log-vkey {}",
        a.out.display(),
        l.log_key()
    ))?;
    Ok(())
}
