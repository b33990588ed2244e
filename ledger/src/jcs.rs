//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Every hashed or signed object in rankproof is the JCS encoding of a JSON
//! value. The encoding itself is done by `serde_json_canonicalizer`; this
//! module adds the check that a byte string already *is* canonical.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why bytes are not canonical JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// The bytes are not JSON.
    #[error("not valid JSON: {0}")]
    Parse(serde_json::Error),
    /// The bytes are JSON but not in RFC 8785 canonical form.
    #[error("JSON is not in RFC 8785 canonical form")]
    NotCanonical,
}

impl From<serde_json::Error> for JcsError {
    fn from(e: serde_json::Error) -> Self {
        JcsError::Parse(e)
    }
}

/// The RFC 8785 canonical bytes of `value`.
pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, JcsError> {
    Ok(serde_json_canonicalizer::to_vec(value)?)
}

/// Parse `bytes` as JSON and require them to be exactly their own canonical
/// form (no whitespace, sorted keys, shortest numbers, minimal escapes).
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, JcsError> {
    let value = parse_strict(bytes)?;
    let again = to_vec(&value)?;
    if again != bytes {
        return Err(JcsError::NotCanonical);
    }
    Ok(value)
}

/// Parse `bytes` as JSON, refusing duplicate member names anywhere in the
/// document (a reader that kept the first or the last of two `"result"`
/// members would see something other than what another reader sees).
/// Otherwise the same grammar as `serde_json::from_slice`.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, JcsError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(value.0)
}

/// A JSON value deserialized with duplicate member names refused.
struct StrictValue(Value);

impl<'de> serde::Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate member {key:?}; each name may appear once in an object"
                )));
            }
            let StrictValue(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}
