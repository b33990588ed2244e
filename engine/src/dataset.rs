//! Input datasets: CSV or JSON in, one canonical JSON form out.
//!
//! Canonical form (RFC 8785 / JCS bytes):
//! `{"format":"rankproof-dataset/1","rows":[ROW...],"source":"crm"}` with rows
//! sorted by `staff_id` (byte order), each row an object keyed by canonical
//! column names; text and decimals are JSON strings (decimals in canonical
//! form), integers are JSON numbers; an empty optional cell is omitted.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::decimal::{canonical, is_safe_integer, parse_integer, parse_strict};
use crate::schema::{ColumnType, SourceSchema, StaffId};

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

/// Where in an input file something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// A line of a CSV file (1-based, the header is line 1).
    Line(u64),
    /// An element of a JSON `rows` array (1-based).
    Row(usize),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Line(l) => write!(f, "line {l}"),
            Loc::Row(r) => write!(f, "row {r}"),
        }
    }
}

/// A dataset that cannot be accepted. Messages name the file, the line (or
/// JSON row) and the column, and say how to fix it.
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
    #[error("{file}: {at}, column `{column}`: {message}")]
    BadValue {
        file: String,
        at: Loc,
        column: String,
        message: String,
    },
}

/// One row, in schema column order (`values[0]` is the staff ID as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub staff_id: StaffId,
    /// Where the row was in its file (for messages; not part of the canonical form).
    pub at: Loc,
    pub values: Vec<Option<Value>>,
}

/// A parsed, validated dataset of one source, rows sorted by staff ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    schema: SourceSchema,
    file: String,
    rows: Vec<Row>,
}

impl Dataset {
    /// Parse CSV (UTF-8, optional BOM, quoted fields, CRLF or LF) or JSON (an
    /// array of objects, or the canonical form), chosen by the first
    /// non-blank byte (`[` or `{` means JSON). `file_label` is used in errors.
    pub fn parse(
        schema: &SourceSchema,
        file_label: &str,
        bytes: &[u8],
    ) -> Result<Dataset, DatasetError> {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        match first {
            None => Err(DatasetError::Empty {
                file: file_label.to_owned(),
            }),
            Some(b'[') | Some(b'{') => parse_json(schema, file_label, body),
            Some(_) => parse_csv(schema, file_label, body),
        }
    }

    pub fn schema(&self) -> &SourceSchema {
        &self.schema
    }
    pub fn file_label(&self) -> &str {
        &self.file
    }
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }
    /// The row of a staff member.
    pub fn row(&self, id: &StaffId) -> Option<&Row> {
        self.rows
            .binary_search_by(|r| r.staff_id.cmp(id))
            .ok()
            .map(|i| &self.rows[i])
    }

    /// The canonical JSON value (see the module docs).
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|r| {
                let obj: serde_json::Map<String, serde_json::Value> = self
                    .schema
                    .columns
                    .iter()
                    .zip(r.values.iter())
                    .filter_map(|(c, v)| v.as_ref().map(|v| (c.name.clone(), v.to_json())))
                    .collect();
                serde_json::Value::Object(obj)
            })
            .collect();
        serde_json::json!({
            "format": DATASET_FORMAT,
            "source": self.schema.source.as_str(),
            "rows": rows,
        })
    }

    /// The canonical bytes (RFC 8785 JCS of [`Dataset::to_json`]), written
    /// directly: members in UTF-16 order of their names, rows in staff ID order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        use crate::jcs::{utf16_cmp, write_int, write_str};
        let mut cols: Vec<usize> = (0..self.schema.columns.len()).collect();
        cols.sort_by(|&a, &b| {
            utf16_cmp(&self.schema.columns[a].name, &self.schema.columns[b].name)
        });
        let mut out = Vec::with_capacity(64 + self.rows.len() * 48 * self.schema.columns.len());
        out.extend_from_slice(b"{\"format\":");
        write_str(DATASET_FORMAT, &mut out);
        out.extend_from_slice(b",\"rows\":[");
        for (ri, r) in self.rows.iter().enumerate() {
            if ri > 0 {
                out.push(b',');
            }
            out.push(b'{');
            let mut first = true;
            for &ci in &cols {
                let Some(v) = &r.values[ci] else { continue };
                if !first {
                    out.push(b',');
                }
                first = false;
                write_str(&self.schema.columns[ci].name, &mut out);
                out.push(b':');
                match v {
                    Value::Text(t) => write_str(t, &mut out),
                    Value::Decimal(d) => crate::decimal::write_canonical_json(d, &mut out),
                    Value::Integer(i) => write_int(*i, &mut out),
                }
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"],\"source\":");
        write_str(self.schema.source.as_str(), &mut out);
        out.push(b'}');
        out
    }

    /// SHA-256 of the canonical bytes.
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(self.canonical_bytes()).into()
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256())
    }
}

/// Raw cells of one record mapped to schema columns.
struct RawRow<'a> {
    at: Loc,
    cells: Vec<Option<RawCell<'a>>>,
}

enum RawCell<'a> {
    Str(std::borrow::Cow<'a, str>),
    Int(i64),
}

fn header_map(
    schema: &SourceSchema,
    file: &str,
    headers: &[String],
) -> Result<Vec<Option<usize>>, DatasetError> {
    let mut map: Vec<Option<usize>> = Vec::with_capacity(headers.len());
    let mut by_col: BTreeMap<usize, &str> = BTreeMap::new();
    for h in headers {
        let Some(ci) = schema.column_for_header(h) else {
            return Err(DatasetError::UnknownColumn {
                file: file.to_owned(),
                header: h.clone(),
                source_name: schema.source.to_string(),
                known: schema
                    .columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        if let Some(prev) = by_col.insert(ci, h) {
            return Err(DatasetError::DuplicateColumn {
                file: file.to_owned(),
                first: prev.to_owned(),
                second: h.clone(),
                column: schema.columns[ci].name.clone(),
            });
        }
        map.push(Some(ci));
    }
    for (ci, c) in schema.columns.iter().enumerate() {
        if c.required && !by_col.contains_key(&ci) {
            let mut labels = vec![c.name.clone()];
            labels.extend(c.aliases.iter().cloned());
            return Err(DatasetError::MissingColumn {
                file: file.to_owned(),
                column: c.name.clone(),
                labels: labels.join(", "),
            });
        }
    }
    Ok(map)
}

fn parse_csv(schema: &SourceSchema, file: &str, body: &[u8]) -> Result<Dataset, DatasetError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(body);
    let malformed = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(1);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!(
                    "{len} fields where the header has {expected_len}; check for an unquoted comma"
                )
            }
            csv::ErrorKind::Utf8 { .. } => "not valid UTF-8; save the file as UTF-8".to_owned(),
            _ => e.to_string(),
        };
        DatasetError::Malformed {
            file: file.to_owned(),
            at: Loc::Line(line),
            message,
        }
    };
    let headers: Vec<String> = rdr
        .headers()
        .map_err(malformed)?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(DatasetError::Empty {
            file: file.to_owned(),
        });
    }
    let map = header_map(schema, file, &headers)?;
    let mut raw_rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                let at = Loc::Line(rec.position().map(|p| p.line()).unwrap_or(0));
                let mut cells: Vec<Option<RawCell>> =
                    (0..schema.columns.len()).map(|_| None).collect();
                for (i, field) in rec.iter().enumerate() {
                    if let Some(Some(ci)) = map.get(i) {
                        if !field.is_empty() {
                            cells[*ci] =
                                Some(RawCell::Str(std::borrow::Cow::Owned(field.to_owned())));
                        }
                    }
                }
                raw_rows.push(RawRow { at, cells });
            }
            Err(e) => return Err(malformed(e)),
        }
    }
    finish(schema, file, raw_rows)
}

fn parse_json(schema: &SourceSchema, file: &str, body: &[u8]) -> Result<Dataset, DatasetError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| DatasetError::Malformed {
            file: file.to_owned(),
            at: Loc::Line(u64::try_from(e.line()).unwrap_or(0)),
            message: format!("invalid JSON: {e}"),
        })?;
    let top = |message: String| DatasetError::Malformed {
        file: file.to_owned(),
        at: Loc::Line(1),
        message,
    };
    let (rows, canonical_names) = match v {
        serde_json::Value::Array(a) => (a, false),
        serde_json::Value::Object(mut o) => {
            if o.get("format").and_then(|f| f.as_str()) != Some(DATASET_FORMAT) {
                return Err(top(format!("a JSON object must be a canonical dataset with \"format\": \"{DATASET_FORMAT}\"")));
            }
            match o.get("source").and_then(|s| s.as_str()) {
                Some(s) if s == schema.source.as_str() => {}
                other => {
                    return Err(top(format!(
                        "this dataset is for source {:?}, not `{}`",
                        other.unwrap_or("(none)"),
                        schema.source
                    )))
                }
            }
            if o.keys()
                .any(|k| !matches!(k.as_str(), "format" | "source" | "rows"))
            {
                return Err(top(
                    "a canonical dataset has only format, source and rows".into()
                ));
            }
            match o.remove("rows") {
                Some(serde_json::Value::Array(a)) => (a, true),
                _ => return Err(top("\"rows\" must be an array".into())),
            }
        }
        _ => return Err(top("expected an array of row objects".into())),
    };
    let mut raw_rows = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let at = Loc::Row(i + 1);
        let serde_json::Value::Object(obj) = row else {
            return Err(DatasetError::Malformed {
                file: file.to_owned(),
                at,
                message: "a row must be a JSON object".into(),
            });
        };
        let headers: Vec<String> = obj.keys().cloned().collect();
        let map = header_map(schema, file, &headers).map_err(|e| match e {
            DatasetError::MissingColumn { column, .. } => DatasetError::BadValue {
                file: file.to_owned(),
                at,
                column,
                message: "missing (the column is required)".into(),
            },
            other => other,
        })?;
        let mut cells: Vec<Option<RawCell>> = (0..schema.columns.len()).map(|_| None).collect();
        for ((k, val), ci) in obj.iter().zip(map) {
            let Some(ci) = ci else { continue };
            if canonical_names && schema.columns[ci].name != *k {
                return Err(DatasetError::Malformed {
                    file: file.to_owned(),
                    at,
                    message: format!(
                        "`{k}` is an alias; a canonical dataset uses canonical column names"
                    ),
                });
            }
            let bad = |m: &str| DatasetError::BadValue {
                file: file.to_owned(),
                at,
                column: schema.columns[ci].name.clone(),
                message: m.to_owned(),
            };
            cells[ci] = match val {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => {
                    let t = s.trim();
                    if t.is_empty() {
                        None
                    } else {
                        Some(RawCell::Str(std::borrow::Cow::Owned(t.to_owned())))
                    }
                }
                serde_json::Value::Number(n) => match n.as_i64() {
                    Some(i) if is_safe_integer(i) => Some(RawCell::Int(i)),
                    _ => return Err(bad("a JSON number must be a safe integer; write decimals as strings, e.g. \"0.95\"")),
                },
                _ => return Err(bad("expected a string or a number")),
            };
        }
        raw_rows.push(RawRow { at, cells });
    }
    finish(schema, file, raw_rows)
}

fn finish(
    schema: &SourceSchema,
    file: &str,
    raw_rows: Vec<RawRow<'_>>,
) -> Result<Dataset, DatasetError> {
    if raw_rows.is_empty() {
        return Err(DatasetError::Empty {
            file: file.to_owned(),
        });
    }
    let mut rows: Vec<Row> = Vec::with_capacity(raw_rows.len());
    for raw in raw_rows {
        let at = raw.at;
        let mut values: Vec<Option<Value>> = Vec::with_capacity(schema.columns.len());
        for (c, cell) in schema.columns.iter().zip(raw.cells) {
            let bad = |message: String| DatasetError::BadValue {
                file: file.to_owned(),
                at,
                column: c.name.clone(),
                message,
            };
            let v = match cell {
                None if c.required => return Err(bad("empty, but the column is required".into())),
                None => None,
                Some(cell) => Some(match (c.ty, cell) {
                    (ColumnType::Text, RawCell::Str(s)) => Value::Text(s.into_owned()),
                    (ColumnType::Text, RawCell::Int(i)) => Value::Text(i.to_string()),
                    (ColumnType::Decimal, RawCell::Str(s)) => {
                        Value::Decimal(parse_strict(&s).map_err(bad)?)
                    }
                    (ColumnType::Decimal, RawCell::Int(i)) => Value::Decimal(Decimal::from(i)),
                    (ColumnType::Integer, RawCell::Str(s)) => {
                        Value::Integer(parse_integer(&s).map_err(bad)?)
                    }
                    (ColumnType::Integer, RawCell::Int(i)) => Value::Integer(i),
                }),
            };
            if let Some(d) = v.as_ref().and_then(Value::as_decimal) {
                if !c.in_range(d) {
                    return Err(bad(format!(
                        "{} is outside the allowed range {}",
                        canonical(&d),
                        c.range_text()
                    )));
                }
            }
            values.push(v);
        }
        for (ci, c) in schema.columns.iter().enumerate() {
            let Some(other) = &c.le_column else { continue };
            let Some(oi) = schema.column_index(other) else {
                continue;
            };
            if let (Some(x), Some(y)) = (
                values[ci].as_ref().and_then(Value::as_decimal),
                values[oi].as_ref().and_then(Value::as_decimal),
            ) {
                if x > y {
                    return Err(DatasetError::BadValue {
                        file: file.to_owned(),
                        at,
                        column: c.name.clone(),
                        message: format!(
                            "{} exceeds `{other}` ({}) in the same row",
                            canonical(&x),
                            canonical(&y)
                        ),
                    });
                }
            }
        }
        let id_text = match &values[0] {
            Some(Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let staff_id = StaffId::new(&id_text).ok_or_else(|| DatasetError::BadValue {
            file: file.to_owned(),
            at,
            column: "staff_id".into(),
            message: format!(
                "`{id_text}` is not a staff ID (1 to 64 bytes, no spaces or control characters)"
            ),
        })?;
        rows.push(Row {
            staff_id,
            at,
            values,
        });
    }
    rows.sort_by(|a, b| a.staff_id.cmp(&b.staff_id));
    for w in rows.windows(2) {
        if w[0].staff_id == w[1].staff_id {
            let (first, second) = if loc_key(w[0].at) <= loc_key(w[1].at) {
                (w[0].at, w[1].at)
            } else {
                (w[1].at, w[0].at)
            };
            return Err(DatasetError::DuplicateId {
                file: file.to_owned(),
                at: second,
                first,
                staff_id: w[0].staff_id.to_string(),
            });
        }
    }
    Ok(Dataset {
        schema: schema.clone(),
        file: file.to_owned(),
        rows,
    })
}

fn loc_key(l: Loc) -> u64 {
    match l {
        Loc::Line(x) => x,
        Loc::Row(x) => u64::try_from(x).unwrap_or(u64::MAX),
    }
}
