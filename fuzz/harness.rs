//! The seed-and-mutation harness shared by the stable fuzz regression tests
//! of the engine (`engine/tests/engine/fuzz_seeds.rs`) and the ledger
//! (`ledger/tests/it/fuzz_seeds.rs`), included there with `#[path]`: one
//! mutator, one seed loader, one campaign loop.

use std::path::PathBuf;

pub fn cases() -> usize {
    std::env::var("RANKPROOF_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000)
}

/// The committed seeds of a target, in name order.
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds in {}", dir.display());
    out
}

/// xorshift64*: a tiny deterministic generator.
pub struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the formats under test.
const INTERESTING: &[u8] = b"\n\r\t \",:[]{}\\-+.0123456789eE=#/+ABCxyz\x00\x7f\x80\xe2\xef\xff";

/// One mutation of `input`: 1 to 4 byte-level edits (flip, set, insert,
/// delete, duplicate or drop a range, splice from another seed).
pub fn mutate(rng: &mut Rng, input: &[u8], pool: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => {
                v.remove(rng.below(len));
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(16)).min(len);
                v.drain(a..b);
            }
            5 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            6 => {
                let other = &pool[rng.below(pool.len())].1;
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + 1 + rng.below(64)).min(other.len());
                    let at = rng.below(len + 1);
                    v.splice(at..at, other[a..b].iter().copied());
                }
            }
            7 if len > 0 => {
                v.truncate(rng.below(len));
            }
            _ => {}
        }
    }
    v
}

/// Run `body` on every seed and on `cases()` mutations; returns the number
/// of inputs tried.
pub fn campaign(target: &str, seed: u64, body: fn(&[u8])) -> usize {
    let pool = seeds(target);
    for (name, bytes) in &pool {
        if std::panic::catch_unwind(|| body(bytes)).is_err() {
            panic!("fuzz target `{target}` panicked on seed {name}");
        }
    }
    let mut rng = Rng(seed);
    let n = cases();
    for i in 0..n {
        let (name, base) = &pool[i % pool.len()];
        let input = mutate(&mut rng, base, &pool);
        if std::panic::catch_unwind(|| body(&input)).is_err() {
            panic!(
                "fuzz target `{target}` panicked on mutation {i} of seed {name}: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
    pool.len() + n
}
