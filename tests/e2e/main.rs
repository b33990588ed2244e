//! End-to-end tests: drive the real `rankproof` binary on real files and a
//! real sled ledger. One test binary, one module per journey.

mod authoring;
mod crash;
mod engine_cmds;
mod files;
mod hostile;
mod independent;
mod keys;
mod ledger_cmds;
mod snapshots;
mod support;
mod tamper;
mod workflow;
