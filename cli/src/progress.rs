//! Progress lines for long work, on stderr and only when stderr is a
//! terminal (so pipes, files and tests see nothing extra).

use std::io::IsTerminal;
use std::time::Instant;

/// A phase of long work: says what starts, and on drop how long it took.
pub struct Phase {
    what: String,
    start: Instant,
    shown: bool,
}

impl Phase {
    /// Start a phase; prints `… what` when stderr is a terminal.
    pub fn start(what: impl Into<String>) -> Phase {
        let what = what.into();
        let shown = std::io::stderr().is_terminal();
        if shown {
            eprintln!("… {what}");
        }
        Phase {
            what,
            start: Instant::now(),
            shown,
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        if self.shown {
            eprintln!(
                "  done: {} ({:.1} s)",
                self.what,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}
