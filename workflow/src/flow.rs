//! The product's verbs. [`View`] reads a log (a ledger or a bundle);
//! [`Workflow`] holds one open ledger and writes to it.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use rankproof_engine::{CaseOutcome, Dataset, Period, Ranking, RulePackage, SourceName};
use rankproof_ledger::{receipt, Blob, Entry, Hash, Kind, Ledger, SecretKey, Storage};

use crate::body::{
    Body, EngineInfo, FileInfo, HexHash, InputRecord, InputRef, RankingPublish, RulesPublish,
    RulesRef,
};
use crate::catalog::{Catalog, InputRecordEntry, PackageRecord, RankingRecord, TimeWarning};
use crate::error::{ClaimProblem, Result, WorkflowError};
use crate::log::LogSource;
use crate::replay::{diff_records, Mismatch};
use crate::resultdoc::{Header, ResultDoc, StaffRecord};
use crate::results::{root_of, PublishedResults, Salts};
use crate::time::{Clock, SystemClock};

/// A read-only view of one log: its entries and their catalog.
pub struct View<L: LogSource> {
    src: L,
    entries: Vec<Entry>,
    catalog: Catalog,
}

/// The datasets of one ranking, read from the log.
#[derive(Debug)]
pub struct Materials {
    /// The package's `rules.publish` entry.
    pub rules_seq: u64,
    /// The package.
    pub package: RulePackage,
    /// Source → dataset.
    pub datasets: BTreeMap<SourceName, Dataset>,
    /// Source → the record it came from.
    pub inputs: BTreeMap<String, InputRef>,
}

/// A dry recomputation from the log (nothing written).
#[derive(Debug)]
pub struct DryRank {
    /// The ranking.
    pub ranking: Ranking,
    /// Its canonical result document.
    pub doc: ResultDoc,
    /// The materials' references.
    pub rules: RulesRef,
    /// Source → the record used.
    pub inputs: BTreeMap<String, InputRef>,
    /// When a published ranking of the period and package is current and
    /// its materials differ from these: its seq and what differs.
    pub differs_from_current: Option<(u64, Vec<String>)>,
}

/// The replay of one ranking.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// The ranking's seq.
    pub seq: u64,
    /// Its period.
    pub period: String,
    /// `name@version`.
    pub rules: String,
    /// Number of staff.
    pub n: u64,
    /// The published result hash.
    pub result: String,
    /// Whether it is the current ranking of its period and package.
    pub current: bool,
    /// What differs (empty: it replays byte for byte).
    pub mismatches: Vec<Mismatch>,
}

/// What `verify` finds beyond signatures and proofs.
#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    /// False claims of workflow entries (findings).
    pub problems: Vec<ClaimProblem>,
    /// Times that go backwards (informative).
    pub time_warnings: Vec<TimeWarning>,
    /// Packages whose own cases were run.
    pub packages_checked: usize,
    /// Workflow entries checked.
    pub workflow_entries: usize,
}

/// One staff member's published result with its ranking.
#[derive(Debug, Clone)]
pub struct Explained<'a> {
    /// The ranking.
    pub ranking: &'a RankingRecord,
    /// The result document's header.
    pub header: Header,
    /// The staff member's record.
    pub record: StaffRecord,
}

impl<L: LogSource> View<L> {
    /// Read every entry of `src` and fold the catalog.
    pub fn open(src: L) -> Result<View<L>> {
        let entries = src.read_entries()?;
        let catalog = Catalog::fold(&entries);
        Ok(View {
            src,
            entries,
            catalog,
        })
    }

    /// The log.
    pub fn source(&self) -> &L {
        &self.src
    }

    /// Every entry, in log order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Load a published package from its blobs; the files must hash to the
    /// recorded package hash.
    pub fn load_package(&self, rec: &PackageRecord) -> Result<RulePackage> {
        let mut files = BTreeMap::new();
        for (path, h) in &rec.body.files {
            files.insert(path.clone(), self.src.blob(&h.0)?);
        }
        let pkg = RulePackage::from_files(files).map_err(|e| {
            WorkflowError::tampered(format!(
                "the package published in entry {} does not load: {e}",
                rec.seq
            ))
        })?;
        if HexHash(Hash(pkg.hash())) != rec.body.package_hash {
            return Err(WorkflowError::tampered(format!(
                "entry {}: the stored files do not hash to the recorded package hash",
                rec.seq
            )));
        }
        Ok(pkg)
    }

    /// A published package by `NAME@VERSION`.
    pub fn package(&self, id: &str) -> Result<(&PackageRecord, RulePackage)> {
        if !id.contains('@') {
            return Err(WorkflowError::refused(format!(
                "name a published package as NAME@VERSION, e.g. marketing@1.0.0, not {id:?} \
                 (see `rankproof rules list`)"
            )));
        }
        let rec = self.catalog.package(id).ok_or_else(|| {
            let known: Vec<String> = self.catalog.packages().map(|p| p.body.id()).collect();
            WorkflowError::NotFound(format!(
                "no published rule package {id}; published: {}",
                if known.is_empty() {
                    "none (publish one with `rankproof rules publish`)".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        Ok((rec, self.load_package(rec)?))
    }

    /// The published packages in effect for `period` that name `source`.
    pub fn packages_for(&self, period: &Period, source: &str) -> Result<Vec<&PackageRecord>> {
        let mut out = Vec::new();
        for rec in self.catalog.packages() {
            if !crate::catalog::in_effect(&rec.body, period) {
                continue;
            }
            let pkg = self.load_package(rec)?;
            if pkg.source(source).is_some() {
                out.push(rec);
            }
        }
        Ok(out)
    }

    /// Parse a recorded dataset with `schema`; it must be in canonical form.
    pub fn dataset(
        &self,
        rec: &InputRecordEntry,
        schema: &rankproof_engine::SourceSchema,
    ) -> Result<Dataset> {
        let bytes = self.src.blob(&rec.body.dataset.0)?;
        recorded_dataset(rec, schema, &bytes)
    }

    /// The materials of a ranking of `period` under a package: the datasets
    /// `chosen` (a published ranking's), or those in force.
    pub fn materials(
        &self,
        rec: &PackageRecord,
        package: RulePackage,
        period: &Period,
        chosen: Option<&BTreeMap<String, InputRef>>,
    ) -> Result<Materials> {
        let p = period.to_string();
        let mut chosen_inputs = Vec::new();
        for (source, schema) in package.sources() {
            let input = match chosen {
                Some(c) => {
                    let r = c.get(source.as_str()).ok_or_else(|| {
                        WorkflowError::tampered(format!(
                            "the ranking names no dataset for source `{source}`"
                        ))
                    })?;
                    self.catalog.input(r.entry).ok_or_else(|| {
                        WorkflowError::tampered(format!("entry {} is not an input.record", r.entry))
                    })?
                }
                None => self
                    .catalog
                    .dataset_in_force(&p, source.as_str())
                    .ok_or_else(|| {
                        WorkflowError::NotFound(format!(
                            "no dataset recorded for source `{source}` in period {period}; record \
                             one with `rankproof input record --period {period} --source {source} \
                             FILE`"
                        ))
                    })?,
            };
            chosen_inputs.push((source, schema, input));
        }
        // The blobs are read in turn (a log source is not shared between
        // threads), then opened (decompressed, checked) and parsed in
        // parallel; the first error in source order is reported.
        use rayon::prelude::*;
        let fetched = chosen_inputs
            .iter()
            .map(|(_, _, input)| self.src.fetch(&input.body.dataset.0))
            .collect::<Result<Vec<_>>>()?;
        let read: Vec<Result<Dataset>> = chosen_inputs
            .par_iter()
            .zip(fetched)
            .map(|((_, schema, input), blob)| recorded_dataset(input, schema, &blob.open()?))
            .collect();
        let mut datasets = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        for ((source, _, input), d) in chosen_inputs.iter().zip(read) {
            datasets.insert((*source).clone(), d?);
            inputs.insert(
                source.to_string(),
                InputRef {
                    dataset: input.body.dataset,
                    entry: input.seq,
                },
            );
        }
        Ok(Materials {
            rules_seq: rec.seq,
            package,
            datasets,
            inputs,
        })
    }

    /// A recorded dataset read again from its stored original file (with
    /// the reader's defaults), labelled `file (entry N)`; `None` when that
    /// does not read.
    fn original(
        &self,
        rec: &InputRecordEntry,
        schema: &rankproof_engine::SourceSchema,
    ) -> Option<Dataset> {
        let bytes = self.src.blob(&rec.body.file.sha256.0).ok()?;
        let label = format!("{} (entry {})", rec.body.file.name, rec.seq);
        Dataset::read(&bytes, &label, &Default::default(), schema)
            .ok()
            .map(|(d, _)| d)
    }

    /// Validate a source's export for a period exactly as
    /// [`Workflow::record_input`] does, without writing anything (and
    /// without a key): the package (named, or the one in effect that names
    /// the source), the reader, and the check against the other sources
    /// recorded for the period.
    pub fn check_input(&self, req: &RecordRequest) -> Result<Checked> {
        let period = req.period;
        let rec = match &req.rules {
            Some(id) => self.package(id)?.0.clone(),
            None => {
                let found = self.packages_for(&period, &req.source)?;
                match found.as_slice() {
                    [one] => (*one).clone(),
                    [] => {
                        return Err(WorkflowError::NotFound(format!(
                            "no published rule package in effect for {period} names a source \
                             `{}`; publish one first or name one with --rules NAME@VERSION",
                            req.source
                        )))
                    }
                    many => {
                        return Err(WorkflowError::refused(format!(
                            "{} published packages in effect for {period} name the source `{}` \
                             ({}); say which one validates this file with --rules NAME@VERSION",
                            many.len(),
                            req.source,
                            many.iter()
                                .map(|p| p.body.id())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )))
                    }
                }
            }
        };
        let pkg = self.load_package(&rec)?;
        if !pkg.is_effective(&period) {
            return Err(WorkflowError::refused(format!(
                "{} is in effect from {}{}; period {period} is outside it",
                pkg.id(),
                pkg.effective_from(),
                pkg.effective_until()
                    .map(|p| format!(" until {p}"))
                    .unwrap_or_default()
            )));
        }
        let schema = pkg.source(&req.source).ok_or_else(|| {
            WorkflowError::refused(format!(
                "{} has no source `{}` (sources: {})",
                pkg.id(),
                req.source,
                pkg.sources()
                    .keys()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let p = period.to_string();
        // The other sources already recorded for the period (under the
        // package's schemas): staff missing from one of them, or IDs that
        // differ only by case or width, are named all at once.
        let mut recs = Vec::new();
        for (src, other_schema) in pkg.sources() {
            if src.as_str() == req.source {
                continue;
            }
            if let Some(rec) = self.catalog.dataset_in_force(&p, src.as_str()) {
                recs.push((rec, other_schema));
            }
        }
        // Their stored bytes are read in turn (a log source is not shared
        // between threads); the new file and the recorded datasets are then
        // parsed side by side. The new file's problems come first, then the
        // first recorded dataset's (or its blob's) in source order.
        use rayon::prelude::*;
        let blobs: Vec<Result<Vec<u8>>> = recs
            .iter()
            .map(|(rec, _)| self.src.blob(&rec.body.dataset.0))
            .collect();
        let (read, parsed) = rayon::join(
            || Dataset::read(&req.bytes, &req.file_name, &req.options, schema),
            || {
                recs.par_iter()
                    .zip(&blobs)
                    .map(|((rec, schema), blob)| {
                        let bytes = blob.as_ref().ok()?;
                        Some(recorded_dataset(rec, schema, bytes))
                    })
                    .collect::<Vec<Option<Result<Dataset>>>>()
            },
        );
        let (d, read_report) = read?;
        let mut others = Vec::with_capacity(recs.len());
        for (blob, dataset) in blobs.into_iter().zip(parsed) {
            blob?;
            // A blob that was read was parsed.
            if let Some(dataset) = dataset {
                others.push(dataset?);
            }
        }
        let checked_against = recs
            .iter()
            .map(|(r, _)| (r.body.source.clone(), r.seq))
            .collect();
        let policy = pkg.missing_staff();
        let cross =
            match rankproof_engine::cross_check(&d, &others.iter().collect::<Vec<_>>(), policy) {
                Ok(c) => c,
                Err(problems) => {
                    // Name the other sources' findings by their files' own lines:
                    // read each recorded original again (it must give the
                    // recorded dataset; otherwise its canonical rows are named).
                    let located: Vec<Dataset> = recs
                        .iter()
                        .zip(others)
                        .map(|((rec, schema), canonical)| {
                            self.original(rec, schema)
                                .map(|mut o| {
                                    o.set_salt(canonical.salt());
                                    o
                                })
                                .filter(|o| o.sha256() == canonical.sha256())
                                .unwrap_or(canonical)
                        })
                        .collect();
                    let again = rankproof_engine::cross_check(
                        &d,
                        &located.iter().collect::<Vec<_>>(),
                        policy,
                    );
                    return Err(WorkflowError::CrossSource(again.err().unwrap_or(problems)));
                }
            };
        let mut report = read_report.to_string();
        if !cross.excluded.is_empty() {
            let who: Vec<String> = cross
                .excluded
                .iter()
                .map(|e| {
                    let from: Vec<&str> = e.missing_from.iter().map(|s| s.as_str()).collect();
                    format!("{} (missing from {})", e.staff_id, from.join(", "))
                })
                .collect();
            report.push_str(&format!(
                "; {} staff missing from another source are not eligible this period \
                 ([join] missing_staff = \"exclude\"): {}",
                who.len(),
                who.join(", ")
            ));
        }
        // The same rows as the dataset in force for the period and source:
        // under that dataset's salt, the same hash.
        let mut d = d;
        let mut already = None;
        if let Some(prev) = self.catalog.dataset_in_force(&p, &req.source) {
            d.set_salt(self.dataset(prev, schema)?.salt());
            if prev.body.dataset.0 .0 == d.sha256() {
                already = Some(prev.seq);
            }
            d.set_salt(None);
        }
        Ok(Checked {
            package_id: pkg.id(),
            rules: pkg,
            package: rec,
            rows: d.n_rows() as u64,
            already,
            dataset: d,
            report,
            excluded: cross.excluded,
            checked_against,
        })
    }

    /// Recompute a ranking of `period` under `rules` from the log's
    /// materials in force; nothing is written.
    pub fn dry_rank(&self, period: &Period, rules: &str) -> Result<DryRank> {
        self.rank_with_nonce(period, rules, None)
    }

    /// [`View::dry_rank`], with the ranking nonce a publication writes into
    /// the result document (`None`: a dry run, no nonce member).
    fn rank_with_nonce(
        &self,
        period: &Period,
        rules: &str,
        nonce: Option<String>,
    ) -> Result<DryRank> {
        let (rec, package) = self.package(rules)?;
        if !package.is_effective(period) {
            return Err(WorkflowError::refused(format!(
                "{rules} is not in effect for period {period}"
            )));
        }
        let m = self.materials(rec, package, period, None)?;
        let mut ranking = rankproof_engine::rank(&m.package, &m.datasets, period)?;
        ranking.nonce = nonce;
        let (bytes, spans) = ranking.canonical_bytes_and_spans();
        let doc = ResultDoc::from_spans(bytes, spans).map_err(WorkflowError::refused)?;
        let rules_ref = RulesRef {
            name: rec.body.name.clone(),
            version: rec.body.version.clone(),
            package_hash: rec.body.package_hash,
            entry: rec.seq,
        };
        let differs_from_current = self
            .catalog
            .current_ranking(&period.to_string(), &rec.body.name)
            .and_then(|cur| {
                let diff = differences(&cur.body, &rules_ref, &m.inputs);
                (!diff.is_empty()).then_some((cur.seq, diff))
            });
        Ok(DryRank {
            ranking,
            doc,
            rules: rules_ref,
            inputs: m.inputs,
            differs_from_current,
        })
    }

    /// A published ranking by entry number or leaf-hash prefix.
    pub fn ranking(&self, id: &str) -> Result<&RankingRecord> {
        self.catalog
            .find_ranking(id)
            .map_err(WorkflowError::NotFound)
    }

    /// A published ranking's stored results, checked against its entry.
    pub fn published_results(&self, r: &RankingRecord) -> Result<PublishedResults> {
        let doc = self.src.blob(&r.body.result.0)?;
        let salts = self.src.blob(&r.body.salts.0)?;
        PublishedResults::check(r.seq, &r.body, doc, &salts)
    }

    /// One staff member's published result.
    pub fn explain(&self, ranking: &str, staff: &str) -> Result<Explained<'_>> {
        let r = self.ranking(ranking)?;
        let published = self.published_results(r)?;
        let idx = staff_index(&published, r.seq, staff)?;
        let record = published.doc.record(idx).map_err(WorkflowError::tampered)?;
        Ok(Explained {
            ranking: r,
            header: published.doc.header().clone(),
            record,
        })
    }

    /// Recompute one published ranking from its recorded rules and inputs
    /// and compare byte for byte.
    pub fn replay(&self, r: &RankingRecord) -> ReplayReport {
        let mismatches = match self.replay_mismatches(r) {
            Ok(m) => m,
            Err(e) => vec![Mismatch::Materials(e.to_string())],
        };
        ReplayReport {
            seq: r.seq,
            period: r.body.period.clone(),
            rules: r.body.rules.id(),
            n: r.body.n,
            result: r.body.result.to_hex(),
            current: r.is_current(),
            mismatches,
        }
    }

    fn replay_mismatches(&self, r: &RankingRecord) -> Result<Vec<Mismatch>> {
        let rec = self.catalog.package_at(r.body.rules.entry).ok_or_else(|| {
            WorkflowError::tampered(format!(
                "entry {} is not a published package",
                r.body.rules.entry
            ))
        })?;
        let package = self.load_package(rec)?;
        let period: Period = r
            .body
            .period
            .parse()
            .map_err(|e| WorkflowError::tampered(format!("ranking {}: {e}", r.seq)))?;
        let m = self.materials(rec, package, &period, Some(&r.body.inputs))?;
        let salts = Salts::parse(&self.src.blob(&r.body.salts.0)?)?;
        let mut ranking = rankproof_engine::rank(&m.package, &m.datasets, &period)?;
        ranking.nonce = Some(salts.nonce_hex());
        let (bytes, spans) = ranking.canonical_bytes_and_spans();
        let mut out = Vec::new();
        let replayed = Hash::of(&bytes);
        let doc = ResultDoc::from_spans(bytes, spans).map_err(WorkflowError::tampered)?;
        if replayed != r.body.result.0 {
            out.push(Mismatch::ResultHash {
                published: r.body.result.to_hex(),
                replayed: replayed.to_hex(),
            });
            match self
                .src
                .blob(&r.body.result.0)
                .and_then(|b| ResultDoc::parse(b).map_err(WorkflowError::tampered))
            {
                Ok(stored) => out.extend(diff_records(
                    (0..stored.len()).filter_map(|i| stored.record_json(i).ok()),
                    (0..doc.len()).filter_map(|i| doc.record_json(i).ok()),
                )),
                Err(e) => out.push(Mismatch::Materials(format!(
                    "cannot read the published result: {e}"
                ))),
            }
        }
        match root_of(&doc, &salts) {
            Ok(root) if root == r.body.results_root.0 => {}
            _ => out.push(Mismatch::ResultsRoot),
        }
        Ok(out)
    }

    /// Check what the signed workflow entries claim, with the writer's
    /// rules, and run every published package's own cases.
    pub fn audit(&self) -> AuditReport {
        let mut problems: Vec<ClaimProblem> = self.catalog.problems().to_vec();
        problems.extend(self.catalog.bad_times().iter().cloned());
        let mut checked = 0;
        // The packages that load, by their entry, for the claims below.
        let mut loaded: BTreeMap<u64, RulePackage> = BTreeMap::new();
        for rec in self.catalog.packages() {
            checked += 1;
            let claim = match self.load_package(rec) {
                Err(e) => Some(e.to_string()),
                Ok(pkg) => {
                    let claim = cases_problem(&pkg);
                    loaded.insert(rec.seq, pkg);
                    claim
                }
            };
            if let Some(claim) = claim {
                problems.push(ClaimProblem {
                    seq: rec.seq,
                    kind: Kind::RulesPublish.as_str(),
                    claim,
                });
            }
        }
        problems.extend(self.package_claims(&loaded));
        problems.sort_by_key(|p| p.seq);
        AuditReport {
            problems,
            time_warnings: self.catalog.time_warnings().to_vec(),
            packages_checked: checked,
            workflow_entries: self
                .entries
                .iter()
                .filter(|e| {
                    matches!(
                        e.kind(),
                        Kind::RulesPublish | Kind::InputRecord | Kind::RankingPublish
                    )
                })
                .count(),
        }
    }
}

impl<L: LogSource> View<L> {
    /// The claims that need a package's contents: an `input.record`'s
    /// `schema` is the one its package declares for the source, and a
    /// `ranking.publish` cites exactly one input for each source of its
    /// package (no more, no fewer). Packages that do not load are reported
    /// by their own entry already.
    fn package_claims(&self, loaded: &BTreeMap<u64, RulePackage>) -> Vec<ClaimProblem> {
        let mut out = Vec::new();
        for rec in self.catalog.inputs(None) {
            let Some(pkg) = self
                .catalog
                .package(&rec.body.rules)
                .and_then(|p| loaded.get(&p.seq))
            else {
                continue;
            };
            let claim = match pkg.source(&rec.body.source) {
                None => Some(format!(
                    "source {} is not a source of {}",
                    rec.body.source, rec.body.rules
                )),
                Some(schema) if schema.to_json() != rec.body.schema => Some(format!(
                    "schema differs from the schema {} declares for source {}",
                    rec.body.rules, rec.body.source
                )),
                Some(_) => None,
            };
            if let Some(claim) = claim {
                out.push(ClaimProblem {
                    seq: rec.seq,
                    kind: Kind::InputRecord.as_str(),
                    claim,
                });
            }
        }
        for r in self.catalog.rankings(None) {
            let Some(pkg) = loaded.get(&r.body.rules.entry) else {
                continue;
            };
            let declared: Vec<&str> = pkg.sources().keys().map(|s| s.as_str()).collect();
            let cited: Vec<&str> = r.body.inputs.keys().map(|s| s.as_str()).collect();
            if declared != cited {
                out.push(ClaimProblem {
                    seq: r.seq,
                    kind: Kind::RankingPublish.as_str(),
                    claim: format!(
                        "inputs cite sources [{}] but {} declares [{}]",
                        cited.join(", "),
                        r.body.rules.id(),
                        declared.join(", ")
                    ),
                });
            }
        }
        out
    }
}

/// A recorded dataset parsed from its stored bytes, which the log source
/// checked to hash to the entry's dataset hash. They must be exactly the
/// canonical form (`from_canonical` checks that), so the dataset's hash is
/// the entry's without writing the canonical form again.
fn recorded_dataset(
    rec: &InputRecordEntry,
    schema: &rankproof_engine::SourceSchema,
    bytes: &[u8],
) -> Result<Dataset> {
    let label = format!("dataset {} (entry {})", rec.body.dataset, rec.seq);
    let d = match Dataset::from_canonical(bytes, schema, &label) {
        Ok(d) => d,
        Err(_) => {
            // Not canonical: say why the bytes do not read at all, or
            // that they read but are not the canonical form.
            Dataset::parse(schema, &label, bytes)?;
            return Err(WorkflowError::tampered(format!(
                "{label}: the stored dataset is not in canonical form"
            )));
        }
    };
    if d.salt().is_none() {
        return Err(WorkflowError::tampered(format!(
            "{label}: the recorded dataset has no salt (RULES.md section 6: every recorded \
                 dataset carries one, so that its hash reveals nothing)"
        )));
    }
    Ok(d)
}

/// Where `staff` is in a published ranking's results, or why they are not
/// (excluded as not eligible, or not in it).
fn staff_index(published: &PublishedResults, seq: u64, staff: &str) -> Result<usize> {
    published
        .doc
        .find(staff)
        .ok_or_else(|| match published.doc.header().excluded(staff) {
            Some(from) => WorkflowError::NotFound(format!(
                "staff {staff} is not in ranking {seq}: excluded as not eligible, missing from \
                 source {} ([join] missing_staff = \"exclude\")",
                from.join(", ")
            )),
            None => WorkflowError::NotFound(format!("staff {staff} is not in ranking {seq}")),
        })
}

/// Why a package may not be (or should not have been) published: it has
/// no test cases, or some fail. `None` when its cases all pass.
pub fn cases_problem(pkg: &RulePackage) -> Option<String> {
    let reports = pkg.run_tests();
    if reports.is_empty() {
        return Some(format!(
            "{} has no test cases (add tests/<case>/expected.json); a package is published only \
             with cases that pass",
            pkg.id()
        ));
    }
    let failed: Vec<String> = reports
        .into_iter()
        .filter(|r| !matches!(r.outcome, CaseOutcome::Pass))
        .map(|r| r.name)
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "{}: the package's own test cases fail ({})",
            pkg.id(),
            failed.join(", ")
        )
    })
}

/// What differs between a published ranking's materials and these.
fn differences(
    published: &RankingPublish,
    rules: &RulesRef,
    inputs: &BTreeMap<String, InputRef>,
) -> Vec<String> {
    let mut out = Vec::new();
    if published.rules.entry != rules.entry {
        out.push(format!(
            "rules: {} (entry {}) instead of {} (entry {})",
            rules.id(),
            rules.entry,
            published.rules.id(),
            published.rules.entry
        ));
    }
    for (source, r) in inputs {
        match published.inputs.get(source) {
            Some(p) if p == r => {}
            Some(p) => out.push(format!(
                "{source}: entry {} instead of entry {}",
                r.entry, p.entry
            )),
            None => out.push(format!("{source}: entry {} (not used before)", r.entry)),
        }
    }
    out
}

/// What `rules publish` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesOutcome {
    /// Written as a new entry.
    Published {
        /// Its seq.
        seq: u64,
        /// `name@version`.
        id: String,
        /// The package hash.
        hash: String,
        /// Number of files.
        n_files: usize,
    },
    /// The same name, version and content is already published: nothing
    /// written.
    AlreadyPublished {
        /// The earlier entry.
        seq: u64,
        /// `name@version`.
        id: String,
    },
}

/// A dataset to record.
#[derive(Debug, Clone)]
pub struct RecordRequest {
    /// The period.
    pub period: Period,
    /// The source.
    pub source: String,
    /// The file name as given (recorded, informative).
    pub file_name: String,
    /// The exported file's bytes.
    pub bytes: Vec<u8>,
    /// The package to validate against (`NAME@VERSION`); default: the one
    /// published package in effect that names the source.
    pub rules: Option<String>,
    /// How to read the file (encoding, sheet, delimiter; default: detect).
    pub options: rankproof_engine::ReadOptions,
}

/// A file validated for a period and source; nothing written.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The package that validated it.
    pub package: PackageRecord,
    /// That package, loaded (recording uses it without loading it again).
    pub rules: RulePackage,
    /// Its `name@version`.
    pub package_id: String,
    /// The canonical dataset.
    pub dataset: Dataset,
    /// Its rows.
    pub rows: u64,
    /// The entry of the dataset in force for the period and source when it
    /// has exactly these rows (recording would write nothing).
    pub already: Option<u64>,
    /// What the reader detected and did, and who is not eligible.
    pub report: String,
    /// Staff missing from another recorded source (only under
    /// `missing_staff = "exclude"`).
    pub excluded: Vec<rankproof_engine::Excluded>,
    /// The other sources recorded for the period it was checked against:
    /// (source, entry).
    pub checked_against: Vec<(String, u64)>,
}

impl Checked {
    /// The hash (hex) of its rows without a salt; recording adds a fresh
    /// secret salt, so the recorded dataset's hash differs (RULES.md §6).
    /// Computed when asked for: recording never needs it.
    pub fn dataset_hash(&self) -> String {
        let mut d = self.dataset.clone();
        d.set_salt(None);
        d.sha256_hex()
    }
}

/// What `input record` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Written as a new entry.
    Recorded {
        /// Its seq.
        seq: u64,
        /// The package that validated it.
        package: String,
        /// Rows.
        rows: u64,
        /// The canonical dataset hash.
        dataset: String,
        /// The record it supersedes: (seq, dataset hash).
        supersedes: Option<(u64, String)>,
        /// What the reader detected and did (e.g. "read CSV as GB18030").
        report: String,
    },
    /// The same dataset is already in force: nothing written.
    AlreadyRecorded {
        /// The record in force.
        seq: u64,
        /// The package that validated it now.
        package: String,
    },
}

/// A deliberate re-run: the ranking it replaces and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supersede {
    /// The current ranking.
    pub ranking: u64,
    /// Why it is replaced.
    pub reason: String,
}

/// What publishing a ranking did.
#[derive(Debug)]
pub enum PublishOutcome {
    /// Written as a new entry.
    Published {
        /// Its seq.
        seq: u64,
        /// The ranking it superseded.
        supersedes: Option<u64>,
        /// The ranking and its document.
        dry: Box<DryRank>,
    },
    /// The current ranking of the period and package has exactly these
    /// materials: nothing written.
    Unchanged {
        /// The current ranking.
        seq: u64,
    },
}

/// A staff ID and its receipt's bytes.
pub type StaffReceipt = (String, Vec<u8>);

/// One open ledger and the verbs that write to it.
pub struct Workflow<S: Storage> {
    view: View<Ledger<S>>,
    clock: Box<dyn Clock>,
}

impl<S: Storage> Deref for Workflow<S> {
    type Target = View<Ledger<S>>;
    fn deref(&self) -> &Self::Target {
        &self.view
    }
}

impl<S: Storage> Workflow<S> {
    /// Hold `ledger` (attach its log key first to write).
    pub fn open(ledger: Ledger<S>) -> Result<Workflow<S>> {
        Ok(Workflow {
            view: View::open(ledger)?,
            clock: Box::new(SystemClock),
        })
    }

    /// Use another clock for the informative times of new entries.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Workflow<S> {
        self.clock = Box::new(clock);
        self
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger<S> {
        &self.view.src
    }

    /// The ledger, mutably (key grants and revocations).
    pub fn ledger_mut(&mut self) -> &mut Ledger<S> {
        &mut self.view.src
    }

    /// Re-read the entries after writes made through [`Workflow::ledger_mut`].
    pub fn refresh(&mut self) -> Result<()> {
        self.view.entries = self.view.src.read_entries()?;
        self.view.catalog = Catalog::fold(&self.view.entries);
        Ok(())
    }

    /// Give the ledger back.
    pub fn into_ledger(self) -> Ledger<S> {
        self.view.src
    }

    /// `key` may sign an entry of `kind` now: the check an append makes
    /// (role, revocation, and the registered key is this very key), for
    /// the paths that end without appending.
    pub fn authorize(&self, key: &SecretKey, kind: Kind) -> Result<()> {
        let registered = self
            .ledger()
            .registry()
            .authorize(&key.verifier().handle(), kind)
            .map_err(|e| WorkflowError::Ledger(e.into()))?;
        if registered != key.verifier() {
            return Err(WorkflowError::refused(format!(
                "{} is not the key registered under {}; nothing was written",
                key.verifier(),
                key.verifier().handle()
            )));
        }
        Ok(())
    }

    fn append<B: Body>(&mut self, body: &B, blobs: Vec<Blob>, key: &SecretKey) -> Result<Entry> {
        let added = self.view.src.append(B::KIND, body.to_map(), blobs, key)?;
        self.view.catalog.admit(&added.entry);
        self.view.entries.push(added.entry.clone());
        Ok(added.entry)
    }

    /// Publish a rule package (its files by relative path). Its own cases
    /// must exist and pass; a published version never changes.
    pub fn publish_rules(
        &mut self,
        files: BTreeMap<String, Vec<u8>>,
        key: &SecretKey,
    ) -> Result<RulesOutcome> {
        let pkg = RulePackage::from_files(files)?;
        if let Some(why) = cases_problem(&pkg) {
            return Err(WorkflowError::refused(format!(
                "{why}; run `rankproof rules check DIR` and fix them before publishing; nothing \
                 was written"
            )));
        }
        self.authorize(key, Kind::RulesPublish)?;
        let body = RulesPublish {
            name: pkg.name().to_owned(),
            version: pkg.version().to_string(),
            description: pkg.description().to_owned(),
            effective_from: pkg.effective_from().to_string(),
            effective_until: pkg.effective_until().map(|p| p.to_string()),
            package_hash: HexHash(Hash(pkg.hash())),
            files: pkg
                .files()
                .iter()
                .map(|(k, v)| (k.clone(), HexHash(Hash::of(v))))
                .collect(),
            time: Some(self.clock.now()),
        };
        if let Some(seq) = self
            .view
            .catalog
            .check_rules(&body)
            .map_err(|p| WorkflowError::refused(p.claim))?
        {
            return Ok(RulesOutcome::AlreadyPublished { seq, id: pkg.id() });
        }
        let blobs: Vec<Blob> = pkg.files().values().cloned().map(Blob::new).collect();
        let e = self.append(&body, blobs, key)?;
        Ok(RulesOutcome::Published {
            seq: e.seq(),
            id: pkg.id(),
            hash: pkg.hash_hex(),
            n_files: pkg.files().len(),
        })
    }

    /// Validate a source's export against a published package and record
    /// it for a period.
    pub fn record_input(&mut self, req: RecordRequest, key: &SecretKey) -> Result<RecordOutcome> {
        self.authorize(key, Kind::InputRecord)?;
        let Checked {
            rules: pkg,
            dataset: mut d,
            report,
            already,
            ..
        } = self.view.check_input(&req)?;
        let schema = pkg.source(&req.source).ok_or_else(|| {
            WorkflowError::refused(format!("{} has no source `{}`", pkg.id(), req.source))
        })?;
        let p = req.period.to_string();
        let previous = self.view.catalog.dataset_in_force(&p, &req.source).cloned();
        if let Some(seq) = already {
            return Ok(RecordOutcome::AlreadyRecorded {
                seq,
                package: pkg.id(),
            });
        }
        // A fresh secret salt: the dataset hash, which a ranking entry and
        // so every receipt reveals, commits to it.
        d.set_salt(Some(crate::results::random32()));
        // Its canonical bytes, written once: the blob and its hash.
        let canonical = Blob::new(d.canonical_bytes());
        let file = Blob::new(req.bytes);
        let file_name = std::path::Path::new(&req.file_name)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let body = InputRecord {
            period: p,
            source: req.source.clone(),
            rules: pkg.id(),
            package_hash: HexHash(Hash(pkg.hash())),
            dataset: HexHash(canonical.hash()),
            rows: d.n_rows() as u64,
            schema: schema.to_json(),
            file: FileInfo {
                name: file_name,
                sha256: HexHash(file.hash()),
                bytes: file.len() as u64,
            },
            supersedes: previous.as_ref().map(|r| r.seq),
            time: Some(self.clock.now()),
        };
        self.view
            .catalog
            .check_input(&body)
            .map_err(|p| WorkflowError::refused(p.claim))?;
        let e = self.append(&body, vec![canonical, file], key)?;
        Ok(RecordOutcome::Recorded {
            seq: e.seq(),
            package: pkg.id(),
            rows: body.rows,
            dataset: body.dataset.to_hex(),
            supersedes: previous.map(|r| (r.seq, r.body.dataset.to_hex())),
            report,
        })
    }

    /// Compute a ranking of `period` under `rules` from the log's materials
    /// and publish it. One ranking per period and package is authoritative:
    /// identical materials write nothing; other materials need `supersede`.
    pub fn publish_ranking(
        &mut self,
        period: &Period,
        rules: &str,
        supersede: Option<Supersede>,
        key: &SecretKey,
    ) -> Result<PublishOutcome> {
        self.authorize(key, Kind::RankingPublish)?;
        // The ranking's secrets first: the nonce is part of the document.
        let nonce = crate::results::random32();
        let dry = self
            .view
            .rank_with_nonce(period, rules, Some(hex::encode(nonce)))?;
        let p = period.to_string();
        let current = self
            .view
            .catalog
            .current_ranking(&p, &dry.rules.name)
            .map(|r| r.seq);
        if let Some(cur) = current {
            if dry.differs_from_current.is_none() {
                return Ok(PublishOutcome::Unchanged { seq: cur });
            }
            match &supersede {
                None => {
                    let what = dry
                        .differs_from_current
                        .as_ref()
                        .map(|(_, d)| d.join("; "))
                        .unwrap_or_default();
                    return Err(WorkflowError::refused(format!(
                        "ranking {cur} is the current ranking of {p} under {}; its materials \
                         differ from today's ({what}); to replace it, publish with --supersedes \
                         {cur} --reason TEXT; nothing was written",
                        dry.rules.name
                    )));
                }
                Some(s) if s.ranking != cur => {
                    return Err(WorkflowError::refused(format!(
                        "--supersedes {}: the current ranking of {p} under {} is {cur}; nothing \
                         was written",
                        s.ranking, dry.rules.name
                    )))
                }
                Some(_) => {}
            }
        } else if let Some(s) = &supersede {
            return Err(WorkflowError::refused(format!(
                "--supersedes {}: there is no current ranking of {p} under {} to supersede; \
                 nothing was written",
                s.ranking, dry.rules.name
            )));
        }
        if let Some(s) = &supersede {
            if s.reason.trim().is_empty() {
                return Err(WorkflowError::refused(
                    "--supersedes needs a non-empty --reason TEXT saying why the ranking is \
                     re-run; nothing was written",
                ));
            }
        }
        let salts = Salts {
            nonce,
            staff: crate::results::random32s(dry.doc.len()),
        };
        // The leaves and the two blobs' hashes side by side.
        let (root, (result, salts_blob)) = rayon::join(
            || root_of(&dry.doc, &salts),
            || {
                rayon::join(
                    || Blob::shared_encoded(dry.doc.shared_bytes()),
                    || Blob::shared_encoded(Arc::new(salts.to_blob())),
                )
            },
        );
        let root = root?;
        let body = RankingPublish {
            period: p,
            rules: dry.rules.clone(),
            inputs: dry.inputs.clone(),
            prior_rankings: Vec::new(),
            engine: EngineInfo {
                version: dry.ranking.engine_version.clone(),
                limits: dry.ranking.limits.to_json(),
            },
            result: HexHash(result.hash()),
            salts: HexHash(salts_blob.hash()),
            results_root: HexHash(root),
            n: dry.doc.len() as u64,
            supersedes: supersede.as_ref().map(|s| s.ranking),
            reason: supersede.as_ref().map(|s| s.reason.clone()),
            time: Some(self.clock.now()),
        };
        self.view
            .catalog
            .check_ranking(&body)
            .map_err(|p| WorkflowError::refused(p.claim))?;
        let e = self.append(&body, vec![result, salts_blob], key)?;
        Ok(PublishOutcome::Published {
            seq: e.seq(),
            supersedes: body.supersedes,
            dry: Box::new(dry),
        })
    }

    /// A receipt for one staff member of a ranking (FORMAT.md §12).
    pub fn receipt(&self, ranking: &str, staff: &str) -> Result<Vec<u8>> {
        let r = self.view.ranking(ranking)?;
        let published = self.view.published_results(r)?;
        let idx = staff_index(&published, r.seq, staff)?;
        self.receipt_chain(r)?.receipt(r, &published, idx)
    }

    /// Receipts for every staff member: (staff ID, receipt bytes).
    pub fn receipts(&self, ranking: &str) -> Result<(u64, Vec<StaffReceipt>)> {
        let r = self.view.ranking(ranking)?;
        let published = self.view.published_results(r)?;
        let chain = self.receipt_chain(r)?;
        let mut out = Vec::with_capacity(published.len());
        for idx in 0..published.len() {
            let id = published.doc.staff_id(idx).ok_or_else(|| {
                WorkflowError::tampered(format!(
                    "ranking {}: record {} has no staff_id",
                    r.seq,
                    idx + 1
                ))
            })?;
            out.push((id, chain.receipt(r, &published, idx)?));
        }
        Ok((r.seq, out))
    }

    /// What every receipt of a ranking shares: the entry, its proof and the
    /// grant chain from the operator back to genesis (FORMAT.md §12), built
    /// by the ledger, which owns the receipt format.
    fn receipt_chain(&self, r: &RankingRecord) -> Result<ReceiptChain> {
        receipt::ReceiptChain::collect(self.ledger(), r.seq)
            .map(|chain| ReceiptChain { chain })
            .map_err(|e| WorkflowError::tampered(e.to_string()))
    }
}

/// The parts every receipt of one ranking shares.
struct ReceiptChain {
    chain: receipt::ReceiptChain,
}

impl ReceiptChain {
    fn receipt(
        &self,
        r: &RankingRecord,
        published: &PublishedResults,
        idx: usize,
    ) -> Result<Vec<u8>> {
        let path = published.path(idx)?;
        let result = serde_json::Value::Object(
            published
                .doc
                .record_json(idx)
                .map_err(WorkflowError::tampered)?,
        );
        let salt = *published.salts.staff.get(idx).ok_or_else(|| {
            WorkflowError::tampered(format!("ranking {}: no salt for record {}", r.seq, idx + 1))
        })?;
        Ok(self.chain.encode(&receipt::StaffResult {
            result: &result,
            salt,
            leaf_index: idx as u64,
            path: &path,
        }))
    }
}

/// What one entry is, for a log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Described {
    /// The first entry.
    Genesis {
        /// The log's origin.
        origin: String,
    },
    /// A role granted.
    Grant {
        /// The role.
        role: String,
        /// The key's handle.
        handle: String,
    },
    /// A key revoked.
    Revoke {
        /// The key's handle.
        handle: String,
    },
    /// A package published.
    Rules {
        /// `name@version`.
        id: String,
    },
    /// A dataset recorded.
    Input {
        /// Period.
        period: String,
        /// Source.
        source: String,
        /// Rows.
        rows: u64,
        /// Original file name.
        file: String,
        /// The record it superseded.
        supersedes: Option<u64>,
    },
    /// A ranking published.
    Ranking {
        /// Period.
        period: String,
        /// `name@version`.
        rules: String,
        /// Staff.
        n: u64,
        /// The ranking it superseded.
        supersedes: Option<u64>,
        /// The ranking that superseded it.
        superseded_by: Option<u64>,
    },
    /// Another kind.
    Other,
    /// A body that does not parse or whose claims are false.
    Invalid(String),
}

fn handle_of(vkey: &str) -> String {
    rankproof_ledger::VerifierKey::parse(vkey)
        .map(|k| k.handle())
        .unwrap_or_else(|_| "?".into())
}

impl<L: LogSource> View<L> {
    /// What entry `e` is.
    pub fn describe(&self, e: &Entry) -> Described {
        use crate::body::{Genesis, KeyGrant, KeyRevoke};
        let invalid = |p: ClaimProblem| Described::Invalid(p.claim);
        match e.kind() {
            Kind::Genesis => {
                Genesis::of(e).map_or_else(invalid, |b| Described::Genesis { origin: b.origin })
            }
            Kind::KeyGrant => KeyGrant::of(e).map_or_else(invalid, |b| Described::Grant {
                role: b.role,
                handle: handle_of(&b.vkey),
            }),
            Kind::KeyRevoke => KeyRevoke::of(e).map_or_else(invalid, |b| Described::Revoke {
                handle: handle_of(&b.vkey),
            }),
            Kind::RulesPublish => match self.catalog.package_at(e.seq()) {
                Some(p) => Described::Rules { id: p.body.id() },
                None => self.not_indexed(e),
            },
            Kind::InputRecord => match self.catalog.input(e.seq()) {
                Some(r) => Described::Input {
                    period: r.body.period.clone(),
                    source: r.body.source.clone(),
                    rows: r.body.rows,
                    file: r.body.file.name.clone(),
                    supersedes: r.body.supersedes,
                },
                None => self.not_indexed(e),
            },
            Kind::RankingPublish => match self.catalog.ranking(e.seq()) {
                Some(r) => Described::Ranking {
                    period: r.body.period.clone(),
                    rules: r.body.rules.id(),
                    n: r.body.n,
                    supersedes: r.body.supersedes,
                    superseded_by: r.superseded_by,
                },
                None => self.not_indexed(e),
            },
            _ => Described::Other,
        }
    }

    fn not_indexed(&self, e: &Entry) -> Described {
        match self.catalog.problems().iter().find(|p| p.seq == e.seq()) {
            Some(p) => Described::Invalid(p.claim.clone()),
            // A rules.publish repeating identical content.
            None => match RulesPublish::of(e) {
                Ok(b) => Described::Rules { id: b.id() },
                Err(p) => Described::Invalid(p.claim),
            },
        }
    }
}
