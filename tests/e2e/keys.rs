//! Keys: every misuse of a key is refused (exit 2, ledger unchanged) or, in a
//! forged bundle, found by the verifier (exit 1, the entry named); malformed
//! and weak verifier keys are refused; secret key files readable by others
//! are refused with a `chmod 600 FILE` hint; and no secret key material ever
//! appears in the ledger, a bundle, a receipt or any output.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use base64::Engine;
use rankproof_ledger::bundle::split_lines;
use rankproof_ledger::registry::grant_body;
use rankproof_ledger::{
    merkle, Checkpoint, Entry, Hash, Kind, Role, SecretKey, SignedCheckpoint, UnsignedEntry,
    VerifierKey,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::support::{publish_args, rankproof, repo};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const ORIGIN: &str = "keys.example/ledger";

fn v1() -> String {
    repo()
        .join("rules/marketing-v1")
        .to_str()
        .unwrap()
        .to_owned()
}

fn example(s: &str) -> String {
    repo()
        .join(format!("examples/{s}.csv"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A directory with keys and a ledger; every output of every command run is
/// kept, to be searched for secret key material at the end.
struct World {
    tmp: tempfile::TempDir,
    outputs: RefCell<Vec<u8>>,
    refusals: RefCell<u64>,
    /// The ledger state after the last refusal, while nothing else ran.
    known: RefCell<Option<String>>,
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl World {
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    fn run(&self, args: &[&str]) -> Output {
        let o = rankproof(self.dir(), args);
        let mut out = self.outputs.borrow_mut();
        out.extend_from_slice(&o.stdout);
        out.push(b'\n');
        out.extend_from_slice(&o.stderr);
        out.push(b'\n');
        o
    }

    fn ok(&self, args: &[&str]) -> String {
        *self.known.borrow_mut() = None;
        let o = self.run(args);
        assert!(o.status.success(), "rankproof {args:?}:\n{}", both(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Run a command that must fail with `code`. It does not forget the
    /// known ledger state: if it wrote anything, the next `refused` sees it.
    fn exits(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "rankproof {args:?} should exit {code}:\n{}",
            both(&o)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// The ledger's entries and checkpoint, to compare before and after.
    fn state(&self) -> String {
        let mut s = String::new();
        for args in [&["log", "--format", "json"][..], &["checkpoint"][..]] {
            let o = self.run(args);
            assert!(o.status.success(), "rankproof {args:?}:\n{}", both(&o));
            s.push_str(&String::from_utf8_lossy(&o.stdout));
        }
        s
    }

    /// `args` must exit 2, say something containing every one of `says`,
    /// and leave the ledger exactly as it was.
    fn refused(&self, args: &[&str], says: &[&str]) -> String {
        let before = self
            .known
            .borrow_mut()
            .take()
            .unwrap_or_else(|| self.state());
        let err = self.exits(args, 2);
        for s in says {
            assert!(
                err.contains(s),
                "rankproof {args:?}: message should mention {s:?}:\n{err}"
            );
        }
        let after = self.state();
        assert_eq!(before, after, "rankproof {args:?} changed the ledger");
        *self.known.borrow_mut() = Some(after);
        *self.refusals.borrow_mut() += 1;
        err
    }

    fn key(&self, name: &str, file: &str) -> String {
        self.ok(&["key", "new", "--name", name, "--out", file])
            .trim()
            .to_owned()
    }

    fn secret(&self, file: &str) -> SecretKey {
        SecretKey::parse(&fs::read_to_string(self.dir().join(file)).unwrap()).unwrap()
    }
}

struct Keys {
    log: String,
    admin: String,
    hr: String,
    steward: String,
    operator: String,
}

/// Keys for every role, a ledger, and the grants.
fn world() -> (World, Keys) {
    let w = World {
        tmp: tempfile::tempdir().unwrap(),
        outputs: RefCell::new(Vec::new()),
        refusals: RefCell::new(0),
        known: RefCell::new(None),
    };
    let k = Keys {
        log: w.key(ORIGIN, "log.key"),
        admin: w.key("admin", "admin.key"),
        hr: w.key("hr", "hr.key"),
        steward: w.key("steward", "steward.key"),
        operator: w.key("operator", "operator.key"),
    };
    w.ok(&[
        "init",
        "--origin",
        ORIGIN,
        "--log-key",
        "log.key",
        "--admin",
        &k.admin,
    ]);
    for (role, vkey) in [
        ("hr", &k.hr),
        ("steward", &k.steward),
        ("operator", &k.operator),
    ] {
        w.ok(&[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            role,
            "--vkey",
            vkey,
        ]);
    }
    (w, k)
}

fn record(signer: &str, source: &str) -> Vec<String> {
    [
        "input",
        "record",
        "--signer",
        signer,
        "--period",
        "2025-Q1",
        "--source",
        source,
        &example(source),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn rank_publish(signer: &str) -> Vec<String> {
    publish_args(signer)
        .iter()
        .chain(&["--format", "json"])
        .map(|s| (*s).to_owned())
        .collect()
}

#[test]
fn wrong_role_unknown_and_revoked_keys_are_refused_and_write_nothing() {
    let (w, k) = world();
    let stranger = w.key("stranger", "stranger.key");
    // An impostor with the same name as a registered key (different key ID).
    w.key("hr", "hr-impostor.key");
    let v1 = v1();

    // Wrong role for each kind of act.
    w.refused(
        &["rules", "publish", "--signer", "steward.key", &v1],
        &["role"],
    );
    w.refused(
        &["rules", "publish", "--signer", "admin.key", &v1],
        &["role"],
    );
    w.refused(
        &[
            "key", "grant", "--signer", "hr.key", "--role", "hr", "--vkey", &stranger,
        ],
        &["admin"],
    );
    w.refused(
        &["key", "revoke", "--signer", "operator.key", "--vkey", &k.hr],
        &["admin"],
    );
    // The log key only signs genesis and checkpoints.
    w.refused(
        &[
            "key", "grant", "--signer", "log.key", "--role", "hr", "--vkey", &stranger,
        ],
        &[],
    );
    w.refused(&["rules", "publish", "--signer", "log.key", &v1], &[]);
    // Unknown keys, including one that shares a registered key's name.
    w.refused(
        &["rules", "publish", "--signer", "stranger.key", &v1],
        &["not a registered key"],
    );
    w.refused(
        &["rules", "publish", "--signer", "hr-impostor.key", &v1],
        &["not a registered key"],
    );
    // A public key file cannot sign.
    fs::write(w.dir().join("hr.pub"), format!("{}\n", k.hr)).unwrap();
    w.refused(
        &["rules", "publish", "--signer", "hr.pub", &v1],
        &["public"],
    );

    w.ok(&["rules", "publish", "--signer", "hr.key", &v1]);
    w.refused(&args(&record("hr.key", "crm")), &["role"]);
    w.refused(&args(&record("operator.key", "crm")), &["role"]);
    for s in ["crm", "survey", "oa"] {
        w.ok(&args(&record("steward.key", s)));
    }
    w.refused(&args(&rank_publish("steward.key")), &["role"]);
    w.refused(
        &args(&rank_publish("stranger.key")),
        &["not a registered key"],
    );

    // Grants that make no sense: the log key, a role already held.
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "admin",
            "--vkey",
            &k.log,
        ],
        &[],
    );
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            &k.hr,
        ],
        &[],
    );

    // Revoked: the steward can no longer record, nor be granted again; the
    // revoke is effective from the next entry on.
    w.ok(&[
        "key",
        "revoke",
        "--signer",
        "admin.key",
        "--vkey",
        &k.steward,
    ]);
    w.refused(&args(&record("steward.key", "crm")), &["revoked"]);
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "steward",
            "--vkey",
            &k.steward,
        ],
        &["revoked"],
    );
    w.refused(
        &[
            "key",
            "revoke",
            "--signer",
            "admin.key",
            "--vkey",
            &k.steward,
        ],
        &["revoked"],
    );
    // A revoked admin cannot grant.
    let admin2 = w.key("admin2", "admin2.key");
    w.ok(&[
        "key",
        "grant",
        "--signer",
        "admin.key",
        "--role",
        "admin",
        "--vkey",
        &admin2,
    ]);
    w.ok(&[
        "key",
        "revoke",
        "--signer",
        "admin2.key",
        "--vkey",
        &k.admin,
    ]);
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            &stranger,
        ],
        &["revoked"],
    );
    w.ok(&args(&rank_publish("operator.key")));
    w.ok(&["verify"]);
    eprintln!(
        "keys: role/unknown/revoked refusals: {} (each exit 2, ledger unchanged)",
        w.refusals.borrow()
    );
}

/// `name+id+base64(alg ‖ material)` with a correct key ID for the given
/// bytes (so that only the property under test is wrong).
fn vkey_text(name: &str, alg: u8, material: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(material);
    let id = hex::encode(&h.finalize()[..4]);
    let mut raw = vec![alg];
    raw.extend_from_slice(material);
    format!("{name}+{id}+{}", B64.encode(raw))
}

/// Every small-order point of edwards25519 in canonical encoding, plus
/// non-canonical encodings of small-order points (y ≥ p).
const SMALL_ORDER: [&str; 10] = [
    // identity (order 1)
    "0100000000000000000000000000000000000000000000000000000000000000",
    // order 2: (0, -1)
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    // order 4: (±sqrt(-1), 0)
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    // order 8
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    // non-canonical: y = p + 1 (the identity), y = p (0, order 4)
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/// Malformed or weak verifier keys, each with what the refusal must say.
fn bad_vkeys(good: &str) -> Vec<(String, String, &'static str)> {
    // The base64 may itself contain '+': split on the first two only.
    let mut parts = good.splitn(3, '+');
    let (name, id, material) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let name_id = format!("{name}+{id}");
    let name_id = name_id.as_str();
    let raw = B64.decode(material).unwrap();
    let public: [u8; 32] = raw[1..].try_into().unwrap();
    let mut v: Vec<(String, String, &'static str)> = vec![
        (
            "bad base64".into(),
            format!("{name_id}+!!notbase64!!"),
            "base64",
        ),
        // 33 bytes are exactly 44 base64 digits: no padding, no spare bits.
        ("extra padding".into(), format!("{name_id}+{material}="), ""),
        (
            "line break inside".into(),
            format!("{name_id}+{}\n{}", &material[..20], &material[20..]),
            "",
        ),
        ("empty material".into(), format!("{name_id}+"), ""),
        ("no key id".into(), format!("hr+{material}"), ""),
        (
            "short key ID".into(),
            format!("hr+{}+{material}", &name_id[3..10]),
            "",
        ),
        (
            "32 bytes (no algorithm byte)".into(),
            format!("{name_id}+{}", B64.encode(public)),
            "",
        ),
        (
            "34 bytes".into(),
            format!("{name_id}+{}", B64.encode([&raw[..], &[0]].concat())),
            "33 bytes",
        ),
        (
            "32-byte material after the algorithm byte cut to 31".into(),
            vkey_text("hr", 1, &public[..31]),
            "33 bytes",
        ),
        (
            "algorithm byte 0x02".into(),
            vkey_text("hr", 2, &public),
            "algorithm",
        ),
        (
            "algorithm byte 0x00".into(),
            vkey_text("hr", 0, &public),
            "algorithm",
        ),
        ("name with a space".into(), vkey_text("h r", 1, &public), ""),
        ("empty name".into(), vkey_text("", 1, &public), ""),
    ];
    // The key ID changed, every digit in turn, and in upper case.
    let id = &name_id[3..];
    if id.to_uppercase() != id {
        v.push((
            "upper-case key ID".into(),
            format!("hr+{}+{material}", id.to_uppercase()),
            "",
        ));
    }
    for i in 0..8 {
        let mut b = id.as_bytes().to_vec();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        v.push((
            format!("key ID digit {i} changed"),
            format!("hr+{}+{material}", String::from_utf8(b).unwrap()),
            "key ID",
        ));
    }
    // A different name with the same ID and key.
    v.push(("renamed".into(), format!("hs+{id}+{material}"), "key ID"));
    // A flipped bit of the public key (keeps the ID: mismatch or bad point).
    for i in [0usize, 7, 31] {
        let mut p = raw.clone();
        p[1 + i] ^= 0x01;
        v.push((
            format!("public key byte {i} flipped"),
            format!("{name_id}+{}", B64.encode(p)),
            "",
        ));
    }
    for (i, hexpt) in SMALL_ORDER.iter().enumerate() {
        let p = hex::decode(hexpt).unwrap();
        let says = if i < 8 { "weak" } else { "" };
        v.push((
            format!("small-order point {hexpt}"),
            vkey_text("hr", 1, &p),
            says,
        ));
    }
    // Not a point at all (y with no x on the curve): y = 2.
    let mut y2 = [0u8; 32];
    y2[0] = 2;
    v.push((
        "not on the curve".into(),
        vkey_text("hr", 1, &y2),
        "invalid",
    ));
    v
}

#[test]
fn malformed_and_weak_verifier_keys_are_refused_everywhere() {
    let (w, k) = world();
    w.ok(&["export", "--out", "bundle"]);
    let bad = bad_vkeys(&k.hr);
    let mut n = 0;
    for (what, text, says) in &bad {
        assert!(
            VerifierKey::parse(text).is_err(),
            "{what}: the library accepts {text}"
        );
        let says: Vec<&str> = if says.is_empty() { vec![] } else { vec![says] };
        // As a key to grant.
        let err = w.refused(
            &[
                "key",
                "grant",
                "--signer",
                "admin.key",
                "--role",
                "hr",
                "--vkey",
                text,
            ],
            &says,
        );
        assert!(!err.is_empty(), "{what}: no message");
        // As a key to revoke (the next refusal checks the ledger).
        let err = w.exits(
            &["key", "revoke", "--signer", "admin.key", "--vkey", text],
            2,
        );
        assert!(says.iter().all(|s| err.contains(s)), "{what}: {err}");
        // In a key file.
        fs::write(w.dir().join("bad.pub"), format!("{text}\n")).unwrap();
        w.exits(
            &[
                "key",
                "grant",
                "--signer",
                "admin.key",
                "--role",
                "hr",
                "--vkey",
                "bad.pub",
            ],
            2,
        );
        // As the log key of a bundle (nothing to change, exit 2).
        w.exits(&["verify", "--bundle", "bundle", "--log-vkey", text], 2);
        // As a first admin: no ledger is created.
        let fresh = format!("fresh{n}");
        w.exits(
            &[
                "init",
                "--ledger",
                &fresh,
                "--origin",
                ORIGIN,
                "--log-key",
                "log.key",
                "--admin",
                text,
            ],
            2,
        );
        assert!(!w.dir().join(&fresh).exists(), "{what}: init left {fresh}");
        n += 1;
    }
    // Nothing the last commands ran changed the ledger either.
    w.refused(
        &[
            "key",
            "revoke",
            "--signer",
            "admin.key",
            "--vkey",
            "nonsense",
        ],
        &[],
    );
    // The good key still works where the bad ones were refused.
    w.ok(&["verify", "--bundle", "bundle", "--log-vkey", &k.log]);
    eprintln!(
        "keys: malformed/weak verifier keys: {n} keys x 5 uses (grant, revoke, key file, \
         init --admin, verify --log-vkey): {} refused, each exit 2, ledger unchanged",
        5 * n
    );
}

#[cfg(unix)]
#[test]
fn secret_key_files_others_can_read_or_write_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let (w, k) = world();
    let v1 = v1();
    let set = |f: &str, mode: u32| {
        fs::set_permissions(w.dir().join(f), fs::Permissions::from_mode(mode)).unwrap();
    };
    let mut n = 0;
    for mode in [
        0o644, 0o640, 0o604, 0o660, 0o606, 0o620, 0o602, 0o666, 0o777,
    ] {
        // The signer's key.
        set("hr.key", mode);
        w.refused(
            &["rules", "publish", "--signer", "hr.key", &v1],
            &["chmod 600 hr.key", &format!("{mode:03o}")],
        );
        w.exits(&["key", "show", "hr.key"], 2);
        set("hr.key", 0o600);
        // An admin's key.
        set("admin.key", mode);
        w.refused(
            &[
                "key",
                "grant",
                "--signer",
                "admin.key",
                "--role",
                "reviewer",
                "--vkey",
                &k.hr,
            ],
            &["chmod 600 admin.key"],
        );
        set("admin.key", 0o600);
        // The log key, re-read by every append to sign the checkpoint.
        set("log.key", mode);
        let log_key_path = fs::canonicalize(w.dir().join("log.key")).unwrap();
        w.refused(
            &["rules", "publish", "--signer", "hr.key", &v1],
            &[&format!("chmod 600 {}", log_key_path.display())],
        );
        let fresh = format!("fresh{mode:o}");
        let err = w.exits(
            &[
                "init",
                "--ledger",
                &fresh,
                "--origin",
                ORIGIN,
                "--log-key",
                "log.key",
                "--admin",
                &k.admin,
            ],
            2,
        );
        assert!(err.contains("chmod 600 log.key"), "{err}");
        assert!(!w.dir().join(&fresh).exists());
        set("log.key", 0o600);
        n += 1;
    }
    // 0400 (read-only for the owner) is fine.
    set("hr.key", 0o400);
    w.ok(&["rules", "publish", "--signer", "hr.key", &v1]);
    w.ok(&["verify"]);
    eprintln!(
        "keys: loose permissions: {n} modes, {} refusals (exit 2, ledger unchanged)",
        w.refusals.borrow()
    );
}

/// A key file's secret material in every form it could leak in.
fn secret_forms(key_file_text: &str) -> Vec<(String, Vec<u8>)> {
    // PRIVATE+KEY+name+id+base64, where the base64 may contain '+'.
    let b64 = key_file_text.trim_end().splitn(5, '+').nth(4).unwrap();
    let raw = B64.decode(b64).unwrap();
    let seed = &raw[1..];
    assert_eq!(seed.len(), 32);
    let expanded = Sha512::digest(seed);
    let mut forms = vec![
        ("base64 of 0x01||seed".to_owned(), b64.as_bytes().to_vec()),
        (
            "base64 of 0x01||seed without its last digits".to_owned(),
            b64.as_bytes()[..40].to_vec(),
        ),
        ("base64 of seed".to_owned(), B64.encode(seed).into_bytes()),
        ("hex of seed".to_owned(), hex::encode(seed).into_bytes()),
        (
            "upper-case hex of seed".to_owned(),
            hex::encode_upper(seed).into_bytes(),
        ),
        ("raw seed".to_owned(), seed.to_vec()),
        ("raw expanded key".to_owned(), expanded[..32].to_vec()),
        (
            "hex of expanded key".to_owned(),
            hex::encode(&expanded[..32]).into_bytes(),
        ),
        ("raw nonce key".to_owned(), expanded[32..].to_vec()),
    ];
    // A debug print of the bytes would show them as a list of numbers.
    forms.push((
        "debug list of seed".to_owned(),
        format!("{:?}", &seed[..8])
            .trim_end_matches(']')
            .as_bytes()
            .to_vec(),
    ));
    forms
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn secret_keys_never_appear_in_the_ledger_bundle_receipts_or_output() {
    let (w, k) = world();
    let v1 = v1();
    w.ok(&["key", "show", "hr.key"]);
    w.ok(&["key", "show", "log.key"]);
    w.ok(&["rules", "publish", "--signer", "hr.key", &v1]);
    for s in ["crm", "survey", "oa"] {
        w.ok(&args(&record("steward.key", s)));
    }
    let published: Value =
        serde_json::from_str(&w.ok(&args(&rank_publish("operator.key")))).unwrap();
    let id = published["ranking"].as_u64().unwrap().to_string();
    let staff = published["results"][0]["staff_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Refusals and errors that involve the secret key files.
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "steward.key",
            "--role",
            "hr",
            "--vkey",
            &k.operator,
        ],
        &["admin"],
    );
    w.refused(&args(&record("operator.key", "crm")), &["role"]);
    // A secret key given where a verifier key is expected: used for its
    // public half only (as a file), and never echoed (as text).
    let hr_secret = fs::read_to_string(w.dir().join("hr.key")).unwrap();
    w.refused(
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            "hr.key",
        ],
        &[],
    );
    for arg in [hr_secret.trim_end(), hr_secret.as_str()] {
        w.refused(
            &[
                "key",
                "grant",
                "--signer",
                "admin.key",
                "--role",
                "reviewer",
                "--vkey",
                arg,
            ],
            &["secret key"],
        );
        w.exits(
            &[
                "init",
                "--ledger",
                "fresh",
                "--origin",
                ORIGIN,
                "--log-key",
                "log.key",
                "--admin",
                arg,
            ],
            2,
        );
        w.exits(&["verify", "--bundle", "nowhere", "--log-vkey", arg], 2);
    }
    // A damaged secret key file (wrong key ID, then wrong algorithm byte).
    let material = hr_secret.trim_end().splitn(5, '+').nth(4).unwrap();
    let head = &hr_secret.trim_end()[..hr_secret.trim_end().len() - material.len() - 1];
    let bad_id = head.replace(
        &VerifierKey::parse(&k.hr).unwrap().id().to_hex(),
        "00000000",
    );
    fs::write(w.dir().join("bad-id.key"), format!("{bad_id}+{material}\n")).unwrap();
    let mut raw = B64.decode(material).unwrap();
    raw[0] = 2;
    fs::write(
        w.dir().join("bad-alg.key"),
        format!("{head}+{}\n", B64.encode(&raw)),
    )
    .unwrap();
    for f in ["bad-id.key", "bad-alg.key"] {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(w.dir().join(f), fs::Permissions::from_mode(0o600)).unwrap();
        }
        w.refused(&["rules", "publish", "--signer", f, &v1], &[]);
        w.exits(&["key", "show", f], 2);
    }
    // Everything an auditor and staff see.
    w.ok(&["log"]);
    w.ok(&["log", "--format", "json"]);
    w.ok(&["verify"]);
    w.ok(&["export", "--out", "bundle"]);
    w.ok(&["verify", "--bundle", "bundle", "--log-vkey", &k.log]);
    let replay = w.ok(&["replay", "--all"]);
    assert!(replay.contains("1 of 1 ranking(s) replayed"), "{replay}");
    let replay = w.ok(&[
        "replay",
        "--all",
        "--bundle",
        "bundle",
        "--log-vkey",
        &k.log,
    ]);
    assert!(replay.contains("1 of 1 ranking(s) replayed"), "{replay}");
    w.ok(&[
        "receipt",
        "issue",
        "--ranking",
        &id,
        "--staff",
        &staff,
        "--out",
        "r.json",
    ]);
    w.ok(&["receipt", "verify", "r.json", "--log-vkey", &k.log]);

    let key_files = [
        "log.key",
        "admin.key",
        "hr.key",
        "steward.key",
        "operator.key",
    ];
    let mut forms = Vec::new();
    for f in key_files {
        for (what, bytes) in secret_forms(&fs::read_to_string(w.dir().join(f)).unwrap()) {
            forms.push((format!("{f}: {what}"), bytes));
        }
    }
    let mut files = Vec::new();
    files_under(w.dir(), &mut files);
    let mut scanned = 0;
    let mut bytes = 0;
    for p in &files {
        let name = p.file_name().unwrap().to_str().unwrap();
        if name.ends_with(".key") {
            continue; // the key files themselves (and the damaged copies)
        }
        let data = fs::read(p).unwrap();
        bytes += data.len();
        scanned += 1;
        for (what, needle) in &forms {
            assert!(!contains(&data, needle), "{what} found in {}", p.display());
        }
    }
    assert!(
        files
            .iter()
            .any(|p| p.starts_with(w.dir().join("ledger/db"))),
        "the sled database was scanned"
    );
    assert!(files
        .iter()
        .any(|p| p.starts_with(w.dir().join("bundle/blobs"))));
    let outputs = w.outputs.borrow();
    for (what, needle) in &forms {
        assert!(
            !contains(&outputs, needle),
            "{what} found in command output"
        );
    }
    // The search itself finds a planted key.
    assert!(contains(
        hr_secret.as_bytes(),
        &secret_forms(&hr_secret)[0].1
    ));
    eprintln!(
        "keys: secret material: {} forms of {} keys searched in {scanned} files ({bytes} bytes) \
         and {} bytes of output: none found",
        forms.len() / key_files.len(),
        key_files.len(),
        outputs.len()
    );
}

/// Append `entries` (kind, body, signer) to the exported bundle at `dir`,
/// with correct seq and prev, and re-sign the checkpoint with the log key:
/// what a log operator holding the log key (and some stolen or unregistered
/// user key) could forge. The keys file is left as it was.
fn forge(dir: &Path, log: &SecretKey, entries: &[(Kind, Map<String, Value>, &SecretKey)]) {
    let mut lines = split_lines(&fs::read(dir.join("entries.jsonl")).unwrap());
    for (kind, body, key) in entries {
        let prev = Entry::parse(lines.last().unwrap()).unwrap().leaf_hash();
        let e = UnsignedEntry {
            kind: *kind,
            seq: lines.len() as u64,
            prev,
            signer: key.verifier().handle(),
            blobs: vec![],
            body: body.clone(),
        }
        .sign(key)
        .unwrap();
        lines.push(e.bytes().to_vec());
    }
    let leaves: Vec<Hash> = lines
        .iter()
        .map(|l| rankproof_ledger::leaf_hash(l))
        .collect();
    let cp = SignedCheckpoint::sign(
        Checkpoint {
            origin: ORIGIN.into(),
            size: lines.len() as u64,
            root: merkle::root(&leaves),
            extensions: vec![],
        },
        log,
    )
    .unwrap();
    let mut data = Vec::new();
    for l in &lines {
        data.extend_from_slice(l);
        data.push(b'\n');
    }
    fs::write(dir.join("entries.jsonl"), data).unwrap();
    fs::write(dir.join("checkpoint"), cp.to_text()).unwrap();
}

fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("an object"),
    }
}

#[test]
fn forged_entries_signed_by_the_wrong_key_are_found_by_the_verifier() {
    let (w, k) = world();
    w.ok(&[
        "key",
        "revoke",
        "--signer",
        "admin.key",
        "--vkey",
        &k.operator,
    ]);
    w.ok(&["export", "--out", "base"]);
    // The base bundle: genesis, 3 grants, the revoke: 5 entries.
    let log = w.secret("log.key");
    let admin = w.secret("admin.key");
    let hr = w.secret("hr.key");
    let steward = w.secret("steward.key");
    let operator = w.secret("operator.key");
    w.key("late", "late.key");
    let late = w.secret("late.key");
    let impostor = SecretKey::generate("hr").unwrap();
    let rules = || body(json!({"name": "forged", "version": "9.9.9"}));
    let grant_late_at = |seq: u64| grant_body(late.verifier(), Role::Hr, seq);
    let mut late_grant_now = grant_late_at(5);
    late_grant_now.insert("effective_from".into(), json!(5));
    #[allow(clippy::type_complexity)]
    let cases: Vec<(&str, Vec<(Kind, Map<String, Value>, &SecretKey)>, u64, &str)> = vec![
        (
            "wrong role: steward publishes rules",
            vec![(Kind::RulesPublish, rules(), &steward)],
            5,
            "lacks role hr",
        ),
        (
            "wrong role: hr grants a key",
            vec![(Kind::KeyGrant, grant_late_at(5), &hr)],
            5,
            "lacks role admin",
        ),
        (
            "wrong role: the log key signs an entry",
            vec![(Kind::RulesPublish, rules(), &log)],
            5,
            "",
        ),
        (
            "revoked: the operator publishes a ranking after its revoke",
            vec![(
                Kind::RankingPublish,
                body(json!({"period": "2025-Q1"})),
                &operator,
            )],
            5,
            "revoked at entry 4",
        ),
        (
            "used before its grant: late signs, then is granted",
            vec![
                (Kind::RulesPublish, rules(), &late),
                (Kind::KeyGrant, grant_late_at(6), &admin),
            ],
            5,
            "not a registered key",
        ),
        (
            "used at its grant's own position: effective_from = seq",
            vec![
                (Kind::KeyGrant, late_grant_now, &admin),
                (Kind::RulesPublish, rules(), &late),
            ],
            5,
            "effective_from must be 6",
        ),
        (
            "unknown key",
            vec![(Kind::RulesPublish, rules(), &late)],
            5,
            "not a registered key",
        ),
        (
            "impostor with a registered name",
            vec![(Kind::RulesPublish, rules(), &impostor)],
            5,
            "not a registered key",
        ),
        (
            "a good entry, then a revoked key",
            vec![
                (Kind::RulesPublish, rules(), &hr),
                (
                    Kind::InputRecord,
                    body(json!({"period": "2025-Q1"})),
                    &operator,
                ),
            ],
            6,
            "",
        ),
    ];
    let mut n = 0;
    for (what, entries, seq, says) in &cases {
        let dir = w.dir().join(format!("forged{n}"));
        copy_dir(&w.dir().join("base"), &dir);
        forge(&dir, &log, entries);
        let dir_s = dir.to_str().unwrap();
        let err = w.exits(&["verify", "--bundle", dir_s, "--log-vkey", &k.log], 1);
        assert!(
            err.contains(&format!("entry {seq}:")) && err.contains(says),
            "{what}: expected entry {seq} ({says}):\n{err}"
        );
        n += 1;
    }
    // Control: the same forging with the right keys passes every signature
    // and role check; what remains is the workflow's own rule that a
    // rules.publish body is a whole package (the forged body is not), a
    // false claim named by entry, never a key problem.
    let dir = w.dir().join("control");
    copy_dir(&w.dir().join("base"), &dir);
    forge(&dir, &log, &[(Kind::RulesPublish, rules(), &hr)]);
    // (A rules.publish does not change the registry: the keys file still
    // matches.)
    let o = w.run(&[
        "verify",
        "--bundle",
        dir.to_str().unwrap(),
        "--log-vkey",
        &k.log,
    ]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("entries: 6"), "{out}");
    assert!(
        out.contains("entry 5 (rules.publish): malformed body"),
        "{out}"
    );
    for (_, _, _, says) in cases.iter().filter(|c| !c.3.is_empty()) {
        assert!(!out.contains(says), "{out}");
    }
    eprintln!(
        "keys: forged bundles with misused keys: {n} tried, {n} detected (exit 1, entry named)"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
