//! Exit statuses: 0 success, 1 a finding (verification failure, replay
//! mismatch), 2 bad usage or bad input (nothing written).

use std::process::ExitCode;

/// A command's failure, with the exit status it maps to.
#[derive(Debug)]
pub enum Failure {
    /// Verification failed or a replay did not match: exit 1.
    Finding(anyhow::Error),
    /// Bad usage or bad input; nothing was written: exit 2.
    BadInput(anyhow::Error),
}

pub type CmdResult = Result<(), Failure>;

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure::BadInput(e.into())
    }
}

/// Wrap an error as a finding (exit 1).
pub fn finding(e: impl Into<anyhow::Error>) -> Failure {
    Failure::Finding(e.into())
}

/// Print the failure, if any, on stderr and choose the exit status.
pub fn report(result: CmdResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Finding(e)) => {
            eprintln!("rankproof: verification failed: {e:#}");
            ExitCode::from(1)
        }
        Err(Failure::BadInput(e)) => {
            eprintln!("rankproof: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Return a bad-input failure (exit 2) from a command.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err(anyhow::anyhow!($($arg)*).into())
    };
}
pub(crate) use fail;
