//! Same inputs, same bytes: repeated runs and any thread count.

use rankproof_engine::rank;

use crate::common::{package, q1, synth_inputs};

#[test]
fn identical_bytes_at_one_and_four_threads() {
    let pkg = package("marketing-v1");
    let inputs = synth_inputs(&pkg, 3000, 42);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| rank(&pkg, &inputs, &q1()).unwrap().canonical_bytes())
    };
    let one = run(1);
    let four = run(4);
    assert_eq!(one, four);
    assert_eq!(one, run(4));
    assert_eq!(one, run(3));
    assert_eq!(one, run(7));
}

/// The replay promise of script API 2: this recorded ranking (package
/// bytes, dataset bytes → result bytes) must come out byte for byte from
/// every later engine. If this test fails, the engine changed a published
/// result: that needs a new script API, not a new pin.
#[test]
fn a_recorded_script_api_2_ranking_replays_byte_for_byte() {
    let pkg = package("marketing-v1");
    let inputs = synth_inputs(&pkg, 1000, 17);
    let r = rank(&pkg, &inputs, &q1()).unwrap();
    // Re-pinned when the package's files changed (`[package] files` in the
    // manifest, flags pinned in the cases): the document records the
    // package hash; the scores, grades and order are unchanged.
    let pinned = (
        "7d4d80c38afc831bb5e80e8a2c734de10df4fde7502231ad20bea52b3a29b756",
        "d5c8fa5439e9365639fff7e1c84a2e36d4afbf76e7c293672c8736d46ff31647",
    );
    assert_eq!((pkg.hash_hex().as_str(), r.sha256_hex().as_str()), pinned);
}

#[test]
fn reloading_the_package_and_reparsing_canonical_inputs_changes_nothing() {
    let pkg = package("marketing-v1");
    let inputs = synth_inputs(&pkg, 200, 5);
    let a = rank(&pkg, &inputs, &q1()).unwrap();
    // replay from canonical datasets, as the ledger does
    let replayed: std::collections::BTreeMap<_, _> = inputs
        .iter()
        .map(|(s, d)| {
            let again =
                rankproof_engine::Dataset::parse(d.schema(), "blob", &d.canonical_bytes()).unwrap();
            (s.clone(), again)
        })
        .collect();
    let pkg2 = rankproof_engine::RulePackage::from_files(pkg.files().clone()).unwrap();
    let b = rank(&pkg2, &replayed, &q1()).unwrap();
    assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    assert_eq!(a.sha256_hex(), b.sha256_hex());
}

/// The record bytes handed out while the document is written are the
/// document's own records, in position order, equal to each typed record's
/// canonical bytes, at any thread count.
#[test]
fn records_handed_out_while_writing_are_the_documents_records() {
    let pkg = package("marketing-v1");
    let inputs = synth_inputs(&pkg, 2500, 9);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let r = rank(&pkg, &inputs, &q1()).unwrap();
            let mut doc = Vec::new();
            let mut seen: Vec<(usize, usize, Vec<u8>)> = Vec::new();
            r.write_canonical_records(&mut doc, &mut |p, at, bytes| {
                seen.push((p, at, bytes.to_vec()))
            })
            .unwrap();
            (r, doc, seen)
        })
    };
    let (r, doc, seen) = run(1);
    assert_eq!(doc, r.canonical_bytes());
    assert_eq!(seen.len(), r.n());
    let typed = r.results();
    let (all, spans) = r.canonical_bytes_and_spans();
    assert_eq!(all, doc);
    assert_eq!(spans.len(), r.n());
    for (k, (p, at, bytes)) in seen.iter().enumerate() {
        assert_eq!(*p, k + 1);
        // The offset is where the record lies in the document.
        assert_eq!(&doc[*at..*at + bytes.len()], &bytes[..]);
        assert_eq!(spans[k], *at..*at + bytes.len());
        assert_eq!(bytes, &typed[k].canonical_bytes());
        assert_eq!(r.record(*p).unwrap(), typed[k]);
    }
    assert!(r.record(0).is_none() && r.record(r.n() + 1).is_none());
    let joined: Vec<u8> = seen
        .iter()
        .map(|(_, _, b)| b.clone())
        .collect::<Vec<_>>()
        .join(&b","[..]);
    let needle = [b"\"results\":[".as_slice(), &joined, b"]"].concat();
    assert!(doc.windows(needle.len()).any(|w| w == needle.as_slice()));
    let (_, doc7, seen7) = run(7);
    assert_eq!(doc, doc7);
    assert_eq!(seen, seen7);
}

/// A ranking's skeleton (its document with only the first record) is the
/// document's bytes with records 2..n and their commas cut out, at any
/// thread count (the records are written in batches of chunks: 1,500 staff
/// cross them).
#[test]
fn the_skeleton_is_the_document_with_its_first_record() {
    let pkg = package("marketing-v1");
    for n in [1, 2, 1500] {
        let inputs = synth_inputs(&pkg, n, 9);
        let r = rank(&pkg, &inputs, &q1()).unwrap();
        let (bytes, spans) = r.canonical_bytes_and_spans();
        let mut want = bytes[..spans[0].end].to_vec();
        want.extend_from_slice(&bytes[spans[spans.len() - 1].end..]);
        for threads in [1, 2, 7] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let skeleton = pool.install(|| r.skeleton());
            assert!(skeleton == want, "{n} staff, {threads} threads");
        }
        let v: serde_json::Value = serde_json::from_slice(&want).unwrap();
        assert_eq!(v["results"].as_array().unwrap().len(), 1);
    }
}
