//! The key registry: which key holds which roles, computed by replaying
//! `genesis`, `key.grant` and `key.revoke` entries in log order.
//!
//! A grant takes effect from the entry after the grant; a revocation from the
//! entry after the revoke. Authorization of entry `s` is checked against the
//! registry built from entries `0..s`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::entry::{body_str, Entry, Kind, Role, UnsignedEntry};
use crate::hash::Hash;
use crate::keys::{KeyError, VerifierKey};

/// Why an entry is not allowed at its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The signer is not a registered key.
    #[error("signer {0} is not a registered key")]
    UnknownSigner(String),
    /// The signer lacks the role the kind needs.
    #[error("signer {signer} lacks role {role} needed for {kind}")]
    MissingRole {
        /// The signer handle.
        signer: String,
        /// The role needed.
        role: Role,
        /// The entry kind.
        kind: Kind,
    },
    /// The signer was revoked at an earlier entry.
    #[error("signer {signer} was revoked at entry {revoked_at}")]
    Revoked {
        /// The signer handle.
        signer: String,
        /// The seq of the revoke entry.
        revoked_at: u64,
    },
    /// A genesis entry anywhere but first, or a first entry that is not genesis.
    #[error("genesis must be entry 0 and only entry 0")]
    MisplacedGenesis,
    /// The entry's seq is not the next position.
    #[error("entry has seq {got}, expected {expected}")]
    WrongPosition {
        /// The next position.
        expected: u64,
        /// The seq given.
        got: u64,
    },
    /// The body of a genesis/key entry is invalid.
    #[error("invalid {kind} body: {why}")]
    InvalidBody {
        /// The entry kind.
        kind: Kind,
        /// What is wrong.
        why: String,
    },
}

fn invalid(kind: Kind, why: impl Into<String>) -> AuthError {
    AuthError::InvalidBody {
        kind,
        why: why.into(),
    }
}

/// One registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key.
    pub key: VerifierKey,
    /// Roles held, with the seq of the entry that granted each
    /// (0 for the genesis admins).
    pub roles: BTreeMap<Role, u64>,
    /// The seq of the revoke entry, if revoked.
    pub revoked_at: Option<u64>,
}

/// Keys, roles and revocations as of some log position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    origin: String,
    log_key: VerifierKey,
    keys: BTreeMap<String, KeyRecord>,
    next_seq: u64,
}

fn parse_vkey(kind: Kind, s: &str) -> Result<VerifierKey, AuthError> {
    VerifierKey::parse(s).map_err(|e: KeyError| invalid(kind, format!("verifier key: {e}")))
}

fn exact_fields(kind: Kind, m: &Map<String, Value>, fields: &[&str]) -> Result<(), AuthError> {
    if m.len() != fields.len() || !fields.iter().all(|f| m.contains_key(*f)) {
        return Err(invalid(
            kind,
            format!("expected exactly the fields {fields:?}"),
        ));
    }
    Ok(())
}

fn field_str<'a>(kind: Kind, m: &'a Map<String, Value>, k: &str) -> Result<&'a str, AuthError> {
    body_str(m, k).map_err(|e| invalid(kind, e.to_string()))
}

/// The genesis body for `origin`, `log_key` and the first admins.
pub fn genesis_body(
    origin: &str,
    log_key: &VerifierKey,
    admins: &[VerifierKey],
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "admins".into(),
        Value::Array(
            admins
                .iter()
                .map(|a| Value::String(a.to_string()))
                .collect(),
        ),
    );
    m.insert("log_vkey".into(), Value::String(log_key.to_string()));
    m.insert("origin".into(), Value::String(origin.to_owned()));
    m
}

/// The body of a `key.grant` at position `seq`.
pub fn grant_body(vkey: &VerifierKey, role: Role, seq: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("effective_from".into(), Value::from(seq + 1));
    m.insert("role".into(), Value::String(role.as_str().into()));
    m.insert("vkey".into(), Value::String(vkey.to_string()));
    m
}

/// The body of a `key.revoke` at position `seq`.
pub fn revoke_body(vkey: &VerifierKey, seq: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("effective_from".into(), Value::from(seq + 1));
    m.insert("vkey".into(), Value::String(vkey.to_string()));
    m
}

fn check_effective_from(kind: Kind, m: &Map<String, Value>, seq: u64) -> Result<(), AuthError> {
    if m.get("effective_from").and_then(Value::as_u64) != Some(seq + 1) {
        return Err(invalid(kind, format!("effective_from must be {}", seq + 1)));
    }
    Ok(())
}

impl Registry {
    /// Build the registry from a genesis entry (not yet signature-checked).
    pub fn from_genesis(e: &UnsignedEntry) -> Result<Registry, AuthError> {
        let kind = Kind::Genesis;
        if e.kind != Kind::Genesis || e.seq != 0 {
            return Err(AuthError::MisplacedGenesis);
        }
        if e.prev != Hash::ZERO {
            return Err(invalid(kind, "prev must be 64 zeros"));
        }
        if !e.blobs.is_empty() {
            return Err(invalid(kind, "genesis references no blobs"));
        }
        let m = &e.body;
        exact_fields(kind, m, &["admins", "log_vkey", "origin"])?;
        let origin = field_str(kind, m, "origin")?;
        let log_key = parse_vkey(kind, field_str(kind, m, "log_vkey")?)?;
        if log_key.name() != origin {
            return Err(invalid(kind, "the log key's name must equal the origin"));
        }
        if e.signer != log_key.handle() {
            return Err(invalid(kind, "genesis must be signed by the log key"));
        }
        let admins = m
            .get("admins")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| invalid(kind, "admins must be a non-empty array"))?;
        let mut keys = BTreeMap::new();
        for a in admins {
            let s = a
                .as_str()
                .ok_or_else(|| invalid(kind, "admins must be verifier keys"))?;
            let key = parse_vkey(kind, s)?;
            if key.handle() == log_key.handle() || key.public() == log_key.public() {
                return Err(invalid(kind, "the log key cannot be an admin"));
            }
            if key.name() == origin {
                return Err(invalid(
                    kind,
                    format!("admin key is named {origin:?} like the log's origin; only the log key has that name"),
                ));
            }
            let handle = key.handle();
            let rec = KeyRecord {
                key,
                roles: BTreeMap::from([(Role::Admin, 0)]),
                revoked_at: None,
            };
            if keys.insert(handle, rec).is_some() {
                return Err(invalid(kind, "duplicate admin key"));
            }
        }
        Ok(Registry {
            origin: origin.to_owned(),
            log_key,
            keys,
            next_seq: 1,
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The log key.
    pub fn log_key(&self) -> &VerifierKey {
        &self.log_key
    }

    /// All keys ever registered, by handle.
    pub fn keys(&self) -> &BTreeMap<String, KeyRecord> {
        &self.keys
    }

    /// The key named by `handle` (`name+hexkeyid`), if registered.
    pub fn key(&self, handle: &str) -> Option<&KeyRecord> {
        self.keys.get(handle)
    }

    /// Roles currently held by active (unrevoked) keys.
    pub fn active_roles(&self, handle: &str) -> BTreeSet<Role> {
        match self.keys.get(handle) {
            Some(r) if r.revoked_at.is_none() => r.roles.keys().copied().collect(),
            _ => BTreeSet::new(),
        }
    }

    /// How many unrevoked keys hold the admin role.
    pub fn active_admins(&self) -> usize {
        self.keys
            .values()
            .filter(|r| r.revoked_at.is_none() && r.roles.contains_key(&Role::Admin))
            .count()
    }

    /// The signer's key if it may sign `kind` at the next position.
    pub fn authorize(&self, signer: &str, kind: Kind) -> Result<&VerifierKey, AuthError> {
        let Some(role) = kind.required_role() else {
            return Err(AuthError::MisplacedGenesis);
        };
        let rec = self
            .keys
            .get(signer)
            .ok_or_else(|| AuthError::UnknownSigner(signer.to_owned()))?;
        if let Some(revoked_at) = rec.revoked_at {
            return Err(AuthError::Revoked {
                signer: signer.to_owned(),
                revoked_at,
            });
        }
        if !rec.roles.contains_key(&role) {
            return Err(AuthError::MissingRole {
                signer: signer.to_owned(),
                role,
                kind,
            });
        }
        Ok(&rec.key)
    }

    /// Check that `e` (the next entry) is allowed, returning the key that
    /// must have signed it, without changing the registry.
    pub fn check(&self, e: &UnsignedEntry) -> Result<VerifierKey, AuthError> {
        if e.kind == Kind::Genesis {
            return Err(AuthError::MisplacedGenesis);
        }
        if e.seq != self.next_seq {
            return Err(AuthError::WrongPosition {
                expected: self.next_seq,
                got: e.seq,
            });
        }
        let key = self.authorize(&e.signer, e.kind)?.clone();
        self.plan(e)?;
        Ok(key)
    }

    fn plan(&self, e: &UnsignedEntry) -> Result<Option<(String, KeyRecord)>, AuthError> {
        let kind = e.kind;
        match kind {
            Kind::KeyGrant => {
                let m = &e.body;
                exact_fields(kind, m, &["effective_from", "role", "vkey"])?;
                check_effective_from(kind, m, e.seq)?;
                let role: Role = field_str(kind, m, "role")?
                    .parse()
                    .map_err(|err: crate::entry::UnknownName| invalid(kind, err.to_string()))?;
                let key = parse_vkey(kind, field_str(kind, m, "vkey")?)?;
                if key.public() == self.log_key.public() || key.handle() == self.log_key.handle() {
                    return Err(invalid(kind, "the log key cannot hold roles"));
                }
                if key.name() == self.origin {
                    return Err(invalid(
                        kind,
                        format!(
                            "key is named {:?} like the log's origin; only the log key has that name, \
                             give the key another name",
                            self.origin
                        ),
                    ));
                }
                let handle = key.handle();
                let mut rec = match self.keys.get(&handle) {
                    Some(r) if r.key != key => {
                        return Err(invalid(kind, "another key has the same name and key ID"))
                    }
                    Some(r) if r.revoked_at.is_some() => {
                        return Err(invalid(kind, "the key has been revoked"))
                    }
                    Some(r) if r.roles.contains_key(&role) => {
                        return Err(invalid(kind, format!("the key already has role {role}")))
                    }
                    Some(r) => r.clone(),
                    None => KeyRecord {
                        key,
                        roles: BTreeMap::new(),
                        revoked_at: None,
                    },
                };
                rec.roles.insert(role, e.seq);
                Ok(Some((handle, rec)))
            }
            Kind::KeyRevoke => {
                let m = &e.body;
                exact_fields(kind, m, &["effective_from", "vkey"])?;
                check_effective_from(kind, m, e.seq)?;
                let key = parse_vkey(kind, field_str(kind, m, "vkey")?)?;
                let handle = key.handle();
                let mut rec = match self.keys.get(&handle) {
                    Some(r) if r.key != key => {
                        return Err(invalid(kind, "another key has the same name and key ID"))
                    }
                    Some(r) if r.revoked_at.is_some() => {
                        return Err(invalid(kind, "the key is already revoked"))
                    }
                    Some(r) => r.clone(),
                    None => return Err(invalid(kind, "the key is not registered")),
                };
                if rec.roles.contains_key(&Role::Admin) && self.active_admins() <= 1 {
                    return Err(invalid(
                        kind,
                        "the key is the last active admin; grant admin to another key first, \
                         or no key could ever grant or revoke again",
                    ));
                }
                rec.revoked_at = Some(e.seq);
                Ok(Some((handle, rec)))
            }
            _ => Ok(None),
        }
    }

    /// Check `e` and, if allowed, apply it (advancing to the next position).
    pub fn admit(&mut self, e: &UnsignedEntry) -> Result<VerifierKey, AuthError> {
        let key = self.check(e)?;
        if let Some((handle, rec)) = self.plan(e)? {
            self.keys.insert(handle, rec);
        }
        self.next_seq += 1;
        Ok(key)
    }

    /// Replay a whole log's entries (signatures are not checked here).
    pub fn replay<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Result<Registry, AuthError> {
        let mut it = entries.into_iter();
        let first = it.next().ok_or(AuthError::MisplacedGenesis)?;
        let mut reg = Registry::from_genesis(first.unsigned())?;
        for e in it {
            reg.admit(e.unsigned())?;
        }
        Ok(reg)
    }

    /// Skip a non-key entry position without checks (used when reopening a
    /// stored ledger from its key entries only).
    pub(crate) fn set_next_seq(&mut self, next: u64) {
        self.next_seq = next;
    }

    /// The position the registry is at (the seq of the next entry).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}
