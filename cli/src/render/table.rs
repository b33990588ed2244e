//! Terminal tables aligned for CJK text (display width, not byte or char count).

use unicode_width::UnicodeWidthStr;

/// Horizontal alignment of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A plain-text table: a header row, a rule, then the rows; columns are
/// separated by two spaces and padded to their widest cell's display width
/// (East Asian wide characters count as 2).
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    aligns: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers, every column left-aligned.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Table {
        let headers: Vec<String> = headers.into_iter().map(Into::into).collect();
        let aligns = vec![Align::Left; headers.len()];
        Table {
            headers,
            aligns,
            rows: Vec::new(),
        }
    }

    /// Right-align the given columns (by index), e.g. numbers.
    pub fn right(mut self, cols: &[usize]) -> Table {
        for &c in cols {
            if let Some(a) = self.aligns.get_mut(c) {
                *a = Align::Right;
            }
        }
        self
    }

    /// Add a row (missing cells are blank, extra cells are dropped).
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut r: Vec<String> = cells.into_iter().map(Into::into).collect();
        r.resize(self.headers.len(), String::new());
        self.rows.push(r);
    }

    /// Render with a trailing newline after every line.
    pub fn render(&self) -> String {
        self.render_with(true)
    }

    /// Render without the rule under the headers.
    pub fn render_plain(&self) -> String {
        self.render_with(false)
    }

    fn render_with(&self, rule_line: bool) -> String {
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.width()).collect();
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.width());
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.width());
                let last = i + 1 == n;
                match self.aligns[i] {
                    Align::Right => {
                        s.push_str(&" ".repeat(pad));
                        s.push_str(c);
                    }
                    Align::Left => {
                        s.push_str(c);
                        if !last {
                            s.push_str(&" ".repeat(pad));
                        }
                    }
                }
                if !last {
                    s.push_str("  ");
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        if rule_line {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            line(&rule, &mut out);
        }
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_display_width() {
        let mut t = Table::new(["name", "score"]).right(&[1]);
        t.row(["张三", "87.5"]);
        t.row(["Li", "100"]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "name  score");
        assert_eq!(lines[1], "----  -----");
        assert_eq!(lines[2], "张三   87.5");
        assert_eq!(lines[3], "Li      100");
        for l in &lines {
            assert_eq!(l.width(), 11, "{l}");
        }
    }
}
