//! Dry-run ranking benchmark: marketing-v1 on a synthetic cohort, against a
//! plain-Rust implementation of the same formulas (which must agree).
//!
//! `cargo bench -p rankproof-engine` (N from RANKPROOF_BENCH_N, default 100000).
#![allow(clippy::unwrap_used)] // a benchmark program

#[path = "../tests/engine/common.rs"]
mod common;
#[path = "../tests/engine/plain.rs"]
mod plain;

use std::time::Instant;

// The same allocator as the `rankproof` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::var("RANKPROOF_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let threads = rayon::current_num_threads();
    let pkg = common::package("marketing-v1");

    let t = Instant::now();
    let cohort =
        rankproof_engine::synth::generate(n, 1, rankproof_engine::synth::CrmHeaders::Canonical);
    let t_gen = t.elapsed();

    let t = Instant::now();
    let inputs = common::inputs(
        &pkg,
        &[
            ("crm", cohort.crm.as_bytes()),
            ("survey", cohort.survey.as_bytes()),
            ("oa", cohort.oa.as_bytes()),
        ],
    );
    let t_parse = t.elapsed();

    let t = Instant::now();
    let hashes: Vec<String> = inputs.values().map(|d| d.sha256_hex()).collect();
    let t_hash_inputs = t.elapsed();

    let t = Instant::now();
    let ranking = rankproof_engine::rank(&pkg, &inputs, &common::q1()).unwrap();
    let t_rank = t.elapsed();

    let t = Instant::now();
    let bytes = ranking.canonical_bytes();
    let t_canon = t.elapsed();

    let t = Instant::now();
    let plain = plain::rank_plain(&inputs);
    let t_plain = t.elapsed();

    for (a, b) in ranking.results().iter().zip(plain.iter()) {
        assert_eq!(a.staff_id.as_str(), b.staff_id);
        assert_eq!(a.scores["total"], b.total);
        assert_eq!((a.position, a.rank), (b.position, b.rank));
        assert_eq!(a.grade, b.grade);
        assert_eq!(a.bonus_multiplier, b.bonus_multiplier);
    }
    assert_eq!(ranking.n(), plain.len());

    let s = |d: std::time::Duration| d.as_secs_f64();
    println!("marketing-v1 dry run, N = {n}, rayon threads = {threads}");
    println!("  generate CSVs        {:>8.3} s", s(t_gen));
    println!("  parse 3 datasets     {:>8.3} s", s(t_parse));
    println!(
        "  hash inputs (JCS)    {:>8.3} s  ({} hashes)",
        s(t_hash_inputs),
        hashes.len()
    );
    println!(
        "  rank (columns)       {:>8.3} s  {:>10.0} staff/s (includes input hashing)",
        s(t_rank),
        n as f64 / s(t_rank)
    );
    println!(
        "  result JCS bytes     {:>8.3} s  ({} MB)",
        s(t_canon),
        bytes.len() / 1_000_000
    );
    println!(
        "  plain Rust (1 thread){:>8.3} s  {:>10.0} staff/s",
        s(t_plain),
        n as f64 / s(t_plain)
    );
    println!("  overhead rank/plain  {:>8.1} x", s(t_rank) / s(t_plain));
    println!("  plain-Rust and script results agree for all {n} staff");
}
