//! A power-loss model at the storage trait.
//!
//! sled gives the ledger what the `Storage` trait asks for: one atomic batch
//! per append, flushed before success. This model checks what happens when
//! a power cut interrupts a commit, under two assumptions:
//!
//! - atomic storage (the trait's contract, sled's batch): the cut commit is
//!   either wholly there or wholly absent; the ledger must reopen, verify and
//!   hold every entry whose append had returned;
//! - torn storage (a weaker device that keeps any subset of the cut batch):
//!   the ledger must never present a partial entry as valid: either it
//!   reopens in the previous state (and verifies), or it refuses to open, or
//!   verification reports the damage.

use std::sync::{Arc, Mutex};

use rankproof_ledger::{Kind, Ledger, MemStorage, Storage, StorageError};
use serde_json::json;

use crate::{body, fixture_on};

/// One commit's writes.
type Writes = Vec<(Vec<u8>, Vec<u8>)>;

/// Storage that records every commit, and can be "cut" after a given
/// number of whole commits plus a chosen subset of the next one.
#[derive(Clone, Default)]
struct Journal {
    commits: Arc<Mutex<Vec<Writes>>>,
    live: MemStorage,
}

impl Storage for Journal {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.live.get(key)
    }
    fn commit(&self, writes: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), StorageError> {
        self.commits
            .lock()
            .map_err(|_| StorageError::Io("poisoned".into()))?
            .push(writes.clone());
        self.live.commit(writes)
    }
}

impl Journal {
    fn commits(&self) -> Vec<Writes> {
        self.commits.lock().unwrap().clone()
    }
}

/// The store as the disk holds it after the cut: `whole` complete commits,
/// then the writes of commit `whole` selected by `keep`.
fn after_cut(commits: &[Writes], whole: usize, keep: impl Fn(usize) -> bool) -> MemStorage {
    let disk = MemStorage::new();
    for c in &commits[..whole] {
        disk.commit(c.clone()).unwrap();
    }
    if let Some(cut) = commits.get(whole) {
        let partial: Vec<_> = cut
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, w)| w.clone())
            .collect();
        disk.commit(partial).unwrap();
    }
    disk
}

/// Build a journal of appends of every workflow kind.
fn journal() -> (Journal, Vec<u64>) {
    let j = Journal::default();
    let mut f = fixture_on(j.clone());
    f.ledger.attach_log_key(f.log.clone()).unwrap();
    let mut sizes = vec![f.ledger.len()];
    for i in 0..6u64 {
        let (kind, signer) = match i % 3 {
            0 => (Kind::InputRecord, &f.steward),
            1 => (Kind::RankingPublish, &f.operator),
            _ => (Kind::RulesPublish, &f.hr),
        };
        f.ledger
            .append(
                kind,
                body(json!({"i": i})),
                vec![
                    format!("blob {i}").into_bytes().into(),
                    vec![i as u8; 3000].into(),
                ],
                signer,
            )
            .unwrap();
        sizes.push(f.ledger.len());
    }
    (j, sizes)
}

#[test]
fn atomic_cut_reopens_with_every_acknowledged_entry() {
    let (j, sizes) = journal();
    let commits = j.commits();
    let first = commits.len() - (sizes.len() - 1);
    let mut cases = 0;
    for (k, size) in sizes.iter().enumerate() {
        let whole = first + k;
        // Cut before commit `whole` (nothing of it) and after it (all of it).
        for (keep_all, expect) in [
            (false, *size),
            (true, sizes.get(k + 1).copied().unwrap_or(*size)),
        ] {
            let disk = after_cut(&commits, whole, |_| keep_all);
            let l = Ledger::open(disk).unwrap();
            assert_eq!(
                l.len(),
                expect,
                "cut at commit {whole}, keep_all {keep_all}"
            );
            l.verify(None).unwrap();
            cases += 1;
        }
    }
    eprintln!("power-loss model, atomic storage: {cases} cuts, all reopened and verified");
}

#[test]
fn torn_cut_never_passes_off_a_partial_entry() {
    let (j, sizes) = journal();
    let commits = j.commits();
    let first = commits.len() - (sizes.len() - 1);
    let (mut cases, mut previous_state, mut refused, mut detected) = (0, 0, 0, 0);
    for (k, prior) in sizes.iter().enumerate().take(sizes.len() - 1) {
        let whole = first + k;
        let n = commits[whole].len();
        // Every prefix and every single-write omission of the torn commit.
        let mut keeps: Vec<Box<dyn Fn(usize) -> bool>> = Vec::new();
        for p in 0..n {
            keeps.push(Box::new(move |i| i < p));
        }
        for miss in 0..n {
            keeps.push(Box::new(move |i| i != miss));
        }
        let keys: Vec<String> = commits[whole]
            .iter()
            .map(|(key, _)| String::from_utf8_lossy(&key[..key.len().min(3)]).into_owned())
            .collect();
        for (ki, keep) in keeps.into_iter().enumerate() {
            cases += 1;
            let disk = after_cut(&commits, whole, keep);
            match Ledger::open(disk) {
                Err(_) => refused += 1,
                Ok(l) => match l.verify(None) {
                    Err(_) => detected += 1,
                    Ok(report) => {
                        if report.size != *prior {
                            eprintln!("keep #{ki} of {n} writes {keys:?}");
                        }
                        // Accepted: it must be exactly the previous state.
                        assert_eq!(
                            report.size, *prior,
                            "torn commit {whole} accepted as new state"
                        );
                        previous_state += 1;
                    }
                },
            }
        }
    }
    eprintln!(
        "power-loss model, torn storage: {cases} torn commits: {previous_state} reopened in the \
         previous state, {refused} refused to open, {detected} reported by verify; 0 accepted a \
         partial entry"
    );
    assert!(cases > 0);
}
