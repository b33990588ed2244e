//! `rankproof demo [--dir DIR]`: the whole story on the bundled example data,
//! in a fresh directory, narrated step by step. It drives the workflow
//! library on one open ledger, as every command does, and renders with the
//! same render layer.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use rankproof_ledger::{bundle, Role, SecretKey, VerifierKey};
use rankproof_workflow::{
    BundleLog, PublishOutcome, RecordOutcome, RecordRequest, RulesOutcome, View, Workflow,
};

use crate::fail::{bad, env, finding, CmdResult, Failure};
use crate::files::{read_package, write_new};
use crate::keyfile::write_secret_key;
use crate::out::Out;
use crate::render::{ranking as render_ranking, receipt as render_receipt};
use crate::store;

include!(concat!(std::env!("OUT_DIR"), "/bundled.rs"));

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A new (or empty) directory for the demo's keys, ledger and files
    /// (default: a fresh directory under the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const ORIGIN: &str = "demo.rankproof.example/hr-ledger";
const PERIOD: &str = "2025-Q1";

fn io(e: std::io::Error) -> Failure {
    env(e)
}

/// A fresh directory for the demo.
fn fresh_dir(dir: &Option<PathBuf>) -> CmdResult<PathBuf> {
    if let Some(d) = dir {
        if d.exists() && fs::read_dir(d).map_err(io)?.next().is_some() {
            return Err(bad(format!(
                "{} exists and is not empty; give a new directory to --dir",
                d.display()
            )));
        }
        fs::create_dir_all(d).map_err(|e| env(format!("creating {}: {e}", d.display())))?;
        return Ok(d.clone());
    }
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let d = base.join(format!("rankproof-demo-{}-{i}", std::process::id()));
        if fs::create_dir(&d).is_ok() {
            return Ok(d);
        }
    }
    Err(env(format!(
        "cannot create a directory under {}",
        base.display()
    )))
}

/// Write the bundled rule packages and example data below `dir`.
fn unpack(dir: &Path) -> CmdResult {
    for (rel, bytes) in BUNDLED {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        fs::write(&path, bytes).map_err(|e| env(format!("writing {}: {e}", path.display())))?;
    }
    Ok(())
}

fn new_key(dir: &Path, name: &str, file: &str) -> CmdResult<(SecretKey, PathBuf, VerifierKey)> {
    let key = SecretKey::generate(name).map_err(bad)?;
    let path = dir.join("keys").join(file);
    write_secret_key(&path, &key)?;
    let v = key.verifier().clone();
    Ok((key, path, v))
}

struct Narrator<'a> {
    out: &'a mut Out,
}

impl Narrator<'_> {
    fn step(&mut self, n: u32, title: &str) -> CmdResult {
        self.out.line(format!("\n━━ {n}. {title} ━━"))?;
        Ok(())
    }
    fn say(&mut self, text: &str) -> CmdResult {
        self.out.line(format!("   {text}"))?;
        Ok(())
    }
}

pub fn run(a: DemoArgs, out: &mut Out) -> CmdResult {
    let dir = fresh_dir(&a.dir)?;
    let ledger_dir = dir.join("ledger");
    out.line("rankproof demo: the whole story on bundled example data")?;
    out.line(format!("working directory: {}", dir.display()))?;
    unpack(&dir)?;
    let examples = dir.join("examples");
    let mut n = Narrator { out };

    n.step(1, "Keys and roles")?;
    n.say(
        "Each actor has an Ed25519 key; secret keys are files with mode 0600, never in the ledger.",
    )?;
    fs::create_dir_all(dir.join("keys")).map_err(io)?;
    let (log, log_path, log_vkey) = new_key(&dir, ORIGIN, "log.key")?;
    let (admin, _, admin_v) = new_key(&dir, "admin.hr", "admin.key")?;
    let (hr, _, hr_v) = new_key(&dir, "hr.policy", "hr.key")?;
    let (steward, _, steward_v) = new_key(&dir, "data.steward", "steward.key")?;
    let (operator, _, operator_v) = new_key(&dir, "ranking.operator", "operator.key")?;
    for (who, k) in [
        ("log", &log_vkey),
        ("admin", &admin_v),
        ("hr", &hr_v),
        ("steward", &steward_v),
        ("operator", &operator_v),
    ] {
        n.say(&format!("{who:<9} {k}"))?;
    }
    // One open ledger for the whole story.
    let mut ledger = store::create(
        &ledger_dir,
        ORIGIN,
        &log,
        &log_path,
        std::slice::from_ref(&admin_v),
    )?;
    ledger.attach_log_key(log)?;
    for (role, v) in [
        (Role::Hr, &hr_v),
        (Role::Steward, &steward_v),
        (Role::Operator, &operator_v),
    ] {
        let e = ledger.grant(v, role, &admin)?;
        n.say(&format!(
            "entry {}: granted {role} to {}",
            e.entry.seq(),
            v.handle()
        ))?;
    }
    let mut wf = Workflow::open(ledger)?;

    n.step(2, "HR publishes the scoring rules, version 1.0.0")?;
    n.say("The package's own test cases run first; a package without passing cases is never published.")?;
    match wf.publish_rules(read_package(&dir.join("rules/marketing-v1"))?.files, &hr)? {
        RulesOutcome::Published {
            seq,
            id,
            hash,
            n_files,
        } => n.say(&format!(
            "published {id} as entry {seq} (package {hash}, {n_files} files)"
        ))?,
        RulesOutcome::AlreadyPublished { seq, id } => {
            n.say(&format!("{id} is already entry {seq}"))?
        }
    }

    n.step(
        3,
        &format!("The data steward records three sources for {PERIOD}"),
    )?;
    let period = crate::args::period(PERIOD)?;
    for source in ["crm", "survey", "oa"] {
        let file = examples.join(format!("{source}.csv"));
        let req = RecordRequest {
            period,
            source: source.into(),
            file_name: file.display().to_string(),
            bytes: crate::files::read(&file)?,
            rules: None,
            options: Default::default(),
        };
        if let RecordOutcome::Recorded {
            seq,
            package,
            rows,
            dataset,
            ..
        } = wf.record_input(req, &steward)?
        {
            n.say(&format!(
                "recorded {PERIOD}/{source} as entry {seq}: {rows} rows, dataset {}…, validated against {package}",
                &dataset[..16]
            ))?;
        }
    }

    n.step(4, "The operator computes and publishes the ranking")?;
    n.say("Computed from ledger materials only: the published rules and the recorded datasets.")?;
    let PublishOutcome::Published { seq: id, dry, .. } =
        wf.publish_ranking(&period, "marketing@1.0.0", None, &operator)?
    else {
        return Err(finding("the demo ranking was not published: this is a bug"));
    };
    n.out.text(&render_ranking::table(
        &dry.doc,
        Some(&dry.ranking),
        &Default::default(),
    ))?;
    n.say(&format!("published as ranking {id}"))?;
    n.say("Publishing again with the same materials writes nothing:")?;
    if let PublishOutcome::Unchanged { seq } =
        wf.publish_ranking(&period, "marketing@1.0.0", None, &operator)?
    {
        n.say(&format!(
            "ranking {seq} is already current for {PERIOD}; nothing written"
        ))?;
    }

    n.step(5, "An auditor verifies the ledger")?;
    let report = wf.ledger().verify(None).map_err(finding)?;
    let audit = wf.audit();
    if !audit.problems.is_empty() {
        return Err(finding(format!("{}", audit.problems[0])));
    }
    n.say(&format!(
        "ok: {} entries, root {}, {} workflow entries' claims and {} package's own cases checked",
        report.size,
        report.root.to_hex(),
        audit.workflow_entries,
        audit.packages_checked
    ))?;

    n.step(
        6,
        "The auditor replays the ranking from the recorded rules and inputs",
    )?;
    let r = wf.ranking(&id.to_string())?;
    let rep = wf.replay(r);
    if !rep.mismatches.is_empty() {
        return Err(finding(format!(
            "ranking {id} did not replay: {}",
            rep.mismatches[0]
        )));
    }
    n.say(&format!(
        "ranking {id}: replayed, result {} matches",
        rep.result
    ))?;

    n.step(7, "A staff member receives a receipt and checks it offline")?;
    let staff = dry
        .doc
        .staff_id(dry.doc.len() / 2)
        .ok_or_else(|| finding("the ranking is empty"))?;
    let receipt_path = dir.join(crate::files::receipt_file_name(&staff));
    write_new(&receipt_path, &wf.receipt(&id.to_string(), &staff)?)?;
    n.say(&format!(
        "wrote the receipt of {staff} to {}",
        receipt_path.display()
    ))?;
    n.say("Verifying needs only the receipt and the log's public key:")?;
    let bytes = fs::read(&receipt_path).map_err(io)?;
    let v = rankproof_workflow::verify_receipt(&bytes, &log_vkey)?;
    n.out.text(&render_receipt::text(
        &receipt_path.display().to_string(),
        log_vkey.name(),
        &v,
        &Default::default(),
    ))?;
    n.out.text(&render_receipt::arithmetic(&v.arithmetic))?;
    n.out
        .text(&render_receipt::terms(&v.record, &Default::default()))?;

    n.step(8, "Tampering is caught")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let forged = forge_grade(&text).ok_or_else(|| finding("no grade in the receipt"))?;
    let forged_path = dir.join(format!("{staff}.forged.receipt.json"));
    fs::write(&forged_path, &forged).map_err(io)?;
    n.say(&format!(
        "A copy of the receipt with the grade edited ({}):",
        forged_path.display()
    ))?;
    match rankproof_workflow::verify_receipt(forged.as_bytes(), &log_vkey) {
        Ok(_) => return Err(finding("the forged receipt verified: this is a bug")),
        Err(e) => n.say(&format!("REJECTED: {e}"))?,
    }
    let bundle_dir = dir.join("bundle");
    bundle::export(wf.ledger(), &bundle_dir).map_err(env)?;
    let tampered = dir.join("bundle-tampered");
    copy_dir(&bundle_dir, &tampered).map_err(io)?;
    let entries_path = tampered.join("entries.jsonl");
    let entries = fs::read_to_string(&entries_path).map_err(io)?;
    let edited = tamper_ranking_line(&entries).ok_or_else(|| finding("no ranking entry found"))?;
    fs::write(&entries_path, edited).map_err(io)?;
    n.say(&format!(
        "A copy of the audit bundle with one digit of the ranking entry changed ({}):",
        tampered.display()
    ))?;
    match bundle::verify_bundle(&tampered, &log_vkey, None) {
        Ok(_) => return Err(finding("the tampered bundle verified: this is a bug")),
        Err(e) => n.say(&format!("REJECTED: {e}"))?,
    }
    n.say("The untouched bundle still verifies and replays:")?;
    let b = View::open(BundleLog::open(&bundle_dir, &log_vkey, None)?)?;
    let reports: Vec<_> = b.catalog().rankings(None).map(|r| b.replay(r)).collect();
    for r in &reports {
        if !r.mismatches.is_empty() {
            return Err(finding(format!(
                "ranking {} did not replay: {}",
                r.seq, r.mismatches[0]
            )));
        }
        n.say(&format!(
            "bundle: ranking {} ({} {}, {} staff): replayed, result {} matches",
            r.seq, r.period, r.rules, r.n, r.result
        ))?;
    }

    n.step(9, "Done")?;
    let n_entries = wf.entries().len();
    drop(wf);
    n.say(&format!(
        "ledger: {} ({n_entries} entries)",
        ledger_dir.display()
    ))?;
    n.say(&format!("bundle: {}", bundle_dir.display()))?;
    n.say(&format!("receipt: {}", receipt_path.display()))?;
    n.say("Try:")?;
    n.say(&format!(
        "  rankproof explain --ledger {} --ranking {id} --staff {staff}",
        ledger_dir.display()
    ))?;
    n.say(&format!(
        "  rankproof ranking list --ledger {}",
        ledger_dir.display()
    ))?;
    n.say(&format!(
        "  rankproof replay --all --bundle {} --log-vkey {log_vkey}",
        bundle_dir.display()
    ))?;
    Ok(())
}

/// Change the receipt's grade to a different one.
fn forge_grade(text: &str) -> Option<String> {
    let at = text.find("\"grade\": \"")? + "\"grade\": \"".len();
    let old = text[at..].chars().next()?;
    let new = if old == 'S' { 'A' } else { 'S' };
    let mut s = text.to_string();
    s.replace_range(at..at + old.len_utf8(), &new.to_string());
    Some(s)
}

/// Change one digit inside the `ranking.publish` line of entries.jsonl.
fn tamper_ranking_line(entries: &str) -> Option<String> {
    let mut lines: Vec<String> = entries.lines().map(str::to_string).collect();
    let line = lines
        .iter_mut()
        .find(|l| l.contains("\"kind\":\"ranking.publish\""))?;
    let at = line.find("\"n\":")? + 4;
    let d = line[at..].chars().next()?;
    let new = if d == '9' {
        '8'
    } else {
        char::from(d as u8 + 1)
    };
    line.replace_range(at..at + 1, &new.to_string());
    Some(lines.join("\n") + "\n")
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}
