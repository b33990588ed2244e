//! Typed bodies of the workflow entries (FORMAT.md §11). Every body is
//! written from and read into these structs; no other module reads an
//! entry body by member name.
//!
//! The JCS bytes of a body are those of FORMAT.md; this version adds `time`
//! (every new entry) and `supersedes`/`reason` (rankings). Bodies written
//! before them lack those members and still parse.

use std::collections::BTreeMap;
use std::fmt;

use rankproof_ledger::{Entry, Hash, Kind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::error::ClaimProblem;
use crate::time::Timestamp;

/// A SHA-256 hash written as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HexHash(pub Hash);

impl HexHash {
    /// The hex form.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

impl fmt::Display for HexHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl From<Hash> for HexHash {
    fn from(h: Hash) -> Self {
        HexHash(h)
    }
}

impl Serialize for HexHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_hex())
    }
}

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(format!(
                "{s:?} is not 64 lowercase hex digits"
            )));
        }
        Hash::from_hex(&s)
            .map(HexHash)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a hex hash")))
    }
}

/// `rules.publish` (signer: hr).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesPublish {
    /// The package name.
    pub name: String,
    /// Its semantic version.
    pub version: String,
    /// From the manifest.
    pub description: String,
    /// First period the package applies to.
    pub effective_from: String,
    /// Last period, if any.
    pub effective_until: Option<String>,
    /// The package hash over all files.
    pub package_hash: HexHash,
    /// Relative path → SHA-256 of the file (each file is a blob).
    pub files: BTreeMap<String, HexHash>,
    /// When it was published (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
}

impl RulesPublish {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// The recorded export file of an `input.record`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// The file name as given.
    pub name: String,
    /// SHA-256 of the exported file's bytes.
    pub sha256: HexHash,
    /// Its length.
    pub bytes: u64,
}

/// `input.record` (signer: steward).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The period, e.g. `2025-Q1`.
    pub period: String,
    /// The source, e.g. `crm`.
    pub source: String,
    /// `name@version` of the package whose schema validated the file.
    pub rules: String,
    /// That package's hash.
    pub package_hash: HexHash,
    /// SHA-256 of the canonical dataset (a blob).
    pub dataset: HexHash,
    /// Number of rows.
    pub rows: u64,
    /// The source's schema as the package declares it.
    pub schema: Value,
    /// The original export file (a blob).
    pub file: FileInfo,
    /// The earlier `input.record` of the same period and source, if any.
    pub supersedes: Option<u64>,
    /// When it was recorded (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
}

/// The package a ranking cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesRef {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Package hash.
    pub package_hash: HexHash,
    /// `seq` of its `rules.publish`.
    pub entry: u64,
}

impl RulesRef {
    /// `name@version`.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// A dataset a ranking cites.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    /// The canonical dataset hash.
    pub dataset: HexHash,
    /// `seq` of its `input.record`.
    pub entry: u64,
}

/// The engine that computed a ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineInfo {
    /// e.g. `rankproof-engine/0.1.0`.
    pub version: String,
    /// Every script limit.
    pub limits: Value,
}

/// `ranking.publish` (signer: operator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingPublish {
    /// The ranking's period.
    pub period: String,
    /// The package it was computed under.
    pub rules: RulesRef,
    /// Source → the dataset used.
    pub inputs: BTreeMap<String, InputRef>,
    /// Earlier rankings used (none for the marketing packages).
    pub prior_rankings: Vec<u64>,
    /// The engine.
    pub engine: EngineInfo,
    /// SHA-256 of the result document (a blob).
    pub result: HexHash,
    /// SHA-256 of the salts document (a blob).
    pub salts: HexHash,
    /// Root of the results tree.
    pub results_root: HexHash,
    /// Number of staff.
    pub n: u64,
    /// The ranking of the same period and package this one replaces.
    #[serde(default)]
    pub supersedes: Option<u64>,
    /// Why it replaces it (required with `supersedes`).
    #[serde(default)]
    pub reason: Option<String>,
    /// When it was published (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
}

/// A typed workflow body.
pub trait Body: Serialize + for<'de> Deserialize<'de> {
    /// The entry kind it is the body of.
    const KIND: Kind;

    /// The body as a JSON object for the ledger.
    fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            // INVARIANT: every body is a struct of strings, integers, maps
            // and arrays, which serialize to a JSON object.
            _ => Map::new(),
        }
    }

    /// Read the body of `e` (which must be of kind `KIND`).
    fn of(e: &Entry) -> Result<Self, ClaimProblem> {
        if e.kind() != Self::KIND {
            return Err(ClaimProblem {
                seq: e.seq(),
                kind: e.kind().as_str(),
                claim: format!("is not a {} entry", Self::KIND.as_str()),
            });
        }
        serde_json::from_value(Value::Object(e.body().clone())).map_err(|err| ClaimProblem {
            seq: e.seq(),
            kind: Self::KIND.as_str(),
            claim: format!("malformed body: {err}"),
        })
    }
}

impl Body for RulesPublish {
    const KIND: Kind = Kind::RulesPublish;
}
impl Body for InputRecord {
    const KIND: Kind = Kind::InputRecord;
}
impl Body for RankingPublish {
    const KIND: Kind = Kind::RankingPublish;
}

/// The informative time of any entry, if its body carries one (key
/// entries written by the ledger do not).
pub fn entry_time(e: &Entry) -> Option<Result<Timestamp, String>> {
    let v = e.body().get("time")?;
    Some(match v.as_str() {
        Some(s) => s.parse::<Timestamp>(),
        None => Err("time is not a string".into()),
    })
}

/// `genesis` (written by the ledger; FORMAT.md §3.4.1), read for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// The log's origin.
    pub origin: String,
    /// The log's verifier key.
    pub log_vkey: String,
    /// The first admins.
    pub admins: Vec<String>,
}

impl Body for Genesis {
    const KIND: Kind = Kind::Genesis;
}

/// `key.grant` (written by the ledger; FORMAT.md §3.4.2), read for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGrant {
    /// The role granted.
    pub role: String,
    /// The key.
    pub vkey: String,
    /// The first entry it applies to.
    pub effective_from: u64,
}

impl Body for KeyGrant {
    const KIND: Kind = Kind::KeyGrant;
}

/// `key.revoke` (written by the ledger; FORMAT.md §3.4.3), read for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRevoke {
    /// The key.
    pub vkey: String,
    /// The first entry it no longer signs.
    pub effective_from: u64,
}

impl Body for KeyRevoke {
    const KIND: Kind = Kind::KeyRevoke;
}
