//! The result document: per-staff records and the canonical (JCS)
//! document with its hash, written in one streaming pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use rayon::prelude::*;

use crate::column::{Column, Data, Operand, Terms};
use crate::crosscheck::Excluded;
use crate::dataset::{Dataset, Table, ValueRef};
use crate::decimal::{canonical, is_safe_integer, rhu, write_canonical_json};
use crate::jcs::{self, Json};
use crate::package::{OrderKey, RulePackage};
use crate::period::Period;
use crate::sandbox::Limits;
use crate::schema::{MissingStaff, SourceName, StaffId};

use super::classify::Classified;
use super::join::Joined;
use super::score::Scored;
use super::{RANKING_FORMAT, SCRIPT_API};

/// A dataset referenced by a result: its canonical hash and row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRef {
    pub sha256: String,
    pub n_rows: u64,
}

/// A grade's count against its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeCount {
    pub grade: String,
    pub count: u64,
    /// The quota the package's `grade_quota(n)` gives, if any.
    pub quota: Option<u64>,
    /// `count > quota` (a tie on a boundary pushed the grade over its quota).
    pub exceeded: bool,
}

/// Why a staff member got their result: the record's `explain` object,
/// kept as its canonical (JCS) bytes, with members `classification` (the
/// named values `classify` returned under `explain`), `details` (the named
/// values `score` returned under `explain`), `inputs` (the joined input
/// values; text and decimals as strings, integers as numbers; no staff ID,
/// no empty cells), `scoring` (for every score built from `terms`: each
/// term's value, weight and contribution, which add up to the score) and
/// `unrounded` (every declared score before report rounding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub(crate) jcs: String,
    /// Every declared score before report rounding.
    pub unrounded: BTreeMap<String, Decimal>,
}

impl Explanation {
    /// The canonical JSON bytes of the `explain` object.
    pub fn canonical_bytes(&self) -> &[u8] {
        self.jcs.as_bytes()
    }

    /// The `explain` object as a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: written by the JCS writer, so valid JSON.
        serde_json::from_str(&self.jcs).unwrap_or_default()
    }
}

/// One staff member's result: what a table shows (its fields are the
/// summary's, through `Deref`) and the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffResult {
    pub summary: StaffSummary,
    pub explanation: Explanation,
}

impl std::ops::Deref for StaffResult {
    type Target = StaffSummary;
    fn deref(&self) -> &StaffSummary {
        &self.summary
    }
}

/// One staff member's result without its explanation: what a table or a
/// CSV of the ranking shows, read from the ranking's columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSummary {
    pub staff_id: StaffId,
    /// 1..=N in ranking order.
    pub position: u64,
    /// Competition rank on the package's `rank_by` score.
    pub rank: u64,
    /// Text attributes copied from the inputs (e.g. name, region, team).
    pub attributes: BTreeMap<String, String>,
    /// Reported scores: `rhu(score, report_decimals)`.
    pub scores: BTreeMap<String, Decimal>,
    pub grade: String,
    pub bonus_multiplier: Decimal,
    pub flags: Vec<String>,
}

/// One record's summary read in place from a ranking's columns
/// ([`Ranking::summary_row`]); [`StaffSummary`] is the same, owned.
#[derive(Clone, Copy)]
pub struct SummaryRow<'a> {
    records: &'a Records,
    /// 0-based position.
    p: usize,
}

impl<'a> SummaryRow<'a> {
    pub fn staff_id(&self) -> &'a str {
        self.records.staff_ids[self.records.positions[self.p]].as_str()
    }
    /// 1..=N in ranking order.
    pub fn position(&self) -> u64 {
        self.p as u64 + 1
    }
    /// Competition rank.
    pub fn rank(&self) -> u64 {
        self.records.ranks[self.p]
    }
    /// Attribute `a` of [`Ranking::row_attributes`] ("" if the input has
    /// no such text).
    pub fn attribute(&self, a: usize) -> &'a str {
        self.records.attribute(self.p, a)
    }
    /// Score `k` of [`Ranking::row_scores`], reported:
    /// `rhu(score, report_decimals)`.
    pub fn score(&self, k: usize) -> Decimal {
        rhu(
            self.records.scores[k].1[self.p],
            self.records.report_decimals,
        )
    }
    pub fn grade(&self) -> &'a str {
        &self.records.grade_names[usize::from(self.records.grade[self.p])]
    }
    pub fn bonus_multiplier(&self) -> Decimal {
        self.records.bonus[self.p]
    }
    /// The flags raised, in name order.
    pub fn flags(&self) -> impl Iterator<Item = &'a str> + 'a {
        let p = self.p;
        self.records
            .flags
            .iter()
            .filter(move |(_, raised)| raised[p])
            .map(|(f, _)| f.as_str())
    }
}

/// A member value while writing an object.
enum Piece<'a> {
    Str(&'a str),
    Owned(String),
    Int(u64),
    Json(&'a Json),
    Strs(&'a [String]),
    Explain(&'a Explanation),
}

fn write_piece(p: &Piece<'_>, out: &mut Vec<u8>) {
    match p {
        Piece::Str(s) => jcs::write_str(s, out),
        Piece::Owned(s) => jcs::write_str(s, out),
        Piece::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Piece::Json(j) => j.write(out),
        Piece::Strs(a) => {
            out.push(b'[');
            for (i, s) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                jcs::write_str(s, out);
            }
            out.push(b']');
        }
        Piece::Explain(e) => out.extend_from_slice(e.canonical_bytes()),
    }
}

fn write_members(mut members: Vec<(&str, Piece<'_>)>, out: &mut Vec<u8>) {
    members.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
    out.push(b'{');
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        jcs::write_str(k, out);
        out.push(b':');
        write_piece(v, out);
    }
    out.push(b'}');
}

impl StaffResult {
    /// Append the record's JCS bytes: `staff_id`, the attributes, the
    /// reported scores (canonical decimal strings), `position`, `rank`,
    /// `grade`, `bonus_multiplier`, `flags` and `explain`.
    pub fn write_jcs(&self, out: &mut Vec<u8>) {
        let mut m: Vec<(&str, Piece<'_>)> = Vec::with_capacity(16);
        m.push(("staff_id", Piece::Str(self.staff_id.as_str())));
        for (k, v) in &self.attributes {
            m.push((k, Piece::Str(v)));
        }
        for (k, v) in &self.scores {
            m.push((k, Piece::Owned(canonical(v))));
        }
        m.push(("position", Piece::Int(self.position)));
        m.push(("rank", Piece::Int(self.rank)));
        m.push(("grade", Piece::Str(&self.grade)));
        m.push((
            "bonus_multiplier",
            Piece::Owned(canonical(&self.bonus_multiplier)),
        ));
        m.push(("flags", Piece::Strs(&self.flags)));
        m.push(("explain", Piece::Explain(&self.explanation)));
        write_members(m, out);
    }

    /// The record's canonical (JCS) bytes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2048);
        self.write_jcs(&mut out);
        out
    }

    /// The record as a `serde_json::Value` (decimals as canonical strings).
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: canonical_bytes is valid JSON by construction.
        serde_json::from_slice(&self.canonical_bytes()).unwrap_or_default()
    }
}

/// A computed ranking: the result document and its records. The records
/// are kept as columns; [`Ranking::write_canonical`] writes the document
/// from them, and [`Ranking::record`], [`Ranking::result`] and
/// [`Ranking::results`] build typed records on demand.
#[derive(Clone)]
pub struct Ranking {
    pub package_name: String,
    pub package_version: String,
    pub package_hash: String,
    pub period: Period,
    pub inputs: BTreeMap<SourceName, InputRef>,
    pub engine_version: String,
    pub limits: Limits,
    pub order: Vec<OrderKey>,
    pub rank_by: String,
    /// Declared score names, in report order.
    pub score_names: Vec<String>,
    /// Reported scores are rounded (rhu) to this many places.
    pub report_decimals: u32,
    /// Attribute names (text inputs copied into results), in declared order.
    pub attribute_names: Vec<String>,
    pub grade_distribution: Vec<GradeCount>,
    /// Named values the scripts returned under `explain` that are the same
    /// for everybody (single values, not columns), written once in the
    /// document's `explain` member: `classification` and `details`.
    pub cohort_explain: BTreeMap<String, BTreeMap<String, Json>>,
    records: Arc<Records>,
    /// Under `[join] missing_staff = "exclude"`: the staff left out because
    /// a source lacks them, in staff-ID order (`Some(empty)` when nobody
    /// was); `None` under the default `refuse` (the member is not written).
    pub excluded: Option<Vec<Excluded>>,
    /// The ranking nonce (64 lowercase hex digits): 32 random bytes chosen
    /// when the ranking is published and recorded in its salts document, so
    /// that the result hash commits to a secret (RULES.md section 8). `None`
    /// for a dry run (the member is not written).
    pub nonce: Option<String>,
}

impl PartialEq for Ranking {
    /// Two rankings are equal when their canonical documents are.
    fn eq(&self, other: &Ranking) -> bool {
        self.n() == other.n() && self.sha256() == other.sha256()
    }
}

impl Eq for Ranking {}

impl std::fmt::Debug for Ranking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ranking")
            .field(
                "package",
                &format!("{}@{}", self.package_name, self.package_version),
            )
            .field("period", &self.period.to_string())
            .field("n", &self.n())
            .field("sha256", &self.sha256_hex())
            .finish()
    }
}

fn obj(members: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        members
            .into_iter()
            .map(|(k, v)| (Arc::from(k), v))
            .collect(),
    )
}

fn s(v: impl Into<String>) -> Json {
    Json::Str(v.into())
}

fn int(v: u64) -> Json {
    Json::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

impl Ranking {
    pub fn n(&self) -> usize {
        self.records.n()
    }

    /// A staff member's result.
    pub fn result(&self, id: &str) -> Option<StaffResult> {
        self.records.position_of(id).map(|p| self.records.record(p))
    }

    /// The record at `position` (1-based, as in the document), if any.
    pub fn record(&self, position: usize) -> Option<StaffResult> {
        (1..=self.n())
            .contains(&position)
            .then(|| self.records.record(position - 1))
    }

    /// Every record, in position order (builds them all: for tests and
    /// tools; the document itself is written without them).
    pub fn results(&self) -> Vec<StaffResult> {
        (0..self.n()).map(|p| self.records.record(p)).collect()
    }

    /// The summary of the record at position `p` (0-based), read in place
    /// from the columns: what a CSV row shows, without building a
    /// [`StaffSummary`].
    pub fn summary_row(&self, p: usize) -> Option<SummaryRow<'_>> {
        (p < self.n()).then(|| SummaryRow {
            records: &self.records,
            p,
        })
    }

    /// The attribute names in the order [`SummaryRow::attribute`] numbers
    /// them (name order).
    pub fn row_attributes(&self) -> impl Iterator<Item = &str> {
        self.records.attributes.iter().map(|a| a.0.as_str())
    }

    /// The score names in the order [`SummaryRow::score`] numbers them
    /// (name order).
    pub fn row_scores(&self) -> impl Iterator<Item = &str> {
        self.records.scores.iter().map(|s| s.0.as_str())
    }

    /// Every record without its explanation, in position order (computed
    /// in parallel; the same at any thread count).
    pub fn summaries(&self) -> Vec<StaffSummary> {
        (0..self.n())
            .into_par_iter()
            .map(|p| self.records.summary(p))
            .collect()
    }

    /// Everything in the document except `results`.
    fn header(&self) -> Vec<(&'static str, Json)> {
        let mut order: Vec<Json> = self
            .order
            .iter()
            .map(|k| {
                obj(vec![
                    ("score", s(k.score.clone())),
                    ("direction", s(k.direction.as_str())),
                ])
            })
            .collect();
        order.push(obj(vec![("score", s("staff_id")), ("direction", s("asc"))]));
        let mut members = vec![
            ("format", s(RANKING_FORMAT)),
            ("script_api", int(SCRIPT_API)),
            (
                "explain",
                Json::Obj(
                    self.cohort_explain
                        .iter()
                        .map(|(k, m)| {
                            (
                                Arc::from(k.as_str()),
                                Json::Obj(
                                    m.iter()
                                        .map(|(n, v)| (Arc::from(n.as_str()), v.clone()))
                                        .collect(),
                                ),
                            )
                        })
                        .collect(),
                ),
            ),
            ("engine_version", s(self.engine_version.clone())),
            (
                "package",
                obj(vec![
                    ("name", s(self.package_name.clone())),
                    ("version", s(self.package_version.clone())),
                    ("hash", s(self.package_hash.clone())),
                ]),
            ),
            ("period", s(self.period.to_string())),
            (
                "inputs",
                Json::Obj(
                    self.inputs
                        .iter()
                        .map(|(src, r)| {
                            (
                                Arc::from(src.as_str()),
                                obj(vec![
                                    ("sha256", s(r.sha256.clone())),
                                    ("n_rows", int(r.n_rows)),
                                ]),
                            )
                        })
                        .collect(),
                ),
            ),
            (
                "limits",
                Json::Obj(
                    self.limits
                        .fields()
                        .iter()
                        .map(|(k, v)| (Arc::from(*k), int(*v)))
                        .collect(),
                ),
            ),
            ("order", Json::Arr(order)),
            ("rank_by", s(self.rank_by.clone())),
            (
                "scores",
                Json::Arr(self.score_names.iter().map(|x| s(x.clone())).collect()),
            ),
            ("report_decimals", int(u64::from(self.report_decimals))),
            ("n", int(self.n() as u64)),
            (
                "grade_distribution",
                Json::Arr(
                    self.grade_distribution
                        .iter()
                        .map(|g| {
                            obj(vec![
                                ("grade", s(g.grade.clone())),
                                ("count", int(g.count)),
                                ("quota", g.quota.map_or(Json::Null, int)),
                                ("exceeded", Json::Bool(g.exceeded)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ];
        if let Some(nonce) = &self.nonce {
            members.push(("nonce", s(nonce.clone())));
        }
        if let Some(ex) = &self.excluded {
            members.push((
                "excluded",
                Json::Arr(
                    ex.iter()
                        .map(|e| {
                            obj(vec![
                                ("staff_id", s(e.staff_id.to_string())),
                                (
                                    "missing_from",
                                    Json::Arr(
                                        e.missing_from.iter().map(|m| s(m.to_string())).collect(),
                                    ),
                                ),
                            ])
                        })
                        .collect(),
                ),
            ));
        }
        members
    }

    /// The canonical result document (RFC 8785 JCS; see RULES.md).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024 + self.n() * 1600);
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_canonical(&mut out);
        out
    }

    /// The canonical result document with the byte range of each record
    /// in it, in position order: what a reader of the document would find
    /// by parsing it, without parsing it.
    pub fn canonical_bytes_and_spans(&self) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let mut out = Vec::with_capacity(1024 + self.n() * 1600);
        let mut spans = Vec::with_capacity(self.n());
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_canonical_records(&mut out, &mut |_, at, record| {
            spans.push(at..at + record.len())
        });
        (out, spans)
    }

    /// Stream the canonical result document to `w`, one batch of records
    /// at a time (the whole document never has to be in memory).
    pub fn write_canonical(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.write_canonical_records(w, &mut |_, _, _| {})
    }

    /// Stream the canonical result document to `w` and hand `on_record`
    /// each record's canonical (JCS) bytes, in position order, with its
    /// position (1-based) and its byte offset in the document: the bytes
    /// are the ones written into the
    /// document's `results` array, so a caller can hash them (e.g. for the
    /// results-tree leaves) without serializing the records again. Records
    /// are written in parallel batches and passed on in order, so the bytes
    /// and the calls do not depend on the thread count.
    pub fn write_canonical_records(
        &self,
        w: &mut dyn std::io::Write,
        on_record: &mut dyn FnMut(usize, usize, &[u8]),
    ) -> std::io::Result<()> {
        self.write_document(w, on_record, self.n())
    }

    /// The document's skeleton: the same document with only its first
    /// record in the `results` array (none when the cohort is empty),
    /// written without the others. For a view of a ranking just computed
    /// that reads every record from the columns and needs only the header
    /// and the records' member names (its table and CSV).
    pub fn skeleton(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_document(&mut out, &mut |_, _, _| {}, 1);
        out
    }

    /// The document with the first `upto` records in its `results` array
    /// (all of them for the document itself).
    fn write_document(
        &self,
        w: &mut dyn std::io::Write,
        on_record: &mut dyn FnMut(usize, usize, &[u8]),
        upto: usize,
    ) -> std::io::Result<()> {
        let header = self.header();
        let mut m: Vec<(&str, Piece<'_>)> =
            header.iter().map(|(k, v)| (*k, Piece::Json(v))).collect();
        m.push(("results", Piece::Str("")));
        m.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.push(b'{');
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            jcs::write_str(k, &mut buf);
            buf.push(b':');
            if *k == "results" {
                buf.push(b'[');
                // Nothing is written before the results: they start here.
                let at = buf.len();
                w.write_all(&buf)?;
                buf.clear();
                self.write_results(w, at, on_record, upto)?;
                buf.push(b']');
            } else {
                write_piece(v, &mut buf);
            }
        }
        buf.push(b'}');
        w.write_all(&buf)
    }

    /// The first `upto` records of the `results` array, comma-separated,
    /// written from byte offset `at` of the document; returns the offset
    /// after them.
    fn write_results(
        &self,
        w: &mut dyn std::io::Write,
        mut at: usize,
        on_record: &mut dyn FnMut(usize, usize, &[u8]),
        upto: usize,
    ) -> std::io::Result<usize> {
        let records = &*self.records;
        let n = records.n().min(upto);
        let tasks = 4 * rayon::current_num_threads().max(1);
        let batch = CHUNK * tasks;
        // One buffer per task, reused from batch to batch.
        let mut bufs: Vec<Batch> = (0..tasks.min(n.div_ceil(CHUNK)))
            .map(|_| (Vec::new(), Vec::with_capacity(CHUNK)))
            .collect();
        let mut start = 0;
        while start < n {
            let end = (start + batch).min(n);
            let used = (end - start).div_ceil(CHUNK);
            bufs[..used]
                .par_iter_mut()
                .enumerate()
                .for_each(|(k, (buf, spans))| {
                    let c = start + k * CHUNK;
                    let stop = (c + CHUNK).min(end);
                    buf.clear();
                    spans.clear();
                    let cells = records.cells(c, stop);
                    for p in c..stop {
                        if p > 0 {
                            buf.push(b',');
                        }
                        let from = buf.len();
                        records.write_record(p, &cells, buf);
                        spans.push((from, buf.len()));
                    }
                });
            for (k, (buf, spans)) in bufs[..used].iter().enumerate() {
                let first = start + k * CHUNK;
                for (j, &(a, b)) in spans.iter().enumerate() {
                    on_record(first + j + 1, at + a, &buf[a..b]);
                }
                w.write_all(buf)?;
                at += buf.len();
            }
            start = end;
        }
        Ok(at)
    }

    /// The result document as a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        // INVARIANT: canonical_bytes is valid JSON by construction.
        serde_json::from_slice(&self.canonical_bytes()).unwrap_or_default()
    }

    /// SHA-256 of the canonical bytes (streamed, not materialised).
    pub fn sha256(&self) -> [u8; 32] {
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.update(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut h = Hashing(Sha256::new());
        // INVARIANT: the hashing writer never fails.
        let _ = self.write_canonical(&mut h);
        h.0.finalize().into()
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

// ---- building the records ---------------------------------------------------

/// Append element `i` of a named value as JSON: decimal → canonical
/// string, integer → number (a string beyond ±(2^53 − 1)), text, bool.
fn write_operand(o: &Operand, i: usize, out: &mut Vec<u8>) {
    let int = |x: i64, out: &mut Vec<u8>| {
        if is_safe_integer(x) {
            jcs::write_int(x, out)
        } else {
            jcs::write_str(&x.to_string(), out)
        }
    };
    match o {
        Operand::Int(x) => int(*x, out),
        Operand::Dec(x) => write_canonical_json(x, out),
        Operand::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Operand::Text(t) => jcs::write_str(t, out),
        Operand::Col(c) => match c.data() {
            Data::Int(v) => int(v[i], out),
            Data::Dec(v) => write_canonical_json(&v[i], out),
            Data::Bool(v) => out.extend_from_slice(if v[i] { b"true" } else { b"false" }),
            Data::Text(v) => jcs::write_str(&v[i], out),
        },
    }
}

/// The JCS bytes of a member name with its colon (`"name":`), written once
/// for a ranking instead of once a record.
type Key = Box<[u8]>;

fn key(name: &str) -> Key {
    let mut k = Vec::with_capacity(name.len() + 3);
    jcs::write_str(name, &mut k);
    k.push(b':');
    k.into_boxed_slice()
}

/// A term of a score built from terms, as a record writes it: where it is
/// in `Terms::parts`, its name's key with the array opened (`"name":[`),
/// and its weight (the same for everybody) between commas (`,"0.4",`).
struct TermText {
    part: usize,
    open: Box<[u8]>,
    weight: Box<[u8]>,
}

fn write_named(members: &[(Key, Operand)], i: usize, out: &mut Vec<u8>) {
    out.push(b'{');
    for (k, (name, v)) in members.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(name);
        write_operand(v, i, out);
    }
    out.push(b'}');
}

/// Append the explanation of one score built from terms for staff member
/// `i`: `{"terms": {NAME: [value, weight, contribution], ...}}` (`sorted`
/// the terms in JCS order of their names), plus `"rounded_to": d` when the
/// script rounded the sum.
fn write_terms(terms: &Terms, sorted: &[TermText], i: usize, out: &mut Vec<u8>) {
    if let Some(d) = terms.rounded {
        out.extend_from_slice(b"{\"rounded_to\":");
        jcs::write_int(i64::from(d), out);
        out.extend_from_slice(b",\"terms\":{");
    } else {
        out.extend_from_slice(b"{\"terms\":{");
    }
    for (j, t) in sorted.iter().enumerate() {
        if j > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&t.open);
        write_operand(&terms.parts[t.part].1, i, out);
        out.extend_from_slice(&t.weight);
        write_operand(&terms.contributions[t.part], i, out);
        out.push(b']');
    }
    out.extend_from_slice(b"}}");
}

/// The records of a ranking, kept as columns: each record (and its
/// explanation) is written from them when asked for, straight into the
/// caller's buffer, so a ranking holds no per-staff maps or strings.
pub(crate) struct Records {
    staff_ids: Vec<StaffId>,
    /// Staff index at each position (0-based).
    positions: Vec<usize>,
    /// Position (0-based) of each staff index.
    position_of: Vec<usize>,
    /// Competition rank at each position.
    ranks: Vec<u64>,
    // Everything below that is per staff member, except `sources`, is in
    // position order: a record reads its columns at its position, so
    // writing the records in order reads every column front to back. The
    // inputs stay shared in row order: a copy in position order saved
    // about 4 % of CPU and cost 200 MiB at 1M staff.
    /// The joined inputs' columns, in source-name order (row `i` is staff `i`).
    sources: Vec<Arc<Table>>,
    /// Members of `explain.inputs` in JCS order: (dataset, column, key).
    input_order: Vec<(usize, usize, Key)>,
    /// Attributes in name order, with where each lives: (dataset, column).
    attributes: Vec<(String, Option<(usize, usize)>)>,
    /// For each attribute, the member of `input_order` that holds it.
    attribute_cells: Vec<Option<usize>>,
    /// Every declared score (unrounded), in name order.
    scores: Vec<(String, Vec<Decimal>)>,
    /// Indices into `scores` in JCS order of their names, with their keys.
    unrounded_order: Vec<(usize, Key)>,
    report_decimals: u32,
    grade_names: Vec<String>,
    grade: Vec<u16>,
    bonus: Vec<Decimal>,
    flags: Vec<(String, Vec<bool>)>,
    classification: Vec<(Key, Operand)>,
    details: Vec<(Key, Operand)>,
    /// Scores built from terms, in JCS order of their names, each with its
    /// terms in JCS order of the term names.
    scoring: Vec<(Key, Terms, Vec<TermText>)>,
    /// The record's members in JCS order.
    members: Vec<(Key, Member)>,
}

/// The input cells of the records at positions `from..from + len`, read
/// column by column (the inputs are in file order, the records in rank
/// order): member `k` of `input_order` at position `p` is
/// `v[k * len + p - from]`.
struct Cells<'a> {
    from: usize,
    len: usize,
    v: Vec<Option<ValueRef<'a>>>,
}

impl<'a> Cells<'a> {
    fn get(&self, k: usize, p: usize) -> Option<ValueRef<'a>> {
        let j = p.checked_sub(self.from).filter(|j| *j < self.len)?;
        self.v.get(k * self.len + j).copied().flatten()
    }
}

/// A member of a staff record.
#[derive(Debug, Clone, Copy)]
enum Member {
    StaffId,
    Attribute(usize),
    Score(usize),
    Position,
    Rank,
    Grade,
    Bonus,
    Flags,
    Explain,
}

impl Records {
    /// The records of a ranking from its columns.
    pub(crate) fn new(
        pkg: &RulePackage,
        joined: Joined<'_>,
        scored: Scored,
        classified: Classified,
        positions: Vec<usize>,
        ranks: Vec<u64>,
    ) -> Records {
        let spec = pkg.ranking();
        let sources = &joined.sources;
        let mut input_order: Vec<(usize, usize, String)> = sources
            .iter()
            .enumerate()
            .flat_map(|(di, d)| {
                d.schema()
                    .columns
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(move |(ci, c)| (di, ci, c.name.clone()))
            })
            .collect();
        input_order.sort_by(|a, b| jcs::utf16_cmp(&a.2, &b.2));
        let input_order: Vec<(usize, usize, Key)> = input_order
            .into_iter()
            .map(|(di, ci, name)| (di, ci, key(&name)))
            .collect();
        // Where each attribute lives: (dataset, column); one per name.
        let attributes: BTreeMap<String, Option<(usize, usize)>> = spec
            .attributes
            .iter()
            .map(|a| {
                let at = sources.iter().enumerate().find_map(|(di, d)| {
                    d.schema()
                        .columns
                        .iter()
                        .position(|c| &c.name == a)
                        .map(|ci| (di, ci))
                });
                (a.clone(), at)
            })
            .collect();
        let attributes: Vec<(String, Option<(usize, usize)>)> = attributes.into_iter().collect();
        let attribute_cells = attributes
            .iter()
            .map(|(_, at)| {
                let (di, ci) = (*at)?;
                input_order
                    .iter()
                    .position(|(d, c, _)| (*d, *c) == (di, ci))
            })
            .collect();
        let Scored {
            values,
            terms,
            detail_columns,
            ..
        } = scored;
        let scores: Vec<(String, Vec<Decimal>)> = values
            .into_par_iter()
            .map(|(k, v)| (k, gather(&v, &positions)))
            .collect();
        let mut unrounded_order: Vec<usize> = (0..scores.len()).collect();
        unrounded_order.sort_by(|a, b| jcs::utf16_cmp(&scores[*a].0, &scores[*b].0));
        let unrounded_order = unrounded_order
            .into_iter()
            .map(|s| (s, key(&scores[s].0)))
            .collect();
        let mut scoring: Vec<(String, Terms)> = terms.into_iter().collect();
        scoring.sort_by(|a, b| jcs::utf16_cmp(&a.0, &b.0));
        let scoring = scoring
            .into_iter()
            .map(|(k, t)| {
                let mut sorted: Vec<usize> = (0..t.parts.len()).collect();
                sorted.sort_by(|a, b| jcs::utf16_cmp(&t.parts[*a].0, &t.parts[*b].0));
                let sorted = sorted
                    .into_iter()
                    .map(|part| {
                        let (name, _, w) = &t.parts[part];
                        let mut open = key(name).into_vec();
                        open.push(b'[');
                        let mut weight = vec![b','];
                        write_canonical_json(w, &mut weight);
                        weight.push(b',');
                        TermText {
                            part,
                            open: open.into_boxed_slice(),
                            weight: weight.into_boxed_slice(),
                        }
                    })
                    .collect();
                (key(&k), in_position_order_terms(t, &positions), sorted)
            })
            .collect();
        // The members in the order a record writes them, then (stably) in
        // JCS order, as `StaffResult::write_jcs` does.
        let mut members: Vec<(String, Member)> = Vec::with_capacity(16);
        members.push(("staff_id".to_owned(), Member::StaffId));
        for (k, (a, _)) in attributes.iter().enumerate() {
            members.push((a.clone(), Member::Attribute(k)));
        }
        for (k, (name, _)) in scores.iter().enumerate() {
            members.push((name.clone(), Member::Score(k)));
        }
        members.push(("position".to_owned(), Member::Position));
        members.push(("rank".to_owned(), Member::Rank));
        members.push(("grade".to_owned(), Member::Grade));
        members.push(("bonus_multiplier".to_owned(), Member::Bonus));
        members.push(("flags".to_owned(), Member::Flags));
        members.push(("explain".to_owned(), Member::Explain));
        members.sort_by(|a, b| jcs::utf16_cmp(&a.0, &b.0));
        let members = members.into_iter().map(|(n, m)| (key(&n), m)).collect();
        let mut position_of = vec![0usize; positions.len()];
        for (p, &i) in positions.iter().enumerate() {
            position_of[i] = p;
        }
        let Classified {
            grade,
            bonus,
            flags,
            explain_columns,
            ..
        } = classified;
        let in_order = |named: Vec<(String, Operand)>| -> Vec<(Key, Operand)> {
            named
                .into_par_iter()
                .map(|(k, o)| (key(&k), in_position_order(&o, &positions)))
                .collect()
        };
        let classification = in_order(explain_columns);
        let details = in_order(detail_columns);
        let flags = flags
            .into_iter()
            .map(|(f, raised)| (f, gather(&raised, &positions)))
            .collect();
        Records {
            grade: gather(&grade, &positions),
            bonus: gather(&bonus, &positions),
            sources: joined.sources.iter().map(|d| d.shared_table()).collect(),
            staff_ids: joined.staff_ids,
            positions,
            position_of,
            ranks,
            input_order,
            attributes,
            attribute_cells,
            scores,
            unrounded_order,
            report_decimals: spec.report_decimals,
            grade_names: spec.grades.clone(),
            flags,
            classification,
            details,
            scoring,
            members,
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.positions.len()
    }

    /// The grade of each staff member (in position order).
    pub(crate) fn grades(&self) -> impl Iterator<Item = &str> {
        self.grade
            .iter()
            .map(|g| self.grade_names[usize::from(*g)].as_str())
    }

    /// Attribute `a` of the staff member at position `p`.
    fn attribute(&self, p: usize, a: usize) -> &str {
        let i = self.positions[p];
        match self.attributes[a].1 {
            Some((di, ci)) => self
                .sources
                .get(di)
                .and_then(|t| t.text(i, ci))
                .unwrap_or(""),
            None => "",
        }
    }

    /// The input cells of the records at positions `from..to`.
    fn cells(&self, from: usize, to: usize) -> Cells<'_> {
        let rows = &self.positions[from..to];
        let mut v = Vec::with_capacity(rows.len() * self.input_order.len());
        for (di, ci, _) in &self.input_order {
            match self.sources.get(*di) {
                Some(t) => t.gather(rows, *ci, &mut v),
                None => v.extend(rows.iter().map(|_| None)),
            }
        }
        Cells {
            from,
            len: rows.len(),
            v,
        }
    }

    /// Attribute `a` of the staff member at position `p`, from `cells`
    /// when they hold it.
    fn attribute_in<'a>(&'a self, cells: &Cells<'a>, p: usize, a: usize) -> &'a str {
        match self.attribute_cells[a] {
            Some(k) => match cells.get(k, p) {
                Some(ValueRef::Text(t)) => t,
                _ => "",
            },
            None => self.attribute(p, a),
        }
    }

    /// Append the JCS bytes of the record at position `p` (0-based): the
    /// same bytes as `StaffResult::write_jcs` of that record. `cells` holds
    /// the inputs of a run of positions that includes `p`.
    fn write_record(&self, p: usize, cells: &Cells<'_>, out: &mut Vec<u8>) {
        let i = self.positions[p];
        out.push(b'{');
        for (k, (name, m)) in self.members.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name);
            match *m {
                Member::StaffId => jcs::write_str(self.staff_ids[i].as_str(), out),
                Member::Attribute(a) => jcs::write_str(self.attribute_in(cells, p, a), out),
                Member::Score(s) => {
                    write_canonical_json(&rhu(self.scores[s].1[p], self.report_decimals), out)
                }
                Member::Position => jcs::write_uint(p as u64 + 1, out),
                Member::Rank => jcs::write_uint(self.ranks[p], out),
                Member::Grade => jcs::write_str(&self.grade_names[usize::from(self.grade[p])], out),
                Member::Bonus => write_canonical_json(&self.bonus[p], out),
                Member::Flags => {
                    out.push(b'[');
                    let mut first = true;
                    for (f, raised) in &self.flags {
                        if raised[p] {
                            if !first {
                                out.push(b',');
                            }
                            first = false;
                            jcs::write_str(f, out);
                        }
                    }
                    out.push(b']');
                }
                Member::Explain => self.write_explain(p, cells, out),
            }
        }
        out.push(b'}');
    }

    /// Append the JCS bytes of the `explain` object of the staff member at
    /// position `p` (its inputs from `cells`).
    fn write_explain(&self, p: usize, cells: &Cells<'_>, e: &mut Vec<u8>) {
        e.extend_from_slice(b"{\"classification\":");
        write_named(&self.classification, p, e);
        e.extend_from_slice(b",\"details\":");
        write_named(&self.details, p, e);
        e.extend_from_slice(b",\"inputs\":{");
        let mut first = true;
        for (k, (_, _, name)) in self.input_order.iter().enumerate() {
            let Some(v) = cells.get(k, p) else {
                continue;
            };
            if !first {
                e.push(b',');
            }
            first = false;
            e.extend_from_slice(name);
            v.write_jcs(e);
        }
        e.extend_from_slice(b"},\"scoring\":{");
        for (k, (name, terms, sorted)) in self.scoring.iter().enumerate() {
            if k > 0 {
                e.push(b',');
            }
            e.extend_from_slice(name);
            write_terms(terms, sorted, p, e);
        }
        e.extend_from_slice(b"},\"unrounded\":{");
        for (k, (s, name)) in self.unrounded_order.iter().enumerate() {
            if k > 0 {
                e.push(b',');
            }
            e.extend_from_slice(name);
            write_canonical_json(&self.scores[*s].1[p], e);
        }
        e.extend_from_slice(b"}}");
    }

    /// The record at position `p` (0-based) without its explanation.
    fn summary(&self, p: usize) -> StaffSummary {
        let row = SummaryRow { records: self, p };
        StaffSummary {
            staff_id: self.staff_ids[self.positions[p]].clone(),
            position: row.position(),
            rank: row.rank(),
            attributes: (0..self.attributes.len())
                .map(|a| (self.attributes[a].0.clone(), row.attribute(a).to_owned()))
                .collect(),
            scores: (0..self.scores.len())
                .map(|k| (self.scores[k].0.clone(), row.score(k)))
                .collect(),
            grade: row.grade().to_owned(),
            bonus_multiplier: row.bonus_multiplier(),
            flags: row.flags().map(str::to_owned).collect(),
        }
    }

    /// The typed record at position `p` (0-based).
    fn record(&self, p: usize) -> StaffResult {
        let mut e = Vec::with_capacity(2048);
        self.write_explain(p, &self.cells(p, p + 1), &mut e);
        // INVARIANT: every piece written is UTF-8 (strings come from &str).
        let jcs_text = String::from_utf8(e).unwrap_or_default();
        let unrounded: BTreeMap<String, Decimal> =
            self.scores.iter().map(|(k, v)| (k.clone(), v[p])).collect();
        StaffResult {
            summary: self.summary(p),
            explanation: Explanation {
                jcs: jcs_text,
                unrounded,
            },
        }
    }

    /// The position (0-based) of a staff member.
    fn position_of(&self, id: &str) -> Option<usize> {
        let i = self
            .staff_ids
            .binary_search_by(|s| s.as_str().cmp(id))
            .ok()?;
        Some(self.position_of[i])
    }
}

/// `v` in position order: element `p` is `v[positions[p]]`.
fn gather<T: Clone>(v: &[T], positions: &[usize]) -> Vec<T> {
    positions.iter().map(|&i| v[i].clone()).collect()
}

/// A named value in position order (a single value stays as it is). The
/// copy has no faults: the engine writes a column only after checking it
/// has none where it is needed.
fn in_position_order(o: &Operand, positions: &[usize]) -> Operand {
    let Operand::Col(c) = o else {
        return o.clone();
    };
    let data = match c.data() {
        Data::Int(v) => Data::Int(gather(v, positions)),
        Data::Dec(v) => Data::Dec(gather(v, positions)),
        Data::Bool(v) => Data::Bool(gather(v, positions)),
        Data::Text(v) => Data::Text(gather(v, positions)),
    };
    Operand::Col(Column::from_data(data, Vec::new()))
}

/// The explanation columns of a score built from terms, in position order.
fn in_position_order_terms(t: Terms, positions: &[usize]) -> Terms {
    let parts = t
        .parts
        .into_par_iter()
        .map(|(name, v, w)| (name, in_position_order(&v, positions), w))
        .collect();
    let contributions = t
        .contributions
        .into_par_iter()
        .map(|c| in_position_order(&c, positions))
        .collect();
    Terms {
        parts,
        contributions,
        // Not written into records; kept as it is.
        value: t.value,
        rounded: t.rounded,
    }
}

/// One task's share of a batch of records: their bytes (comma-separated)
/// and where each record is in them.
type Batch = (Vec<u8>, Vec<(usize, usize)>);

/// Records per parallel task when writing a document.
const CHUNK: usize = 512;

/// The ranking from its records.
pub(crate) fn ranking(
    pkg: &RulePackage,
    inputs: &BTreeMap<SourceName, Dataset>,
    period: &Period,
    grade_distribution: Vec<GradeCount>,
    cohort_explain: BTreeMap<String, BTreeMap<String, Json>>,
    records: Records,
    excluded: Vec<Excluded>,
) -> Ranking {
    let spec = pkg.ranking();
    Ranking {
        package_name: pkg.name().to_owned(),
        package_version: pkg.version().to_string(),
        package_hash: pkg.hash_hex(),
        period: *period,
        inputs: inputs
            .par_iter()
            .map(|(s, d)| {
                (
                    s.clone(),
                    InputRef {
                        sha256: d.sha256_hex(),
                        n_rows: d.n_rows() as u64,
                    },
                )
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
        engine_version: super::ENGINE_VERSION.to_owned(),
        limits: *pkg.limits(),
        order: spec.order.clone(),
        rank_by: spec.rank_by.clone(),
        score_names: spec.scores.clone(),
        report_decimals: spec.report_decimals,
        attribute_names: spec.attributes.clone(),
        grade_distribution,
        cohort_explain,
        records: Arc::new(records),
        excluded: (pkg.missing_staff() == MissingStaff::Exclude).then_some(excluded),
        nonce: None,
    }
}

/// A single (cohort-wide) named value as JSON.
pub(crate) fn scalar_json(o: &Operand) -> Json {
    match o {
        Operand::Int(x) if is_safe_integer(*x) => Json::Int(*x),
        Operand::Int(x) => Json::Str(x.to_string()),
        Operand::Dec(x) => Json::Str(canonical(x)),
        Operand::Bool(b) => Json::Bool(*b),
        Operand::Text(t) => Json::Str(t.to_string()),
        // INVARIANT: columns are written per staff member, never here.
        Operand::Col(_) => Json::Null,
    }
}
