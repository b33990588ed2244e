//! Workbooks (`.xlsx` streamed cell by cell; `.xls`/`.ods` through a
//! sheet range) read with calamine into the dataset builder, each cell at
//! its sheet row and column letter.

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, DataRef, ExcelDateTime, Reader};

use crate::dataset::{Builder, Cell, DatasetError, Loc};

fn date_text(d: &ExcelDateTime) -> String {
    let (y, mo, da, h, mi, s, ms) = d.to_ymd_hms_milli();
    if !d.is_datetime() {
        return format!("duration {}", d.as_f64());
    }
    if (h, mi, s, ms) == (0, 0, 0, 0) {
        format!("{y:04}-{mo:02}-{da:02}")
    } else if ms == 0 {
        format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}.{ms:03}")
    }
}

fn error_cell(e: &calamine::CellErrorType) -> String {
    format!("the cell holds the error {e}; fix the formula in the sheet, or clear the cell")
}

fn cell_of_ref<'a>(d: &DataRef<'a>) -> Cell<'a> {
    match d {
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::String(s) => Cell::Text(Cow::Owned(s.clone())),
        DataRef::SharedString(s) => Cell::Text(Cow::Borrowed(s)),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => Cell::Date(date_text(dt)),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Date(s.clone()),
        DataRef::Error(e) => Cell::Invalid(error_cell(e)),
        DataRef::Empty => Cell::Empty,
    }
}

fn cell_of_data(d: &Data) -> Cell<'_> {
    match d {
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::String(s) => Cell::Text(Cow::Borrowed(s)),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => Cell::Date(date_text(dt)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Date(s.clone()),
        Data::Error(e) => Cell::Invalid(error_cell(e)),
        Data::Empty => Cell::Empty,
    }
}

fn cell_text(c: &Cell<'_>) -> String {
    match c {
        Cell::Text(t) => t.trim().to_owned(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => format!("{f}"),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.clone(),
        Cell::Invalid(_) | Cell::Empty => String::new(),
    }
}

/// Feed one sheet row (0-based row, cells by 0-based column) to the builder:
/// the first non-empty row is the header.
fn emit<'a>(b: &mut Builder<'_>, row: u32, cells: Vec<(u32, Cell<'a>)>) {
    if cells
        .iter()
        .all(|(_, c)| matches!(c, Cell::Empty) || matches!(c, Cell::Text(t) if t.trim().is_empty()))
    {
        return; // a blank row, as a blank line of a text file
    }
    let r = row + 1;
    let width = cells.iter().map(|(c, _)| *c + 1).max().unwrap_or(0) as usize;
    if !b.has_header() {
        let mut labels: Vec<(String, Loc)> = (0..width)
            .map(|c| {
                (
                    String::new(),
                    Loc::Cell {
                        row: r,
                        col: c as u32,
                    },
                )
            })
            .collect();
        for (c, cell) in &cells {
            labels[*c as usize].0 = cell_text(cell);
        }
        b.header(&labels, Loc::SheetRow(r));
        return;
    }
    let mut row_cells: Vec<(Cell<'a>, Loc)> = (0..width.max(b.n_header()))
        .map(|c| {
            (
                Cell::Empty,
                Loc::Cell {
                    row: r,
                    col: c as u32,
                },
            )
        })
        .collect();
    for (c, cell) in cells {
        row_cells[c as usize].0 = cell;
    }
    b.row(Loc::SheetRow(r), &row_cells);
}

fn choose_sheet(b: &mut Builder<'_>, names: &[String], want: Option<&str>) -> Option<String> {
    let found = match want {
        None => names.first().cloned(),
        Some(w) => names
            .iter()
            .find(|n| n.as_str() == w)
            .or_else(|| names.iter().find(|n| n.trim() == w.trim()))
            .cloned(),
    };
    if found.is_none() {
        let file = b.file().to_owned();
        let message = match want {
            None => "the workbook has no sheets".to_owned(),
            Some(w) => format!(
                "the workbook has no sheet `{w}`; its sheets are: {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        b.problem(DatasetError::Workbook { file, message });
    }
    found
}

fn unreadable(b: &mut Builder<'_>, kind: &str, e: impl std::fmt::Display) {
    let file = b.file().to_owned();
    b.problem(DatasetError::Workbook {
        file,
        message: format!(
            "cannot be read as an {kind} workbook ({e}); save it again from the spreadsheet as .xlsx, or export it as CSV UTF-8"
        ),
    });
}

/// Read one sheet of a workbook into `b`; returns the sheet's name.
pub(crate) fn read_workbook(
    b: &mut Builder<'_>,
    bytes: &[u8],
    kind: &'static str,
    sheet: Option<&str>,
) -> Option<String> {
    let max_rows = u32::try_from(b_limits_rows(b)).unwrap_or(u32::MAX);
    if bytes.starts_with(b"PK\x03\x04") && !expanded_size_ok(b, bytes) {
        return None;
    }
    if kind == "xlsx" {
        let mut wb: calamine::Xlsx<_> = match calamine::open_workbook_from_rs(Cursor::new(bytes)) {
            Ok(w) => w,
            Err(e) => {
                unreadable(b, kind, e);
                return None;
            }
        };
        let names = wb.sheet_names();
        let name = choose_sheet(b, &names, sheet)?;
        let mut cells = match wb.worksheet_cells_reader(&name) {
            Ok(c) => c,
            Err(e) => {
                unreadable(b, kind, e);
                return Some(name);
            }
        };
        let mut cur_row: Option<u32> = None;
        let mut row: Vec<(u32, Cell<'_>)> = Vec::new();
        let mut n_rows = 0u32;
        loop {
            if b.stopped() {
                break;
            }
            match cells.next_cell() {
                Ok(Some(c)) => {
                    let (r, col) = c.get_position();
                    if cur_row != Some(r) {
                        if let Some(prev) = cur_row {
                            emit(b, prev, std::mem::take(&mut row));
                            n_rows += 1;
                            if n_rows > max_rows.saturating_add(1) {
                                // The builder reports the limit; stop reading.
                                break;
                            }
                        }
                        cur_row = Some(r);
                    }
                    let cell = cell_of_ref(c.get_value());
                    if !matches!(cell, Cell::Empty) {
                        row.push((col, cell));
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let at = Loc::SheetRow(cur_row.map_or(1, |r| r + 1));
                    b.fatal(at, format!("the sheet cannot be read further ({e})"));
                    break;
                }
            }
        }
        if let Some(prev) = cur_row {
            emit(b, prev, row);
        }
        Some(name)
    } else {
        let mut wb = match calamine::open_workbook_auto_from_rs(Cursor::new(bytes)) {
            Ok(w) => w,
            Err(e) => {
                unreadable(b, kind, e);
                return None;
            }
        };
        let names = wb.sheet_names();
        let name = choose_sheet(b, &names, sheet)?;
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => {
                unreadable(b, kind, e);
                return Some(name);
            }
        };
        let (r0, c0) = range.start().unwrap_or((0, 0));
        for (i, cells) in range.rows().enumerate() {
            if b.stopped() {
                break;
            }
            let r = r0 + u32::try_from(i).unwrap_or(u32::MAX - r0);
            let row: Vec<(u32, Cell<'_>)> = cells
                .iter()
                .enumerate()
                .filter(|(_, d)| !matches!(d, Data::Empty))
                .map(|(j, d)| (c0 + u32::try_from(j).unwrap_or(0), cell_of_data(d)))
                .collect();
            emit(b, r, row);
        }
        Some(name)
    }
}

fn b_limits_rows(b: &Builder<'_>) -> usize {
    b.max_rows()
}

/// A zip workbook whose parts expand beyond the limit (a "zip bomb") is
/// refused before calamine inflates anything. The sizes are those the
/// central directory declares: an archive that understates them is not
/// caught here (the file size limit and the row limit still apply).
fn expanded_size_ok(b: &mut Builder<'_>, bytes: &[u8]) -> bool {
    let limit = b.limits().max_workbook_bytes;
    let mut z = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            unreadable(b, "xlsx", e);
            return false;
        }
    };
    let mut total: u64 = 0;
    for i in 0..z.len() {
        match z.by_index_raw(i) {
            Ok(f) => total = total.saturating_add(f.size()),
            Err(e) => {
                unreadable(b, "xlsx", e);
                return false;
            }
        }
    }
    if total > limit {
        let file = b.file().to_owned();
        b.problem(DatasetError::Limit {
            file,
            message: format!(
                "the workbook expands to {total} bytes, more than the limit of {limit} bytes; save only the sheet needed, or export it as CSV UTF-8"
            ),
        });
        return false;
    }
    true
}
