//! Integration tests of the ledger crate: one binary, one module per theme.

#![allow(clippy::unwrap_used)] // tests unwrap freely

mod authz;
mod bundle_lines;
mod fuzz_seeds;
mod hardening;
mod model;
mod powerloss;
mod proofs;
mod tamper;
mod vectors;
mod worked_example;

use rankproof_ledger::{Kind, Ledger, MemStorage, Role, SecretKey, Storage};
use serde_json::{json, Map, Value};

pub const ORIGIN: &str = "test.example/ledger";

/// A ledger with one key per role.
pub struct Fixture<S: Storage> {
    pub log: SecretKey,
    pub admin: SecretKey,
    pub hr: SecretKey,
    pub steward: SecretKey,
    pub operator: SecretKey,
    pub reviewer: SecretKey,
    pub ledger: Ledger<S>,
}

pub fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("body must be an object"),
    }
}

pub fn fixture_on<S: Storage>(storage: S) -> Fixture<S> {
    let log = SecretKey::generate(ORIGIN).unwrap();
    let admin = SecretKey::generate("admin").unwrap();
    let hr = SecretKey::generate("hr").unwrap();
    let steward = SecretKey::generate("steward").unwrap();
    let operator = SecretKey::generate("operator").unwrap();
    let reviewer = SecretKey::generate("reviewer").unwrap();
    let mut ledger = Ledger::create(storage, ORIGIN, &log, &[admin.verifier().clone()]).unwrap();
    ledger.grant(hr.verifier(), Role::Hr, &admin).unwrap();
    ledger
        .grant(steward.verifier(), Role::Steward, &admin)
        .unwrap();
    ledger
        .grant(operator.verifier(), Role::Operator, &admin)
        .unwrap();
    ledger
        .grant(reviewer.verifier(), Role::Reviewer, &admin)
        .unwrap();
    Fixture {
        log,
        admin,
        hr,
        steward,
        operator,
        reviewer,
        ledger,
    }
}

pub fn fixture() -> Fixture<MemStorage> {
    fixture_on(MemStorage::new())
}

impl<S: Storage> Fixture<S> {
    /// Append a few entries of every kind, with blobs.
    pub fn populate(&mut self) {
        let l = &mut self.ledger;
        l.append(
            Kind::RulesPublish,
            body(json!({"name": "marketing", "version": "1.0.0"})),
            vec![
                b"rules package".to_vec().into(),
                b"weights.rhai".to_vec().into(),
            ],
            &self.hr,
        )
        .unwrap();
        l.append(
            Kind::InputRecord,
            body(json!({"period": "2025-03", "source": "crm", "rows": 3})),
            vec!["staff_id,sales\nS1,100\n销售,200\n"
                .as_bytes()
                .to_vec()
                .into()],
            &self.steward,
        )
        .unwrap();
        l.append(
            Kind::RankingPublish,
            body(json!({"period": "2025-03", "n": 3})),
            vec![b"results".to_vec().into()],
            &self.operator,
        )
        .unwrap();
        l.append(
            Kind::AppealFile,
            body(json!({"ranking": 7, "staff": "S1"})),
            vec![],
            &self.reviewer,
        )
        .unwrap();
        l.append(
            Kind::CalibrationAdjust,
            body(json!({"ranking": 7, "staff": "S1", "before": "B", "after": "A"})),
            vec![b"rules package".to_vec().into()],
            &self.reviewer,
        )
        .unwrap();
    }
}
