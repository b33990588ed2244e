//! A typed view of a stored result document (RULES.md §8) and of one
//! staff record in it. This is the only module that reads result-document
//! members by name: when the engine's document or explanation shape
//! changes, this module is the one to adapt.
//!
//! Nothing here is specific to a rule package: score names come from the
//! document (or, in a receipt, from the record's `explain.unrounded`),
//! attributes are the record's other text members.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use rankproof_engine::StaffSummary;
/// Record members that are neither scores nor attributes.
use rankproof_engine::RECORD_KEYS as STANDARD;

/// One row of the grade distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeRow {
    /// The grade.
    pub grade: String,
    /// How many staff hold it.
    pub count: u64,
    /// Its quota, if any.
    pub quota: Option<u64>,
}

/// The document's header: everything but the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Package name.
    pub package_name: String,
    /// Package version.
    pub package_version: String,
    /// Package hash (hex).
    pub package_hash: String,
    /// The period.
    pub period: String,
    /// Number of staff.
    pub n: u64,
    /// Declared score names in report order.
    pub score_names: Vec<String>,
    /// The score competition rank is computed on.
    pub rank_by: String,
    /// Reported scores are rounded to this many places.
    pub report_decimals: u32,
    /// The grade distribution in declared order.
    pub grades: Vec<GradeRow>,
    /// Source → (rows, dataset hash).
    pub inputs: BTreeMap<String, (u64, String)>,
    /// Under `[join] missing_staff = "exclude"`: the staff left out of the
    /// ranking because a source lacks them, (staff ID, the sources they are
    /// missing from), in staff-ID order; `None` when the package refuses
    /// missing staff (the document has no `excluded` member).
    pub excluded: Option<Vec<(String, Vec<String>)>>,
    /// The ranking nonce (hex) of a published ranking; `None` for a dry run.
    pub nonce: Option<String>,
}

impl Header {
    /// `name@version`.
    pub fn package_id(&self) -> String {
        format!("{}@{}", self.package_name, self.package_version)
    }

    /// The sources `staff` is missing from, when the ranking excluded them.
    pub fn excluded(&self, staff: &str) -> Option<&[String]> {
        self.excluded
            .as_ref()?
            .iter()
            .find(|(id, _)| id == staff)
            .map(|(_, m)| m.as_slice())
    }
}

/// A stored result document with byte spans of its records.
#[derive(Debug, Clone)]
pub struct ResultDoc {
    /// Shared with the blob that stores them (not copied).
    bytes: Arc<Vec<u8>>,
    header: Header,
    spans: Vec<Range<usize>>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    hash: String,
}

#[derive(Deserialize)]
struct RawGrade {
    grade: String,
    count: u64,
    quota: Option<u64>,
}

#[derive(Deserialize)]
struct RawInput {
    n_rows: u64,
    sha256: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExcluded {
    staff_id: String,
    missing_from: Vec<String>,
}

#[derive(Deserialize)]
struct RawDoc<'a> {
    package: RawPackage,
    period: String,
    n: u64,
    scores: Vec<String>,
    rank_by: String,
    report_decimals: u32,
    grade_distribution: Vec<RawGrade>,
    inputs: BTreeMap<String, RawInput>,
    #[serde(default)]
    excluded: Option<Vec<RawExcluded>>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(borrow)]
    results: Vec<&'a RawValue>,
}

impl ResultDoc {
    /// Parse a result document's bytes.
    pub fn parse(bytes: Vec<u8>) -> Result<ResultDoc, String> {
        let (header, spans) = {
            let raw: RawDoc<'_> = serde_json::from_slice(&bytes)
                .map_err(|e| format!("the result document does not parse: {e}"))?;
            let base = bytes.as_ptr() as usize;
            let spans = raw
                .results
                .iter()
                .map(|r| {
                    let start = (r.get().as_ptr() as usize).saturating_sub(base);
                    start..start + r.get().len()
                })
                .collect::<Vec<_>>();
            let header = Header {
                package_name: raw.package.name,
                package_version: raw.package.version,
                package_hash: raw.package.hash,
                period: raw.period,
                n: raw.n,
                score_names: raw.scores,
                rank_by: raw.rank_by,
                report_decimals: raw.report_decimals,
                grades: raw
                    .grade_distribution
                    .into_iter()
                    .map(|g| GradeRow {
                        grade: g.grade,
                        count: g.count,
                        quota: g.quota,
                    })
                    .collect(),
                inputs: raw
                    .inputs
                    .into_iter()
                    .map(|(k, v)| (k, (v.n_rows, v.sha256)))
                    .collect(),
                excluded: raw.excluded.map(|ex| {
                    ex.into_iter()
                        .map(|e| (e.staff_id, e.missing_from))
                        .collect()
                }),
                nonce: raw.nonce,
            };
            (header, spans)
        };
        Ok(ResultDoc {
            bytes: Arc::new(bytes),
            header,
            spans,
        })
    }

    /// A document as the engine wrote it, with the byte range of each
    /// record ([`rankproof_engine::Ranking::canonical_bytes_and_spans`]):
    /// only the header is parsed (the document with its `results` array
    /// left empty), and the spans are checked to be the array's elements
    /// in order, separated by commas. For the engine's bytes and spans the
    /// result equals [`ResultDoc::parse`] of the bytes, without reading
    /// the records again.
    pub fn from_spans(bytes: Vec<u8>, spans: Vec<Range<usize>>) -> Result<ResultDoc, String> {
        let bad = || "the result document's record spans do not fit its bytes".to_owned();
        const KEY: &[u8] = b"\"results\":[";
        let Some(first) = spans.first() else {
            // No records: the document is its header.
            let doc = ResultDoc::parse(bytes)?;
            return if doc.is_empty() { Ok(doc) } else { Err(bad()) };
        };
        let open = first.start;
        if open < KEY.len() || bytes.get(open - KEY.len()..open) != Some(KEY) {
            return Err(bad());
        }
        let mut end = open;
        for (i, s) in spans.iter().enumerate() {
            let expect = if i == 0 { open } else { end + 1 };
            if s.start != expect
                || s.end < s.start
                || (i > 0 && bytes.get(end) != Some(&b','))
                || s.end > bytes.len()
            {
                return Err(bad());
            }
            end = s.end;
        }
        if bytes.get(end) != Some(&b']') {
            return Err(bad());
        }
        let mut head = Vec::with_capacity(open + bytes.len() - end);
        head.extend_from_slice(&bytes[..open]);
        head.extend_from_slice(&bytes[end..]);
        let header = ResultDoc::parse(head)?.header;
        Ok(ResultDoc {
            bytes: Arc::new(bytes),
            header,
            spans,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The document's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The document's bytes, shared (to be stored as a blob without a
    /// copy).
    pub fn shared_bytes(&self) -> Arc<Vec<u8>> {
        Arc::clone(&self.bytes)
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The raw (canonical) bytes of record `idx` (position − 1).
    pub fn record_bytes(&self, idx: usize) -> &[u8] {
        self.spans
            .get(idx)
            .and_then(|r| self.bytes.get(r.clone()))
            .unwrap_or_default()
    }

    /// Record `idx` as JSON.
    pub fn record_json(&self, idx: usize) -> Result<Map<String, Value>, String> {
        serde_json::from_slice(self.record_bytes(idx))
            .map_err(|e| format!("staff record {} does not parse: {e}", idx + 1))
    }

    /// Record `idx`, typed.
    pub fn record(&self, idx: usize) -> Result<StaffRecord, String> {
        StaffRecord::from_json(&self.record_json(idx)?, Some(&self.header.score_names))
    }

    /// Record `idx` without its explanation (`explain` is null): what a
    /// table or CSV needs, read without parsing the explanation.
    pub fn record_brief(&self, idx: usize) -> Result<StaffRecord, String> {
        let raw: BTreeMap<String, &RawValue> = serde_json::from_slice(self.record_bytes(idx))
            .map_err(|e| format!("staff record {} does not parse: {e}", idx + 1))?;
        let mut m = Map::new();
        for (k, v) in raw {
            if k != "explain" {
                let v: Value = serde_json::from_str(v.get())
                    .map_err(|e| format!("staff record {} does not parse: {e}", idx + 1))?;
                m.insert(k, v);
            }
        }
        StaffRecord::from_json(&m, Some(&self.header.score_names))
    }

    /// Every record without its explanation, in position order (each read
    /// from its JSON, in parallel; a record that does not parse is left out).
    pub fn records_brief(&self) -> Vec<StaffRecord> {
        use rayon::prelude::*;
        (0..self.len())
            .into_par_iter()
            .filter_map(|i| self.record_brief(i).ok())
            .collect()
    }

    /// The staff ID of record `idx`.
    pub fn staff_id(&self, idx: usize) -> Option<String> {
        #[derive(Deserialize)]
        struct Id {
            staff_id: String,
        }
        serde_json::from_slice::<Id>(self.record_bytes(idx))
            .ok()
            .map(|i| i.staff_id)
    }

    /// The index of a staff member's record.
    pub fn find(&self, staff: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.staff_id(i).as_deref() == Some(staff))
    }

    /// Attribute names in the order of the first record.
    pub fn attribute_names(&self) -> Vec<String> {
        match self.record_brief(0) {
            Ok(r) => r.attributes.into_iter().map(|(k, _)| k).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// One staff member's published result.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffRecord {
    /// The staff ID.
    pub staff_id: String,
    /// 1..=N.
    pub position: u64,
    /// Competition rank.
    pub rank: u64,
    /// The grade.
    pub grade: String,
    /// The bonus multiplier (canonical decimal).
    pub bonus_multiplier: String,
    /// Flags.
    pub flags: Vec<String>,
    /// Reported scores (name, canonical decimal) in report order.
    pub scores: Vec<(String, String)>,
    /// Attributes (name, text) in document order.
    pub attributes: Vec<(String, String)>,
    /// The explanation object.
    pub explain: Value,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl StaffRecord {
    /// Read a record; `score_names` from the document header, or `None`
    /// (a receipt) to take them from `explain.unrounded`.
    pub fn from_json(
        m: &Map<String, Value>,
        score_names: Option<&[String]>,
    ) -> Result<StaffRecord, String> {
        let str_of = |k: &str| -> Result<String, String> {
            m.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("staff record has no text member `{k}`"))
        };
        let int_of = |k: &str| -> Result<u64, String> {
            m.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("staff record has no integer member `{k}`"))
        };
        let explain = m.get("explain").cloned().unwrap_or(Value::Null);
        let names: Vec<String> = match score_names {
            Some(n) => n.to_vec(),
            None => explain
                .get("unrounded")
                .and_then(Value::as_object)
                .map(|u| u.keys().cloned().collect())
                .unwrap_or_default(),
        };
        let scores = names
            .iter()
            .filter_map(|k| m.get(k).map(|v| (k.clone(), text(v))))
            .collect();
        let attributes = m
            .iter()
            .filter(|(k, _)| !STANDARD.contains(&k.as_str()) && !names.contains(k))
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        Ok(StaffRecord {
            staff_id: str_of("staff_id")?,
            position: int_of("position")?,
            rank: int_of("rank")?,
            grade: str_of("grade")?,
            bonus_multiplier: str_of("bonus_multiplier")?,
            flags: m
                .get("flags")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
            scores,
            attributes,
            explain,
        })
    }

    /// A record without its explanation from the engine's summary of it:
    /// the same as [`ResultDoc::record_brief`] of the document the engine
    /// writes, without writing or reading that document. `score_names` in
    /// report order, from the document header.
    pub fn from_summary(s: StaffSummary, score_names: &[String]) -> StaffRecord {
        let canonical = rankproof_engine::decimal::canonical;
        StaffRecord {
            scores: score_names
                .iter()
                .filter_map(|k| s.scores.get(k).map(|v| (k.clone(), canonical(v))))
                .collect(),
            staff_id: s.staff_id.as_str().to_owned(),
            position: s.position,
            rank: s.rank,
            grade: s.grade,
            bonus_multiplier: canonical(&s.bonus_multiplier),
            flags: s.flags,
            attributes: s.attributes.into_iter().collect(),
            explain: Value::Null,
        }
    }

    /// Every record of a ranking without its explanation, in position
    /// order, from the engine's columns ([`StaffRecord::from_summary`]).
    pub fn all_from(
        ranking: &rankproof_engine::Ranking,
        score_names: &[String],
    ) -> Vec<StaffRecord> {
        use rayon::prelude::*;
        ranking
            .summaries()
            .into_par_iter()
            .map(|s| StaffRecord::from_summary(s, score_names))
            .collect()
    }

    /// A score's reported value.
    pub fn score(&self, name: &str) -> Option<&str> {
        self.scores
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// An attribute's value.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The explanation, organized for reading.
    pub fn explanation(&self) -> Explanation {
        Explanation::of(&self.explain, &self.scores)
    }
}

/// One weighted term of a score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The term's name.
    pub name: String,
    /// Its value (canonical decimal), if found.
    pub value: Option<String>,
    /// Its weight.
    pub weight: String,
    /// value × weight, if both are decimals.
    pub contribution: Option<String>,
}

/// One score (a dimension) with the weighted terms that make it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    /// The score's name.
    pub name: String,
    /// Its unrounded value, if the explanation gives it.
    pub value: Option<String>,
    /// Its reported (rounded) value, if it is a declared score.
    pub reported: Option<String>,
    /// The weighted terms.
    pub terms: Vec<Term>,
    /// The sum of the contributions.
    pub sum: Option<String>,
    /// Other members the script explained (name, value).
    pub details: Vec<(String, String)>,
}

/// An explanation: the inputs used, what was derived, each weighted
/// dimension, and the classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The joined input values used.
    pub inputs: Vec<(String, String)>,
    /// What `derive` returned.
    pub derived: Vec<(String, String)>,
    /// Every score before report rounding.
    pub unrounded: Vec<(String, String)>,
    /// Weighted dimensions, in explanation order.
    pub dimensions: Vec<Dimension>,
    /// Other scoring notes (name, value).
    pub notes: Vec<(String, String)>,
    /// What `classify` explained.
    pub classification: Vec<(String, String)>,
}

fn pairs(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_object)
        .map(|o| o.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default()
}

fn dec(s: &str) -> Option<Decimal> {
    s.parse::<Decimal>().ok()
}

fn canonical(d: Decimal) -> String {
    rankproof_engine::decimal::canonical(&d)
}

impl Explanation {
    /// Read a record's `explain` member (RULES.md §8): every score named in
    /// `scoring` lists its terms as `[value, weight, contribution]`, which
    /// the engine wrote so that they add up to the score.
    fn of(explain: &Value, reported: &[(String, String)]) -> Explanation {
        let inputs = pairs(explain.get("inputs"));
        let derived = pairs(explain.get("derived"));
        let unrounded = pairs(explain.get("unrounded"));
        let mut dimensions = Vec::new();
        let mut notes = pairs(explain.get("details"));
        if let Some(scoring) = explain.get("scoring").and_then(Value::as_object) {
            for (name, d) in scoring {
                let Some(terms_obj) = d.get("terms").and_then(Value::as_object) else {
                    notes.push((name.clone(), text(d)));
                    continue;
                };
                let mut terms = Vec::new();
                let mut sum = Some(Decimal::ZERO);
                for (t, vwc) in terms_obj {
                    let at = |i: usize| vwc.get(i).map(text);
                    let contribution = at(2);
                    sum = match (sum, contribution.as_deref().and_then(dec)) {
                        (Some(s), Some(c)) => s.checked_add(c),
                        _ => None,
                    };
                    terms.push(Term {
                        name: t.clone(),
                        value: at(0),
                        weight: at(1).unwrap_or_default(),
                        contribution,
                    });
                }
                let details = d
                    .get("rounded_to")
                    .map(|p| vec![("rounded to places".to_string(), text(p))])
                    .unwrap_or_default();
                dimensions.push(Dimension {
                    reported: find(reported, name),
                    value: find(&unrounded, name),
                    name: name.clone(),
                    terms,
                    sum: sum.map(canonical),
                    details,
                });
            }
        }
        Explanation {
            inputs,
            derived,
            unrounded,
            dimensions,
            notes,
            classification: pairs(explain.get("classification")),
        }
    }
}

fn find(list: &[(String, String)], k: &str) -> Option<String> {
    list.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}
