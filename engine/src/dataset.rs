//! Input datasets: files in, one canonical JSON form out.
//!
//! [`Dataset::read`] reads what HR has (workbooks, CSV in UTF-8, UTF-16 or
//! GBK/GB18030, JSON; see [`crate::read`]), checks every cell against the
//! source's schema and reports every problem of the file at once.
//! [`Dataset::from_canonical`] reads a recorded canonical dataset back
//! without a JSON tree and verifies that it is canonical.
//!
//! Canonical form (RFC 8785 / JCS bytes):
//! `{"format":"rankproof-dataset/1","rows":[ROW...],"source":"crm"}` with rows
//! sorted by `staff_id` (byte order), each row an object keyed by canonical
//! column names; text and decimals are JSON strings (decimals in canonical
//! form), integers are JSON numbers; an empty optional cell is omitted.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::decimal::{canonical, is_safe_integer, parse_integer, parse_strict};
use crate::read::number::decimal_from_f64;
use crate::read::{InputFormat, InputLimits, ReadOptions, ReadReport};
use crate::schema::{
    is_bidi_control, is_invisible, ColumnType, HeaderMatch, RowPolicy, SourceSchema, StaffId,
};

/// The `format` tag of a canonical dataset.
pub const DATASET_FORMAT: &str = "rankproof-dataset/1";

/// One cell value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Decimal(Decimal),
    Integer(i64),
}

impl Value {
    /// The value as a decimal, if numeric.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Decimal(d) => Some(*d),
            Value::Integer(i) => Some(Decimal::from(*i)),
            Value::Text(_) => None,
        }
    }

    /// The canonical JSON value as the engine's JSON tree.
    pub fn to_jcs_json(&self) -> crate::jcs::Json {
        match self {
            Value::Text(s) => crate::jcs::Json::Str(s.clone()),
            Value::Decimal(d) => crate::jcs::Json::Str(canonical(d)),
            Value::Integer(i) => crate::jcs::Json::Int(*i),
        }
    }

    /// The canonical JSON value: text and decimals as strings, integers as numbers.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Decimal(d) => serde_json::Value::String(canonical(d)),
            Value::Integer(i) => serde_json::Value::from(*i),
        }
    }
}

/// One cell value, borrowed from a dataset's columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    Text(&'a str),
    Decimal(Decimal),
    Integer(i64),
}

impl ValueRef<'_> {
    /// The value as a decimal, if numeric.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            ValueRef::Decimal(d) => Some(*d),
            ValueRef::Integer(i) => Some(Decimal::from(*i)),
            ValueRef::Text(_) => None,
        }
    }

    /// The text, if a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ValueRef::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The value, owned.
    pub fn to_value(&self) -> Value {
        match self {
            ValueRef::Text(t) => Value::Text((*t).to_owned()),
            ValueRef::Decimal(d) => Value::Decimal(*d),
            ValueRef::Integer(i) => Value::Integer(*i),
        }
    }

    /// Append the canonical JSON bytes: text and decimals as strings,
    /// integers as numbers.
    pub(crate) fn write_jcs(&self, out: &mut Vec<u8>) {
        match self {
            ValueRef::Text(t) => crate::jcs::write_str(t, out),
            ValueRef::Decimal(d) => crate::decimal::write_canonical_json(d, out),
            ValueRef::Integer(i) => crate::jcs::write_int(*i, out),
        }
    }
}

/// Where in an input file something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// A line of a text file (1-based, the header is line 1). A record that
    /// spans lines is at the line where it starts; a cell at the line where
    /// the cell starts. LF, CRLF and CR each end one line.
    Line(u64),
    /// An element of a JSON `rows` array (1-based).
    Row(usize),
    /// A row of a workbook sheet, as the spreadsheet numbers it (1-based).
    SheetRow(u32),
    /// A cell of a workbook sheet: its row as numbered (1-based) and its
    /// column (0-based, shown as a letter: 0 is `A`).
    Cell { row: u32, col: u32 },
}

/// The spreadsheet letter of a 0-based column: 0 `A`, 25 `Z`, 26 `AA`.
pub fn column_letter(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = ((n - 1) % 26) as u8;
        out.push(b'A' + r);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Line(l) => write!(f, "line {l}"),
            Loc::Row(r) => write!(f, "row {r}"),
            Loc::SheetRow(r) => write!(f, "sheet row {r}"),
            Loc::Cell { row, col } => write!(f, "cell {}{row}", column_letter(*col)),
        }
    }
}

impl Loc {
    /// The line or row number, for ordering problems in file order.
    fn key(&self) -> u64 {
        match *self {
            Loc::Line(x) => x,
            Loc::Row(x) => u64::try_from(x).unwrap_or(u64::MAX),
            Loc::SheetRow(r) | Loc::Cell { row: r, .. } => u64::from(r),
        }
    }
}

/// Text safe to show in a message: control, bidi and invisible characters
/// as `\u{..}`, at most 60 characters.
pub fn shown(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 60 {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) {
            out.push_str(&format!("\\u{{{:04X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A problem of a dataset. Messages name the file, the line (or JSON row,
/// or sheet cell) and the column, and say how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    #[error("{file}: the file has no data rows")]
    Empty { file: String },
    #[error("{file}: {at}: {message}")]
    Malformed {
        file: String,
        at: Loc,
        message: String,
    },
    #[error("{file}: missing required column `{column}` (accepted headers: {labels})")]
    MissingColumn {
        file: String,
        column: String,
        labels: String,
    },
    #[error("{file}: line 1: unknown column `{header}` for source `{source_name}` (known: {known}); remove it or declare it in the package")]
    UnknownColumn {
        file: String,
        header: String,
        source_name: String,
        known: String,
    },
    /// Every header label that names no column, at once, with hints.
    #[error("{file}: {at}: {} for source `{source_name}`; accepted headers: {accepted}; rename or remove {}, or declare {} in the package's ignore_columns", unknown_list(.headers), if .headers.len() == 1 { "it" } else { "them" }, if .headers.len() == 1 { "it" } else { "them" })]
    UnknownColumns {
        file: String,
        at: Loc,
        source_name: String,
        /// Each unknown label and the closest accepted label, if one is close.
        headers: Vec<(String, Option<String>)>,
        accepted: String,
    },
    /// A header label with a unit its column does not declare.
    #[error("{file}: {at}: header `{header}` carries the unit `{}`, but column `{column}` accepts {}; check the values' unit (e.g. 万元 versus 元) and fix the header or the package", unit_of(.header), if .units.is_empty() { "no unit".to_owned() } else { format!("only {}", .units.join(", ")) })]
    WrongUnit {
        file: String,
        at: Loc,
        header: String,
        column: String,
        /// The units the column declares.
        units: Vec<String>,
    },
    #[error("{file}: line 1: columns `{first}` and `{second}` both map to `{column}`")]
    DuplicateColumn {
        file: String,
        first: String,
        second: String,
        column: String,
    },
    #[error("{file}: {at}: duplicate staff_id `{staff_id}` (first at {first})")]
    DuplicateId {
        file: String,
        at: Loc,
        first: Loc,
        staff_id: String,
    },
    /// Two IDs that differ only by letter case or character width.
    #[error("{file}: {at}: staff_id `{staff_id}` differs from `{other}` ({other_at}) only by letter case or full-/half-width characters; write one person's ID one way")]
    LookalikeId {
        file: String,
        at: Loc,
        staff_id: String,
        other: String,
        other_at: Loc,
    },
    #[error("{file}: {at}, column `{column}`: {message}")]
    BadValue {
        file: String,
        at: Loc,
        column: String,
        message: String,
    },
    /// A bound of [`InputLimits`] was exceeded.
    #[error("{file}: {message}")]
    Limit { file: String, message: String },
    /// A workbook that cannot be opened, or a sheet that is not there.
    #[error("{file}: {message}")]
    Workbook { file: String, message: String },
}

fn unit_of(header: &str) -> String {
    let f = crate::schema::fold_width(header.trim());
    crate::schema::split_unit(&f)
        .map(|(_, u)| u.to_owned())
        .unwrap_or_default()
}

fn unknown_list(headers: &[(String, Option<String>)]) -> String {
    let items: Vec<String> = headers
        .iter()
        .map(|(h, hint)| match hint {
            Some(l) => format!("`{}` (did you mean `{l}`?)", shown(h)),
            None => format!("`{}`", shown(h)),
        })
        .collect();
    let s = if headers.len() == 1 { "" } else { "s" };
    format!("unknown column{s} {}", items.join(", "))
}

/// Every problem found in one file (the first [`InputLimits::max_problems`],
/// in file order, and a count of the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetProblems {
    pub file: String,
    pub problems: Vec<DatasetError>,
    /// Problems found beyond those listed.
    pub n_more: usize,
    /// How the reader read the file, when it got that far (e.g. `read CSV
    /// as GB18030 (not valid UTF-8), comma separated`; see
    /// [`ReadReport::how_read`]). Not part of the message.
    pub read_as: Option<String>,
}

impl DatasetProblems {
    /// The first problem in file order.
    pub fn first(&self) -> Option<&DatasetError> {
        self.problems.first()
    }
    /// How many problems were found in all.
    pub fn total(&self) -> usize {
        self.problems.len() + self.n_more
    }
}

impl fmt::Display for DatasetProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.problems, self.n_more, &format!("{}: ", self.file))
    }
}

/// Write a capped list of problems, one a line, then how many more there
/// were (`prefix` names the file, if any). Shared by every "all problems at
/// once" report.
pub(crate) fn write_problems<P: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    problems: &[P],
    n_more: usize,
    prefix: &str,
) -> fmt::Result {
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{p}")?;
    }
    if n_more > 0 {
        write!(
            f,
            "\n{prefix}and {n_more} more problems (the first {} are listed)",
            problems.len()
        )?;
    }
    Ok(())
}

impl std::error::Error for DatasetProblems {}

impl From<DatasetProblems> for DatasetError {
    /// The first problem (callers that report one error).
    fn from(p: DatasetProblems) -> DatasetError {
        let file = p.file.clone();
        p.problems
            .into_iter()
            .next()
            .unwrap_or(DatasetError::Empty { file })
    }
}

/// The text cells of one column: every cell's bytes in one arena.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextColumn {
    bytes: String,
    /// `ends[i]` is where cell `i` ends in `bytes` (it starts where cell
    /// `i - 1` ends, or at 0).
    ends: Vec<usize>,
}

impl TextColumn {
    fn with_capacity(n: usize) -> TextColumn {
        TextColumn {
            bytes: String::new(),
            ends: Vec::with_capacity(n),
        }
    }
    fn len(&self) -> usize {
        self.ends.len()
    }
    fn push(&mut self, t: &str) {
        self.bytes.push_str(t);
        self.ends.push(self.bytes.len());
    }
    /// The text of cell `i` (empty if there is none).
    pub(crate) fn get(&self, i: usize) -> &str {
        let start = match i.checked_sub(1) {
            Some(p) => self.ends.get(p).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.bytes.get(start..end).unwrap_or("")
    }
    fn truncate(&mut self, n: usize) {
        if n < self.ends.len() {
            let end = match n.checked_sub(1) {
                Some(p) => self.ends.get(p).copied().unwrap_or(0),
                None => 0,
            };
            self.ends.truncate(n);
            self.bytes.truncate(end);
        }
    }
    fn select(&self, idx: &[usize]) -> TextColumn {
        let bytes: usize = idx.iter().map(|&i| self.get(i).len()).sum();
        let mut out = TextColumn {
            bytes: String::with_capacity(bytes),
            ends: Vec::with_capacity(idx.len()),
        };
        for &i in idx {
            out.push(self.get(i));
        }
        out
    }
}

/// FNV-1a of a folded staff-ID key: a fixed function, so grouping look-alike
/// IDs behaves the same on every build.
fn fold_hash(key: &str) -> u64 {
    fnv(key.bytes())
}

fn fnv(bytes: impl Iterator<Item = u8>) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`fold_hash`] of an ID's folded key, and whether that key differs from
/// the ID; an ASCII ID (whose key is its lower case) without building the key.
fn fold_hash_of(id: &StaffId) -> (u64, bool) {
    let s = id.as_str();
    if s.is_ascii() {
        (
            fnv(s.bytes().map(|b| b.to_ascii_lowercase())),
            s.bytes().any(|b| b.is_ascii_uppercase()),
        )
    } else {
        let key = id.fold_key();
        (fold_hash(&key), key != s)
    }
}

/// The values of one schema column, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Values {
    /// The staff ID column: its values are the dataset's staff IDs.
    Id,
    Text(TextColumn),
    Decimal(Vec<Decimal>),
    Integer(Vec<i64>),
}

/// One schema column: a value for every row (a placeholder where a cell
/// is empty) and, only if some cell is empty, which cells have a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Col {
    values: Values,
    /// Empty when every cell has a value; else one flag a row.
    present: Vec<bool>,
}

impl Col {
    fn new(ty: ColumnType, id: bool) -> Col {
        let values = match (id, ty) {
            (true, _) => Values::Id,
            (false, ColumnType::Text) => Values::Text(TextColumn::with_capacity(0)),
            (false, ColumnType::Decimal) => Values::Decimal(Vec::new()),
            (false, ColumnType::Integer) => Values::Integer(Vec::new()),
        };
        Col {
            values,
            present: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        match &self.values {
            Values::Id => 0,
            Values::Text(t) => t.len(),
            Values::Decimal(v) => v.len(),
            Values::Integer(v) => v.len(),
        }
    }

    fn has(&self, i: usize) -> bool {
        self.present.is_empty() || self.present.get(i).copied().unwrap_or(false)
    }

    /// Append a cell's value (of this column's type; a value of another
    /// type is stored as an empty cell).
    fn push(&mut self, v: Conv<'_>) {
        let ok = match (&mut self.values, v) {
            (Values::Text(t), Conv::Text(x)) => {
                t.push(&x);
                true
            }
            (Values::Decimal(d), Conv::Decimal(x)) => {
                d.push(x);
                true
            }
            (Values::Integer(d), Conv::Integer(x)) => {
                d.push(x);
                true
            }
            _ => false,
        };
        if ok {
            if !self.present.is_empty() {
                self.present.push(true);
            }
        } else {
            self.push_missing();
        }
    }

    /// Append an empty cell.
    fn push_missing(&mut self) {
        let n = self.len();
        match &mut self.values {
            Values::Id => return,
            Values::Text(t) => t.push(""),
            Values::Decimal(d) => d.push(Decimal::ZERO),
            Values::Integer(d) => d.push(0),
        }
        if self.present.is_empty() {
            self.present = vec![true; n];
        }
        self.present.push(false);
    }

    fn truncate(&mut self, n: usize) {
        match &mut self.values {
            Values::Id => {}
            Values::Text(t) => t.truncate(n),
            Values::Decimal(d) => d.truncate(n),
            Values::Integer(d) => d.truncate(n),
        }
        self.present.truncate(n);
    }

    /// The numeric value of row `i`, if it has one.
    fn decimal_at(&self, i: usize) -> Option<Decimal> {
        if !self.has(i) {
            return None;
        }
        match &self.values {
            Values::Decimal(d) => d.get(i).copied(),
            Values::Integer(d) => d.get(i).map(|x| Decimal::from(*x)),
            Values::Id | Values::Text(_) => None,
        }
    }

    /// The rows `idx`, in that order.
    fn select(&self, idx: &[usize]) -> Col {
        fn pick<T: Copy + Default>(v: &[T], idx: &[usize]) -> Vec<T> {
            idx.iter()
                .map(|&i| v.get(i).copied().unwrap_or_default())
                .collect()
        }
        let values = match &self.values {
            Values::Id => Values::Id,
            Values::Text(t) => Values::Text(t.select(idx)),
            Values::Decimal(d) => Values::Decimal(pick(d, idx)),
            Values::Integer(d) => Values::Integer(pick(d, idx)),
        };
        let mut present = if self.present.is_empty() {
            Vec::new()
        } else {
            pick(&self.present, idx)
        };
        if present.iter().all(|p| *p) {
            present = Vec::new();
        }
        Col { values, present }
    }
}

/// A dataset's rows as columns, sorted by staff ID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Table {
    ids: Vec<StaffId>,
    /// Where each row was in its file (for messages; not part of the canonical form).
    at: Vec<Loc>,
    /// One per schema column (index 0, the staff ID, is [`Values::Id`]).
    cols: Vec<Col>,
}

impl Table {
    fn new(schema: &SourceSchema) -> Table {
        Table {
            ids: Vec::new(),
            at: Vec::new(),
            cols: schema
                .columns
                .iter()
                .enumerate()
                .map(|(ci, c)| Col::new(c.ty, ci == 0))
                .collect(),
        }
    }

    /// The rows `idx`, in that order.
    fn select(&self, idx: &[usize]) -> Table {
        use rayon::prelude::*;
        Table {
            ids: idx
                .iter()
                .filter_map(|&i| self.ids.get(i).cloned())
                .collect(),
            at: idx
                .iter()
                .filter_map(|&i| self.at.get(i).copied())
                .collect(),
            cols: self.cols.par_iter().map(|c| c.select(idx)).collect(),
        }
    }

    /// The text of row `i` in column `ci`, if it is a text value.
    pub(crate) fn text(&self, i: usize, ci: usize) -> Option<&str> {
        match self.value(i, ci)? {
            ValueRef::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Append the value of each row of `rows` in column `ci` to `out`, as
    /// [`Table::value`] gives them: one column at a time, so that reading
    /// rows in another order than the file's (a ranking's positions) keeps
    /// its cache misses independent of one another.
    pub(crate) fn gather<'t>(
        &'t self,
        rows: &[usize],
        ci: usize,
        out: &mut Vec<Option<ValueRef<'t>>>,
    ) {
        let Some(c) = self.cols.get(ci) else {
            out.extend(rows.iter().map(|_| None));
            return;
        };
        let present = |i: usize| c.has(i);
        match &c.values {
            Values::Id => out.extend(rows.iter().map(|&i| {
                self.ids
                    .get(i)
                    .filter(|_| present(i))
                    .map(|s| ValueRef::Text(s.as_str()))
            })),
            Values::Text(t) => out.extend(
                rows.iter()
                    .map(|&i| (present(i) && i < t.len()).then(|| ValueRef::Text(t.get(i)))),
            ),
            Values::Decimal(d) => out.extend(rows.iter().map(|&i| {
                d.get(i)
                    .filter(|_| present(i))
                    .map(|x| ValueRef::Decimal(*x))
            })),
            Values::Integer(d) => out.extend(rows.iter().map(|&i| {
                d.get(i)
                    .filter(|_| present(i))
                    .map(|x| ValueRef::Integer(*x))
            })),
        }
    }

    pub(crate) fn value(&self, i: usize, ci: usize) -> Option<ValueRef<'_>> {
        let c = self.cols.get(ci)?;
        if !c.has(i) {
            return None;
        }
        match &c.values {
            Values::Id => self.ids.get(i).map(|s| ValueRef::Text(s.as_str())),
            Values::Text(t) => (i < t.len()).then(|| ValueRef::Text(t.get(i))),
            Values::Decimal(d) => d.get(i).map(|x| ValueRef::Decimal(*x)),
            Values::Integer(d) => d.get(i).map(|x| ValueRef::Integer(*x)),
        }
    }
}

/// One column of a dataset, typed, for reading many rows at once.
#[derive(Debug, Clone, Copy)]
pub enum ColumnRef<'a> {
    /// The staff IDs.
    StaffId(&'a [StaffId]),
    Text(TextCells<'a>),
    Decimal(&'a [Decimal]),
    Integer(&'a [i64]),
}

/// The text cells of a column.
#[derive(Debug, Clone, Copy)]
pub struct TextCells<'a>(&'a TextColumn);

impl<'a> TextCells<'a> {
    /// The text of row `i` (empty for an empty cell or a row not there).
    pub fn get(&self, i: usize) -> &'a str {
        self.0.get(i)
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.len() == 0
    }
    /// Every row's text, in row order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + 'a {
        let t = self.0;
        (0..t.len()).map(move |i| t.get(i))
    }
}

/// A parsed, validated dataset of one source, rows sorted by staff ID and
/// stored as columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    schema: SourceSchema,
    file: String,
    /// Shared, so that a ranking can keep the inputs it writes into its
    /// records' explanations without copying them.
    table: Arc<Table>,
    /// The dataset salt: 32 random bytes chosen when the dataset is
    /// recorded, written into the canonical form so that its hash commits
    /// to a secret (RULES.md section 6). `None` for a file read for a dry
    /// run or a test case, which is never recorded.
    salt: Option<[u8; 32]>,
    /// SHA-256 of the canonical bytes, once known.
    hash: HashOnce,
}

/// A dataset's hash, computed at most once: the first time it is asked
/// for, or while a recorded dataset's bytes are checked. It is derived from
/// the rows and the salt, so it takes no part in comparing datasets.
#[derive(Debug, Clone, Default)]
struct HashOnce(std::sync::OnceLock<[u8; 32]>);

impl PartialEq for HashOnce {
    fn eq(&self, _: &HashOnce) -> bool {
        true
    }
}

impl Eq for HashOnce {}

impl Dataset {
    /// Parse CSV or JSON (chosen by the first non-blank byte: `[` or `{`
    /// means JSON) in any encoding [`Dataset::read`] detects, or a workbook;
    /// return the first problem. `file_label` is used in errors. Canonical
    /// bytes take the fast path of [`Dataset::from_canonical`].
    pub fn parse(
        schema: &SourceSchema,
        file_label: &str,
        bytes: &[u8],
    ) -> Result<Dataset, DatasetError> {
        if bytes.starts_with(CANONICAL_PREFIX) {
            if let Ok(d) = Dataset::from_canonical(bytes, schema, file_label) {
                return Ok(d);
            }
        }
        Dataset::read(bytes, file_label, &ReadOptions::default(), schema)
            .map(|(d, _)| d)
            .map_err(DatasetError::from)
    }

    /// Read a file as HR has it: a workbook (`.xlsx`, `.xls`; the sheet
    /// named in `options`, else the first), or CSV/JSON text in UTF-8 (with
    /// or without BOM), UTF-16 with BOM, or GBK/GB18030 (detected, or as
    /// `options.encoding` says), comma or tab separated. Checks every cell
    /// and returns every problem of the file at once (capped, with a count
    /// of the rest), or the dataset and what was detected.
    pub fn read(
        bytes: &[u8],
        file_name: &str,
        options: &ReadOptions,
        schema: &SourceSchema,
    ) -> Result<(Dataset, ReadReport), DatasetProblems> {
        let limits = options.limits;
        let mut b = Builder::new(schema, file_name, limits);
        if bytes.len() > limits.max_file_bytes {
            b.problem(DatasetError::Limit {
                file: file_name.to_owned(),
                message: format!(
                    "the file has {} bytes, more than the limit of {} bytes; split it or raise the limit",
                    bytes.len(),
                    limits.max_file_bytes
                ),
            });
            return Err(b.into_problems());
        }
        let mut report = ReadReport {
            format: InputFormat::Csv,
            encoding: None,
            delimiter: None,
            ignored_columns: Vec::new(),
            skipped_empty_rows: Vec::new(),
            skipped_total_row: None,
            n_rows: 0,
        };
        if let Some(kind) = crate::read::workbook_kind(bytes, file_name) {
            let sheet =
                crate::read::sheet::read_workbook(&mut b, bytes, kind, options.sheet.as_deref());
            report.format = InputFormat::Workbook {
                kind,
                sheet: sheet.unwrap_or_default(),
            };
        } else {
            match crate::read::decode(bytes, options.encoding) {
                Err(e) => b.problem(DatasetError::Malformed {
                    file: file_name.to_owned(),
                    at: Loc::Line(e.line),
                    message: e.message,
                }),
                Ok(dec) => {
                    report.encoding = Some((dec.encoding, dec.how));
                    let text: &str = &dec.text;
                    let first = text.chars().find(|c| !c.is_whitespace());
                    if matches!(first, Some('[') | Some('{')) {
                        report.format = InputFormat::Json;
                        read_json(&mut b, text);
                    } else {
                        let delim = options
                            .delimiter
                            .unwrap_or_else(|| crate::read::detect_delimiter(text));
                        report.delimiter = Some(delim);
                        if matches!(delim, b',' | b'\t' | b';' | b'|') {
                            read_csv(&mut b, text, delim);
                        } else {
                            b.fatal(
                                Loc::Line(1),
                                format!(
                                    "`{}` cannot be a delimiter; use a comma, a tab, `;` or `|`",
                                    shown(&char::from(delim).to_string())
                                ),
                            );
                        }
                    }
                }
            }
        }
        let (d, stats) = b.finish().map_err(|mut p| {
            let decoded = report.encoding.is_some()
                || matches!(&report.format, InputFormat::Workbook { sheet, .. } if !sheet.is_empty());
            if decoded {
                p.read_as = Some(report.how_read());
            }
            p
        })?;
        report.ignored_columns = stats.ignored_columns;
        report.skipped_empty_rows = stats.skipped_empty_rows;
        report.skipped_total_row = stats.skipped_total_row;
        report.n_rows = d.n_rows();
        Ok((d, report))
    }

    /// Read a recorded canonical dataset back: parsed directly into rows
    /// (no JSON tree), every value checked against `schema` as on input,
    /// and the bytes verified to be exactly the canonical form (so the
    /// dataset hash is the hash of `bytes`).
    pub fn from_canonical(
        bytes: &[u8],
        schema: &SourceSchema,
        file_label: &str,
    ) -> Result<Dataset, DatasetError> {
        let mut b = Builder::new(
            schema,
            file_label,
            InputLimits {
                max_file_bytes: usize::MAX,
                max_rows: usize::MAX,
                max_problems: 1,
                ..InputLimits::default()
            },
        );
        b.canonical = true;
        let salt = crate::read::canonical::read(&mut b, bytes)?;
        let (mut d, _) = b.finish().map_err(DatasetError::from)?;
        d.salt = salt;
        let mut cmp = Compare {
            expected: bytes,
            pos: 0,
            ok: true,
            hash: Sha256::new(),
        };
        // INVARIANT: Compare never returns an I/O error.
        let _ = d.write_canonical(&mut cmp);
        if !cmp.ok || cmp.pos != bytes.len() {
            return Err(DatasetError::Malformed {
                file: file_label.to_owned(),
                at: Loc::Line(1),
                message: format!(
                    "not in canonical form (the canonical bytes differ from byte {}); a recorded dataset is stored exactly canonical",
                    cmp.pos
                ),
            });
        }
        let _ = d.hash.0.set(cmp.hash.finalize().into());
        Ok(d)
    }

    pub fn schema(&self) -> &SourceSchema {
        &self.schema
    }
    /// The dataset salt, if it has one (a recorded dataset always has).
    pub fn salt(&self) -> Option<[u8; 32]> {
        self.salt
    }
    /// Give the dataset a salt (or none): its canonical bytes and hash
    /// change, its rows do not.
    pub fn set_salt(&mut self, salt: Option<[u8; 32]>) {
        self.salt = salt;
        self.hash = HashOnce::default();
    }
    pub fn file_label(&self) -> &str {
        &self.file
    }
    /// The number of rows.
    pub fn n_rows(&self) -> usize {
        self.table.ids.len()
    }
    /// The staff IDs, one a row, ascending (byte order).
    pub fn staff_ids(&self) -> &[StaffId] {
        &self.table.ids
    }
    /// The row of a staff member.
    pub fn index_of(&self, id: &StaffId) -> Option<usize> {
        self.table.ids.binary_search(id).ok()
    }
    /// Where row `i` was in its file.
    pub fn loc(&self, i: usize) -> Option<Loc> {
        self.table.at.get(i).copied()
    }
    /// The value of row `i` in schema column `col` (`None` for an empty
    /// optional cell, or a row or column not there).
    pub fn value(&self, i: usize, col: usize) -> Option<ValueRef<'_>> {
        self.table.value(i, col)
    }
    /// Schema column `col`, typed (a placeholder where a cell is empty:
    /// see [`Dataset::presence`]).
    pub fn column(&self, col: usize) -> Option<ColumnRef<'_>> {
        Some(match &self.table.cols.get(col)?.values {
            Values::Id => ColumnRef::StaffId(&self.table.ids),
            Values::Text(t) => ColumnRef::Text(TextCells(t)),
            Values::Decimal(d) => ColumnRef::Decimal(d),
            Values::Integer(d) => ColumnRef::Integer(d),
        })
    }
    /// Which rows of column `col` have a value: `None` when every row has
    /// one, else one flag a row.
    pub fn presence(&self, col: usize) -> Option<&[bool]> {
        let c = self.table.cols.get(col)?;
        (!c.present.is_empty()).then_some(c.present.as_slice())
    }
    /// The columns, shared (no copy).
    pub(crate) fn shared_table(&self) -> Arc<Table> {
        Arc::clone(&self.table)
    }

    /// The same dataset without the rows of `ids` (for evaluation when a
    /// package excludes staff missing from a source; the recorded dataset
    /// and its hash stay those of the file).
    pub fn without_staff(&self, ids: &std::collections::BTreeSet<StaffId>) -> Dataset {
        let keep: Vec<usize> = self
            .table
            .ids
            .iter()
            .enumerate()
            .filter(|(_, id)| !ids.contains(id))
            .map(|(i, _)| i)
            .collect();
        Dataset {
            schema: self.schema.clone(),
            file: self.file.clone(),
            table: Arc::new(self.table.select(&keep)),
            salt: self.salt,
            hash: HashOnce::default(),
        }
    }

    /// The canonical JSON value (see the module docs).
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = (0..self.n_rows())
            .map(|i| {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .schema
                    .columns
                    .iter()
                    .enumerate()
                    .filter_map(|(ci, c)| {
                        self.value(i, ci)
                            .map(|v| (c.name.clone(), v.to_value().to_json()))
                    })
                    .collect();
                serde_json::Value::Object(obj)
            })
            .collect();
        let mut v = serde_json::json!({
            "format": DATASET_FORMAT,
            "source": self.schema.source.as_str(),
            "rows": rows,
        });
        if let (Some(salt), Some(m)) = (self.salt, v.as_object_mut()) {
            m.insert("salt".into(), hex::encode(salt).into());
        }
        v
    }

    /// The canonical bytes (RFC 8785 JCS of [`Dataset::to_json`]), written
    /// directly: members in UTF-16 order of their names, rows in staff ID order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.n_rows() * 24 * self.schema.columns.len());
        // INVARIANT: writing to a Vec cannot fail.
        let _ = self.write_canonical(&mut out);
        out
    }

    /// Stream the canonical bytes to `w`, one row at a time (memory: one row).
    pub fn write_canonical<W: std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        use crate::jcs::{utf16_cmp, write_str};
        use rayon::prelude::*;
        let mut cols: Vec<usize> = (0..self.schema.columns.len()).collect();
        cols.sort_by(|&a, &b| {
            utf16_cmp(&self.schema.columns[a].name, &self.schema.columns[b].name)
        });
        // Each member's `"name":`, encoded once.
        let keys: Vec<(usize, Vec<u8>)> = cols
            .into_iter()
            .map(|ci| {
                let mut k = Vec::new();
                write_str(&self.schema.columns[ci].name, &mut k);
                k.push(b':');
                (ci, k)
            })
            .collect();
        let row = |ri: usize, out: &mut Vec<u8>| {
            if ri > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let mut first = true;
            for (ci, key) in &keys {
                let Some(v) = self.table.value(ri, *ci) else {
                    continue;
                };
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(key);
                v.write_jcs(out);
            }
            out.push(b'}');
        };
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(b"{\"format\":");
        write_str(DATASET_FORMAT, &mut out);
        out.extend_from_slice(b",\"rows\":[");
        // Rows are written in parallel runs, each into its own buffer, and
        // passed on in row order: the bytes do not depend on the threads.
        const RUN: usize = 1024;
        let n = self.n_rows();
        let tasks = 4 * rayon::current_num_threads().max(1);
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); tasks.min(n.div_ceil(RUN))];
        let mut start = 0;
        while start < n {
            let end = (start + RUN * tasks).min(n);
            let used = (end - start).div_ceil(RUN);
            bufs[..used]
                .par_iter_mut()
                .enumerate()
                .for_each(|(k, buf)| {
                    buf.clear();
                    let from = start + k * RUN;
                    for ri in from..(from + RUN).min(end) {
                        row(ri, buf);
                    }
                });
            w.write_all(&out)?;
            out.clear();
            for buf in &bufs[..used] {
                w.write_all(buf)?;
            }
            start = end;
        }
        out.push(b']');
        if let Some(salt) = &self.salt {
            out.extend_from_slice(b",\"salt\":\"");
            out.extend_from_slice(hex::encode(salt).as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b",\"source\":");
        write_str(self.schema.source.as_str(), &mut out);
        out.push(b'}');
        w.write_all(&out)
    }

    /// SHA-256 of the canonical bytes (computed once).
    pub fn sha256(&self) -> [u8; 32] {
        *self.hash.0.get_or_init(|| {
            let mut h = HashWriter(Sha256::new());
            // INVARIANT: hashing cannot fail.
            let _ = self.write_canonical(&mut h);
            h.0.finalize().into()
        })
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

/// The byte prefix of every canonical dataset.
pub(crate) const CANONICAL_PREFIX: &[u8] = b"{\"format\":\"rankproof-dataset/1\",\"rows\":[";

struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer that compares what is written with expected bytes.
struct Compare<'a> {
    expected: &'a [u8],
    pos: usize,
    ok: bool,
    /// The bytes that matched: all of them, when `ok` at the end.
    hash: Sha256,
}

impl std::io::Write for Compare<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.ok {
            let end = self.pos + buf.len();
            match self.expected.get(self.pos..end) {
                Some(e) if e == buf => {
                    self.hash.update(buf);
                    self.pos = end;
                }
                _ => {
                    let avail = &self.expected[self.pos.min(self.expected.len())..];
                    let same = avail.iter().zip(buf).take_while(|(a, b)| a == b).count();
                    self.pos += same;
                    self.ok = false;
                }
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// ---- reading -------------------------------------------------------------

/// A cell as a reader found it.
pub(crate) enum Cell<'a> {
    Empty,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A date or time cell, as ISO 8601 text.
    Date(String),
    /// A cell that cannot be a value (an Excel error, a JSON array); the message.
    Invalid(String),
}

impl Cell<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Column(usize),
    /// Declared in ignore_columns.
    Ignored,
    /// A column without a header label: must have no values.
    Blank,
    /// Reported at the header (unknown, wrong unit, duplicate).
    Refused,
}

/// What a read skipped or ignored.
pub(crate) struct Stats {
    pub ignored_columns: Vec<String>,
    pub skipped_empty_rows: Vec<Loc>,
    pub skipped_total_row: Option<(Loc, String)>,
}

/// Labels of a total row, compared after width folding, lowercasing and
/// dropping a trailing colon.
const TOTAL_LABELS: [&str; 10] = [
    "合计",
    "总计",
    "小计",
    "共计",
    "总合计",
    "合計",
    "總計",
    "total",
    "grand total",
    "sum",
];

fn total_label(s: &str) -> bool {
    let f = crate::schema::fold_width(s.trim()).to_lowercase();
    let f = f.trim_end_matches([':', '：']).trim();
    TOTAL_LABELS.contains(&f)
}

/// A cell converted to its column's type (text borrowed from the cell
/// where it can be).
pub(crate) enum Conv<'a> {
    Text(Cow<'a, str>),
    Decimal(Decimal),
    Integer(i64),
}

impl Conv<'_> {
    fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Conv::Decimal(d) => Some(*d),
            Conv::Integer(i) => Some(Decimal::from(*i)),
            Conv::Text(_) => None,
        }
    }
}

/// Checks cells against a schema, row by row, and collects every problem.
pub(crate) struct Builder<'s> {
    schema: &'s SourceSchema,
    file: String,
    limits: InputLimits,
    problems: Vec<DatasetError>,
    n_more: usize,
    slots: Vec<Slot>,
    /// Columns missing from the header (their cells are not reported again).
    absent: Vec<bool>,
    has_header: bool,
    /// The rows read so far, in file order.
    table: Table,
    n_records: usize,
    pending_total: Option<(Loc, String)>,
    stats: Stats,
    stopped: bool,
    /// Reading a canonical dataset: names are canonical column names only.
    pub(crate) canonical: bool,
    /// Scratch space of `row`, kept between rows.
    pick: Vec<usize>,
    locs: Vec<Loc>,
}

/// In `Builder::row`: a schema column no cell of the row fills.
const NO_CELL: usize = usize::MAX;

impl<'s> Builder<'s> {
    pub(crate) fn new(schema: &'s SourceSchema, file: &str, limits: InputLimits) -> Self {
        Builder {
            schema,
            file: file.to_owned(),
            limits,
            problems: Vec::new(),
            n_more: 0,
            slots: Vec::new(),
            absent: vec![false; schema.columns.len()],
            has_header: false,
            table: Table::new(schema),
            n_records: 0,
            pending_total: None,
            stats: Stats {
                ignored_columns: Vec::new(),
                skipped_empty_rows: Vec::new(),
                skipped_total_row: None,
            },
            stopped: false,
            canonical: false,
            pick: Vec::new(),
            locs: Vec::new(),
        }
    }

    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn schema(&self) -> &SourceSchema {
        self.schema
    }

    /// Whether the reader should stop (a row limit, or a fatal problem).
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    pub(crate) fn problem(&mut self, e: DatasetError) {
        if self.problems.len() < self.limits.max_problems {
            self.problems.push(e);
        } else {
            self.n_more += 1;
        }
    }

    pub(crate) fn malformed(&mut self, at: Loc, message: String) {
        let file = self.file.clone();
        self.problem(DatasetError::Malformed { file, at, message });
    }

    /// A problem after which nothing more of the file can be read.
    pub(crate) fn fatal(&mut self, at: Loc, message: String) {
        self.malformed(at, message);
        self.stopped = true;
    }

    fn into_problems(mut self) -> DatasetProblems {
        self.problems.sort_by_key(problem_key);
        DatasetProblems {
            file: self.file,
            problems: self.problems,
            n_more: self.n_more,
            read_as: None,
        }
    }

    pub(crate) fn limits(&self) -> InputLimits {
        self.limits
    }

    pub(crate) fn max_rows(&self) -> usize {
        self.limits.max_rows
    }

    pub(crate) fn has_problems(&self) -> bool {
        !self.problems.is_empty() || self.n_more > 0
    }

    pub(crate) fn has_header(&self) -> bool {
        self.has_header
    }

    /// The header labels, each with its location; index = file column.
    pub(crate) fn header(&mut self, labels: &[(String, Loc)], at: Loc) {
        self.has_header = true;
        if labels.len() > self.limits.max_columns {
            let file = self.file.clone();
            self.problem(DatasetError::Limit {
                file,
                message: format!(
                    "{at}: the header has {} columns, more than the limit of {}",
                    labels.len(),
                    self.limits.max_columns
                ),
            });
            self.stopped = true;
            return;
        }
        let schema = self.schema;
        let mut by_col: BTreeMap<usize, String> = BTreeMap::new();
        let mut unknown: Vec<String> = Vec::new();
        self.slots.clear();
        for (label, lat) in labels {
            let label = label.trim();
            if label.is_empty() {
                self.slots.push(Slot::Blank);
                continue;
            }
            let m = if self.canonical {
                match schema.column_index(label) {
                    Some(i) => HeaderMatch::Column(i),
                    None => HeaderMatch::Unknown,
                }
            } else {
                schema.match_header(label)
            };
            let slot = match m {
                HeaderMatch::Column(ci) => {
                    if let Some(prev) = by_col.get(&ci) {
                        let e = DatasetError::DuplicateColumn {
                            file: self.file.clone(),
                            first: prev.clone(),
                            second: label.to_owned(),
                            column: schema.columns[ci].name.clone(),
                        };
                        self.problem(e);
                        Slot::Refused
                    } else {
                        by_col.insert(ci, label.to_owned());
                        Slot::Column(ci)
                    }
                }
                HeaderMatch::WrongUnit { column, .. } => {
                    let c = &schema.columns[column];
                    let e = DatasetError::WrongUnit {
                        file: self.file.clone(),
                        at: *lat,
                        header: label.to_owned(),
                        column: c.name.clone(),
                        units: c.units.clone(),
                    };
                    self.problem(e);
                    // Counted as present: the problem is the unit, not a
                    // missing column (and not every row's empty cell).
                    by_col.insert(column, label.to_owned());
                    self.absent[column] = true;
                    Slot::Refused
                }
                HeaderMatch::Ignored => {
                    self.stats.ignored_columns.push(label.to_owned());
                    Slot::Ignored
                }
                HeaderMatch::Unknown => {
                    if !unknown.iter().any(|u| u == label) {
                        unknown.push(label.to_owned());
                    }
                    Slot::Refused
                }
            };
            self.slots.push(slot);
        }
        if !unknown.is_empty() {
            let headers = unknown
                .into_iter()
                .map(|u| {
                    let hint = schema.closest_label(&u);
                    (u, hint)
                })
                .collect();
            let e = DatasetError::UnknownColumns {
                file: self.file.clone(),
                at,
                source_name: schema.source.to_string(),
                headers,
                accepted: schema.accepted_labels(),
            };
            self.problem(e);
        }
        for (ci, c) in schema.columns.iter().enumerate() {
            if !by_col.contains_key(&ci) {
                self.absent[ci] = true;
                if c.required {
                    let mut labels = vec![c.name.clone()];
                    labels.extend(c.aliases.iter().cloned());
                    let e = DatasetError::MissingColumn {
                        file: self.file.clone(),
                        column: c.name.clone(),
                        labels: labels.join(", "),
                    };
                    self.problem(e);
                }
            }
        }
    }

    /// The number of header columns.
    pub(crate) fn n_header(&self) -> usize {
        self.slots.len()
    }

    /// One data row: its location and its cells (index = file column), each
    /// with its location.
    pub(crate) fn row(&mut self, at: Loc, cells: &[(Cell<'_>, Loc)]) {
        if self.stopped {
            return;
        }
        self.n_records += 1;
        if self.n_records > self.limits.max_rows {
            let file = self.file.clone();
            self.problem(DatasetError::Limit {
                file,
                message: format!(
                    "{at}: more than {} data rows; split the file or raise the limit",
                    self.limits.max_rows
                ),
            });
            self.stopped = true;
            return;
        }
        let first = cells.iter().find(|(c, _)| !c.is_empty());
        let Some((first, _)) = first else {
            match self.schema.rules.empty_rows {
                RowPolicy::Skip => self.stats.skipped_empty_rows.push(at),
                RowPolicy::Refuse => self.malformed(
                    at,
                    format!(
                        "the row has no values (only delimiters); delete it, or declare empty_rows = \"skip\" for source `{}`",
                        self.schema.source
                    ),
                ),
            }
            return;
        };
        if let Cell::Text(t) = first {
            if total_label(t) && !self.canonical {
                let label = t.trim().to_owned();
                if let Some((prev, l)) = self.pending_total.replace((at, label)) {
                    self.malformed(
                        prev,
                        format!("a total row (`{l}`) may only be the last row; delete it"),
                    );
                }
                return;
            }
        }
        if let Some((prev, l)) = self.pending_total.take() {
            self.malformed(
                prev,
                format!("a total row (`{l}`) may only be the last row; delete it"),
            );
        }
        let schema = self.schema;
        let n = schema.columns.len();
        // Which cell holds each schema column's value (`NO_CELL`: none).
        let mut pick = std::mem::take(&mut self.pick);
        pick.clear();
        pick.resize(n, NO_CELL);
        let mut bad = false;
        for (i, (cell, loc)) in cells.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            match self.slots.get(i).copied().unwrap_or(Slot::Blank) {
                Slot::Column(ci) => pick[ci] = i,
                Slot::Ignored | Slot::Refused => {}
                Slot::Blank => {
                    bad = true;
                    self.malformed(
                        *loc,
                        format!(
                            "a value in column {} which has no header; give the column a header or delete the value",
                            i + 1
                        ),
                    );
                }
            }
        }
        // The row's cells go straight into the columns; a row with a
        // problem is taken out again at the end.
        let row = self.table.ids.len();
        let mut locs = std::mem::take(&mut self.locs);
        locs.clear();
        // The staff ID, or the text that is not one.
        let mut staff_id: Option<Result<StaffId, String>> = None;
        for (ci, (c, &k)) in schema.columns.iter().zip(&pick).enumerate() {
            let (cell, loc) = match cells.get(k) {
                Some((cell, loc)) => (cell, *loc),
                None => {
                    if c.required && !self.absent[ci] {
                        bad = true;
                        self.bad_value(at, ci, "empty, but the column is required".into());
                    }
                    self.table.cols[ci].push_missing();
                    locs.push(at);
                    continue;
                }
            };
            match self.convert(ci, cell) {
                Ok(v) => {
                    if let Some(d) = v.as_decimal() {
                        if !c.in_range(d) {
                            bad = true;
                            self.bad_value(
                                loc,
                                ci,
                                format!(
                                    "{} is outside the allowed range {}",
                                    canonical(&d),
                                    c.range_text()
                                ),
                            );
                        }
                    }
                    if ci == 0 {
                        if let Conv::Text(t) = &v {
                            staff_id = Some(StaffId::new(t).ok_or_else(|| t.to_string()));
                        }
                    }
                    self.table.cols[ci].push(v);
                }
                Err(m) => {
                    bad = true;
                    self.bad_value(loc, ci, m);
                    self.table.cols[ci].push_missing();
                }
            }
            locs.push(loc);
        }
        for (ci, c) in schema.columns.iter().enumerate() {
            let Some(other) = &c.le_column else { continue };
            let Some(oi) = schema.column_index(other) else {
                continue;
            };
            let x = self.table.cols.get(ci).and_then(|c| c.decimal_at(row));
            let y = self.table.cols.get(oi).and_then(|c| c.decimal_at(row));
            if let (Some(x), Some(y)) = (x, y) {
                if x > y {
                    bad = true;
                    self.bad_value(
                        locs.get(ci).copied().unwrap_or(at),
                        ci,
                        format!(
                            "{} exceeds `{other}` ({}) in the same row",
                            canonical(&x),
                            canonical(&y)
                        ),
                    );
                }
            }
        }
        let staff_id = match staff_id {
            Some(Ok(id)) => Some(id),
            Some(Err(t)) => {
                bad = true;
                self.bad_value(
                    locs.first().copied().unwrap_or(at),
                    0,
                    format!(
                        "`{}` is not a staff ID (1 to 64 bytes, no spaces, control or invisible characters)",
                        shown(&t)
                    ),
                );
                None
            }
            None => None,
        };
        match (bad, staff_id) {
            (false, Some(staff_id)) => {
                self.table.ids.push(staff_id);
                self.table.at.push(at);
            }
            _ => {
                for c in &mut self.table.cols {
                    c.truncate(row);
                }
            }
        }
        self.pick = pick;
        self.locs = locs;
    }

    fn bad_value(&mut self, at: Loc, ci: usize, message: String) {
        let e = DatasetError::BadValue {
            file: self.file.clone(),
            at,
            column: self.schema.columns[ci].name.clone(),
            message,
        };
        self.problem(e);
    }

    /// Text of a cell: within the cell limit, without control characters
    /// or bidi controls; a staff ID also without invisible characters.
    fn check_text(&self, s: &str, is_id: bool) -> Result<(), String> {
        if s.len() > self.limits.max_cell_bytes {
            return Err(format!(
                "the cell has {} bytes, more than the limit of {}",
                s.len(),
                self.limits.max_cell_bytes
            ));
        }
        // Printable ASCII holds none of the characters refused below.
        if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Ok(());
        }
        for (i, c) in s.chars().enumerate() {
            let code = u32::from(c);
            if c == '\n' || c == '\r' {
                return Err(format!(
                    "`{}` contains a line break; put the value on one line",
                    shown(s)
                ));
            }
            if c.is_control() {
                let what = if c == '\u{1b}' || c == '\u{9b}' {
                    "the escape character U+001B (a terminal escape sequence)".to_owned()
                } else {
                    format!("the control character U+{code:04X}")
                };
                return Err(format!(
                    "`{}` contains {what} at character {}; remove it",
                    shown(s),
                    i + 1
                ));
            }
            if is_bidi_control(c) {
                return Err(format!(
                    "`{}` contains the bidi control U+{code:04X} at character {}, which reorders how text is displayed; remove it",
                    shown(s),
                    i + 1
                ));
            }
            if is_id && is_invisible(c) {
                return Err(format!(
                    "`{}` contains the invisible character U+{code:04X} at character {}; retype the ID",
                    shown(s),
                    i + 1
                ));
            }
        }
        Ok(())
    }

    fn convert<'c>(&self, ci: usize, cell: &'c Cell<'_>) -> Result<Conv<'c>, String> {
        let c = &self.schema.columns[ci];
        let is_id = ci == 0;
        if let Cell::Text(t) = cell {
            self.check_text(trim_cell(t), is_id)?;
        }
        let not_number = |what: &str| {
            format!("{what}, not a number; write a number (or declare the column as text)")
        };
        let v = match c.ty {
            ColumnType::Text => Conv::Text(match cell {
                Cell::Text(t) => Cow::Borrowed(trim_cell(t)),
                Cell::Int(i) => Cow::Owned(i.to_string()),
                Cell::Float(f) => Cow::Owned(canonical(&decimal_from_f64(*f)?)),
                Cell::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
                Cell::Date(d) => Cow::Borrowed(d.as_str()),
                Cell::Invalid(m) => return Err(m.clone()),
                Cell::Empty => Cow::Borrowed(""),
            }),
            ColumnType::Decimal => {
                let d = match cell {
                    Cell::Text(t) => {
                        let t = trim_cell(t);
                        match t.strip_suffix(['%', '％']) {
                            Some(num) => {
                                if !c.units.iter().any(|u| u == "%") {
                                    return Err(format!(
                                        "`{t}` is a percentage, but column `{}` does not declare the unit `%`; write it as a fraction (95% is 0.95), or declare units = [\"%\"]",
                                        c.name
                                    ));
                                }
                                let d = parse_strict(num.trim_end())?;
                                let mut p = d;
                                if d.scale() + 2 > crate::decimal::MAX_SCALE {
                                    return Err(format!("`{t}` has too many decimal places"));
                                }
                                p.set_scale(d.scale() + 2).map_err(|e| e.to_string())?;
                                p
                            }
                            None => parse_strict(t)?,
                        }
                    }
                    Cell::Int(i) => Decimal::from(*i),
                    Cell::Float(f) => decimal_from_f64(*f)?,
                    Cell::Bool(b) => return Err(not_number(if *b { "TRUE" } else { "FALSE" })),
                    Cell::Date(d) => {
                        return Err(format!(
                            "the cell is a date ({d}), not a number; format the cells as numbers, or declare the column as text"
                        ))
                    }
                    Cell::Invalid(m) => return Err(m.clone()),
                    Cell::Empty => Decimal::ZERO,
                };
                if let Some(places) = c.decimals {
                    if d.normalize().scale() > places {
                        return Err(format!(
                            "{} has more than {places} decimal places; round it to {places}",
                            canonical(&d)
                        ));
                    }
                }
                Conv::Decimal(d)
            }
            ColumnType::Integer => Conv::Integer(match cell {
                Cell::Text(t) => parse_integer(trim_cell(t))?,
                Cell::Int(i) if is_safe_integer(*i) => *i,
                Cell::Int(i) => return Err(format!("`{i}` is outside the integer range ±{}", crate::decimal::MAX_SAFE_INTEGER)),
                Cell::Float(f) => {
                    let d = decimal_from_f64(*f)?;
                    let i = if d.fract().is_zero() {
                        i64::try_from(d).ok().filter(|i| is_safe_integer(*i))
                    } else {
                        None
                    };
                    match i {
                        Some(i) => i,
                        None => {
                            return Err(format!(
                                "`{}` is not an integer (write digits with an optional `-`)",
                                canonical(&d)
                            ))
                        }
                    }
                }
                Cell::Bool(b) => return Err(not_number(if *b { "TRUE" } else { "FALSE" })),
                Cell::Date(d) => {
                    return Err(format!(
                        "the cell is a date ({d}), not a number; format the cells as numbers, or declare the column as text"
                    ))
                }
                Cell::Invalid(m) => return Err(m.clone()),
                Cell::Empty => 0,
            }),
        };
        Ok(v)
    }

    /// Check what can only be checked at the end (duplicates, look-alike
    /// IDs, a trailing total row) and return the dataset or every problem.
    pub(crate) fn finish(mut self) -> Result<(Dataset, Stats), DatasetProblems> {
        if let Some((at, label)) = self.pending_total.take() {
            match self.schema.rules.total_row {
                RowPolicy::Skip => self.stats.skipped_total_row = Some((at, label)),
                RowPolicy::Refuse => self.malformed(
                    at,
                    format!(
                        "`{label}` looks like a total row; delete it, or declare total_row = \"skip\" for source `{}`",
                        self.schema.source
                    ),
                ),
            }
        }
        if self.problems.is_empty() && self.n_more == 0 && self.table.ids.is_empty() {
            let file = self.file.clone();
            self.problem(DatasetError::Empty { file });
        }
        // Sort by staff ID with a permutation. Stable: rows with equal IDs
        // stay in file order.
        let table = std::mem::take(&mut self.table);
        let table = if table.ids.windows(2).all(|w| w[0] <= w[1]) {
            table
        } else {
            use rayon::prelude::*;
            let Table { ids, at, cols } = table;
            let mut keyed: Vec<(StaffId, usize)> = ids.into_iter().zip(0..).collect();
            keyed.par_sort_by(|a, b| a.0.cmp(&b.0));
            let (ids, perm): (Vec<StaffId>, Vec<usize>) = keyed.into_iter().unzip();
            let at: Vec<Loc> = perm.iter().filter_map(|&i| at.get(i).copied()).collect();
            let cols: Vec<Col> = cols.par_iter().map(|c| c.select(&perm)).collect();
            Table { ids, at, cols }
        };
        let ids = &table.ids;
        let at = &table.at;
        let loc = |i: usize| at.get(i).copied().unwrap_or(Loc::Row(0));
        let mut dups = Vec::new();
        let mut i = 0;
        while i < ids.len() {
            let mut j = i + 1;
            while j < ids.len() && ids[j] == ids[i] {
                dups.push(DatasetError::DuplicateId {
                    file: self.file.clone(),
                    at: loc(j),
                    first: loc(i),
                    staff_id: ids[i].to_string(),
                });
                j += 1;
            }
            i = j;
        }
        // Look-alike IDs: an ID whose folded key is another ID, or two IDs
        // with the same folded key. Every ID is sorted by a hash of its
        // folded key (16 bytes an ID, not the key itself), so that IDs
        // sharing a key sit side by side, an ID that is its own key beside
        // the IDs that fold to it; a run of equal hashes with one ID, or
        // with none that differs from its key, holds no look-alike. Within
        // a longer run the keys themselves decide. Each look-alike is then
        // reported in ID order against the ID its key is, or else the first
        // ID with that key. The hash only groups: what is reported does not
        // depend on it.
        let folded: Vec<(u64, bool, usize)> = {
            use rayon::prelude::*;
            let mut f: Vec<(u64, bool, usize)> = ids
                .par_iter()
                .enumerate()
                .map(|(k, id)| {
                    let (hash, folds) = fold_hash_of(id);
                    (hash, folds, k)
                })
                .collect();
            f.par_sort_unstable();
            f
        };
        let mut lookalikes: Vec<(usize, usize)> = Vec::new();
        for run in folded.chunk_by(|a, b| a.0 == b.0) {
            if run.len() == 1 || run.iter().all(|&(_, folds, _)| !folds) {
                continue;
            }
            let mut keyed: Vec<(String, usize)> = run
                .iter()
                .filter(|&&(_, folds, _)| folds)
                .map(|&(_, _, k)| (ids[k].fold_key(), k))
                .collect();
            keyed.sort_unstable();
            for group in keyed.chunk_by(|a, b| a.0 == b.0) {
                let key = group[0].0.as_str();
                match ids.binary_search_by(|x| x.as_str().cmp(key)) {
                    Ok(o) => lookalikes.extend(group.iter().map(|&(_, k)| (k, o))),
                    Err(_) => lookalikes.extend(group[1..].iter().map(|&(_, k)| (k, group[0].1))),
                }
            }
        }
        lookalikes.sort_unstable();
        for (k, o) in lookalikes {
            let (a, b) = if loc(o).key() <= loc(k).key() {
                (o, k)
            } else {
                (k, o)
            };
            dups.push(DatasetError::LookalikeId {
                file: self.file.clone(),
                at: loc(b),
                staff_id: ids[b].to_string(),
                other: ids[a].to_string(),
                other_at: loc(a),
            });
        }
        for d in dups {
            self.problem(d);
        }
        if !self.problems.is_empty() || self.n_more > 0 {
            return Err(self.into_problems());
        }
        let mut table = table;
        for c in &mut table.cols {
            if c.present.iter().all(|p| *p) {
                c.present = Vec::new();
            }
        }
        Ok((
            Dataset {
                schema: self.schema.clone(),
                file: self.file,
                table: Arc::new(table),
                salt: None,
                hash: HashOnce::default(),
            },
            self.stats,
        ))
    }
}

fn problem_key(p: &DatasetError) -> u64 {
    match p {
        DatasetError::Malformed { at, .. }
        | DatasetError::UnknownColumns { at, .. }
        | DatasetError::WrongUnit { at, .. }
        | DatasetError::DuplicateId { at, .. }
        | DatasetError::LookalikeId { at, .. }
        | DatasetError::BadValue { at, .. } => at.key(),
        _ => 0,
    }
}

fn read_csv(b: &mut Builder<'_>, text: &str, delim: u8) {
    let mut t = crate::read::csv::Tokenizer::new(text, delim);
    let mut fields = Vec::new();
    match t.next_record(&mut fields) {
        Ok(None) => return,
        Ok(Some(line)) => {
            let labels: Vec<(String, Loc)> = fields
                .iter()
                .map(|f| (f.text.trim().to_owned(), Loc::Line(f.line)))
                .collect();
            if labels.iter().all(|(l, _)| l.is_empty()) {
                let file = b.file().to_owned();
                b.problem(DatasetError::Empty { file });
                return;
            }
            b.header(&labels, Loc::Line(line));
        }
        Err(e) => {
            b.fatal(Loc::Line(e.line), e.message);
            return;
        }
    }
    read_rows(b, &mut t, delim);
}

/// The data rows of a CSV text, one after the other.
fn read_rows<'a>(b: &mut Builder<'_>, t: &mut crate::read::csv::Tokenizer<'a>, delim: u8) {
    let mut fields = Vec::new();
    let mut cells: Vec<(Cell<'a>, Loc)> = Vec::new();
    loop {
        if b.stopped() {
            return;
        }
        match t.next_record(&mut fields) {
            Ok(None) => break,
            Ok(Some(line)) => {
                if fields.len() != b.n_header() {
                    let d = if delim == b'\t' { "tab" } else { "comma" };
                    b.malformed(
                        Loc::Line(line),
                        format!(
                            "{} fields where the header has {}; check for an unquoted {d}",
                            fields.len(),
                            b.n_header()
                        ),
                    );
                    continue;
                }
                cells.clear();
                cells.extend(
                    fields
                        .drain(..)
                        .map(|f| (Cell::Text(f.text), Loc::Line(f.line))),
                );
                b.row(Loc::Line(line), &cells);
            }
            Err(e) => {
                b.fatal(Loc::Line(e.line), e.message);
                return;
            }
        }
    }
}

fn read_json(b: &mut Builder<'_>, text: &str) {
    let v = match crate::read::json::parse_strict(text.as_bytes()) {
        Ok(v) => v,
        Err(e) => {
            b.fatal(
                Loc::Line(u64::try_from(e.line()).unwrap_or(0)),
                format!("invalid JSON: {e}"),
            );
            return;
        }
    };
    let top = Loc::Line(1);
    let rows = match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => {
            if o.get("format").and_then(|f| f.as_str()) != Some(DATASET_FORMAT) {
                return b.fatal(top, format!("a JSON object must be a canonical dataset with \"format\": \"{DATASET_FORMAT}\""));
            }
            let source = b.schema().source.clone();
            match o.get("source").and_then(|s| s.as_str()) {
                Some(s) if s == source.as_str() => {}
                other => {
                    return b.fatal(
                        top,
                        format!(
                            "this dataset is for source {:?}, not `{source}`",
                            other.unwrap_or("(none)")
                        ),
                    )
                }
            }
            if o.keys()
                .any(|k| !matches!(k.as_str(), "format" | "source" | "rows"))
            {
                return b.fatal(
                    top,
                    "a canonical dataset has only format, source and rows".into(),
                );
            }
            b.canonical = true;
            match o.remove("rows") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return b.fatal(top, "\"rows\" must be an array".into()),
            }
        }
        _ => return b.fatal(top, "expected an array of row objects".into()),
    };
    // The header is the union of the rows' member names, in first-seen
    // order; names that map to the same column (a name and its alias in
    // different rows) share one header position.
    let mut labels: Vec<String> = Vec::new();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_column: BTreeMap<usize, usize> = BTreeMap::new();
    for row in &rows {
        if let serde_json::Value::Object(o) = row {
            for k in o.keys() {
                if index.contains_key(k.as_str()) {
                    continue;
                }
                let col = if b.canonical {
                    b.schema().column_index(k)
                } else {
                    b.schema().column_for_header(k)
                };
                let idx = match col.and_then(|c| by_column.get(&c).copied()) {
                    Some(i) => i,
                    None => {
                        if let Some(c) = col {
                            by_column.insert(c, labels.len());
                        }
                        labels.push(k.clone());
                        labels.len() - 1
                    }
                };
                index.insert(k.as_str(), idx);
            }
        }
    }
    let header: Vec<(String, Loc)> = labels.iter().map(|l| (l.clone(), top)).collect();
    b.header(&header, top);
    for (i, row) in rows.iter().enumerate() {
        let at = Loc::Row(i + 1);
        let serde_json::Value::Object(obj) = row else {
            b.malformed(at, "a row must be a JSON object".into());
            continue;
        };
        let mut cells: Vec<(Cell<'_>, Loc)> =
            (0..labels.len()).map(|_| (Cell::Empty, at)).collect();
        let mut seen: BTreeMap<usize, &str> = BTreeMap::new();
        for (k, val) in obj {
            let Some(&ci) = index.get(k.as_str()) else {
                continue;
            };
            if let Some(prev) = seen.insert(ci, k.as_str()) {
                b.malformed(
                    at,
                    format!("members `{prev}` and `{k}` name the same column; keep one"),
                );
                continue;
            }
            cells[ci].0 = match val {
                serde_json::Value::Null => Cell::Empty,
                serde_json::Value::String(s) => Cell::Text(Cow::Borrowed(s.as_str())),
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) if is_safe_integer(i) => Cell::Int(i),
                    _ => Cell::Invalid("a JSON number must be a safe integer; write decimals as strings, e.g. \"0.95\"".into()),
                },
                _ => Cell::Invalid("expected a string or a number".into()),
            };
        }
        b.row(at, &cells);
        if b.stopped() {
            return;
        }
    }
}

/// `s.trim()` without decoding characters when `s` begins and ends with a
/// printable ASCII byte other than a space (nearly every cell): no Unicode
/// white space can then stand at either end, and a UTF-8 continuation byte
/// is never ASCII, so the result is `s` itself.
#[inline]
fn trim_cell(s: &str) -> &str {
    let printable = |b: &u8| (0x21..0x7f).contains(b);
    let b = s.as_bytes();
    if b.first().is_some_and(printable) && b.last().is_some_and(printable) {
        s
    } else {
        s.trim()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_cell_is_trim() {
        let ends = [
            "", " ", "\t", "\u{a0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{feff}", "a", "~", "!",
            "张", "\u{7f}", "é",
        ];
        for a in ends {
            for mid in ["", "x", " 1.5 ", "王 五", "\u{3000}"] {
                for b in ends {
                    let s = format!("{a}{mid}{b}");
                    assert_eq!(trim_cell(&s), s.trim(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn the_ascii_fast_path_hashes_the_folded_key() {
        for id in [
            "E001",
            "e001",
            "abc",
            "ABC-9_x",
            "Ｅ００１",
            "张三",
            "Straße",
            "ǅ1",
            "K",
        ] {
            let id = StaffId::new(id).unwrap();
            let key = id.fold_key();
            assert_eq!(
                fold_hash_of(&id),
                (fold_hash(&key), key != id.as_str()),
                "{id:?}"
            );
        }
    }
}
