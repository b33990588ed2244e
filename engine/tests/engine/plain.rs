//! RULESET-marketing.md (1.0.0) written directly in Rust, without rhai: the
//! benchmark's baseline and an independent cross-check of the script.
#![allow(dead_code)]

use std::collections::BTreeMap;

use rankproof_engine::decimal::{ratio, rhu};
use rankproof_engine::{Dataset, SourceName};
use rust_decimal::Decimal;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub staff_id: String,
    pub sales: Decimal,
    pub customer: Decimal,
    pub teamwork: Decimal,
    pub total: Decimal,
    pub position: u64,
    pub rank: u64,
    pub grade: &'static str,
    pub bonus_multiplier: Decimal,
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn num(ds: &Dataset, i: usize, col: &str) -> Decimal {
    let ci = ds.schema().column_index(col).unwrap();
    ds.value(i, ci).unwrap().as_decimal().unwrap()
}

fn cut(p: Decimal, n: usize) -> u64 {
    u64::try_from(rhu(p * Decimal::from(n), 0)).unwrap()
}

/// Rank with the 1.0.0 weights (0.60, 0.20, 0.20).
pub fn rank_plain(inputs: &BTreeMap<SourceName, Dataset>) -> Vec<Plain> {
    let get = |s: &str| inputs.iter().find(|(k, _)| k.as_str() == s).unwrap().1;
    let (crm, survey, oa) = (get("crm"), get("survey"), get("oa"));
    let n = crm.n_rows();
    let zero = Decimal::ZERO;
    let hundred = Decimal::from(100);
    let conv: Vec<Decimal> = (0..n)
        .map(|i| {
            let leads = num(crm, i, "leads");
            if leads > zero {
                ratio(num(crm, i, "deals_won"), leads).unwrap()
            } else {
                zero
            }
        })
        .collect();
    let max_conv = conv.iter().copied().max().unwrap();
    let max_new = (0..n).map(|i| num(crm, i, "new_customers")).max().unwrap();
    let mut out: Vec<Plain> = (0..n)
        .map(|i| {
            let (sa, st, ps) = (
                num(crm, i, "sales_amount"),
                num(crm, i, "sales_target"),
                num(crm, i, "prev_sales_amount"),
            );
            let attainment = ratio(sa, st).unwrap().min(d("1.5"));
            let attainment_pts = ratio(attainment, d("1.5")).unwrap() * hundred;
            let growth = if ps > zero {
                ratio(sa - ps, ps).unwrap()
            } else {
                zero
            };
            let growth_pts = (growth.max(d("-0.5")).min(d("0.5")) + d("0.5")) * hundred;
            let conversion_pts = if max_conv > zero {
                ratio(conv[i], max_conv).unwrap() * hundred
            } else {
                zero
            };
            let new_pts = if max_new > zero {
                ratio(num(crm, i, "new_customers"), max_new).unwrap() * hundred
            } else {
                zero
            };
            let sales = d("0.55") * attainment_pts
                + d("0.15") * growth_pts
                + d("0.15") * conversion_pts
                + d("0.15") * new_pts;
            let csat_pts = (num(survey, i, "csat") - Decimal::ONE) * Decimal::from(25);
            let nps_pts = (num(survey, i, "nps") + hundred) * d("0.5");
            let complaints = num(survey, i, "complaints");
            let resolution_pts = if complaints == zero {
                hundred
            } else {
                ratio(num(survey, i, "complaints_resolved_72h"), complaints).unwrap() * hundred
            };
            let customer = d("0.4") * csat_pts + d("0.4") * nps_pts + d("0.2") * resolution_pts;
            let share_pts =
                num(oa, i, "knowledge_shares").min(Decimal::from(20)) * Decimal::from(5);
            let innovation_pts =
                num(oa, i, "innovations_adopted").min(Decimal::from(5)) * Decimal::from(20);
            let teamwork = d("0.35") * num(oa, i, "collaboration")
                + d("0.15") * share_pts
                + d("0.20") * num(oa, i, "mentoring")
                + d("0.15") * innovation_pts
                + d("0.15") * num(oa, i, "training_score");
            let total = rhu(
                d("0.60") * sales + d("0.20") * customer + d("0.20") * teamwork,
                2,
            );
            Plain {
                staff_id: crm.staff_ids()[i].to_string(),
                sales,
                customer,
                teamwork,
                total,
                position: 0,
                rank: 0,
                grade: "",
                bonus_multiplier: zero,
            }
        })
        .collect();
    let idx: BTreeMap<String, usize> = (0..n)
        .map(|i| (crm.staff_ids()[i].to_string(), i))
        .collect();
    out.sort_by(|a, b| {
        b.total
            .cmp(&a.total)
            .then(b.sales.cmp(&a.sales))
            .then(a.staff_id.as_bytes().cmp(b.staff_id.as_bytes()))
    });
    let mut prev_rank = 0;
    for p in 0..n {
        let rank = if p > 0 && out[p - 1].total == out[p].total {
            prev_rank
        } else {
            p as u64 + 1
        };
        prev_rank = rank;
        let i = idx[&out[p].staff_id];
        let r = &mut out[p];
        r.position = p as u64 + 1;
        r.rank = rank;
        r.grade = if n >= 10 {
            if rank <= cut(d("0.05"), n) {
                "S"
            } else if rank <= cut(d("0.20"), n) {
                "A"
            } else if rank <= cut(d("0.80"), n) {
                "B"
            } else if rank <= cut(d("0.95"), n) {
                "C"
            } else {
                "D"
            }
        } else if r.total >= Decimal::from(90) {
            "S"
        } else if r.total >= Decimal::from(80) {
            "A"
        } else if r.total >= Decimal::from(60) {
            "B"
        } else if r.total >= Decimal::from(50) {
            "C"
        } else {
            "D"
        };
        let tier = if rank <= cut(d("0.10"), n) {
            3
        } else if rank <= cut(d("0.30"), n) {
            2
        } else if num(crm, i, "sales_amount") >= num(crm, i, "sales_target") {
            1
        } else {
            0
        };
        let cr = num(crm, i, "collection_rate");
        let factor = if cr >= d("0.95") {
            Decimal::ONE
        } else {
            rhu(ratio(cr, d("0.95")).unwrap(), 4)
        };
        r.bonus_multiplier = rhu(Decimal::from(tier) * factor, 2);
    }
    out
}
