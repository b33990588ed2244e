//! The marketing packages against a plain-Rust implementation of
//! RULESET-marketing.md, and the result document's shape.

use rankproof_engine::decimal::{canonical, rhu};
use rankproof_engine::{rank, EvalError, ENGINE_VERSION};

use crate::common::{package, q1, rank_synth, synth_inputs};
use crate::plain::rank_plain;

#[test]
fn script_agrees_with_plain_rust_on_synthetic_cohorts() {
    let pkg = package("marketing-v1");
    for (n, seed) in [(1, 1), (9, 2), (10, 3), (57, 4), (1000, 5)] {
        let inputs = synth_inputs(&pkg, n, seed);
        let r = rank(&pkg, &inputs, &q1()).unwrap();
        let p = rank_plain(&inputs);
        assert_eq!(r.n(), n);
        for (a, b) in r.results().iter().zip(p.iter()) {
            assert_eq!(
                a.staff_id.as_str(),
                b.staff_id,
                "n={n} position {}",
                a.position
            );
            assert_eq!(a.explanation.unrounded["sales"], b.sales);
            assert_eq!(a.explanation.unrounded["customer"], b.customer);
            assert_eq!(a.explanation.unrounded["teamwork"], b.teamwork);
            assert_eq!(a.scores["total"], b.total);
            assert_eq!(a.scores["sales"], rhu(b.sales, 2));
            assert_eq!((a.position, a.rank), (b.position, b.rank));
            assert_eq!(a.grade, b.grade, "{}", a.staff_id);
            assert_eq!(a.bonus_multiplier, b.bonus_multiplier, "{}", a.staff_id);
        }
    }
}

#[test]
fn result_document_has_the_required_fields() {
    let pkg = package("marketing-v1");
    let r = rank_synth(&pkg, 30, 9);
    let j: serde_json::Value = serde_json::from_slice(&r.canonical_bytes()).unwrap();
    assert_eq!(j["format"], "rankproof-ranking/2");
    assert_eq!(j["script_api"], 2);
    assert_eq!(j["engine_version"], ENGINE_VERSION);
    assert_eq!(j["package"]["name"], "marketing");
    assert_eq!(j["package"]["version"], "1.0.0");
    assert_eq!(j["package"]["hash"], pkg.hash_hex());
    assert_eq!(j["period"], "2025-Q1");
    assert_eq!(j["n"], 30);
    assert_eq!(j["limits"]["max_operations"], 100_000);
    assert_eq!(j["limits"].as_object().unwrap().len(), 11);
    assert_eq!(j["limits"]["max_element_operations"], 400);
    for s in ["crm", "survey", "oa"] {
        assert_eq!(j["inputs"][s]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(j["inputs"][s]["n_rows"], 30);
    }
    let results = j["results"].as_array().unwrap();
    for (i, x) in results.iter().enumerate() {
        assert_eq!(x["position"], i + 1);
        assert!(x["rank"].as_u64().unwrap() <= i as u64 + 1);
        for k in ["staff_id", "name", "region", "team", "grade"] {
            assert!(x[k].is_string(), "{k}");
        }
        for k in ["sales", "customer", "teamwork", "total", "bonus_multiplier"] {
            let s = x[k].as_str().unwrap();
            let d: rust_decimal::Decimal = s.parse().unwrap();
            assert_eq!(canonical(&d), s, "{k} is canonical");
        }
        let e = &x["explain"];
        assert!(e["inputs"]["sales_amount"].is_string());
        assert!(e["scoring"]["sales"]["terms"]["attainment_pts"][0].is_string());
        assert_eq!(e["scoring"]["total"]["terms"]["sales"][1], "0.6");
        assert_eq!(e["scoring"]["total"]["rounded_to"], 2);
        assert!(e["classification"]["collection_factor"].is_string());
    }
    // single values of explain are written once for the cohort
    assert!(j["explain"]["classification"]["grade_rule"]
        .as_str()
        .unwrap()
        .starts_with("forced distribution, N=30"));
    assert!(results[0]["explain"]["classification"]["grade_rule"].is_null());
    // the direct JCS writer agrees with an independent RFC 8785 implementation
    assert_eq!(
        serde_json_canonicalizer::to_vec(&j).unwrap(),
        r.canonical_bytes()
    );
    assert_eq!(
        serde_json_canonicalizer::to_vec(&r.results()[0].to_json()).unwrap(),
        r.results()[0].canonical_bytes()
    );
    // the result hash is the SHA-256 of the canonical bytes
    use sha2::{Digest, Sha256};
    assert_eq!(
        r.sha256_hex(),
        hex::encode(Sha256::digest(r.canonical_bytes()))
    );
    // per-staff records agree with the document
    let one = r.result(results[3]["staff_id"].as_str().unwrap()).unwrap();
    assert_eq!(one.to_json(), results[3]);
}

/// Every score built from terms: each contribution is value × weight, the
/// contributions add up to the score (rounded where the script rounds, as
/// `total` is), and the reported score is that score at report_decimals.
#[test]
fn explanation_terms_add_up_to_the_reported_score() {
    use rust_decimal::Decimal;
    let dec = |v: &serde_json::Value| -> Decimal { v.as_str().unwrap().parse().unwrap() };
    for name in ["marketing-v1", "marketing-v2"] {
        let pkg = package(name);
        let r = rank_synth(&pkg, 500, 21);
        for x in &r.results() {
            let j = x.to_json();
            let scoring = j["explain"]["scoring"].as_object().unwrap();
            assert_eq!(scoring.len(), 4, "every declared score has terms");
            for (score, t) in scoring {
                let terms = t["terms"].as_object().unwrap();
                assert!(!terms.is_empty());
                let mut sum = Decimal::ZERO;
                for (term, vwc) in terms {
                    let num = |v: &serde_json::Value| -> Decimal {
                        match v {
                            serde_json::Value::Number(n) => Decimal::from(n.as_i64().unwrap()),
                            other => dec(other),
                        }
                    };
                    let (v, w, c) = (num(&vwc[0]), dec(&vwc[1]), num(&vwc[2]));
                    assert_eq!(c, v * w, "{} {score}.{term}", x.staff_id);
                    sum += c;
                }
                let value = x.explanation.unrounded[score];
                let expect = match t.get("rounded_to") {
                    Some(d) => rhu(sum, d.as_u64().unwrap() as u32),
                    None => sum,
                };
                assert_eq!(value, expect, "{} {score}", x.staff_id);
                assert_eq!(x.scores[score], rhu(value, 2), "{} {score}", x.staff_id);
            }
        }
    }
}

#[test]
fn grade_distribution_reports_quota_and_ties() {
    let pkg = package("marketing-v1");
    let r = rank_synth(&pkg, 100, 11);
    let q: Vec<_> = r
        .grade_distribution
        .iter()
        .map(|g| (g.grade.as_str(), g.quota))
        .collect();
    assert_eq!(
        q,
        [
            ("S", Some(5)),
            ("A", Some(15)),
            ("B", Some(60)),
            ("C", Some(15)),
            ("D", Some(5))
        ]
    );
    assert_eq!(
        r.grade_distribution.iter().map(|g| g.count).sum::<u64>(),
        100
    );
    let small = rank_synth(&pkg, 9, 11);
    assert!(small
        .grade_distribution
        .iter()
        .all(|g| g.quota.is_none() && !g.exceeded));
}

#[test]
fn version_two_weighs_differently() {
    let v1 = package("marketing-v1");
    let v2 = package("marketing-v2");
    assert_eq!(v2.id(), "marketing@2.0.0");
    assert_ne!(v1.hash(), v2.hash());
    let inputs = synth_inputs(&v1, 50, 21);
    let a = rank(&v1, &inputs, &q1()).unwrap();
    // datasets parsed under v1's schema are accepted by v2 (identical schema)
    let b = rank(&v2, &inputs, &q1()).unwrap();
    let x = &b.results()[0];
    let u = &x.explanation.unrounded;
    let want = rhu(
        "0.5".parse::<rust_decimal::Decimal>().unwrap() * u["sales"]
            + "0.3".parse::<rust_decimal::Decimal>().unwrap() * u["customer"]
            + "0.2".parse::<rust_decimal::Decimal>().unwrap() * u["teamwork"],
        2,
    );
    assert_eq!(x.scores["total"], want);
    assert_ne!(a.canonical_bytes(), b.canonical_bytes());
}

#[test]
fn missing_staff_and_sources_are_refused() {
    let pkg = package("marketing-v1");
    let mut inputs = synth_inputs(&pkg, 5, 1);
    let oa = inputs.keys().find(|k| k.as_str() == "oa").unwrap().clone();
    let short =
        rankproof_engine::synth::generate(4, 1, rankproof_engine::synth::CrmHeaders::Canonical);
    let d =
        rankproof_engine::Dataset::parse(pkg.source("oa").unwrap(), "oa.csv", short.oa.as_bytes())
            .unwrap();
    inputs.insert(oa.clone(), d);
    let e = rank(&pkg, &inputs, &q1()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "staff `E000005` (found in crm: crm.csv line 6) is missing from source `oa`; every staff member must appear in every source"
    );
    inputs.remove(&oa);
    assert_eq!(
        rank(&pkg, &inputs, &q1()).unwrap_err(),
        EvalError::MissingSource("oa".into())
    );
}

#[test]
fn periods_outside_the_effective_span_are_refused() {
    let pkg = package("marketing-v1");
    let inputs = synth_inputs(&pkg, 5, 1);
    let e = rank(&pkg, &inputs, &"2024-Q4".parse().unwrap()).unwrap_err();
    assert!(matches!(e, EvalError::NotEffective { .. }), "{e}");
}

/// marketing-v1 with `[join] missing_staff = "exclude"` (its refusal case
/// removed: it no longer applies).
fn excluding_package() -> rankproof_engine::RulePackage {
    let mut files = crate::common::read_dir(&crate::common::repo().join("rules/marketing-v1"));
    files.retain(|k, _| !k.starts_with("tests/error-staff-missing/"));
    let m = String::from_utf8(files["package.toml"].clone()).unwrap();
    assert!(m.contains("\n[ranking]\n"));
    let m = m.replacen(
        "\n[ranking]\n",
        "\n[join]\nmissing_staff = \"exclude\"\n\n[ranking]\n",
        1,
    );
    files.insert("package.toml".into(), m.into_bytes());
    rankproof_engine::RulePackage::from_files(files).unwrap()
}

#[test]
fn missing_staff_are_excluded_in_the_join_and_listed() {
    let pkg = excluding_package();
    assert_eq!(pkg.missing_staff(), rankproof_engine::MissingStaff::Exclude);
    let full = synth_inputs(&pkg, 6, 9);
    let mut inputs = full.clone();
    let src = |n: &str| inputs.keys().find(|k| k.as_str() == n).unwrap().clone();
    let (oa, crm) = (src("oa"), src("crm"));
    let e5: std::collections::BTreeSet<_> = inputs[&oa]
        .staff_ids()
        .iter()
        .filter(|id| id.as_str() == "E000005")
        .cloned()
        .collect();
    let e2: std::collections::BTreeSet<_> = inputs[&crm]
        .staff_ids()
        .iter()
        .filter(|id| id.as_str() == "E000002")
        .cloned()
        .collect();
    let short_oa = inputs[&oa].without_staff(&e5);
    let short_crm = inputs[&crm].without_staff(&e2);
    inputs.insert(oa.clone(), short_oa);
    inputs.insert(crm.clone(), short_crm);
    let r = rank(&pkg, &inputs, &q1()).unwrap();
    assert_eq!(r.n(), 4);
    let ex = r.excluded.clone().unwrap();
    let got: Vec<(&str, Vec<&str>)> = ex
        .iter()
        .map(|e| {
            (
                e.staff_id.as_str(),
                e.missing_from.iter().map(|s| s.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(got, vec![("E000002", vec!["crm"]), ("E000005", vec!["oa"])]);
    let doc = r.to_json();
    assert_eq!(
        doc["excluded"],
        serde_json::json!([
            {"missing_from": ["crm"], "staff_id": "E000002"},
            {"missing_from": ["oa"], "staff_id": "E000005"}
        ])
    );
    // The inputs are the datasets as given, whole.
    assert_eq!(doc["inputs"]["survey"]["n_rows"], 6);
    // The records are those of a cohort without the two.
    let both: std::collections::BTreeSet<_> = e2.union(&e5).cloned().collect();
    let without: std::collections::BTreeMap<_, _> = full
        .iter()
        .map(|(s, d)| (s.clone(), d.without_staff(&both)))
        .collect();
    let plain = rank(&pkg, &without, &q1()).unwrap();
    assert_eq!(plain.results(), r.results());
    assert_eq!(plain.excluded, Some(vec![]));
    assert_eq!(plain.to_json()["excluded"], serde_json::json!([]));
    // Under the default policy the document has no `excluded` member.
    let refuse = package("marketing-v1");
    assert!(rank(&refuse, &without, &q1())
        .unwrap()
        .to_json()
        .get("excluded")
        .is_none());
}

#[test]
fn nobody_in_every_source_is_refused() {
    let pkg = excluding_package();
    let mut inputs = synth_inputs(&pkg, 3, 2);
    let oa = inputs.keys().find(|k| k.as_str() == "oa").unwrap().clone();
    let other = rankproof_engine::Dataset::parse(
        pkg.source("oa").unwrap(),
        "oa.csv",
        b"staff_id,collaboration,knowledge_shares,mentoring,innovations_adopted,training_score\nX1,1,1,1,1,1\n",
    )
    .unwrap();
    inputs.insert(oa, other);
    let e = rank(&pkg, &inputs, &q1()).unwrap_err();
    assert_eq!(e, EvalError::NoEligibleStaff { excluded: 4 });
    assert!(e.to_string().contains("nobody is eligible"), "{e}");
}
