//! The catalog: typed state folded once from a log's entries (as the
//! ledger's `Registry` is from key entries). Packages by `name@version`,
//! datasets per (period, source) with their supersede chain, rankings per
//! (period, package name) with the one that is current.
//!
//! The fold applies the same rules the writer applies before it appends
//! ([`Catalog::check_rules`], [`Catalog::check_input`],
//! [`Catalog::check_ranking`]): an entry that breaks them is a
//! [`ClaimProblem`], kept in [`Catalog::problems`] and left out of the
//! index. `verify` and `replay` report those problems as findings.

use std::collections::BTreeMap;

use rankproof_engine::Period;
use rankproof_ledger::{Entry, Kind};

use crate::body::{entry_time, Body, InputRecord, RankingPublish, RulesPublish};
use crate::error::ClaimProblem;
use crate::time::Timestamp;

/// A published package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    /// Its `rules.publish` entry.
    pub seq: u64,
    /// The signer's handle.
    pub signer: String,
    /// The body.
    pub body: RulesPublish,
}

/// A recorded dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRecordEntry {
    /// Its `input.record` entry.
    pub seq: u64,
    /// The signer's handle.
    pub signer: String,
    /// The body.
    pub body: InputRecord,
    /// The later record of the same period and source that replaced it.
    pub superseded_by: Option<u64>,
}

/// A published ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankingRecord {
    /// Its `ranking.publish` entry.
    pub seq: u64,
    /// The signer's handle.
    pub signer: String,
    /// Its leaf hash (hex), which also names it.
    pub leaf_hex: String,
    /// The body.
    pub body: RankingPublish,
    /// The later ranking of the same period and package that replaced it.
    pub superseded_by: Option<u64>,
}

impl RankingRecord {
    /// Whether this ranking is the authoritative one of its period and
    /// package.
    pub fn is_current(&self) -> bool {
        self.superseded_by.is_none()
    }
}

/// An entry whose informative time is earlier than a previous entry's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWarning {
    /// The entry.
    pub seq: u64,
    /// Its time.
    pub time: Timestamp,
    /// The latest earlier entry with a later time.
    pub after_seq: u64,
    /// That entry's time.
    pub after_time: Timestamp,
}

/// The catalog of one log.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    packages: BTreeMap<String, PackageRecord>,
    package_order: Vec<String>,
    inputs: BTreeMap<u64, InputRecordEntry>,
    chains: BTreeMap<(String, String), Vec<u64>>,
    rankings: BTreeMap<u64, RankingRecord>,
    current: BTreeMap<(String, String), u64>,
    problems: Vec<ClaimProblem>,
    time_warnings: Vec<TimeWarning>,
    bad_times: Vec<ClaimProblem>,
    latest_time: Option<(u64, Timestamp)>,
    next_seq: u64,
}

fn problem(seq: u64, kind: Kind, claim: impl Into<String>) -> ClaimProblem {
    ClaimProblem {
        seq,
        kind: kind.as_str(),
        claim: claim.into(),
    }
}

impl Catalog {
    /// Fold every entry of a log, in order.
    pub fn fold(entries: &[Entry]) -> Catalog {
        let mut c = Catalog::default();
        for e in entries {
            c.admit(e);
        }
        c
    }

    /// Add one entry (the next in the log). A workflow entry that breaks
    /// the rules is recorded as a problem and left out of the index.
    pub fn admit(&mut self, e: &Entry) {
        // The checks see the log as it was before this entry.
        self.next_seq = e.seq();
        self.note_time(e);
        let outcome = match e.kind() {
            Kind::RulesPublish => self.admit_rules(e),
            Kind::InputRecord => self.admit_input(e),
            Kind::RankingPublish => self.admit_ranking(e),
            _ => Ok(()),
        };
        if let Err(p) = outcome {
            self.problems.push(p);
        }
        self.next_seq = e.seq() + 1;
    }

    fn note_time(&mut self, e: &Entry) {
        match entry_time(e) {
            None => {}
            Some(Err(why)) => self.bad_times.push(problem(e.seq(), e.kind(), why)),
            Some(Ok(t)) => {
                if let Some((after_seq, after)) = &self.latest_time {
                    if t < *after {
                        self.time_warnings.push(TimeWarning {
                            seq: e.seq(),
                            time: t,
                            after_seq: *after_seq,
                            after_time: after.clone(),
                        });
                        return;
                    }
                }
                self.latest_time = Some((e.seq(), t));
            }
        }
    }

    fn admit_rules(&mut self, e: &Entry) -> Result<(), ClaimProblem> {
        let body = RulesPublish::of(e)?;
        for h in body.files.values() {
            if !e.blobs().contains(&h.0) {
                return Err(problem(
                    e.seq(),
                    e.kind(),
                    format!("file hash {h} is not one of the entry's blobs"),
                ));
            }
        }
        match self.check_rules(&body)? {
            Some(_) => Ok(()), // the same content again: nothing new
            None => {
                let id = body.id();
                self.package_order.push(id.clone());
                self.packages.insert(
                    id,
                    PackageRecord {
                        seq: e.seq(),
                        signer: e.signer().to_owned(),
                        body,
                    },
                );
                Ok(())
            }
        }
        .map_err(|p: ClaimProblem| ClaimProblem { seq: e.seq(), ..p })
    }

    /// The writer's and the verifier's rule for a `rules.publish`: a
    /// published version never changes. Returns the earlier entry when the
    /// same name, version and content is already published.
    pub fn check_rules(&self, body: &RulesPublish) -> Result<Option<u64>, ClaimProblem> {
        let seq = self.next_seq;
        period_of(
            seq,
            Kind::RulesPublish,
            "effective_from",
            &body.effective_from,
        )?;
        if let Some(until) = &body.effective_until {
            period_of(seq, Kind::RulesPublish, "effective_until", until)?;
        }
        match self.packages.get(&body.id()) {
            Some(p) if p.body.package_hash == body.package_hash => Ok(Some(p.seq)),
            Some(p) => Err(problem(
                seq,
                Kind::RulesPublish,
                format!(
                    "{} was already published as entry {} with package hash {}; this entry claims \
                     other content ({}): a published version never changes, give the package a \
                     new version",
                    body.id(),
                    p.seq,
                    p.body.package_hash,
                    body.package_hash
                ),
            )),
            None => Ok(None),
        }
    }

    fn admit_input(&mut self, e: &Entry) -> Result<(), ClaimProblem> {
        let body = InputRecord::of(e)?;
        if !e.blobs().contains(&body.dataset.0) {
            return Err(problem(
                e.seq(),
                e.kind(),
                format!("dataset {} is not one of the entry's blobs", body.dataset),
            ));
        }
        self.check_input(&body)
            .map_err(|p| ClaimProblem { seq: e.seq(), ..p })?;
        let key = (body.period.clone(), body.source.clone());
        if let Some(prev) = body.supersedes {
            if let Some(p) = self.inputs.get_mut(&prev) {
                p.superseded_by = Some(e.seq());
            }
        }
        self.chains.entry(key).or_default().push(e.seq());
        self.inputs.insert(
            e.seq(),
            InputRecordEntry {
                seq: e.seq(),
                signer: e.signer().to_owned(),
                body,
                superseded_by: None,
            },
        );
        Ok(())
    }

    /// The rule for an `input.record`: the package it names is published
    /// with that hash and in effect for the period, and `supersedes` names
    /// the record in force for the period and source (or none).
    pub fn check_input(&self, body: &InputRecord) -> Result<(), ClaimProblem> {
        let seq = self.next_seq;
        let kind = Kind::InputRecord;
        let period = period_of(seq, kind, "period", &body.period)?;
        let pkg = self.packages.get(&body.rules).ok_or_else(|| {
            problem(
                seq,
                kind,
                format!("rules {} is not a published package", body.rules),
            )
        })?;
        if pkg.body.package_hash != body.package_hash {
            return Err(problem(
                seq,
                kind,
                format!(
                    "package_hash {} differs from {}'s {} (entry {})",
                    body.package_hash, body.rules, pkg.body.package_hash, pkg.seq
                ),
            ));
        }
        if !in_effect(&pkg.body, &period) {
            return Err(problem(
                seq,
                kind,
                format!("{} is not in effect for period {period}", body.rules),
            ));
        }
        let head = self.dataset_in_force(&body.period, &body.source);
        if body.supersedes != head.map(|r| r.seq) {
            return Err(problem(
                seq,
                kind,
                format!(
                    "supersedes {} but the record in force for {}/{} is {}",
                    show_opt(body.supersedes),
                    body.period,
                    body.source,
                    show_opt(head.map(|r| r.seq))
                ),
            ));
        }
        Ok(())
    }

    fn admit_ranking(&mut self, e: &Entry) -> Result<(), ClaimProblem> {
        let body = RankingPublish::of(e)?;
        for (what, h) in [("result", &body.result), ("salts", &body.salts)] {
            if !e.blobs().contains(&h.0) {
                return Err(problem(
                    e.seq(),
                    e.kind(),
                    format!("{what} {h} is not one of the entry's blobs"),
                ));
            }
        }
        self.check_ranking(&body)
            .map_err(|p| ClaimProblem { seq: e.seq(), ..p })?;
        let key = (body.period.clone(), body.rules.name.clone());
        if let Some(prev) = body.supersedes {
            if let Some(r) = self.rankings.get_mut(&prev) {
                r.superseded_by = Some(e.seq());
            }
        }
        self.current.insert(key, e.seq());
        self.rankings.insert(
            e.seq(),
            RankingRecord {
                seq: e.seq(),
                signer: e.signer().to_owned(),
                leaf_hex: e.leaf_hash().to_hex(),
                body,
                superseded_by: None,
            },
        );
        Ok(())
    }

    /// The rule for a `ranking.publish`: every claim about the entries it
    /// cites is true (the package's name, version and hash; each dataset's
    /// hash, period and source; each input recorded before the ranking and
    /// still in force), and it supersedes exactly the current ranking of its
    /// period and package, with a reason, or there is none.
    pub fn check_ranking(&self, body: &RankingPublish) -> Result<(), ClaimProblem> {
        let seq = self.next_seq;
        let kind = Kind::RankingPublish;
        let bad = |claim: String| problem(seq, kind, claim);
        let period = period_of(seq, kind, "period", &body.period)?;
        let r = &body.rules;
        let pkg = self
            .packages
            .values()
            .find(|p| p.seq == r.entry)
            .ok_or_else(|| {
                bad(format!(
                    "rules.entry {} is not an earlier rules.publish",
                    r.entry
                ))
            })?;
        if pkg.body.name != r.name || pkg.body.version != r.version {
            return Err(bad(format!(
                "rules {} differs from {} published in entry {}",
                r.id(),
                pkg.body.id(),
                r.entry
            )));
        }
        if pkg.body.package_hash != r.package_hash {
            return Err(bad(format!(
                "rules.package_hash {} differs from entry {}'s {}",
                r.package_hash, r.entry, pkg.body.package_hash
            )));
        }
        if !in_effect(&pkg.body, &period) {
            return Err(bad(format!(
                "{} is not in effect for period {period}",
                r.id()
            )));
        }
        if body.inputs.is_empty() {
            return Err(bad("cites no input".into()));
        }
        for (source, inp) in &body.inputs {
            if inp.entry >= seq {
                return Err(bad(format!(
                    "inputs.{source}.entry {} is recorded after the ranking",
                    inp.entry
                )));
            }
            let rec = self.inputs.get(&inp.entry).ok_or_else(|| {
                bad(format!(
                    "inputs.{source}.entry {} is not an earlier input.record",
                    inp.entry
                ))
            })?;
            if rec.body.period != body.period {
                return Err(bad(format!(
                    "inputs.{source}.entry {} was recorded for period {}, not {}",
                    inp.entry, rec.body.period, body.period
                )));
            }
            if &rec.body.source != source {
                return Err(bad(format!(
                    "inputs.{source}.entry {} was recorded for source {}",
                    inp.entry, rec.body.source
                )));
            }
            if rec.body.dataset != inp.dataset {
                return Err(bad(format!(
                    "inputs.{source}.dataset {} differs from entry {}'s dataset {}",
                    inp.dataset, inp.entry, rec.body.dataset
                )));
            }
            if let Some(later) = rec.superseded_by {
                return Err(bad(format!(
                    "inputs.{source}.entry {} was already superseded by entry {later}",
                    inp.entry
                )));
            }
        }
        let current = self.current_ranking(&body.period, &r.name);
        match (current, body.supersedes) {
            (None, None) => {}
            (Some(c), None) => {
                return Err(bad(format!(
                    "ranking {} is already current for {} under {}; a new one must supersede it \
                     with a reason",
                    c.seq, body.period, r.name
                )))
            }
            (c, Some(s)) if c.map(|c| c.seq) != Some(s) => {
                return Err(bad(format!(
                    "supersedes {s}, but the current ranking of {} under {} is {}",
                    body.period,
                    r.name,
                    show_opt(c.map(|c| c.seq))
                )))
            }
            (_, Some(_)) => {
                if body.reason.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    return Err(bad("supersedes a ranking without a reason".into()));
                }
            }
        }
        if body.supersedes.is_none() && body.reason.is_some() {
            return Err(bad("gives a reason but supersedes nothing".into()));
        }
        Ok(())
    }

    /// The false claims found, in log order.
    pub fn problems(&self) -> &[ClaimProblem] {
        &self.problems
    }

    /// `time` members that do not parse (a finding).
    pub fn bad_times(&self) -> &[ClaimProblem] {
        &self.bad_times
    }

    /// Entries whose time is earlier than a previous entry's (informative).
    pub fn time_warnings(&self) -> &[TimeWarning] {
        &self.time_warnings
    }

    /// Published packages in log order.
    pub fn packages(&self) -> impl Iterator<Item = &PackageRecord> {
        self.package_order
            .iter()
            .filter_map(|id| self.packages.get(id))
    }

    /// A published package by `name@version`.
    pub fn package(&self, id: &str) -> Option<&PackageRecord> {
        self.packages.get(id)
    }

    /// A published package by its entry.
    pub fn package_at(&self, seq: u64) -> Option<&PackageRecord> {
        self.packages.values().find(|p| p.seq == seq)
    }

    /// Every recorded dataset in log order, optionally of one period.
    pub fn inputs<'a>(
        &'a self,
        period: Option<&'a str>,
    ) -> impl Iterator<Item = &'a InputRecordEntry> + 'a {
        self.inputs
            .values()
            .filter(move |r| period.is_none_or(|p| r.body.period == p))
    }

    /// A recorded dataset by its entry.
    pub fn input(&self, seq: u64) -> Option<&InputRecordEntry> {
        self.inputs.get(&seq)
    }

    /// The record in force for (period, source): the last of its chain.
    pub fn dataset_in_force(&self, period: &str, source: &str) -> Option<&InputRecordEntry> {
        self.chains
            .get(&(period.to_owned(), source.to_owned()))
            .and_then(|c| c.last())
            .and_then(|s| self.inputs.get(s))
    }

    /// The supersede chain of (period, source), oldest first.
    pub fn chain(&self, period: &str, source: &str) -> &[u64] {
        self.chains
            .get(&(period.to_owned(), source.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// Every published ranking in log order, optionally of one period.
    pub fn rankings<'a>(
        &'a self,
        period: Option<&'a str>,
    ) -> impl Iterator<Item = &'a RankingRecord> + 'a {
        self.rankings
            .values()
            .filter(move |r| period.is_none_or(|p| r.body.period == p))
    }

    /// A published ranking by its entry.
    pub fn ranking(&self, seq: u64) -> Option<&RankingRecord> {
        self.rankings.get(&seq)
    }

    /// The current ranking of a period under a package name.
    pub fn current_ranking(&self, period: &str, package_name: &str) -> Option<&RankingRecord> {
        self.current
            .get(&(period.to_owned(), package_name.to_owned()))
            .and_then(|s| self.rankings.get(s))
    }

    /// Find a ranking by entry number or by 4+ hex digits of its leaf hash.
    pub fn find_ranking(&self, id: &str) -> Result<&RankingRecord, String> {
        if let Ok(seq) = id.parse::<u64>() {
            return self.rankings.get(&seq).ok_or_else(|| {
                format!("entry {seq} is not a published ranking; see `rankproof ranking list`")
            });
        }
        let prefix = id.to_ascii_lowercase();
        if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(
                "a ranking is named by its entry number or by 4+ hex digits of its entry hash"
                    .into(),
            );
        }
        let hits: Vec<&RankingRecord> = self
            .rankings
            .values()
            .filter(|r| r.leaf_hex.starts_with(&prefix))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(format!(
                "no published ranking has an entry hash starting {prefix}"
            )),
            _ => Err(format!(
                "{prefix} names {} rankings; give more digits",
                hits.len()
            )),
        }
    }

    /// The sequence number the next entry will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

fn period_of(seq: u64, kind: Kind, member: &str, s: &str) -> Result<Period, ClaimProblem> {
    s.parse::<Period>()
        .map_err(|e| problem(seq, kind, format!("{member}: {e}")))
}

/// Whether a package's declared span holds `period` (the rule the engine
/// applies to a loaded package, here from the signed body).
pub fn in_effect(body: &RulesPublish, period: &Period) -> bool {
    let from = body.effective_from.parse::<Period>();
    let until = body.effective_until.as_deref().map(str::parse::<Period>);
    match (from, until) {
        (Ok(f), None) => f.first_month() <= period.first_month(),
        (Ok(f), Some(Ok(u))) => {
            f.first_month() <= period.first_month() && period.last_month() <= u.last_month()
        }
        _ => false,
    }
}

fn show_opt(s: Option<u64>) -> String {
    s.map_or_else(|| "none".to_owned(), |s| format!("entry {s}"))
}
