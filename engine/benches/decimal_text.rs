//! Writing decimals as canonical text: the result document writes about 45
//! per staff member. Reports ns per decimal for `write_canonical` on a mix
//! like a ranking's (small mantissas, scales 0 to 8, some negative), and
//! checks it against `Decimal::normalize().to_string()`.
//!
//! `cargo bench -p rankproof-engine --bench decimal_text`
#![allow(clippy::unwrap_used)] // a benchmark program

use std::time::Instant;

use rust_decimal::Decimal;

fn main() {
    // A fixed pseudo-random mix (xorshift), so every run writes the same text.
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let values: Vec<Decimal> = (0..1_000_000)
        .map(|_| {
            let r = next();
            let scale = (r % 9) as u32;
            let digits = 1 + (r >> 8) % 10;
            let m = ((r >> 16) % 10u64.pow(digits as u32)) as i64;
            let m = if (r >> 60) == 0 { -m } else { m };
            Decimal::new(m, scale)
        })
        .collect();
    let mut out = Vec::with_capacity(32 * values.len());
    for v in &values {
        out.clear();
        rankproof_engine::decimal::write_canonical(v, &mut out);
        assert_eq!(out, v.normalize().to_string().as_bytes(), "{v:?}");
    }
    // One shape over and over (as one column of a ranking is): what the
    // digits cost when every branch is predicted.
    let same: Vec<Decimal> = (0..1_000_000)
        .map(|k| Decimal::new(376 + (k % 7), 1))
        .collect();
    let t = Instant::now();
    for _ in 0..20 {
        out.clear();
        for v in &same {
            rankproof_engine::decimal::write_canonical(v, &mut out);
        }
    }
    println!(
        "write_canonical, one shape (37.6 to 38.2): {:.1} ns per decimal",
        t.elapsed().as_nanos() as f64 / 20e6
    );
    let rounds = 20;
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        out.clear();
        for v in &values {
            rankproof_engine::decimal::write_canonical(v, &mut out);
        }
        bytes += out.len();
    }
    let ns = t.elapsed().as_nanos() as f64 / (rounds * values.len()) as f64;
    println!(
        "write_canonical, mixed shapes: {ns:.1} ns per decimal ({} decimals, {:.1} bytes each)",
        values.len(),
        bytes as f64 / (rounds * values.len()) as f64
    );
}
