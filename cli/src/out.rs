//! One buffered stdout for every command. Every write returns an
//! `io::Result`; a closed pipe becomes a quiet exit in `fail::report`.

use std::io::{self, BufWriter, Stdout, Write};

/// The command's output.
pub struct Out {
    w: BufWriter<Stdout>,
}

impl Out {
    /// Buffered stdout.
    pub fn stdout() -> Out {
        Out {
            w: BufWriter::with_capacity(1 << 16, io::stdout()),
        }
    }

    /// Write text.
    pub fn text(&mut self, s: &str) -> io::Result<()> {
        self.w.write_all(s.as_bytes())
    }

    /// Write a line.
    pub fn line(&mut self, s: impl AsRef<str>) -> io::Result<()> {
        self.w.write_all(s.as_ref().as_bytes())?;
        self.w.write_all(b"\n")
    }

    /// Write bytes.
    pub fn bytes(&mut self, b: &[u8]) -> io::Result<()> {
        self.w.write_all(b)
    }

    /// Pretty JSON and a newline.
    pub fn json(&mut self, v: &serde_json::Value) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.w, v)?;
        self.w.write_all(b"\n")
    }

    /// The writer (streamed documents).
    pub fn writer(&mut self) -> &mut dyn Write {
        &mut self.w
    }

    /// Flush.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}
