//! The ledger directory: `db/` (the sled database) and `log-key`, a text
//! file with the absolute path of the log's secret key file (never the key
//! itself): every append re-reads that key to sign the new checkpoint.
//! Also the `--ledger` / `--bundle` arguments of read commands.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use rankproof_ledger::{Ledger, LedgerError, SecretKey, SledStorage, StorageError, VerifierKey};
use rankproof_workflow::{BundleLog, LogSource, View, Workflow};

use crate::fail::{bad, env, CmdResult, Failure};
use crate::keyfile::{parse_vkey_arg, read_secret_key};

const DB_DIR: &str = "db";
const LOG_KEY_FILE: &str = "log-key";

/// How long a reader waits for another process's lock (override with
/// `RANKPROOF_LOCK_WAIT`, in seconds).
const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The `--ledger DIR` of a command that uses a ledger.
#[derive(Debug, Clone, Args)]
pub struct LedgerArg {
    /// The ledger directory (a sled database).
    #[arg(long, env = "RANKPROOF_LEDGER", default_value = "ledger")]
    pub ledger: PathBuf,
}

/// Where a read command reads: the ledger, or a bundle with its log key.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The ledger directory (a sled database).
    #[arg(long, env = "RANKPROOF_LEDGER", default_value = "ledger")]
    pub ledger: PathBuf,
    /// Read an exported bundle directory instead of the ledger (verified first).
    #[arg(long, requires = "log_vkey")]
    pub bundle: Option<PathBuf>,
    /// The log's verifier key (name+hexid+base64, or a file holding it).
    #[arg(long)]
    pub log_vkey: Option<String>,
}

fn db_of(dir: &Path) -> CmdResult<PathBuf> {
    let db = dir.join(DB_DIR);
    if !db.is_dir() {
        return Err(bad(format!(
            "no ledger at {}; create one with `rankproof init` or pass --ledger DIR",
            dir.display()
        )));
    }
    Ok(db)
}

/// Open the sled database, waiting up to `wait` while another process
/// holds it (readers wait for a writer; writers fail at once).
fn open_storage(db: &Path, wait: std::time::Duration) -> CmdResult<SledStorage> {
    let start = std::time::Instant::now();
    let mut told = false;
    loop {
        match SledStorage::open(db) {
            Err(StorageError::InUse(_)) if start.elapsed() < wait => {
                if !told && start.elapsed() >= std::time::Duration::from_millis(300) {
                    eprintln!(
                        "rankproof: the ledger is in use by another process; waiting up to {} s",
                        wait.as_secs()
                    );
                    told = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e.is_finding() => return Err(crate::fail::finding(e)),
            Err(e) => return Err(env(e)),
            Ok(s) => return Ok(s),
        }
    }
}

/// Open the ledger at `dir` read-only.
pub fn open(dir: &Path) -> CmdResult<Ledger<SledStorage>> {
    let db = db_of(dir)?;
    let wait = std::env::var("RANKPROOF_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_secs)
        .unwrap_or(READER_WAIT);
    Ledger::open(open_storage(&db, wait)?).map_err(opened)
}

/// A stored ledger that does not open because its data does not add up
/// (an entry, checkpoint, proof or authorization that fails) has been
/// tampered with or corrupted: a finding, not bad input.
fn opened(e: LedgerError) -> Failure {
    if e.is_finding() {
        crate::fail::finding(e)
    } else {
        e.into()
    }
}

/// Open the ledger at `dir` with its log key attached, ready to append.
pub fn open_for_append(dir: &Path) -> CmdResult<Ledger<SledStorage>> {
    let db = db_of(dir)?;
    let mut l = Ledger::open(open_storage(&db, std::time::Duration::ZERO)?).map_err(opened)?;
    let pointer = dir.join(LOG_KEY_FILE);
    let key_path = rankproof_ledger::read_regular_file(&pointer, 4096)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| env(format!("the ledger's log-key file: {e}")))?;
    let key_path = PathBuf::from(key_path.trim_end_matches('\n'));
    let key = read_secret_key(&key_path).map_err(|f| {
        bad(format!(
            "{} (the log key signs every checkpoint)",
            f.message
        ))
    })?;
    l.attach_log_key(key)?;
    Ok(l)
}

/// The workflow over the ledger at `dir`, ready to append.
pub fn workflow(dir: &Path) -> CmdResult<Workflow<SledStorage>> {
    Ok(Workflow::open(open_for_append(dir)?)?)
}

/// Create a ledger at `dir` (nothing half-made stays behind on failure).
pub fn create(
    dir: &Path,
    origin: &str,
    log_key: &SecretKey,
    log_key_path: &Path,
    admins: &[VerifierKey],
) -> CmdResult<Ledger<SledStorage>> {
    let key_path = fs::canonicalize(log_key_path)
        .map_err(|e| bad(format!("resolving {}: {e}", log_key_path.display())))?;
    if dir.join(DB_DIR).exists() {
        return Err(bad(format!("a ledger already exists at {}", dir.display())));
    }
    if dir.exists()
        && fs::read_dir(dir)
            .map_err(|e| env(format!("{}: {e}", dir.display())))?
            .next()
            .is_some()
    {
        return Err(bad(format!(
            "{} exists and is not empty; choose a new --ledger directory",
            dir.display()
        )));
    }
    let created_dir = !dir.exists();
    let result = (|| -> CmdResult<Ledger<SledStorage>> {
        fs::create_dir_all(dir).map_err(|e| env(format!("creating {}: {e}", dir.display())))?;
        let storage = SledStorage::open(&dir.join(DB_DIR)).map_err(env)?;
        let l = Ledger::create(storage, origin, log_key, admins)?;
        fs::write(dir.join(LOG_KEY_FILE), format!("{}\n", key_path.display()))
            .map_err(|e| env(format!("writing {}: {e}", dir.join(LOG_KEY_FILE).display())))?;
        Ok(l)
    })();
    if result.is_err() {
        if created_dir {
            let _ = fs::remove_dir_all(dir);
        } else {
            let _ = fs::remove_dir_all(dir.join(DB_DIR));
            let _ = fs::remove_file(dir.join(LOG_KEY_FILE));
        }
    }
    result
}

/// Open what a read command reads: a verified bundle, or the ledger.
pub fn view(a: &SourceArgs) -> CmdResult<View<Box<dyn LogSource>>> {
    let src: Box<dyn LogSource> = match &a.bundle {
        Some(dir) => {
            let vkey = a
                .log_vkey
                .as_deref()
                .ok_or_else(|| bad("--bundle needs --log-vkey"))?;
            let vkey =
                parse_vkey_arg(vkey).map_err(|f| bad(format!("--log-vkey: {}", f.message)))?;
            if !dir.join("entries.jsonl").is_file() {
                return Err(bad(format!(
                    "{} is not a bundle (no entries.jsonl); create one with `rankproof export --out DIR`",
                    dir.display()
                )));
            }
            Box::new(BundleLog::open(dir, &vkey, None)?)
        }
        None => {
            let l = open(&a.ledger)?;
            if let Some(k) = &a.log_vkey {
                expect_log_key(&l, k)?;
            }
            Box::new(l)
        }
    };
    Ok(View::open(src)?)
}

/// A ledger whose genesis names another log key than the one the user
/// trusts is a finding.
pub fn expect_log_key(l: &Ledger<SledStorage>, vkey: &str) -> CmdResult {
    let want = parse_vkey_arg(vkey).map_err(|f| bad(format!("--log-vkey: {}", f.message)))?;
    if l.log_key() != &want {
        return Err(crate::fail::finding(format!(
            "the ledger's log key {} is not the expected log key {want}",
            l.log_key()
        )));
    }
    Ok(())
}
