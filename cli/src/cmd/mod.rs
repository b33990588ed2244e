//! One module per command group.

pub mod keys;
pub mod ledger;
pub mod rank;
pub mod rules;
