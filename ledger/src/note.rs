//! C2SP `signed-note`, `tlog-checkpoint` and `tlog-proof`.
//!
//! - <https://c2sp.org/signed-note>: text, a blank line, then signature lines
//!   `— name base64(keyid[4] ‖ signature)`; Ed25519 signatures cover the text
//!   bytes exactly. Lines from unknown keys are ignored (they are typically
//!   witness cosignatures); a bad signature from a known key is an error.
//! - <https://c2sp.org/tlog-checkpoint>: the text is `origin\nsize\nroot\n`
//!   plus optional extension lines.
//! - <https://c2sp.org/tlog-proof>: `c2sp.org/tlog-proof@v1`, optional
//!   `extra`, `index N`, the inclusion proof hashes, a blank line, then the
//!   checkpoint verbatim.

use base64::Engine;
use ed25519_dalek::Signature;

use crate::hash::Hash;
use crate::keys::{is_valid_name, KeyId, SecretKey, VerifierKey};
use crate::merkle::{self, ProofError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const SIG_PREFIX: &str = "\u{2014} ";
const MAX_SIGNATURES: usize = 100;

/// Why a note, checkpoint or tlog-proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The bytes do not follow the format.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// Which format.
        what: &'static str,
        /// What is wrong.
        why: &'static str,
    },
    /// A known key's signature does not verify.
    #[error("invalid signature by {0}")]
    InvalidSignature(String),
    /// A known key signed more than once.
    #[error("more than one signature by {0}")]
    DuplicateSignature(String),
    /// No signature from the required key.
    #[error("no signature by {0}")]
    MissingSignature(String),
    /// The checkpoint's origin is not the log key's name.
    #[error("checkpoint origin {origin:?} does not match log key name {key_name:?}")]
    OriginMismatch {
        /// The origin line.
        origin: String,
        /// The key name.
        key_name: String,
    },
    /// The inclusion proof in a tlog-proof does not verify.
    #[error("inclusion proof: {0}")]
    Proof(ProofError),
}

impl From<ProofError> for NoteError {
    fn from(e: ProofError) -> Self {
        NoteError::Proof(e)
    }
}

fn malformed(what: &'static str, why: &'static str) -> NoteError {
    NoteError::Malformed { what, why }
}

/// One signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key ID (first 4 decoded bytes).
    pub key_id: KeyId,
    /// The signature bytes after the key ID.
    pub signature: Vec<u8>,
}

impl NoteSignature {
    fn line(&self) -> String {
        let mut blob = self.key_id.0.to_vec();
        blob.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A signed note: text plus signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() || !text.ends_with('\n') {
        return Err(malformed("note", "text must end with a newline"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(malformed("note", "text contains control characters"));
    }
    Ok(())
}

impl Note {
    /// Sign `text` with `key`.
    pub fn sign(text: &str, key: &SecretKey) -> Result<Note, NoteError> {
        check_text(text)?;
        let mut note = Note {
            text: text.to_owned(),
            signatures: Vec::new(),
        };
        note.add_signature(key);
        Ok(note)
    }

    /// Add one more signature line (e.g. a cosignature).
    pub fn add_signature(&mut self, key: &SecretKey) {
        let sig = key.sign(self.text.as_bytes());
        self.signatures.push(NoteSignature {
            name: key.name().to_owned(),
            key_id: key.verifier().id(),
            signature: sig.to_bytes().to_vec(),
        });
    }

    /// Parse a signed note strictly (it is not verified yet).
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        let s = std::str::from_utf8(bytes).map_err(|_| malformed("note", "not UTF-8"))?;
        let split = s
            .rfind("\n\n")
            .ok_or(malformed("note", "no blank line before signatures"))?;
        let text = &s[..=split];
        check_text(text)?;
        let sig_block = &s[split + 2..];
        if sig_block.is_empty() || !sig_block.ends_with('\n') {
            return Err(malformed("note", "signatures must end with a newline"));
        }
        let mut signatures = Vec::new();
        for line in sig_block[..sig_block.len() - 1].split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(malformed("note", "too many signatures"));
            }
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed(
                "note",
                "signature line must start with an em dash",
            ))?;
            let (name, b64) = rest.split_once(' ').ok_or(malformed(
                "note",
                "signature line needs a name and a signature",
            ))?;
            if !is_valid_name(name) {
                return Err(malformed("note", "invalid key name in signature line"));
            }
            let blob = B64
                .decode(b64)
                .map_err(|_| malformed("note", "signature is not base64"))?;
            if blob.len() < 5 {
                return Err(malformed("note", "signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: KeyId([blob[0], blob[1], blob[2], blob[3]]),
                signature: blob[4..].to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// All signature lines, verified or not.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Verify the signatures of every key in `known`; lines from other keys
    /// are ignored. Returns the keys whose signatures verified. Fails on a
    /// bad or repeated signature from a known key.
    pub fn verify(&self, known: &[VerifierKey]) -> Result<Vec<VerifierKey>, NoteError> {
        let mut verified: Vec<VerifierKey> = Vec::new();
        for line in &self.signatures {
            let Some(key) = known
                .iter()
                .find(|k| k.name() == line.name && k.id() == line.key_id)
            else {
                continue;
            };
            if verified.contains(key) {
                return Err(NoteError::DuplicateSignature(key.handle()));
            }
            let sig = <[u8; 64]>::try_from(line.signature.as_slice())
                .map(|b| Signature::from_bytes(&b))
                .map_err(|_| NoteError::InvalidSignature(key.handle()))?;
            if !key.verify(self.text.as_bytes(), &sig) {
                return Err(NoteError::InvalidSignature(key.handle()));
            }
            verified.push(key.clone());
        }
        Ok(verified)
    }

    /// Verify and require a signature by `key`.
    pub fn verify_by(&self, key: &VerifierKey) -> Result<(), NoteError> {
        if self.verify(std::slice::from_ref(key))?.is_empty() {
            return Err(NoteError::MissingSignature(key.handle()));
        }
        Ok(())
    }

    /// The encoded note.
    pub fn to_text(&self) -> String {
        let mut s = self.text.clone();
        s.push('\n');
        for sig in &self.signatures {
            s.push_str(&sig.line());
        }
        s
    }
}

/// A tree head: the text of a C2SP checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin (= the log key's name).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash.
    pub root: Hash,
    /// Optional extension lines (without newlines).
    pub extensions: Vec<String>,
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parse checkpoint text strictly.
    pub fn parse_text(text: &str) -> Result<Checkpoint, NoteError> {
        const W: &str = "checkpoint";
        let body = text
            .strip_suffix('\n')
            .ok_or(malformed(W, "must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(malformed(W, "empty origin line"));
        }
        let size = lines
            .next()
            .and_then(parse_decimal)
            .ok_or(malformed(W, "size must be a decimal without leading zeros"))?;
        let root = lines
            .next()
            .and_then(Hash::from_base64)
            .ok_or(malformed(W, "root must be base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(malformed(W, "empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }
}

/// A checkpoint together with its signed note, verified by the log key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    note: Note,
}

impl SignedCheckpoint {
    /// Sign `checkpoint` with the log key, whose name must be the origin.
    pub fn sign(
        checkpoint: Checkpoint,
        log_key: &SecretKey,
    ) -> Result<SignedCheckpoint, NoteError> {
        if checkpoint.origin != log_key.name() {
            return Err(NoteError::OriginMismatch {
                origin: checkpoint.origin,
                key_name: log_key.name().to_owned(),
            });
        }
        let note = Note::sign(&checkpoint.to_text(), log_key)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// Parse a signed checkpoint and verify the log key's signature. Other
    /// signature lines (cosignatures) are kept and ignored.
    pub fn open(bytes: &[u8], log_key: &VerifierKey) -> Result<SignedCheckpoint, NoteError> {
        let note = Note::parse(bytes)?;
        let checkpoint = Checkpoint::parse_text(note.text())?;
        if checkpoint.origin != log_key.name() {
            return Err(NoteError::OriginMismatch {
                origin: checkpoint.origin,
                key_name: log_key.name().to_owned(),
            });
        }
        note.verify_by(log_key)?;
        Ok(SignedCheckpoint { checkpoint, note })
    }

    /// The tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed note (to add cosignatures or read other lines).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The encoded signed note.
    pub fn to_text(&self) -> String {
        self.note.to_text()
    }
}

/// A C2SP tlog-proof: an offline proof that a leaf is in a checkpointed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Optional unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Zero-based leaf index.
    pub index: u64,
    /// Inclusion proof, leaf's sibling first.
    pub hashes: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

impl TlogProof {
    /// Encode per the spec.
    pub fn to_text(&self) -> String {
        let mut s = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            s.push_str(&format!("extra {}\n", B64.encode(extra)));
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.hashes {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parse strictly (not verified).
    pub fn parse(text: &str) -> Result<TlogProof, NoteError> {
        const W: &str = "tlog-proof";
        let rest = text
            .strip_prefix(TLOG_PROOF_HEADER)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(malformed(W, "first line must be c2sp.org/tlog-proof@v1"))?;
        let (mut line, mut rest) = rest.split_once('\n').ok_or(malformed(W, "truncated"))?;
        let mut extra = None;
        if let Some(b) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b)
                    .map_err(|_| malformed(W, "extra is not base64"))?,
            );
            (line, rest) = rest.split_once('\n').ok_or(malformed(W, "truncated"))?;
        }
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or(malformed(W, "expected `index N` with N decimal"))?;
        let mut hashes = Vec::new();
        loop {
            let (l, r) = rest.split_once('\n').ok_or(malformed(W, "truncated"))?;
            rest = r;
            if l.is_empty() {
                break;
            }
            hashes.push(
                Hash::from_base64(l).ok_or(malformed(W, "proof hash is not base64 of 32 bytes"))?,
            );
        }
        if rest.is_empty() {
            return Err(malformed(W, "missing checkpoint"));
        }
        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: rest.to_owned(),
        })
    }

    /// Verify: the checkpoint is signed by `log_key`, and `leaf` is at
    /// `index` in its tree. Returns the verified checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        log_key: &VerifierKey,
    ) -> Result<SignedCheckpoint, NoteError> {
        let cp = SignedCheckpoint::open(self.checkpoint.as_bytes(), log_key)?;
        let head = cp.checkpoint();
        merkle::verify_inclusion(self.index, head.size, leaf, &self.hashes, &head.root)?;
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // golang.org/x/mod/sumdb/note: note_test.go and example_test.go.
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const SIGNED: &str = "If you think cryptography is the answer to your problem,\n\
         then you don't know what your problem is.\n\
         \n\
         \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_signed_note_vector_signs_and_verifies() {
        let skey = SecretKey::parse(PETER_SKEY).unwrap();
        let note = Note::sign(TEXT, &skey).unwrap();
        assert_eq!(note.to_text(), SIGNED);
        let vkey = VerifierKey::parse(PETER_VKEY).unwrap();
        let parsed = Note::parse(SIGNED.as_bytes()).unwrap();
        assert_eq!(parsed.text(), TEXT);
        parsed.verify_by(&vkey).unwrap();
        let tampered = SIGNED.replace("cryptography", "cryptographY");
        assert_eq!(
            Note::parse(tampered.as_bytes()).unwrap().verify_by(&vkey),
            Err(NoteError::InvalidSignature(vkey.handle()))
        );
    }

    #[test]
    fn unknown_signers_are_ignored_and_missing_key_refused() {
        let enoch = VerifierKey::parse(ENOCH_VKEY).unwrap();
        let parsed = Note::parse(SIGNED.as_bytes()).unwrap();
        assert!(parsed
            .verify(std::slice::from_ref(&enoch))
            .unwrap()
            .is_empty());
        assert_eq!(
            parsed.verify_by(&enoch),
            Err(NoteError::MissingSignature(enoch.handle()))
        );
        // A cosignature line by another key does not disturb verification.
        let mut extra = parsed.clone();
        extra.add_signature(&SecretKey::generate("witness.example").unwrap());
        let reparsed = Note::parse(extra.to_text().as_bytes()).unwrap();
        reparsed
            .verify_by(&VerifierKey::parse(PETER_VKEY).unwrap())
            .unwrap();
    }

    #[test]
    fn duplicate_and_malformed_notes_are_refused() {
        let vkey = VerifierKey::parse(PETER_VKEY).unwrap();
        let line = SIGNED.split("\n\n").nth(1).unwrap();
        let dup = format!("{SIGNED}{line}");
        assert_eq!(
            Note::parse(dup.as_bytes()).unwrap().verify_by(&vkey),
            Err(NoteError::DuplicateSignature(vkey.handle()))
        );
        for bad in [
            TEXT.to_owned(),
            format!("{TEXT}\n"),
            SIGNED.replace('\u{2014}', "-"),
            SIGNED.trim_end().to_owned(),
            SIGNED.replace("x08go", "x08g*"),
        ] {
            assert!(Note::parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checkpoint_text_is_strict() {
        let root = Hash::of(b"r");
        let cp = Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root,
            extensions: vec!["ext".into()],
        };
        assert_eq!(Checkpoint::parse_text(&cp.to_text()).unwrap(), cp);
        let b = root.to_base64();
        for bad in [
            format!("o\n042\n{b}\n"),
            format!("o\n-1\n{b}\n"),
            format!("\n1\n{b}\n"),
            format!("o\n1\n{b}"),
            format!("o\n1\n{b}\n\n"),
            "o\n1\nAAAA\n".to_owned(),
            "o\n1\n".to_owned(),
        ] {
            assert!(Checkpoint::parse_text(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tlog_proof_round_trips_and_verifies() {
        let key = SecretKey::generate("log.example").unwrap();
        let leaves: Vec<Hash> = (0..5u8).map(|i| crate::hash::leaf_hash(&[i])).collect();
        let head = Checkpoint {
            origin: "log.example".into(),
            size: 5,
            root: merkle::root(&leaves),
            extensions: vec![],
        };
        let signed = SignedCheckpoint::sign(head, &key).unwrap();
        let proof = TlogProof {
            extra: Some(b"ranking 7".to_vec()),
            index: 3,
            hashes: merkle::inclusion_proof(&leaves, 3).unwrap(),
            checkpoint: signed.to_text(),
        };
        let text = proof.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra cmFua2luZyA3\nindex 3\n"));
        let parsed = TlogProof::parse(&text).unwrap();
        assert_eq!(parsed, proof);
        parsed.verify(&leaves[3], key.verifier()).unwrap();
        assert!(parsed.verify(&leaves[2], key.verifier()).is_err());
        let other = SecretKey::generate("log.example").unwrap();
        assert!(parsed.verify(&leaves[3], other.verifier()).is_err());
        let no_extra = TlogProof {
            extra: None,
            ..proof
        };
        assert_eq!(TlogProof::parse(&no_extra.to_text()).unwrap(), no_extra);
        assert!(TlogProof::parse(&text.replace("index 3", "index 03")).is_err());
    }
}
