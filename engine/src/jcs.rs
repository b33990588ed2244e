//! A small JSON tree and a direct RFC 8785 (JCS) writer for it.
//!
//! The engine's documents hold only strings, safe integers (|i| ≤ 2^53 − 1),
//! booleans, null, arrays and objects, so JCS reduces to: no whitespace;
//! object members sorted by the UTF-16 code units of their names; strings
//! escaped as ECMAScript `JSON.stringify` does (`\"`, `\\`, `\b`, `\f`,
//! `\n`, `\r`, `\t`, other controls as `\u00xx` in lowercase hex, everything
//! else literal UTF-8); integers in plain decimal. Tests check this writer
//! against `serde_json_canonicalizer`.

use std::cmp::Ordering;
use std::sync::Arc;

/// A JSON value without floating point numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A safe integer (|i| ≤ 2^53 − 1).
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    /// Members with unique names, in any order (sorted when written).
    Obj(Vec<(Arc<str>, Json)>),
}

impl Json {
    /// The JCS bytes.
    pub fn to_jcs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    /// Append the JCS bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Json::Null => out.extend_from_slice(b"null"),
            Json::Bool(true) => out.extend_from_slice(b"true"),
            Json::Bool(false) => out.extend_from_slice(b"false"),
            Json::Int(i) => write_int(*i, out),
            Json::Str(s) => write_str(s, out),
            Json::Arr(a) => {
                out.push(b'[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    v.write(out);
                }
                out.push(b']');
            }
            Json::Obj(members) => {
                let mut idx: Vec<usize> = (0..members.len()).collect();
                idx.sort_by(|&a, &b| utf16_cmp(&members[a].0, &members[b].0));
                out.push(b'{');
                for (n, &i) in idx.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_str(&members[i].0, out);
                    out.push(b':');
                    members[i].1.write(out);
                }
                out.push(b'}');
            }
        }
    }

    /// As a `serde_json::Value` (for callers that want one).
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Json::Null => serde_json::Value::Null,
            Json::Bool(b) => (*b).into(),
            Json::Int(i) => (*i).into(),
            Json::Str(s) => s.clone().into(),
            Json::Arr(a) => a.iter().map(Json::to_value).collect::<Vec<_>>().into(),
            Json::Obj(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// A member of an object by name.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(k, _)| &**k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Compare two strings by UTF-16 code units (the JCS member order).
pub fn utf16_cmp(a: &str, b: &str) -> Ordering {
    // UTF-8 byte order equals code point order, which equals UTF-16 order
    // unless a supplementary character meets one in U+E000..=U+FFFF.
    let wide = |s: &str| s.chars().any(|c| c >= '\u{E000}');
    if wide(a) && wide(b) {
        a.encode_utf16().cmp(b.encode_utf16())
    } else {
        a.as_bytes().cmp(b.as_bytes())
    }
}

/// Write a safe integer.
pub fn write_int(i: i64, out: &mut Vec<u8>) {
    if i < 0 {
        out.push(b'-');
    }
    write_uint(i.unsigned_abs(), out);
}

/// Write a non-negative integer (its decimal digits, no allocation).
pub fn write_uint(mut u: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut k = digits.len();
    loop {
        k -= 1;
        digits[k] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[k..]);
}

/// Write a JSON string with JCS escaping.
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_serde_json_canonicalizer() {
        let j = Json::Obj(vec![
            (
                "b".into(),
                Json::Arr(vec![Json::Int(-3), Json::Null, Json::Bool(true)]),
            ),
            (
                "a\u{1}\"\\\n".into(),
                Json::Str("张三\t\u{7f}\u{2028}😀".into()),
            ),
            ("\u{E000}".into(), Json::Int(9_007_199_254_740_991)),
            ("😀".into(), Json::Obj(vec![])),
            ("".into(), Json::Str(String::new())),
        ]);
        let want = serde_json_canonicalizer::to_vec(&j.to_value()).unwrap();
        assert_eq!(
            String::from_utf8(j.to_jcs()).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }
}
