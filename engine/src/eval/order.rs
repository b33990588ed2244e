//! Phase 4: the ranking order and competition ranks. No script: the
//! engine sorts by the declared keys (unrounded scores), then by staff ID
//! ascending (byte order); `rank` is 1 + the number of staff with a
//! strictly better `rank_by` score.

use std::cmp::Ordering;

use rayon::prelude::*;
use rust_decimal::Decimal;

use crate::package::Direction;

/// Staff indices in ranking order (position 1 first). The comparator is a
/// total order (IDs are unique), so the result does not depend on the sort
/// algorithm or the thread count.
pub(crate) fn order<Id: Ord + Sync>(keys: &[(Direction, &[Decimal])], ids: &[Id]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.par_sort_unstable_by(|&a, &b| {
        for (direction, v) in keys {
            let c = match direction {
                Direction::Desc => v[b].cmp(&v[a]),
                Direction::Asc => v[a].cmp(&v[b]),
            };
            if c != Ordering::Equal {
                return c;
            }
        }
        ids[a].cmp(&ids[b])
    });
    order
}

/// Competition rank of each position: ties on the rank key share the rank
/// of the first of them (1, 2, 2, 4). `order` must be sorted with the rank
/// key as its first key.
pub(crate) fn competition_ranks(order: &[usize], rank_key: &[Decimal]) -> Vec<u64> {
    let mut ranks = vec![0u64; order.len()];
    for p in 0..order.len() {
        ranks[p] = if p > 0 && rank_key[order[p - 1]] == rank_key[order[p]] {
            ranks[p - 1]
        } else {
            p as u64 + 1
        };
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(v: &[&str]) -> Vec<Decimal> {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    struct Case {
        name: &'static str,
        ids: &'static [&'static str],
        first: (Direction, &'static [&'static str]),
        second: Option<(Direction, &'static [&'static str])>,
        order: &'static [&'static str],
        ranks: &'static [u64],
    }

    const CASES: &[Case] = &[
        Case {
            name: "descending, no ties",
            ids: &["A", "B", "C"],
            first: (Direction::Desc, &["1", "3", "2"]),
            second: None,
            order: &["B", "C", "A"],
            ranks: &[1, 2, 3],
        },
        Case {
            name: "ties share a rank and are broken by staff ID",
            ids: &["D", "C", "B", "A"],
            first: (Direction::Desc, &["90", "85", "90", "70"]),
            second: None,
            order: &["B", "D", "C", "A"],
            ranks: &[1, 1, 3, 4],
        },
        Case {
            name: "a second key breaks ties in order but not in rank",
            ids: &["A", "B", "C", "D"],
            first: (Direction::Desc, &["90", "90", "90", "80"]),
            second: Some((Direction::Desc, &["1", "3", "2", "9"])),
            order: &["B", "C", "A", "D"],
            ranks: &[1, 1, 1, 4],
        },
        Case {
            name: "ascending key; equal values in other spellings are equal",
            ids: &["A", "B", "C"],
            first: (Direction::Asc, &["2.50", "2.5", "1"]),
            second: None,
            order: &["C", "A", "B"],
            ranks: &[1, 2, 2],
        },
        Case {
            name: "staff IDs in byte order (uppercase before lowercase, ASCII before CJK)",
            ids: &["b", "B", "张", "a"],
            first: (Direction::Desc, &["1", "1", "1", "1"]),
            second: None,
            order: &["B", "a", "b", "张"],
            ranks: &[1, 1, 1, 1],
        },
        Case {
            name: "one staff member",
            ids: &["X"],
            first: (Direction::Desc, &["0"]),
            second: None,
            order: &["X"],
            ranks: &[1],
        },
        Case {
            name: "negative scores",
            ids: &["A", "B", "C"],
            first: (Direction::Desc, &["-1", "0", "-0.5"]),
            second: None,
            order: &["B", "C", "A"],
            ranks: &[1, 2, 3],
        },
    ];

    #[test]
    fn ordering_and_competition_rank() {
        for c in CASES {
            let first = d(c.first.1);
            let second = c.second.map(|(dir, v)| (dir, d(v)));
            let mut keys: Vec<(Direction, &[Decimal])> = vec![(c.first.0, &first)];
            if let Some((dir, v)) = &second {
                keys.push((*dir, v));
            }
            let o = order(&keys, c.ids);
            let got: Vec<&str> = o.iter().map(|&i| c.ids[i]).collect();
            assert_eq!(got, c.order, "{}", c.name);
            assert_eq!(competition_ranks(&o, &first), c.ranks, "{}", c.name);
        }
    }

    #[test]
    fn order_does_not_depend_on_threads() {
        let n = 50_000;
        let ids: Vec<String> = (0..n).map(|i| format!("S{:06}", (i * 7919) % n)).collect();
        let v: Vec<Decimal> = (0..n).map(|i| Decimal::from((i * 31) % 97)).collect();
        let keys: Vec<(Direction, &[Decimal])> = vec![(Direction::Desc, &v)];
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| order(&keys, &ids));
        let many = rayon::ThreadPoolBuilder::new()
            .num_threads(7)
            .build()
            .unwrap()
            .install(|| order(&keys, &ids));
        assert_eq!(one, many);
    }
}
