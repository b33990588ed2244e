//! Crash safety: `input record` and `rank --publish` are killed with SIGKILL
//! at random moments; after every kill the ledger must open, verify, and
//! hold only whole entries (the interrupted one entirely or not at all).
//!
//! The number of kills is `RANKPROOF_CRASH_KILLS` (default 15, the CI size);
//! the campaign in RELIABILITY.md runs it with a few hundred. The seed is
//! `RANKPROOF_CRASH_SEED` (default 1) and is printed, so a failure replays.

use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{env_u64, ok, publish_args, Rng, World};

/// The entries of the ledger, after checking that it verifies.
fn verified_entries(dir: &Path) -> Vec<Value> {
    ok(dir, &["verify"]);
    let v: Value =
        serde_json::from_str(&ok(dir, &["log", "--format", "json"])).expect("log --format json");
    v.as_array().cloned().expect("an array of entries")
}

/// Start `args`, kill it after `after`, and report whether it had already
/// finished (and how).
fn kill_after(dir: &Path, args: &[&str], after: Duration) -> Option<bool> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .args(args)
        .current_dir(dir)
        .env_remove("RANKPROOF_LEDGER")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while start.elapsed() < after {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status.success());
        }
        sleep(Duration::from_millis(2));
    }
    // SIGKILL: no destructor, no flush, no lock release but the kernel's.
    child.kill().expect("kill");
    child.wait().expect("wait");
    None
}

#[test]
fn sigkill_at_random_moments_leaves_only_whole_entries() {
    let kills = env_u64("RANKPROOF_CRASH_KILLS", 15);
    let seed = env_u64("RANKPROOF_CRASH_SEED", 1);
    eprintln!("crash campaign: {kills} kills, seed {seed}");
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let w = World::new("crash.example/log");
    let dir = w.dir();
    w.publish_rules("marketing-v1");
    // Four cohorts, so that successive records are real changes.
    for c in 0..4 {
        ok(
            dir,
            &[
                "gen",
                "--n",
                "1000",
                "--seed",
                &(c + 1).to_string(),
                "--out",
                &format!("c{c}"),
            ],
        );
    }
    let record = |c: u64, source: &str| -> Vec<String> {
        [
            "input",
            "record",
            "--signer",
            "steward.key",
            "--period",
            "2025-Q1",
            "--source",
            source,
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("c{c}/{source}.csv")])
        .collect()
    };
    // Complete inputs first, and time one uninterrupted run of each command.
    let t0 = Instant::now();
    for s in ["crm", "survey", "oa"] {
        let args = record(0, s);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(dir, &args);
    }
    let record_time = t0.elapsed() / 3;
    let publish: Vec<&str> = publish_args("operator.key").to_vec();
    let t1 = Instant::now();
    ok(dir, &publish);
    let publish_time = t1.elapsed();

    let mut entries = verified_entries(dir);
    let (mut interrupted, mut finished, mut appended_on_kill) = (0u64, 0u64, 0u64);
    for k in 0..kills {
        let is_publish = k % 3 == 2;
        let (args, full): (Vec<String>, Duration) = if is_publish {
            // A re-run after corrected datasets supersedes the current
            // ranking (identical materials write nothing).
            let current = entries
                .iter()
                .rev()
                .find(|e| e["kind"] == "ranking.publish")
                .and_then(|e| e["seq"].as_u64());
            let mut args: Vec<String> = publish.iter().map(|s| s.to_string()).collect();
            if let Some(c) = current {
                args.extend([
                    "--supersedes".into(),
                    c.to_string(),
                    "--reason".into(),
                    "re-run".into(),
                ]);
            }
            (args, publish_time)
        } else {
            let source = ["crm", "survey", "oa"][(rng.next() % 3) as usize];
            (record(1 + k % 3, source), record_time)
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Anywhere from the start to a little past a whole run.
        let window = full.as_micros() as u64 * 12 / 10 + 1;
        let after = Duration::from_micros(rng.next() % window);
        let before = entries.len();
        let outcome = kill_after(dir, &args, after);
        entries = verified_entries(dir);
        let grown = entries.len() - before;
        match outcome {
            None => {
                interrupted += 1;
                assert!(grown <= 1, "kill {k}: {grown} entries appeared");
                appended_on_kill += grown as u64;
            }
            Some(true) => {
                finished += 1;
                assert!(grown <= 1, "kill {k}: {grown} entries appeared");
            }
            Some(false) => panic!("kill {k}: {args:?} failed on its own"),
        }
        if grown == 1 {
            let last = entries.last().expect("an entry");
            let kind = last["kind"].as_str().unwrap_or_default();
            let expected = if is_publish {
                "ranking.publish"
            } else {
                "input.record"
            };
            assert_eq!(kind, expected, "kill {k}: unexpected entry");
        }
    }
    // The ledger is still fully usable: every ranking replays.
    // Every ranking left in the ledger replays, and replay says how many.
    let n_rankings = entries
        .iter()
        .filter(|e| e["kind"] == "ranking.publish")
        .count();
    let replay = ok(dir, &["replay", "--all"]);
    assert!(
        replay.contains(&format!("{n_rankings} of {n_rankings} ranking(s) replayed")),
        "{replay}"
    );
    eprintln!(
        "crash campaign: {kills} runs, {interrupted} killed mid-run ({appended_on_kill} of \
         those had committed), {finished} finished first; ledger verified after each"
    );
    assert!(interrupted > 0, "no run was actually interrupted");
}

/// Two writers at once: each either succeeds or gets "ledger in use"
/// (exit 2); the ledger verifies and holds exactly the successful appends.
#[test]
fn concurrent_writers_one_wins_nothing_corrupts() {
    let w = World::new("race.example/log");
    let dir = w.dir();
    w.publish_rules("marketing-v1");
    for c in 0..6 {
        ok(
            dir,
            &[
                "gen",
                "--n",
                "300",
                "--seed",
                &(c + 1).to_string(),
                "--out",
                &format!("c{c}"),
            ],
        );
    }
    let (mut wins, mut refused) = (0usize, 0usize);
    for round in 0..6 {
        let before = verified_entries(dir).len();
        let spawn = |source: &str| {
            Command::new(env!("CARGO_BIN_EXE_rankproof"))
                .args([
                    "input",
                    "record",
                    "--signer",
                    "steward.key",
                    "--period",
                    "2025-Q1",
                    "--source",
                    source,
                    &format!("c{round}/{source}.csv"),
                ])
                .current_dir(dir)
                .env_remove("RANKPROOF_LEDGER")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let a = spawn("crm");
        let b = spawn("survey");
        let mut ok_now = 0;
        for child in [a, b] {
            let o = child.wait_with_output().expect("wait");
            match o.status.code() {
                Some(0) => ok_now += 1,
                // The environment (another writer holds the ledger): exit 3.
                Some(3) => {
                    let err = String::from_utf8_lossy(&o.stderr);
                    assert!(err.contains("ledger in use"), "round {round}: {err}");
                    refused += 1;
                }
                other => panic!("round {round}: exit {other:?}"),
            }
        }
        wins += ok_now;
        assert!(ok_now >= 1, "round {round}: neither writer won");
        assert_eq!(
            verified_entries(dir).len(),
            before + ok_now,
            "round {round}"
        );
    }
    eprintln!("concurrent writers: {wins} appends won, {refused} refused as in use");
}
