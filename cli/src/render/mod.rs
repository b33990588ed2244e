//! The output layer: view models from the workflow in, text tables, CSV
//! and JSON out. Generic over the rule package: score names, attributes and
//! flags come from the document, never from code. Every name that came
//! from a file or a ledger is passed through [`safe`] before it reaches a
//! terminal.

pub mod csv_out;
pub mod explain;
pub mod log;
pub mod ranking;
pub mod receipt;
pub mod table;

use clap::ValueEnum;

/// A package's display labels (`[labels]`, RULES.md section 2): canonical
/// name -> label. Tables and explanations show the label; JSON and CSV keep
/// the canonical names.
pub type Labels = std::collections::BTreeMap<String, String>;

/// The label of a name for display (escaped), or the name itself.
pub fn label(labels: &Labels, name: &str) -> String {
    safe(labels.get(name).map_or(name, String::as_str)).into_owned()
}

/// Output format of commands that print a table, CSV or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// JSON.
    Json,
    /// CSV (spreadsheet-safe), UTF-8, `\n` line ends.
    Csv,
    /// CSV for Microsoft Excel: the same cells, UTF-8 with a byte-order
    /// mark and `\r\n` line ends, so Excel shows Chinese text correctly
    /// when the file is opened by double-click.
    CsvExcel,
}

/// Output format of commands that print text or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TextFormat {
    /// Text for people.
    Table,
    /// JSON.
    Json,
}

/// Whether a character could move the cursor, change colours, reorder the
/// line (bidirectional controls) or hide text on a terminal.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200B}'..='\u{200F}' // zero-width and directional marks
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{061C}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
}

/// `s` with every terminal-unsafe character written as `\u{XXXX}`.
pub fn safe(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:04X}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The first `n` characters of a hash or ID.
pub fn short(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls_and_bidi_overrides() {
        assert_eq!(safe("王伟 ok"), "王伟 ok");
        assert_eq!(safe("a\u{1b}[31mred"), "a\\u{001B}[31mred");
        assert_eq!(safe("x\u{202E}gnp.exe"), "x\\u{202E}gnp.exe");
        assert_eq!(safe("tab\there"), "tab\\u{0009}here");
        assert_eq!(safe("\u{2066}i\u{2069}"), "\\u{2066}i\\u{2069}");
    }
}
