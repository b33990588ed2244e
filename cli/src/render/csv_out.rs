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

/// Rows to CSV bytes (the first row is the header).
pub fn write(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    for r in rows {
        // INVARIANT: writing records into a Vec cannot fail (no I/O), and
        // every record is UTF-8 text.
        let _ = w.write_record(r.iter().map(|c| cell(c).into_owned()));
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
}
