//! `rankproof init | log | checkpoint | verify | export`.
//!
//! A ledger directory holds `db/` (the sled database) and `log-key`, a text
//! file with the absolute path of the log's secret key file (never the key
//! itself): every append re-reads that key to sign the new checkpoint.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use rankproof_ledger::{
    bundle, Entry, Ledger, LedgerError, SledStorage, VerifierKey, VerifyReport,
};
use serde_json::{json, Value};
use unicode_width::UnicodeWidthStr;

use super::keys::{parse_vkey_arg, read_secret_key};
use crate::exit::{finding, CmdResult};

/// Return a bad-input failure (exit 2) from a command.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err(anyhow::anyhow!($($arg)*).into())
    };
}

const DB_DIR: &str = "db";
const LOG_KEY_FILE: &str = "log-key";

#[derive(Debug, Args)]
pub struct InitArgs {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An older checkpoint you kept: the log must extend it.
    #[arg(long)]
    pub trusted: Option<PathBuf>,
    /// Verify an exported bundle directory instead of the ledger.
    #[arg(long, requires = "log_vkey")]
    pub bundle: Option<PathBuf>,
    /// The log's verifier key (needed with --bundle; for a ledger, the
    /// genesis entry must name exactly this key).
    #[arg(long)]
    pub log_vkey: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The bundle directory to create (must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
}

/// Open the ledger at `dir` read-only.
pub fn open(dir: &Path) -> anyhow::Result<Ledger<SledStorage>> {
    let db = dir.join(DB_DIR);
    if !db.is_dir() {
        bail!(
            "no ledger at {}; create one with `rankproof init` or pass --ledger DIR",
            dir.display()
        );
    }
    // Readers wait for a writer to finish (sled allows one process at a
    // time); writers fail at once with "ledger in use" (open_for_append).
    let wait = std::env::var("RANKPROOF_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(READER_WAIT);
    let storage = open_storage(&db, wait)?;
    Ok(Ledger::open(storage)?)
}

/// How long a read-only command waits for another process's lock (override
/// with `RANKPROOF_LOCK_WAIT`, in seconds).
const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether this process has already opened (and closed) the ledger. sled
/// releases its lock when its last internal handle goes, a moment after the
/// database is closed; a process that opens the ledger again (as `demo`
/// does) waits for its own lock, not for another process.
static OPENED_BEFORE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// How long a reopen in the same process waits for its own lock release.
const OWN_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Open the sled database, waiting up to `wait` while another process
/// holds it.
fn open_storage(db: &Path, wait: std::time::Duration) -> anyhow::Result<SledStorage> {
    use std::sync::atomic::Ordering;
    let wait = if OPENED_BEFORE.load(Ordering::Relaxed) {
        wait.max(OWN_RELEASE_WAIT)
    } else {
        wait
    };
    let start = std::time::Instant::now();
    let mut told = false;
    loop {
        match SledStorage::open(db) {
            Err(rankproof_ledger::StorageError::InUse(_)) if start.elapsed() < wait => {
                // A lock being released goes within milliseconds: only a
                // real holder is worth a message.
                if !told && start.elapsed() >= std::time::Duration::from_millis(300) {
                    eprintln!(
                        "rankproof: the ledger is in use by another process; waiting up to {} s",
                        wait.as_secs()
                    );
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => {
                let storage = other?;
                OPENED_BEFORE.store(true, Ordering::Relaxed);
                return Ok(storage);
            }
        }
    }
}

/// Open the ledger at `dir` with its log key attached, ready to append.
pub fn open_for_append(dir: &Path) -> anyhow::Result<Ledger<SledStorage>> {
    let db = dir.join(DB_DIR);
    if !db.is_dir() {
        bail!(
            "no ledger at {}; create one with `rankproof init` or pass --ledger DIR",
            dir.display()
        );
    }
    let mut l = Ledger::open(open_storage(&db, std::time::Duration::ZERO)?)?;
    let pointer = dir.join(LOG_KEY_FILE);
    let key_path = rankproof_ledger::read_regular_file(&pointer, 4096)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .context("the ledger's log-key file")?;
    let key_path = PathBuf::from(key_path.trim_end_matches('\n'));
    let key = read_secret_key(&key_path).context("the log key signs every checkpoint")?;
    l.attach_log_key(key)?;
    Ok(l)
}

pub fn init(ledger: &Path, a: InitArgs) -> CmdResult {
    let log_key = read_secret_key(&a.log_key)?;
    if log_key.name() != a.origin {
        fail!(
            "--origin {:?} must equal the log key's name {:?}; create the log key with \
             `rankproof key new --name {}`",
            a.origin,
            log_key.name(),
            a.origin
        );
    }
    let admins = a
        .admins
        .iter()
        .enumerate()
        .map(|(i, s)| parse_vkey_arg(s).with_context(|| format!("--admin (number {})", i + 1)))
        .collect::<anyhow::Result<Vec<VerifierKey>>>()?;
    let key_path = fs::canonicalize(&a.log_key)
        .with_context(|| format!("resolving {}", a.log_key.display()))?;
    if ledger.join(DB_DIR).exists() {
        fail!("a ledger already exists at {}", ledger.display());
    }
    if ledger.exists() && fs::read_dir(ledger)?.next().is_some() {
        fail!(
            "{} exists and is not empty; choose a new --ledger directory",
            ledger.display()
        );
    }
    let created_dir = !ledger.exists();
    let result = (|| -> anyhow::Result<Ledger<SledStorage>> {
        fs::create_dir_all(ledger).with_context(|| format!("creating {}", ledger.display()))?;
        // Through open_storage, so a later open in this process (`demo`)
        // waits for this handle's lock release like any reopen.
        let storage = open_storage(&ledger.join(DB_DIR), std::time::Duration::ZERO)?;
        let l = Ledger::create(storage, &a.origin, &log_key, &admins)?;
        fs::write(
            ledger.join(LOG_KEY_FILE),
            format!("{}\n", key_path.display()),
        )
        .with_context(|| format!("writing {}", ledger.join(LOG_KEY_FILE).display()))?;
        Ok(l)
    })();
    match result {
        Ok(l) => {
            println!("created ledger {} at {}", l.origin(), ledger.display());
            println!("log key: {}", l.log_key());
            Ok(())
        }
        Err(e) => {
            // Nothing half-made stays behind.
            if created_dir {
                let _ = fs::remove_dir_all(ledger);
            } else {
                let _ = fs::remove_dir_all(ledger.join(DB_DIR));
                let _ = fs::remove_file(ledger.join(LOG_KEY_FILE));
            }
            Err(e.into())
        }
    }
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "seq": e.seq(),
        "kind": e.kind().as_str(),
        "signer": e.signer(),
        "leaf_hash": e.leaf_hash().to_hex(),
        "prev": e.prev().to_hex(),
        "blobs": e.blobs().iter().map(|h| h.to_hex()).collect::<Vec<_>>(),
        "body": e.body(),
    })
}

fn summary(e: &Entry) -> String {
    let b = e.body();
    let pick = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    match e.kind() {
        rankproof_ledger::Kind::Genesis => format!("origin {}", pick("origin").unwrap_or_default()),
        rankproof_ledger::Kind::KeyGrant => format!(
            "{} -> {}",
            pick("role").unwrap_or_default(),
            pick("vkey")
                .and_then(|v| VerifierKey::parse(&v).ok())
                .map(|v| v.handle())
                .unwrap_or_default()
        ),
        rankproof_ledger::Kind::KeyRevoke => pick("vkey")
            .and_then(|v| VerifierKey::parse(&v).ok())
            .map(|v| v.handle())
            .unwrap_or_default(),
        _ => {
            let mut keys: Vec<&String> = b.keys().collect();
            keys.truncate(4);
            keys.into_iter()
                .filter_map(|k| {
                    b.get(k)
                        .and_then(Value::as_str)
                        .filter(|v| v.chars().count() <= 24)
                        .map(|v| format!("{k}={v}"))
                })
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

fn print_table(rows: &[Vec<String>]) {
    let n = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..n)
        .map(|c| rows.iter().map(|r| r[c].width()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < n {
                line.push_str(&" ".repeat(widths[c] - cell.width() + 2));
            }
        }
        println!("{}", line.trim_end());
    }
}

pub fn log(ledger: &Path, a: LogArgs) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.entries().collect::<Result<Vec<Entry>, _>>()?;
    match a.format {
        Format::Json => {
            let v: Vec<Value> = entries.iter().map(entry_json).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Table => {
            let mut rows = vec![vec![
                "SEQ".to_owned(),
                "KIND".to_owned(),
                "SIGNER".to_owned(),
                "BLOBS".to_owned(),
                "LEAF".to_owned(),
                "SUMMARY".to_owned(),
            ]];
            for e in &entries {
                rows.push(vec![
                    e.seq().to_string(),
                    e.kind().to_string(),
                    e.signer().to_owned(),
                    e.blobs().len().to_string(),
                    e.leaf_hash().to_hex()[..16].to_owned(),
                    summary(e),
                ]);
            }
            print_table(&rows);
        }
    }
    Ok(())
}

pub fn checkpoint(ledger: &Path, _a: CheckpointArgs) -> CmdResult {
    let l = open(ledger)?;
    print!("{}", l.checkpoint().to_text());
    Ok(())
}

fn read_trusted(path: &Option<PathBuf>) -> anyhow::Result<Option<Vec<u8>>> {
    path.as_ref()
        .map(|p| {
            rankproof_ledger::read_regular_file(p, bundle::MAX_CHECKPOINT_BYTES)
                .with_context(|| format!("trusted checkpoint {}", p.display()))
        })
        .transpose()
}

fn print_report(r: &VerifyReport, what: &str) {
    println!("ok: {what} verified");
    println!("origin:  {}", r.origin);
    println!("log key: {}", r.log_key);
    println!("entries: {}", r.size);
    println!("root:    {}", r.root.to_hex());
    println!("blob references checked: {}", r.n_blob_refs);
    if let Some(t) = r.trusted_size {
        println!("consistent with trusted checkpoint of {t} entries");
    }
}

pub fn verify(ledger: &Path, a: VerifyArgs) -> CmdResult {
    let trusted = read_trusted(&a.trusted)?;
    if let Some(dir) = &a.bundle {
        let vkey = a
            .log_vkey
            .as_deref()
            .ok_or_else(|| anyhow!("--bundle needs --log-vkey"))?;
        let vkey = parse_vkey_arg(vkey).context("--log-vkey")?;
        if !dir.join("entries.jsonl").is_file() {
            fail!(
                "{} is not a bundle (no entries.jsonl); create one with `rankproof export --out DIR`",
                dir.display()
            );
        }
        let report = {
            let _p = crate::progress::Phase::start(format!("verifying bundle {}", dir.display()));
            bundle::verify_bundle(dir, &vkey, trusted.as_deref()).map_err(|e| {
                if e.is_finding() {
                    finding(e)
                } else {
                    e.into()
                }
            })?
        };
        print_report(&report, &format!("bundle {}", dir.display()));
        return Ok(());
    }
    let log_vkey = a
        .log_vkey
        .as_deref()
        .map(|v| parse_vkey_arg(v).context("--log-vkey"))
        .transpose()?;
    // A store whose checkpoint or tree does not add up is a finding too.
    let l = match open(ledger) {
        Ok(l) => l,
        Err(e) => match e.downcast::<LedgerError>() {
            Ok(e) if e.is_finding() => return Err(finding(e)),
            Ok(e) => return Err(e.into()),
            Err(e) => return Err(e.into()),
        },
    };
    let report = {
        let _p = crate::progress::Phase::start(format!("verifying {} entries", l.len()));
        l.verify_against(log_vkey.as_ref(), trusted.as_deref())
            .map_err(|e| if e.is_finding() { finding(e) } else { e.into() })?
    };
    print_report(&report, &format!("ledger {}", ledger.display()));
    Ok(())
}

pub fn export(ledger: &Path, a: ExportArgs) -> CmdResult {
    let l = open(ledger)?;
    let s = bundle::export(&l, &a.out)?;
    println!(
        "exported {} entries and {} blobs to {}",
        s.n_entries,
        s.n_blobs,
        a.out.display()
    );
    println!(
        "verify with: rankproof verify --bundle {} --log-vkey {}",
        a.out.display(),
        l.log_key()
    );
    Ok(())
}
