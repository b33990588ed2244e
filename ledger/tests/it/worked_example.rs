//! The worked example of FORMAT.md, pinned: fixed seeds make every byte
//! deterministic (Ed25519 signatures are deterministic).

use ed25519_dalek::SigningKey;
use rankproof_ledger::merkle;
use rankproof_ledger::{Kind, Ledger, MemStorage, Role, SecretKey};
use serde_json::json;

use crate::body;

pub fn example() -> (Ledger<MemStorage>, SecretKey, SecretKey, SecretKey) {
    let log = SecretKey::from_signing_key("example.org/ledger", SigningKey::from_bytes(&[1u8; 32]))
        .unwrap();
    let admin = SecretKey::from_signing_key("admin", SigningKey::from_bytes(&[2u8; 32])).unwrap();
    let hr = SecretKey::from_signing_key("hr", SigningKey::from_bytes(&[3u8; 32])).unwrap();
    let mut l = Ledger::create(
        MemStorage::new(),
        "example.org/ledger",
        &log,
        &[admin.verifier().clone()],
    )
    .unwrap();
    l.grant(hr.verifier(), Role::Hr, &admin).unwrap();
    l.append(
        Kind::RulesPublish,
        body(json!({"name": "marketing", "version": "1.0.0"})),
        vec![b"hello\n".to_vec().into()],
        &hr,
    )
    .unwrap();
    (l, log, admin, hr)
}

#[test]
fn worked_example_bytes() {
    let (l, log, admin, hr) = example();
    let mut out = String::new();
    out += &format!("log vkey: {}\n", log.verifier());
    out += &format!("admin vkey: {}\n", admin.verifier());
    out += &format!("admin secret: {}\n", admin.to_secret_text());
    out += &format!("hr vkey: {}\n", hr.verifier());
    for seq in 0..l.len() {
        let e = l.entry(seq).unwrap().unwrap();
        out += &format!(
            "entry {seq}: {}\n",
            String::from_utf8(e.bytes().to_vec()).unwrap()
        );
        out += &format!(
            "signed {seq}: {}\n",
            String::from_utf8(e.signing_bytes().unwrap())
                .unwrap()
                .escape_debug()
        );
        out += &format!("leaf {seq}: {}\n", e.leaf_hash());
    }
    let leaves: Vec<_> = (0..3).map(|s| l.leaf_hash(s).unwrap()).collect();
    out += &format!(
        "node(0,1): {}\n",
        rankproof_ledger::node_hash(&leaves[0], &leaves[1])
    );
    out += &format!("root: {} {}\n", l.root(), l.root().to_base64());
    assert_eq!(l.root(), merkle::root(&leaves));
    out += &format!("checkpoint:\n{}", l.checkpoint().to_text());
    out += &format!("tlog-proof:\n{}", l.tlog_proof(1, None).unwrap().to_text());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/worked_example.txt");
    if std::env::var_os("RANKPROOF_BLESS").is_some() {
        std::fs::write(path, &out).unwrap();
    }
    let pinned = std::fs::read_to_string(path).unwrap();
    assert_eq!(out, pinned);
}
