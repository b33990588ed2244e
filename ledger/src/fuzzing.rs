//! Entry points for fuzzers and their regression tests.
//!
//! Each function takes arbitrary bytes, runs one decoder of this crate on
//! them and checks the properties that must hold for *every* input: no
//! panic, and where the decoder accepts the input, its round trip. A
//! violated property panics (that is how a fuzzer notices); nothing here is
//! meant for production code paths.
//!
//! The same functions are driven by the cargo-fuzz targets in `fuzz/` and by
//! the stable regression harness in `tests/it/fuzz_seeds.rs`, which replays
//! the committed seeds in `fuzz/seeds/` plus deterministic mutations of them.

use std::sync::OnceLock;

use serde_json::Value;

use crate::entry::Entry;
use crate::keys::VerifierKey;
use crate::note::{Checkpoint, Note, SignedCheckpoint, TlogProof};

/// The log key the `receipt` and `note` targets verify against: the log of
/// the demo ledger the seed receipt and checkpoint were taken from.
pub const LOG_VKEY: &str =
    "demo.rankproof.example/hr-ledger+c5bf1859+AZMgupYmKSqrkKOzR79X3CCTzEUWXw6Corxo4IZQaTCp";

/// [`LOG_VKEY`] parsed once.
pub fn log_key() -> &'static VerifierKey {
    static KEY: OnceLock<VerifierKey> = OnceLock::new();
    KEY.get_or_init(|| match VerifierKey::parse(LOG_VKEY) {
        Ok(k) => k,
        // INVARIANT: LOG_VKEY is a constant, valid verifier key (checked
        // by the regression tests).
        Err(e) => panic!("LOG_VKEY does not parse: {e}"),
    })
}

/// The bundle entry decoder: an entry that parses is exactly canonical, so
/// its bytes are the input; its leaf hash and signing bytes are computable.
pub fn entry(data: &[u8]) {
    let Ok(e) = Entry::parse(data) else { return };
    assert_eq!(e.bytes(), data, "an accepted entry must be its own bytes");
    assert_eq!(e.leaf_hash(), crate::hash::leaf_hash(data));
    // The signing bytes cut out of the canonical bytes are exactly the
    // re-serialized unsigned entry.
    let signing = e.signing_bytes();
    assert!(
        signing.is_ok(),
        "signing bytes of a parsed entry: {signing:?}"
    );
    assert_eq!(signing.ok(), e.unsigned().signing_bytes().ok());
    // Re-parsing the stored bytes gives the same entry.
    assert_eq!(Entry::parse(e.bytes()).ok().as_ref(), Some(&e));
}

/// The C2SP parsers: signed notes, checkpoints (bare text and signed under
/// [`LOG_VKEY`]) and tlog-proofs. Every accepted input re-encodes to itself.
pub fn note(data: &[u8]) {
    if let Ok(n) = Note::parse(data) {
        let text = n.to_text();
        assert_eq!(
            text.as_bytes(),
            data,
            "a parsed note re-encodes to its input"
        );
        assert_eq!(Note::parse(text.as_bytes()).as_ref(), Ok(&n));
        let _ = n.verify(std::slice::from_ref(log_key()));
    }
    if let Ok(cp) = SignedCheckpoint::open(data, log_key()) {
        assert_eq!(cp.to_text().as_bytes(), data);
        assert_eq!(
            Checkpoint::parse_text(cp.note().text()).as_ref(),
            Ok(cp.checkpoint())
        );
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cp) = Checkpoint::parse_text(s) {
        assert_eq!(
            cp.to_text(),
            s,
            "a parsed checkpoint re-encodes to its input"
        );
        assert_eq!(Checkpoint::parse_text(&cp.to_text()).as_ref(), Ok(&cp));
    }
    if let Ok(p) = TlogProof::parse(s) {
        assert_eq!(
            p.to_text(),
            s,
            "a parsed tlog-proof re-encodes to its input"
        );
        assert_eq!(TlogProof::parse(&p.to_text()).as_ref(), Ok(&p));
        let leaf = crate::hash::Hash([0; 32]);
        let _ = p.verify(&leaf, log_key());
    }
}

/// The receipt verifier under [`LOG_VKEY`]: never panics; a receipt it
/// accepts names a `ranking.publish` entry inside the log and a grant chain
/// through at least one admin.
pub fn receipt(data: &[u8]) {
    if let Ok(v) = crate::receipt::verify(data, log_key()) {
        assert_eq!(v.entry.kind(), crate::entry::Kind::RankingPublish);
        assert!(v.log_size > v.entry.seq());
        assert!(!v.admins.is_empty(), "an accepted chain names an admin");
    }
}

/// Canonical JSON (RFC 8785): for any JSON input, canonicalizing is
/// idempotent, the canonical bytes are accepted by
/// [`crate::jcs::parse_canonical`], and `parse_canonical` accepts exactly
/// the inputs that are their own canonical form.
pub fn jcs(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        assert!(crate::jcs::parse_canonical(data).is_err());
        return;
    };
    let Ok(once) = crate::jcs::to_vec(&v) else {
        return;
    };
    let back = crate::jcs::parse_canonical(&once);
    assert!(back.is_ok(), "canonical bytes must be canonical: {back:?}");
    let twice = back.ok().map(|b| crate::jcs::to_vec(&b).ok());
    assert_eq!(
        twice,
        Some(Some(once.clone())),
        "canonicalization is idempotent"
    );
    match crate::jcs::parse_canonical(data) {
        Ok(_) => assert_eq!(once, data, "accepted as canonical but differs from JCS"),
        Err(_) => assert_ne!(once, data, "refused as canonical but equals JCS"),
    }
}
