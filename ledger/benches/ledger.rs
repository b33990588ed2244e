//! Ledger benchmarks (plain `harness = false`, std::time::Instant).
//!
//! Run: `cargo bench -p rankproof-ledger`. Sizes can be scaled down with
//! `RANKPROOF_BENCH_ENTRIES` (default 100000) and `RANKPROOF_BENCH_LOG`
//! (default 1000000).
//!
//! 1. raw Ed25519 single verification (`verify_strict`) rate;
//! 2. batched append of N entries with one durable sled commit;
//! 3. full verification of that N-entry ledger, compared with (1);
//! 4. inclusion proofs for random entries of a LOG-entry ledger.

#![allow(clippy::unwrap_used)] // a benchmark program

use std::hint::black_box;
use std::time::Instant;

use rankproof_ledger::{Kind, Ledger, NewEntry, Role, SecretKey, SledStorage};
use serde_json::{json, Map, Value};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn body(i: u64) -> Map<String, Value> {
    match json!({
        "period": "2025-03",
        "ranking": i,
        "result_hash": format!("{:064x}", i),
        "n": 120,
        "engine": {"version": "0.1.0", "max_operations": 1000000}
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn append_many(ledger: &mut Ledger<SledStorage>, key: &SecretKey, from: u64, n: u64) {
    let new: Vec<NewEntry<'_>> = (from..from + n)
        .map(|i| NewEntry {
            kind: Kind::RankingPublish,
            body: body(i),
            blobs: Vec::new(),
            signer: key,
        })
        .collect();
    ledger.append_batch(new).unwrap();
}

fn main() {
    let n = env_u64("RANKPROOF_BENCH_ENTRIES", 100_000);
    let log_size = env_u64("RANKPROOF_BENCH_LOG", 1_000_000).max(n);
    let dir = tempfile::tempdir().unwrap();
    let log = SecretKey::generate("bench.example/ledger").unwrap();
    let admin = SecretKey::generate("admin").unwrap();
    let op = SecretKey::generate("operator").unwrap();
    let storage = SledStorage::open(&dir.path().join("db")).unwrap();
    let mut ledger = Ledger::create(
        storage,
        "bench.example/ledger",
        &log,
        &[admin.verifier().clone()],
    )
    .unwrap();
    ledger.grant(op.verifier(), Role::Operator, &admin).unwrap();

    // 1. Raw single verification of entry-sized messages.
    let sample = ledger.entry(1).unwrap().unwrap();
    let msg = sample.signing_bytes().unwrap();
    let n_raw = 20_000u32;
    let msgs: Vec<Vec<u8>> = (0..n_raw)
        .map(|i| [msg.as_slice(), &i.to_be_bytes()].concat())
        .collect();
    let sigs: Vec<_> = msgs.iter().map(|m| op.sign(m)).collect();
    let vk = *op.verifier().public();
    let raw = || {
        let t = Instant::now();
        for (m, s) in msgs.iter().zip(&sigs) {
            black_box(vk.verify_strict(m, s)).unwrap();
        }
        f64::from(n_raw) / t.elapsed().as_secs_f64()
    };

    // 2. Batched append with one durable commit.
    let t = Instant::now();
    append_many(&mut ledger, &op, 0, n - 2);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "append_batch of {} entries (sign + tree + one sled commit + flush): {:.2} s, {:.0} entries/s",
        n - 2,
        secs,
        (n - 2) as f64 / secs
    );

    // 3. Verify the whole N-entry ledger, with the raw rate measured just
    // before and just after (the machine may be shared).
    let raw_before = raw();
    let t = Instant::now();
    let report = ledger.verify(None).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let raw_after = raw();
    let raw_rate = (raw_before + raw_after) / 2.0;
    let rate = report.size as f64 / secs;
    println!(
        "raw ed25519 verify_strict, {n_raw} signatures: {raw_before:.0}/s before, {raw_after:.0}/s after"
    );
    println!(
        "verify {} entries: {:.2} s, {:.0} entries/s = {:.0}% of the raw single-verify rate",
        report.size,
        secs,
        rate,
        100.0 * rate / raw_rate
    );

    // 4. Inclusion proofs in a large log.
    let mut size = ledger.len();
    let t = Instant::now();
    while size < log_size {
        let step = (log_size - size).min(100_000);
        append_many(&mut ledger, &op, size, step);
        size = ledger.len();
    }
    println!(
        "grew the log to {} entries in {:.1} s",
        size,
        t.elapsed().as_secs_f64()
    );
    // Reopen, as a fresh process would; the first proof also loads the
    // in-memory cache of upper tree levels.
    drop(ledger);
    let t = Instant::now();
    let storage = SledStorage::open(&dir.path().join("db")).unwrap();
    let ledger = Ledger::open(storage).unwrap();
    println!(
        "reopen a {}-entry ledger: {:.1} ms",
        size,
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    black_box(ledger.inclusion_proof(size / 3, size).unwrap());
    println!(
        "first inclusion proof after open (loads the upper-level cache): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for pass in [
        "first pass (cold pages)",
        "second pass (new random entries)",
    ] {
        let samples = 10_000u32;
        let mut times = Vec::with_capacity(samples as usize);
        let t = Instant::now();
        for _ in 0..samples {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let seq = x % size;
            let t1 = Instant::now();
            black_box(ledger.inclusion_proof(seq, size).unwrap());
            times.push(t1.elapsed().as_secs_f64());
        }
        let avg = t.elapsed().as_secs_f64() / f64::from(samples);
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize] * 1e6;
        println!(
            "inclusion proof in a {size}-entry log, {pass}: mean {:.1} µs, p50 {:.1} µs, \
             p90 {:.1} µs, p99 {:.1} µs, max {:.1} µs over {samples} random entries",
            avg * 1e6,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0),
        );
    }
}
