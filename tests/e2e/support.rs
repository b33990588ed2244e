//! Shared helpers for running the binary and setting up ledgers.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Run `rankproof` with `args` in `dir`, with no inherited ledger variable.
pub fn rankproof(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .args(args)
        .current_dir(dir)
        .env_remove("RANKPROOF_LEDGER")
        .output()
        .expect("the rankproof binary runs")
}

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// stdout and stderr of a run, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run and require success; returns stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = rankproof(dir, args);
    assert!(
        o.status.success(),
        "rankproof {args:?} failed:\n{}",
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Run and require exit status `code`; returns stdout and stderr.
pub fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let o = rankproof(dir, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "rankproof {args:?} should exit {code}:\n{}",
        text(&o)
    );
    text(&o)
}

/// `key new`: write a secret key file, return the printed verifier key.
pub fn new_key(dir: &Path, name: &str, file: &str) -> String {
    ok(dir, &["key", "new", "--name", name, "--out", file])
        .lines()
        .last()
        .expect("key new prints the vkey")
        .trim()
        .to_string()
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).expect("copy");
        }
    }
}

/// A temporary directory with a ledger (`./ledger`) and one key file per
/// role: `log.key`, `admin.key`, `hr.key`, `steward.key`, `operator.key`,
/// each granted its role.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub log_vkey: String,
}

impl World {
    pub fn new(origin: &str) -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        let log_vkey = new_key(dir, origin, "log.key");
        let admin = new_key(dir, "admin", "admin.key");
        let hr = new_key(dir, "hr", "hr.key");
        let steward = new_key(dir, "steward", "steward.key");
        let operator = new_key(dir, "operator", "operator.key");
        ok(
            dir,
            &[
                "init",
                "--origin",
                origin,
                "--log-key",
                "log.key",
                "--admin",
                &admin,
            ],
        );
        for (role, vkey) in [("hr", &hr), ("steward", &steward), ("operator", &operator)] {
            ok(
                dir,
                &[
                    "key",
                    "grant",
                    "--signer",
                    "admin.key",
                    "--role",
                    role,
                    "--vkey",
                    vkey,
                ],
            );
        }
        World { tmp, log_vkey }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// Publish `rules/<pkg>` as HR.
    pub fn publish_rules(&self, pkg: &str) {
        let path = repo().join("rules").join(pkg);
        ok(
            self.dir(),
            &[
                "rules",
                "publish",
                "--signer",
                "hr.key",
                path.to_str().expect("utf-8"),
            ],
        );
    }
}

/// A whole-number environment variable, or `default`.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*) for seeded campaigns.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `rank --period 2025-Q1 --rules marketing@1.0.0 --publish --signer KEY`:
/// publish the example period's ranking.
pub fn publish_args(signer: &str) -> [&str; 8] {
    [
        "rank",
        "--period",
        "2025-Q1",
        "--rules",
        "marketing@1.0.0",
        "--publish",
        "--signer",
        signer,
    ]
}
