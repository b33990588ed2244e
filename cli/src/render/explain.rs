//! One staff member's explanation: inputs, every weighted term of every
//! score with value × weight = contribution, the sum, and the grade rule.

use rankproof_workflow::{Dimension, Header, StaffRecord};

use super::table::Table;
use super::{label, safe, Labels};

/// The explanation as text; score, input and field names show the
/// package's display labels where it declares them.
pub fn text(ranking_seq: u64, header: &Header, r: &StaffRecord, labels: &Labels) -> String {
    let mut out = String::new();
    let attrs: Vec<String> = r
        .attributes
        .iter()
        .map(|(_, v)| safe(v).into_owned())
        .collect();
    out.push_str(&format!(
        "{}{}, ranking {ranking_seq} of {} under {}\n",
        safe(&r.staff_id),
        if attrs.is_empty() {
            String::new()
        } else {
            format!(" ({})", attrs.join(" / "))
        },
        header.period,
        safe(&header.package_id())
    ));
    let scores: Vec<String> = r
        .scores
        .iter()
        .map(|(k, v)| format!("{} {v}", label(labels, k)))
        .collect();
    out.push_str(&format!("{}\n", scores.join("  ")));
    out.push_str(&format!(
        "position {}  rank {} of {}  grade {}  bonus ×{}{}\n",
        r.position,
        r.rank,
        header.n,
        safe(&r.grade),
        r.bonus_multiplier,
        if r.flags.is_empty() {
            String::new()
        } else {
            format!("  flags {}", safe(&r.flags.join(", ")))
        }
    ));
    let ex = r.explanation();
    if !ex.inputs.is_empty() {
        out.push_str("\ninputs:\n");
        let mut t = Table::new(["field", "value"]);
        for (k, v) in &ex.inputs {
            t.row([label(labels, k), safe(v).into_owned()]);
        }
        out.push_str(&t.render());
    }
    if !ex.derived.is_empty() {
        out.push_str("\nderived:\n");
        for (k, v) in &ex.derived {
            out.push_str(&format!("  {}: {}\n", safe(k), safe(v)));
        }
    }
    out.push_str(&dimensions(&ex.dimensions, labels));
    if !ex.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for (k, v) in &ex.notes {
            out.push_str(&format!("  {}: {}\n", safe(k), safe(v)));
        }
    }
    if !ex.classification.is_empty() {
        out.push_str("\ngrade and bonus:\n");
        for (k, v) in &ex.classification {
            out.push_str(&format!("  {}: {}\n", safe(k), safe(v)));
        }
    }
    out
}

/// Every score built from terms: a heading `NAME = UNROUNDED`, the table of
/// its terms (value, weight, contribution), the sum of the contributions
/// with the reported score, and the score's details (its rounding). Each
/// block starts with a blank line. Shared by `explain` and `receipt verify`.
pub fn dimensions(dims: &[Dimension], labels: &Labels) -> String {
    let mut out = String::new();
    for d in dims {
        out.push_str(&format!(
            "\n{} = {}\n",
            label(labels, &d.name),
            safe(d.value.as_deref().unwrap_or("?"))
        ));
        let mut t = Table::new(["term", "value", "weight", "contribution"]).right(&[1, 2, 3]);
        for term in &d.terms {
            t.row([
                label(labels, &term.name),
                safe(term.value.as_deref().unwrap_or("?")).into_owned(),
                safe(&term.weight).into_owned(),
                safe(term.contribution.as_deref().unwrap_or("?")).into_owned(),
            ]);
        }
        out.push_str(&t.render());
        let reported = d
            .reported
            .as_deref()
            .map(|v| format!(", reported {}", safe(v)))
            .unwrap_or_default();
        out.push_str(&format!(
            "sum: {} = {}{reported}\n",
            d.terms
                .iter()
                .map(|t| safe(t.contribution.as_deref().unwrap_or("?")).into_owned())
                .collect::<Vec<_>>()
                .join(" + "),
            safe(d.sum.as_deref().unwrap_or("?"))
        ));
        for (k, v) in &d.details {
            out.push_str(&format!("  {}: {}\n", safe(k), safe(v)));
        }
    }
    out
}
