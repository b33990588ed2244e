//! Issue 9, ledger level: each test is an attack that worked on the code
//! before it (batch signatures, index-based authorization, trusting the
//! genesis, duplicate JSON members, bundle files, last admin, origin-named
//! keys, secret keys echoed, receipts forged with the log key alone).

use std::fs;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::Identity;
use ed25519_dalek::{Signature, SigningKey};
use rankproof_ledger::entry::UnsignedEntry;
use rankproof_ledger::receipt::{self, ReceiptChain, ReceiptError, StaffResult};
use rankproof_ledger::registry::{genesis_body, grant_body, revoke_body};
use rankproof_ledger::verify::{verify_log, EntryProblem};
use rankproof_ledger::{
    bundle, merkle, AuthError, Checkpoint, Entry, Hash, KeyArgError, Kind, Ledger, LedgerError,
    MemStorage, Role, SecretKey, SignedCheckpoint, Storage, VerifierKey, VerifyError,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha512};

use crate::{body, fixture, ORIGIN};

fn seeded(name: &str, seed: u8) -> SecretKey {
    SecretKey::from_signing_key(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
}

/// Entries built by hand (so a test can put anything in them), with the
/// checkpoint the log key signs over them.
struct Log {
    log: SecretKey,
    entries: Vec<Vec<u8>>,
}

impl Log {
    fn new(log: &SecretKey, admins: &[&SecretKey]) -> Log {
        let admins: Vec<VerifierKey> = admins.iter().map(|a| a.verifier().clone()).collect();
        let mut l = Log {
            log: log.clone(),
            entries: Vec::new(),
        };
        let g = UnsignedEntry {
            kind: Kind::Genesis,
            seq: 0,
            prev: Hash::ZERO,
            signer: log.verifier().handle(),
            blobs: vec![],
            body: genesis_body(log.name(), log.verifier(), &admins),
        };
        l.entries.push(g.sign(log).unwrap().bytes().to_vec());
        l
    }

    fn next(
        &self,
        kind: Kind,
        body: serde_json::Map<String, Value>,
        by: &SecretKey,
    ) -> UnsignedEntry {
        UnsignedEntry {
            kind,
            seq: self.entries.len() as u64,
            prev: rankproof_ledger::leaf_hash(self.entries.last().unwrap()),
            signer: by.verifier().handle(),
            blobs: vec![],
            body,
        }
    }

    fn push(&mut self, kind: Kind, body: serde_json::Map<String, Value>, by: &SecretKey) {
        let e = self.next(kind, body, by).sign(by).unwrap();
        self.entries.push(e.bytes().to_vec());
    }

    fn checkpoint(&self) -> Vec<u8> {
        let leaves: Vec<Hash> = self
            .entries
            .iter()
            .map(|b| rankproof_ledger::leaf_hash(b))
            .collect();
        SignedCheckpoint::sign(
            Checkpoint {
                origin: self.log.name().to_owned(),
                size: leaves.len() as u64,
                root: merkle::root(&leaves),
                extensions: vec![],
            },
            &self.log,
        )
        .unwrap()
        .to_text()
        .into_bytes()
    }

    fn verify(&self) -> Result<rankproof_ledger::VerifyReport, VerifyError> {
        verify_log(
            self.entries.iter().cloned().map(Ok),
            &|_: &Hash| Ok(None),
            &self.checkpoint(),
            Some(self.log.verifier()),
            None,
        )
    }
}

/// A signature on `msg` by `key` whose `R` is `r·B + torsion`, with `s`
/// computed as an honest signer would: strict verification rejects it
/// unless `torsion` is the identity and `r` non-zero.
fn signature_with_r(key: &SigningKey, msg: &[u8], r: Scalar, torsion: EdwardsPoint) -> Signature {
    let big_r = (r * ED25519_BASEPOINT_POINT + torsion).compress();
    let mut h = Sha512::new();
    h.update(big_r.as_bytes());
    h.update(key.verifying_key().as_bytes());
    h.update(msg);
    let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
    let s = r + k * key.to_scalar();
    Signature::from_components(big_r.to_bytes(), s.to_bytes())
}

/// The point (0, −1), of order 2.
fn order_two() -> EdwardsPoint {
    let mut y = [0xffu8; 32];
    y[0] = 0xec;
    y[31] = 0x7f;
    CompressedEdwardsY(y).decompress().unwrap()
}

/// Replace the `sig` member of canonical entry bytes.
fn with_sig(bytes: &[u8], sig: &Signature) -> Vec<u8> {
    use base64::Engine;
    let e = Entry::parse(bytes).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let old = format!("\"sig\":\"{}\"", b64.encode(e.signature().to_bytes()));
    let new = format!("\"sig\":\"{}\"", b64.encode(sig.to_bytes()));
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .replacen(&old, &new, 1)
        .into_bytes()
}

/// Batch verification accepted a signature with a small-order `R` (always)
/// and one with an order-2 component in `R` (for about half of the batch
/// compositions, so appending an honest entry flipped the verdict). The
/// verdict must equal strict verification whatever follows.
#[test]
fn signatures_strict_verify_rejects_are_rejected_whatever_follows() {
    let log = seeded(ORIGIN, 1);
    let admin = seeded("admin", 2);
    let op_signing = SigningKey::from_bytes(&[4; 32]);
    let op = SecretKey::from_signing_key("operator", op_signing.clone()).unwrap();
    let forgeries = [
        ("small-order R", Scalar::ZERO, EdwardsPoint::identity()),
        (
            "R with an order-2 component",
            Scalar::from(12345u64),
            order_two(),
        ),
    ];
    let mut cases = 0;
    for (what, r, torsion) in forgeries {
        let mut l = Log::new(&log, &[&admin]);
        l.push(
            Kind::KeyGrant,
            grant_body(op.verifier(), Role::Operator, 1),
            &admin,
        );
        let u = l.next(Kind::RankingPublish, body(json!({"n": 0})), &op);
        let honest = u.clone().sign(&op).unwrap();
        let sig = signature_with_r(&op_signing, &honest.signing_bytes().unwrap(), r, torsion);
        assert!(
            op.verifier()
                .public()
                .verify_strict(&honest.signing_bytes().unwrap(), &sig)
                .is_err(),
            "{what}: strict verification must reject the forgery"
        );
        l.entries.push(with_sig(honest.bytes(), &sig));
        // What the old verifier relied on: batch verification of the
        // forged signature together with the honest ones that follow
        // accepts it (always for the small-order R, for some compositions
        // for the order-2 component).
        let msg = honest.signing_bytes().unwrap();
        let mut msgs: Vec<Vec<u8>> = vec![msg];
        let mut sigs = vec![sig];
        let mut batch_accepted = 0;
        for i in 0..24u64 {
            let m = format!("honest {i}").into_bytes();
            sigs.push(op.sign(&m));
            msgs.push(m);
            let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
            let keys = vec![*op.verifier().public(); refs.len()];
            if ed25519_dalek::verify_batch(&refs, &sigs, &keys).is_ok() {
                batch_accepted += 1;
            }
        }
        assert!(
            batch_accepted > 0,
            "{what}: batch verification never accepted it"
        );
        for extra in 0..24u64 {
            let err = l.verify().expect_err(what);
            assert!(
                matches!(
                    err,
                    VerifyError::Entry {
                        seq: 2,
                        problem: EntryProblem::BadSignature
                    }
                ),
                "{what}, {extra} honest entries after it: {err}"
            );
            assert!(err.is_finding());
            // The same verdict on one thread.
            let one = rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
                .install(|| l.verify());
            assert_eq!(one.unwrap_err(), err);
            cases += 1;
            l.push(Kind::RankingPublish, body(json!({"n": extra})), &op);
        }
    }
    assert_eq!(cases, 48);
    // The control: an honest signature with the same construction verifies.
    let mut l = Log::new(&log, &[&admin]);
    l.push(
        Kind::KeyGrant,
        grant_body(op.verifier(), Role::Operator, 1),
        &admin,
    );
    let u = l.next(Kind::RankingPublish, body(json!({"n": 0})), &op);
    let honest = u.sign(&op).unwrap();
    let sig = signature_with_r(
        &op_signing,
        &honest.signing_bytes().unwrap(),
        Scalar::from(777u64),
        EdwardsPoint::identity(),
    );
    l.entries.push(with_sig(honest.bytes(), &sig));
    l.verify().unwrap();
}

/// Editing the stored key index (dropping the revoke's seq) let a revoked
/// steward append; now the registry is replayed from the signed entries.
#[test]
fn authorization_comes_from_the_signed_entries_not_an_index() {
    let mut f = fixture();
    f.ledger.revoke(f.steward.verifier(), &f.admin).unwrap();
    let storage = f.ledger.storage().clone();
    // The old index of key entries, without the revoke (entry 5).
    storage.raw_put(b"m/keyseqs", b"[0,1,2,3,4]").unwrap();
    let mut l = Ledger::open(storage.clone()).unwrap();
    l.attach_log_key(f.log.clone()).unwrap();
    let r = l.append(
        Kind::InputRecord,
        body(json!({"period": "2025-03"})),
        vec![],
        &f.steward,
    );
    assert!(
        matches!(r, Err(LedgerError::Unauthorized(AuthError::Revoked { .. }))),
        "{r:?}"
    );
    // Editing an entry the registry is built from is found at open.
    let mut key = b"e".to_vec();
    key.extend_from_slice(&5u64.to_be_bytes());
    let mut bytes = storage.get(&key).unwrap().unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 1;
    storage.raw_put(&key, &bytes).unwrap();
    let err = Ledger::open(storage).unwrap_err();
    assert!(err.is_finding(), "{err}");
    assert!(err.to_string().contains("entry 5"), "{err}");
}

/// A replacement ledger with the same origin and another log key verified;
/// against the expected key it is a finding naming both keys.
#[test]
fn verify_against_the_expected_log_key() {
    let real = fixture();
    let fake = fixture();
    let report = real
        .ledger
        .verify_against(Some(real.log.verifier()), None)
        .unwrap();
    assert_eq!(&report.log_key, real.log.verifier());
    let err = fake
        .ledger
        .verify_against(Some(real.log.verifier()), None)
        .unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Entry {
                seq: 0,
                problem: EntryProblem::WrongLogKey { .. }
            }
        ),
        "{err}"
    );
    assert!(err.is_finding());
    assert!(err.to_string().contains(&real.log.verifier().to_string()));
}

/// A tampered store is a finding; a failing environment is not.
#[test]
fn tampered_stores_are_findings() {
    let f = fixture();
    let storage = f.ledger.storage().clone();
    let mut node = b"n".to_vec();
    node.push(1);
    node.extend_from_slice(&0u64.to_be_bytes());
    storage.raw_put(&node, &[0u8; 32]).unwrap();
    let l = Ledger::open(storage.clone()).unwrap();
    let err = l.verify(None).unwrap_err();
    assert!(err.is_finding(), "{err}");
    let mut tile = b"t".to_vec();
    tile.extend_from_slice(&0u64.to_be_bytes());
    storage.raw_put(&tile, &[7u8; 32]).unwrap();
    let err = Ledger::open(storage).unwrap_err();
    assert!(err.is_finding(), "{err}");
    assert!(!VerifyError::Read("disk on fire".into()).is_finding());
    assert!(!LedgerError::Storage(rankproof_ledger::StorageError::Io("eio".into())).is_finding());
}

/// The last admin revoking itself locked the ledger for ever; a key named
/// like the origin could hold roles. Both refused by the writer and by a
/// verifier given a log that contains them.
#[test]
fn last_admin_and_origin_named_keys_are_refused_by_writer_and_verifier() {
    let mut f = fixture();
    let e = f.ledger.revoke(f.admin.verifier(), &f.admin).unwrap_err();
    assert!(e.to_string().contains("last active admin"), "{e}");
    let twin = SecretKey::generate(ORIGIN).unwrap();
    let e = f
        .ledger
        .grant(twin.verifier(), Role::Hr, &f.admin)
        .unwrap_err();
    assert!(e.to_string().contains("like the log's origin"), "{e}");
    // With a second admin, revoking the first is fine.
    let admin2 = SecretKey::generate("admin2").unwrap();
    f.ledger
        .grant(admin2.verifier(), Role::Admin, &f.admin)
        .unwrap();
    f.ledger.revoke(f.admin.verifier(), &admin2).unwrap();
    f.ledger.verify(None).unwrap();

    // The verifier, given hand-made logs.
    let log = seeded(ORIGIN, 1);
    let admin = seeded("admin", 2);
    let mut l = Log::new(&log, &[&admin]);
    l.push(Kind::KeyRevoke, revoke_body(admin.verifier(), 1), &admin);
    let err = l.verify().unwrap_err();
    assert!(
        err.to_string().contains("entry 1") && err.to_string().contains("last active admin"),
        "{err}"
    );
    let mut l = Log::new(&log, &[&admin]);
    let twin = seeded(ORIGIN, 9);
    l.push(
        Kind::KeyGrant,
        grant_body(twin.verifier(), Role::Steward, 1),
        &admin,
    );
    let err = l.verify().unwrap_err();
    assert!(
        err.to_string().contains("entry 1") && err.to_string().contains("origin"),
        "{err}"
    );
    let l = Log::new(&log, &[&seeded(ORIGIN, 9)]);
    assert!(l.verify().unwrap_err().to_string().contains("origin"));
}

/// Duplicate members: a reader that keeps one of two values sees something
/// another reader does not. Every JSON the ledger reads refuses them.
#[test]
fn duplicate_json_members_are_refused() {
    let v = rankproof_ledger::jcs::parse_strict(br#"{"a":{"b":1,"c":[{"d":2}]}}"#).unwrap();
    assert_eq!(v["a"]["c"][0]["d"], 2);
    for dup in [
        &br#"{"a":1,"a":2}"#[..],
        br#"{"x":{"b":1,"b":1}}"#,
        br#"[{"k":"v","k":"w"}]"#,
    ] {
        let e = rankproof_ledger::jcs::parse_strict(dup).unwrap_err();
        assert!(e.to_string().contains("duplicate member"), "{e}");
    }
    // An entry line with a duplicate member.
    let f = fixture();
    let bytes = f.ledger.entry_bytes(1).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let dup = text.replacen("{\"blobs\":[]", "{\"blobs\":[],\"blobs\":[]", 1);
    let e = Entry::parse(dup.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("duplicate member \"blobs\""), "{e}");
}

fn export(f: &crate::Fixture<MemStorage>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    bundle::export(&f.ledger, &out).unwrap();
    dir
}

/// Symlinks, FIFOs, devices, unreferenced and misnamed files in a bundle.
#[cfg(unix)]
#[test]
fn bundle_files_must_be_regular_referenced_and_bounded() {
    use std::os::unix::fs::symlink;
    let mut f = fixture();
    f.populate();
    let key = f.log.verifier().clone();
    let tmp = export(&f);
    let b = tmp.path().join("b");
    bundle::verify_bundle(&b, &key, None).unwrap();
    let blobs: Vec<_> = fs::read_dir(b.join("blobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let victim = blobs[0].clone();
    let saved = fs::read(&victim).unwrap();
    let check = |what: &str| {
        let err = bundle::verify_bundle(&b, &key, None).unwrap_err();
        assert!(err.is_finding(), "{what}: {err}");
        err.to_string()
    };
    // A blob replaced by a link to the right contents.
    let copy = tmp.path().join("copy");
    fs::write(&copy, &saved).unwrap();
    fs::remove_file(&victim).unwrap();
    symlink(&copy, &victim).unwrap();
    assert!(check("link").contains("symbolic link"));
    // A link to /dev/zero (grew memory without bound).
    fs::remove_file(&victim).unwrap();
    symlink("/dev/zero", &victim).unwrap();
    assert!(check("/dev/zero").contains("symbolic link"));
    // A FIFO (hung verify).
    fs::remove_file(&victim).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&victim)
        .status()
        .is_ok_and(|s| s.success());
    if made {
        assert!(check("fifo").contains("FIFO"));
    }
    let _ = fs::remove_file(&victim);
    fs::write(&victim, &saved).unwrap();
    bundle::verify_bundle(&b, &key, None).unwrap();
    // Unreferenced and misnamed files.
    let stray = b.join("blobs").join(Hash::of(b"stray").to_hex());
    fs::write(&stray, b"stray").unwrap();
    assert!(check("unreferenced").contains("not referenced"));
    fs::remove_file(&stray).unwrap();
    let odd = b.join("blobs").join("notes.txt");
    fs::write(&odd, b"x").unwrap();
    assert!(check("misnamed").contains("not named by a blob hash"));
    fs::remove_file(&odd).unwrap();
    fs::create_dir(b.join("blobs").join("sub")).unwrap();
    assert!(check("directory").contains("directory"));
    fs::remove_dir(b.join("blobs").join("sub")).unwrap();
    // The bundle's own files.
    let entries = b.join("entries.jsonl");
    let moved = tmp.path().join("entries.jsonl");
    fs::rename(&entries, &moved).unwrap();
    symlink(&moved, &entries).unwrap();
    assert!(check("entries link").contains("symbolic link"));
    fs::remove_file(&entries).unwrap();
    fs::rename(&moved, &entries).unwrap();
    bundle::verify_bundle(&b, &key, None).unwrap();
}

/// Secret key text given where a verifier key is expected was echoed in
/// full once its prefix was removed, quoted, lowercased or BOM-prefixed.
#[test]
fn secret_keys_are_never_echoed_by_key_arguments() {
    let key = SecretKey::generate("hr.example").unwrap();
    let secret = key.to_secret_text();
    let material = secret.rsplit('+').next().unwrap().to_owned();
    let bare = secret.strip_prefix("PRIVATE+KEY+").unwrap().to_owned();
    let forms = [
        secret.clone(),
        bare.clone(),
        format!("\"{secret}\""),
        format!("'{bare}'"),
        secret.to_lowercase(),
        bare.to_lowercase(),
        format!("\u{feff}{secret}"),
        format!("\u{feff}{bare}"),
        format!("  {secret}\n"),
        format!("\t{bare} "),
        format!("\u{feff}\"{bare}\"\r\n"),
        secret.replacen("PRIVATE+KEY+", "private+key+", 1),
    ];
    for form in &forms {
        let err = VerifierKey::parse_arg(form).unwrap_err();
        // A lowercased key without its prefix is no longer recognizable
        // (base64 is case-sensitive): it is refused, and not repeated.
        if *form != bare.to_lowercase() {
            assert!(
                matches!(err, KeyArgError::SecretKeyGiven),
                "{form:?}: {err:?}"
            );
        }
        for shown in [err.to_string(), format!("{err:?}")] {
            let low = shown.to_lowercase();
            for piece in material.as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(
                    !shown.contains(piece) && !low.contains(&piece.to_lowercase()),
                    "{shown}"
                );
            }
        }
    }
    // A mangled verifier key is refused without being repeated either.
    let mut wrong = key.verifier().to_string();
    wrong.pop();
    let err = VerifierKey::parse_arg(&wrong).unwrap_err();
    assert!(
        !err.to_string().contains(&wrong[wrong.len() - 20..]),
        "{err}"
    );
    // The real thing and key files work.
    assert_eq!(
        &VerifierKey::parse_arg(&key.verifier().to_string()).unwrap(),
        key.verifier()
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("k.pub");
    fs::write(&p, format!("{}\n", key.verifier())).unwrap();
    assert_eq!(
        &VerifierKey::parse_arg(p.to_str().unwrap()).unwrap(),
        key.verifier()
    );
}

/// A results tree of `n` made-up results; the ranking body names its root.
fn results(n: u64) -> (Vec<Value>, Vec<[u8; 32]>, Vec<Hash>) {
    let rs: Vec<Value> = (0..n)
        .map(|i| json!({"position": i + 1, "staff_id": format!("E{i}"), "total": "1"}))
        .collect();
    let salts: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 + 1; 32]).collect();
    let leaves = rs
        .iter()
        .zip(&salts)
        .map(|(r, s)| receipt::salted_leaf(r, s))
        .collect();
    (rs, salts, leaves)
}

fn receipt_for(
    chain: &ReceiptChain,
    rs: &[Value],
    salts: &[[u8; 32]],
    leaves: &[Hash],
    i: usize,
) -> Vec<u8> {
    let path = merkle::inclusion_proof(leaves, i as u64).unwrap();
    chain.encode(&StaffResult {
        result: &rs[i],
        salt: salts[i],
        leaf_index: i as u64,
        path: &path,
    })
}

/// A receipt carries the grant chain back to genesis and verifies with the
/// log key; one made with the log key alone (a made-up admin granting a
/// made-up operator in a made-up extension of the real log) is refused.
#[test]
fn receipts_carry_the_grant_chain_and_resist_the_log_key_alone() {
    let mut f = fixture();
    // admin → admin2 → operator2, so the chain has three links.
    let admin2 = SecretKey::generate("admin2").unwrap();
    let op2 = SecretKey::generate("operator2").unwrap();
    f.ledger
        .grant(admin2.verifier(), Role::Admin, &f.admin)
        .unwrap();
    f.ledger
        .grant(op2.verifier(), Role::Operator, &admin2)
        .unwrap();
    let (rs, salts, leaves) = results(3);
    let ranking = f
        .ledger
        .append(
            Kind::RankingPublish,
            body(json!({"n": 3, "results_root": merkle::root(&leaves).to_hex()})),
            vec![],
            &op2,
        )
        .unwrap();
    let chain = ReceiptChain::collect(&f.ledger, ranking.entry.seq()).unwrap();
    assert_eq!(
        chain.links().map(Entry::seq).collect::<Vec<_>>(),
        vec![6, 5, 0]
    );
    let bytes = receipt_for(&chain, &rs, &salts, &leaves, 1);
    let v = receipt::verify(&bytes, f.log.verifier()).unwrap();
    assert_eq!(&v.operator, op2.verifier());
    assert_eq!(
        v.admins,
        vec![admin2.verifier().clone(), f.admin.verifier().clone()]
    );
    assert_eq!(v.genesis, f.ledger.leaf_hash(0).unwrap());
    // The same chain from the entry list (e.g. a bundle's).
    let entries: Vec<Entry> = f.ledger.entries().map(Result::unwrap).collect();
    let again =
        ReceiptChain::from_entries(&entries, f.ledger.checkpoint(), ranking.entry.seq()).unwrap();
    assert_eq!(receipt_for(&again, &rs, &salts, &leaves, 1), bytes);

    // Edits of the chain.
    let r: Value = serde_json::from_slice(&bytes).unwrap();
    let try_edit = |edit: &dyn Fn(&mut Value)| {
        let mut v = r.clone();
        edit(&mut v);
        receipt::verify(&serde_json::to_vec(&v).unwrap(), f.log.verifier()).unwrap_err()
    };
    let mut refused = 0;
    for (what, edit) in [
        (
            "drop the genesis link",
            &(|v: &mut Value| {
                v["chain"].as_array_mut().unwrap().pop();
            }) as &dyn Fn(&mut Value),
        ),
        ("drop the middle link", &|v: &mut Value| {
            v["chain"].as_array_mut().unwrap().remove(1);
        }),
        ("swap two links", &|v: &mut Value| {
            v["chain"].as_array_mut().unwrap().swap(0, 1);
        }),
        ("empty chain", &|v: &mut Value| {
            v["chain"] = json!([]);
        }),
        ("chain without member", &|v: &mut Value| {
            v.as_object_mut().unwrap().remove("chain");
        }),
        ("extra link member", &|v: &mut Value| {
            v["chain"][0]["signer"] = json!("x");
        }),
        ("genesis twice", &|v: &mut Value| {
            let g = v["chain"][2].clone();
            v["chain"].as_array_mut().unwrap().push(g);
        }),
        ("another signer", &|v: &mut Value| {
            v["signer"] = json!(f.operator.verifier().to_string());
        }),
    ] {
        let e = try_edit(edit);
        assert!(
            matches!(
                e,
                ReceiptError::Grant { .. }
                    | ReceiptError::Malformed(_)
                    | ReceiptError::Signature(_)
            ),
            "{what}: {e}"
        );
        refused += 1;
    }
    assert_eq!(refused, 8);
    // A duplicate member (a reader that keeps the first sees another result).
    let text = String::from_utf8(bytes.clone()).unwrap();
    let dup = text.replacen("\"salt\":", "\"salt\": \"00\", \"salt\":", 1);
    let e = receipt::verify(dup.as_bytes(), f.log.verifier()).unwrap_err();
    assert!(e.to_string().contains("duplicate member \"salt\""), "{e}");

    // The forgery with the log key alone: extend the real log with a grant
    // of operator to the forger's key, signed by a key of the forger's that
    // has the real admin's name, and a ranking by the forger.
    let mut copy_entries: Vec<Vec<u8>> = (0..f.ledger.len())
        .map(|s| f.ledger.entry_bytes(s).unwrap())
        .collect();
    let fake_admin = SecretKey::generate("admin").unwrap();
    let fake_op = SecretKey::generate("operator2").unwrap();
    let add = |entries: &mut Vec<Vec<u8>>,
               kind: Kind,
               body: serde_json::Map<String, Value>,
               by: &SecretKey| {
        let u = UnsignedEntry {
            kind,
            seq: entries.len() as u64,
            prev: rankproof_ledger::leaf_hash(entries.last().unwrap()),
            signer: by.verifier().handle(),
            blobs: vec![],
            body,
        };
        entries.push(u.sign(by).unwrap().bytes().to_vec());
    };
    let n = copy_entries.len() as u64;
    add(
        &mut copy_entries,
        Kind::KeyGrant,
        grant_body(fake_op.verifier(), Role::Operator, n),
        &fake_admin,
    );
    add(
        &mut copy_entries,
        Kind::RankingPublish,
        body(json!({"n": 3, "results_root": merkle::root(&leaves).to_hex()})),
        &fake_op,
    );
    let parsed: Vec<Entry> = copy_entries
        .iter()
        .map(|b| Entry::parse(b).unwrap())
        .collect();
    let leaf_hashes: Vec<Hash> = parsed.iter().map(Entry::leaf_hash).collect();
    let cp = SignedCheckpoint::sign(
        Checkpoint {
            origin: ORIGIN.into(),
            size: parsed.len() as u64,
            root: merkle::root(&leaf_hashes),
            extensions: vec![],
        },
        &f.log,
    )
    .unwrap();
    // Build the forged receipt by hand: the honest builder refuses the log.
    assert!(ReceiptChain::from_entries(&parsed, &cp, n + 1).is_err());
    let proof = |seq: u64| rankproof_ledger::TlogProof {
        extra: None,
        index: seq,
        hashes: merkle::inclusion_proof(&leaf_hashes, seq).unwrap(),
        checkpoint: cp.to_text(),
    };
    let forged = |chain: Vec<u64>| {
        let mut v = r.clone();
        v["entry"] = json!(String::from_utf8(copy_entries[(n + 1) as usize].clone()).unwrap());
        v["proof"] = json!(proof(n + 1).to_text());
        v["signer"] = json!(fake_op.verifier().to_string());
        v["chain"] = Value::Array(
            chain
                .iter()
                .map(|s| json!({"entry": String::from_utf8(copy_entries[*s as usize].clone()).unwrap(), "proof": proof(*s).to_text()}))
                .collect(),
        );
        receipt::verify(&serde_json::to_vec(&v).unwrap(), f.log.verifier())
    };
    // With the chain through the real genesis: the forger's grant does not
    // verify under the real admin the genesis names.
    let e = forged(vec![n, 0]).unwrap_err();
    assert!(matches!(e, ReceiptError::Grant { link: 1, .. }), "{e}");
    // With the real admin2's grant as the link: its key is not the signer.
    let e = forged(vec![n, 5, 0]).unwrap_err();
    assert!(matches!(e, ReceiptError::Grant { .. }), "{e}");
    // The old receipt format (grant matched by handle) is refused outright.
    let mut old = r.clone();
    old["format"] = json!("rankproof-receipt/v1");
    let e = receipt::verify(&serde_json::to_vec(&old).unwrap(), f.log.verifier()).unwrap_err();
    assert!(e.to_string().contains("grant chain"), "{e}");
}

/// A key given by its secret scalar: lets a test use two keys whose handles
/// collide (name `o`, key ID d0143750; found by a birthday search, the same
/// pair as `tests/oracle/test_verifiers.py`).
struct ScalarKey {
    a: Scalar,
    vk: VerifierKey,
}

impl ScalarKey {
    fn new(name: &str, a: u128) -> ScalarKey {
        let a = Scalar::from(a);
        let point = (a * ED25519_BASEPOINT_POINT).compress();
        let public = ed25519_dalek::VerifyingKey::from_bytes(point.as_bytes()).unwrap();
        ScalarKey {
            a,
            vk: VerifierKey::new(name, public).unwrap(),
        }
    }

    fn sign(&self, msg: &[u8]) -> Signature {
        let mut h = Sha512::new();
        h.update(b"nonce");
        h.update(msg);
        let r = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        let big_r = (r * ED25519_BASEPOINT_POINT).compress();
        let mut h = Sha512::new();
        h.update(big_r.as_bytes());
        h.update(self.vk.public().as_bytes());
        h.update(msg);
        let k = Scalar::from_bytes_mod_order_wide(&h.finalize().into());
        Signature::from_components(big_r.to_bytes(), (r + k * self.a).to_bytes())
    }
}

/// Grants were matched by the 4-byte handle: a second key with the
/// operator's handle, in a log extended with the log key alone, passed.
#[test]
fn receipt_keys_are_compared_in_full_not_by_handle() {
    let x = ScalarKey::new("o", 12_345_678_901_234_570_701);
    let y = ScalarKey::new("o", 12_345_678_901_234_660_805);
    assert_eq!(x.vk.handle(), y.vk.handle());
    assert_ne!(x.vk, y.vk);
    let log = seeded(ORIGIN, 1);
    let admin = seeded("admin", 2);
    let dummy = seeded("dummy", 3);
    let (rs, salts, leaves) = results(2);
    let build = |ranking_by: &ScalarKey| {
        let mut l = Log::new(&log, &[&admin]);
        l.push(Kind::KeyGrant, grant_body(&x.vk, Role::Operator, 1), &admin);
        let mut u = l.next(
            Kind::RankingPublish,
            body(json!({"n": 2, "results_root": merkle::root(&leaves).to_hex()})),
            &dummy,
        );
        u.signer = ranking_by.vk.handle();
        let e = u.clone().sign(&dummy).unwrap();
        let sig = ranking_by.sign(&u.signing_bytes().unwrap());
        l.entries.push(with_sig(e.bytes(), &sig));
        l
    };
    let receipt_of = |l: &Log, signer: &VerifierKey| {
        let leaf_hashes: Vec<Hash> = l
            .entries
            .iter()
            .map(|b| rankproof_ledger::leaf_hash(b))
            .collect();
        let cp = String::from_utf8(l.checkpoint()).unwrap();
        let proof = |seq: u64| {
            rankproof_ledger::TlogProof {
                extra: None,
                index: seq,
                hashes: merkle::inclusion_proof(&leaf_hashes, seq).unwrap(),
                checkpoint: cp.clone(),
            }
            .to_text()
        };
        let text = |seq: usize| String::from_utf8(l.entries[seq].clone()).unwrap();
        let v = json!({
            "format": receipt::RECEIPT_FORMAT,
            "entry": text(2),
            "proof": proof(2),
            "signer": signer.to_string(),
            "chain": [{"entry": text(1), "proof": proof(1)}, {"entry": text(0), "proof": proof(0)}],
            "result": rs[0],
            "salt": hex::encode(salts[0]),
            "leaf_index": 0,
            "path": merkle::inclusion_proof(&leaves, 0).unwrap().iter().map(Hash::to_hex).collect::<Vec<_>>(),
        });
        receipt::verify(&serde_json::to_vec(&v).unwrap(), log.verifier())
    };
    // The control: the granted key signed.
    let honest = build(&x);
    honest.verify().unwrap();
    let v = receipt_of(&honest, &x.vk).unwrap();
    assert_eq!(v.operator, x.vk);
    // The handle twin signed: its receipt names it in full and is refused.
    let forged = build(&y);
    let e = receipt_of(&forged, &y.vk).unwrap_err();
    assert!(matches!(e, ReceiptError::Grant { link: 0, .. }), "{e}");
    assert!(e.to_string().contains("not to the signer"), "{e}");
    let e = receipt_of(&forged, &x.vk).unwrap_err();
    assert!(matches!(e, ReceiptError::Signature(_)), "{e}");
    // And the whole-log verifier refuses the twin's entry too.
    assert!(matches!(
        forged.verify().unwrap_err(),
        VerifyError::Entry {
            seq: 2,
            problem: EntryProblem::BadSignature
        }
    ));
}
