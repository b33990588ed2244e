//! Ed25519 keys in the C2SP signed-note forms.
//!
//! - verifier key: `name+hexkeyid+base64(0x01 ‖ pubkey)`;
//! - secret key:   `PRIVATE+KEY+name+hexkeyid+base64(0x01 ‖ seed)` (the
//!   `golang.org/x/mod/sumdb/note` signer-key form);
//! - key ID: the first 4 bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey).

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const ALG_ED25519: u8 = 0x01;

/// Why a key string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The text does not have the `name+hexid+base64` shape.
    #[error("malformed key: {0}")]
    Malformed(&'static str),
    /// The key name is empty or contains `+`, whitespace or control characters.
    #[error("invalid key name")]
    InvalidName,
    /// The algorithm byte is not 0x01 (Ed25519).
    #[error("unsupported key algorithm 0x{0:02x} (only Ed25519, 0x01)")]
    UnsupportedAlgorithm(u8),
    /// The key ID in the text does not match the name and key.
    #[error("key ID does not match the key")]
    KeyIdMismatch,
    /// The public key is not a valid, canonical Ed25519 point.
    #[error("invalid Ed25519 public key")]
    InvalidPoint,
    /// The public key is a small-order (weak) point.
    #[error("weak (small-order) Ed25519 public key")]
    WeakKey,
}

/// Why a command-line verifier-key argument was refused. No variant holds
/// or prints any part of the argument: it may be secret key text in some
/// disguise (prefix removed, quoted, lowercased, BOM-prefixed, padded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyArgError {
    /// The argument is, or looks like, secret key text.
    #[error(
        "a secret key was given where a verifier key is expected; pass the verifier key \
         (`rankproof key show FILE` prints it) and keep the secret key in its file \
         (the argument is not repeated here)"
    )]
    SecretKeyGiven,
    /// Neither a verifier key nor a key file.
    #[error(
        "not a verifier key ({0}) nor a key file; expected name+hexkeyid+base64 as printed \
         by `rankproof key new`, or the path of a key file (the argument is not repeated here)"
    )]
    NotAKey(KeyError),
    /// The argument names a file that is not a usable key file.
    #[error("key file {path}: {reason}")]
    File {
        /// The file, as given.
        path: String,
        /// What is wrong (never the file's contents).
        reason: String,
    },
}

/// Largest key file read for a key argument.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Whether `arg` is secret key text in any of the forms a person might
/// paste: with or without the `PRIVATE+KEY+` prefix, in any letter case,
/// quoted, with a byte-order mark or surrounding whitespace.
pub fn looks_like_secret_key(arg: &str) -> bool {
    let t = normalize_key_arg(arg);
    let upper = t.to_ascii_uppercase();
    if upper.starts_with("PRIVATE+KEY") || upper.starts_with("PRIVATE KEY") {
        return true;
    }
    // The prefix removed: `name+hexkeyid+base64(0x01 ‖ seed)` has the shape
    // of a verifier key, but the key ID matches the public key derived from
    // the material read as a seed.
    SecretKey::parse(&format!("PRIVATE+KEY+{t}")).is_ok()
}

/// The argument without byte-order marks, surrounding whitespace and quotes.
fn normalize_key_arg(arg: &str) -> &str {
    let mut t = arg;
    loop {
        let next = t
            .trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c.is_control())
            .trim_matches(|c| {
                matches!(
                    c,
                    '"' | '\'' | '`' | '\u{201c}' | '\u{201d}' | '\u{2018}' | '\u{2019}'
                )
            });
        if next.len() == t.len() {
            return t;
        }
        t = next;
    }
}

/// A 4-byte key ID.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 4]);

impl KeyId {
    /// Compute the key ID of an Ed25519 key with this name.
    pub fn compute(name: &str, public: &[u8; 32]) -> KeyId {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([b'\n', ALG_ED25519]);
        h.update(public);
        let d = h.finalize();
        KeyId([d[0], d[1], d[2], d[3]])
    }

    /// Eight lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.to_hex())
    }
}

/// A valid signed-note key name: non-empty, no `+`, no whitespace or control
/// characters (Unicode).
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

fn parse_hex_id(s: &str) -> Result<KeyId, KeyError> {
    if s.len() != 8
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(KeyError::Malformed("key ID must be 8 lowercase hex digits"));
    }
    let mut id = [0u8; 4];
    hex::decode_to_slice(s, &mut id).map_err(|_| KeyError::Malformed("bad key ID hex"))?;
    Ok(KeyId(id))
}

fn decode_typed_32(s: &str) -> Result<[u8; 32], KeyError> {
    let raw = B64
        .decode(s)
        .map_err(|_| KeyError::Malformed("key material is not base64"))?;
    let (&alg, rest) = raw
        .split_first()
        .ok_or(KeyError::Malformed("empty key material"))?;
    if alg != ALG_ED25519 {
        return Err(KeyError::UnsupportedAlgorithm(alg));
    }
    rest.try_into()
        .map_err(|_| KeyError::Malformed("Ed25519 key material must be 33 bytes"))
}

fn encode_typed(bytes: &[u8; 32]) -> String {
    let mut v = Vec::with_capacity(33);
    v.push(ALG_ED25519);
    v.extend_from_slice(bytes);
    B64.encode(v)
}

/// Decode a public key strictly: canonical encoding, on the curve, not of
/// small order.
pub fn strict_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let vk = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::InvalidPoint)?;
    if vk.to_edwards().compress().to_bytes() != *bytes {
        return Err(KeyError::InvalidPoint);
    }
    if vk.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(vk)
}

/// A named Ed25519 public key (a signed-note verifier key).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: KeyId,
    public: VerifyingKey,
}

impl VerifierKey {
    /// Build from a name and public key.
    pub fn new(name: &str, public: VerifyingKey) -> Result<VerifierKey, KeyError> {
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let bytes = public.to_bytes();
        let public = strict_public_key(&bytes)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id: KeyId::compute(name, &bytes),
            public,
        })
    }

    /// Parse `name+hexkeyid+base64(0x01 ‖ pubkey)`.
    pub fn parse(text: &str) -> Result<VerifierKey, KeyError> {
        let text = text.trim_end_matches('\n');
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed("expected name+hexkeyid+base64key"));
        };
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let id = parse_hex_id(id)?;
        let bytes = decode_typed_32(material)?;
        let public = strict_public_key(&bytes)?;
        if KeyId::compute(name, &bytes) != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            public,
        })
    }

    /// Parse a command-line argument naming a verifier key: the key text
    /// itself or the path of a key file (a verifier key file, or a secret
    /// key file whose public half is taken). Secret key text in any form is
    /// refused, and no error ever contains the argument or a file's
    /// contents.
    pub fn parse_arg(arg: &str) -> Result<VerifierKey, KeyArgError> {
        if looks_like_secret_key(arg) {
            return Err(KeyArgError::SecretKeyGiven);
        }
        let err = match VerifierKey::parse(arg) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let path = std::path::Path::new(arg);
        if std::fs::symlink_metadata(path).is_err() {
            return Err(KeyArgError::NotAKey(err));
        }
        let file_err = |reason: String| KeyArgError::File {
            path: path.display().to_string(),
            reason,
        };
        let bytes = crate::files::read_regular_file(path, MAX_KEY_FILE_BYTES)
            .map_err(|e| file_err(e.reason()))?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| file_err("not UTF-8 text".into()))?
            .trim_start_matches('\u{feff}')
            .trim();
        KeyFile::parse(text)
            .map(|kf| kf.verifier().clone())
            .map_err(|e| file_err(e.to_string()))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// `name+hexkeyid`, how entries name their signer.
    pub fn handle(&self) -> String {
        format!("{}+{}", self.name, self.id)
    }

    /// The Ed25519 public key.
    pub fn public(&self) -> &VerifyingKey {
        &self.public
    }

    /// Strict Ed25519 verification of `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> bool {
        self.public.verify_strict(msg, sig).is_ok()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{}+{}",
            self.name,
            self.id,
            encode_typed(&self.public.to_bytes())
        )
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({self})")
    }
}

impl std::str::FromStr for VerifierKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

/// A named Ed25519 signing key. Its `Debug` output never shows the secret.
#[derive(Clone)]
pub struct SecretKey {
    name: String,
    signing: SigningKey,
    verifier: VerifierKey,
}

impl SecretKey {
    /// Generate a new key from the operating system's random source.
    pub fn generate(name: &str) -> Result<SecretKey, KeyError> {
        let signing = SigningKey::generate(&mut rand_core::OsRng);
        SecretKey::from_signing_key(name, signing)
    }

    /// Wrap an existing signing key.
    pub fn from_signing_key(name: &str, signing: SigningKey) -> Result<SecretKey, KeyError> {
        let verifier = VerifierKey::new(name, signing.verifying_key())?;
        Ok(SecretKey {
            name: name.to_owned(),
            signing,
            verifier,
        })
    }

    /// Parse `PRIVATE+KEY+name+hexkeyid+base64(0x01 ‖ seed)`.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim_end_matches('\n');
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed(
                "secret key must start with PRIVATE+KEY+",
            ))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(material)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(KeyError::Malformed(
                "expected PRIVATE+KEY+name+hexkeyid+base64seed",
            ));
        };
        if !is_valid_name(name) {
            return Err(KeyError::InvalidName);
        }
        let id = parse_hex_id(id)?;
        let seed = decode_typed_32(material)?;
        let key = SecretKey::from_signing_key(name, SigningKey::from_bytes(&seed))?;
        if key.verifier.id != id {
            return Err(KeyError::KeyIdMismatch);
        }
        Ok(key)
    }

    /// The secret-key text (with no trailing newline). Handle with care.
    pub fn to_secret_text(&self) -> String {
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            self.verifier.id,
            encode_typed(&self.signing.to_bytes())
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public half.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Sign `msg` (plain Ed25519; callers add their domain prefix).
    pub fn sign(&self, msg: &[u8]) -> Signature {
        self.signing.sign(msg)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <secret>)", self.verifier)
    }
}

/// A key file's contents: either half.
// A key file is read once per command; the size difference does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum KeyFile {
    /// A `PRIVATE+KEY+...` file.
    Secret(SecretKey),
    /// A verifier key file.
    Public(VerifierKey),
}

impl KeyFile {
    /// Parse either form.
    pub fn parse(text: &str) -> Result<KeyFile, KeyError> {
        if text.starts_with("PRIVATE+KEY+") {
            SecretKey::parse(text).map(KeyFile::Secret)
        } else {
            VerifierKey::parse(text).map(KeyFile::Public)
        }
    }

    /// The public key either way.
    pub fn verifier(&self) -> &VerifierKey {
        match self {
            KeyFile::Secret(s) => s.verifier(),
            KeyFile::Public(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note note_test.go / example_test.go.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";

    #[test]
    fn go_note_vectors_parse_and_round_trip() {
        let v = VerifierKey::parse(PETER_VKEY).unwrap();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.id().to_hex(), "c74f20a3");
        assert_eq!(v.to_string(), PETER_VKEY);
        let s = SecretKey::parse(PETER_SKEY).unwrap();
        assert_eq!(s.verifier(), &v);
        assert_eq!(s.to_secret_text(), PETER_SKEY);
        assert!(!format!("{s:?}").contains("AYEKF"));
    }

    #[test]
    fn mangled_verifier_keys_are_refused() {
        let b = PETER_VKEY.as_bytes();
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(VerifierKey::parse(s).is_err(), "accepted {s}");
            }
            let cut = String::from_utf8_lossy(&b[..i]).into_owned();
            assert!(VerifierKey::parse(&cut).is_err());
        }
    }

    #[test]
    fn small_order_and_bad_keys_are_refused() {
        // The identity point (small order) with a correctly computed ID.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let id = KeyId::compute("weak", &identity);
        let text = format!("weak+{}+{}", id, encode_typed(&identity));
        assert_eq!(VerifierKey::parse(&text), Err(KeyError::WeakKey));
        // Non-canonical y (y = p + 1, encodes 1 non-canonically).
        let mut noncanon = [0xffu8; 32];
        noncanon[0] = 0xee;
        noncanon[31] = 0x7f;
        let id = KeyId::compute("nc", &noncanon);
        let text = format!("nc+{}+{}", id, encode_typed(&noncanon));
        assert!(VerifierKey::parse(&text).is_err());
        assert_eq!(
            VerifierKey::parse("bad name+00000000+AA=="),
            Err(KeyError::InvalidName)
        );
    }

    #[test]
    fn generated_keys_round_trip() {
        let s = SecretKey::generate("hr.example").unwrap();
        let again = SecretKey::parse(&s.to_secret_text()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        let v = VerifierKey::parse(&s.verifier().to_string()).unwrap();
        let sig = s.sign(b"msg");
        assert!(v.verify(b"msg", &sig));
        assert!(!v.verify(b"msh", &sig));
    }
}
