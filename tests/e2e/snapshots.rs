//! Output snapshots of the real binary on the callcentre example package,
//! whose scores, attributes and grades are not the marketing package's: no
//! field name may come from code. Names a spreadsheet would run as a
//! formula, or that would reorder a terminal line, are in the data.
//!
//! `RANKPROOF_BLESS=1 cargo test -p rankproof-cli --test e2e snapshots`
//! rewrites the files under `tests/e2e/snapshots/` after a deliberate
//! change; review the diff before committing.

use std::fs;
use std::process::{Command, Stdio};

use crate::support::{fails, ok, repo, World};

/// Key handles and times vary from run to run: name them.
fn normalize(text: &str, handles: &[(&str, String)]) -> String {
    let mut s = text.to_owned();
    for (role, h) in handles {
        s = s.replace(h.as_str(), &format!("<{role}>"));
    }
    // RFC 3339 UTC times (2025-04-01T09:00:00Z).
    let b = s.as_bytes();
    let is_time = |w: &[u8]| {
        w.len() == 20
            && w.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b'T',
                13 | 16 => *c == b':',
                19 => *c == b'Z',
                _ => c.is_ascii_digit(),
            })
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b.get(i..i + 20).is_some_and(is_time) {
            out.extend_from_slice(b"<time>");
            i += 20;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

fn check(name: &str, actual: &str) {
    let path = repo()
        .join("tests/e2e/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("RANKPROOF_BLESS").is_some() {
        fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "snapshot {name} differs (RANKPROOF_BLESS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn handle(vkey: &str) -> String {
    vkey.splitn(3, '+').take(2).collect::<Vec<_>>().join("+")
}

const CALLS: &str = "工号,姓名,接听量,csat\n\
C1,王伟,200,4.2\n\
C2,=HYPERLINK(\"http://x\"),150,4.8\n\
C3,赵磊,100,3\n\
C4,刘洋,200,4.2\n\
C5,陈静,50,5\n";

#[test]
fn callcentre_ranks_explains_and_issues_receipts_with_its_own_fields() {
    let w = World::new("snap.example/ledger");
    let dir = w.dir();
    let pkg = repo().join("examples/rules/callcentre");
    ok(
        dir,
        &[
            "rules",
            "publish",
            "--signer",
            "hr.key",
            pkg.to_str().expect("utf-8"),
        ],
    );
    // A name with a bidi control (it would display as "exe.png") is refused
    // at record time, naming the line and the column; nothing is recorded.
    let hostile = CALLS.replace("赵磊", "\u{202E}gnp.exe");
    fs::write(dir.join("hostile.csv"), hostile).expect("write");
    let err = fails(
        dir,
        &[
            "input",
            "record",
            "--signer",
            "steward.key",
            "--period",
            "2025-01",
            "--source",
            "calls",
            "hostile.csv",
        ],
        2,
    );
    assert!(
        err.contains("line 4") && err.contains("bidi control U+202E"),
        "{err}"
    );
    fs::write(dir.join("calls.csv"), CALLS).expect("write");
    let rec = ok(
        dir,
        &[
            "input",
            "record",
            "--signer",
            "steward.key",
            "--period",
            "2025-01",
            "--source",
            "calls",
            "calls.csv",
        ],
    );
    assert!(rec.contains("validated against callcentre@0.1.0"), "{rec}");
    let publish = [
        "rank",
        "--period",
        "2025-01",
        "--rules",
        "callcentre@0.1.0",
        "--publish",
        "--signer",
        "operator.key",
    ];
    let table = ok(dir, &publish);
    assert!(table.contains("published as ranking 6"), "{table}");
    // --signer without --publish is refused.
    fails(
        dir,
        &[
            "rank",
            "--period",
            "2025-01",
            "--rules",
            "callcentre@0.1.0",
            "--signer",
            "operator.key",
        ],
        2,
    );
    // Publishing again writes nothing and names the ranking.
    let again = ok(dir, &publish);
    assert!(
        again.contains("ranking 6 is the current ranking"),
        "{again}"
    );

    let mut handles: Vec<(&str, String)> = ["operator", "steward", "hr", "admin"]
        .into_iter()
        .map(|r| {
            let vkey = ok(dir, &["key", "show", &format!("{r}.key")]);
            let v = vkey
                .lines()
                .find_map(|l| l.strip_prefix("vkey:   "))
                .expect("vkey line")
                .to_owned();
            (r, handle(&v))
        })
        .collect();
    // The dataset and result hashes commit to secret random salts (a
    // dataset salt, the ranking nonce): they differ from run to run.
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&ok(dir, args)).expect("json")
    };
    let inputs = json(&["input", "list", "--format", "json"]);
    let dataset = inputs[0]["dataset"].as_str().expect("dataset").to_owned();
    // `ranking show --format json` prints the result document and a newline.
    let doc = ok(dir, &["ranking", "show", "6", "--format", "json"]);
    let result = crate::files::sha256_hex(doc.trim_end_matches('\n').as_bytes());
    handles.push(("salted result hash", result));
    handles.push(("salted dataset", dataset.clone()));
    handles.push(("salted dataset", dataset[..16].to_owned()));
    let snap = |name: &str, args: &[&str]| check(name, &normalize(&ok(dir, args), &handles));
    snap("callcentre-ranking-show", &["ranking", "show", "6"]);
    snap(
        "callcentre-ranking-csv",
        &["ranking", "show", "6", "--format", "csv"],
    );
    // A ranking just computed is shown from the engine's columns, a stored
    // one from its document: the same CSV either way.
    for format in ["csv", "csv-excel"] {
        let fresh = ok(
            dir,
            &[
                "rank",
                "--period",
                "2025-01",
                "--rules",
                "callcentre@0.1.0",
                "--format",
                format,
            ],
        );
        let stored = ok(dir, &["ranking", "show", "6", "--format", format]);
        assert_eq!(fresh, stored, "{format}");
    }
    snap("callcentre-ranking-list", &["ranking", "list"]);
    snap("callcentre-input-list", &["input", "list"]);
    snap(
        "callcentre-explain",
        &["explain", "--ranking", "6", "--staff", "C1"],
    );
    ok(
        dir,
        &[
            "receipt",
            "issue",
            "--ranking",
            "6",
            "--staff",
            "C3",
            "--out",
            "c3.json",
        ],
    );
    // A receipt file is never overwritten.
    fails(
        dir,
        &[
            "receipt",
            "issue",
            "--ranking",
            "6",
            "--staff",
            "C3",
            "--out",
            "c3.json",
        ],
        2,
    );
    snap(
        "callcentre-receipt-verify",
        &[
            "receipt",
            "verify",
            "c3.json",
            "--log-vkey",
            &w.log_vkey,
            "--ledger",
            "ledger",
        ],
    );
    // Every published ranking is replayed, and the count says so.
    let replay = ok(dir, &["replay", "--all"]);
    assert!(
        replay.contains("1 of 1 ranking(s) replayed to the published result"),
        "{replay}"
    );
    let replay: serde_json::Value =
        serde_json::from_str(&ok(dir, &["replay", "--all", "--format", "json"])).expect("json");
    assert_eq!(replay["replayed"], 1);
    assert_eq!(replay["matching"], 1);

    // Every read command reads a bundle as it reads the ledger.
    ok(dir, &["export", "--out", "b"]);
    let from_bundle = |args: &[&str]| {
        let mut v: Vec<&str> = args.to_vec();
        v.extend(["--bundle", "b", "--log-vkey", &w.log_vkey]);
        ok(dir, &v)
    };
    for args in [
        &["ranking", "show", "6"][..],
        &["ranking", "list"],
        &["input", "list"],
        &["explain", "--ranking", "6", "--staff", "C1"],
    ] {
        assert_eq!(from_bundle(args), ok(dir, args), "{args:?}");
    }
    let list: serde_json::Value =
        serde_json::from_str(&from_bundle(&["ranking", "list", "--format", "json"])).expect("json");
    assert_eq!(list[0]["ranking"], 6);
    assert_eq!(list[0]["current"], true);
    // A ledger verified against another log key than its own is a finding.
    let admin = ok(dir, &["key", "show", "admin.key"]);
    let admin = admin
        .lines()
        .find_map(|l| l.strip_prefix("vkey:   "))
        .expect("vkey");
    let err = fails(dir, &["verify", "--log-vkey", admin], 1);
    assert!(err.contains("is not the expected log key"), "{err}");
    let v = ok(dir, &["verify", "--log-vkey", &w.log_vkey]);
    assert!(v.contains(&format!("log key: {}", w.log_vkey)), "{v}");

    // A corrected export: the dry recompute warns, a plain republish is
    // refused, a deliberate re-run with a reason becomes current.
    fs::write(
        dir.join("calls.csv"),
        CALLS.replace("C5,陈静,50,5", "C5,陈静,60,5"),
    )
    .expect("write");
    ok(
        dir,
        &[
            "input",
            "record",
            "--signer",
            "steward.key",
            "--period",
            "2025-01",
            "--source",
            "calls",
            "calls.csv",
        ],
    );
    let o = crate::support::rankproof(
        dir,
        &["rank", "--period", "2025-01", "--rules", "callcentre@0.1.0"],
    );
    assert!(o.status.success());
    let warn = String::from_utf8_lossy(&o.stderr);
    assert!(
        warn.contains(
            "differ from the current published ranking 6 (calls: entry 7 instead of entry 5)"
        ),
        "{warn}"
    );
    let err = fails(dir, &publish, 2);
    assert!(err.contains("--supersedes 6 --reason TEXT"), "{err}");
    fails(dir, &[&publish[..], &["--supersedes", "6"]].concat(), 2);
    let out = ok(
        dir,
        &[
            &publish[..],
            &["--supersedes", "6", "--reason", "C5's calls corrected"],
        ]
        .concat(),
    );
    assert!(out.contains("published as ranking 8"), "{out}");
    assert!(out.contains("it supersedes ranking 6"), "{out}");
    let list = ok(dir, &["ranking", "list"]);
    assert!(list.contains("superseded by 8"), "{list}");
    let v = ok(
        dir,
        &[
            "receipt",
            "verify",
            "c3.json",
            "--log-vkey",
            &w.log_vkey,
            "--ledger",
            "ledger",
        ],
    );
    assert!(v.contains("ranking 6 was superseded by ranking 8"), "{v}");
    let log = ok(dir, &["log"]);
    assert!(
        log.contains("ranking of 2025-01 under callcentre@0.1.0, N=5, supersedes 6 (current)"),
        "{log}"
    );
}

#[test]
fn a_closed_stdout_is_a_quiet_exit() {
    let w = World::new("pipe.example/ledger");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rankproof"))
        .args(["log"])
        .current_dir(w.dir())
        .env_remove("RANKPROOF_LEDGER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the reading end before the binary writes.
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(141), "{o:?}");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
