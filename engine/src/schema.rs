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

/// A staff member's ID: 1 to 64 bytes of UTF-8 without whitespace, control
/// characters or invisible characters (zero-width spaces and joiners, the
/// byte order mark, bidi controls, soft hyphens, variation selectors, tags:
/// see [`is_invisible`]), so that two IDs that look the same are the same.
/// Ordered by bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaffId(String);

impl StaffId {
    /// Validate a staff ID.
    pub fn new(s: &str) -> Option<StaffId> {
        // Printable ASCII other than the space is neither whitespace, nor a
        // control, nor invisible: only other text needs the per-character test.
        let ok = !s.is_empty()
            && s.len() <= 64
            && (s.bytes().all(|b| (0x21..0x7f).contains(&b))
                || !s
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || is_invisible(c)));
        ok.then(|| StaffId(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The key under which IDs that differ only by letter case or by
    /// full-/half-width form collide (`E001`, `e001`, `Ｅ００１`).
    pub fn fold_key(&self) -> String {
        fold_width(&self.0).to_lowercase()
    }
}

/// Characters that render as nothing (or only change how neighbours render)
/// and so make two different strings look identical: zero-width space,
/// non-joiner and joiner, word joiner and the other invisible operators,
/// the byte order mark, soft hyphen, bidi marks, embeddings, overrides and
/// isolates, Mongolian and other fillers, variation selectors and tags.
pub fn is_invisible(c: char) -> bool {
    is_bidi_control(c)
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
            | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2065}'
            | '\u{206A}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
            | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}')
}

/// Bidirectional formatting characters (marks, embeddings, overrides,
/// isolates): they reorder how a line is displayed ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Map full-width ASCII forms (U+FF01..U+FF5E) to ASCII and the ideographic
/// space U+3000 to a space: `（元）` becomes `(元)`, `Ｅ００１` becomes `E001`.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

impl fmt::Display for StaffId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
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
    /// Units a header label may carry in parentheses, e.g. `元` lets
    /// `销售额（元）` and `销售额(元)` name the column whose alias is `销售额`.
    /// A unit is a label only and never scales a value, except that a
    /// decimal column declaring `%` also accepts cells written `95.5%`
    /// (read exactly as 0.955).
    pub units: Vec<String>,
    /// At most this many decimal places (a decimal column); more is refused.
    pub decimals: Option<u32>,
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

/// What to do with a kind of row a file may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowPolicy {
    /// The row is a problem of the file (the default).
    #[default]
    Refuse,
    /// The row is left out and listed in the read report.
    Skip,
}

impl RowPolicy {
    pub fn as_str(&self) -> &'static str {
        match self {
            RowPolicy::Refuse => "refuse",
            RowPolicy::Skip => "skip",
        }
    }
}

/// How a package treats a staff member found in some sources of a period
/// but missing from another (`[join] missing_staff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingStaff {
    /// The dataset that makes the sources disagree is refused (the default).
    #[default]
    Refuse,
    /// The staff member is not eligible for the ranking: left out, and
    /// listed as excluded.
    Exclude,
}

impl MissingStaff {
    pub fn as_str(&self) -> &'static str {
        match self {
            MissingStaff::Refuse => "refuse",
            MissingStaff::Exclude => "exclude",
        }
    }
}

/// A source's rules for the rows and columns of its files beyond the
/// declared columns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceRules {
    /// Header labels of columns that are allowed and ignored; `*` matches
    /// any run of characters (`备注*`). Compared after width folding.
    pub ignore_columns: Vec<String>,
    /// Rows whose cells are all empty (`,,,,`).
    pub empty_rows: RowPolicy,
    /// A last row labelled as a total (`合计`, `总计`, `小计`, `Total`).
    pub total_row: RowPolicy,
}

/// How a header label relates to a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderMatch {
    /// The label names this column.
    Column(usize),
    /// The label names a column but carries a unit the column does not declare.
    WrongUnit { column: usize, unit: String },
    /// The label matches `ignore_columns`.
    Ignored,
    /// The label names nothing.
    Unknown,
}

/// The schema of one source: its name and columns, `staff_id` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSchema {
    pub source: SourceName,
    /// Columns in manifest order; `columns[0]` is always `staff_id` (text).
    pub columns: Vec<Column>,
    /// Ignored columns, empty rows and total rows.
    pub rules: SourceRules,
}

/// Split `销售额（元）` / `销售额(元)` into the label and the unit.
pub fn split_unit(folded: &str) -> Option<(&str, &str)> {
    let body = folded.strip_suffix(')')?;
    let open = body.rfind('(')?;
    let (label, unit) = (body[..open].trim_end(), body[open + 1..].trim());
    (!label.is_empty() && !unit.is_empty()).then_some((label, unit))
}

/// Whether `text` matches a pattern where `*` stands for any characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else if let Some(at) = rest.find(p) {
            rest = &rest[at + p.len()..];
        } else {
            return false;
        }
    }
    true
}

impl SourceSchema {
    /// Find the column index for a header label (canonical name or alias,
    /// with or without a declared unit, compared after width folding).
    pub fn column_for_header(&self, header: &str) -> Option<usize> {
        match self.match_header(header) {
            HeaderMatch::Column(i) => Some(i),
            _ => None,
        }
    }

    /// How a header label relates to this schema. Labels are compared after
    /// trimming and width folding (`（` is `(`); a label `L(U)` names the
    /// column of label `L` if `U` is one of its units.
    pub fn match_header(&self, header: &str) -> HeaderMatch {
        let h = fold_width(header.trim());
        let same = |label: &str| fold_width(label) == h;
        if let Some(i) = self
            .columns
            .iter()
            .position(|c| same(&c.name) || c.aliases.iter().any(|a| same(a)))
        {
            return HeaderMatch::Column(i);
        }
        if let Some((label, unit)) = split_unit(&h) {
            let named = |c: &Column| {
                fold_width(&c.name) == label || c.aliases.iter().any(|a| fold_width(a) == label)
            };
            if let Some(i) = self.columns.iter().position(named) {
                let c = &self.columns[i];
                return if c.units.iter().any(|u| fold_width(u) == unit) {
                    HeaderMatch::Column(i)
                } else {
                    HeaderMatch::WrongUnit {
                        column: i,
                        unit: unit.to_owned(),
                    }
                };
            }
        }
        if self
            .rules
            .ignore_columns
            .iter()
            .any(|p| glob_match(&fold_width(p), &h))
        {
            return HeaderMatch::Ignored;
        }
        HeaderMatch::Unknown
    }

    /// Every header label a column accepts, for messages: `name (alias,
    /// alias; units 元)`.
    pub fn accepted_labels(&self) -> String {
        self.columns
            .iter()
            .map(|c| {
                let mut s = c.name.clone();
                if !c.aliases.is_empty() || !c.units.is_empty() {
                    s.push_str(" (");
                    s.push_str(&c.aliases.join(", "));
                    if !c.units.is_empty() {
                        if !c.aliases.is_empty() {
                            s.push_str("; ");
                        }
                        s.push_str("units ");
                        s.push_str(&c.units.join(", "));
                    }
                    s.push(')');
                }
                s
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The accepted label closest to `header` (edit distance over
    /// characters, after width folding and lowercasing), if close enough to
    /// be a likely typo.
    pub fn closest_label(&self, header: &str) -> Option<String> {
        let h: Vec<char> = fold_width(header.trim()).to_lowercase().chars().collect();
        let h_nounit: Option<Vec<char>> =
            split_unit(&fold_width(header.trim())).map(|(l, _)| l.to_lowercase().chars().collect());
        let mut best: Option<(usize, String)> = None;
        for c in &self.columns {
            for label in std::iter::once(&c.name).chain(c.aliases.iter()) {
                let l: Vec<char> = fold_width(label).to_lowercase().chars().collect();
                let mut d = edit_distance(&h, &l);
                if let Some(hn) = &h_nounit {
                    d = d.min(edit_distance(hn, &l));
                }
                let limit = (l.len().max(h.len()) / 3).max(1);
                if d <= limit && best.as_ref().is_none_or(|(bd, _)| d < *bd) {
                    best = Some((d, label.clone()));
                }
            }
        }
        best.map(|(_, l)| l)
    }

    /// Index of a column by canonical name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The source's full declaration as JSON (for ledger `input.record`
    /// bodies, FORMAT.md §11.2): every column with its type, aliases, units,
    /// bounds, decimals and `le_column`, and the source's row rules.
    pub fn to_json(&self) -> serde_json::Value {
        let strings =
            |v: &[String]| serde_json::Value::Array(v.iter().map(|x| x.as_str().into()).collect());
        let cols: Vec<serde_json::Value> = self
            .columns
            .iter()
            .map(|c| {
                let mut m = BTreeMap::new();
                m.insert("name".to_owned(), serde_json::Value::from(c.name.clone()));
                m.insert("type".to_owned(), c.ty.as_str().into());
                m.insert("required".to_owned(), c.required.into());
                m.insert("aliases".to_owned(), strings(&c.aliases));
                m.insert("units".to_owned(), strings(&c.units));
                if c.ty != ColumnType::Text {
                    m.insert("range".to_owned(), c.range_text().into());
                }
                // The bounds as the manifest declares them (canonical decimals).
                if let Some(b) = c.lower {
                    let k = if b.inclusive { "ge" } else { "gt" };
                    m.insert(k.to_owned(), canonical(&b.value).into());
                }
                if let Some(b) = c.upper {
                    let k = if b.inclusive { "le" } else { "lt" };
                    m.insert(k.to_owned(), canonical(&b.value).into());
                }
                if let Some(d) = c.decimals {
                    m.insert("decimals".to_owned(), d.into());
                }
                if let Some(o) = &c.le_column {
                    m.insert("le_column".to_owned(), o.clone().into());
                }
                serde_json::Value::Object(m.into_iter().collect())
            })
            .collect();
        serde_json::json!({
            "source": self.source.as_str(),
            "columns": cols,
            "ignore_columns": strings(&self.rules.ignore_columns),
            "empty_rows": self.rules.empty_rows.as_str(),
            "total_row": self.rules.total_row.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_fast_path_accepts_exactly_what_the_character_test_accepts() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            let by_chars = !(c.is_whitespace() || c.is_control() || is_invisible(c));
            let s = format!("E{c}1");
            assert_eq!(StaffId::new(&s).is_some(), by_chars, "byte {b:#04x}");
        }
    }

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
        for bad in [
            "E\u{200B}1",
            "\u{FEFF}E1",
            "E1\u{202E}",
            "E\u{2066}1",
            "E\u{00AD}1",
        ] {
            assert!(StaffId::new(bad).is_none(), "{bad:?}");
        }
        assert_eq!(StaffId::new("Ｅ００１").unwrap().fold_key(), "e001");
    }

    #[test]
    fn units_globs_and_hints() {
        assert_eq!(split_unit("销售额(元)"), Some(("销售额", "元")));
        assert_eq!(
            split_unit(&fold_width("回款率（%）")),
            Some(("回款率", "%"))
        );
        assert_eq!(split_unit("(元)"), None);
        assert!(glob_match("备注*", "备注2"));
        assert!(glob_match("*备注", "销售备注"));
        assert!(glob_match("a*b*c", "a12b34c"));
        assert!(!glob_match("a*b", "a12c"));
        assert!(glob_match("x", "x"));
        assert_eq!(edit_distance(&['a', 'b'], &['a', 'c', 'b']), 1);
    }
}
