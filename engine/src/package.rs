//! Rule packages: a manifest (`package.toml`), one rhai script, and the
//! package's own test cases, loaded from an in-memory file map.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use rhai::{Engine, AST};
use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::decimal::parse_strict;
use crate::period::Period;
use crate::sandbox::{build_engine, Limits, HELPERS};
use crate::schema::{
    fold_width, is_identifier, Bound, Column, ColumnType, MissingStaff, RowPolicy, SourceName,
    SourceRules, SourceSchema,
};

/// The manifest's path inside a package.
pub const MANIFEST: &str = "package.toml";

/// The members of a staff record the engine writes itself (besides the
/// scores and attributes), in the order they are listed in RULES.md §8.
pub const RECORD_KEYS: [&str; 7] = [
    "staff_id",
    "position",
    "rank",
    "grade",
    "bonus_multiplier",
    "flags",
    "explain",
];

/// Result keys score and attribute names may not use: the record's own
/// members, and the leaf's `salt` (FORMAT.md §11.4).
fn is_reserved_key(k: &str) -> bool {
    RECORD_KEYS.contains(&k) || k == "salt"
}

/// A problem with a rule package. Messages name the file, and the line and
/// field where known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    #[error("{file}: {message}")]
    BadFile { file: String, message: String },
    #[error("{file}: line {line}: {field}: {message}")]
    BadField {
        file: String,
        line: usize,
        field: String,
        message: String,
    },
    #[error("{file}: line {line}, column {column}: {message}")]
    Script {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the package has no `{0}`")]
    MissingFile(String),
}

/// A semantic version `MAJOR.MINOR.PATCH` (no leading zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('.').collect();
        let num = |p: &str| -> Option<u64> {
            let ok = !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'));
            if ok {
                p.parse().ok()
            } else {
                None
            }
        };
        match parts.as_slice() {
            [a, b, c] => match (num(a), num(b), num(c)) {
                (Some(major), Some(minor), Some(patch)) => Ok(Version {
                    major,
                    minor,
                    patch,
                }),
                _ => Err(format!("`{s}` is not a semantic version MAJOR.MINOR.PATCH")),
            },
            _ => Err(format!("`{s}` is not a semantic version MAJOR.MINOR.PATCH")),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Sort direction of an order key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

impl Direction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }
}

/// One key of the ranking order: a score name and a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderKey {
    pub score: String,
    pub direction: Direction,
}

/// How results are ordered, ranked, reported and graded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankingSpec {
    /// Score names the `score` function returns, in report order.
    pub scores: Vec<String>,
    /// Reported scores are `rhu(score, report_decimals)`.
    pub report_decimals: u32,
    /// Order keys; `staff_id` ascending always follows as the last key.
    pub order: Vec<OrderKey>,
    /// Competition rank is computed on this score (in the direction of its order key).
    pub rank_by: String,
    pub rank_direction: Direction,
    /// The grades `classify` may return, best first.
    pub grades: Vec<String>,
    /// Text input columns copied into each result (e.g. name, region, team).
    pub attributes: Vec<String>,
}

/// A package's own test case: input files and an expected-results file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCase {
    pub name: String,
    /// Source -> path of its input file inside the package.
    pub inputs: BTreeMap<SourceName, String>,
    /// Path of `expected.json` inside the package.
    pub expected: String,
}

/// A loaded, compiled, valid rule package.
#[derive(Clone)]
pub struct RulePackage {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) description: String,
    pub(crate) effective_from: Period,
    pub(crate) effective_until: Option<Period>,
    pub(crate) script_path: String,
    pub(crate) limits: Limits,
    pub(crate) ranking: RankingSpec,
    pub(crate) sources: BTreeMap<SourceName, SourceSchema>,
    pub(crate) tests: Vec<TestCase>,
    pub(crate) files: Arc<BTreeMap<String, Vec<u8>>>,
    pub(crate) hash: [u8; 32],
    pub(crate) engine: Arc<Engine>,
    pub(crate) ast: Arc<AST>,
    pub(crate) has_quota: bool,
    pub(crate) missing_staff: MissingStaff,
    pub(crate) labels: BTreeMap<String, String>,
}

impl fmt::Debug for RulePackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulePackage")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("hash", &self.hash_hex())
            .finish_non_exhaustive()
    }
}

// ---- raw manifest (serde) ------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    package: toml::Spanned<RawPackage>,
    limits: toml::Spanned<Limits>,
    ranking: toml::Spanned<RawRanking>,
    sources: BTreeMap<String, toml::Spanned<RawSource>>,
    #[serde(default)]
    join: Option<toml::Spanned<RawJoin>>,
    /// Display labels of scores, attributes, columns and result fields.
    #[serde(default)]
    labels: Option<toml::Spanned<BTreeMap<String, String>>>,
}

/// `[join]`: how sources are joined.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoin {
    missing_staff: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPackage {
    name: String,
    version: String,
    description: String,
    effective_from: String,
    effective_until: Option<String>,
    script: String,
    /// The script API the package is written for; this engine runs 2.
    script_api: u64,
    /// Patterns of further files the package publishes (RULES.md section 1).
    #[serde(default)]
    files: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrderKey {
    score: String,
    direction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRanking {
    scores: Vec<String>,
    report_decimals: u32,
    order: Vec<RawOrderKey>,
    rank_by: String,
    grades: Vec<String>,
    #[serde(default)]
    attributes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    columns: Vec<toml::Spanned<RawColumn>>,
    /// Header labels (or `*` patterns) of columns allowed and ignored.
    #[serde(default)]
    ignore_columns: Vec<String>,
    /// `refuse` (default) or `skip` rows whose cells are all empty.
    empty_rows: Option<String>,
    /// `refuse` (default) or `skip` a trailing total row (合计, 总计, Total).
    total_row: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(default = "yes")]
    required: bool,
    #[serde(default)]
    aliases: Vec<String>,
    ge: Option<toml::Value>,
    gt: Option<toml::Value>,
    le: Option<toml::Value>,
    lt: Option<toml::Value>,
    le_column: Option<String>,
    /// Units a header label may carry: `销售额（元）`.
    #[serde(default)]
    units: Vec<String>,
    /// At most this many decimal places.
    decimals: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

fn yes() -> bool {
    true
}

fn parse_manifest(text: &str) -> Result<RawManifest, RuleError> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        RuleError::BadField {
            file: MANIFEST.into(),
            line,
            field: "manifest".into(),
            message: e.message().to_owned(),
        }
    })
}

// ---- what a package is: the files its manifest names ----------------------

/// A file of a package folder that the package does not publish, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub path: String,
    pub reason: String,
}

/// A package folder sorted into the files the package is made of and the
/// files it leaves out (RULES.md section 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageContents {
    /// The package: exactly these files are hashed and published.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Files present in the folder but not part of the package, by path.
    pub left_out: Vec<LeftOut>,
}

/// Sort the files of a package folder (every file below it, hidden ones
/// included, keyed by `/`-separated relative path) into the package and
/// what it leaves out. The package is `package.toml`, the script, each test
/// case's `expected.json` and input files, and every file a `[package]
/// files` pattern matches; editor backups, lock files and hidden files are
/// left out even when a pattern matches them. A folder holding anything that
/// looks like a secret key is refused, whether or not the manifest names it.
pub fn package_contents(folder: BTreeMap<String, Vec<u8>>) -> Result<PackageContents, RuleError> {
    refuse_secret_keys(&folder)?;
    let text = text_file(&folder, MANIFEST)?;
    let raw = parse_manifest(text)?;
    let sorted = sort_files(&raw, text, folder.keys().map(String::as_str))?;
    let published: BTreeSet<String> = sorted.published;
    let files = folder
        .into_iter()
        .filter(|(p, _)| published.contains(p))
        .collect();
    Ok(PackageContents {
        files,
        left_out: sorted.left_out,
    })
}

struct Sorted {
    published: BTreeSet<String>,
    left_out: Vec<LeftOut>,
}

/// Why a file name is never published (editor backups, lock files, file
/// manager litter, hidden files), or None.
fn junk_kind(path: &str) -> Option<&'static str> {
    if path
        .split('/')
        .any(|c| c.starts_with('.') && !c.starts_with(".~lock."))
    {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name == ".DS_Store" {
            return Some("a file-manager file");
        }
        if name.ends_with(".swp") || name.ends_with(".swo") || name.ends_with(".swx") {
            return Some("an editor swap file");
        }
        return Some("a hidden file");
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.starts_with(".~lock.") {
        return Some("an office lock file");
    }
    if name.starts_with("~$") {
        return Some("an office owner (lock) file");
    }
    if name.ends_with('~') {
        return Some("an editor backup");
    }
    if name.len() > 1 && name.starts_with('#') && name.ends_with('#') {
        return Some("an editor autosave file");
    }
    if [".swp", ".swo", ".swx"].iter().any(|e| name.ends_with(e)) {
        return Some("an editor swap file");
    }
    if [".bak", ".orig", ".tmp"].iter().any(|e| name.ends_with(e)) {
        return Some("a backup or temporary file");
    }
    if ["Thumbs.db", "desktop.ini"].contains(&name) {
        return Some("a file-manager file");
    }
    None
}

/// Whether a `[package] files` pattern matches a path: `*` and `?` match
/// within one path component, a component `**` matches any number of them.
fn pattern_matches(pattern: &str, path: &str) -> bool {
    fn comps(p: &[&str], x: &[&str]) -> bool {
        match p.split_first() {
            None => x.is_empty(),
            Some((&"**", rest)) => (0..=x.len()).any(|k| comps(rest, &x[k..])),
            Some((c, rest)) => {
                !x.is_empty()
                    && component_matches(c.as_bytes(), x[0].as_bytes())
                    && comps(rest, &x[1..])
            }
        }
    }
    let p: Vec<&str> = pattern.split('/').collect();
    let x: Vec<&str> = path.split('/').collect();
    comps(&p, &x)
}

fn component_matches(p: &[u8], x: &[u8]) -> bool {
    match p.split_first() {
        None => x.is_empty(),
        Some((b'*', rest)) => (0..=x.len()).any(|k| component_matches(rest, &x[k..])),
        Some((b'?', rest)) => {
            // one character (UTF-8: one lead byte and its continuation bytes)
            let n = match x.first() {
                None => return false,
                Some(&b) if b < 0x80 => 1,
                Some(&b) if b >= 0xF0 => 4,
                Some(&b) if b >= 0xE0 => 3,
                Some(_) => 2,
            };
            x.len() >= n && component_matches(rest, &x[n..])
        }
        Some((c, rest)) => x.first() == Some(c) && component_matches(rest, &x[1..]),
    }
}

fn sort_files<'a>(
    raw: &RawManifest,
    text: &str,
    paths: impl Iterator<Item = &'a str>,
) -> Result<Sorted, RuleError> {
    let p = raw.package.get_ref();
    let line = line_of(text, raw.package.span().start);
    let mut problems = Vec::new();
    for (i, pat) in p.files.iter().enumerate() {
        let comps_ok = pat
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.starts_with('.'));
        if pat.is_empty()
            || pat.starts_with('/')
            || pat.contains('\\')
            || pat.chars().any(char::is_control)
            || !comps_ok
        {
            problems.push(format!("files[{i}] `{pat}` is not a relative `/`-separated pattern without `.`, `..` or hidden components"));
        }
    }
    let paths: Vec<&str> = paths.collect();
    let cases: BTreeSet<&str> = paths
        .iter()
        .filter_map(
            |path| match path.split('/').collect::<Vec<_>>().as_slice() {
                ["tests", case, "expected.json"] if !case.starts_with('.') => Some(*case),
                _ => None,
            },
        )
        .collect();
    let mut used = vec![false; p.files.len()];
    let mut published = BTreeSet::new();
    let mut left_out = Vec::new();
    for path in &paths {
        if let Some(kind) = junk_kind(path) {
            left_out.push(LeftOut {
                path: (*path).to_owned(),
                reason: format!("{kind}; never published"),
            });
            continue;
        }
        let mut named = *path == MANIFEST || *path == p.script;
        if let ["tests", case, file] = path.split('/').collect::<Vec<_>>().as_slice() {
            if cases.contains(case) {
                named |= *file == "expected.json"
                    || raw
                        .sources
                        .keys()
                        .any(|s| *file == format!("{s}.csv") || *file == format!("{s}.json"));
            }
        }
        for (i, pat) in p.files.iter().enumerate() {
            if pattern_matches(pat, path) {
                used[i] = true;
                named = true;
            }
        }
        if named {
            published.insert((*path).to_owned());
        } else {
            left_out.push(LeftOut {
                path: (*path).to_owned(),
                reason: format!(
                    "not named by `[package] files` (add \"{path}\" or a pattern to publish it)"
                ),
            });
        }
    }
    for (i, pat) in p.files.iter().enumerate() {
        if !used[i]
            && !problems
                .iter()
                .any(|m| m.starts_with(&format!("files[{i}] ")))
        {
            problems.push(format!("files[{i}] `{pat}` matches no file of the package"));
        }
    }
    if !problems.is_empty() {
        return Err(RuleError::BadField {
            file: MANIFEST.into(),
            line,
            field: "package.files".into(),
            message: problems.join("; "),
        });
    }
    Ok(Sorted {
        published,
        left_out,
    })
}

/// What kind of secret key a file looks like, and the line it starts on.
pub fn secret_key_line(bytes: &[u8]) -> Option<(usize, &'static str)> {
    fn has(line: &[u8], needle: &[u8]) -> bool {
        line.windows(needle.len()).any(|w| w == needle)
    }
    for (k, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if has(line, b"PRIVATE+KEY+") {
            return Some((
                k + 1,
                "a rankproof secret key (`PRIVATE+KEY+...`, FORMAT.md section 2.4)",
            ));
        }
        if has(line, b"-----BEGIN ") && has(line, b"PRIVATE KEY") {
            return Some((
                k + 1,
                "a PEM or OpenSSH private key (`-----BEGIN ... PRIVATE KEY`)",
            ));
        }
    }
    None
}

/// Refuse a set of files if any looks like a secret key; the message names
/// every such file and the line (never the key).
fn refuse_secret_keys(files: &BTreeMap<String, Vec<u8>>) -> Result<(), RuleError> {
    let found: Vec<String> = files
        .iter()
        .filter_map(|(p, b)| secret_key_line(b).map(|(l, kind)| format!("{p} (line {l}: {kind})")))
        .collect();
    match found.split_first() {
        None => Ok(()),
        Some((first, rest)) => Err(RuleError::BadFile {
            file: first.clone(),
            message: format!(
                "looks like a secret key{}; a secret key must never be inside a rule package folder, named by the manifest or not (a published package stays in the ledger for ever): move it out of the folder, and if it was ever shared, revoke the key",
                if rest.is_empty() {
                    String::new()
                } else {
                    format!("; so do {}", rest.join(", "))
                }
            ),
        }),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The SHA-256 of each file and the package hash over the listing
/// `HEX(SHA-256(file)) + "  " + path + "\n"` for every file in byte order
/// of path (the output format of `sha256sum`).
pub fn package_hash(files: &BTreeMap<String, Vec<u8>>) -> [u8; 32] {
    let mut listing = Sha256::new();
    for (path, bytes) in files {
        listing.update(hex::encode(Sha256::digest(bytes)).as_bytes());
        listing.update(b"  ");
        listing.update(path.as_bytes());
        listing.update(b"\n");
    }
    listing.finalize().into()
}

/// Whether a relative path is acceptable inside a package.
fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
        && p.split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.starts_with('.'))
}

impl RulePackage {
    /// Load a package from its files: relative `/`-separated paths to bytes.
    /// Parses the manifest, validates the schema, compiles the script.
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<RulePackage, RuleError> {
        for p in files.keys() {
            if !valid_path(p) {
                return Err(RuleError::BadFile {
                    file: p.clone(),
                    message: "not a valid package path (relative, `/`-separated, no `.`/`..` or hidden components)".into(),
                });
            }
        }
        let text = text_file(&files, MANIFEST)?;
        let raw = parse_manifest(text)?;
        let contents = sort_files(&raw, text, files.keys().map(String::as_str))?;
        if let Some(l) = contents.left_out.first() {
            return Err(RuleError::BadFile {
                file: l.path.clone(),
                message: format!("not part of the package: {}", l.reason),
            });
        }
        refuse_secret_keys(&files)?;
        let bad =
            |span: &std::ops::Range<usize>, field: &str, message: String| RuleError::BadField {
                file: MANIFEST.into(),
                line: line_of(text, span.start),
                field: field.to_owned(),
                message,
            };

        // [package]
        let pspan = raw.package.span();
        let p = raw.package.into_inner();
        let is_name = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && s.as_bytes()[0].is_ascii_lowercase()
        };
        if !is_name(&p.name) {
            return Err(bad(
                &pspan,
                "package.name",
                format!(
                    "`{}` must be lowercase letters, digits and `-`, starting with a letter",
                    p.name
                ),
            ));
        }
        let version: Version = p
            .version
            .parse()
            .map_err(|m| bad(&pspan, "package.version", m))?;
        let effective_from: Period =
            p.effective_from
                .parse()
                .map_err(|e: crate::period::BadPeriod| {
                    bad(&pspan, "package.effective_from", e.to_string())
                })?;
        let effective_until: Option<Period> = match &p.effective_until {
            None => None,
            Some(s) => Some(s.parse().map_err(|e: crate::period::BadPeriod| {
                bad(&pspan, "package.effective_until", e.to_string())
            })?),
        };
        if effective_until.is_some_and(|u| u.last_month() < effective_from.first_month()) {
            return Err(bad(
                &pspan,
                "package.effective_until",
                "ends before effective_from".into(),
            ));
        }

        // [limits]
        let lspan = raw.limits.span();
        let limits = raw.limits.into_inner();
        let ceil = Limits::ceilings();
        for ((name, v), (_, max)) in limits.fields().iter().zip(ceil.fields().iter()) {
            if *v == 0 || v > max {
                return Err(bad(
                    &lspan,
                    &format!("limits.{name}"),
                    format!("{v} is outside 1..={max}"),
                ));
            }
        }

        // [sources]
        if raw.sources.is_empty() {
            return Err(RuleError::BadFile {
                file: MANIFEST.into(),
                message: "no [sources] declared".into(),
            });
        }
        let mut sources = BTreeMap::new();
        let mut field_owner: BTreeMap<String, SourceName> = BTreeMap::new();
        for (sname, raw_src) in raw.sources {
            let sspan = raw_src.span();
            let source = SourceName::new(&sname).ok_or_else(|| {
                bad(
                    &sspan,
                    &format!("sources.{sname}"),
                    "a source name is lowercase letters, digits and `_`, starting with a letter"
                        .into(),
                )
            })?;
            let raw_src = raw_src.into_inner();
            let rules =
                source_rules(&raw_src).map_err(|m| bad(&sspan, &format!("sources.{sname}"), m))?;
            let mut columns: Vec<Column> = Vec::new();
            for (i, rc) in raw_src.columns.into_iter().enumerate() {
                let cspan = rc.span();
                let rc = rc.into_inner();
                let field = format!("sources.{sname}.columns[{i}] ({})", rc.name);
                let col = column(rc).map_err(|m| bad(&cspan, &field, m))?;
                if columns.iter().any(|c| c.name == col.name) {
                    return Err(bad(
                        &cspan,
                        &field,
                        format!("column `{}` is declared twice", col.name),
                    ));
                }
                for label in std::iter::once(&col.name).chain(col.aliases.iter()) {
                    let same = |l: &String| fold_width(l) == fold_width(label);
                    if columns
                        .iter()
                        .any(|c| same(&c.name) || c.aliases.iter().any(same))
                    {
                        return Err(bad(
                            &cspan,
                            &field,
                            format!("header label `{label}` already names another column"),
                        ));
                    }
                }
                if col.name != "staff_id" {
                    if let Some(other) = field_owner.get(&col.name) {
                        return Err(bad(&cspan, &field, format!("column `{}` is also declared by source `{other}`; joined field names must be unique", col.name)));
                    }
                    field_owner.insert(col.name.clone(), source.clone());
                }
                columns.push(col);
            }
            // le_column must name a numeric column of the same source
            for c in &columns {
                if let Some(o) = &c.le_column {
                    let ok = columns
                        .iter()
                        .any(|x| &x.name == o && x.ty != ColumnType::Text);
                    if !ok || c.ty == ColumnType::Text {
                        return Err(bad(
                            &sspan,
                            &format!("sources.{sname}.{}.le_column", c.name),
                            format!("`{o}` is not a numeric column of this source"),
                        ));
                    }
                }
            }
            let key = columns.iter().position(|c| c.name == "staff_id");
            match key {
                Some(k) if columns[k].ty == ColumnType::Text && columns[k].required => {
                    let kc = columns.remove(k);
                    columns.insert(0, kc);
                }
                _ => {
                    return Err(bad(
                        &sspan,
                        &format!("sources.{sname}"),
                        "every source needs a required text column `staff_id`".into(),
                    ))
                }
            }
            let schema = SourceSchema {
                source: source.clone(),
                columns,
                rules,
            };
            check_ignored(&schema).map_err(|m| bad(&sspan, &format!("sources.{sname}"), m))?;
            sources.insert(source, schema);
        }

        let missing_staff = match raw.join {
            None => MissingStaff::default(),
            Some(j) => {
                let jspan = j.span();
                missing_staff(&j.into_inner()).map_err(|m| bad(&jspan, "join.missing_staff", m))?
            }
        };

        // [ranking]
        let rspan = raw.ranking.span();
        let r = raw.ranking.into_inner();
        let rbad = |field: &str, m: String| bad(&rspan, &format!("ranking.{field}"), m);
        if r.scores.is_empty() {
            return Err(rbad("scores", "declare at least one score".into()));
        }
        let mut seen = BTreeSet::new();
        for s in r.scores.iter().chain(r.attributes.iter()) {
            if !is_identifier(s) || is_reserved_key(s) || !seen.insert(s.clone()) {
                return Err(rbad(
                    "scores",
                    format!("`{s}` is not a usable, unique, unreserved name"),
                ));
            }
        }
        if r.report_decimals > 28 {
            return Err(rbad("report_decimals", "must be 0..=28".into()));
        }
        let mut order = Vec::new();
        for k in r.order {
            if !r.scores.contains(&k.score) {
                return Err(rbad(
                    "order",
                    format!("`{}` is not a declared score", k.score),
                ));
            }
            let direction = match k.direction.as_str() {
                "asc" => Direction::Asc,
                "desc" => Direction::Desc,
                d => {
                    return Err(rbad(
                        "order",
                        format!("direction `{d}` must be `asc` or `desc`"),
                    ))
                }
            };
            order.push(OrderKey {
                score: k.score,
                direction,
            });
        }
        let rank_direction = match order.first() {
            Some(k) if k.score == r.rank_by => k.direction,
            _ => {
                return Err(rbad(
                    "rank_by",
                    format!("`{}` must be the first order key", r.rank_by),
                ))
            }
        };
        if r.grades.is_empty() || r.grades.iter().any(|g| g.is_empty() || g.len() > 16) {
            return Err(rbad(
                "grades",
                "declare 1 or more grades of 1 to 16 bytes".into(),
            ));
        }
        if r.grades.iter().collect::<BTreeSet<_>>().len() != r.grades.len() {
            return Err(rbad("grades", "grades must be unique".into()));
        }
        for a in &r.attributes {
            let text_col = sources
                .values()
                .flat_map(|s| s.columns.iter())
                .any(|c| &c.name == a && c.ty == ColumnType::Text);
            if !text_col {
                return Err(rbad(
                    "attributes",
                    format!("`{a}` is not a text input column"),
                ));
            }
        }
        let ranking = RankingSpec {
            scores: r.scores,
            report_decimals: r.report_decimals,
            order,
            rank_by: r.rank_by,
            rank_direction,
            grades: r.grades,
            attributes: r.attributes,
        };

        // script
        if !valid_path(&p.script) || !p.script.ends_with(".rhai") {
            return Err(bad(
                &pspan,
                "package.script",
                format!("`{}` is not a .rhai path in the package", p.script),
            ));
        }
        if p.script_api != crate::eval::SCRIPT_API {
            return Err(bad(
                &pspan,
                "package.script_api",
                format!(
                    "script API {} is not run by this engine ({}); it runs script API {} (see RULES.md section 3)",
                    p.script_api,
                    crate::eval::ENGINE_VERSION,
                    crate::eval::SCRIPT_API
                ),
            ));
        }
        let src = text_file(&files, &p.script)?;
        let engine = build_engine(&limits);
        let ast = engine.compile(src).map_err(|e| {
            let hint = match &*e.0 {
                rhai::ParseErrorType::ExprTooDeep => format!(
                    " (stopped by limit max_expr_depth = {} / max_function_expr_depth = {})",
                    limits.max_expr_depth, limits.max_function_expr_depth
                ),
                rhai::ParseErrorType::TooManyFunctions => {
                    format!(
                        " (stopped by limit max_functions = {})",
                        limits.max_functions
                    )
                }
                rhai::ParseErrorType::LiteralTooLarge(..) => {
                    " (stopped by a size limit)".to_owned()
                }
                _ => String::new(),
            };
            let (line, column) = (e.1.line().unwrap_or(0), e.1.position().unwrap_or(0));
            RuleError::Script {
                file: p.script.clone(),
                line,
                column,
                message: format!(
                    "{}{hint}{}",
                    e.0,
                    crate::sandbox::excerpt(src, line, column)
                ),
            }
        })?;
        let script_err = |line: usize, column: usize, message: String| RuleError::Script {
            file: p.script.clone(),
            line,
            column,
            message: format!("{message}{}", crate::sandbox::excerpt(src, line, column)),
        };
        let mut arity: BTreeMap<String, usize> = BTreeMap::new();
        for f in ast.iter_functions() {
            let name = f.name;
            let (line, column) = if name.contains('$') {
                closure_position(src)
            } else {
                fn_position(src, name)
            };
            if name.contains('$') {
                return Err(script_err(line, column, "closures (`|x| ...`) are not available in rule scripts: results must not depend on function pointers".into()));
            }
            if HELPERS.contains(&name) {
                return Err(script_err(line, column, format!("fn {name} would replace the engine's helper `{name}`; give the function another name")));
            }
            if name == "derive" {
                return Err(script_err(line, column, "fn derive belongs to script API 1; in script API 2 `score(cohort)` computes derived columns itself (see RULES.md section 3)".into()));
            }
            arity.insert(name.to_owned(), f.params.len());
        }
        let need = |name: &str, n: usize, required: bool| -> Result<bool, RuleError> {
            match arity.get(name) {
                Some(k) if *k == n => Ok(true),
                Some(k) => Err(script_err(
                    0,
                    0,
                    format!("fn {name} takes {n} parameters in script API 2, found {k}"),
                )),
                None if required => Err(script_err(
                    0,
                    0,
                    format!("the script must define fn {name} ({n} parameters)"),
                )),
                None => Ok(false),
            }
        };
        need("score", 1, true)?;
        need("classify", 3, true)?;
        let has_quota = need("grade_quota", 1, false)?;

        // tests: every tests/<case>/expected.json is a case
        let mut tests = Vec::new();
        for path in files.keys() {
            let parts: Vec<&str> = path.split('/').collect();
            if let ["tests", case, "expected.json"] = parts.as_slice() {
                let mut inputs = BTreeMap::new();
                for s in sources.keys() {
                    let csv = format!("tests/{case}/{s}.csv");
                    let json = format!("tests/{case}/{s}.json");
                    let f = match (files.contains_key(&csv), files.contains_key(&json)) {
                        (true, false) => csv,
                        (false, true) => json,
                        (true, true) => {
                            return Err(RuleError::BadFile {
                                file: format!("tests/{case}"),
                                message: format!("both {s}.csv and {s}.json; keep one"),
                            })
                        }
                        (false, false) => {
                            return Err(RuleError::BadFile {
                                file: format!("tests/{case}"),
                                message: format!("no input for source `{s}` ({s}.csv or {s}.json)"),
                            })
                        }
                    };
                    inputs.insert(s.clone(), f);
                }
                tests.push(TestCase {
                    name: (*case).to_owned(),
                    inputs,
                    expected: path.clone(),
                });
            }
        }

        // [labels]
        let mut labels = BTreeMap::new();
        if let Some(l) = raw.labels {
            let lspan = l.span();
            // Every record member but `explain` (not a column) may be labelled.
            let mut known: Vec<&str> = RECORD_KEYS
                .iter()
                .copied()
                .filter(|k| *k != "explain")
                .collect();
            known.extend(ranking.scores.iter().map(String::as_str));
            known.extend(ranking.attributes.iter().map(String::as_str));
            known.extend(
                sources
                    .values()
                    .flat_map(|s| s.columns.iter().map(|c| c.name.as_str())),
            );
            let mut problems = Vec::new();
            for (k, v) in l.into_inner() {
                if !known.contains(&k.as_str()) {
                    let hint = crate::selftest::did_you_mean(&k, &known)
                        .map(|m| format!("; did you mean `{m}`?"))
                        .unwrap_or_else(|| {
                            "; a label names a declared score, attribute, column or result field"
                                .into()
                        });
                    problems.push(format!("`{k}` is not a name of this package{hint}"));
                } else if v.trim() != v
                    || v.is_empty()
                    || v.chars().count() > 32
                    || v.chars().any(char::is_control)
                {
                    problems.push(format!(
                        "`{k}`: the label must be 1 to 32 characters, no surrounding spaces or control characters"
                    ));
                } else {
                    labels.insert(k, v);
                }
            }
            if !problems.is_empty() {
                return Err(bad(&lspan, "labels", problems.join("; ")));
            }
        }

        let hash = package_hash(&files);
        Ok(RulePackage {
            labels,
            name: p.name,
            version,
            description: p.description,
            effective_from,
            effective_until,
            script_path: p.script,
            limits,
            ranking,
            sources,
            tests,
            files: Arc::new(files),
            hash,
            engine: Arc::new(engine),
            ast: Arc::new(ast),
            has_quota,
            missing_staff,
        })
    }

    /// Display labels (`[labels]`): canonical name -> label.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The display label of a name, or the name itself.
    pub fn label<'a>(&'a self, name: &'a str) -> &'a str {
        self.labels.get(name).map_or(name, String::as_str)
    }

    /// How staff missing from one source are treated (`[join] missing_staff`).
    pub fn missing_staff(&self) -> MissingStaff {
        self.missing_staff
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn version(&self) -> Version {
        self.version
    }
    /// `name@version`, e.g. `marketing@1.0.0`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn effective_from(&self) -> Period {
        self.effective_from
    }
    pub fn effective_until(&self) -> Option<Period> {
        self.effective_until
    }
    /// Whether a period lies within the package's effective span.
    pub fn is_effective(&self, period: &Period) -> bool {
        period.first_month() >= self.effective_from.first_month()
            && self
                .effective_until
                .is_none_or(|u| period.last_month() <= u.last_month())
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
    pub fn ranking(&self) -> &RankingSpec {
        &self.ranking
    }
    pub fn sources(&self) -> &BTreeMap<SourceName, SourceSchema> {
        &self.sources
    }
    /// The schema of a source by name.
    pub fn source(&self, name: &str) -> Option<&SourceSchema> {
        self.sources.values().find(|s| s.source.as_str() == name)
    }
    pub fn tests(&self) -> &[TestCase] {
        &self.tests
    }
    pub fn script_path(&self) -> &str {
        &self.script_path
    }
    /// The package's files (path -> bytes).
    pub fn files(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.files
    }
    /// Each file's SHA-256, lowercase hex, by path.
    pub fn file_hashes(&self) -> BTreeMap<String, String> {
        self.files
            .iter()
            .map(|(p, b)| (p.clone(), hex::encode(Sha256::digest(b))))
            .collect()
    }
    /// The package hash (see [`package_hash`]).
    pub fn hash(&self) -> [u8; 32] {
        self.hash
    }
    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// Line and column of `fn NAME` in a script (0, 0 if not found, e.g. a closure).
fn fn_position(src: &str, name: &str) -> (usize, usize) {
    for (k, line) in src.lines().enumerate() {
        if let Some(at) = line.find("fn ") {
            let rest = line[at + 3..].trim_start();
            if rest.starts_with(name) && rest[name.len()..].trim_start().starts_with('(') {
                return (k + 1, at + 1);
            }
        }
    }
    (0, 0)
}

/// Line and column of the first closure `|...|` in a script (a `|` that is
/// not part of `||`).
fn closure_position(src: &str) -> (usize, usize) {
    for (k, line) in src.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let b = code.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            let double = (i > 0 && b[i - 1] == b'|') || b.get(i + 1) == Some(&b'|');
            if c == b'|' && !double {
                return (k + 1, i + 1);
            }
        }
    }
    (0, 0)
}

fn text_file<'a>(files: &'a BTreeMap<String, Vec<u8>>, path: &str) -> Result<&'a str, RuleError> {
    let b = files
        .get(path)
        .ok_or_else(|| RuleError::MissingFile(path.to_owned()))?;
    std::str::from_utf8(b).map_err(|e| RuleError::BadFile {
        file: path.to_owned(),
        message: format!("not UTF-8 (byte {})", e.valid_up_to()),
    })
}

fn bound_value(v: &toml::Value, key: &str) -> Result<Decimal, String> {
    match v {
        toml::Value::Integer(i) => Ok(Decimal::from(*i)),
        toml::Value::String(s) => parse_strict(s).map_err(|m| format!("{key}: {m}")),
        toml::Value::Float(_) => Err(format!(
            "{key}: write decimal bounds as strings, e.g. {key} = \"0.95\" (no floats)"
        )),
        _ => Err(format!("{key}: expected an integer or a decimal string")),
    }
}

fn column(rc: RawColumn) -> Result<Column, String> {
    if !is_identifier(&rc.name) {
        return Err(format!(
            "`{}` is not a column name (lowercase letters, digits, `_`)",
            rc.name
        ));
    }
    let ty = match rc.ty.as_str() {
        "text" => ColumnType::Text,
        "decimal" => ColumnType::Decimal,
        "integer" => ColumnType::Integer,
        t => return Err(format!("type `{t}` must be text, decimal or integer")),
    };
    let mut lower = None;
    let mut upper = None;
    for (key, v, is_lower, inclusive) in [
        ("ge", &rc.ge, true, true),
        ("gt", &rc.gt, true, false),
        ("le", &rc.le, false, true),
        ("lt", &rc.lt, false, false),
    ] {
        if let Some(v) = v {
            if ty == ColumnType::Text {
                return Err(format!("{key}: a text column has no range"));
            }
            let value = bound_value(v, key)?;
            if ty == ColumnType::Integer && !value.fract().is_zero() {
                return Err(format!("{key}: an integer column needs an integer bound"));
            }
            let slot = if is_lower { &mut lower } else { &mut upper };
            if slot.is_some() {
                return Err(format!("{key}: only one of ge/gt (or le/lt) may be given"));
            }
            *slot = Some(Bound { value, inclusive });
        }
    }
    if let (Some(l), Some(u)) = (lower, upper) {
        if l.value > u.value {
            return Err("the range is empty".into());
        }
    }
    for a in &rc.aliases {
        if a.trim() != a || a.is_empty() {
            return Err(format!(
                "alias `{a}` must be non-empty without surrounding spaces"
            ));
        }
    }
    for u in &rc.units {
        if u.trim() != u || u.is_empty() || u.contains(['(', ')', '（', '）']) {
            return Err(format!(
                "unit `{u}` must be non-empty, without surrounding spaces or parentheses"
            ));
        }
        if u == "%" && ty != ColumnType::Decimal {
            return Err("unit `%` needs a decimal column (a cell `95%` is read as 0.95)".into());
        }
    }
    if let Some(d) = rc.decimals {
        if ty != ColumnType::Decimal || d > crate::decimal::MAX_SCALE {
            return Err(format!(
                "decimals: a decimal column may declare 0..={} decimal places",
                crate::decimal::MAX_SCALE
            ));
        }
    }
    Ok(Column {
        name: rc.name,
        ty,
        required: rc.required,
        aliases: rc.aliases,
        lower,
        upper,
        le_column: rc.le_column,
        units: rc.units,
        decimals: rc.decimals,
    })
}

fn row_policy(v: &Option<String>, key: &str) -> Result<RowPolicy, String> {
    match v.as_deref() {
        None | Some("refuse") => Ok(RowPolicy::Refuse),
        Some("skip") => Ok(RowPolicy::Skip),
        Some(o) => Err(format!("{key} = \"{o}\" must be \"refuse\" or \"skip\"")),
    }
}

fn source_rules(raw: &RawSource) -> Result<SourceRules, String> {
    for p in &raw.ignore_columns {
        if p.trim() != p || p.is_empty() || p.chars().all(|c| c == '*') {
            return Err(format!(
                "ignore_columns: `{p}` must be a header label or a pattern with `*`, not empty or only `*`"
            ));
        }
    }
    Ok(SourceRules {
        ignore_columns: raw.ignore_columns.clone(),
        empty_rows: row_policy(&raw.empty_rows, "empty_rows")?,
        total_row: row_policy(&raw.total_row, "total_row")?,
    })
}

/// An ignored-column pattern must not match a declared column's label.
fn check_ignored(schema: &SourceSchema) -> Result<(), String> {
    for c in &schema.columns {
        for label in std::iter::once(&c.name).chain(c.aliases.iter()) {
            let f = fold_width(label);
            if let Some(p) = schema
                .rules
                .ignore_columns
                .iter()
                .find(|p| crate::schema::glob_match(&fold_width(p), &f))
            {
                return Err(format!(
                    "ignore_columns: `{p}` matches `{label}`, a label of column `{}`",
                    c.name
                ));
            }
        }
    }
    Ok(())
}

fn missing_staff(raw: &RawJoin) -> Result<MissingStaff, String> {
    match raw.missing_staff.as_deref() {
        None | Some("refuse") => Ok(MissingStaff::Refuse),
        Some("exclude") => Ok(MissingStaff::Exclude),
        Some(o) => Err(format!("`{o}` must be \"refuse\" or \"exclude\"")),
    }
}
