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

/// Rows to CSV bytes (the first row is the header): `\n` line ends, or for
/// Excel a UTF-8 byte-order mark and `\r\n` line ends (the same cells).
fn write_with(rows: impl IntoIterator<Item = Vec<String>>, excel: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if excel {
        out.extend_from_slice(BOM);
    }
    let mut w = writer(out, excel);
    for r in rows {
        put(&mut w, &r);
    }
    w.into_inner().unwrap_or_default()
}

fn writer(out: Vec<u8>, excel: bool) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(if excel {
            csv::Terminator::CRLF
        } else {
            csv::Terminator::Any(b'\n')
        })
        .from_writer(out)
}

fn put(w: &mut csv::Writer<Vec<u8>>, r: &[String]) {
    // INVARIANT: writing records into a Vec cannot fail (no I/O), and
    // every record is UTF-8 text. An empty record ends the row.
    for c in r {
        let _ = w.write_field(cell(c).as_bytes());
    }
    let _ = w.write_record(None::<&[u8]>);
}

/// One CSV row being written: its cells, in order, each made safe
/// ([`cell`]).
pub struct Row<'w> {
    w: &'w mut csv::Writer<Vec<u8>>,
}

impl Row<'_> {
    /// Append a cell.
    pub fn cell(&mut self, s: &str) {
        // INVARIANT: writing into a Vec cannot fail (no I/O).
        let _ = self.w.write_field(cell(s).as_bytes());
    }
}

/// The same bytes as [`write_with`] of `header` followed by rows
/// `0 .. n - 1`, each written by `row(i, ..)` cell by cell, in parallel
/// runs, each by a writer of its own with the same settings. A CSV writer
/// carries nothing from one record to the next but the field count, which
/// is the header's in every row here, so the runs join into the bytes of
/// one writer, on any number of threads.
pub fn write_rows(
    header: Vec<String>,
    n: usize,
    row: impl Fn(usize, &mut Row<'_>) + Sync,
    excel: bool,
) -> Vec<u8> {
    use rayon::prelude::*;
    const RUN: usize = 4096;
    let mut out = write_with([header], excel);
    let runs: Vec<Vec<u8>> = (0..n.div_ceil(RUN))
        .into_par_iter()
        .map(|k| {
            let mut w = writer(Vec::new(), excel);
            for i in k * RUN..((k + 1) * RUN).min(n) {
                row(i, &mut Row { w: &mut w });
                // INVARIANT: as in `put`; an empty record ends the row.
                let _ = w.write_record(None::<&[u8]>);
            }
            w.into_inner().unwrap_or_default()
        })
        .collect();
    out.reserve(runs.iter().map(Vec::len).sum());
    for r in runs {
        out.extend_from_slice(&r);
    }
    out
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
        let out = String::from_utf8(write_with(
            vec![
                vec!["a".into(), "b".into()],
                vec!["x,y".into(), "=cmd".into()],
            ],
            false,
        ))
        .unwrap();
        assert_eq!(out, "a,b\n\"x,y\",'=cmd\n");
    }

    #[test]
    fn rows_written_in_parallel_runs_are_the_bytes_of_one_writer() {
        let header = vec!["staff_id".to_owned(), "name".to_owned(), "note".to_owned()];
        let row = |i: usize| {
            vec![
                format!("E{i:05}"),
                if i % 3 == 0 {
                    "王伟".into()
                } else {
                    "a,b".into()
                },
                if i % 7 == 0 {
                    "=cmd".into()
                } else {
                    format!("line\n{i}")
                },
            ]
        };
        for n in [0, 1, 4095, 4096, 4097, 10_000] {
            for excel in [false, true] {
                let one = write_with(
                    std::iter::once(header.clone()).chain((0..n).map(row)),
                    excel,
                );
                let cells = |i: usize, r: &mut Row<'_>| {
                    for c in row(i) {
                        r.cell(&c);
                    }
                };
                assert_eq!(
                    write_rows(header.clone(), n, cells, excel),
                    one,
                    "{n} {excel}"
                );
            }
        }
    }

    #[test]
    fn excel_csv_has_a_bom_and_crlf_and_the_same_cells() {
        let rows = || {
            vec![
                vec!["姓名".into(), "b".into()],
                vec!["王伟".into(), "=x".into()],
            ]
        };
        let out = write_with(rows(), true);
        assert_eq!(&out[..3], BOM);
        assert_eq!(
            std::str::from_utf8(&out[3..]).unwrap(),
            "姓名,b\r\n王伟,'=x\r\n"
        );
        assert!(!write_with(rows(), false).starts_with(BOM));
    }
}
