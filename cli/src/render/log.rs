//! `log` lines: what each entry is.

use rankproof_workflow::Described;

use super::safe;

/// One line naming what an entry is, e.g. `marketing@1.0.0`,
/// `2025-Q1/crm 60 rows crm.csv`, `ranking of 2025-Q1 under
/// marketing@1.0.0, N=60, supersedes 8`.
pub fn summary(d: &Described) -> String {
    match d {
        Described::Genesis { origin } => format!("log {}", safe(origin)),
        Described::Grant { role, handle } => format!("{} -> {}", safe(role), safe(handle)),
        Described::Revoke { handle } => format!("revoke {}", safe(handle)),
        Described::Rules { id } => safe(id).into_owned(),
        Described::Input {
            period,
            source,
            rows,
            file,
            supersedes,
        } => format!(
            "{}/{} {rows} rows {}{}",
            safe(period),
            safe(source),
            safe(file),
            supersedes
                .map(|s| format!(", supersedes {s}"))
                .unwrap_or_default()
        ),
        Described::Ranking {
            period,
            rules,
            n,
            supersedes,
            superseded_by,
        } => format!(
            "ranking of {} under {}, N={n}{}{}",
            safe(period),
            safe(rules),
            supersedes
                .map(|s| format!(", supersedes {s}"))
                .unwrap_or_default(),
            match superseded_by {
                Some(s) => format!(" (superseded by {s})"),
                None => " (current)".to_owned(),
            }
        ),
        Described::Invalid(why) => format!("INVALID: {}", safe(why)),
        _ => String::new(),
    }
}
