//! Property tests of Merkle proofs over random tree sizes.

use proptest::prelude::*;
use rankproof_ledger::merkle::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion, ProofError,
};
use rankproof_ledger::{leaf_hash, Hash};

fn leaves(n: u64, seed: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[seed.to_be_bytes(), i.to_be_bytes()].concat()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_inclusion_proof_verifies_and_wrong_lengths_fail(n in 1u64..300, seed: u64) {
        let l = leaves(n, seed);
        let r = root(&l);
        for i in 0..n {
            let p = inclusion_proof(&l, i).unwrap();
            verify_inclusion(i, n, &l[i as usize], &p, &r).unwrap();
            let mut longer = p.clone();
            longer.push(r);
            let longer_err = matches!(
                verify_inclusion(i, n, &l[i as usize], &longer, &r),
                Err(ProofError::WrongLength { .. })
            );
            prop_assert!(longer_err);
            if !p.is_empty() {
                let shorter_err = matches!(
                    verify_inclusion(i, n, &l[i as usize], &p[1..], &r),
                    Err(ProofError::WrongLength { .. })
                );
                prop_assert!(shorter_err);
            }
            let other = l[((i + 1) % n) as usize];
            if other != l[i as usize] {
                prop_assert!(verify_inclusion(i, n, &other, &p, &r).is_err());
            }
        }
        prop_assert!(inclusion_proof(&l, n).is_err());
    }

    #[test]
    fn every_consistency_pair_verifies_and_wrong_lengths_fail(n in 1u64..70, seed: u64) {
        let l = leaves(n, seed);
        let r2 = root(&l);
        for m in 0..=n {
            let r1 = root(&l[..m as usize]);
            let p = consistency_proof(&l, m).unwrap();
            verify_consistency(m, n, &r1, &r2, &p).unwrap();
            let mut longer = p.clone();
            longer.push(r2);
            prop_assert!(verify_consistency(m, n, &r1, &r2, &longer).is_err());
            if !p.is_empty() {
                prop_assert!(verify_consistency(m, n, &r1, &r2, &p[..p.len() - 1]).is_err());
                // A different old root (another history) is refused.
                let forged = root(&leaves(m, seed.wrapping_add(1)));
                prop_assert!(verify_consistency(m, n, &forged, &r2, &p).is_err());
            }
        }
        prop_assert!(consistency_proof(&l[..1], 2).is_err());
    }
}
