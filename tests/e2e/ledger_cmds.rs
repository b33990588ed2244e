//! Ledger commands end to end (ledger work): keys, init, grant/revoke, log,
//! checkpoint, verify, export, bundle verification and tampering.

#![allow(clippy::unwrap_used)] // tests unwrap freely

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::support::{rankproof, World};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = rankproof(dir, args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[track_caller]
fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let o = rankproof(dir, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

/// A ledger with keys log, admin, hr: returns (tempdir, admin vkey, hr vkey, log vkey).
fn setup() -> (tempfile::TempDir, String, String, String) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let log = ok(
        p,
        &[
            "key",
            "new",
            "--name",
            "acme.example/ledger",
            "--out",
            "log.key",
        ],
    );
    let admin = ok(p, &["key", "new", "--name", "admin", "--out", "admin.key"]);
    let hr = ok(p, &["key", "new", "--name", "hr", "--out", "hr.key"]);
    let out = ok(
        p,
        &[
            "init",
            "--origin",
            "acme.example/ledger",
            "--log-key",
            "log.key",
            "--admin",
            admin.trim(),
        ],
    );
    assert!(out.contains("created ledger acme.example/ledger"), "{out}");
    (
        d,
        admin.trim().to_owned(),
        hr.trim().to_owned(),
        log.trim().to_owned(),
    )
}

#[test]
fn key_new_writes_a_private_file_and_refuses_to_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let vkey = ok(p, &["key", "new", "--name", "alice", "--out", "alice.key"]);
    assert!(vkey.starts_with("alice+"), "{vkey}");
    assert!(
        rankproof_ledger::VerifierKey::parse(vkey.trim()).is_ok(),
        "{vkey}"
    );
    let secret = fs::read_to_string(p.join("alice.key")).unwrap();
    assert!(secret.starts_with("PRIVATE+KEY+alice+"));
    let seed_b64 = secret.trim().splitn(5, '+').nth(4).unwrap();
    assert!(seed_b64.len() > 40 && !vkey.contains(seed_b64));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(p.join("alice.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let err = fails(
        p,
        &["key", "new", "--name", "alice", "--out", "alice.key"],
        2,
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(fs::read_to_string(p.join("alice.key")).unwrap(), secret);
    let err = fails(
        p,
        &["key", "new", "--name", "bad name", "--out", "b.key"],
        2,
    );
    assert!(err.contains("key name"), "{err}");

    let shown = ok(p, &["key", "show", "alice.key"]);
    assert!(shown.contains(vkey.trim()), "{shown}");
    assert!(shown.contains("secret key"));
    assert!(!shown.contains("PRIVATE"));
    fs::write(p.join("alice.pub"), &vkey).unwrap();
    let shown = ok(p, &["key", "show", "alice.pub"]);
    assert!(
        shown.contains("public key") && shown.contains(vkey.trim()),
        "{shown}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p.join("alice.key"), fs::Permissions::from_mode(0o644)).unwrap();
        let err = fails(p, &["key", "show", "alice.key"], 2);
        assert!(err.contains("chmod 600"), "{err}");
    }
}

#[test]
fn init_refuses_bad_input_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    ok(
        p,
        &[
            "key",
            "new",
            "--name",
            "acme.example/ledger",
            "--out",
            "log.key",
        ],
    );
    let admin = ok(p, &["key", "new", "--name", "admin", "--out", "admin.key"]);
    let err = fails(
        p,
        &[
            "init",
            "--origin",
            "other.example",
            "--log-key",
            "log.key",
            "--admin",
            admin.trim(),
        ],
        2,
    );
    assert!(err.contains("must equal the log key's name"), "{err}");
    assert!(!p.join("ledger").exists());
    let err = fails(
        p,
        &[
            "init",
            "--origin",
            "acme.example/ledger",
            "--log-key",
            "log.key",
            "--admin",
            "nonsense",
        ],
        2,
    );
    // The argument is named by position, never repeated (it may be a secret).
    assert!(
        err.contains("--admin (number 1)") && err.contains("not a verifier key"),
        "{err}"
    );
    assert!(!p.join("ledger").exists());
    let err = fails(p, &["log"], 2);
    assert!(err.contains("no ledger at ledger"), "{err}");
    ok(
        p,
        &[
            "init",
            "--origin",
            "acme.example/ledger",
            "--log-key",
            "log.key",
            "--admin",
            admin.trim(),
        ],
    );
    let err = fails(
        p,
        &[
            "init",
            "--origin",
            "acme.example/ledger",
            "--log-key",
            "log.key",
            "--admin",
            admin.trim(),
        ],
        2,
    );
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn grant_revoke_log_checkpoint_verify_export_journey() {
    let (d, admin, hr, log_vkey) = setup();
    let p = d.path();
    let out = ok(
        p,
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            &hr,
        ],
    );
    assert!(out.contains("entry 1: granted hr to hr+"), "{out}");
    // HR cannot grant; nothing is written.
    let before = ok(p, &["checkpoint"]);
    let err = fails(
        p,
        &[
            "key", "grant", "--signer", "hr.key", "--role", "admin", "--vkey", "hr.key",
        ],
        2,
    );
    assert!(err.contains("lacks role admin"), "{err}");
    assert!(!err.contains("PRIVATE"), "{err}");
    assert_eq!(ok(p, &["checkpoint"]), before);
    let err = fails(
        p,
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "boss",
            "--vkey",
            &hr,
        ],
        2,
    );
    assert!(err.contains("unknown role"), "{err}");
    fs::write(p.join("old.checkpoint"), &before).unwrap();

    // The checkpoint is a C2SP signed note by the log key.
    let lines: Vec<&str> = before.lines().collect();
    assert_eq!(lines[0], "acme.example/ledger");
    assert_eq!(lines[1], "2");
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("\u{2014} acme.example/ledger "));

    ok(
        p,
        &["key", "revoke", "--signer", "admin.key", "--vkey", &hr],
    );
    let table = ok(p, &["log"]);
    assert!(table.starts_with("SEQ"), "{table}");
    assert!(
        table.contains("genesis") && table.contains("key.revoke"),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(p, &["log", "--format", "json"])).unwrap();
    let entries = json.as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1]["kind"], "key.grant");
    assert_eq!(entries[1]["body"]["role"], "hr");
    assert_eq!(entries[0]["body"]["admins"][0], admin.as_str());

    let v = ok(p, &["verify", "--trusted", "old.checkpoint"]);
    assert!(
        v.contains("entries: 3") && v.contains("trusted checkpoint of 2"),
        "{v}"
    );

    let out = ok(p, &["export", "--out", "bundle"]);
    assert!(out.contains("exported 3 entries"), "{out}");
    let err = fails(p, &["export", "--out", "bundle"], 2);
    assert!(err.contains("not empty"), "{err}");
    for f in ["checkpoint", "entries.jsonl", "keys", "blobs"] {
        assert!(p.join("bundle").join(f).exists(), "{f}");
    }
    let v = ok(
        p,
        &[
            "verify",
            "--bundle",
            "bundle",
            "--log-vkey",
            &log_vkey,
            "--trusted",
            "old.checkpoint",
        ],
    );
    assert!(v.contains("ok: bundle"), "{v}");
    // Verifying with another log key is a finding.
    let err = fails(
        p,
        &["verify", "--bundle", "bundle", "--log-vkey", &admin],
        1,
    );
    assert!(err.contains("entry 0"), "{err}");
    // --bundle without --log-vkey is a usage error.
    fails(p, &["verify", "--bundle", "bundle"], 2);

    // One changed byte in entry 1 is a finding naming entry 1.
    let path = p.join("bundle/entries.jsonl");
    let mut data = fs::read(&path).unwrap();
    let second_line = data.iter().position(|&b| b == b'\n').unwrap() + 1;
    data[second_line + 30] ^= 1;
    fs::write(&path, data).unwrap();
    let err = fails(
        p,
        &["verify", "--bundle", "bundle", "--log-vkey", &log_vkey],
        1,
    );
    assert!(err.contains("verification failed: entry 1:"), "{err}");
}

#[test]
fn rollback_is_detected_with_a_trusted_checkpoint() {
    let (d, admin, hr, _) = setup();
    let p = d.path();
    let _ = admin;
    ok(
        p,
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "hr",
            "--vkey",
            &hr,
        ],
    );
    ok(
        p,
        &[
            "key",
            "grant",
            "--signer",
            "admin.key",
            "--role",
            "steward",
            "--vkey",
            &hr,
        ],
    );
    fs::write(p.join("later.checkpoint"), ok(p, &["checkpoint"])).unwrap();
    // A second, shorter ledger with the same log key and admin.
    ok(
        p,
        &[
            "init",
            "--ledger",
            "ledger2",
            "--origin",
            "acme.example/ledger",
            "--log-key",
            "log.key",
            "--admin",
            "admin.key",
        ],
    );
    let err = fails(
        p,
        &[
            "verify",
            "--ledger",
            "ledger2",
            "--trusted",
            "later.checkpoint",
        ],
        1,
    );
    assert!(err.contains("rollback"), "{err}");
}

#[test]
fn second_process_gets_ledger_in_use() {
    let (d, _, _, _) = setup();
    let p = d.path();
    let held = rankproof_ledger::SledStorage::open(&p.join("ledger/db")).unwrap();
    // A reader waits for the writer (here: up to 1 s), then says why it gave up.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .arg("log")
        .current_dir(p)
        .env_remove("RANKPROOF_LEDGER")
        .env("RANKPROOF_LOCK_WAIT", "1")
        .output()
        .unwrap();
    // The environment, not the input: exit 3.
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("waiting up to 1 s"), "{err}");
    assert!(err.contains("ledger in use by another process"), "{err}");
    // A reader that starts while the writer holds the ledger succeeds once
    // the writer is done.
    let reader = std::process::Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .args(["verify"])
        .current_dir(p)
        .env_remove("RANKPROOF_LEDGER")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    drop(held);
    let o = reader.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let _held = rankproof_ledger::SledStorage::open(&p.join("ledger/db")).unwrap();
    let err = fails(
        p,
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
        3,
    );
    assert!(err.contains("ledger in use by another process"), "{err}");
}

/// `verify --log-vkey` on a ledger directory: a replacement ledger with the
/// same origin and another log key is a finding (exit 1); the report prints
/// the log key.
#[test]
fn verify_ledger_against_the_expected_log_key() {
    let real = World::new("acme.example/ledger");
    let fake = World::new("acme.example/ledger");
    let out = ok(real.dir(), &["verify", "--log-vkey", &real.log_vkey]);
    assert!(
        out.contains(&format!("log key: {}", real.log_vkey)),
        "{out}"
    );
    let err = fails(fake.dir(), &["verify", "--log-vkey", &real.log_vkey], 1);
    assert!(
        err.contains("entry 0") && err.contains("is not the expected log key"),
        "{err}"
    );
}
