//! The auditable workflow: `rules publish | list | show | diff`, `input
//! record`, `rank --period --rules NAME@VERSION [--publish]`, `replay`,
//! `explain`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use rankproof_engine::{selftest::CaseOutcome, Dataset, Period, Ranking};
use rankproof_ledger::{Entry, Hash, Kind};
use serde_json::{json, Map, Value};

use super::keys::read_secret_key;
use super::ledger::{open, open_for_append};
use super::rules::load_package;
use super::workflow::{
    self, body_hash, body_str, current_inputs, find_package, find_ranking, gather_inputs,
    load_published, package_id, rules_entries, BundleDir, Materials,
};
use crate::exit::{fail, finding, CmdResult};
use crate::table::Table;

/// Check that `key` may sign an entry of `kind` now: the same check an
/// append makes (role, revocation, and the registered key is this key, not
/// another with the same handle), for the paths that end without appending.
fn authorize<S: rankproof_ledger::Storage>(
    l: &rankproof_ledger::Ledger<S>,
    key: &rankproof_ledger::SecretKey,
    kind: Kind,
) -> anyhow::Result<()> {
    let registered = l.registry().authorize(&key.verifier().handle(), kind)?;
    if registered != key.verifier() {
        bail!(
            "{} is not the key registered under {}; nothing was written",
            key.verifier(),
            key.verifier().handle()
        );
    }
    Ok(())
}

/// `rankproof rules publish --signer FILE DIR`.
pub fn rules_publish(ledger: &Path, signer: &Path, dir: &Path) -> CmdResult {
    let pkg = load_package(dir)?;
    let failed: Vec<String> = pkg
        .run_tests()
        .into_iter()
        .filter(|r| !matches!(r.outcome, CaseOutcome::Pass))
        .map(|r| r.name)
        .collect();
    if !failed.is_empty() {
        fail!(
            "{}: the package's own test cases fail ({}); run `rankproof rules check {}` and fix \
             them before publishing; nothing was written",
            pkg.id(),
            failed.join(", "),
            dir.display()
        );
    }
    let key = read_secret_key(signer)?;
    let mut l = open_for_append(ledger)?;
    // The signer must be allowed to publish even when nothing gets written.
    authorize(&l, &key, Kind::RulesPublish)?;
    let entries = l.all_entries()?;
    for e in rules_entries(&entries) {
        if package_id(e)? == pkg.id() {
            if body_str(e, "package_hash")? == pkg.hash_hex() {
                println!(
                    "{} is already published as entry {} with identical content; nothing written",
                    pkg.id(),
                    e.seq()
                );
                return Ok(());
            }
            fail!(
                "{} was already published as entry {} with different content; a published \
                 version never changes: give the package a new version in package.toml",
                pkg.id(),
                e.seq()
            );
        }
    }
    let body = workflow::rules_publish_body(&pkg);
    let blobs: Vec<Vec<u8>> = pkg.files().values().cloned().collect();
    let added = l.append(Kind::RulesPublish, body, blobs, &key)?;
    println!(
        "published {} as entry {} (package {}, {} files)",
        pkg.id(),
        added.entry.seq(),
        pkg.hash_hex(),
        pkg.files().len()
    );
    Ok(())
}

/// `rankproof rules list`.
pub fn rules_list(ledger: &Path) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.all_entries()?;
    let mut t = Table::new(["entry", "package", "effective", "hash", "signer"]);
    for e in rules_entries(&entries) {
        let until = e
            .body()
            .get("effective_until")
            .and_then(Value::as_str)
            .unwrap_or("");
        t.row(vec![
            e.seq().to_string(),
            package_id(e)?,
            format!("{}..{}", body_str(e, "effective_from")?, until),
            body_str(e, "package_hash")?.chars().take(16).collect(),
            e.signer().to_string(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

/// `rankproof rules show NAME@VERSION`.
pub fn rules_show(ledger: &Path, id: &str) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.all_entries()?;
    let p = find_package(&l, &entries, id)?;
    let pkg = &p.package;
    println!("package     {}", pkg.id());
    println!(
        "entry       {} (signed by {})",
        p.entry.seq(),
        p.entry.signer()
    );
    println!("description {}", pkg.description());
    println!(
        "effective   {}..{}",
        pkg.effective_from(),
        pkg.effective_until()
            .map(|p| p.to_string())
            .unwrap_or_default()
    );
    println!("hash        {}", pkg.hash_hex());
    println!("files:");
    for (path, h) in pkg.file_hashes() {
        println!("  {h}  {path}");
    }
    println!("sources:");
    for (name, schema) in pkg.sources() {
        let cols: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        println!("  {name}: {}", cols.join(", "));
    }
    Ok(())
}

/// `rankproof rules diff A B`: manifest and script changes.
pub fn rules_diff(ledger: &Path, a: &str, b: &str) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.all_entries()?;
    let pa = find_package(&l, &entries, a)?;
    let pb = find_package(&l, &entries, b)?;
    let (fa, fb) = (pa.package.files(), pb.package.files());
    let mut paths: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    paths.sort();
    paths.dedup();
    let mut changed = 0;
    for path in paths {
        match (fa.get(path), fb.get(path)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => {
                changed += 1;
                println!("--- {a}/{path}\n+++ {b}/{path}");
                print!(
                    "{}",
                    line_diff(&String::from_utf8_lossy(x), &String::from_utf8_lossy(y))
                );
            }
            (Some(_), None) => {
                changed += 1;
                println!("only in {a}: {path}");
            }
            (None, Some(_)) => {
                changed += 1;
                println!("only in {b}: {path}");
            }
            (None, None) => {}
        }
    }
    if changed == 0 {
        println!("{a} and {b} have identical files");
    }
    Ok(())
}

/// A minimal line diff (longest common subsequence), `-`/`+`/` ` prefixed,
/// printing only changed lines with one line of context.
fn line_diff(a: &str, b: &str) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    let (n, m) = (x.len(), y.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if x[i] == y[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push((' ', x[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', x[i]));
            i += 1;
        } else {
            ops.push(('+', y[j]));
            j += 1;
        }
    }
    let near = |k: usize| {
        ops[k.saturating_sub(1)..(k + 2).min(ops.len())]
            .iter()
            .any(|(c, _)| *c != ' ')
    };
    let mut out = String::new();
    for (k, (c, line)) in ops.iter().enumerate() {
        if *c != ' ' || near(k) {
            out.push_str(&format!("{c} {line}\n"));
        }
    }
    out
}

#[derive(Debug, Subcommand)]
pub enum InputCommand {
    /// Validate and record a source's dataset for a period.
    Record(InputRecordArgs),
}

#[derive(Debug, Args)]
pub struct InputRecordArgs {
    /// The steward's secret key file.
    #[arg(long)]
    pub signer: PathBuf,
    /// The period: 2025-03, 2025-Q1 or 2025.
    #[arg(long)]
    pub period: String,
    /// The source name (e.g. crm, survey, oa).
    #[arg(long)]
    pub source: String,
    /// Validate against this published package (default: the latest
    /// published package that names the source and is in effect).
    #[arg(long, value_name = "NAME@VERSION")]
    pub rules: Option<String>,
    /// The export file (CSV or JSON).
    pub file: PathBuf,
}

pub fn input(ledger: &Path, c: InputCommand) -> CmdResult {
    match c {
        InputCommand::Record(a) => input_record(ledger, a),
    }
}

fn input_record(ledger: &Path, a: InputRecordArgs) -> CmdResult {
    let period: Period = a.period.parse()?;
    let key = read_secret_key(&a.signer)?;
    let raw =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let mut l = open_for_append(ledger)?;
    // The signer must be allowed to record even when nothing gets written.
    authorize(&l, &key, Kind::InputRecord)?;
    let entries = l.all_entries()?;
    let rules = match &a.rules {
        Some(id) => find_package(&l, &entries, id)?,
        None => {
            let mut found = None;
            for e in rules_entries(&entries).into_iter().rev() {
                let pkg = load_published(&l, e)?;
                if pkg.source(&a.source).is_some() && pkg.is_effective(&period) {
                    found = Some(workflow::Published {
                        entry: e.clone(),
                        package: pkg,
                    });
                    break;
                }
            }
            found.ok_or_else(|| {
                anyhow!(
                    "no published rule package in effect for {period} names a source `{}`; \
                     publish one first or name one with --rules NAME@VERSION",
                    a.source
                )
            })?
        }
    };
    let pkg = &rules.package;
    if !pkg.is_effective(&period) {
        fail!(
            "{} is in effect from {} {}; period {period} is outside it",
            pkg.id(),
            pkg.effective_from(),
            pkg.effective_until()
                .map(|p| format!("until {p}"))
                .unwrap_or_default()
        );
    }
    let schema = pkg.source(&a.source).ok_or_else(|| {
        anyhow!(
            "{} has no source `{}` (sources: {})",
            pkg.id(),
            a.source,
            pkg.sources()
                .keys()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let label = a.file.display().to_string();
    let d = {
        let _p = crate::progress::Phase::start(format!("validating {label}"));
        Dataset::parse(schema, &label, &raw)?
    };
    let previous = current_inputs(&entries, &period)
        .get(&a.source)
        .map(|e| (*e).clone());
    if let Some(p) = &previous {
        if body_str(p, "dataset")? == d.sha256_hex() {
            println!(
                "this dataset is already recorded for {period}/{} as entry {}; nothing written",
                a.source,
                p.seq()
            );
            return Ok(());
        }
    }
    let canonical = d.canonical_bytes();
    let file_name = a
        .file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut body = Map::new();
    body.insert("period".into(), period.to_string().into());
    body.insert("source".into(), a.source.clone().into());
    body.insert("rules".into(), pkg.id().into());
    body.insert("package_hash".into(), pkg.hash_hex().into());
    body.insert("dataset".into(), d.sha256_hex().into());
    body.insert("rows".into(), (d.n_rows() as u64).into());
    body.insert("schema".into(), schema.to_json());
    body.insert(
        "file".into(),
        json!({"name": file_name, "sha256": Hash::of(&raw).to_hex(), "bytes": raw.len() as u64}),
    );
    body.insert(
        "supersedes".into(),
        previous
            .as_ref()
            .map(|p| Value::from(p.seq()))
            .unwrap_or(Value::Null),
    );
    let added = {
        let _p = crate::progress::Phase::start("writing to the ledger");
        l.append(Kind::InputRecord, body, vec![canonical, raw], &key)?
    };
    println!(
        "recorded {}/{} as entry {}: {} rows, dataset {}",
        period,
        a.source,
        added.entry.seq(),
        d.n_rows(),
        d.sha256_hex()
    );
    if let Some(p) = previous {
        println!(
            "this supersedes entry {} (dataset {}), which stays in the ledger",
            p.seq(),
            body_str(&p, "dataset")?
        );
    }
    Ok(())
}

/// `rank --period P --rules NAME@VERSION [--publish --signer FILE]`: compute
/// from ledger materials only. Returns the ranking and, when published, its
/// ID (the entry's sequence number).
pub fn rank_from_ledger(
    ledger: &Path,
    period: &str,
    rules: &str,
    publish: Option<&Path>,
) -> anyhow::Result<(Ranking, Option<u64>)> {
    let period: Period = period.parse()?;
    let key = publish.map(read_secret_key).transpose()?;
    let mut l = if key.is_some() {
        open_for_append(ledger)?
    } else {
        open(ledger)?
    };
    let entries = l.all_entries()?;
    let published = find_package(&l, &entries, rules)?;
    if !published.package.is_effective(&period) {
        bail!("{rules} is not in effect for period {period}");
    }
    let inputs = {
        let _p = crate::progress::Phase::start("reading the recorded datasets");
        gather_inputs(&l, &entries, published, &period, None)?
    };
    let ranking = {
        let n = inputs.datasets.values().next().map_or(0, Dataset::n_rows);
        let _p = crate::progress::Phase::start(format!("scoring {n} staff"));
        rankproof_engine::rank(&inputs.rules.package, &inputs.datasets, &period)?
    };
    let Some(key) = key else {
        return Ok((ranking, None));
    };
    let _p = crate::progress::Phase::start("publishing to the ledger");
    let result = ranking.canonical_bytes();
    let salts = workflow::fresh_salts(ranking.results.len());
    let salts_blob = workflow::salts_blob(&salts);
    let root = workflow::results_root(&ranking, &salts)?;
    let body = workflow::ranking_publish_body(
        &inputs,
        &ranking,
        &Hash::of(&result),
        &Hash::of(&salts_blob),
        &root,
    );
    let added = l.append(Kind::RankingPublish, body, vec![result, salts_blob], &key)?;
    Ok((ranking, Some(added.entry.seq())))
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The ranking to replay (entry number or entry-hash prefix).
    #[arg(long, conflicts_with = "all")]
    pub ranking: Option<String>,
    /// Replay every published ranking.
    #[arg(long)]
    pub all: bool,
    /// Replay from an exported bundle instead of the ledger.
    #[arg(long, requires = "log_vkey")]
    pub bundle: Option<PathBuf>,
    /// The log's verifier key (with --bundle).
    #[arg(long)]
    pub log_vkey: Option<String>,
}

/// The materials of a replay or explain: the ledger, or a verified bundle.
fn materials(
    ledger: &Path,
    bundle: &Option<PathBuf>,
    log_vkey: &Option<String>,
) -> Result<Box<dyn Materials>, crate::exit::Failure> {
    match bundle {
        Some(dir) => {
            let vkey_arg = log_vkey
                .as_deref()
                .ok_or_else(|| anyhow!("--bundle needs --log-vkey"))?;
            let vkey = super::keys::parse_vkey_arg(vkey_arg)?;
            rankproof_ledger::bundle::verify_bundle(dir, &vkey, None)
                .map_err(|e| finding(anyhow!("bundle {}: {e}", dir.display())))?;
            Ok(Box::new(BundleDir::open(dir)?))
        }
        None => Ok(Box::new(open(ledger)?)),
    }
}

pub fn replay(ledger: &Path, a: ReplayArgs) -> CmdResult {
    if a.ranking.is_none() && !a.all {
        fail!("say which ranking: --ranking ID, or --all");
    }
    let m = materials(ledger, &a.bundle, &a.log_vkey)?;
    let entries = m.all_entries()?;
    let targets: Vec<&Entry> = match &a.ranking {
        Some(id) => vec![find_ranking(&entries, id)?],
        None => entries
            .iter()
            .filter(|e| e.kind() == Kind::RankingPublish)
            .collect(),
    };
    if targets.is_empty() {
        println!("no published rankings to replay");
        return Ok(());
    }
    let mut bad = 0;
    for e in targets {
        let _p = crate::progress::Phase::start(format!("replaying ranking {}", e.seq()));
        match replay_one(m.as_ref(), &entries, e) {
            Ok(()) => {}
            Err(problems) => {
                bad += 1;
                println!("ranking {}: MISMATCH", e.seq());
                for p in problems {
                    println!("  {p}");
                }
            }
        }
    }
    if bad > 0 {
        return Err(finding(anyhow!(
            "{bad} ranking(s) did not replay to the published result"
        )));
    }
    Ok(())
}

/// Replay one ranking; on mismatch return what differs.
fn replay_one(m: &dyn Materials, entries: &[Entry], e: &Entry) -> Result<(), Vec<String>> {
    let one = |s: String| vec![s];
    let (_, ranking) = workflow::recompute(m, entries, e).map_err(|x| one(format!("{x:#}")))?;
    let result_hash = body_hash(e, "result").map_err(|x| one(x.to_string()))?;
    let bytes = ranking.canonical_bytes();
    let mut problems = Vec::new();
    if Hash::of(&bytes) != result_hash {
        problems.push(format!(
            "result hash {} differs from the published {}",
            Hash::of(&bytes).to_hex(),
            result_hash.to_hex()
        ));
        match m.blob_bytes(&result_hash) {
            Ok(stored) => problems.extend(diff_results(&stored, &ranking.to_json())),
            Err(x) => problems.push(format!("cannot read the published result: {x}")),
        }
    }
    let salts = body_hash(e, "salts")
        .and_then(|h| m.blob_bytes(&h))
        .and_then(|b| workflow::parse_salts(&b));
    match salts.and_then(|s| workflow::results_root(&ranking, &s)) {
        Ok(root) => {
            if body_str(e, "results_root").ok() != Some(root.to_hex().as_str()) {
                problems.push("the salted results root differs from the published one".into());
            }
        }
        Err(x) => problems.push(format!("results tree: {x}")),
    }
    if problems.is_empty() {
        println!(
            "ranking {} ({} {}, {} staff): replayed, result {} matches",
            e.seq(),
            body_str(e, "period").unwrap_or("?"),
            e.body()
                .get("rules")
                .and_then(|r| r.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("?"),
            ranking.results.len(),
            result_hash.to_hex()
        );
        Ok(())
    } else {
        Err(problems)
    }
}

/// Staff-by-staff, field-by-field differences between the published
/// result document and a recomputed one.
fn diff_results(stored: &[u8], recomputed: &Value) -> Vec<String> {
    let Ok(stored) = serde_json::from_slice::<Value>(stored) else {
        return vec!["the published result is not JSON".into()];
    };
    let index = |v: &Value| -> BTreeMap<String, Value> {
        v.get("results")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((r.get("staff_id")?.as_str()?.to_string(), r.clone())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (a, b) = (index(&stored), index(recomputed));
    let mut out = Vec::new();
    for (id, ra) in &a {
        let Some(rb) = b.get(id) else {
            out.push(format!("staff {id}: published but missing from the replay"));
            continue;
        };
        if let (Some(oa), Some(ob)) = (ra.as_object(), rb.as_object()) {
            for (k, va) in oa {
                if k == "explain" {
                    continue;
                }
                if ob.get(k) != Some(va) {
                    out.push(format!(
                        "staff {id}: {k} published {va}, replayed {}",
                        ob.get(k).unwrap_or(&Value::Null)
                    ));
                }
            }
        }
    }
    for id in b.keys().filter(|id| !a.contains_key(*id)) {
        out.push(format!("staff {id}: in the replay but not published"));
    }
    if out.is_empty() {
        out.push(
            "per-staff fields agree; the difference is in the document header or explanations"
                .into(),
        );
    }
    out
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The ranking (entry number or entry-hash prefix).
    #[arg(long)]
    pub ranking: String,
    /// The staff member's ID.
    #[arg(long)]
    pub staff: String,
    /// Print the explanation as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn explain(ledger: &Path, a: ExplainArgs) -> CmdResult {
    let l = open(ledger)?;
    let entries = l.all_entries()?;
    let e = find_ranking(&entries, &a.ranking)?;
    let published = workflow::PublishedResults::load(&l, e).map_err(finding)?;
    let idx = published
        .find(&a.staff)
        .ok_or_else(|| anyhow!("staff {} is not in ranking {}", a.staff, e.seq()))?;
    let record = published.record(idx)?;
    let r = &record;
    if a.json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    let s = |k: &str| -> String {
        match r.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {} ({} / {}), ranking {} of {} under {}",
        s("staff_id"),
        s("name"),
        s("region"),
        s("team"),
        e.seq(),
        body_str(e, "period")?,
        published.package
    )?;
    writeln!(
        out,
        "total {}  position {}  rank {} of {}  grade {}  bonus ×{}",
        s("total"),
        s("position"),
        s("rank"),
        published.n,
        s("grade"),
        s("bonus_multiplier")
    )?;
    let ex = r.get("explain").cloned().unwrap_or(Value::Null);
    writeln!(out, "\ninputs:")?;
    if let Some(inputs) = ex.get("inputs").and_then(Value::as_object) {
        let mut t = Table::new(["field", "value"]);
        for (k, v) in inputs {
            t.row(vec![k.clone(), plain(v)]);
        }
        write!(out, "{}", t.render())?;
    }
    if let Some(scoring) = ex.get("scoring").and_then(Value::as_object) {
        // Each score built from terms: {"terms": {name: [value, weight, contribution]}}.
        for (dim, d) in scoring {
            let value = ex
                .get("unrounded")
                .and_then(|u| u.get(dim))
                .map(plain)
                .unwrap_or_default();
            let rounding = d
                .get("rounded_to")
                .map(|p| format!(" (sum rounded to {} places)", plain(p)))
                .unwrap_or_default();
            writeln!(out, "\n{dim} = {value}{rounding}")?;
            let mut t = Table::new(["part", "value", "weight", "contribution"]);
            if let Some(terms) = d.get("terms").and_then(Value::as_object) {
                for (k, vwc) in terms {
                    let at = |i: usize| vwc.get(i).map(plain).unwrap_or_default();
                    t.row(vec![k.clone(), at(0), at(1), at(2)]);
                }
            }
            write!(out, "{}", t.render())?;
        }
    }
    if let Some(details) = ex.get("details").and_then(Value::as_object) {
        if !details.is_empty() {
            writeln!(out, "\ndetails:")?;
            for (k, v) in details {
                writeln!(out, "  {k}: {}", plain(v))?;
            }
        }
    }
    if let Some(c) = ex.get("classification").and_then(Value::as_object) {
        writeln!(out, "\ngrade and bonus:")?;
        for (k, v) in c {
            writeln!(out, "  {k}: {}", plain(v))?;
        }
    }
    Ok(())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `x × y` of two canonical decimal strings, canonical.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use rankproof_engine::synth::{generate, CrmHeaders};
    use rankproof_ledger::{Ledger, MemStorage, Role, SecretKey};

    use super::*;
    use crate::cmd::rules::read_package_dir;

    /// A ledger whose ranking entry was signed by a real operator but
    /// records a result that the recorded inputs do not produce: replay
    /// must report the mismatch, staff by staff.
    #[test]
    fn replay_names_staff_and_fields_of_a_doctored_ranking() {
        let log = SecretKey::generate("t.example/log").unwrap();
        let admin = SecretKey::generate("admin").unwrap();
        let hr = SecretKey::generate("hr").unwrap();
        let steward = SecretKey::generate("steward").unwrap();
        let operator = SecretKey::generate("operator").unwrap();
        let mut l = Ledger::create(
            MemStorage::new(),
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

        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/marketing-v1");
        let pkg =
            rankproof_engine::RulePackage::from_files(read_package_dir(&dir).unwrap()).unwrap();
        let blobs: Vec<Vec<u8>> = pkg.files().values().cloned().collect();
        l.append(
            Kind::RulesPublish,
            workflow::rules_publish_body(&pkg),
            blobs,
            &hr,
        )
        .unwrap();
        let period: Period = "2025-Q1".parse().unwrap();
        let cohort = generate(30, 3, CrmHeaders::Canonical);
        let mut honest = BTreeMap::new();
        for (source, csv) in [
            ("crm", &cohort.crm),
            ("survey", &cohort.survey),
            ("oa", &cohort.oa),
        ] {
            let d = Dataset::parse(pkg.source(source).unwrap(), source, csv.as_bytes()).unwrap();
            let mut body = Map::new();
            body.insert("period".into(), "2025-Q1".into());
            body.insert("source".into(), source.into());
            body.insert("dataset".into(), d.sha256_hex().into());
            l.append(Kind::InputRecord, body, vec![d.canonical_bytes()], &steward)
                .unwrap();
            honest.insert(d.schema().source.clone(), d);
        }
        let entries = l.all_entries().unwrap();
        let published = find_package(&l, &entries, "marketing@1.0.0").unwrap();
        let inputs = gather_inputs(&l, &entries, published, &period, None).unwrap();

        // The operator publishes a ranking computed from an edited survey.
        let survey: String = cohort
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
        let mut doctored_inputs = honest.clone();
        let sd =
            Dataset::parse(pkg.source("survey").unwrap(), "survey", survey.as_bytes()).unwrap();
        doctored_inputs.insert(sd.schema().source.clone(), sd);
        let doctored = rankproof_engine::rank(&pkg, &doctored_inputs, &period).unwrap();
        let honest_ranking = rankproof_engine::rank(&pkg, &honest, &period).unwrap();
        assert_ne!(
            doctored.sha256(),
            honest_ranking.sha256(),
            "the edit changes the ranking"
        );
        let result = doctored.canonical_bytes();
        let salts = workflow::fresh_salts(doctored.results.len());
        let salts_blob = workflow::salts_blob(&salts);
        let root = workflow::results_root(&doctored, &salts).unwrap();
        let body = workflow::ranking_publish_body(
            &inputs,
            &doctored,
            &Hash::of(&result),
            &Hash::of(&salts_blob),
            &root,
        );
        let e = l
            .append(
                Kind::RankingPublish,
                body,
                vec![result, salts_blob],
                &operator,
            )
            .unwrap()
            .entry;
        // The ledger itself verifies: signatures and roles are fine.
        l.verify(None).unwrap();
        let entries = l.all_entries().unwrap();
        let problems = replay_one(&l, &entries, &e).unwrap_err();
        assert!(
            problems[0].contains("differs from the published"),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("staff ") && p.contains("customer")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|p| p.contains("results root")),
            "{problems:?}"
        );
    }

    #[test]
    fn line_diff_shows_changed_lines_with_context() {
        let d = line_diff("a\nb\nc\nd\n", "a\nB\nc\nd\n");
        assert_eq!(d, "  a\n- b\n+ B\n  c\n");
    }
}
