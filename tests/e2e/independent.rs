//! The formats are checkable by tools nobody here wrote into the binary:
//! the independent Python verifiers in tests/oracle/ (standard library only,
//! written from FORMAT.md alone) verify a real bundle and receipt made by
//! `rankproof demo`, and reject tampered copies.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{rankproof, text};

fn oracle(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/oracle")
        .join(script)
}

fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg(oracle(script))
        .args(args)
        .output()
        .expect("python3 runs")
}

#[test]
fn python_verifiers_accept_the_demo_and_reject_tampering() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("demo");
    let o = rankproof(tmp.path(), &["demo", "--dir", dir.to_str().expect("utf-8")]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let log_vkey = out
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("log "))
        .map(|v| v.trim().to_string())
        .expect("the demo prints the log key");
    let bundle = dir.join("bundle");
    let b = bundle.to_str().expect("utf-8");
    let o = python("verify_bundle.py", &[b, "--log-vkey", &log_vkey]);
    assert!(o.status.success(), "verify_bundle.py: {}", text(&o));
    let receipt = fs::read_dir(&dir)
        .expect("demo dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".receipt.json") && !name.contains("forged")
        })
        .expect("a receipt");
    let r = receipt.to_str().expect("utf-8");
    let o = python("verify_receipt.py", &[r, "--log-vkey", &log_vkey]);
    assert!(o.status.success(), "verify_receipt.py: {}", text(&o));

    // The forged receipt and the tampered bundle the demo made are rejected.
    let forged = dir.join(
        receipt
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .replace(".receipt.json", ".forged.receipt.json"),
    );
    let o = python(
        "verify_receipt.py",
        &[forged.to_str().expect("utf-8"), "--log-vkey", &log_vkey],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let tampered = dir.join("bundle-tampered");
    let o = python(
        "verify_bundle.py",
        &[tampered.to_str().expect("utf-8"), "--log-vkey", &log_vkey],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A swapped result blob: the Python verifier checks the results tree.
    let entries = fs::read_to_string(bundle.join("entries.jsonl")).expect("entries");
    let ranking: serde_json::Value = serde_json::from_str(
        entries
            .lines()
            .find(|l| l.contains("\"kind\":\"ranking.publish\""))
            .expect("a ranking entry"),
    )
    .expect("JSON");
    let result = ranking["body"]["result"].as_str().expect("result hash");
    let blob = bundle.join("blobs").join(result);
    let doc = fs::read_to_string(&blob).expect("result blob");
    fs::write(&blob, doc.replacen("\"grade\":\"B\"", "\"grade\":\"A\"", 1)).expect("write");
    let o = python("verify_bundle.py", &[b, "--log-vkey", &log_vkey]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
