//! `rankproof demo [--dir DIR]`: the whole story on the bundled example data,
//! in a fresh directory, narrated step by step. Every step runs the same code
//! as the corresponding command.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Args;
use rankproof_ledger::{bundle, SecretKey, VerifierKey};

use super::keys::write_secret_key;
use super::ledger::{self as ledger_cmd, open, ExportArgs, InitArgs, VerifyArgs};
use super::receipt;
use super::{flow, rank};
use crate::exit::{fail, CmdResult};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// A new (or empty) directory for the demo's keys, ledger and files
    /// (default: a fresh directory under the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const ORIGIN: &str = "demo.rankproof.example/hr-ledger";
const PERIOD: &str = "2025-Q1";

fn step(n: u32, title: &str) {
    println!("\n━━ {n}. {title} ━━");
}

fn say(text: &str) {
    println!("   {text}");
}

/// A fresh directory for the demo.
fn fresh_dir(dir: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(d) = dir {
        if d.exists() && fs::read_dir(d)?.next().is_some() {
            return Err(anyhow!(
                "{} exists and is not empty; give a new directory to --dir",
                d.display()
            ));
        }
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        return Ok(d.clone());
    }
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let d = base.join(format!("rankproof-demo-{}-{i}", std::process::id()));
        if fs::create_dir(&d).is_ok() {
            return Ok(d);
        }
    }
    Err(anyhow!(
        "cannot create a directory under {}",
        base.display()
    ))
}

/// Write the bundled rule packages and example data below `dir`.
fn unpack(dir: &Path) -> anyhow::Result<()> {
    for (rel, bytes) in BUNDLED {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn new_key(dir: &Path, name: &str, file: &str) -> anyhow::Result<(PathBuf, VerifierKey)> {
    let key = SecretKey::generate(name)?;
    let path = dir.join("keys").join(file);
    write_secret_key(&path, &key)?;
    Ok((path, key.verifier().clone()))
}

pub fn run(a: DemoArgs) -> CmdResult {
    let dir = fresh_dir(&a.dir)?;
    let ledger = dir.join("ledger");
    println!("rankproof demo: the whole story on bundled example data");
    println!("working directory: {}", dir.display());
    unpack(&dir)?;
    let rules_v1 = dir.join("rules/marketing-v1");
    let examples = dir.join("examples");

    step(1, "Keys and roles");
    say(
        "Each actor has an Ed25519 key; secret keys are files with mode 0600, never in the ledger.",
    );
    fs::create_dir_all(dir.join("keys"))?;
    let (log_key, log_vkey) = new_key(&dir, ORIGIN, "log.key")?;
    let (admin_key, admin) = new_key(&dir, "admin.hr", "admin.key")?;
    let (hr_key, hr) = new_key(&dir, "hr.policy", "hr.key")?;
    let (steward_key, steward) = new_key(&dir, "data.steward", "steward.key")?;
    let (operator_key, operator) = new_key(&dir, "ranking.operator", "operator.key")?;
    for (who, k) in [
        ("log", &log_vkey),
        ("admin", &admin),
        ("hr", &hr),
        ("steward", &steward),
        ("operator", &operator),
    ] {
        say(&format!("{who:<9} {k}"));
    }
    ledger_cmd::init(
        &ledger,
        InitArgs {
            origin: ORIGIN.into(),
            log_key: log_key.clone(),
            admins: vec![admin.to_string()],
        },
    )?;
    for (role, vkey) in [("hr", &hr), ("steward", &steward), ("operator", &operator)] {
        super::keys::run(
            &ledger,
            super::keys::KeyCommand::Grant {
                signer: admin_key.clone(),
                role: role.into(),
                vkey: vkey.to_string(),
            },
        )?;
    }

    step(2, "HR publishes the scoring rules, version 1.0.0");
    say("The package's own test cases run first; a failing package is never published.");
    flow::rules_publish(&ledger, &hr_key, &rules_v1)?;

    step(
        3,
        &format!("The data steward records three sources for {PERIOD}"),
    );
    for source in ["crm", "survey", "oa"] {
        let file = examples.join(format!("{source}.csv"));
        flow::input(
            &ledger,
            flow::InputCommand::Record(flow::InputRecordArgs {
                signer: steward_key.clone(),
                period: PERIOD.into(),
                source: source.into(),
                rules: None,
                file,
            }),
        )?;
    }

    step(4, "The operator computes and publishes the ranking");
    say("Computed from ledger materials only: the published rules and the recorded datasets.");
    let (ranking, id) =
        flow::rank_from_ledger(&ledger, PERIOD, "marketing@1.0.0", Some(&operator_key))?;
    let id = id.ok_or_else(|| anyhow!("the ranking was not published"))?;
    print!("{}", rank::table(&ranking));
    say(&format!("published as ranking {id}"));

    step(5, "An auditor verifies the ledger");
    ledger_cmd::verify(
        &ledger,
        VerifyArgs {
            trusted: None,
            bundle: None,
            log_vkey: None,
        },
    )?;

    step(
        6,
        "The auditor replays the ranking from the recorded rules and inputs",
    );
    flow::replay(
        &ledger,
        flow::ReplayArgs {
            ranking: Some(id.to_string()),
            all: false,
            bundle: None,
            log_vkey: None,
        },
    )?;

    step(7, "A staff member receives a receipt and checks it offline");
    let staff = ranking
        .results
        .get(ranking.results.len() / 2)
        .map(|r| r.staff_id.to_string())
        .ok_or_else(|| anyhow!("the ranking is empty"))?;
    let receipt_path = dir.join(format!("{staff}.receipt.json"));
    receipt::run(
        &ledger,
        receipt::ReceiptCommand::Issue(receipt::IssueArgs {
            ranking: id.to_string(),
            staff: Some(staff.clone()),
            all: false,
            out: receipt_path.clone(),
        }),
    )?;
    say("Verifying needs only the receipt and the log's public key:");
    receipt::run(
        &ledger,
        receipt::ReceiptCommand::Verify(receipt::VerifyArgs {
            file: receipt_path.clone(),
            log_vkey: log_vkey.to_string(),
        }),
    )?;

    step(8, "Tampering is caught");
    let text = fs::read_to_string(&receipt_path)?;
    let forged = forge_grade(&text).ok_or_else(|| anyhow!("no grade in the receipt"))?;
    let forged_path = dir.join(format!("{staff}.forged.receipt.json"));
    fs::write(&forged_path, &forged)?;
    say(&format!(
        "A copy of the receipt with the grade edited ({}):",
        forged_path.display()
    ));
    match rankproof_ledger::receipt::verify(forged.as_bytes(), &log_vkey) {
        Ok(_) => fail!("the forged receipt verified: this is a bug"),
        Err(e) => say(&format!("REJECTED: {e:#}")),
    }
    let bundle_dir = dir.join("bundle");
    ledger_cmd::export(
        &ledger,
        ExportArgs {
            out: bundle_dir.clone(),
        },
    )?;
    let tampered = dir.join("bundle-tampered");
    copy_dir(&bundle_dir, &tampered)?;
    let entries_path = tampered.join("entries.jsonl");
    let entries = fs::read_to_string(&entries_path)?;
    let edited = tamper_ranking_line(&entries).ok_or_else(|| anyhow!("no ranking entry found"))?;
    fs::write(&entries_path, edited)?;
    say(&format!(
        "A copy of the audit bundle with one digit of the ranking entry changed ({}):",
        tampered.display()
    ));
    match bundle::verify_bundle(&tampered, &log_vkey, None) {
        Ok(_) => fail!("the tampered bundle verified: this is a bug"),
        Err(e) => say(&format!("REJECTED: {e}")),
    }
    say("The untouched bundle still verifies and replays:");
    ledger_cmd::verify(
        &ledger,
        VerifyArgs {
            trusted: None,
            bundle: Some(bundle_dir.clone()),
            log_vkey: Some(log_vkey.to_string()),
        },
    )?;
    flow::replay(
        &ledger,
        flow::ReplayArgs {
            ranking: None,
            all: true,
            bundle: Some(bundle_dir.clone()),
            log_vkey: Some(log_vkey.to_string()),
        },
    )?;

    step(9, "Done");
    let n_entries = open(&ledger)?.len();
    say(&format!(
        "ledger: {} ({n_entries} entries)",
        ledger.display()
    ));
    say(&format!("bundle: {}", bundle_dir.display()));
    say(&format!("receipt: {}", receipt_path.display()));
    say("Try:");
    say(&format!(
        "  rankproof --ledger {} explain --ranking {id} --staff {staff}",
        ledger.display()
    ));
    say(&format!(
        "  rankproof replay --all --bundle {} --log-vkey {log_vkey}",
        bundle_dir.display()
    ));
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

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
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
