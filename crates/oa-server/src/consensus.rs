//! Merging rankings into one consensus, and measuring each ranker against it.
//!
//! Pure functions, no I/O: the pipeline feeds them the rankings of one parent's replies with each
//! ranker's trust as the ballot's weight.
//!
//! - [`ranked_pairs`] is Tideman's method, as Open-Assistant used: count for every pair of replies
//!   the weight of ballots preferring one to the other, lock in the pairwise majorities from the
//!   strongest down unless one would close a cycle, and read the order off the locked graph.
//! - [`kendall_tau`] compares two orders: 1 for the same order, −1 for the reverse, around 0 for
//!   unrelated ones.

use std::collections::HashMap;

use oa_types::Uuid;

/// One ranker's order (best first) and weight.
#[derive(Debug, Clone)]
pub struct Ballot {
    /// Reply ids, best first; may leave out replies the ranker did not see.
    pub order: Vec<Uuid>,
    /// The ranker's trust.
    pub weight: f64,
}

/// The consensus order of `items` under `ballots`, best first, by ranked pairs.
///
/// Items no ballot mentions end up last, in the order given. Ties are broken by total support,
/// then by the order of `items`, so the result is deterministic.
pub fn ranked_pairs(items: &[Uuid], ballots: &[Ballot]) -> Vec<Uuid> {
    let n = items.len();
    let index: HashMap<Uuid, usize> = items.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    // prefer[a][b]: weight of ballots that put a above b.
    let mut prefer = vec![vec![0.0f64; n]; n];
    for ballot in ballots {
        let positions: Vec<usize> = ballot
            .order
            .iter()
            .filter_map(|id| index.get(id).copied())
            .collect();
        for (i, &a) in positions.iter().enumerate() {
            for &b in &positions[i + 1..] {
                prefer[a][b] += ballot.weight;
            }
        }
    }
    let mut pairs: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (a, row) in prefer.iter().enumerate() {
        for (b, &wins) in row.iter().enumerate() {
            if a != b && wins > prefer[b][a] {
                pairs.push((a, b, wins - prefer[b][a], wins));
            }
        }
    }
    // Strongest majority first; among equals, the larger winning support, then a fixed order.
    pairs.sort_by(|x, y| {
        y.2.total_cmp(&x.2)
            .then(y.3.total_cmp(&x.3))
            .then((x.0, x.1).cmp(&(y.0, y.1)))
    });
    let mut locked = vec![vec![false; n]; n];
    for (a, b, _, _) in pairs {
        if !reaches(&locked, b, a) {
            locked[a][b] = true;
        }
    }
    let support: Vec<f64> = (0..n).map(|a| prefer[a].iter().sum()).collect();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for _ in 0..n {
        // A source of the locked graph among the remaining items; the locked graph is acyclic,
        // so one always exists.
        let next = (0..n)
            .filter(|&c| !placed[c])
            .filter(|&c| (0..n).all(|o| placed[o] || !locked[o][c]))
            .max_by(|&x, &y| support[x].total_cmp(&support[y]).then(y.cmp(&x)));
        let Some(next) = next else { break };
        placed[next] = true;
        order.push(items[next]);
    }
    order
}

/// Whether `to` can be reached from `from` along locked edges.
fn reaches(locked: &[Vec<bool>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; locked.len()];
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if std::mem::replace(&mut seen[node], true) {
            continue;
        }
        stack.extend((0..locked.len()).filter(|&next| locked[node][next]));
    }
    false
}

/// Kendall's τ (tau-a) between two orders, over the items both contain; `None` with fewer than
/// two items in common.
pub fn kendall_tau(a: &[Uuid], b: &[Uuid]) -> Option<f64> {
    let position: HashMap<Uuid, usize> = b.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let common: Vec<usize> = a
        .iter()
        .filter_map(|id| position.get(id).copied())
        .collect();
    let n = common.len();
    if n < 2 {
        return None;
    }
    let mut score = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            score += if common[i] < common[j] { 1 } else { -1 };
        }
    }
    Some(score as f64 / (n * (n - 1) / 2) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    fn ballot(order: &[Uuid], weight: f64) -> Ballot {
        Ballot {
            order: order.to_vec(),
            weight,
        }
    }

    #[test]
    fn unanimous_ballots_give_their_order() {
        let items = ids(4);
        let order = vec![items[2], items[0], items[3], items[1]];
        let ballots = vec![ballot(&order, 1.0); 3];
        assert_eq!(ranked_pairs(&items, &ballots), order);
    }

    #[test]
    fn majority_wins_and_a_condorcet_cycle_is_broken_at_its_weakest_link() {
        let [a, b, c] = [1, 2, 3].map(Uuid::from_u128);
        let items = vec![a, b, c];
        // a>b 7:2... the classic cycle a>b>c>a with margins 5, 3, 1: the weakest (c>a) is dropped.
        let ballots = vec![
            ballot(&[a, b, c], 4.0),
            ballot(&[b, c, a], 2.0),
            ballot(&[c, a, b], 3.0),
        ];
        // a>b: 7 vs 2 (margin 5), b>c: 6 vs 3 (3), c>a: 5 vs 4 (1).
        assert_eq!(ranked_pairs(&items, &ballots), vec![a, b, c]);
    }

    #[test]
    fn weights_decide_between_opposed_rankers() {
        let [a, b] = [1, 2].map(Uuid::from_u128);
        let ballots = vec![
            ballot(&[a, b], 0.9),
            ballot(&[b, a], 0.1),
            ballot(&[b, a], 0.1),
        ];
        assert_eq!(ranked_pairs(&[a, b], &ballots), vec![a, b]);
    }

    #[test]
    fn unmentioned_items_come_last() {
        let items = ids(3);
        let ballots = vec![ballot(&[items[1], items[0]], 1.0)];
        assert_eq!(
            ranked_pairs(&items, &ballots),
            vec![items[1], items[0], items[2]]
        );
    }

    #[test]
    fn kendall_tau_spans_minus_one_to_one() {
        let items = ids(5);
        let reversed: Vec<Uuid> = items.iter().rev().copied().collect();
        assert_eq!(kendall_tau(&items, &items), Some(1.0));
        assert_eq!(kendall_tau(&items, &reversed), Some(-1.0));
        let mut one_swap = items.clone();
        one_swap.swap(0, 1);
        assert_eq!(kendall_tau(&items, &one_swap), Some(0.8));
        assert_eq!(kendall_tau(&items[..1], &items), None);
    }
}
