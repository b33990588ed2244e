//! Reading input files as HR has them: workbooks (`.xlsx`, `.xls`), CSV in
//! UTF-8, UTF-16 or GBK/GB18030, comma or tab separated, and JSON.
//!
//! The reader turns bytes into header labels and cells with their exact
//! locations (line of a text file, cell of a sheet); the dataset builder
//! ([`crate::dataset`]) checks them against the source's schema. The
//! original bytes are never changed: the caller records them as they came,
//! and the canonical dataset is what scoring uses.

pub(crate) mod canonical;
pub(crate) mod csv;
pub(crate) mod json;
pub mod number;
pub(crate) mod sheet;

use std::borrow::Cow;
use std::fmt;

use crate::dataset::Loc;

/// A text encoding a CSV (or JSON) file can be read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    /// GBK (code page 936), read as its superset GB18030.
    Gbk,
    Gb18030,
}

impl TextEncoding {
    pub fn as_str(&self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf16Le => "UTF-16LE",
            TextEncoding::Utf16Be => "UTF-16BE",
            TextEncoding::Gbk => "GBK",
            TextEncoding::Gb18030 => "GB18030",
        }
    }
}

impl fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TextEncoding {
    type Err = String;
    /// `utf-8`, `utf-16le`, `utf-16be`, `gbk` (also `cp936`), `gb18030`,
    /// in any letter case, with or without the `-`.
    fn from_str(s: &str) -> Result<Self, String> {
        let k: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        match k.as_str() {
            "utf8" => Ok(TextEncoding::Utf8),
            "utf16le" | "utf16" => Ok(TextEncoding::Utf16Le),
            "utf16be" => Ok(TextEncoding::Utf16Be),
            "gbk" | "cp936" => Ok(TextEncoding::Gbk),
            "gb18030" => Ok(TextEncoding::Gb18030),
            _ => Err(format!(
                "unknown encoding `{s}` (use utf-8, utf-16le, utf-16be, gbk or gb18030)"
            )),
        }
    }
}

/// How the encoding of a text file was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodingSource {
    /// A byte order mark at the start of the file.
    Bom,
    /// Valid UTF-8 without a BOM.
    ValidUtf8,
    /// Not valid UTF-8; read as GB18030 (what Excel writes on Chinese Windows).
    NotUtf8,
    /// UTF-16 without a BOM, recognized by its zero bytes.
    ZeroBytes,
    /// Named by the caller ([`ReadOptions::encoding`]).
    Forced,
}

/// What kind of file was read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputFormat {
    Csv,
    Json,
    /// A workbook (`xlsx`, `xls`): the kind and the sheet read.
    Workbook {
        kind: &'static str,
        sheet: String,
    },
}

/// Bounds on an input file, each refused with a clear error when exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// The file's size in bytes.
    pub max_file_bytes: usize,
    /// Data rows (the header not counted).
    pub max_rows: usize,
    /// Bytes of one cell's text.
    pub max_cell_bytes: usize,
    /// Columns of the header.
    pub max_columns: usize,
    /// Problems listed one by one; the rest are counted.
    pub max_problems: usize,
    /// The expanded size of an `.xlsx`/`.ods` workbook's parts (a zip
    /// archive), checked before it is opened.
    pub max_workbook_bytes: u64,
}

impl Default for InputLimits {
    fn default() -> Self {
        InputLimits {
            max_file_bytes: 256 << 20,
            max_rows: 2_000_000,
            max_cell_bytes: 4096,
            max_columns: 512,
            max_problems: 50,
            max_workbook_bytes: 1 << 30,
        }
    }
}

/// Options for [`crate::Dataset::read`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// The text encoding; `None` detects it (BOM, else UTF-8, else GB18030).
    pub encoding: Option<TextEncoding>,
    /// The sheet of a workbook to read; `None` reads the first.
    pub sheet: Option<String>,
    /// The CSV delimiter (`b','` or `b'\t'`); `None` detects it from the header line.
    pub delimiter: Option<u8>,
    pub limits: InputLimits,
}

/// What the reader found and did, for the steward to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    pub format: InputFormat,
    /// The text encoding and how it was decided (text files only).
    pub encoding: Option<(TextEncoding, EncodingSource)>,
    /// The delimiter of a CSV file.
    pub delimiter: Option<u8>,
    /// Header labels of columns that were ignored (declared in `ignore_columns`,
    /// or without a header and without values).
    pub ignored_columns: Vec<String>,
    /// Rows with only empty cells that were skipped.
    pub skipped_empty_rows: Vec<Loc>,
    /// The trailing total row that was skipped, and its label.
    pub skipped_total_row: Option<(Loc, String)>,
    /// Data rows in the dataset.
    pub n_rows: usize,
}

impl ReadReport {
    /// How the file was read, e.g. `read CSV as GB18030 (not valid UTF-8),
    /// comma separated` or ``read xlsx workbook, sheet `销售` `` (the start of
    /// the report; also known when the file has problems).
    pub fn how_read(&self) -> String {
        struct How<'a>(&'a ReadReport);
        impl fmt::Display for How<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_how(f)
            }
        }
        How(self).to_string()
    }

    fn write_how(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.format {
            InputFormat::Workbook { kind, sheet } => {
                write!(f, "read {kind} workbook, sheet `{sheet}`")?
            }
            InputFormat::Csv | InputFormat::Json => {
                let what = if self.format == InputFormat::Json {
                    "JSON"
                } else {
                    "CSV"
                };
                match self.encoding {
                    Some((e, how)) => {
                        let how = match how {
                            EncodingSource::Bom => "byte order mark",
                            EncodingSource::ValidUtf8 => "valid UTF-8",
                            EncodingSource::NotUtf8 => "not valid UTF-8",
                            EncodingSource::ZeroBytes => "zero bytes, no byte order mark",
                            EncodingSource::Forced => "as asked",
                        };
                        write!(f, "read {what} as {e} ({how})")?
                    }
                    None => write!(f, "read {what}")?,
                }
                match self.delimiter {
                    Some(b'\t') => write!(f, ", tab separated")?,
                    Some(b',') => write!(f, ", comma separated")?,
                    Some(d) => write!(f, ", separated by `{}`", char::from(d))?,
                    None => {}
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for ReadReport {
    /// One line, e.g. `read as GB18030 (not valid UTF-8), comma separated,
    /// 12 rows; ignored column 备注; skipped total row 合计 (line 14)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_how(f)?;
        write!(f, ", {} rows", self.n_rows)?;
        if !self.ignored_columns.is_empty() {
            let s = if self.ignored_columns.len() == 1 {
                ""
            } else {
                "s"
            };
            write!(f, "; ignored column{s} {}", self.ignored_columns.join(", "))?;
        }
        if !self.skipped_empty_rows.is_empty() {
            let at: Vec<String> = self
                .skipped_empty_rows
                .iter()
                .take(10)
                .map(Loc::to_string)
                .collect();
            let more = self.skipped_empty_rows.len().saturating_sub(10);
            write!(
                f,
                "; skipped {} empty row{} ({}{})",
                self.skipped_empty_rows.len(),
                if self.skipped_empty_rows.len() == 1 {
                    ""
                } else {
                    "s"
                },
                at.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            )?;
        }
        if let Some((at, label)) = &self.skipped_total_row {
            write!(f, "; skipped total row {label} ({at})")?;
        }
        Ok(())
    }
}

/// A text file decoded: the text (borrowed when it was UTF-8) and how.
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub encoding: TextEncoding,
    pub how: EncodingSource,
}

/// A decoding failure: the 1-based line of the first bad byte and a message.
pub(crate) struct DecodeError {
    pub line: u64,
    pub message: String,
}

fn line_at(bytes: &[u8], offset: usize) -> u64 {
    crate::read::csv::count_lines(&bytes[..offset.min(bytes.len())]) + 1
}

fn utf16_zero_bytes(b: &[u8]) -> Option<TextEncoding> {
    let head = &b[..b.len().min(1024)];
    if head.len() < 4 || !head.contains(&0) {
        return None;
    }
    let even = head.iter().step_by(2).filter(|x| **x == 0).count();
    let odd = head.iter().skip(1).step_by(2).filter(|x| **x == 0).count();
    let half = head.len() / 4;
    if odd > half && even == 0 {
        Some(TextEncoding::Utf16Le)
    } else if even > half && odd == 0 {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

fn decode_with(
    bytes: &[u8],
    enc: &'static encoding_rs::Encoding,
) -> Result<String, (usize, String)> {
    let mut dec = enc.new_decoder_without_bom_handling();
    let cap = dec
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut out = String::with_capacity(cap);
    let (res, read) = dec.decode_to_string_without_replacement(bytes, &mut out, true);
    match res {
        encoding_rs::DecoderResult::InputEmpty => Ok(out),
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            let at = read.saturating_sub(usize::from(bad) + usize::from(after));
            Err((
                at,
                format!("byte 0x{:02x}", bytes.get(at).copied().unwrap_or(0)),
            ))
        }
        encoding_rs::DecoderResult::OutputFull => Err((read, "output buffer full".into())),
    }
}

/// Decode a text file: a BOM decides; else the forced encoding; else valid
/// UTF-8; else UTF-16 recognized by zero bytes; else GB18030.
pub(crate) fn decode(
    bytes: &[u8],
    forced: Option<TextEncoding>,
) -> Result<Decoded<'_>, DecodeError> {
    let bom: Option<(TextEncoding, usize)> = if bytes.starts_with(b"\xEF\xBB\xBF") {
        Some((TextEncoding::Utf8, 3))
    } else if bytes.starts_with(b"\xFF\xFE") {
        Some((TextEncoding::Utf16Le, 2))
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some((TextEncoding::Utf16Be, 2))
    } else {
        None
    };
    let (enc, how, body) = match (bom, forced) {
        (Some((b, _)), Some(f)) if b != f => {
            return Err(DecodeError {
                line: 1,
                message: format!(
                    "the file starts with a {b} byte order mark but {f} was asked for; drop the encoding option"
                ),
            })
        }
        (Some((b, n)), _) => (b, EncodingSource::Bom, &bytes[n..]),
        (None, Some(f)) => (f, EncodingSource::Forced, bytes),
        (None, None) => match std::str::from_utf8(bytes) {
            Ok(_) => (TextEncoding::Utf8, EncodingSource::ValidUtf8, bytes),
            Err(_) => match utf16_zero_bytes(bytes) {
                Some(e) => (e, EncodingSource::ZeroBytes, bytes),
                None => (TextEncoding::Gb18030, EncodingSource::NotUtf8, bytes),
            },
        },
    };
    let offset = bytes.len() - body.len();
    let text: Cow<'_, str> = match enc {
        TextEncoding::Utf8 => match std::str::from_utf8(body) {
            Ok(s) => Cow::Borrowed(s),
            Err(e) => {
                return Err(DecodeError {
                    line: line_at(bytes, offset + e.valid_up_to()),
                    message: "not valid UTF-8; save the file as UTF-8 (Excel: CSV UTF-8) or name its encoding".into(),
                })
            }
        },
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let e = if enc == TextEncoding::Utf16Le {
                encoding_rs::UTF_16LE
            } else {
                encoding_rs::UTF_16BE
            };
            Cow::Owned(decode_with(body, e).map_err(|(at, what)| DecodeError {
                // Lines of UTF-16 text: count the decodable part.
                line: {
                    let part = decode_with(&body[..at - at % 2], e).unwrap_or_default();
                    crate::read::csv::count_lines(part.as_bytes()) + 1
                },
                message: format!("not valid {enc} ({what}); save the file again as Unicode text or UTF-8"),
            })?)
        }
        TextEncoding::Gbk | TextEncoding::Gb18030 => {
            Cow::Owned(decode_with(body, encoding_rs::GB18030).map_err(|(at, what)| {
                if how == EncodingSource::NotUtf8 {
                    // Neither: name where UTF-8 failed (most files are mostly UTF-8).
                    let at = std::str::from_utf8(body).err().map_or(at, |e| e.valid_up_to());
                    DecodeError {
                        line: line_at(bytes, offset + at),
                        message: format!(
                            "not valid UTF-8, nor GB18030/GBK (byte 0x{:02x}); save the file as UTF-8 (Excel: CSV UTF-8) or name its encoding",
                            body.get(at).copied().unwrap_or(0)
                        ),
                    }
                } else {
                    DecodeError {
                        line: line_at(bytes, offset + at),
                        message: format!("not valid {enc} ({what}); check the encoding, or save the file as UTF-8"),
                    }
                }
            })?)
        }
    };
    Ok(Decoded {
        text,
        encoding: enc,
        how,
    })
}

/// The delimiter of the header line: a tab if it has more tabs than
/// commas, else a comma.
pub(crate) fn detect_delimiter(text: &str) -> u8 {
    let line = text
        .split(['\n', '\r'])
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let tabs = line.bytes().filter(|b| *b == b'\t').count();
    let commas = line.bytes().filter(|b| *b == b',').count();
    if tabs > commas {
        b'\t'
    } else {
        b','
    }
}

/// The kind of workbook the bytes (or the file name) say, if any.
pub(crate) fn workbook_kind(bytes: &[u8], file_name: &str) -> Option<&'static str> {
    let lower = file_name.to_ascii_lowercase();
    if bytes.starts_with(b"PK\x03\x04") {
        Some(if lower.ends_with(".ods") {
            "ods"
        } else {
            "xlsx"
        })
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("xls")
    } else if [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        // Named like a workbook but not one: read as a workbook to say so.
        Some("xlsx")
    } else {
        None
    }
}
