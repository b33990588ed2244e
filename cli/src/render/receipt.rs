//! A verified receipt, for its holder.

use rankproof_workflow::{Arithmetic, ReceiptView, StaffRecord};

use super::{label, safe, Labels};

/// The receipt as text; scores show the package's display labels when
/// they are known (a receipt verified against a ledger or bundle).
pub fn text(file: &str, log_name: &str, v: &ReceiptView, labels: &Labels) -> String {
    let r = &v.record;
    let attrs: Vec<String> = r
        .attributes
        .iter()
        .map(|(_, v)| safe(v).into_owned())
        .collect();
    let scores: Vec<String> = r
        .scores
        .iter()
        .map(|(k, v)| format!("{} {v}", label(labels, k)))
        .collect();
    let mut out = format!("receipt OK: {}\n", safe(file));
    out.push_str(&format!(
        "  {}{}\n",
        safe(&r.staff_id),
        if attrs.is_empty() {
            String::new()
        } else {
            format!(" ({})", attrs.join(" / "))
        }
    ));
    out.push_str(&format!(
        "  ranking {} for {} under {}, signed by operator {}\n",
        v.ranking_seq,
        safe(&v.body.period),
        safe(&v.body.rules.id()),
        safe(&v.operator)
    ));
    out.push_str(&format!("  {}\n", scores.join("  ")));
    out.push_str(&format!(
        "  position {}  rank {} of {}  grade {}  bonus ×{}\n",
        r.position,
        r.rank,
        v.body.n,
        safe(&r.grade),
        r.bonus_multiplier
    ));
    out.push_str(&format!(
        "  flags: {}\n",
        if r.flags.is_empty() {
            "none".to_owned()
        } else {
            safe(&r.flags.join(", ")).into_owned()
        }
    ));
    out.push_str(&format!(
        "  proven in the log {} at size {} (checkpoint signed by the log key)\n",
        safe(log_name),
        v.log_size
    ));
    out
}

/// The line saying what the record's arithmetic check (FORMAT.md §12,
/// check 7) found to hold.
pub fn arithmetic(a: &Arithmetic) -> String {
    let n = |k: usize, what: &str| format!("{k} {what}{}", if k == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if a.terms > 0 {
        parts.push(format!(
            "{} of {} add up exactly",
            n(a.terms, "term"),
            n(a.scores, "score")
        ));
    }
    if a.reported > 0 {
        parts.push(format!(
            "{} rounded half up{}",
            n(a.reported, "reported score"),
            a.places
                .map(|d| format!(" to {d} places"))
                .unwrap_or_default()
        ));
    }
    if parts.is_empty() {
        parts.push("the record has no scores".into());
    }
    format!("  arithmetic checked: {}\n", parts.join("; "))
}

/// Every score built from terms: its terms (value, weight, contribution),
/// their sum and the reported score, as `rankproof explain` shows them,
/// indented under the receipt.
pub fn terms(r: &StaffRecord, labels: &Labels) -> String {
    super::explain::dimensions(&r.explanation().dimensions, labels)
        .lines()
        .map(|l| {
            if l.is_empty() {
                "\n".to_owned()
            } else {
                format!("  {l}\n")
            }
        })
        .collect()
}
