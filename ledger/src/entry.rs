//! Ledger entries: kinds, roles, the signed JCS object and its leaf hash.
//!
//! An entry is the JCS object
//! `{"blobs":[hex..],"body":{..},"kind":k,"prev":hex,"seq":n,"sig":b64,"signer":"name+keyid"}`.
//! Its signature is Ed25519 over [`ENTRY_SIG_PREFIX`] ‖ JCS(entry without
//! `sig`); its leaf hash is SHA-256(0x00 ‖ JCS(entry)).

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use ed25519_dalek::Signature;
use serde_json::{Map, Value};

use crate::hash::{leaf_hash, Hash};
use crate::jcs;
use crate::keys::SecretKey;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Domain-separation prefix of entry signatures.
pub const ENTRY_SIG_PREFIX: &[u8] = b"rankproof/entry/v1\n";

/// Entries must be strictly smaller than this (JCS bytes, with `sig`).
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// A role a key can be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Grants and revokes keys.
    Admin,
    /// Publishes rule packages.
    Hr,
    /// Records input datasets.
    Steward,
    /// Publishes rankings.
    Operator,
    /// Files and decides appeals, records calibrations.
    Reviewer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Hr,
        Role::Steward,
        Role::Operator,
        Role::Reviewer,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Hr => "hr",
            Role::Steward => "steward",
            Role::Operator => "operator",
            Role::Reviewer => "reviewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role or kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {name:?}")]
pub struct UnknownName {
    /// "role" or "kind".
    pub what: &'static str,
    /// The name given.
    pub name: String,
}

impl FromStr for Role {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "role",
                name: s.to_owned(),
            })
    }
}

/// What an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// The first entry: origin, log key, first admins. Signed by the log key.
    Genesis,
    /// Grant a role to a key.
    KeyGrant,
    /// Revoke a key.
    KeyRevoke,
    /// Publish a rule package version.
    RulesPublish,
    /// Record an input dataset.
    InputRecord,
    /// Publish a ranking.
    RankingPublish,
    /// File an appeal.
    AppealFile,
    /// Decide an appeal.
    AppealDecide,
    /// Record a calibration change.
    CalibrationAdjust,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 9] = [
        Kind::Genesis,
        Kind::KeyGrant,
        Kind::KeyRevoke,
        Kind::RulesPublish,
        Kind::InputRecord,
        Kind::RankingPublish,
        Kind::AppealFile,
        Kind::AppealDecide,
        Kind::CalibrationAdjust,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Genesis => "genesis",
            Kind::KeyGrant => "key.grant",
            Kind::KeyRevoke => "key.revoke",
            Kind::RulesPublish => "rules.publish",
            Kind::InputRecord => "input.record",
            Kind::RankingPublish => "ranking.publish",
            Kind::AppealFile => "appeal.file",
            Kind::AppealDecide => "appeal.decide",
            Kind::CalibrationAdjust => "calibration.adjust",
        }
    }

    /// The role the signer needs; `None` for genesis (the log key signs it).
    pub fn required_role(self) -> Option<Role> {
        match self {
            Kind::Genesis => None,
            Kind::KeyGrant | Kind::KeyRevoke => Some(Role::Admin),
            Kind::RulesPublish => Some(Role::Hr),
            Kind::InputRecord => Some(Role::Steward),
            Kind::RankingPublish => Some(Role::Operator),
            Kind::AppealFile | Kind::AppealDecide | Kind::CalibrationAdjust => Some(Role::Reviewer),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "kind",
                name: s.to_owned(),
            })
    }
}

/// Why an entry's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not canonical JSON or wrong shape.
    #[error("malformed entry: {0}")]
    Malformed(String),
    /// At or above [`MAX_ENTRY_BYTES`].
    #[error("entry is {0} bytes; entries must be smaller than 65536 bytes")]
    TooLarge(usize),
}

fn malformed(why: impl Into<String>) -> EntryError {
    EntryError::Malformed(why.into())
}

/// An entry without its signature.
#[derive(Debug, Clone, PartialEq)]
pub struct UnsignedEntry {
    /// What it records.
    pub kind: Kind,
    /// Its position (0 = genesis).
    pub seq: u64,
    /// The previous entry's leaf hash (zero for genesis).
    pub prev: Hash,
    /// The signer, `name+hexkeyid`.
    pub signer: String,
    /// Blobs referenced by this entry, sorted ascending, no duplicates.
    pub blobs: Vec<Hash>,
    /// The body: any JSON object.
    pub body: Map<String, Value>,
}

impl UnsignedEntry {
    fn to_value(&self, sig: Option<&Signature>) -> Value {
        let mut m = Map::new();
        m.insert(
            "blobs".into(),
            Value::Array(
                self.blobs
                    .iter()
                    .map(|h| Value::String(h.to_hex()))
                    .collect(),
            ),
        );
        m.insert("body".into(), Value::Object(self.body.clone()));
        m.insert("kind".into(), Value::String(self.kind.as_str().into()));
        m.insert("prev".into(), Value::String(self.prev.to_hex()));
        m.insert("seq".into(), Value::from(self.seq));
        if let Some(sig) = sig {
            m.insert("sig".into(), Value::String(B64.encode(sig.to_bytes())));
        }
        m.insert("signer".into(), Value::String(self.signer.clone()));
        Value::Object(m)
    }

    /// The bytes the signature covers: prefix ‖ JCS(entry without `sig`).
    pub fn signing_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let mut out = ENTRY_SIG_PREFIX.to_vec();
        out.extend(jcs::to_vec(&self.to_value(None)).map_err(|e| malformed(e.to_string()))?);
        Ok(out)
    }

    /// Sign with `key` (which must be the key named by `signer`).
    pub fn sign(self, key: &SecretKey) -> Result<Entry, EntryError> {
        let sig = key.sign(&self.signing_bytes()?);
        Entry::from_parts(self, sig)
    }
}

/// A signed entry with its canonical bytes and leaf hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    unsigned: UnsignedEntry,
    sig: Signature,
    bytes: Vec<u8>,
    leaf: Hash,
}

fn get_str<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, EntryError> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("field {k:?} must be a string")))
}

impl Entry {
    fn from_parts(unsigned: UnsignedEntry, sig: Signature) -> Result<Entry, EntryError> {
        let bytes =
            jcs::to_vec(&unsigned.to_value(Some(&sig))).map_err(|e| malformed(e.to_string()))?;
        if bytes.len() >= MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let leaf = leaf_hash(&bytes);
        Ok(Entry {
            unsigned,
            sig,
            bytes,
            leaf,
        })
    }

    /// Parse an entry's bytes: they must be its exact JCS form with exactly
    /// the seven fields. The signature is not checked here.
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        if bytes.len() >= MAX_ENTRY_BYTES {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let value = jcs::parse_canonical(bytes).map_err(|e| malformed(e.to_string()))?;
        let Value::Object(mut m) = value else {
            return Err(malformed("entry must be a JSON object"));
        };
        const FIELDS: [&str; 7] = ["blobs", "body", "kind", "prev", "seq", "sig", "signer"];
        if m.len() != FIELDS.len() || !FIELDS.iter().all(|f| m.contains_key(*f)) {
            return Err(malformed(
                "entry must have exactly the fields blobs, body, kind, prev, seq, sig, signer",
            ));
        }
        let kind: Kind = get_str(&m, "kind")?
            .parse()
            .map_err(|e: UnknownName| malformed(e.to_string()))?;
        let seq = m
            .get("seq")
            .and_then(Value::as_u64)
            .ok_or_else(|| malformed("seq must be a non-negative integer"))?;
        let prev = Hash::from_hex(get_str(&m, "prev")?)
            .ok_or_else(|| malformed("prev must be 64 lowercase hex digits"))?;
        let signer = get_str(&m, "signer")?.to_owned();
        let sig_bytes = B64
            .decode(get_str(&m, "sig")?)
            .map_err(|_| malformed("sig must be base64"))?;
        let sig_arr: [u8; 64] = sig_bytes
            .try_into()
            .map_err(|_| malformed("sig must be 64 bytes"))?;
        let sig = Signature::from_bytes(&sig_arr);
        let blobs_v = m
            .get("blobs")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("blobs must be an array"))?;
        let mut blobs = Vec::with_capacity(blobs_v.len());
        for b in blobs_v {
            let h = b
                .as_str()
                .and_then(Hash::from_hex)
                .ok_or_else(|| malformed("blobs must be 64-hex-digit hashes"))?;
            if blobs.last().is_some_and(|last| *last >= h) {
                return Err(malformed("blobs must be sorted and unique"));
            }
            blobs.push(h);
        }
        let body = match m.remove("body") {
            Some(Value::Object(b)) => b,
            _ => return Err(malformed("body must be an object")),
        };
        let unsigned = UnsignedEntry {
            kind,
            seq,
            prev,
            signer,
            blobs,
            body,
        };
        Ok(Entry {
            unsigned,
            sig,
            leaf: leaf_hash(bytes),
            bytes: bytes.to_vec(),
        })
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.unsigned.kind
    }
    /// The sequence number.
    pub fn seq(&self) -> u64 {
        self.unsigned.seq
    }
    /// The previous leaf hash.
    pub fn prev(&self) -> &Hash {
        &self.unsigned.prev
    }
    /// The signer handle `name+hexkeyid`.
    pub fn signer(&self) -> &str {
        &self.unsigned.signer
    }
    /// Referenced blob hashes.
    pub fn blobs(&self) -> &[Hash] {
        &self.unsigned.blobs
    }
    /// The body object.
    pub fn body(&self) -> &Map<String, Value> {
        &self.unsigned.body
    }
    /// The signature.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }
    /// The unsigned part.
    pub fn unsigned(&self) -> &UnsignedEntry {
        &self.unsigned
    }
    /// The canonical bytes (one line of `entries.jsonl`).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256(0x00 ‖ bytes).
    pub fn leaf_hash(&self) -> Hash {
        self.leaf
    }
    /// The bytes the signature covers.
    ///
    /// Computed from the canonical bytes: in JCS the members are serialized
    /// independently in sorted order, so JCS(entry without `sig`) is the
    /// entry bytes with the member `,"sig":"…"` (just before the last
    /// member, `signer`) cut out.
    pub fn signing_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let sig_member = format!(",\"sig\":\"{}\"", B64.encode(self.sig.to_bytes()));
        let signer = jcs::to_vec(&self.unsigned.signer).map_err(|e| malformed(e.to_string()))?;
        let tail_len = b",\"signer\":".len() + signer.len() + 1;
        let cut = self
            .bytes
            .len()
            .checked_sub(tail_len + sig_member.len())
            .ok_or_else(|| malformed("entry too short"))?;
        let (head, rest) = self.bytes.split_at(cut);
        let (sig_part, tail) = rest.split_at(sig_member.len());
        if sig_part != sig_member.as_bytes() {
            // Not reachable for bytes produced by `parse` or `sign`; fall
            // back to re-serializing.
            return self.unsigned.signing_bytes();
        }
        let mut out = Vec::with_capacity(ENTRY_SIG_PREFIX.len() + head.len() + tail.len());
        out.extend_from_slice(ENTRY_SIG_PREFIX);
        out.extend_from_slice(head);
        out.extend_from_slice(tail);
        Ok(out)
    }
}

/// Helper: the body field `k` as a string, for body validation.
pub(crate) fn body_str<'a>(m: &'a Map<String, Value>, k: &str) -> Result<&'a str, EntryError> {
    get_str(m, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_bytes_from_canonical_bytes_match_reserialization() {
        let key = SecretKey::generate("we\"ird\\name\u{e9}").unwrap();
        let mut body = Map::new();
        body.insert("sig".into(), Value::String("inner \"sig\" member".into()));
        body.insert("signer".into(), Value::from(1));
        let e = UnsignedEntry {
            kind: Kind::AppealFile,
            seq: 7,
            prev: Hash::of(b"p"),
            signer: key.verifier().handle(),
            blobs: vec![Hash::of(b"a")],
            body,
        }
        .sign(&key)
        .unwrap();
        let parsed = Entry::parse(e.bytes()).unwrap();
        assert_eq!(
            parsed.signing_bytes().unwrap(),
            e.unsigned().signing_bytes().unwrap()
        );
        assert!(key
            .verifier()
            .verify(&parsed.signing_bytes().unwrap(), parsed.signature()));
    }
}
