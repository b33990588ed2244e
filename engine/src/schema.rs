//! Per-source input schemas: columns, types, ranges, header aliases.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::decimal::canonical;

/// The name of an input source (`crm`, `survey`, `oa`): an identifier of
/// lowercase ASCII letters, digits and `_`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceName(String);

impl SourceName {
    /// Validate a source name.
    pub fn new(s: &str) -> Option<SourceName> {
        is_identifier(s).then(|| SourceName(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staff member's ID: 1 to 64 bytes of UTF-8 without whitespace or
/// control characters. Ordered by bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaffId(String);

impl StaffId {
    /// Validate a staff ID.
    pub fn new(s: &str) -> Option<StaffId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        ok.then(|| StaffId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StaffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[a-z][a-z0-9_]*`, at most 64 bytes: usable as a rhai property name.
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 64
        && b.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text (trimmed of surrounding whitespace).
    Text,
    /// An exact decimal, `-?DIGITS(.DIGITS)?`.
    Decimal,
    /// An integer, `-?DIGITS`, within ±(2^53 − 1).
    Integer,
}

impl ColumnType {
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Decimal => "decimal",
            ColumnType::Integer => "integer",
        }
    }
}

/// One bound of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub value: Decimal,
    pub inclusive: bool,
}

/// A column of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Canonical name (used in canonical datasets and scripts).
    pub name: String,
    pub ty: ColumnType,
    /// A required column must be present and every cell non-empty.
    pub required: bool,
    /// Other header labels accepted for this column (e.g. `销售额`).
    pub aliases: Vec<String>,
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
    /// The value must not exceed this other numeric column of the same row.
    pub le_column: Option<String>,
}

impl Column {
    /// The range as written in error messages, e.g. `[0, 1]` or `(0, ∞)`.
    pub fn range_text(&self) -> String {
        let lo = match self.lower {
            Some(b) => format!(
                "{}{}",
                if b.inclusive { '[' } else { '(' },
                canonical(&b.value)
            ),
            None => "(-∞".to_owned(),
        };
        let hi = match self.upper {
            Some(b) => format!(
                "{}{}",
                canonical(&b.value),
                if b.inclusive { ']' } else { ')' }
            ),
            None => "∞)".to_owned(),
        };
        format!("{lo}, {hi}")
    }

    /// Whether `v` lies in the column's range.
    pub fn in_range(&self, v: Decimal) -> bool {
        let lo_ok = self.lower.is_none_or(|b| {
            if b.inclusive {
                v >= b.value
            } else {
                v > b.value
            }
        });
        let hi_ok = self.upper.is_none_or(|b| {
            if b.inclusive {
                v <= b.value
            } else {
                v < b.value
            }
        });
        lo_ok && hi_ok
    }
}

/// The schema of one source: its name and columns, `staff_id` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSchema {
    pub source: SourceName,
    /// Columns in manifest order; `columns[0]` is always `staff_id` (text).
    pub columns: Vec<Column>,
}

impl SourceSchema {
    /// Find the column index for a header label (canonical name or alias).
    pub fn column_for_header(&self, header: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name == header || c.aliases.iter().any(|a| a == header))
    }

    /// Index of a column by canonical name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// A JSON description of the schema (for ledger `input.record` bodies).
    pub fn to_json(&self) -> serde_json::Value {
        let cols: Vec<serde_json::Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut m = BTreeMap::new();
                m.insert("name".to_owned(), serde_json::Value::from(c.name.clone()));
                m.insert("type".to_owned(), c.ty.as_str().into());
                m.insert("required".to_owned(), c.required.into());
                if c.ty != ColumnType::Text {
                    m.insert("range".to_owned(), c.range_text().into());
                }
                if let Some(o) = &c.le_column {
                    m.insert("le_column".to_owned(), o.clone().into());
                }
                serde_json::Value::Object(m.into_iter().collect())
            })
            .collect();
        serde_json::json!({ "source": self.source.as_str(), "columns": cols })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_ids() {
        assert!(is_identifier("sales_amount"));
        assert!(!is_identifier("Sales"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier(""));
        assert!(StaffId::new("E0001").is_some());
        assert!(StaffId::new("张三-01").is_some());
        assert!(StaffId::new("E 1").is_none());
        assert!(StaffId::new("").is_none());
    }
}
