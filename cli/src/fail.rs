//! Outcomes decide exit statuses here and only here: a failure carries
//! the [`ErrorClass`] of what went wrong, and the class alone chooses the
//! status (0 success, 1 a finding, 2 bad usage or input, 3 the
//! environment). A closed stdout is a quiet exit.

use std::fmt;
use std::io;
use std::process::ExitCode;

use rankproof_ledger::LedgerError;
use rankproof_workflow::{ErrorClass, WorkflowError};

/// A command's failure.
#[derive(Debug)]
pub struct Failure {
    /// What kind of failure (decides the exit status).
    pub class: ErrorClass,
    /// What to tell the user (with the hint how to fix it).
    pub message: String,
    /// stdout was closed by the reader: exit quietly.
    pub closed_pipe: bool,
}

/// A command's result.
pub type CmdResult<T = ()> = Result<T, Failure>;

impl Failure {
    /// A failure of `class`.
    pub fn new(class: ErrorClass, message: impl fmt::Display) -> Failure {
        Failure {
            class,
            message: message.to_string(),
            closed_pipe: false,
        }
    }
}

/// Bad usage or input (exit 2).
pub fn bad(message: impl fmt::Display) -> Failure {
    Failure::new(ErrorClass::BadInput, message)
}

/// A finding (exit 1).
pub fn finding(message: impl fmt::Display) -> Failure {
    Failure::new(ErrorClass::Finding, message)
}

/// The environment failed (exit 3).
pub fn env(message: impl fmt::Display) -> Failure {
    Failure::new(ErrorClass::Environment, message)
}

impl From<WorkflowError> for Failure {
    fn from(e: WorkflowError) -> Self {
        Failure::new(e.class(), &e)
    }
}

impl From<LedgerError> for Failure {
    fn from(e: LedgerError) -> Self {
        WorkflowError::from(e).into()
    }
}

impl From<io::Error> for Failure {
    /// Writing output failed: a closed pipe is quiet, the rest is the
    /// environment.
    fn from(e: io::Error) -> Self {
        let mut f = env(format!("cannot write to stdout: {e}"));
        f.closed_pipe = e.kind() == io::ErrorKind::BrokenPipe;
        f
    }
}

/// Return a bad-input failure (exit 2) from a command.
macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err($crate::fail::bad(format!($($arg)*)))
    };
}
pub(crate) use refuse;

/// Print the failure, if any, on stderr and choose the exit status.
pub fn report(result: CmdResult) -> ExitCode {
    let Err(f) = result else {
        return ExitCode::SUCCESS;
    };
    if f.closed_pipe {
        // As for any Unix tool whose reader went away (`rankproof log | head`).
        return ExitCode::from(141);
    }
    let (prefix, code) = match f.class {
        ErrorClass::Finding => ("verification failed", 1),
        ErrorClass::Environment => ("error", 3),
        _ => ("error", 2),
    };
    // Messages may quote names from files and the ledger: escape terminal
    // controls line by line.
    let message: Vec<String> = f
        .message
        .lines()
        .map(|l| crate::render::safe(l).into_owned())
        .collect();
    eprintln!("rankproof: {prefix}: {}", message.join("\n"));
    ExitCode::from(code)
}
