//! The workflow layer shared by `rules publish`, `input record`, `rank
//! --period`, `replay`, `explain` and receipts: finding published rule
//! packages, recorded datasets and rankings in a ledger (or in an exported
//! bundle), recomputing a ranking from those materials only, and the salted
//! per-staff results tree.
//!
//! The entry bodies written here are specified in FORMAT.md ("Workflow
//! entries").

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use rand_core::{OsRng, RngCore};
use rankproof_engine::{Dataset, Period, Ranking, RulePackage, SourceName};
use rankproof_ledger::{bundle, merkle, Entry, Hash, Kind, Ledger, Storage};
use serde_json::{json, Map, Value};

/// Format tag of the salts blob of a published ranking.
pub const SALTS_FORMAT: &str = "rankproof-salts/1";

/// Read access to a log's entries and blobs: a sled ledger or a bundle.
pub trait Materials {
    /// All entries, in log order.
    fn all_entries(&self) -> anyhow::Result<Vec<Entry>>;
    /// A blob by hash.
    fn blob_bytes(&self, h: &Hash) -> anyhow::Result<Vec<u8>>;
}

impl<S: Storage> Materials for Ledger<S> {
    fn all_entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.entries()
            .map(|e| e.map_err(anyhow::Error::from))
            .collect()
    }
    fn blob_bytes(&self, h: &Hash) -> anyhow::Result<Vec<u8>> {
        self.blob(h)?
            .ok_or_else(|| anyhow!("blob {} is missing from the ledger", h.to_hex()))
    }
}

/// An exported audit bundle read from its directory (verify it first).
pub struct BundleDir {
    dir: PathBuf,
    entries: Vec<Entry>,
}

impl BundleDir {
    /// Read `entries.jsonl` of the bundle at `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<BundleDir> {
        let path = dir.join("entries.jsonl");
        let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let entries = bundle::split_lines(&data)
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Entry::parse(l).with_context(|| format!("{} line {}", path.display(), i + 1))
            })
            .collect::<anyhow::Result<Vec<Entry>>>()?;
        Ok(BundleDir {
            dir: dir.to_path_buf(),
            entries,
        })
    }
}

impl Materials for BundleDir {
    fn all_entries(&self) -> anyhow::Result<Vec<Entry>> {
        Ok(self.entries.clone())
    }
    fn blob_bytes(&self, h: &Hash) -> anyhow::Result<Vec<u8>> {
        let path = self.dir.join("blobs").join(h.to_hex());
        let data = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if Hash::of(&data) != *h {
            bail!("{} does not hash to its name", path.display());
        }
        Ok(data)
    }
}

/// A body field as a string.
pub fn body_str<'a>(e: &'a Entry, field: &str) -> anyhow::Result<&'a str> {
    e.body()
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("entry {} ({}) has no `{field}`", e.seq(), e.kind().as_str()))
}

/// A body field as a hash given in hex.
pub fn body_hash(e: &Entry, field: &str) -> anyhow::Result<Hash> {
    let s = body_str(e, field)?;
    Hash::from_hex(s).ok_or_else(|| anyhow!("entry {}: `{field}` is not a hash", e.seq()))
}

/// A published rule package: its entry and the loaded package.
pub struct Published {
    pub entry: Entry,
    pub package: RulePackage,
}

/// `name@version` of a `rules.publish` entry.
pub fn package_id(e: &Entry) -> anyhow::Result<String> {
    Ok(format!(
        "{}@{}",
        body_str(e, "name")?,
        body_str(e, "version")?
    ))
}

/// The body of a `rules.publish` entry for `pkg`.
pub fn rules_publish_body(pkg: &RulePackage) -> Map<String, Value> {
    let mut b = Map::new();
    b.insert("name".into(), pkg.name().into());
    b.insert("version".into(), pkg.version().to_string().into());
    b.insert("description".into(), pkg.description().into());
    b.insert(
        "effective_from".into(),
        pkg.effective_from().to_string().into(),
    );
    b.insert(
        "effective_until".into(),
        pkg.effective_until()
            .map(|p| Value::from(p.to_string()))
            .unwrap_or(Value::Null),
    );
    b.insert("package_hash".into(), pkg.hash_hex().into());
    b.insert(
        "files".into(),
        Value::Object(
            pkg.file_hashes()
                .into_iter()
                .map(|(k, v)| (k, Value::from(v)))
                .collect(),
        ),
    );
    b
}

/// Every `rules.publish` entry, in log order.
pub fn rules_entries(entries: &[Entry]) -> Vec<&Entry> {
    entries
        .iter()
        .filter(|e| e.kind() == Kind::RulesPublish)
        .collect()
}

/// Load a published package from its entry's blobs; the package hash must
/// match the one the entry records.
pub fn load_published(m: &dyn Materials, e: &Entry) -> anyhow::Result<RulePackage> {
    let files = e
        .body()
        .get("files")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("entry {}: rules.publish without `files`", e.seq()))?;
    let mut map = BTreeMap::new();
    for (path, h) in files {
        let h = h
            .as_str()
            .and_then(Hash::from_hex)
            .ok_or_else(|| anyhow!("entry {}: file {path} has no hash", e.seq()))?;
        map.insert(path.clone(), m.blob_bytes(&h)?);
    }
    let pkg = RulePackage::from_files(map)
        .with_context(|| format!("published package in entry {}", e.seq()))?;
    if pkg.hash_hex() != body_str(e, "package_hash")? {
        bail!(
            "entry {}: the stored files do not hash to the recorded package hash",
            e.seq()
        );
    }
    Ok(pkg)
}

/// Find a published package by `NAME@VERSION`.
pub fn find_package(m: &dyn Materials, entries: &[Entry], id: &str) -> anyhow::Result<Published> {
    let Some((name, version)) = id.split_once('@') else {
        bail!("name a published package as NAME@VERSION, e.g. marketing@1.0.0 (see `rankproof rules list`)");
    };
    let found = rules_entries(entries).into_iter().find(|e| {
        body_str(e, "name").ok() == Some(name) && body_str(e, "version").ok() == Some(version)
    });
    let Some(entry) = found else {
        let known: Vec<String> = rules_entries(entries)
            .into_iter()
            .filter_map(|e| package_id(e).ok())
            .collect();
        bail!(
            "no published rule package {id}; published: {}",
            if known.is_empty() {
                "none (publish one with `rankproof rules publish`)".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let package = load_published(m, entry)?;
    Ok(Published {
        entry: entry.clone(),
        package,
    })
}

/// The dataset in force for each source of a period: the latest
/// `input.record` for (period, source) supersedes earlier ones.
pub fn current_inputs<'a>(entries: &'a [Entry], period: &Period) -> BTreeMap<String, &'a Entry> {
    let p = period.to_string();
    let mut out = BTreeMap::new();
    for e in entries.iter().filter(|e| e.kind() == Kind::InputRecord) {
        if body_str(e, "period").ok() == Some(p.as_str()) {
            if let Ok(source) = body_str(e, "source") {
                out.insert(source.to_string(), e);
            }
        }
    }
    out
}

/// The ledger materials of one ranking: package, datasets by source and
/// the entries they came from.
pub struct RankingInputs {
    pub rules: Published,
    pub datasets: BTreeMap<SourceName, Dataset>,
    pub input_entries: BTreeMap<String, Entry>,
}

/// Gather the recorded datasets a package needs for `period`.
pub fn gather_inputs(
    m: &dyn Materials,
    entries: &[Entry],
    rules: Published,
    period: &Period,
    chosen: Option<&BTreeMap<String, u64>>,
) -> anyhow::Result<RankingInputs> {
    let current = current_inputs(entries, period);
    let mut datasets = BTreeMap::new();
    let mut input_entries = BTreeMap::new();
    for (source, schema) in rules.package.sources() {
        let entry: &Entry = match chosen {
            Some(c) => {
                let seq = c
                    .get(source.as_str())
                    .ok_or_else(|| anyhow!("the ranking names no dataset for source `{source}`"))?;
                entries
                    .get(usize::try_from(*seq).unwrap_or(usize::MAX))
                    .filter(|e| e.kind() == Kind::InputRecord)
                    .ok_or_else(|| anyhow!("entry {seq} is not an input.record"))?
            }
            None => current.get(source.as_str()).copied().ok_or_else(|| {
                anyhow!(
                    "no dataset recorded for source `{source}` in period {period}; record one with \
                     `rankproof input record --period {period} --source {source} FILE`"
                )
            })?,
        };
        let h = body_hash(entry, "dataset")?;
        let bytes = m.blob_bytes(&h)?;
        let label = format!("dataset {} (entry {})", h.to_hex(), entry.seq());
        let d = Dataset::parse(schema, &label, &bytes)?;
        if d.sha256_hex() != h.to_hex() {
            bail!("{label}: the stored dataset is not in canonical form");
        }
        datasets.insert(source.clone(), d);
        input_entries.insert(source.to_string(), entry.clone());
    }
    Ok(RankingInputs {
        rules,
        datasets,
        input_entries,
    })
}

/// Fresh random 32-byte salts, one per staff member.
pub fn fresh_salts(n: usize) -> Vec<[u8; 32]> {
    (0..n)
        .map(|_| {
            let mut s = [0u8; 32];
            OsRng.fill_bytes(&mut s);
            s
        })
        .collect()
}

/// The salts blob: JCS `{"format": SALTS_FORMAT, "salts": [hex, ...]}` in
/// position order.
pub fn salts_blob(salts: &[[u8; 32]]) -> Vec<u8> {
    let v = json!({
        "format": SALTS_FORMAT,
        "salts": salts.iter().map(hex::encode).collect::<Vec<_>>(),
    });
    canonical(&v)
}

/// Parse a salts blob.
pub fn parse_salts(bytes: &[u8]) -> anyhow::Result<Vec<[u8; 32]>> {
    let v: Value = serde_json::from_slice(bytes).context("salts blob is not JSON")?;
    if v.get("format").and_then(Value::as_str) != Some(SALTS_FORMAT) {
        bail!("salts blob has the wrong format tag");
    }
    v.get("salts")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("salts blob has no `salts` array"))?
        .iter()
        .map(|s| {
            s.as_str()
                .and_then(|s| hex::decode(s).ok())
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| anyhow!("a salt is not 32 bytes of hex"))
        })
        .collect()
}

/// JCS bytes of a JSON value built here (strings, safe integers, objects).
pub fn canonical(v: &Value) -> Vec<u8> {
    // INVARIANT: values built by this module hold no floats or unsafe integers,
    // the only inputs JCS refuses.
    rankproof_ledger::jcs::to_vec(v).unwrap_or_default()
}

/// The leaf hashes of a ranking's results tree, in position order.
pub fn results_leaves(ranking: &Ranking, salts: &[[u8; 32]]) -> anyhow::Result<Vec<Hash>> {
    if salts.len() != ranking.results.len() {
        bail!("{} salts for {} staff", salts.len(), ranking.results.len());
    }
    Ok(ranking
        .results
        .iter()
        .zip(salts)
        .map(|(r, s)| rankproof_ledger::receipt::salted_leaf_canonical(&r.canonical_bytes(), s))
        .collect())
}

/// The root of the salted per-staff results tree.
pub fn results_root(ranking: &Ranking, salts: &[[u8; 32]]) -> anyhow::Result<Hash> {
    Ok(merkle::root(&results_leaves(ranking, salts)?))
}

/// Find a ranking by sequence number or by a unique prefix of its leaf hash.
pub fn find_ranking<'a>(entries: &'a [Entry], id: &str) -> anyhow::Result<&'a Entry> {
    let rankings: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind() == Kind::RankingPublish)
        .collect();
    if let Ok(seq) = id.parse::<u64>() {
        return rankings
            .iter()
            .copied()
            .find(|e| e.seq() == seq)
            .ok_or_else(|| anyhow!("entry {seq} is not a published ranking; see `rankproof log`"));
    }
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < 4 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("a ranking is named by its entry number or by 4+ hex digits of its entry hash");
    }
    let hits: Vec<&Entry> = rankings
        .into_iter()
        .filter(|e| e.leaf_hash().to_hex().starts_with(&prefix))
        .collect();
    match hits.as_slice() {
        [one] => Ok(one),
        [] => bail!("no published ranking has an entry hash starting {prefix}"),
        _ => bail!("{prefix} names {} rankings; give more digits", hits.len()),
    }
}

/// Recompute a published ranking from the recorded rules and inputs only.
pub fn recompute(
    m: &dyn Materials,
    entries: &[Entry],
    ranking_entry: &Entry,
) -> anyhow::Result<(RankingInputs, Ranking)> {
    let body = ranking_entry.body();
    let rules_seq = body
        .get("rules")
        .and_then(|r| r.get("entry"))
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("ranking {}: no rules entry", ranking_entry.seq()))?;
    let rules_entry = entries
        .get(usize::try_from(rules_seq).unwrap_or(usize::MAX))
        .filter(|e| e.kind() == Kind::RulesPublish)
        .ok_or_else(|| {
            anyhow!(
                "ranking {}: entry {rules_seq} is not rules.publish",
                ranking_entry.seq()
            )
        })?;
    let package = load_published(m, rules_entry)?;
    let period: Period = body_str(ranking_entry, "period")?
        .parse()
        .map_err(|e| anyhow!("ranking {}: {e}", ranking_entry.seq()))?;
    let chosen: BTreeMap<String, u64> = body
        .get("inputs")
        .and_then(Value::as_object)
        .ok_or_else(|| anyhow!("ranking {}: no inputs", ranking_entry.seq()))?
        .iter()
        .map(|(k, v)| {
            v.get("entry")
                .and_then(Value::as_u64)
                .map(|s| (k.clone(), s))
                .ok_or_else(|| anyhow!("ranking {}: input {k} has no entry", ranking_entry.seq()))
        })
        .collect::<anyhow::Result<_>>()?;
    let published = Published {
        entry: rules_entry.clone(),
        package,
    };
    let inputs = gather_inputs(m, entries, published, &period, Some(&chosen))?;
    let ranking = rankproof_engine::rank(&inputs.rules.package, &inputs.datasets, &period)?;
    Ok((inputs, ranking))
}

/// The body of a `ranking.publish` entry.
pub fn ranking_publish_body(
    inputs: &RankingInputs,
    ranking: &Ranking,
    result_hash: &Hash,
    salts_hash: &Hash,
    root: &Hash,
) -> Map<String, Value> {
    let mut b = Map::new();
    b.insert("period".into(), ranking.period.to_string().into());
    b.insert(
        "rules".into(),
        json!({
            "name": inputs.rules.package.name(),
            "version": inputs.rules.package.version().to_string(),
            "package_hash": inputs.rules.package.hash_hex(),
            "entry": inputs.rules.entry.seq(),
        }),
    );
    b.insert(
        "inputs".into(),
        Value::Object(
            inputs
                .input_entries
                .iter()
                .map(|(s, e)| {
                    let dataset = body_str(e, "dataset").unwrap_or_default().to_string();
                    (s.clone(), json!({"dataset": dataset, "entry": e.seq()}))
                })
                .collect(),
        ),
    );
    b.insert("prior_rankings".into(), json!([]));
    b.insert(
        "engine".into(),
        json!({"version": ranking.engine_version, "limits": ranking.limits.to_json()}),
    );
    b.insert("result".into(), result_hash.to_hex().into());
    b.insert("salts".into(), salts_hash.to_hex().into());
    b.insert("results_root".into(), root.to_hex().into());
    b.insert("n".into(), (ranking.results.len() as u64).into());
    b
}

/// A published ranking's stored results: each staff record's raw JCS bytes
/// (in position order), the recorded salts, and the results-tree leaves,
/// already checked against the entry's `results_root`.
pub struct PublishedResults {
    /// The result document blob.
    doc: Vec<u8>,
    /// Byte ranges of the staff records within `doc`.
    spans: Vec<std::ops::Range<usize>>,
    pub salts: Vec<[u8; 32]>,
    pub leaves: Vec<Hash>,
    pub package: String,
    pub n: u64,
}

impl PublishedResults {
    /// Load and check the results of ranking entry `e`. A mismatch with
    /// the signed `results_root` is an error naming the ranking.
    pub fn load(m: &dyn Materials, e: &Entry) -> anyhow::Result<PublishedResults> {
        #[derive(serde::Deserialize)]
        struct Package<'a> {
            name: &'a str,
            version: &'a str,
        }
        #[derive(serde::Deserialize)]
        struct Doc<'a> {
            #[serde(borrow)]
            package: Package<'a>,
            n: u64,
            #[serde(borrow)]
            results: Vec<&'a serde_json::value::RawValue>,
        }
        let doc = m.blob_bytes(&body_hash(e, "result")?)?;
        let salts = parse_salts(&m.blob_bytes(&body_hash(e, "salts")?)?)?;
        let (spans, package, n) = {
            let parsed: Doc<'_> = serde_json::from_slice(&doc)
                .with_context(|| format!("ranking {}: the published result", e.seq()))?;
            let base = doc.as_ptr() as usize;
            let spans = parsed
                .results
                .iter()
                .map(|r| {
                    let start = r.get().as_ptr() as usize - base;
                    start..start + r.get().len()
                })
                .collect::<Vec<_>>();
            let package = format!("{}@{}", parsed.package.name, parsed.package.version);
            (spans, package, parsed.n)
        };
        if spans.len() != salts.len() {
            bail!(
                "ranking {}: {} results but {} salts",
                e.seq(),
                spans.len(),
                salts.len()
            );
        }
        let leaves: Vec<Hash> = spans
            .iter()
            .zip(&salts)
            .map(|(r, s)| rankproof_ledger::receipt::salted_leaf_canonical(&doc[r.clone()], s))
            .collect();
        if merkle::root(&leaves).to_hex() != body_str(e, "results_root")? {
            bail!(
                "ranking {}: the stored results do not match the published results root",
                e.seq()
            );
        }
        Ok(PublishedResults {
            doc,
            spans,
            salts,
            leaves,
            package,
            n,
        })
    }

    /// Number of staff.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The raw JCS bytes of the record at `idx` (position − 1).
    pub fn raw(&self, idx: usize) -> &[u8] {
        self.spans
            .get(idx)
            .and_then(|r| self.doc.get(r.clone()))
            .unwrap_or_default()
    }

    /// The record at `idx` as JSON.
    pub fn record(&self, idx: usize) -> anyhow::Result<Value> {
        serde_json::from_slice(self.raw(idx)).context("a published staff record")
    }

    /// The staff ID of the record at `idx`.
    pub fn staff_id(&self, idx: usize) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Id {
            staff_id: String,
        }
        serde_json::from_slice::<Id>(self.raw(idx))
            .ok()
            .map(|i| i.staff_id)
    }

    /// The index of a staff member's record.
    pub fn find(&self, staff: &str) -> Option<usize> {
        (0..self.len()).find(|&i| self.staff_id(i).as_deref() == Some(staff))
    }
}
