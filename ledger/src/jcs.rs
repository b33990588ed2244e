//! RFC 8785 JSON Canonicalization Scheme (JCS).
//!
//! Every hashed or signed object in rankproof is the JCS encoding of a JSON
//! value. The encoding itself is done by `serde_json_canonicalizer`; this
//! module adds the check that a byte string already *is* canonical.

use serde::Serialize;
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
    let value: Value = serde_json::from_slice(bytes)?;
    let again = to_vec(&value)?;
    if again != bytes {
        return Err(JcsError::NotCanonical);
    }
    Ok(value)
}
