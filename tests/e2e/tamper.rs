//! Tampering matrix: a realistic ledger is built with the real binary (keys,
//! grants, the marketing-v1 rules, the three example inputs, a published
//! ranking), exported, and then every kind of change to the bundle is tried
//! in-process with the ledger crate's verifier (`verify_log` on in-memory
//! lines/blobs/checkpoint, `verify_bundle` on a directory). Every case must
//! fail verification AND name the right thing: the changed entry, the
//! checkpoint, the blob and the entry that references it, the rollback or the
//! rewritten history. A few cases also go through `rankproof verify` and
//! `rankproof replay` (exit 1).
//!
//! Counts of cases tried and detected are printed (`eprintln!`, shown with
//! `--nocapture`) for RELIABILITY.md.
//!
//! Sampling. A debug build checks an Ed25519 signature in several
//! milliseconds, and every case re-verifies the entries before the changed
//! one, so trying every byte of the ~12 KB of entry lines twice takes tens
//! of minutes on 2 cores. The default (CI) run therefore changes, in every
//! entry line, the first and last byte, every digit of `seq`, the first and
//! last digit of `kind`, `prev`, `sig`, `signer` and the first blob hash, and
//! `RANKPROOF_TAMPER_ENTRY_SAMPLES` (default 4) random bytes; every byte of
//! the size-1 checkpoint (the log right after `init`) and
//! `RANKPROOF_TAMPER_CP_SAMPLES` (default 24) bytes of the latest one; one
//! random byte of every blob and `RANKPROOF_TAMPER_BLOB_SAMPLES` (default
//! 40) bytes drawn over all blob bytes; truncation at the ends of the last
//! line and at `RANKPROOF_TAMPER_CUT_SAMPLES` (default 16) other places.
//! Each changed byte is tried twice: XOR 0x01, and a same-class
//! substitution that keeps the JSON valid where the byte is a digit, letter,
//! `+` or `/` (these reach the seq, link, signer, blob and signature checks).
//! `RANKPROOF_TAMPER_FULL=1` tries EVERY byte of every entry line and of the
//! latest checkpoint, every cut of the last line, 20000 blob bytes (plus
//! each blob's first and last), all on the whole log.
//!
//! For an entry byte the default run verifies the lines up to and including
//! the changed one: verification reports the first bad entry by position,
//! and nothing after it can change which entry that is (every 16th position
//! is also run on the whole log, and the full campaign runs all of them
//! so). The seed is `RANKPROOF_TAMPER_SEED` (default 1) and is printed.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use rankproof_ledger::bundle::{split_lines, verify_bundle};
use rankproof_ledger::note::Note;
use rankproof_ledger::verify::verify_log;
use rankproof_ledger::{
    Checkpoint, Entry, EntryProblem, Hash, SecretKey, SignedCheckpoint, VerifierKey, VerifyError,
    VerifyReport,
};

use crate::support::{env_u64, ok, publish_args, rankproof, repo, text, Rng};

fn full() -> bool {
    std::env::var("RANKPROOF_TAMPER_FULL").is_ok_and(|v| v == "1")
}

const ORIGIN: &str = "tamper.example/ledger";
const KEYS: [(&str, &str); 5] = [
    (ORIGIN, "log.key"),
    ("admin", "admin.key"),
    ("hr", "hr.key"),
    ("steward", "steward.key"),
    ("operator", "operator.key"),
];

/// A ledger built with the binary in `dir`, with the checkpoint printed
/// after every command (`checkpoints[k]` covers `k + 1` entries).
struct Built {
    log_vkey: String,
    checkpoints: Vec<Vec<u8>>,
}

fn checkpoint_now(dir: &Path) -> Vec<u8> {
    ok(dir, &["checkpoint"]).into_bytes()
}

/// Keys (created unless the key files are already in `dir`), init, grants,
/// rules, the three inputs (`survey` from `survey_csv`), the ranking.
fn build(dir: &Path, survey_csv: &Path) -> Built {
    let mut vkeys = BTreeMap::new();
    for (name, file) in KEYS {
        let v = if dir.join(file).exists() {
            let out = ok(dir, &["key", "show", file]);
            out.lines()
                .find_map(|l| l.strip_prefix("vkey:"))
                .unwrap()
                .trim()
                .to_owned()
        } else {
            ok(dir, &["key", "new", "--name", name, "--out", file])
                .trim()
                .to_owned()
        };
        vkeys.insert(name, v);
    }
    let mut checkpoints = Vec::new();
    ok(
        dir,
        &[
            "init",
            "--origin",
            ORIGIN,
            "--log-key",
            "log.key",
            "--admin",
            &vkeys["admin"],
        ],
    );
    checkpoints.push(checkpoint_now(dir));
    for role in ["hr", "steward", "operator"] {
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
                &vkeys[role],
            ],
        );
        checkpoints.push(checkpoint_now(dir));
    }
    let v1 = repo().join("rules/marketing-v1");
    ok(
        dir,
        &[
            "rules",
            "publish",
            "--signer",
            "hr.key",
            v1.to_str().unwrap(),
        ],
    );
    checkpoints.push(checkpoint_now(dir));
    for s in ["crm", "survey", "oa"] {
        let file = if s == "survey" {
            survey_csv.to_path_buf()
        } else {
            repo().join(format!("examples/{s}.csv"))
        };
        ok(
            dir,
            &[
                "input",
                "record",
                "--signer",
                "steward.key",
                "--period",
                "2025-Q1",
                "--source",
                s,
                file.to_str().unwrap(),
            ],
        );
        checkpoints.push(checkpoint_now(dir));
    }
    ok(
        dir,
        &[&publish_args("operator.key")[..], &["--format", "json"]].concat(),
    );
    checkpoints.push(checkpoint_now(dir));
    Built {
        log_vkey: vkeys[ORIGIN].clone(),
        checkpoints,
    }
}

/// A bundle read into memory.
#[derive(Clone)]
struct Mem {
    lines: Vec<Vec<u8>>,
    blobs: BTreeMap<Hash, Vec<u8>>,
    checkpoint: Vec<u8>,
}

fn load(bundle: &Path) -> Mem {
    let lines = split_lines(&fs::read(bundle.join("entries.jsonl")).unwrap());
    let mut blobs = BTreeMap::new();
    for f in fs::read_dir(bundle.join("blobs")).unwrap() {
        let f = f.unwrap();
        let h = Hash::from_hex(f.file_name().to_str().unwrap()).unwrap();
        blobs.insert(h, fs::read(f.path()).unwrap());
    }
    Mem {
        lines,
        blobs,
        checkpoint: fs::read(bundle.join("checkpoint")).unwrap(),
    }
}

fn verify_mem(
    lines: &[Vec<u8>],
    blobs: &BTreeMap<Hash, Vec<u8>>,
    checkpoint: &[u8],
    vkey: &VerifierKey,
    trusted: Option<&[u8]>,
) -> Result<VerifyReport, VerifyError> {
    let blob = |h: &Hash| Ok(blobs.get(h).cloned());
    verify_log(
        lines.iter().cloned().map(Ok),
        &blob,
        checkpoint,
        Some(vkey),
        trusted,
    )
}

/// Tried/detected counts per category, and the first few misses.
#[derive(Default)]
struct Tally {
    counts: BTreeMap<&'static str, (u64, u64)>,
    misses: Vec<String>,
}

impl Tally {
    /// Record one case; `expect` says whether the result is the right failure.
    fn case(
        &mut self,
        cat: &'static str,
        what: impl FnOnce() -> String,
        r: &Result<VerifyReport, VerifyError>,
        expect: impl FnOnce(&VerifyError) -> bool,
    ) {
        let c = self.counts.entry(cat).or_default();
        c.0 += 1;
        let good = match r {
            Err(e) => expect(e),
            Ok(_) => false,
        };
        if good {
            c.1 += 1;
        } else if self.misses.len() < 20 {
            let outcome = match r {
                Ok(rep) => format!("VERIFIED (size {})", rep.size),
                Err(e) => format!("wrong error: {e}"),
            };
            self.misses.push(format!("[{cat}] {}: {outcome}", what()));
        }
    }

    fn report(&self, title: &str) {
        let (mut t, mut d) = (0, 0);
        for (cat, (tried, detected)) in &self.counts {
            eprintln!("tamper[{title}] {cat}: tried {tried}, detected {detected}");
            t += tried;
            d += detected;
        }
        eprintln!("tamper[{title}] TOTAL: tried {t}, detected {d}");
        assert!(
            self.misses.is_empty(),
            "undetected or misnamed tampering:\n{}",
            self.misses.join("\n")
        );
        assert_eq!(t, d);
        assert!(t > 0);
    }
}

fn names_entry(seq: u64) -> impl Fn(&VerifyError) -> bool {
    move |e| matches!(e, VerifyError::Entry { seq: s, .. } if *s == seq)
}

fn names_blob(seq: u64, h: Hash) -> impl Fn(&VerifyError) -> bool {
    move |e| matches!(e, VerifyError::Entry { seq: s, problem: EntryProblem::BlobMismatch(x) | EntryProblem::MissingBlob(x) } if *s == seq && *x == h)
}

fn names_checkpoint(e: &VerifyError) -> bool {
    matches!(
        e,
        VerifyError::Checkpoint(_)
            | VerifyError::SizeMismatch { .. }
            | VerifyError::RootMismatch { .. }
    )
}

/// A different byte of the same class, so that JSON strings and numbers stay
/// well formed: digit → digit, hex letter → hex letter, other letter →
/// letter, `+` ↔ `/`. `None` for structural bytes.
fn substitute(b: u8) -> Option<u8> {
    Some(match b {
        b'0'..=b'8' => b + 1,
        b'9' => b'0',
        b'a'..=b'e' => b + 1,
        b'f' => b'a',
        b'g'..=b'y' => b + 1,
        b'z' => b'g',
        b'A'..=b'Y' => b + 1,
        b'Z' => b'A',
        b'+' => b'/',
        b'/' => b'+',
        _ => return None,
    })
}

/// The seq of the first entry referencing each blob.
fn first_refs(lines: &[Vec<u8>]) -> BTreeMap<Hash, u64> {
    let mut m = BTreeMap::new();
    for l in lines {
        let e = Entry::parse(l).unwrap();
        for h in e.blobs() {
            m.entry(*h).or_insert(e.seq());
        }
    }
    m
}

struct Fixture {
    tmp: tempfile::TempDir,
    built: Built,
    vkey: VerifierKey,
    mem: Mem,
}

impl Fixture {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let built = build(dir, &repo().join("examples/survey.csv"));
    ok(dir, &["export", "--out", "bundle"]);
    let vkey = VerifierKey::parse(&built.log_vkey).unwrap();
    let mem = load(&dir.join("bundle"));
    assert_eq!(mem.lines.len(), built.checkpoints.len());
    assert_eq!(mem.checkpoint, *built.checkpoints.last().unwrap());
    verify_mem(&mem.lines, &mem.blobs, &mem.checkpoint, &vkey, None).unwrap();
    Fixture {
        tmp,
        built,
        vkey,
        mem,
    }
}

/// One byte-level case.
enum Case {
    /// Set byte `pos` of entry line `i` to `val`; verify lines `..upto`.
    Entry {
        cat: &'static str,
        i: usize,
        pos: usize,
        val: u8,
        upto: usize,
    },
    /// Set byte `pos` of the checkpoint to `val` (the latest one with the
    /// whole log, or the one of size 1 with the genesis entry).
    Checkpoint {
        cat: &'static str,
        pos: usize,
        val: u8,
        latest: bool,
    },
    /// XOR byte `pos` of blob `h` with `mask`; verify up to its first entry.
    Blob { h: Hash, pos: usize, mask: u8 },
}

/// Run one case: its category, a description, whether the right failure
/// was reported, and what was reported.
fn run_case(
    m: &Mem,
    small: &Mem,
    vkey: &VerifierKey,
    refs: &BTreeMap<Hash, u64>,
    c: &Case,
) -> (&'static str, String, bool, String) {
    type Check = Box<dyn Fn(&VerifyError) -> bool>;
    let (cat, what, r, good): (&'static str, String, _, Check) = match *c {
        Case::Entry {
            cat,
            i,
            pos,
            val,
            upto,
        } => {
            let mut lines = m.lines[..upto].to_vec();
            let orig = lines[i][pos];
            lines[i][pos] = val;
            let r = verify_mem(&lines, &m.blobs, &m.checkpoint, vkey, None);
            (
                cat,
                format!("entry {i} byte {pos} {orig:#04x}->{val:#04x} (lines ..{upto})"),
                r,
                Box::new(names_entry(i as u64)),
            )
        }
        Case::Checkpoint {
            cat,
            pos,
            val,
            latest,
        } => {
            let log = if latest { m } else { small };
            let mut cp = log.checkpoint.clone();
            let orig = cp[pos];
            cp[pos] = val;
            let r = verify_mem(&log.lines, &log.blobs, &cp, vkey, None);
            (
                cat,
                format!(
                    "checkpoint (size {}) byte {pos} {orig:#04x}->{val:#04x}",
                    log.lines.len()
                ),
                r,
                Box::new(names_checkpoint),
            )
        }
        Case::Blob { h, pos, mask } => {
            let seq = refs[&h];
            let mut blobs = m.blobs.clone();
            blobs.get_mut(&h).unwrap()[pos] ^= mask;
            let r = verify_mem(&m.lines[..=seq as usize], &blobs, &m.checkpoint, vkey, None);
            (
                "blob byte (sampled)",
                format!("blob {h} byte {pos} ^{mask:#04x} (first used by entry {seq})"),
                r,
                Box::new(names_blob(seq, h)),
            )
        }
    };
    let outcome = match &r {
        Ok(rep) => format!("VERIFIED (size {})", rep.size),
        Err(e) => e.to_string(),
    };
    let ok = r.as_ref().err().is_some_and(good);
    (cat, what, ok, outcome)
}

/// Run `cases` on every core; results in order.
fn run_all(
    m: &Mem,
    small: &Mem,
    vkey: &VerifierKey,
    refs: &BTreeMap<Hash, u64>,
    cases: &[Case],
) -> Vec<(&'static str, String, bool, String)> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut out: Vec<Option<(&'static str, String, bool, String)>> =
        (0..cases.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    (t..cases.len())
                        .step_by(threads)
                        .map(|k| (k, run_case(m, small, vkey, refs, &cases[k])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (k, r) in h.join().unwrap() {
                out[k] = Some(r);
            }
        }
    });
    out.into_iter().map(Option::unwrap).collect()
}

/// Byte positions of one entry line tried by default: the first and last
/// byte, every byte of the `seq` value and of the `kind`, the first and last
/// digits of `prev`, `sig`, the signer's key ID and each blob hash, and
/// `samples` positions at random.
fn entry_positions(line: &[u8], samples: u64, rng: &mut Rng) -> Vec<usize> {
    let t = std::str::from_utf8(line).unwrap();
    let mut p = vec![0, line.len() - 1];
    let mut value_of = |key: &str, whole: bool| {
        let Some(at) = t.find(key) else { return };
        let start = at + key.len();
        let end = start + t[start..].find(['"', ',', '}', ']']).unwrap_or(0);
        if whole {
            p.extend(start..end);
        } else if end > start {
            p.extend([start, end - 1]);
        }
    };
    value_of("\"seq\":", true);
    value_of("\"kind\":\"", false);
    value_of("\"prev\":\"", false);
    value_of("\"sig\":\"", false);
    value_of("\"signer\":\"", false);
    // The first and last digit of the first blob hash.
    if t.contains("\"blobs\":[\"") {
        value_of("\"blobs\":[\"", false);
    }
    for _ in 0..samples {
        p.push(rng.below(line.len()));
    }
    p.sort_unstable();
    p.dedup();
    p
}

#[test]
fn every_byte_of_every_entry_line_and_of_the_checkpoint_and_sampled_blob_bytes() {
    let t0 = Instant::now();
    let f = fixture();
    let built_in = t0.elapsed();
    let seed = env_u64("RANKPROOF_TAMPER_SEED", 1);
    let whole = full();
    let mut rng = Rng(seed.max(1));
    let m = &f.mem;
    let n = m.lines.len();
    let total_blob_bytes: usize = m.blobs.values().map(Vec::len).sum();
    eprintln!(
        "tamper: seed {seed}, full {whole}; {n} entries ({} bytes), {} blobs \
         ({total_blob_bytes} bytes), checkpoint {} bytes; ledger built in {built_in:?}",
        m.lines.iter().map(Vec::len).sum::<usize>(),
        m.blobs.len(),
        m.checkpoint.len()
    );
    let refs = first_refs(&m.lines);
    assert_eq!(refs.len(), m.blobs.len(), "every blob is referenced");
    let mut cases = Vec::new();

    // Entry bytes, two changes per position.
    let entry_samples = env_u64("RANKPROOF_TAMPER_ENTRY_SAMPLES", 4);
    for i in 0..n {
        let positions: Vec<usize> = if whole {
            (0..m.lines[i].len()).collect()
        } else {
            entry_positions(&m.lines[i], entry_samples, &mut rng)
        };
        for pos in positions {
            let orig = m.lines[i][pos];
            for (cat, v) in [
                ("entry byte ^0x01", Some(orig ^ 0x01)),
                ("entry byte same-class substitute", substitute(orig)),
            ] {
                let Some(val) = v else { continue };
                // Every 16th position also on the whole log.
                let upto = if whole || pos % 16 == 0 { n } else { i + 1 };
                cases.push(Case::Entry {
                    cat,
                    i,
                    pos,
                    val,
                    upto,
                });
            }
        }
    }
    // Every byte of a checkpoint. By default that is the checkpoint of the
    // same log at size 1 (the bundle exported right after `init`: genesis
    // and its checkpoint), where one case costs two signature checks; the
    // latest checkpoint, with the whole log, at `RANKPROOF_TAMPER_CP_SAMPLES`
    // (default 24) random positions, or at every byte with
    // RANKPROOF_TAMPER_FULL=1.
    let small = Mem {
        lines: m.lines[..1].to_vec(),
        blobs: BTreeMap::new(),
        checkpoint: f.built.checkpoints[0].clone(),
    };
    let latest_positions: Vec<usize> = if whole {
        (0..m.checkpoint.len()).collect()
    } else {
        (0..env_u64("RANKPROOF_TAMPER_CP_SAMPLES", 24))
            .map(|_| rng.below(m.checkpoint.len()))
            .collect()
    };
    for (latest, positions) in [
        (false, (0..small.checkpoint.len()).collect::<Vec<_>>()),
        (true, latest_positions),
    ] {
        let cp = if latest {
            &m.checkpoint
        } else {
            &small.checkpoint
        };
        for pos in positions {
            let orig = cp[pos];
            for (cat, v) in [
                ("checkpoint byte ^0x01", Some(orig ^ 0x01)),
                ("checkpoint byte same-class substitute", substitute(orig)),
            ] {
                if let Some(val) = v {
                    cases.push(Case::Checkpoint {
                        cat,
                        pos,
                        val,
                        latest,
                    });
                }
            }
        }
    }
    // Blob bytes: every blob at one random byte (its first and last byte
    // too with RANKPROOF_TAMPER_FULL=1), then positions drawn uniformly over
    // all blob bytes.
    let blob_list: Vec<(Hash, usize)> = m.blobs.iter().map(|(h, d)| (*h, d.len())).collect();
    for (h, len) in &blob_list {
        let mut positions = vec![rng.below(*len)];
        if whole {
            positions.extend([0, len - 1]);
        }
        for pos in positions {
            let mask = 1u8 << rng.below(8);
            cases.push(Case::Blob { h: *h, pos, mask });
        }
    }
    let samples = if whole {
        20_000
    } else {
        env_u64("RANKPROOF_TAMPER_BLOB_SAMPLES", 40)
    };
    for _ in 0..samples {
        let mut at = rng.below(total_blob_bytes);
        for (h, len) in &blob_list {
            if at < *len {
                let mask = 1u8 << rng.below(8);
                cases.push(Case::Blob {
                    h: *h,
                    pos: at,
                    mask,
                });
                break;
            }
            at -= len;
        }
    }

    let t1 = Instant::now();
    let results = run_all(m, &small, &f.vkey, &refs, &cases);
    let mut tally = Tally::default();
    for (cat, what, good, outcome) in results {
        let c = tally.counts.entry(cat).or_default();
        c.0 += 1;
        if good {
            c.1 += 1;
        } else if tally.misses.len() < 20 {
            tally.misses.push(format!("[{cat}] {what}: {outcome}"));
        }
    }
    eprintln!("tamper: {} byte cases in {:?}", cases.len(), t1.elapsed());
    tally.report("bytes");
}

fn write_bundle(dir: &Path, m: &Mem) {
    if dir.exists() {
        fs::remove_dir_all(dir).unwrap();
    }
    fs::create_dir_all(dir.join("blobs")).unwrap();
    let mut data = Vec::new();
    for l in &m.lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    fs::write(dir.join("entries.jsonl"), data).unwrap();
    for (h, d) in &m.blobs {
        fs::write(dir.join("blobs").join(h.to_hex()), d).unwrap();
    }
    fs::write(dir.join("checkpoint"), &m.checkpoint).unwrap();
}

#[test]
fn dropped_reordered_duplicated_truncated_swapped_resigned_rolled_back_and_forked() {
    let t0 = Instant::now();
    let f = fixture();
    let m = &f.mem;
    let n = m.lines.len();
    let vk = &f.vkey;
    let mut tally = Tally::default();
    let whole = full();
    let mut rng = Rng(env_u64("RANKPROOF_TAMPER_SEED", 1).max(1));
    let v = |lines: &[Vec<u8>], blobs: &BTreeMap<Hash, Vec<u8>>, cp: &[u8], t: Option<&[u8]>| {
        verify_mem(lines, blobs, cp, vk, t)
    };
    // Where entry `k` is expected to be named, the lines up to `k` are
    // enough (see the module comment), unless the full campaign runs.
    let upto = |lines: &[Vec<u8>], k: usize| -> Vec<Vec<u8>> {
        if whole {
            lines.to_vec()
        } else {
            lines[..=k.min(lines.len() - 1)].to_vec()
        }
    };

    // Dropped: each entry in turn (the last one is caught by the checkpoint).
    for k in 0..n {
        let mut lines = m.lines.clone();
        lines.remove(k);
        let r = v(&lines, &m.blobs, &m.checkpoint, None);
        if k + 1 < n {
            let expect = |e: &VerifyError| matches!(e, VerifyError::Entry { seq, problem: EntryProblem::WrongSeq { .. } } if *seq == k as u64);
            tally.case("entry dropped", || format!("entry {k}"), &r, expect);
        } else {
            tally.case(
                "entry dropped",
                || format!("entry {k}"),
                &r,
                |e| matches!(e, VerifyError::SizeMismatch { .. }),
            );
        }
    }
    // Reordered: every pair swapped; the first moved entry is named.
    for a in 0..n {
        for b in a + 1..n {
            let mut lines = m.lines.clone();
            lines.swap(a, b);
            let r = v(&upto(&lines, a), &m.blobs, &m.checkpoint, None);
            tally.case(
                "entries reordered (pair swapped)",
                || format!("{a}<->{b}"),
                &r,
                names_entry(a as u64),
            );
        }
        // Moved to the end.
        let mut lines = m.lines.clone();
        let e = lines.remove(a);
        lines.push(e);
        if a + 1 < n {
            let r = v(&upto(&lines, a), &m.blobs, &m.checkpoint, None);
            tally.case(
                "entries reordered (moved to the end)",
                || format!("{a}"),
                &r,
                names_entry(a as u64),
            );
        }
    }
    // Duplicated: each entry inserted again right after itself, and at the end.
    for k in 0..n {
        let mut lines = m.lines.clone();
        lines.insert(k + 1, m.lines[k].clone());
        let r = v(&upto(&lines, k + 1), &m.blobs, &m.checkpoint, None);
        tally.case(
            "entry duplicated",
            || format!("entry {k} after itself"),
            &r,
            names_entry(k as u64 + 1),
        );
        let mut lines = m.lines.clone();
        lines.push(m.lines[k].clone());
        let r = v(&lines, &m.blobs, &m.checkpoint, None);
        tally.case(
            "entry duplicated",
            || format!("entry {k} at the end"),
            &r,
            names_entry(n as u64),
        );
    }
    // Truncated: the file cut at every length inside the last line (the
    // reader splits the bytes as `verify_bundle` does). Cut right after a
    // line's "\n" the log is one entry short (checkpoint); cut inside the
    // last line, the partial line is named; cut just before the final
    // "\n", the line is whole but the file is not.
    let mut file = Vec::new();
    for l in &m.lines {
        file.extend_from_slice(l);
        file.push(b'\n');
    }
    let last_len = m.lines[n - 1].len();
    let bdir = f.dir().join("tampered");
    write_bundle(&bdir, m);
    fs::write(
        bdir.join("keys"),
        fs::read(f.dir().join("bundle/keys")).unwrap(),
    )
    .unwrap();
    let mut cuts: Vec<usize> = if whole {
        (1..=last_len + 1).collect()
    } else {
        let mut c: Vec<usize> = (1..=4).chain(last_len - 3..=last_len + 1).collect();
        let k = env_u64("RANKPROOF_TAMPER_CUT_SAMPLES", 16);
        c.extend((0..k).map(|_| 1 + rng.below(last_len)));
        c
    };
    cuts.sort_unstable();
    cuts.dedup();
    for cut in cuts {
        let data = &file[..file.len() - cut];
        fs::write(bdir.join("entries.jsonl"), data).unwrap();
        let r = verify_bundle(&bdir, vk, None);
        if cut == last_len + 1 {
            tally.case(
                "entries truncated",
                || format!("cut {cut}"),
                &r,
                |e| matches!(e, VerifyError::SizeMismatch { .. }),
            );
        } else {
            tally.case(
                "entries truncated",
                || format!("cut {cut} bytes"),
                &r,
                names_entry(n as u64 - 1),
            );
        }
    }
    // Also any earlier line cut short (its tail lost, the newline kept).
    for k in 0..n - 1 {
        for keep in [0, 1, m.lines[k].len() / 2, m.lines[k].len() - 1] {
            let mut lines = m.lines.clone();
            lines[k].truncate(keep);
            let r = v(&upto(&lines, k), &m.blobs, &m.checkpoint, None);
            tally.case(
                "line cut short",
                || format!("line {k} to {keep} bytes"),
                &r,
                names_entry(k as u64),
            );
        }
    }

    // Blobs: each swapped for another blob's content, and each missing.
    let refs = first_refs(&m.lines);
    let hashes: Vec<Hash> = m.blobs.keys().copied().collect();
    for (i, h) in hashes.iter().enumerate() {
        let other = hashes[(i + 1) % hashes.len()];
        let first = refs[h] as usize;
        let mut blobs = m.blobs.clone();
        blobs.insert(*h, m.blobs[&other].clone());
        let r = v(&upto(&m.lines, first), &blobs, &m.checkpoint, None);
        tally.case(
            "blob swapped for another blob",
            || format!("{h}"),
            &r,
            names_blob(refs[h], *h),
        );
        let mut blobs = m.blobs.clone();
        blobs.remove(h);
        let r = v(&upto(&m.lines, first), &blobs, &m.checkpoint, None);
        tally.case(
            "blob missing",
            || format!("{h}"),
            &r,
            names_blob(refs[h], *h),
        );
        // Truncated and extended blobs.
        for (what, data) in [
            ("cut", m.blobs[h][..m.blobs[h].len() - 1].to_vec()),
            ("extended", [&m.blobs[h][..], b"\n"].concat()),
            ("emptied", Vec::new()),
        ] {
            let mut blobs = m.blobs.clone();
            blobs.insert(*h, data);
            let r = v(&upto(&m.lines, first), &blobs, &m.checkpoint, None);
            tally.case(
                "blob truncated/extended/emptied",
                || format!("{h} {what}"),
                &r,
                names_blob(refs[h], *h),
            );
        }
    }
    // A blob swapped in the directory too (file-level).
    {
        let mut t = m.clone();
        let h = hashes[0];
        t.blobs.insert(h, m.blobs[&hashes[1]].clone());
        write_bundle(&bdir, &t);
        fs::write(
            bdir.join("keys"),
            fs::read(f.dir().join("bundle/keys")).unwrap(),
        )
        .unwrap();
        let r = verify_bundle(&bdir, vk, None);
        tally.case(
            "blob swapped (bundle directory)",
            || format!("{h}"),
            &r,
            names_blob(refs[&h], h),
        );
    }

    // The checkpoint re-signed by another key with the log's name (for the
    // true tree head, a larger size, and a forged root); a signature line
    // that claims the log key's ID; the real signature moved to another
    // name; the signature removed; a duplicated signature.
    let note = Note::parse(&m.checkpoint).unwrap();
    let head = Checkpoint::parse_text(note.text()).unwrap();
    for i in 0..4 {
        let impostor = SecretKey::generate(ORIGIN).unwrap();
        let mut h2 = head.clone();
        match i {
            1 => h2.size += 1,
            2 => h2.root = Hash::of(b"forged"),
            3 => h2.extensions.push("forged extension".into()),
            _ => {}
        }
        let forged = SignedCheckpoint::sign(h2, &impostor).unwrap().to_text();
        let r = v(&m.lines, &m.blobs, forged.as_bytes(), None);
        tally.case(
            "checkpoint re-signed by another key with the same name",
            || format!("variant {i}"),
            &r,
            |e| matches!(e, VerifyError::Checkpoint(_)),
        );
    }
    {
        let impostor = SecretKey::generate(ORIGIN).unwrap();
        let real_id = vk.id().to_hex();
        let forged = SignedCheckpoint::sign(head.clone(), &impostor)
            .unwrap()
            .to_text();
        // Splice the real key ID into the impostor's signature line.
        let (text, sig_line) = forged.rsplit_once("\n\n").unwrap();
        let b64 = sig_line.trim_end().rsplit_once(' ').unwrap().1;
        use base64::Engine;
        let b64e = base64::engine::general_purpose::STANDARD;
        let mut raw = b64e.decode(b64).unwrap();
        raw[..4].copy_from_slice(&hex::decode(&real_id).unwrap());
        let spliced = format!("{text}\n\n\u{2014} {ORIGIN} {}\n", b64e.encode(&raw));
        let r = v(&m.lines, &m.blobs, spliced.as_bytes(), None);
        tally.case(
            "checkpoint signature line claiming the log key's ID",
            String::new,
            &r,
            |e| matches!(e, VerifyError::Checkpoint(_)),
        );
        let cp = String::from_utf8(m.checkpoint.clone()).unwrap();
        let (text, sig_line) = cp.rsplit_once("\n\n").unwrap();
        let moved = format!(
            "{text}\n\n{}",
            sig_line.replace(ORIGIN, "witness.example/other")
        );
        let dup = format!("{cp}{sig_line}");
        let unsigned = format!("{text}\n\n");
        for (what, c) in [
            ("signature moved to another name", moved),
            ("signature duplicated", dup),
            ("signature removed", unsigned),
        ] {
            let r = v(&m.lines, &m.blobs, c.as_bytes(), None);
            tally.case(
                "checkpoint signature lines",
                || what.to_owned(),
                &r,
                |e| matches!(e, VerifyError::Checkpoint(_)),
            );
        }
    }

    // Rollback: every older checkpoint presented as the latest (for the
    // whole log: the checkpoint names too few entries), and every older
    // state of the log presented against the latest as --trusted.
    let latest = m.checkpoint.clone();
    for (k, old) in f.built.checkpoints[..n - 1].iter().enumerate() {
        let r = v(&m.lines, &m.blobs, old, None);
        tally.case(
            "older checkpoint as latest",
            || format!("size {}", k + 1),
            &r,
            |e| matches!(e, VerifyError::SizeMismatch { .. }),
        );
        let r = v(&m.lines[..=k], &m.blobs, old, Some(&latest));
        tally.case(
            "older log and checkpoint against a newer --trusted (rollback)",
            || format!("size {}", k + 1),
            &r,
            move |e| matches!(e, VerifyError::Rollback { trusted, size } if *trusted == n as u64 && *size == k as u64 + 1),
        );
        // Control: the older state is a consistent prefix.
        v(&m.lines[..=k], &m.blobs, old, None).unwrap();
        v(&m.lines, &m.blobs, &latest, Some(old)).unwrap();
    }

    // A forked history of the same size: the same keys build a second
    // ledger with a different survey file. Its bundle verifies on its own
    // (nothing but a trusted checkpoint can tell), and fails against every
    // trusted checkpoint of the first ledger past the fork point.
    let survey = fs::read_to_string(repo().join("examples/survey.csv")).unwrap();
    let mut rows: Vec<String> = survey.lines().map(str::to_owned).collect();
    // Change one digit of the second row's last number.
    let row = &mut rows[1];
    let pos = row.rfind(|c: char| c.is_ascii_digit()).unwrap();
    let d = row.as_bytes()[pos];
    let nd = if d == b'9' { '8' } else { (d + 1) as char };
    row.replace_range(pos..=pos, &nd.to_string());
    let fork_dir = f.dir().join("fork");
    fs::create_dir_all(&fork_dir).unwrap();
    fs::write(fork_dir.join("survey.csv"), rows.join("\n") + "\n").unwrap();
    for (_, file) in KEYS {
        fs::copy(f.dir().join(file), fork_dir.join(file)).unwrap();
    }
    let fork_built = build(&fork_dir, &fork_dir.join("survey.csv"));
    ok(&fork_dir, &["export", "--out", "bundle"]);
    let fork = load(&fork_dir.join("bundle"));
    assert_eq!(fork.lines.len(), n, "the fork has the same size");
    assert_eq!(fork_built.log_vkey, f.built.log_vkey);
    let fork_point = (0..n).find(|&i| fork.lines[i] != m.lines[i]).unwrap();
    eprintln!("tamper: forked history diverges at entry {fork_point} of {n}");
    verify_mem(&fork.lines, &fork.blobs, &fork.checkpoint, vk, None).unwrap();
    for (k, trusted) in f.built.checkpoints.iter().enumerate() {
        let size = k as u64 + 1;
        let r = verify_bundle(&fork_dir.join("bundle"), vk, Some(trusted));
        if (size as usize) <= fork_point {
            assert!(r.is_ok(), "a shared prefix of {size} entries: {r:?}");
        } else {
            tally.case(
                "forked history against a --trusted checkpoint",
                || format!("trusted size {size}"),
                &r,
                move |e| matches!(e, VerifyError::Rewritten { trusted } if *trusted == size),
            );
        }
        // And the other way round.
        let r = verify_mem(
            &m.lines,
            &m.blobs,
            &m.checkpoint,
            vk,
            Some(&fork_built.checkpoints[k]),
        );
        if (size as usize) > fork_point {
            tally.case(
                "forked history against a --trusted checkpoint",
                || format!("reverse, trusted size {size}"),
                &r,
                move |e| matches!(e, VerifyError::Rewritten { trusted } if *trusted == size),
            );
        }
    }
    // The fork's checkpoint presented with the first ledger's entries.
    let r = v(&m.lines, &m.blobs, &fork.checkpoint, None);
    tally.case(
        "forked checkpoint with the original entries",
        String::new,
        &r,
        |e| matches!(e, VerifyError::RootMismatch { .. }),
    );
    // Entries mixed from both histories after the fork point.
    let mut mixed = m.lines.clone();
    mixed[n - 1] = fork.lines[n - 1].clone();
    let mut both_blobs = m.blobs.clone();
    both_blobs.extend(fork.blobs.clone());
    let r = v(&mixed, &both_blobs, &m.checkpoint, None);
    tally.case(
        "entries mixed from a forked history",
        String::new,
        &r,
        names_entry(n as u64 - 1),
    );

    // Through the binary: `verify --bundle` and `replay --bundle` exit 1.
    let bundle_cases: Vec<(&str, Mem, Option<&[u8]>)> = {
        let mut v = Vec::new();
        let mut t = m.clone();
        t.lines[5][40] ^= 0x01;
        v.push(("entry byte flipped", t, None));
        let mut t = m.clone();
        t.lines.remove(3);
        v.push(("entry dropped", t, None));
        let mut t = m.clone();
        let h = hashes[hashes.len() - 1];
        t.blobs.insert(h, m.blobs[&hashes[0]].clone());
        v.push(("blob swapped", t, None));
        let mut t = m.clone();
        t.checkpoint = SignedCheckpoint::sign(head.clone(), &SecretKey::generate(ORIGIN).unwrap())
            .unwrap()
            .to_text()
            .into_bytes();
        v.push(("checkpoint re-signed", t, None));
        v.push(("forked history", fork.clone(), Some(&latest[..])));
        v
    };
    let trusted_path = f.dir().join("trusted-checkpoint");
    fs::write(&trusted_path, &latest).unwrap();
    for (what, t, trusted) in &bundle_cases {
        write_bundle(&bdir, t);
        let keys_from = if *what == "forked history" {
            fork_dir.join("bundle/keys")
        } else {
            f.dir().join("bundle/keys")
        };
        fs::write(bdir.join("keys"), fs::read(keys_from).unwrap()).unwrap();
        let mut verify = vec![
            "verify",
            "--bundle",
            "tampered",
            "--log-vkey",
            &f.built.log_vkey,
        ];
        let replay = vec![
            "replay",
            "--all",
            "--bundle",
            "tampered",
            "--log-vkey",
            &f.built.log_vkey,
        ];
        let tp = trusted_path.to_str().unwrap();
        if trusted.is_some() {
            verify.extend(["--trusted", tp]);
        }
        for args in [&verify, &replay] {
            if trusted.is_some() && args[0] == "replay" {
                // replay has no --trusted: the fork is a valid log by itself.
                continue;
            }
            let o = rankproof(f.dir(), args);
            let c = tally
                .counts
                .entry("CLI verify/replay --bundle exit 1")
                .or_default();
            c.0 += 1;
            if o.status.code() == Some(1) {
                c.1 += 1;
            } else {
                tally
                    .misses
                    .push(format!("CLI {what} {args:?}: {}", text(&o)));
            }
        }
    }
    eprintln!("tamper: structural cases took {:?}", t0.elapsed());
    tally.report("structure");
}
