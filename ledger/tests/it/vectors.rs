//! Known-answer vectors.

use rankproof_ledger::merkle::{
    consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion,
};
use rankproof_ledger::{jcs, leaf_hash, Hash};

fn h(s: &str) -> Hash {
    Hash::from_hex(s).unwrap()
}

// transparency-dev/merkle, log_verifier_test.go at commit
// 0ef2aa15996f92c07e4325d69517e8e1a04718f4: the RFC 6962 reference leaves,
// the roots of their prefixes, and inclusion/consistency proofs.
fn leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|d| leaf_hash(&hex::decode(d).unwrap()))
    .collect()
}

const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

// (leaf number, 1-based as in the Go table; tree size; proof)
const INCLUSION: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        3,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        2,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

const CONSISTENCY: &[(u64, u64, &[&str])] = &[
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

#[test]
fn merkle_roots_match_transparency_dev() {
    let l = leaves();
    for (n, want) in ROOTS.iter().enumerate() {
        assert_eq!(root(&l[..=n]), h(want), "root of {} leaves", n + 1);
    }
    assert_eq!(
        root(&[]),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
}

#[test]
fn inclusion_proofs_match_transparency_dev() {
    let l = leaves();
    for &(leaf, size, proof) in INCLUSION {
        let proof: Vec<Hash> = proof.iter().map(|s| h(s)).collect();
        let index = leaf - 1;
        let size_us = size as usize;
        assert_eq!(inclusion_proof(&l[..size_us], index).unwrap(), proof);
        let r = h(ROOTS[size_us - 1]);
        verify_inclusion(index, size, &l[index as usize], &proof, &r).unwrap();
        // The Go test's corruptions: wrong index, size, leaf, root, extra
        // or missing hashes, flipped bits.
        let leaf_h = l[index as usize];
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let bad_index = [index.wrapping_sub(1), index + 1, index ^ 2];
        for i in bad_index {
            assert!(verify_inclusion(i, size, &leaf_h, &proof, &r).is_err());
        }
        assert!(verify_inclusion(index, size * 2, &leaf_h, &proof, &r).is_err());
        assert!(verify_inclusion(index, size / 2, &leaf_h, &proof, &r).is_err());
        assert!(verify_inclusion(index, size, &some, &proof, &r).is_err());
        assert!(verify_inclusion(index, size, &leaf_h, &proof, &some).is_err());
        let mut longer = proof.clone();
        longer.push(r);
        assert!(verify_inclusion(index, size, &leaf_h, &longer, &r).is_err());
        let mut front = vec![r];
        front.extend(proof.iter().copied());
        assert!(verify_inclusion(index, size, &leaf_h, &front, &r).is_err());
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[0] ^= 8;
            assert!(verify_inclusion(index, size, &leaf_h, &p, &r).is_err());
        }
        if !proof.is_empty() {
            assert!(verify_inclusion(index, size, &leaf_h, &proof[..proof.len() - 1], &r).is_err());
        }
    }
}

#[test]
fn consistency_proofs_match_transparency_dev() {
    let l = leaves();
    for &(old, new, proof) in CONSISTENCY {
        let proof: Vec<Hash> = proof.iter().map(|s| h(s)).collect();
        assert_eq!(consistency_proof(&l[..new as usize], old).unwrap(), proof);
        let r1 = h(ROOTS[old as usize - 1]);
        let r2 = h(ROOTS[new as usize - 1]);
        verify_consistency(old, new, &r1, &r2, &proof).unwrap();
        if proof.is_empty() {
            continue;
        }
        for (o, n) in [
            (old - 1, new),
            (old + 1, new),
            (old ^ 2, new),
            (old, new * 2),
            (old, new / 2),
        ] {
            assert!(
                verify_consistency(o, n, &r1, &r2, &proof).is_err(),
                "{o} {n}"
            );
        }
        assert!(verify_consistency(old, new, &r2, &r1, &proof).is_err());
        assert!(verify_consistency(old, new, &r1, &r2, &[]).is_err());
        let mut longer = proof.clone();
        longer.push(r1);
        assert!(verify_consistency(old, new, &r1, &r2, &longer).is_err());
        for i in 0..proof.len() {
            let mut p = proof.clone();
            p[i].0[0] ^= 16;
            assert!(verify_consistency(old, new, &r1, &r2, &p).is_err());
        }
        assert!(verify_consistency(old, new, &r1, &r2, &proof[..proof.len() - 1]).is_err());
    }
}

// RFC 8785 §3.2.2 (structure and strings) and §3.2.3 (property sorting).
#[test]
fn rfc8785_examples() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let v: serde_json::Value = serde_json::from_str(input).unwrap();
    let out = String::from_utf8(jcs::to_vec(&v).unwrap()).unwrap();
    assert_eq!(
        out,
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
    let sorting = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let v: serde_json::Value = serde_json::from_str(sorting).unwrap();
    let out = String::from_utf8(jcs::to_vec(&v).unwrap()).unwrap();
    assert_eq!(
        out,
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
         \"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
         \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    // Canonical bytes parse back; anything else is refused.
    assert!(jcs::parse_canonical(out.as_bytes()).is_ok());
    assert!(jcs::parse_canonical(b"{\"b\":1,\"a\":2}").is_err());
    assert!(jcs::parse_canonical(b"{\"a\": 1}").is_err());
    assert!(jcs::parse_canonical(b"{\"a\":1,\"a\":1}").is_err());
}

// RFC 8785 Appendix B: IEEE 754 bit patterns and their serialization.
#[test]
fn rfc8785_appendix_b_numbers() {
    let cases: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
    ];
    for &(bits, want) in cases {
        let f = f64::from_bits(bits);
        let out = jcs::to_vec(&f).unwrap();
        assert_eq!(std::str::from_utf8(&out).unwrap(), want, "{bits:016x}");
    }
}
