//! CSV output through the `csv` crate (quoting, embedded newlines), with
//! cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab
//! or carriage return first) prefixed with `'`. Plain numbers such as
//! `-1.5` stay numbers.

/// A spreadsheet-safe cell.
pub fn cell(s: &str) -> std::borrow::Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && s.parse::<rust_decimal::Decimal>().is_err() {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// The UTF-8 byte-order mark Excel needs to read a CSV file as UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Rows to CSV bytes (the first row is the header), `\n` line ends.
pub fn write(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    write_with(rows, false)
}

/// Rows to CSV bytes for Excel: a UTF-8 byte-order mark, then the same
/// cells as [`write`] with `\r\n` line ends.
pub fn write_excel(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    write_with(rows, true)
}

fn write_with(rows: impl IntoIterator<Item = Vec<String>>, excel: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if excel {
        out.extend_from_slice(BOM);
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(if excel {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(out);
    for r in rows {
        // INVARIANT: writing records into a Vec cannot fail (no I/O), and
        // every record is UTF-8 text. An empty record ends the row.
        for c in &r {
            let _ = w.write_field(cell(c).as_bytes());
        }
        let _ = w.write_record(None::<&[u8]>);
    }
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralized_numbers_are_not() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1+2"), "'+1+2");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("-2+3"), "'-2+3");
        assert_eq!(cell("-1.5"), "-1.5");
        assert_eq!(cell("王伟"), "王伟");
        let out = String::from_utf8(write(vec![
            vec!["a".into(), "b".into()],
            vec!["x,y".into(), "=cmd".into()],
        ]))
        .unwrap();
        assert_eq!(out, "a,b\n\"x,y\",'=cmd\n");
    }

    #[test]
    fn excel_csv_has_a_bom_and_crlf_and_the_same_cells() {
        let rows = || {
            vec![
                vec!["姓名".into(), "b".into()],
                vec!["王伟".into(), "=x".into()],
            ]
        };
        let out = write_excel(rows());
        assert_eq!(&out[..3], BOM);
        assert_eq!(
            std::str::from_utf8(&out[3..]).unwrap(),
            "姓名,b\r\n王伟,'=x\r\n"
        );
        assert!(!write(rows()).starts_with(BOM));
    }
}
