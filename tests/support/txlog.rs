//! The exactly-once verifier: reads a topic through pgcdc's own read_committed
//! log reader (transaction markers applied by hand, so it is exact on tansu,
//! which shows aborted records to read_committed consumers) and compares what
//! each key received with what the test committed for it.
//!
//! ```text
//!   expected  key → [v1, v2, v3]        (what the writer committed, in order)
//!   observed  key → [v1, v2, v2, v3]    (read_committed, log order)
//!   ──▶ lost 0, duplicated 1, out_of_order 0, unexpected 0
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;

use pgcdc::kafka::ClientSettings;
use pgcdc::offsets::log_reader::{read_partitions, LogRecord};

/// Every committed record of `topic`, all partitions (order kept within a partition).
pub async fn read_topic(bootstrap: &str, topic: &str) -> Vec<LogRecord> {
    read_topic_with(&ClientSettings::new(bootstrap, Vec::new()), topic).await
}

/// [`read_topic`] with the given client settings (TLS, SASL).
pub async fn read_topic_with(client: &ClientSettings, topic: &str) -> Vec<LogRecord> {
    let (_, by_partition) = read_partitions(client, topic).await.unwrap_or_else(|e| panic!("reading {topic}: {e:?}"));
    let mut partitions: Vec<_> = by_partition.into_iter().collect();
    partitions.sort_by_key(|(p, _)| *p);
    partitions.into_iter().flat_map(|(_, r)| r).collect()
}

/// What went wrong, summed over keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Expected values never seen.
    pub lost: usize,
    /// Extra occurrences of a value already seen for the key.
    pub duplicated: usize,
    /// Values seen before a value that was committed before them.
    pub out_of_order: usize,
    /// Values seen that were never committed.
    pub unexpected: usize,
    /// Records observed in total.
    pub observed: usize,
    /// Up to 10 human-readable examples of problems.
    pub examples: Vec<String>,
}

impl Verdict {
    pub fn is_exact(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.unexpected == 0
    }
}

/// Compares per-key sequences: `expected[key]` are the values committed for
/// the key in commit order (each value once), `observed` the (key, value)
/// pairs read, in log order.
pub fn verify<K, V>(expected: &BTreeMap<K, Vec<V>>, observed: &[(K, V)]) -> Verdict
where
    K: Ord + Clone + Debug,
    V: Eq + Hash + Clone + Debug,
{
    let mut verdict = Verdict { observed: observed.len(), ..Verdict::default() };
    let mut by_key: BTreeMap<K, Vec<V>> = BTreeMap::new();
    for (k, v) in observed {
        by_key.entry(k.clone()).or_default().push(v.clone());
    }
    let empty = Vec::new();
    let keys: Vec<K> =
        expected.keys().chain(by_key.keys()).cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for key in keys {
        let want = expected.get(&key).unwrap_or(&empty);
        let got = by_key.get(&key).unwrap_or(&empty);
        let position: HashMap<&V, usize> = want.iter().enumerate().map(|(i, v)| (v, i)).collect();
        let mut seen: HashSet<&V> = HashSet::new();
        let mut last_pos: Option<usize> = None;
        for v in got {
            if !seen.insert(v) {
                verdict.duplicated += 1;
                note(&mut verdict, format!("key {key:?}: {v:?} seen again"));
                continue;
            }
            match position.get(v) {
                None => {
                    verdict.unexpected += 1;
                    note(&mut verdict, format!("key {key:?}: {v:?} was never committed"));
                }
                Some(&p) => {
                    if last_pos.is_some_and(|l| p < l) {
                        verdict.out_of_order += 1;
                        note(&mut verdict, format!("key {key:?}: {v:?} after a later value"));
                    }
                    last_pos = Some(last_pos.map_or(p, |l| l.max(p)));
                }
            }
        }
        for v in want {
            if !seen.contains(v) {
                verdict.lost += 1;
                note(&mut verdict, format!("key {key:?}: {v:?} lost"));
            }
        }
    }
    verdict
}

fn note(verdict: &mut Verdict, example: String) {
    if verdict.examples.len() < 10 {
        verdict.examples.push(example);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lost_duplicated_out_of_order_and_unexpected() {
        let expected: BTreeMap<u32, Vec<u32>> = [(1, vec![1, 2, 3]), (2, vec![10, 11])].into_iter().collect();
        let observed = vec![(1, 1), (2, 11), (1, 2), (1, 2), (2, 10), (3, 99)];
        let v = verify(&expected, &observed);
        assert_eq!((v.lost, v.duplicated, v.out_of_order, v.unexpected), (1, 1, 1, 1), "{v:?}");
        assert!(!v.is_exact());
        let exact = verify(&expected, &[(1, 1), (2, 10), (1, 2), (2, 11), (1, 3)]);
        assert!(exact.is_exact(), "{exact:?}");
    }
}
