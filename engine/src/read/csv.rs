//! A CSV tokenizer over decoded text (RFC 4180 quoting) that knows the
//! line of every record and field for LF, CRLF and CR line endings and for
//! quoted fields that span lines. Fields borrow from the text unless they
//! contain a doubled quote.

use std::borrow::Cow;

/// Lines ended in `bytes`: each `\n`, each `\r` not followed by `\n`.
pub(crate) fn count_lines(bytes: &[u8]) -> u64 {
    // Without a `\r` every line ends in `\n`: a count the compiler vectorises.
    if !bytes.contains(&b'\r') {
        return bytes.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let mut n = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => n += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => n += 1,
            _ => {}
        }
        i += 1;
    }
    n
}

/// One field: its text (untrimmed) and the line it starts on.
pub(crate) struct Field<'a> {
    pub text: Cow<'a, str>,
    pub line: u64,
}

/// A malformed record: the line and what is wrong.
#[derive(Debug)]
pub(crate) struct TokenError {
    pub line: u64,
    pub message: String,
}

pub(crate) struct Tokenizer<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    delim: u8,
}

impl<'a> Tokenizer<'a> {
    pub fn new(text: &'a str, delim: u8) -> Self {
        Tokenizer {
            text,
            pos: 0,
            line: 1,
            delim,
        }
    }

    /// Consume a line ending at `pos`, if any.
    fn eol(&mut self) -> bool {
        let b = self.text.as_bytes();
        match b.get(self.pos) {
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                true
            }
            Some(b'\r') => {
                self.pos += 1;
                if b.get(self.pos) == Some(&b'\n') {
                    self.pos += 1;
                }
                self.line += 1;
                true
            }
            _ => false,
        }
    }

    /// The next record's fields into `out` (cleared first) and the line it
    /// starts on; `None` at the end. Blank lines are skipped.
    pub fn next_record(&mut self, out: &mut Vec<Field<'a>>) -> Result<Option<u64>, TokenError> {
        out.clear();
        let b = self.text.as_bytes();
        while self.pos < b.len() && self.eol() {}
        if self.pos >= b.len() {
            return Ok(None);
        }
        let start_line = self.line;
        loop {
            let field_line = self.line;
            if b.get(self.pos) == Some(&b'"') {
                let open_line = self.line;
                self.pos += 1;
                let start = self.pos;
                let mut owned: Option<String> = None;
                let mut seg = start;
                loop {
                    match b.get(self.pos) {
                        None => {
                            return Err(TokenError {
                                line: open_line,
                                message: "a quoted field is never closed; add the closing `\"`"
                                    .into(),
                            })
                        }
                        Some(b'"') if b.get(self.pos + 1) == Some(&b'"') => {
                            let o = owned.get_or_insert_with(String::new);
                            o.push_str(&self.text[seg..=self.pos]);
                            self.pos += 2;
                            seg = self.pos;
                        }
                        Some(b'"') => break,
                        Some(b'\n') => {
                            self.pos += 1;
                            self.line += 1;
                        }
                        Some(b'\r') => {
                            self.pos += 1;
                            if b.get(self.pos) != Some(&b'\n') {
                                self.line += 1;
                            }
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                let text = match owned {
                    Some(mut o) => {
                        o.push_str(&self.text[seg..self.pos]);
                        Cow::Owned(o)
                    }
                    None => Cow::Borrowed(&self.text[start..self.pos]),
                };
                self.pos += 1; // the closing quote
                               // Only spaces may follow a closing quote before the delimiter.
                while matches!(b.get(self.pos), Some(b' ')) {
                    self.pos += 1;
                }
                out.push(Field {
                    text,
                    line: field_line,
                });
                match b.get(self.pos) {
                    None => return Ok(Some(start_line)),
                    Some(&c) if c == self.delim => self.pos += 1,
                    Some(b'\n' | b'\r') => {
                        self.eol();
                        return Ok(Some(start_line));
                    }
                    Some(_) => {
                        return Err(TokenError {
                            line: self.line,
                            message: "text after a closing quote; quote the whole field and double any `\"` inside it".into(),
                        })
                    }
                }
            } else {
                let start = self.pos;
                while let Some(&c) = b.get(self.pos) {
                    if c == self.delim || c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
                out.push(Field {
                    text: Cow::Borrowed(&self.text[start..self.pos]),
                    line: field_line,
                });
                match b.get(self.pos) {
                    None => return Ok(Some(start_line)),
                    Some(&c) if c == self.delim => self.pos += 1,
                    _ => {
                        self.eol();
                        return Ok(Some(start_line));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Vec<(u64, Vec<(String, u64)>)> {
        let mut t = Tokenizer::new(text, b',');
        let mut out = Vec::new();
        let mut f = Vec::new();
        while let Some(line) = t.next_record(&mut f).ok().flatten() {
            out.push((
                line,
                f.iter().map(|x| (x.text.to_string(), x.line)).collect(),
            ));
        }
        out
    }

    #[test]
    fn lines_for_every_ending_and_multiline_cells() {
        for eol in ["\n", "\r\n", "\r"] {
            let text = format!("a,b{eol}1,2{eol}{eol}\"x{eol}y\",3{eol}4,\"q\"\"\"{eol}");
            let r = records(&text);
            assert_eq!(r.len(), 4, "{eol:?}");
            assert_eq!(r[0].0, 1);
            assert_eq!(r[1].0, 2);
            assert_eq!(r[2].0, 4, "{eol:?}");
            assert_eq!(r[2].1[0].0, format!("x{eol}y"));
            assert_eq!(
                r[2].1[1].1, 5,
                "the field after a two-line cell is on line 5"
            );
            assert_eq!(r[3].0, 6, "{eol:?}");
            assert_eq!(r[3].1[1].0, "q\"");
            assert_eq!(count_lines(text.as_bytes()), 6);
        }
    }

    #[test]
    fn malformed_quotes_name_their_line() {
        let mut t = Tokenizer::new("a,b\n1,\"open\n2,3\n", b',');
        let mut f = Vec::new();
        assert!(t.next_record(&mut f).unwrap().is_some());
        let e = t.next_record(&mut f).err().unwrap();
        assert_eq!(e.line, 2);
        let mut t = Tokenizer::new("a\r\n\"x\"y\r\n", b',');
        assert!(t.next_record(&mut f).unwrap().is_some());
        assert_eq!(t.next_record(&mut f).err().unwrap().line, 2);
        let mut t = Tokenizer::new("a,b", b',');
        assert!(t.next_record(&mut f).unwrap().is_some());
        assert_eq!(f.len(), 2);
        assert!(t.next_record(&mut f).unwrap().is_none());
    }
}
