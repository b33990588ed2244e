//! `rankproof rules diff A B`: what changed between two packages, each a
//! working folder or a published `NAME@VERSION`: a summary of the manifest
//! changes (effective dates, limits, ranking, schema, join, files), then a
//! unified diff of every changed text file (the script first).

use std::fmt::Write as _;

use rankproof_engine::schema::{Bound, Column};
use rankproof_engine::RulePackage;

/// One side's package and how to name it.
pub struct Side {
    pub label: String,
    pub pkg: RulePackage,
}

fn bound(b: &Option<Bound>, lower: bool) -> String {
    match b {
        None => "none".into(),
        Some(b) => format!(
            "{} {}",
            match (lower, b.inclusive) {
                (true, true) => ">=",
                (true, false) => ">",
                (false, true) => "<=",
                (false, false) => "<",
            },
            b.value.normalize()
        ),
    }
}

fn list(v: &[String]) -> String {
    format!("[{}]", v.join(", "))
}

fn changed(out: &mut Vec<String>, what: &str, a: String, b: String) {
    if a != b {
        out.push(format!("{what}: {a} -> {b}"));
    }
}

fn column_changes(out: &mut Vec<String>, at: &str, a: &Column, b: &Column) {
    changed(
        out,
        &format!("{at} type"),
        a.ty.as_str().into(),
        b.ty.as_str().into(),
    );
    changed(
        out,
        &format!("{at} required"),
        a.required.to_string(),
        b.required.to_string(),
    );
    changed(
        out,
        &format!("{at} aliases"),
        list(&a.aliases),
        list(&b.aliases),
    );
    changed(
        out,
        &format!("{at} lower bound"),
        bound(&a.lower, true),
        bound(&b.lower, true),
    );
    changed(
        out,
        &format!("{at} upper bound"),
        bound(&a.upper, false),
        bound(&b.upper, false),
    );
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
    changed(
        out,
        &format!("{at} le_column"),
        opt(&a.le_column),
        opt(&b.le_column),
    );
    changed(out, &format!("{at} units"), list(&a.units), list(&b.units));
    let dec = |d: Option<u32>| d.map_or_else(|| "any".into(), |d| d.to_string());
    changed(
        out,
        &format!("{at} decimals"),
        dec(a.decimals),
        dec(b.decimals),
    );
}

/// The manifest changes from `a` to `b`, one readable line each.
pub fn manifest_changes(a: &RulePackage, b: &RulePackage) -> Vec<String> {
    let mut out = Vec::new();
    changed(&mut out, "name", a.name().into(), b.name().into());
    changed(
        &mut out,
        "version",
        a.version().to_string(),
        b.version().to_string(),
    );
    changed(
        &mut out,
        "description",
        format!("{:?}", a.description()),
        format!("{:?}", b.description()),
    );
    changed(
        &mut out,
        "effective_from",
        a.effective_from().to_string(),
        b.effective_from().to_string(),
    );
    let until = |p: &RulePackage| {
        p.effective_until()
            .map_or_else(|| "open".into(), |u| u.to_string())
    };
    changed(&mut out, "effective_until", until(a), until(b));
    changed(
        &mut out,
        "script",
        a.script_path().into(),
        b.script_path().into(),
    );
    for ((name, x), (_, y)) in a.limits().fields().iter().zip(b.limits().fields().iter()) {
        changed(
            &mut out,
            &format!("limits.{name}"),
            x.to_string(),
            y.to_string(),
        );
    }
    let (ra, rb) = (a.ranking(), b.ranking());
    changed(
        &mut out,
        "ranking.scores",
        list(&ra.scores),
        list(&rb.scores),
    );
    changed(
        &mut out,
        "ranking.report_decimals",
        ra.report_decimals.to_string(),
        rb.report_decimals.to_string(),
    );
    let order = |r: &rankproof_engine::RankingSpec| {
        r.order
            .iter()
            .map(|k| format!("{} {}", k.score, k.direction.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    changed(&mut out, "ranking.order", order(ra), order(rb));
    changed(
        &mut out,
        "ranking.rank_by",
        ra.rank_by.clone(),
        rb.rank_by.clone(),
    );
    changed(
        &mut out,
        "ranking.grades",
        list(&ra.grades),
        list(&rb.grades),
    );
    changed(
        &mut out,
        "ranking.attributes",
        list(&ra.attributes),
        list(&rb.attributes),
    );
    changed(
        &mut out,
        "join.missing_staff",
        a.missing_staff().as_str().into(),
        b.missing_staff().as_str().into(),
    );
    let (sa, sb) = (a.sources(), b.sources());
    for (name, s) in sa {
        let Some(t) = sb.get(name) else {
            out.push(format!("source {name} removed"));
            continue;
        };
        for c in &s.columns {
            match t.columns.iter().find(|d| d.name == c.name) {
                None => out.push(format!("sources.{name}: column {} removed", c.name)),
                Some(d) => column_changes(&mut out, &format!("sources.{name}.{}", c.name), c, d),
            }
        }
        for d in &t.columns {
            if !s.columns.iter().any(|c| c.name == d.name) {
                out.push(format!(
                    "sources.{name}: column {} added ({}{}, aliases {})",
                    d.name,
                    d.ty.as_str(),
                    if d.required {
                        ", required"
                    } else {
                        ", optional"
                    },
                    list(&d.aliases)
                ));
            }
        }
        let at = format!("sources.{name}");
        changed(
            &mut out,
            &format!("{at}.ignore_columns"),
            list(&s.rules.ignore_columns),
            list(&t.rules.ignore_columns),
        );
        changed(
            &mut out,
            &format!("{at}.empty_rows"),
            s.rules.empty_rows.as_str().into(),
            t.rules.empty_rows.as_str().into(),
        );
        changed(
            &mut out,
            &format!("{at}.total_row"),
            s.rules.total_row.as_str().into(),
            t.rules.total_row.as_str().into(),
        );
    }
    for (name, t) in sb {
        if !sa.contains_key(name) {
            let cols: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
            out.push(format!("source {name} added (columns {})", list(&cols)));
        }
    }
    let (fa, fb) = (a.files(), b.files());
    for p in fa.keys().filter(|p| !fb.contains_key(*p)) {
        out.push(format!("file removed: {p}"));
    }
    for p in fb.keys().filter(|p| !fa.contains_key(*p)) {
        out.push(format!("file added: {p}"));
    }
    for (p, x) in fa {
        if fb.get(p).is_some_and(|y| y != x) {
            out.push(format!("file changed: {p}"));
        }
    }
    out
}

/// The whole report: the manifest summary, then a unified diff of each
/// changed text file, the script first (binary files are only named).
pub fn report(a: &Side, b: &Side) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "--- {} (package {})", a.label, a.pkg.hash_hex());
    let _ = writeln!(s, "+++ {} (package {})", b.label, b.pkg.hash_hex());
    if a.pkg.hash() == b.pkg.hash() {
        let _ = writeln!(s, "identical packages (same files, same hash)");
        return s;
    }
    let changes = manifest_changes(&a.pkg, &b.pkg);
    let _ = writeln!(s, "manifest and files ({} changes):", changes.len());
    for c in &changes {
        let _ = writeln!(s, "  {c}");
    }
    let (fa, fb) = (a.pkg.files(), b.pkg.files());
    let mut paths: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    paths.sort();
    paths.dedup();
    let script = b.pkg.script_path();
    paths.sort_by_key(|p| {
        (
            p.as_str() != script,
            p.as_str() != "package.toml",
            p.to_string(),
        )
    });
    let empty: Vec<u8> = Vec::new();
    for path in paths {
        let (x, y) = (
            fa.get(path).unwrap_or(&empty),
            fb.get(path).unwrap_or(&empty),
        );
        if x == y {
            continue;
        }
        match (std::str::from_utf8(x), std::str::from_utf8(y)) {
            (Ok(x), Ok(y)) => {
                let d = similar::TextDiff::from_lines(x, y);
                let text = d
                    .unified_diff()
                    .context_radius(3)
                    .header(
                        &format!("{}/{path}", a.label),
                        &format!("{}/{path}", b.label),
                    )
                    .to_string();
                s.push_str(&text);
                if !text.ends_with('\n') {
                    s.push('\n');
                }
            }
            _ => {
                let _ = writeln!(s, "binary file {path} differs");
            }
        }
    }
    s
}
