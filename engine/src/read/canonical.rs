//! The fast path for recorded datasets: canonical bytes parsed straight
//! into rows, without a JSON tree. Only the shapes the canonical writer
//! produces are accepted here; whether the bytes are exactly canonical is
//! then checked by writing the dataset again and comparing
//! ([`crate::Dataset::from_canonical`]).

use std::borrow::Cow;

use crate::dataset::{Builder, Cell, DatasetError, Loc, CANONICAL_PREFIX};

struct P<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> P<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }
    fn eat(&mut self, s: &[u8]) -> bool {
        if self.b[self.pos.min(self.b.len())..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        if !self.eat(b"\"") {
            return Err("expected a string".into());
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'"' => {
                    let s = std::str::from_utf8(&self.b[start..self.pos])
                        .map_err(|_| "a string is not valid UTF-8".to_owned())?;
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => return self.escaped(start),
                0..=0x1f => return Err("a raw control character in a string".into()),
                _ => self.pos += 1,
            }
        }
        Err("a string is never closed".into())
    }
    fn escaped(&mut self, start: usize) -> Result<Cow<'a, str>, String> {
        let mut out: Vec<u8> = self.b[start..self.pos].to_vec();
        loop {
            match self.peek() {
                None => return Err("a string is never closed".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out)
                        .map(Cow::Owned)
                        .map_err(|_| "a string is not valid UTF-8".to_owned());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let e = self.peek().ok_or("a string is never closed")?;
                    self.pos += 1;
                    let c: char = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat(b"\\u") {
                                    return Err("a lone surrogate in a string".into());
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err("a lone surrogate in a string".into());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or("a lone surrogate in a string")?
                        }
                        _ => return Err("an unknown escape in a string".into()),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(0..=0x1f) => return Err("a raw control character in a string".into()),
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("a bad \\u escape")?;
        self.pos += 4;
        Ok(h)
    }
    fn int(&mut self) -> Result<i64, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        std::str::from_utf8(&self.b[start..self.pos])
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| "expected a string or an integer".to_owned())
    }
}

/// Parse canonical bytes into `b`'s rows. Structural errors are returned;
/// value problems are collected by the builder.
pub(crate) fn read(b: &mut Builder<'_>, bytes: &[u8]) -> Result<Option<[u8; 32]>, DatasetError> {
    let file = b.file().to_owned();
    let err = |p: &P<'_>, row: usize, m: String| DatasetError::Malformed {
        file: file.clone(),
        at: if row == 0 {
            Loc::Line(1)
        } else {
            Loc::Row(row)
        },
        message: format!(
            "byte {}: {m}; a recorded dataset is stored exactly canonical",
            p.pos
        ),
    };
    let mut p = P { b: bytes, pos: 0 };
    if !p.eat(CANONICAL_PREFIX) {
        return Err(err(&p, 0, "not a canonical dataset".into()));
    }
    let schema = b.schema().clone();
    let labels: Vec<(String, Loc)> = schema
        .columns
        .iter()
        .map(|c| (c.name.clone(), Loc::Row(0)))
        .collect();
    b.header(&labels, Loc::Row(0));
    let n = schema.columns.len();
    let mut row = 0usize;
    let mut cells: Vec<(Cell<'_>, Loc)> = Vec::with_capacity(n);
    if !p.eat(b"]") {
        loop {
            row += 1;
            let at = Loc::Row(row);
            if !p.eat(b"{") {
                return Err(err(&p, row, "expected a row object".into()));
            }
            cells.clear();
            cells.resize_with(n, || (Cell::Empty, at));
            if !p.eat(b"}") {
                loop {
                    let key = p.string().map_err(|m| err(&p, row, m))?;
                    let Some(ci) = schema.column_index(&key) else {
                        return Err(err(
                            &p,
                            row,
                            format!("`{key}` is not a column of source `{}`", schema.source),
                        ));
                    };
                    if !p.eat(b":") {
                        return Err(err(&p, row, "expected `:`".into()));
                    }
                    let cell = if p.peek() == Some(b'"') {
                        Cell::Text(p.string().map_err(|m| err(&p, row, m))?)
                    } else {
                        Cell::Int(p.int().map_err(|m| err(&p, row, m))?)
                    };
                    cells[ci].0 = cell;
                    if p.eat(b",") {
                        continue;
                    }
                    if p.eat(b"}") {
                        break;
                    }
                    return Err(err(&p, row, "expected `,` or `}`".into()));
                }
            }
            b.row(at, &cells);
            if b.has_problems() {
                return Ok(None);
            }
            if p.eat(b",") {
                continue;
            }
            if p.eat(b"]") {
                break;
            }
            return Err(err(&p, row, "expected `,` or `]`".into()));
        }
    }
    // The dataset salt (recorded datasets): 64 lowercase hex digits.
    let mut salt = None;
    if p.eat(b",\"salt\":\"") {
        let digits = p.b.get(p.pos..p.pos + 64).unwrap_or_default();
        let lower = digits
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
        let parsed = hex::decode(digits)
            .ok()
            .and_then(|v| <[u8; 32]>::try_from(v).ok());
        match parsed {
            Some(s) if lower => salt = Some(s),
            _ => return Err(err(&p, 0, "the salt is not 64 lowercase hex digits".into())),
        }
        p.pos += 64;
        if !p.eat(b"\"") {
            return Err(err(&p, 0, "the salt is not 64 lowercase hex digits".into()));
        }
    }
    if !p.eat(b",\"source\":") {
        return Err(err(&p, row, "expected the source".into()));
    }
    let s = p.string().map_err(|m| err(&p, row, m))?;
    if s != schema.source.as_str() {
        return Err(err(
            &p,
            0,
            format!(
                "this dataset is for source {:?}, not `{}`",
                s, schema.source
            ),
        ));
    }
    if !p.eat(b"}") || p.pos != bytes.len() {
        return Err(err(&p, 0, "trailing bytes after the dataset".into()));
    }
    Ok(salt)
}
