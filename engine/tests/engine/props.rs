//! Property tests: canonical decimals and datasets round-trip.

use proptest::prelude::*;
use rankproof_engine::decimal::{canonical, parse_strict, rhu};
use rankproof_engine::Dataset;
use rust_decimal::Decimal;

use crate::common::package;

fn decimal() -> impl Strategy<Value = Decimal> {
    (any::<i64>(), 0u32..12).prop_map(|(m, s)| Decimal::new(m, s))
}

proptest! {
    #[test]
    fn canonical_decimal_round_trips(d in decimal()) {
        let s = canonical(&d);
        prop_assert!(!s.contains('e') && !s.contains('E') && !s.starts_with('+'));
        prop_assert!(s != "-0");
        if s.contains('.') {
            prop_assert!(!s.ends_with('0') && !s.ends_with('.'));
        }
        let back = parse_strict(&s).unwrap();
        prop_assert_eq!(back, d);
        prop_assert_eq!(canonical(&back), s);
    }

    #[test]
    fn rhu_is_idempotent_and_close(d in decimal(), p in 0u32..8) {
        let r = rhu(d, p);
        prop_assert_eq!(rhu(r, p), r);
        let half = Decimal::new(5, p + 1);
        prop_assert!((r - d).abs() <= half);
    }

    #[test]
    fn survey_datasets_round_trip_through_canonical_json(
        rows in proptest::collection::btree_map("[A-Z][0-9]{1,5}", (100u32..=500, -100i64..=100, 0i64..10, 0i64..10), 1..30),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let pkg = package("marketing-v1");
        let schema = pkg.source("survey").unwrap();
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut body = String::new();
        if bom { body.push('\u{feff}'); }
        body.push_str("员工编号,客户满意度,nps,complaints,complaints_resolved_72h");
        body.push_str(nl);
        for (id, (csat, nps, c, r)) in rows.iter().rev() {
            let r = (*r).min(*c);
            body.push_str(&format!("{id},{}.{:02}0,{nps},{c},{r}{nl}", csat / 100, csat % 100));
        }
        let d = Dataset::parse(schema, "s.csv", body.as_bytes()).unwrap();
        prop_assert_eq!(d.n_rows(), rows.len());
        let bytes = d.canonical_bytes();
        let again = Dataset::parse(schema, "s.json", &bytes).unwrap();
        prop_assert_eq!(again.canonical_bytes(), bytes.clone());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(serde_json_canonicalizer::to_vec(&v).unwrap(), bytes);
    }
}
