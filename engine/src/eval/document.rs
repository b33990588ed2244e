//! The result document: per-staff records and the canonical (JCS)
//! document with its hash, written in one streaming pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use rayon::prelude::*;

use crate::column::{Data, Operand, Terms};
use crate::crosscheck::Excluded;
use crate::dataset::{Dataset, Value};
use crate::decimal::{canonical, is_safe_integer, rhu, write_canonical_json};
use crate::jcs::{self, Json};
use crate::package::{OrderKey, RulePackage};
use crate::period::Period;
use crate::sandbox::Limits;
use crate::schema::{MissingStaff, SourceName, StaffId};

use super::classify::Classified;
use super::join::Joined;
use super::score::Scored;
use super::script::Ctx;
use super::{EvalError, RANKING_FORMAT, SCRIPT_API};

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

/// One staff member's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffResult {
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
    pub explanation: Explanation,
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

/// A computed ranking: the result document and its typed records.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// In position order.
    pub results: Vec<StaffResult>,
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
        self.results.len()
    }

    /// A staff member's result.
    pub fn result(&self, id: &str) -> Option<&StaffResult> {
        self.results.iter().find(|r| r.staff_id.as_str() == id)
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
            ("n", int(self.results.len() as u64)),
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
        let mut out = Vec::with_capacity(1024 + self.results.len() * 2048);
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_canonical(&mut out);
        out
    }

    /// Stream the canonical result document to `w`, one staff record at a
    /// time (the whole document never has to be in memory).
    pub fn write_canonical(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
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
                for (j, r) in self.results.iter().enumerate() {
                    if j > 0 {
                        buf.push(b',');
                    }
                    r.write_jcs(&mut buf);
                    if buf.len() >= 60 * 1024 {
                        w.write_all(&buf)?;
                        buf.clear();
                    }
                }
                buf.push(b']');
            } else {
                write_piece(v, &mut buf);
            }
        }
        buf.push(b'}');
        w.write_all(&buf)
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

fn write_named(members: &[(String, Operand)], i: usize, out: &mut Vec<u8>) {
    out.push(b'{');
    for (k, (name, v)) in members.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        jcs::write_str(name, out);
        out.push(b':');
        write_operand(v, i, out);
    }
    out.push(b'}');
}

/// The explanation of one score built from terms:
/// `{"terms": {NAME: [value, weight, contribution], ...}}` (names in JCS
/// order), plus `"rounded_to": d` when the script rounded the sum.
struct TermsLayout<'a> {
    name: &'a str,
    terms: &'a Terms,
    /// Term indices in JCS order of their names.
    sorted: Vec<usize>,
}

impl<'a> TermsLayout<'a> {
    fn new(name: &'a str, terms: &'a Terms) -> TermsLayout<'a> {
        let mut sorted: Vec<usize> = (0..terms.parts.len()).collect();
        sorted.sort_by(|a, b| jcs::utf16_cmp(&terms.parts[*a].0, &terms.parts[*b].0));
        TermsLayout {
            name,
            terms,
            sorted,
        }
    }

    fn write(&self, i: usize, out: &mut Vec<u8>) {
        if let Some(d) = self.terms.rounded {
            out.extend_from_slice(b"{\"rounded_to\":");
            jcs::write_int(i64::from(d), out);
            out.extend_from_slice(b",\"terms\":{");
        } else {
            out.extend_from_slice(b"{\"terms\":{");
        }
        for (j, &t) in self.sorted.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            let (tn, v, w) = &self.terms.parts[t];
            jcs::write_str(tn, out);
            out.extend_from_slice(b":[");
            write_operand(v, i, out);
            out.push(b',');
            write_canonical_json(w, out);
            out.push(b',');
            write_operand(&self.terms.contributions[t], i, out);
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
    }
}

/// The per-staff records, in position order, with their explanations.
pub(crate) fn records(
    ctx: &Ctx<'_>,
    joined: &Joined<'_>,
    scored: &Scored,
    classified: &Classified,
    positions: &[usize],
    ranks: &[u64],
) -> Result<Vec<StaffResult>, EvalError> {
    let spec = ctx.pkg.ranking();
    let sources = &joined.sources;
    // Input members of `explain.inputs` in JCS order: (dataset, column, name).
    let mut input_order: Vec<(usize, usize, &str)> = sources
        .iter()
        .enumerate()
        .flat_map(|(di, d)| {
            d.schema()
                .columns
                .iter()
                .enumerate()
                .skip(1)
                .map(move |(ci, c)| (di, ci, c.name.as_str()))
        })
        .collect();
    input_order.sort_by(|a, b| jcs::utf16_cmp(a.2, b.2));
    // Where each attribute lives: (dataset, column).
    let attribute_at: Vec<(String, Option<(usize, usize)>)> = spec
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
    let mut scoring: Vec<TermsLayout<'_>> = scored
        .terms
        .iter()
        .map(|(k, t)| TermsLayout::new(k, t))
        .collect();
    scoring.sort_by(|a, b| jcs::utf16_cmp(a.name, b.name));
    let mut unrounded_order: Vec<(&String, &Vec<Decimal>)> = scored.values.iter().collect();
    unrounded_order.sort_by(|a, b| jcs::utf16_cmp(a.0, b.0));
    // Records are built in staff order (each column is read front to back,
    // which the memory system is good at), then put in position order.
    let mut position_of = vec![0usize; positions.len()];
    for (p, &i) in positions.iter().enumerate() {
        position_of[i] = p;
    }
    let by_staff: Vec<StaffResult> = (0..positions.len())
        .into_par_iter()
        .map_init(
            || Vec::with_capacity(4096),
            |e: &mut Vec<u8>, i| {
                let p = position_of[i];
                // One scratch buffer per task; each record keeps an exact-size copy.
                e.clear();
                e.extend_from_slice(b"{\"classification\":");
                write_named(&classified.explain_columns, i, e);
                e.extend_from_slice(b",\"details\":");
                write_named(&scored.detail_columns, i, e);
                e.extend_from_slice(b",\"inputs\":{");
                let mut first = true;
                for (di, ci, name) in &input_order {
                    let Some(v) = &sources[*di].rows()[i].values[*ci] else {
                        continue;
                    };
                    if !first {
                        e.push(b',');
                    }
                    first = false;
                    jcs::write_str(name, e);
                    e.push(b':');
                    match v {
                        Value::Text(t) => jcs::write_str(t, e),
                        Value::Decimal(d) => write_canonical_json(d, e),
                        Value::Integer(x) => jcs::write_int(*x, e),
                    }
                }
                e.extend_from_slice(b"},\"scoring\":{");
                for (k, t) in scoring.iter().enumerate() {
                    if k > 0 {
                        e.push(b',');
                    }
                    jcs::write_str(t.name, e);
                    e.push(b':');
                    t.write(i, e);
                }
                e.extend_from_slice(b"},\"unrounded\":{");
                for (k, (name, v)) in unrounded_order.iter().enumerate() {
                    if k > 0 {
                        e.push(b',');
                    }
                    jcs::write_str(name, e);
                    e.push(b':');
                    write_canonical_json(&v[i], e);
                }
                e.extend_from_slice(b"}}");
                // INVARIANT: every piece written is UTF-8 (strings come from &str).
                let jcs_text = String::from_utf8(e.as_slice().to_vec()).unwrap_or_default();
                let attributes = attribute_at
                    .iter()
                    .map(|(a, at)| {
                        let v = at
                            .and_then(|(di, ci)| match &sources[di].rows()[i].values[ci] {
                                Some(Value::Text(t)) => Some(t.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        (a.clone(), v)
                    })
                    .collect();
                let unrounded: BTreeMap<String, Decimal> = scored
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), v[i]))
                    .collect();
                let scores = unrounded
                    .iter()
                    .map(|(k, v)| (k.clone(), rhu(*v, spec.report_decimals)))
                    .collect();
                StaffResult {
                    staff_id: joined.staff_ids[i].clone(),
                    position: p as u64 + 1,
                    rank: ranks[p],
                    attributes,
                    scores,
                    grade: spec.grades[usize::from(classified.grade[i])].clone(),
                    bonus_multiplier: classified.bonus[i],
                    flags: classified
                        .flags
                        .iter()
                        .filter(|(_, raised)| raised[i])
                        .map(|(f, _)| f.clone())
                        .collect(),
                    explanation: Explanation {
                        jcs: jcs_text,
                        unrounded,
                    },
                }
            },
        )
        .collect();
    let mut slots: Vec<Option<StaffResult>> = by_staff.into_iter().map(Some).collect();
    // `positions` is a permutation of the staff indices: every slot is taken once.
    let results: Vec<StaffResult> = positions.iter().filter_map(|&i| slots[i].take()).collect();
    Ok(results)
}

/// The ranking from its records.
pub(crate) fn ranking(
    pkg: &RulePackage,
    inputs: &BTreeMap<SourceName, Dataset>,
    period: &Period,
    grade_distribution: Vec<GradeCount>,
    cohort_explain: BTreeMap<String, BTreeMap<String, Json>>,
    results: Vec<StaffResult>,
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
        results,
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
