//! One module per command group.

pub mod demo;
pub mod flow;
pub mod keys;
pub mod ledger;
pub mod rank;
pub mod receipt;
pub mod rules;
pub mod workflow;
