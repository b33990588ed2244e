//! The workflow at its boundary: in-process, on memory storage, matching
//! typed errors and outcomes. One test binary.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use rankproof_engine::synth::{generate, CrmHeaders};
use rankproof_engine::Period;
use rankproof_ledger::{Blob, Hash, Kind, Ledger, MemStorage, Role, SecretKey};
use rankproof_workflow::{
    Body, ErrorClass, FixedClock, HexHash, Mismatch, PublishOutcome, RankingPublish, RecordOutcome,
    RecordRequest, RulesOutcome, RulesPublish, Salts, Supersede, Timestamp, Workflow,
    WorkflowError,
};

struct World {
    wf: Workflow<MemStorage>,
    storage: MemStorage,
    admin: SecretKey,
    hr: SecretKey,
    steward: SecretKey,
    operator: SecretKey,
}

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Every file below `dir`, by relative path.
fn package_files(dir: &str) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let root = repo().join(dir);
    let mut out = BTreeMap::new();
    walk(&root, &root, &mut out);
    out
}

fn q1() -> Period {
    "2025-Q1".parse().unwrap()
}

fn world() -> World {
    let log = SecretKey::generate("t.example/log").unwrap();
    let admin = SecretKey::generate("admin").unwrap();
    let hr = SecretKey::generate("hr").unwrap();
    let steward = SecretKey::generate("steward").unwrap();
    let operator = SecretKey::generate("operator").unwrap();
    let storage = MemStorage::new();
    let mut l = Ledger::create(
        storage.clone(),
        "t.example/log",
        &log,
        &[admin.verifier().clone()],
    )
    .unwrap();
    l.attach_log_key(log).unwrap();
    l.grant(hr.verifier(), Role::Hr, &admin).unwrap();
    l.grant(steward.verifier(), Role::Steward, &admin).unwrap();
    l.grant(operator.verifier(), Role::Operator, &admin)
        .unwrap();
    World {
        wf: Workflow::open(l)
            .unwrap()
            .with_clock(FixedClock("2025-04-01T09:00:00Z".parse().unwrap())),
        storage,
        admin,
        hr,
        steward,
        operator,
    }
}

fn record(w: &mut World, source: &str, csv: &str) -> RecordOutcome {
    let req = RecordRequest {
        period: q1(),
        source: source.into(),
        file_name: format!("{source}.csv"),
        bytes: csv.as_bytes().to_vec(),
        rules: Some("marketing@1.0.0".into()),
        options: Default::default(),
    };
    let steward = w.steward.clone();
    w.wf.record_input(req, &steward).unwrap()
}

/// marketing@1.0.0 published, a 12-person cohort recorded for 2025-Q1.
fn recorded() -> World {
    let mut w = world();
    let hr = w.hr.clone();
    let out =
        w.wf.publish_rules(package_files("rules/marketing-v1"), &hr)
            .unwrap();
    assert!(
        matches!(out, RulesOutcome::Published { seq: 4, .. }),
        "{out:?}"
    );
    let c = generate(12, 5, CrmHeaders::Canonical);
    for (s, csv) in [("crm", &c.crm), ("survey", &c.survey), ("oa", &c.oa)] {
        assert!(matches!(
            record(&mut w, s, csv),
            RecordOutcome::Recorded { .. }
        ));
    }
    w
}

/// ... and its ranking published as entry 8.
fn ranked() -> World {
    let mut w = recorded();
    let op = w.operator.clone();
    let out =
        w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &op)
            .unwrap();
    assert!(matches!(
        out,
        PublishOutcome::Published {
            seq: 8,
            supersedes: None,
            ..
        }
    ));
    w
}

#[test]
fn journey_publishes_once_replays_explains_and_issues_receipts() {
    let mut w = ranked();
    let op = w.operator.clone();
    // Identical materials: nothing written, the ranking named.
    let again =
        w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &op)
            .unwrap();
    assert!(
        matches!(again, PublishOutcome::Unchanged { seq: 8 }),
        "{again:?}"
    );
    assert_eq!(w.wf.entries().len(), 9);
    // Identical rules again: nothing written.
    let hr = w.hr.clone();
    let same =
        w.wf.publish_rules(package_files("rules/marketing-v1"), &hr)
            .unwrap();
    assert_eq!(
        same,
        RulesOutcome::AlreadyPublished {
            seq: 4,
            id: "marketing@1.0.0".into()
        }
    );
    assert_eq!(w.wf.entries().len(), 9);

    let audit = w.wf.audit();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
    assert_eq!((audit.workflow_entries, audit.packages_checked), (5, 1));
    let r = w.wf.ranking("8").unwrap();
    assert!(r.is_current());
    assert_eq!(
        r.body.time.as_ref().unwrap().as_str(),
        "2025-04-01T09:00:00Z"
    );
    let rep = w.wf.replay(r);
    assert!(rep.mismatches.is_empty(), "{:?}", rep.mismatches);
    assert_eq!(rep.n, 12);

    // Every weighted term adds up to its score's unrounded value.
    let published = w.wf.published_results(r).unwrap();
    for idx in 0..published.len() {
        let rec = published.doc.record(idx).unwrap();
        let ex = w.wf.explain("8", &rec.staff_id).unwrap();
        let dims = ex.record.explanation().dimensions;
        let names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["customer", "sales", "teamwork", "total"]);
        for d in &dims {
            assert!(!d.terms.is_empty());
            let sum: rust_decimal::Decimal = d.sum.as_deref().unwrap().parse().unwrap();
            let value: rust_decimal::Decimal = d.value.as_deref().unwrap().parse().unwrap();
            // The script rounds the total itself (rhu(., 2)).
            let rhu = |x: rust_decimal::Decimal| {
                x.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
            };
            if d.name == "total" {
                assert_eq!(rhu(sum), value, "{} of {}", d.name, rec.staff_id);
            } else {
                assert_eq!(sum, value, "{} of {}", d.name, rec.staff_id);
            }
            assert!(d.reported.is_some());
        }
    }

    // Receipts verify under the log key and show the package's own fields.
    let (seq, all) = w.wf.receipts("8").unwrap();
    assert_eq!((seq, all.len()), (8, 12));
    let log_key = w.wf.ledger().log_key().clone();
    for (staff, bytes) in &all {
        let v = rankproof_workflow::verify_receipt(bytes, &log_key).unwrap();
        assert_eq!(&v.record.staff_id, staff);
        let names: Vec<&str> = v.record.scores.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["customer", "sales", "teamwork", "total"]);
    }
}

#[test]
fn a_rerun_needs_supersedes_and_a_reason_and_becomes_current() {
    let mut w = ranked();
    let op = w.operator.clone();
    // The same export again: nothing written, the record in force named.
    let same = generate(12, 5, CrmHeaders::Canonical);
    assert_eq!(
        record(&mut w, "survey", &same.survey),
        RecordOutcome::AlreadyRecorded {
            seq: 6,
            package: "marketing@1.0.0".into()
        }
    );
    assert_eq!(w.wf.entries().len(), 9);
    // A corrected survey: the dry recompute says the inputs differ.
    let c = generate(12, 6, CrmHeaders::Canonical);
    assert!(matches!(
        record(&mut w, "survey", &c.survey),
        RecordOutcome::Recorded {
            seq: 9,
            supersedes: Some((6, _)),
            ..
        }
    ));
    let dry = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    let (cur, what) = dry.differs_from_current.unwrap();
    assert_eq!(cur, 8);
    assert_eq!(what, ["survey: entry 9 instead of entry 6"]);
    let refused = |w: &mut World, s: Option<Supersede>| {
        let e =
            w.wf.publish_ranking(&q1(), "marketing@1.0.0", s, &op)
                .unwrap_err();
        assert_eq!(e.class(), ErrorClass::BadInput, "{e}");
        assert_eq!(w.wf.entries().len(), 10, "nothing written");
        e.to_string()
    };
    assert!(refused(&mut w, None).contains("--supersedes 8 --reason"));
    let wrong = Supersede {
        ranking: 7,
        reason: "x".into(),
    };
    assert!(refused(&mut w, Some(wrong))
        .contains("the current ranking of 2025-Q1 under marketing is 8"));
    let blank = Supersede {
        ranking: 8,
        reason: " ".into(),
    };
    assert!(refused(&mut w, Some(blank)).contains("non-empty --reason"));
    let ok = Supersede {
        ranking: 8,
        reason: "survey export corrected".into(),
    };
    let out =
        w.wf.publish_ranking(&q1(), "marketing@1.0.0", Some(ok), &op)
            .unwrap();
    assert!(matches!(
        out,
        PublishOutcome::Published {
            seq: 10,
            supersedes: Some(8),
            ..
        }
    ));
    let c = w.wf.catalog();
    assert_eq!(c.current_ranking("2025-Q1", "marketing").unwrap().seq, 10);
    // The re-run used the record in force; the superseded one stays.
    assert_eq!(c.ranking(10).unwrap().body.inputs["survey"].entry, 9);
    assert_eq!(c.chain("2025-Q1", "survey"), [6, 9]);
    assert_eq!(c.input(6).unwrap().superseded_by, Some(9));
    assert_eq!(c.ranking(8).unwrap().superseded_by, Some(10));
    assert_eq!(
        c.ranking(10).unwrap().body.reason.as_deref(),
        Some("survey export corrected")
    );
    assert!(w.wf.audit().problems.is_empty());
    // Both rankings replay from their own materials.
    for r in w.wf.catalog().rankings(None) {
        assert!(w.wf.replay(r).mismatches.is_empty());
    }
}

/// Append a ranking.publish signed by the real operator whose body is the
/// honest one changed by `edit`; return the last false claim verify finds
/// (it must be about that entry).
fn forged_claim_in_catalog(w: &mut World, edit: impl FnOnce(&mut RankingPublish)) -> String {
    let dry = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    let salts = Salts::fresh(dry.doc.len());
    let root = rankproof_workflow::results::root_of(&dry.doc, &salts).unwrap();
    let result = dry.doc.bytes().to_vec();
    let mut body = RankingPublish {
        period: "2025-Q1".into(),
        rules: dry.rules.clone(),
        inputs: dry.inputs.clone(),
        prior_rankings: vec![],
        engine: rankproof_workflow::EngineInfo {
            version: dry.ranking.engine_version.clone(),
            limits: dry.ranking.limits.to_json(),
        },
        result: HexHash(Hash::of(&result)),
        salts: HexHash(Hash::of(&salts.to_blob())),
        results_root: HexHash(root),
        n: dry.doc.len() as u64,
        supersedes: None,
        reason: None,
        time: None,
    };
    edit(&mut body);
    let op = w.operator.clone();
    w.wf.ledger_mut()
        .append(
            Kind::RankingPublish,
            body.to_map(),
            vec![result.into(), salts.to_blob().into()],
            &op,
        )
        .unwrap();
    w.wf.refresh().unwrap();
    // The ledger itself verifies: signatures, roles and blobs are fine.
    w.wf.ledger().verify(None).unwrap();
    let audit = w.wf.audit();
    let p = audit.problems.last().expect("a false claim");
    assert_eq!(
        (p.seq, p.kind),
        (w.wf.entries().len() as u64 - 1, "ranking.publish")
    );
    p.claim.clone()
}

/// As [`forged_claim_in_catalog`], for claims the catalog itself refuses:
/// the ranking is not taken into it.
fn forged_claim(w: &mut World, edit: impl FnOnce(&mut RankingPublish)) -> String {
    let claim = forged_claim_in_catalog(w, edit);
    let seq = w.wf.entries().len() as u64 - 1;
    assert!(w.wf.catalog().ranking(seq).is_none());
    claim
}

#[test]
fn verify_rejects_rankings_whose_claims_about_cited_entries_are_false() {
    // The honest body passes (control).
    let w = recorded();
    let dry = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    assert!(dry.differs_from_current.is_none());

    let claim = forged_claim(&mut recorded(), |b| b.rules.version = "9.9.9".into());
    assert!(
        claim.contains("rules marketing@9.9.9 differs from marketing@1.0.0"),
        "{claim}"
    );
    let claim = forged_claim(&mut recorded(), |b| b.rules.name = "sales".into());
    assert!(claim.contains("differs from marketing@1.0.0"), "{claim}");
    let claim = forged_claim(&mut recorded(), |b| {
        b.rules.package_hash = HexHash(Hash::of(b"other"))
    });
    assert!(claim.contains("rules.package_hash"), "{claim}");
    let claim = forged_claim(&mut recorded(), |b| {
        b.inputs.get_mut("crm").unwrap().dataset = HexHash(Hash::of(b"x"))
    });
    assert!(
        claim.contains("inputs.crm.dataset") && claim.contains("differs from entry 5"),
        "{claim}"
    );
    // An input recorded for another source.
    let claim = forged_claim(&mut recorded(), |b| {
        b.inputs.get_mut("crm").unwrap().entry = 6
    });
    assert!(claim.contains("recorded for source survey"), "{claim}");
    // An input cited from the future.
    let claim = forged_claim(&mut recorded(), |b| {
        b.inputs.get_mut("crm").unwrap().entry = 8
    });
    assert!(claim.contains("recorded after the ranking"), "{claim}");
    // A rules entry that is not a rules.publish.
    let claim = forged_claim(&mut recorded(), |b| b.rules.entry = 5);
    assert!(
        claim.contains("rules.entry 5 is not an earlier rules.publish"),
        "{claim}"
    );
}

#[test]
fn verify_rejects_rankings_that_do_not_cite_exactly_the_packages_sources() {
    // A source left out: each cited input is honest, but the ranking is not
    // a ranking under the package (its engine needs every source).
    let claim = forged_claim_in_catalog(&mut recorded(), |b| {
        b.inputs.remove("oa");
    });
    assert_eq!(
        claim,
        "inputs cite sources [crm, survey] but marketing@1.0.0 declares [crm, oa, survey]"
    );
    // A source the package does not have, citing a real input entry.
    let claim = forged_claim_in_catalog(&mut recorded(), |b| {
        let crm = b.inputs.get("crm").unwrap().clone();
        b.inputs.insert("bonus".into(), crm);
    });
    assert!(
        claim.contains("inputs.bonus.entry 5 was recorded for source crm"),
        "{claim}"
    );
}

#[test]
fn verify_rejects_an_input_record_whose_schema_is_not_its_packages() {
    // A steward re-records the crm dataset in force (same blobs) with a
    // schema that loosens a bound: signatures, roles and the catalog's own
    // claims hold, the package's declaration does not.
    let mut w = recorded();
    let honest = w.wf.catalog().input(5).unwrap().clone();
    let entry = w.wf.ledger().entry(5).unwrap().unwrap();
    let blobs: Vec<Vec<u8>> = entry
        .blobs()
        .iter()
        .map(|h| w.wf.ledger().blob(h).unwrap().unwrap())
        .collect();
    let mut body = honest.body.clone();
    body.supersedes = Some(5);
    let cols = body.schema["columns"].as_array_mut().unwrap();
    let amount = cols
        .iter_mut()
        .find(|c| c["name"] == "sales_amount")
        .unwrap();
    amount["type"] = "text".into();
    let steward = w.steward.clone();
    w.wf.ledger_mut()
        .append(
            Kind::InputRecord,
            body.to_map(),
            blobs.into_iter().map(Blob::new).collect(),
            &steward,
        )
        .unwrap();
    w.wf.refresh().unwrap();
    w.wf.ledger().verify(None).unwrap();
    let p =
        w.wf.audit()
            .problems
            .last()
            .cloned()
            .expect("a false claim");
    assert_eq!((p.seq, p.kind), (8, "input.record"));
    assert_eq!(
        p.claim,
        "schema differs from the schema marketing@1.0.0 declares for source crm"
    );
}

#[test]
fn verify_rejects_inputs_of_another_period_or_already_superseded() {
    // Another period: the crm dataset recorded for 2025-Q2 is cited by a
    // 2025-Q1 ranking.
    let mut w = recorded();
    let c = generate(12, 5, CrmHeaders::Canonical);
    let steward = w.steward.clone();
    let q2 = RecordRequest {
        period: "2025-Q2".parse().unwrap(),
        source: "crm".into(),
        file_name: "crm.csv".into(),
        bytes: c.crm.as_bytes().to_vec(),
        rules: None,
        options: Default::default(),
    };
    assert!(matches!(
        w.wf.record_input(q2, &steward).unwrap(),
        RecordOutcome::Recorded { seq: 8, .. }
    ));
    let claim = forged_claim(&mut w, |b| b.inputs.get_mut("crm").unwrap().entry = 8);
    assert!(
        claim.contains("recorded for period 2025-Q2, not 2025-Q1"),
        "{claim}"
    );

    // Superseded before the ranking: a corrected survey is recorded, the
    // ranking still cites the old one.
    let mut w = recorded();
    let c = generate(12, 6, CrmHeaders::Canonical);
    record(&mut w, "survey", &c.survey);
    let old_survey = w.wf.catalog().input(6).unwrap().body.dataset;
    let claim = forged_claim(&mut w, |b| {
        let s = b.inputs.get_mut("survey").unwrap();
        s.entry = 6;
        s.dataset = old_survey;
    });
    assert!(
        claim.contains("inputs.survey.entry 6 was already superseded by entry 8"),
        "{claim}"
    );
}

#[test]
fn a_second_ranking_without_supersedes_is_a_false_claim() {
    let mut w = ranked();
    let c = generate(12, 6, CrmHeaders::Canonical);
    record(&mut w, "survey", &c.survey);
    let claim = forged_claim(&mut w, |_| {});
    assert!(claim.contains("ranking 8 is already current"), "{claim}");
    let claim = forged_claim(&mut w, |b| {
        b.supersedes = Some(8);
        b.reason = None;
    });
    assert!(claim.contains("without a reason"), "{claim}");
}

#[test]
fn verify_holds_published_packages_to_the_writers_rules() {
    // The writer refuses a package with no cases.
    let mut w = world();
    let hr = w.hr.clone();
    let mut files = package_files("rules/marketing-v1");
    // no cases (the manifest's `files` pattern still names HAND-CHECKS.md)
    files.retain(|k, _| !k.starts_with("tests/") || k == "tests/HAND-CHECKS.md");
    let e = w.wf.publish_rules(files.clone(), &hr).unwrap_err();
    assert_eq!(e.class(), ErrorClass::BadInput);
    assert!(e.to_string().contains("has no test cases"), "{e}");
    assert_eq!(w.wf.entries().len(), 4, "nothing written");

    // Written behind the writer's back (signed by the real hr key), verify
    // finds it.
    let append_pkg = |w: &mut World, files: &BTreeMap<String, Vec<u8>>| {
        let pkg = rankproof_engine::RulePackage::from_files(files.clone()).unwrap();
        let body = RulesPublish {
            name: pkg.name().into(),
            version: pkg.version().to_string(),
            description: pkg.description().into(),
            effective_from: pkg.effective_from().to_string(),
            effective_until: None,
            package_hash: HexHash(Hash(pkg.hash())),
            files: pkg
                .files()
                .iter()
                .map(|(k, v)| (k.clone(), HexHash(Hash::of(v))))
                .collect(),
            time: None,
        };
        let hr = w.hr.clone();
        w.wf.ledger_mut()
            .append(
                Kind::RulesPublish,
                body.to_map(),
                pkg.files().values().cloned().map(Blob::new).collect(),
                &hr,
            )
            .unwrap();
        w.wf.refresh().unwrap();
    };
    append_pkg(&mut w, &files);
    let p = w.wf.audit().problems;
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].seq == 4 && p[0].claim.contains("has no test cases"),
        "{p:?}"
    );

    // A package whose own case fails.
    let mut w = world();
    let mut files = package_files("rules/marketing-v1");
    let (path, expected) = files
        .iter_mut()
        .find(|(k, _)| k.ends_with("expected.json"))
        .unwrap();
    let path = path.clone();
    let text = String::from_utf8(expected.clone()).unwrap();
    let edited = text
        .replacen("\"grade\": \"", "\"grade\": \"Z", 1)
        .replacen("\"grade\":\"", "\"grade\":\"Z", 1);
    assert_ne!(text, edited, "{path}");
    *expected = edited.into_bytes();
    let hr = w.hr.clone();
    let e = w.wf.publish_rules(files.clone(), &hr).unwrap_err();
    assert!(e.to_string().contains("own test cases fail"), "{e}");
    append_pkg(&mut w, &files);
    let p = w.wf.audit().problems;
    assert!(
        p.len() == 1 && p[0].claim.contains("own test cases fail"),
        "{p:?}"
    );

    // The same name@version again with other content.
    let mut w = world();
    let hr = w.hr.clone();
    w.wf.publish_rules(package_files("rules/marketing-v1"), &hr)
        .unwrap();
    let mut other = package_files("rules/marketing-v1");
    other
        .get_mut("tests/HAND-CHECKS.md")
        .unwrap()
        .extend_from_slice(b"changed after publishing");
    let e = w.wf.publish_rules(other.clone(), &hr).unwrap_err();
    assert!(
        e.to_string().contains("a published version never changes"),
        "{e}"
    );
    append_pkg(&mut w, &other);
    let p = w.wf.audit().problems;
    assert!(p.len() == 1 && p[0].seq == 5, "{p:?}");
    assert!(p[0].claim.contains("already published as entry 4"), "{p:?}");
}

#[test]
fn input_record_refuses_to_guess_between_packages_and_names_the_one_used() {
    let mut w = world();
    let hr = w.hr.clone();
    w.wf.publish_rules(package_files("rules/marketing-v1"), &hr)
        .unwrap();
    w.wf.publish_rules(package_files("rules/marketing-v2"), &hr)
        .unwrap();
    let c = generate(12, 5, CrmHeaders::Canonical);
    let req = |rules: Option<&str>| RecordRequest {
        period: q1(),
        source: "crm".into(),
        file_name: "exports/crm.csv".into(),
        bytes: c.crm.as_bytes().to_vec(),
        rules: rules.map(Into::into),
        options: Default::default(),
    };
    let steward = w.steward.clone();
    let e = w.wf.record_input(req(None), &steward).unwrap_err();
    assert_eq!(e.class(), ErrorClass::BadInput);
    assert!(
        e.to_string().contains("marketing@1.0.0, marketing@2.0.0"),
        "{e}"
    );
    assert_eq!(w.wf.entries().len(), 6);
    let out =
        w.wf.record_input(req(Some("marketing@2.0.0")), &steward)
            .unwrap();
    assert!(
        matches!(&out, RecordOutcome::Recorded { package, seq: 6, .. } if package == "marketing@2.0.0")
    );
    let rec = w.wf.catalog().input(6).unwrap();
    assert_eq!(rec.body.file.name, "crm.csv");
    assert_eq!(rec.body.rules, "marketing@2.0.0");
    // The same dataset again: nothing written, the package named.
    let again =
        w.wf.record_input(req(Some("marketing@2.0.0")), &steward)
            .unwrap();
    assert_eq!(
        again,
        RecordOutcome::AlreadyRecorded {
            seq: 6,
            package: "marketing@2.0.0".into()
        }
    );
}

#[test]
fn refused_signers_write_nothing_even_when_nothing_would_be_written() {
    let mut w = ranked();
    let steward = w.steward.clone();
    let e =
        w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &steward)
            .unwrap_err();
    assert_eq!(e.class(), ErrorClass::BadInput);
    assert!(matches!(e, WorkflowError::Ledger(_)), "{e:?}");
    let admin = w.admin.clone();
    w.wf.ledger_mut()
        .revoke(w.operator.verifier(), &admin)
        .unwrap();
    w.wf.refresh().unwrap();
    let op = w.operator.clone();
    // Identical materials would write nothing, but the key is revoked.
    let e =
        w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &op)
            .unwrap_err();
    assert!(e.to_string().contains("revoked"), "{e}");
    assert_eq!(w.wf.entries().len(), 10);
}

#[test]
fn times_going_backwards_are_reported_not_refused() {
    let mut w = recorded();
    w.wf = std::mem::replace(&mut w.wf, world().wf)
        .with_clock(FixedClock("2025-03-31T23:59:59Z".parse().unwrap()));
    let op = w.operator.clone();
    w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &op)
        .unwrap();
    let a = w.wf.audit();
    assert!(a.problems.is_empty());
    assert_eq!(a.time_warnings.len(), 1);
    let t = &a.time_warnings[0];
    assert_eq!((t.seq, t.after_seq), (8, 7));
    assert_eq!(t.time, "2025-03-31T23:59:59Z".parse::<Timestamp>().unwrap());
}

#[test]
fn replay_names_staff_and_fields_of_a_doctored_ranking() {
    let mut w = recorded();
    // The operator publishes a result computed from an edited survey.
    let c = generate(12, 5, CrmHeaders::Canonical);
    let survey: String = c
        .survey
        .lines()
        .enumerate()
        .map(|(k, line)| {
            let mut cells: Vec<&str> = line.split(',').collect();
            if (1..=3).contains(&k) {
                cells[1] = "1"; // csat
            }
            cells.join(",") + "\n"
        })
        .collect();
    let pkg =
        rankproof_engine::RulePackage::from_files(package_files("rules/marketing-v1")).unwrap();
    let mut datasets = BTreeMap::new();
    for (s, csv) in [
        ("crm", c.crm.as_str()),
        ("survey", survey.as_str()),
        ("oa", c.oa.as_str()),
    ] {
        let d =
            rankproof_engine::Dataset::parse(pkg.source(s).unwrap(), s, csv.as_bytes()).unwrap();
        datasets.insert(d.schema().source.clone(), d);
    }
    let doctored = rankproof_engine::rank(&pkg, &datasets, &q1()).unwrap();
    let doc = rankproof_workflow::ResultDoc::parse(doctored.canonical_bytes()).unwrap();
    let salts = Salts::fresh(doc.len());
    let root = rankproof_workflow::results::root_of(&doc, &salts).unwrap();
    // Honest claims about the cited entries, a result they do not produce.
    let honest = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    assert_ne!(
        honest.doc.bytes(),
        doc.bytes(),
        "the edit changes the ranking"
    );
    let body = RankingPublish {
        period: "2025-Q1".into(),
        rules: honest.rules.clone(),
        inputs: honest.inputs.clone(),
        prior_rankings: vec![],
        engine: rankproof_workflow::EngineInfo {
            version: doctored.engine_version.clone(),
            limits: doctored.limits.to_json(),
        },
        result: HexHash(Hash::of(doc.bytes())),
        salts: HexHash(Hash::of(&salts.to_blob())),
        results_root: HexHash(root),
        n: doc.len() as u64,
        supersedes: None,
        reason: None,
        time: None,
    };
    let op = w.operator.clone();
    w.wf.ledger_mut()
        .append(
            Kind::RankingPublish,
            body.to_map(),
            vec![doc.bytes().to_vec().into(), salts.to_blob().into()],
            &op,
        )
        .unwrap();
    w.wf.refresh().unwrap();
    w.wf.ledger().verify(None).unwrap();
    assert!(w.wf.audit().problems.is_empty(), "the claims are true");
    let r = w.wf.ranking("8").unwrap();
    let m = w.wf.replay(r).mismatches;
    assert!(matches!(m[0], Mismatch::ResultHash { .. }), "{m:?}");
    assert!(
        m.iter()
            .any(|x| matches!(x, Mismatch::Field { field, .. } if field == "customer")),
        "{m:?}"
    );
    assert_eq!(m.last(), Some(&Mismatch::ResultsRoot), "{m:?}");
}

#[test]
fn a_tampered_blob_is_a_finding() {
    let w = ranked();
    let r = w.wf.ranking("8").unwrap().clone();
    // Overwrite the stored result document.
    let mut key = b"b".to_vec();
    key.extend_from_slice(&r.body.result.0 .0);
    w.storage.raw_put(&key, b"{}").unwrap();
    let e = w.wf.published_results(&r).unwrap_err();
    assert_eq!(e.class(), ErrorClass::Finding, "{e}");
    // The ledger's own verification names the blob too.
    assert!(w.wf.ledger().verify(None).is_err());
}

/// Issue 9: in a two-person cohort a staff member holding their own receipt
/// recovered the colleague's survey row by hashing guesses against the
/// unsalted dataset and result hashes the receipt revealed. Now every hash
/// a receipt carries commits to a secret recorded in the ledger: even the
/// right guess (the true files) matches none of them.
#[test]
fn a_receipt_in_a_two_person_cohort_confirms_no_guess_of_a_colleagues_data() {
    use rankproof_engine::{Dataset, RulePackage};
    let mut w = world();
    let hr = w.hr.clone();
    w.wf.publish_rules(package_files("rules/marketing-v1"), &hr)
        .unwrap();
    let c = generate(2, 11, CrmHeaders::Canonical);
    for (s, csv) in [("crm", &c.crm), ("survey", &c.survey), ("oa", &c.oa)] {
        assert!(matches!(
            record(&mut w, s, csv),
            RecordOutcome::Recorded { .. }
        ));
    }
    let op = w.operator.clone();
    w.wf.publish_ranking(&q1(), "marketing@1.0.0", None, &op)
        .unwrap();
    let me = c.crm.lines().nth(1).unwrap().split(',').next().unwrap();
    let receipt = w.wf.receipt("8", me).unwrap();

    // Every hex string the receipt reveals, at any depth, including inside
    // the entries it carries (the ranking entry and the grant chain).
    fn hexes(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => {
                if let Ok(inner) = serde_json::from_str::<serde_json::Value>(s) {
                    hexes(&inner, out);
                }
                for word in s.split(|c: char| !c.is_ascii_hexdigit()) {
                    if word.len() >= 64 {
                        out.push(word.to_ascii_lowercase());
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| hexes(x, out)),
            serde_json::Value::Object(m) => m.values().for_each(|x| hexes(x, out)),
            _ => {}
        }
    }
    let mut revealed = Vec::new();
    hexes(&serde_json::from_slice(&receipt).unwrap(), &mut revealed);
    assert!(!revealed.is_empty());

    // The attacker's best guess: the true files, read as the product reads
    // them, and the ranking a dry run computes from them.
    let pkg = RulePackage::from_files(package_files("rules/marketing-v1")).unwrap();
    let mut guessed = BTreeMap::new();
    for (s, csv) in [("crm", &c.crm), ("survey", &c.survey), ("oa", &c.oa)] {
        let schema = pkg.source(s).unwrap();
        let (d, _) =
            Dataset::read(csv.as_bytes(), "guess.csv", &Default::default(), schema).unwrap();
        let h = d.sha256_hex();
        assert!(!revealed.contains(&h), "the receipt confirms the {s} guess");
        guessed.insert(schema.source.clone(), d);
    }
    let dry = rankproof_engine::rank(&pkg, &guessed, &q1()).unwrap();
    assert!(
        !revealed.contains(&dry.sha256_hex()),
        "the receipt confirms the result guess"
    );

    // Control: the receipt does carry the survey dataset's hash, and the
    // guess hashes to it once the recorded secret salt (not in the receipt)
    // is added: the salt is the one thing between the guess and the hash.
    let survey =
        w.wf.catalog()
            .dataset_in_force("2025-Q1", "survey")
            .unwrap()
            .clone();
    let recorded_hash = survey.body.dataset.to_hex();
    assert!(revealed.contains(&recorded_hash));
    let schema = pkg.source("survey").unwrap();
    let stored = w.wf.dataset(&survey, schema).unwrap();
    let salt = stored.salt().expect("a recorded dataset has a salt");
    assert!(!revealed.contains(&hex::encode(salt)));
    let mut d = guessed.remove(&schema.source).unwrap();
    d.set_salt(Some(salt));
    assert_eq!(d.sha256_hex(), recorded_hash);
}

#[test]
fn a_document_read_from_the_engines_spans_equals_the_parsed_document() {
    let w = recorded();
    let dry = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    let (bytes, spans) = dry.ranking.canonical_bytes_and_spans();
    let parsed = rankproof_workflow::ResultDoc::parse(bytes.clone()).unwrap();
    let fast = rankproof_workflow::ResultDoc::from_spans(bytes.clone(), spans.clone()).unwrap();
    assert_eq!(fast.header(), parsed.header());
    assert_eq!(fast.len(), parsed.len());
    assert!(fast.len() > 1);
    for i in 0..fast.len() {
        assert_eq!(fast.record_bytes(i), parsed.record_bytes(i), "record {i}");
    }
    // Spans that do not cover the array's elements exactly are refused.
    let mut shifted = spans.clone();
    shifted[1].start += 1;
    assert!(rankproof_workflow::ResultDoc::from_spans(bytes.clone(), shifted).is_err());
    let mut short = spans.clone();
    short.pop();
    assert!(rankproof_workflow::ResultDoc::from_spans(bytes.clone(), short).is_err());
    assert!(rankproof_workflow::ResultDoc::from_spans(bytes.clone(), Vec::new()).is_err());
    let mut long = spans;
    let last = long.last().unwrap().clone();
    long.push(last.end + 1..last.end + 2);
    assert!(rankproof_workflow::ResultDoc::from_spans(bytes, long).is_err());
}

#[test]
fn records_read_from_the_engines_columns_equal_those_read_from_the_document() {
    let w = recorded();
    let dry = w.wf.dry_rank(&q1(), "marketing@1.0.0").unwrap();
    let fresh =
        rankproof_workflow::StaffRecord::all_from(&dry.ranking, &dry.doc.header().score_names);
    let stored = dry.doc.records_brief();
    assert_eq!(stored.len(), dry.doc.len());
    assert!(stored.len() > 1);
    assert_eq!(fresh, stored);
    // The cohort exercises what a summary carries besides the numbers.
    assert!(
        stored.iter().any(|r| !r.flags.is_empty()),
        "no record has a flag"
    );
    assert!(stored
        .iter()
        .any(|r| r.attributes.iter().any(|(_, v)| !v.is_ascii())));
}
