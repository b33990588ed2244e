//! RFC 6962 / RFC 9162 Merkle trees: roots, inclusion and consistency proofs,
//! and their verification with exact proof lengths.
//!
//! Pure functions over leaf hashes (already `SHA-256(0x00 ‖ data)`), usable on
//! any list: the ledger's entries and each ranking's results tree. Large
//! stored trees implement [`TreeNodes`] so proofs read O(log n) stored nodes.

use crate::hash::{node_hash, Hash};

/// Why a proof could not be built or did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The sizes do not satisfy `old <= new` (and `new <= stored size`).
    #[error("invalid tree sizes {old} and {new}")]
    InvalidSizes {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has the wrong number of hashes.
    #[error("proof has {got} hashes, expected exactly {expected}")]
    WrongLength {
        /// How many hashes the proof must have.
        expected: usize,
        /// How many it has.
        got: usize,
    },
    /// The proof recomputes a different root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
    /// A stored node was missing or unreadable.
    #[error("tree node (level {level}, index {index}) unavailable: {reason}")]
    NodeUnavailable {
        /// Node level (0 = leaves).
        level: u8,
        /// Node index within its level.
        index: u64,
        /// What went wrong.
        reason: String,
    },
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Hash::of(b"")
}

/// Access to the hashes of complete, aligned subtrees: `node(level, index)`
/// is the root of leaves `[index·2^level, (index+1)·2^level)`.
pub trait TreeNodes {
    /// The hash of one complete subtree.
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError>;
}

/// A plain list of leaf hashes (hashes subtrees on demand; O(n) per proof).
impl TreeNodes for [Hash] {
    fn node(&self, level: u8, index: u64) -> Result<Hash, ProofError> {
        let width = 1u64 << level;
        let start = index * width;
        let end = start + width;
        let unavailable = || ProofError::NodeUnavailable {
            level,
            index,
            reason: "beyond the leaves".into(),
        };
        let s = usize::try_from(start).map_err(|_| unavailable())?;
        let e = usize::try_from(end).map_err(|_| unavailable())?;
        let leaves = self.get(s..e).ok_or_else(unavailable)?;
        Ok(hash_complete(leaves))
    }
}

fn hash_complete(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mid = leaves.len() / 2;
    node_hash(
        &hash_complete(&leaves[..mid]),
        &hash_complete(&leaves[mid..]),
    )
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) where `start` is a multiple of the subtree width that
/// RFC 6962's recursion produces.
fn range_hash<T: TreeNodes + ?Sized>(t: &T, start: u64, end: u64) -> Result<Hash, ProofError> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start % n == 0 {
        let level = n.trailing_zeros() as u8;
        return t.node(level, start >> level);
    }
    let k = split_point(n);
    Ok(node_hash(
        &range_hash(t, start, start + k)?,
        &range_hash(t, start + k, end)?,
    ))
}

/// The root of the first `size` leaves of `t`.
pub fn root_from<T: TreeNodes + ?Sized>(t: &T, size: u64) -> Result<Hash, ProofError> {
    range_hash(t, 0, size)
}

/// The RFC 6962 root of `leaves`.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return empty_root();
    }
    let n = leaves.len();
    if n.is_power_of_two() {
        return hash_complete(leaves);
    }
    let k = split_point(n as u64) as usize;
    node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
}

fn path<T: TreeNodes + ?Sized>(
    t: &T,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(t, m, start, start + k, out)?;
        out.push(range_hash(t, start + k, end)?);
    } else {
        path(t, m - k, start + k, end, out)?;
        out.push(range_hash(t, start, start + k)?);
    }
    Ok(())
}

/// RFC 6962 §2.1.1 inclusion proof of leaf `index` in the tree of the first
/// `size` leaves, leaf's sibling first.
pub fn inclusion_proof_from<T: TreeNodes + ?Sized>(
    t: &T,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut out = Vec::with_capacity(64);
    path(t, index, 0, size, &mut out)?;
    Ok(out)
}

/// Inclusion proof of `leaves[index]` in the tree of all `leaves`.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    inclusion_proof_from(leaves, index, leaves.len() as u64)
}

fn subproof<T: TreeNodes + ?Sized>(
    t: &T,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash>,
) -> Result<(), ProofError> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(t, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(t, m, start, start + k, complete, out)?;
        out.push(range_hash(t, start + k, end)?);
    } else {
        subproof(t, m - k, start + k, end, false, out)?;
        out.push(range_hash(t, start, start + k)?);
    }
    Ok(())
}

/// RFC 6962 §2.1.2 consistency proof between the trees of the first `old`
/// and the first `new` leaves. Empty when `old == 0` or `old == new`.
pub fn consistency_proof_from<T: TreeNodes + ?Sized>(
    t: &T,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::InvalidSizes { old, new });
    }
    let mut out = Vec::with_capacity(64);
    if old == 0 || old == new {
        return Ok(out);
    }
    subproof(t, old, 0, new, true, &mut out)?;
    Ok(out)
}

/// Consistency proof between `leaves[..old]` and all `leaves`.
pub fn consistency_proof(leaves: &[Hash], old: u64) -> Result<Vec<Hash>, ProofError> {
    consistency_proof_from(leaves, old, leaves.len() as u64)
}

/// The exact length of an inclusion proof (RFC 9162 §2.1.3.1).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    if index >= size {
        return 0;
    }
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// The exact length of a consistency proof (RFC 9162 §2.1.4.1).
pub fn consistency_proof_len(old: u64, new: u64) -> usize {
    if old == 0 || old >= new {
        return 0;
    }
    fn count(m: u64, n: u64, complete: bool) -> usize {
        if m == n {
            return usize::from(!complete);
        }
        let k = split_point(n);
        if m <= k {
            count(m, k, complete) + 1
        } else {
            count(m - k, n - k, false) + 1
        }
    }
    count(old, new, true)
}

/// Recompute the root from an inclusion proof (RFC 9162 §2.1.3.2), after
/// checking the proof has exactly the right length.
pub fn root_from_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::RootMismatch);
    }
    Ok(r)
}

/// Verify an inclusion proof against a known root (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(index, size, leaf, proof)? == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verify a consistency proof (RFC 9162 §2.1.4.2), after checking the proof
/// has exactly the right length. `old == new` needs equal roots and an empty
/// proof; `old == 0` needs an empty proof.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::InvalidSizes { old, new });
    }
    let expected = consistency_proof_len(old, new);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if old == new {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old == 0 {
        return Ok(());
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let mut f_n = old - 1;
    let mut s_n = new - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::RootMismatch);
    };
    let mut fr = *first;
    let mut sr = *first;
    for c in rest {
        if s_n == 0 {
            return Err(ProofError::RootMismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && fr == *old_root && sr == *new_root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// The right edge of a growing tree: the roots of its maximal complete
/// subtrees, largest first. Appending a leaf yields the new complete nodes
/// to store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    stack: Vec<Hash>,
}

impl CompactRange {
    /// The empty tree.
    pub fn new() -> CompactRange {
        CompactRange::default()
    }

    /// Rebuild the right edge of a tree of `size` leaves from its nodes.
    pub fn from_nodes<T: TreeNodes + ?Sized>(t: &T, size: u64) -> Result<CompactRange, ProofError> {
        let mut stack = Vec::new();
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                stack.push(t.node(level, start >> level)?);
                start += width;
            }
        }
        Ok(CompactRange { size, stack })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a leaf; returns every newly completed node `(level, index, hash)`,
    /// the leaf itself first.
    pub fn append(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let mut index = self.size;
        let mut level = 0u8;
        let mut out = vec![(0u8, index, leaf)];
        let mut cur = leaf;
        while index & 1 == 1 {
            // INVARIANT: an odd index at this level means the left sibling is
            // the top of the stack.
            let left = self.stack.pop().unwrap_or_default();
            cur = node_hash(&left, &cur);
            index >>= 1;
            level += 1;
            out.push((level, index, cur));
        }
        self.stack.push(cur);
        self.size += 1;
        out
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        let mut it = self.stack.iter().rev();
        let Some(mut r) = it.next().copied() else {
            return empty_root();
        };
        for s in it {
            r = node_hash(s, &r);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn compact_range_matches_root() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut cr = CompactRange::new();
        for (i, l) in leaves.iter().enumerate() {
            cr.append(*l);
            assert_eq!(cr.root(), root(&leaves[..=i]));
            let again = CompactRange::from_nodes(&leaves[..], (i + 1) as u64).unwrap();
            assert_eq!(again, cr);
        }
    }

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for n in 1..=40u64 {
            for i in 0..n {
                let p = inclusion_proof_from(&leaves[..], i, n).unwrap();
                assert_eq!(p.len(), inclusion_proof_len(i, n));
            }
            for m in 0..=n {
                let p = consistency_proof_from(&leaves[..], m, n).unwrap();
                assert_eq!(p.len(), consistency_proof_len(m, n), "{m} {n}");
            }
        }
    }
}
