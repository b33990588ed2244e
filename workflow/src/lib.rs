//! `rankproof-workflow`: the product's verbs as a library, over one open
//! ledger. No clap, no printing, no environment, no key files: a front end
//! (the `rankproof` command line, later a server) parses, calls and renders.
//!
//! - [`body`]: typed bodies of the workflow entries (FORMAT.md §11);
//! - [`catalog`]: the typed state folded from a log, and the rules the
//!   writer and the verifier share;
//! - [`log`]: a read-only [`LogSource`] over a ledger or a verified bundle;
//! - [`flow`]: [`View`] (read verbs) and [`Workflow`] (write verbs);
//! - [`results`]: the results tree (salts, salted leaves, root, receipts);
//! - [`resultdoc`]: a typed view of a stored result document;
//! - [`replay`]: typed replay mismatches;
//! - [`error`]: [`WorkflowError`] and its [`ErrorClass`];
//! - [`time`]: the informative UTC time of new entries.
//!
//! ```
//! use rankproof_ledger::{Ledger, MemStorage, Role, SecretKey};
//! use rankproof_workflow::{RulesOutcome, Workflow};
//!
//! let log = SecretKey::generate("example.org/ledger").unwrap();
//! let admin = SecretKey::generate("admin").unwrap();
//! let hr = SecretKey::generate("hr").unwrap();
//! let mut ledger =
//!     Ledger::create(MemStorage::new(), "example.org/ledger", &log, &[admin.verifier().clone()])
//!         .unwrap();
//! ledger.grant(hr.verifier(), Role::Hr, &admin).unwrap();
//! let mut wf = Workflow::open(ledger).unwrap();
//! // A package without test cases is refused, and nothing is written.
//! let mut files = std::collections::BTreeMap::new();
//! files.insert("package.toml".to_string(), b"not a manifest".to_vec());
//! assert!(wf.publish_rules(files, &hr).is_err());
//! assert_eq!(wf.entries().len(), 2);
//! assert!(wf.catalog().packages().next().is_none());
//! # let _ = RulesOutcome::AlreadyPublished { seq: 0, id: String::new() };
//! ```

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod arithmetic;
pub mod body;
pub mod catalog;
pub mod error;
pub mod flow;
pub mod log;
pub mod replay;
pub mod resultdoc;
pub mod results;
pub mod time;

pub use arithmetic::{check_arithmetic, Arithmetic};
pub use body::{
    Body, EngineInfo, FileInfo, HexHash, InputRecord, InputRef, RankingPublish, RulesPublish,
    RulesRef,
};
pub use catalog::{Catalog, InputRecordEntry, PackageRecord, RankingRecord, TimeWarning};
pub use error::{ClaimProblem, ErrorClass, Result, WorkflowError};
pub use flow::{
    cases_problem, AuditReport, Checked, Described, DryRank, Explained, Materials, PublishOutcome,
    RecordOutcome, RecordRequest, ReplayReport, RulesOutcome, StaffReceipt, Supersede, View,
    Workflow,
};
pub use log::{BundleLog, LogSource};
pub use replay::Mismatch;
pub use resultdoc::{Dimension, Explanation, GradeRow, Header, ResultDoc, StaffRecord, Term};
pub use results::{verify_receipt, PublishedResults, ReceiptView, Salts, SALTS_FORMAT};
pub use time::{Clock, FixedClock, SystemClock, Timestamp};
