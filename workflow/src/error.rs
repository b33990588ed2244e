//! One error model for every verb: a typed error whose [`ErrorClass`]
//! alone decides what a front end does with it (the command line maps the
//! class to its exit status).

use rankproof_engine::{DatasetError, EvalError, RuleError};
use rankproof_ledger::receipt::ReceiptError;
use rankproof_ledger::{LedgerError, StorageError, VerifyError};

use crate::replay::Mismatch;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The data is wrong: a verification failed, a replay did not match, a
    /// signed claim is false, a stored value was tampered with.
    Finding,
    /// The request cannot be carried out as given (bad arguments, bad input
    /// file, a refused publish); nothing was written.
    BadInput,
    /// The environment failed (storage, a file that cannot be read, the
    /// ledger in use by another process); nothing was written.
    Environment,
}

/// A false or inconsistent claim of a signed workflow entry, found by the
/// catalog fold (the same rules the writer applies).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {seq} ({kind}): {claim}")]
pub struct ClaimProblem {
    /// The entry making the claim.
    pub seq: u64,
    /// Its kind, e.g. `ranking.publish`.
    pub kind: &'static str,
    /// What is false, naming the member and the entry it cites.
    pub claim: String,
}

/// Why a workflow verb failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkflowError {
    /// The ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Whole-log verification failed.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// A bundle could not be verified or read.
    #[error("{source}")]
    Bundle {
        /// The bundle directory.
        dir: String,
        /// Why.
        source: VerifyError,
    },
    /// A rule package does not load.
    #[error(transparent)]
    Rules(#[from] RuleError),
    /// A dataset does not parse against its schema.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// A dataset file has problems (every one found, capped).
    #[error(transparent)]
    DatasetProblems(#[from] rankproof_engine::DatasetProblems),
    /// The new dataset disagrees with the other sources of its period.
    #[error("{0}")]
    CrossSource(rankproof_engine::CrossProblems),
    /// Evaluation failed.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A receipt does not verify.
    #[error("receipt: {0}")]
    Receipt(#[from] ReceiptError),
    /// A signed entry's claim is false (verify, replay and the writer share
    /// these rules).
    #[error(transparent)]
    Claim(#[from] ClaimProblem),
    /// Several claims are false.
    #[error("{} false claim(s) in the log; the first: {}", .0.len(), .0.first().map(ToString::to_string).unwrap_or_default())]
    Claims(Vec<ClaimProblem>),
    /// Replayed rankings differ from the published ones.
    #[error("{} ranking(s) did not replay to the published result", .0.len())]
    Mismatch(Vec<(u64, Vec<Mismatch>)>),
    /// A stored value (blob, body member) is not what the log says it is.
    #[error("{0}")]
    Tampered(String),
    /// The request is refused as given; the message says how to fix it.
    #[error("{0}")]
    Refused(String),
    /// Something named does not exist; the message says what does.
    #[error("{0}")]
    NotFound(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl WorkflowError {
    /// The class of this error (decides the exit status).
    pub fn class(&self) -> ErrorClass {
        use ErrorClass::*;
        match self {
            WorkflowError::Ledger(e) => ledger_class(e),
            WorkflowError::Verify(e) => match e {
                VerifyError::Read(_) => Environment,
                _ => Finding,
            },
            WorkflowError::Bundle { source, .. } => match source {
                VerifyError::Read(_) => Environment,
                _ => Finding,
            },
            WorkflowError::Receipt(_)
            | WorkflowError::Claim(_)
            | WorkflowError::Claims(_)
            | WorkflowError::Mismatch(_)
            | WorkflowError::Tampered(_) => Finding,
            WorkflowError::Rules(_)
            | WorkflowError::Dataset(_)
            | WorkflowError::DatasetProblems(_)
            | WorkflowError::CrossSource(_)
            | WorkflowError::Eval(_)
            | WorkflowError::Refused(_)
            | WorkflowError::NotFound(_) => BadInput,
            WorkflowError::Io { .. } => Environment,
        }
    }

    /// A refusal (bad input) with a message.
    pub fn refused(msg: impl Into<String>) -> WorkflowError {
        WorkflowError::Refused(msg.into())
    }

    /// A tampered stored value (a finding).
    pub fn tampered(msg: impl Into<String>) -> WorkflowError {
        WorkflowError::Tampered(msg.into())
    }
}

/// The class of a ledger error: a store whose data does not add up is a
/// finding; storage trouble is the environment; the rest is a refusal.
pub fn ledger_class(e: &LedgerError) -> ErrorClass {
    match e {
        LedgerError::Storage(StorageError::InUse(_)) | LedgerError::Storage(_) => {
            ErrorClass::Environment
        }
        LedgerError::Corrupt(_) | LedgerError::Note(_) | LedgerError::Proof(_) => {
            ErrorClass::Finding
        }
        _ => ErrorClass::BadInput,
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = WorkflowError> = std::result::Result<T, E>;
