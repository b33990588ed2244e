//! Authorization: wrong role, revoked key, unknown key; nothing written.

use rankproof_ledger::{
    AuthError, Kind, Ledger, LedgerError, MemStorage, Role, SecretKey, Storage,
};
use serde_json::json;

use crate::{body, fixture};

fn snapshot<S: Storage>(l: &Ledger<S>) -> (u64, String, Vec<Vec<u8>>) {
    (
        l.len(),
        l.checkpoint().to_text(),
        (0..l.len()).map(|s| l.entry_bytes(s).unwrap()).collect(),
    )
}

fn refused(r: Result<rankproof_ledger::AppendedEntry, LedgerError>) -> AuthError {
    match r {
        Err(LedgerError::Unauthorized(e)) => e,
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[test]
fn wrong_role_is_refused_and_nothing_written() {
    let mut f = fixture();
    let before = snapshot(&f.ledger);
    let e = refused(f.ledger.append(
        Kind::RankingPublish,
        body(json!({"period": "2025-03"})),
        vec![b"blob that must not be stored".to_vec().into()],
        &f.hr,
    ));
    assert!(
        matches!(
            e,
            AuthError::MissingRole {
                role: Role::Operator,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(snapshot(&f.ledger), before);
    let h = rankproof_ledger::Hash::of(b"blob that must not be stored");
    assert_eq!(f.ledger.blob(&h).unwrap(), None);
    // Admins cannot publish rules either, and HR cannot grant.
    refused(
        f.ledger
            .append(Kind::RulesPublish, body(json!({})), vec![], &f.admin),
    );
    refused(f.ledger.grant(f.hr.verifier(), Role::Admin, &f.hr));
    assert_eq!(snapshot(&f.ledger), before);
    f.ledger.verify(None).unwrap();
}

#[test]
fn unknown_key_is_refused() {
    let mut f = fixture();
    let before = snapshot(&f.ledger);
    let stranger = SecretKey::generate("hr").unwrap();
    let e = refused(
        f.ledger
            .append(Kind::RulesPublish, body(json!({})), vec![], &stranger),
    );
    assert!(matches!(e, AuthError::UnknownSigner(_)), "{e}");
    // The log key signs checkpoints only.
    let log = f.log.clone();
    refused(
        f.ledger
            .append(Kind::RulesPublish, body(json!({})), vec![], &log),
    );
    refused(f.ledger.grant(log.verifier(), Role::Hr, &f.admin));
    assert_eq!(snapshot(&f.ledger), before);
}

#[test]
fn revocation_takes_effect_from_the_next_entry() {
    let mut f = fixture();
    f.ledger
        .append(Kind::RulesPublish, body(json!({"v": 1})), vec![], &f.hr)
        .unwrap();
    let revoke = f.ledger.revoke(f.hr.verifier(), &f.admin).unwrap();
    let before = snapshot(&f.ledger);
    let e = refused(
        f.ledger
            .append(Kind::RulesPublish, body(json!({"v": 2})), vec![], &f.hr),
    );
    assert_eq!(
        e,
        AuthError::Revoked {
            signer: f.hr.verifier().handle(),
            revoked_at: revoke.entry.seq()
        }
    );
    // A revoked key cannot be granted again, nor revoked twice.
    refused(f.ledger.grant(f.hr.verifier(), Role::Hr, &f.admin));
    refused(f.ledger.revoke(f.hr.verifier(), &f.admin));
    assert_eq!(snapshot(&f.ledger), before);
    // A revoked admin can no longer grant.
    let admin2 = SecretKey::generate("admin2").unwrap();
    f.ledger
        .grant(admin2.verifier(), Role::Admin, &f.admin)
        .unwrap();
    f.ledger.revoke(f.admin.verifier(), &admin2).unwrap();
    let e = refused(f.ledger.grant(f.hr.verifier(), Role::Reviewer, &f.admin));
    assert!(matches!(e, AuthError::Revoked { .. }));
    let report = f.ledger.verify(None).unwrap();
    assert_eq!(report.size, f.ledger.len());
    assert!(report
        .registry
        .active_roles(&f.hr.verifier().handle())
        .is_empty());
}

#[test]
fn grant_is_effective_from_the_next_entry_in_a_batch() {
    let mut f = fixture();
    let newbie = SecretKey::generate("newbie").unwrap();
    let seq = f.ledger.len();
    // Granted at `seq`, usable at `seq + 1` in the same batch.
    let out = f
        .ledger
        .append_batch(vec![
            rankproof_ledger::NewEntry {
                kind: Kind::KeyGrant,
                body: rankproof_ledger::registry::grant_body(newbie.verifier(), Role::Steward, seq),
                blobs: vec![],
                signer: &f.admin,
            },
            rankproof_ledger::NewEntry {
                kind: Kind::InputRecord,
                body: body(json!({"period": "2025-04"})),
                blobs: vec![b"csv".to_vec().into()],
                signer: &newbie,
            },
        ])
        .unwrap();
    assert_eq!(out.len(), 2);
    // A batch with one refused entry writes nothing at all.
    let before = snapshot(&f.ledger);
    let r = f.ledger.append_batch(vec![
        rankproof_ledger::NewEntry {
            kind: Kind::InputRecord,
            body: body(json!({"ok": true})),
            blobs: vec![],
            signer: &newbie,
        },
        rankproof_ledger::NewEntry {
            kind: Kind::RankingPublish,
            body: body(json!({})),
            blobs: vec![],
            signer: &newbie,
        },
    ]);
    assert!(matches!(r, Err(LedgerError::Unauthorized(_))));
    assert_eq!(snapshot(&f.ledger), before);
    f.ledger.verify(None).unwrap();
}

#[test]
fn log_key_rules() {
    let storage = MemStorage::new();
    let log = SecretKey::generate("origin.example").unwrap();
    let admin = SecretKey::generate("admin").unwrap();
    assert!(matches!(
        Ledger::create(
            storage.clone(),
            "other.example",
            &log,
            &[admin.verifier().clone()]
        ),
        Err(LedgerError::OriginMismatch { .. })
    ));
    Ledger::create(
        storage.clone(),
        "origin.example",
        &log,
        &[admin.verifier().clone()],
    )
    .unwrap();
    assert!(matches!(
        Ledger::create(
            storage.clone(),
            "origin.example",
            &log,
            &[admin.verifier().clone()]
        ),
        Err(LedgerError::AlreadyInitialized)
    ));
    let mut l = Ledger::open(storage).unwrap();
    let hr = SecretKey::generate("hr").unwrap();
    assert!(matches!(
        l.grant(hr.verifier(), Role::Hr, &admin),
        Err(LedgerError::LogKeyRequired)
    ));
    assert!(matches!(
        l.attach_log_key(SecretKey::generate("origin.example").unwrap()),
        Err(LedgerError::LogKeyMismatch(_))
    ));
    l.attach_log_key(log).unwrap();
    l.grant(hr.verifier(), Role::Hr, &admin).unwrap();
    assert!(matches!(
        l.append(Kind::Genesis, body(json!({})), vec![], &admin),
        Err(LedgerError::GenesisAppend)
    ));
    // Oversized entries are refused.
    let big = "x".repeat(70_000);
    assert!(matches!(
        l.append(Kind::RulesPublish, body(json!({"big": big})), vec![], &hr),
        Err(LedgerError::Entry(rankproof_ledger::EntryError::TooLarge(
            _
        )))
    ));
    l.verify(None).unwrap();
}
