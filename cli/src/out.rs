//! One buffered stdout for every command. Every write returns an
//! `io::Result`; a closed pipe becomes a quiet exit in `fail::report`.

use std::fs::File;
use std::io::{self, BufWriter, Stdout, Write};

/// The command's output.
pub struct Out {
    w: BufWriter<Sink>,
}

/// Where the buffered bytes go: a duplicate of the stdout descriptor when
/// one can be had, else the standard library's `Stdout`.
///
/// `Stdout` is line-buffered: every write it is handed (here, each 64 KiB
/// the `BufWriter` passes on, and each ~800 KB piece of a result document)
/// is first searched backwards for a newline, and a one-line JSON document
/// has none, so the whole of it was scanned for nothing (2 % of a dry run's
/// CPU). `Out` is the only writer to stdout (no `print!` anywhere), so
/// writing to the descriptor directly changes no byte and no order.
enum Sink {
    Fd(File),
    Std(Stdout),
}

impl Sink {
    fn new() -> Sink {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
                return Sink::Fd(File::from(fd));
            }
        }
        Sink::Std(io::stdout())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Fd(f) => f.write(buf),
            Sink::Std(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Fd(f) => f.flush(),
            Sink::Std(s) => s.flush(),
        }
    }
}

/// The pipe buffer asked for when stdout is a pipe: Linux's default
/// ceiling for an unprivileged process (`/proc/sys/fs/pipe-max-size`).
#[cfg(target_os = "linux")]
const PIPE_BYTES: usize = 1 << 20;

/// Widen stdout's pipe, if it is one, from the kernel's default 64 KiB to
/// [`PIPE_BYTES`]. A result document is written in pieces of about 800 KB;
/// through a 64 KiB pipe each piece takes a dozen turns of writer and
/// reader, and on two cores passing a 1.5 GB document to the reader cost
/// more than computing it. Nothing changes if stdout is not a pipe or the
/// kernel refuses (a lower ceiling): the bytes are the same either way.
#[cfg(target_os = "linux")]
fn widen_pipe() {
    let out = io::stdout();
    if let Ok(size) = rustix::pipe::fcntl_getpipe_size(&out) {
        if size < PIPE_BYTES {
            let _ = rustix::pipe::fcntl_setpipe_size(&out, PIPE_BYTES);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe() {}

impl Out {
    /// Buffered stdout (its pipe widened, see [`widen_pipe`]).
    pub fn stdout() -> Out {
        widen_pipe();
        Out {
            w: BufWriter::with_capacity(1 << 16, Sink::new()),
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
