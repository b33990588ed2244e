//! One module per command group: parse (clap structs), call the workflow,
//! render. No command module imports another.

pub mod demo;
pub mod input;
pub mod keys;
pub mod ledger;
pub mod rank;
pub mod ranking;
pub mod receipt;
pub mod replay;
pub mod rules;
