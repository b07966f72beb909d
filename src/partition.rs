//! Partitions of installations: which rows are grouped together, and in what order.
//!
//! Takes a sample of installation ids (ingest draws it from evenly spaced lines of every
//! inventory) and how many partitions to cut; hands on a [`Plan`]: ranges of
//! `installation_id` in byte order. Every installation falls in exactly one partition
//! (the partition depends on the id text alone, so all of an installation's rows go with
//! it), and the partitions in order hold the ids in order, so each one can be grouped and
//! sorted into output order on its own, in cache, and the results concatenated.
//! Ranges are cut past the prefix every sampled id shares — comms-hub GUIDs such as
//! `00-0D-6F-00-00-00-01-99` share their first 16 bytes — on the next 16 bytes, at the
//! sample's quantiles, so partitions come out about equal in size.
//! Guarantees: any plan gives the same outputs (a plan decides only how the work is cut,
//! never what is found); an id outside the sampled range still has a partition (the
//! first or the last).

use std::cmp::Ordering;

/// Ranges of installation id, in byte order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The prefix every sampled id shares.
    common: Box<[u8]>,
    /// Partition `k` holds the ids (sharing `common`) whose key is at least
    /// `bounds[k - 1]` and below `bounds[k]`; strictly increasing.
    bounds: Vec<u128>,
}

impl Plan {
    /// One partition for everything.
    pub fn single() -> Plan {
        Plan::default()
    }

    /// A plan of at most `partitions` ranges cut at the quantiles of `sample` (trimmed
    /// installation ids, in any order). Fewer when the sample has fewer distinct keys.
    pub fn from_sample(mut sample: Vec<&[u8]>, partitions: usize) -> Plan {
        sample.retain(|id| !id.is_empty());
        if partitions <= 1 || sample.len() < 2 {
            return Plan::single();
        }
        let first = sample[0];
        let common_len = sample.iter().fold(first.len(), |n, id| {
            n.min(id.iter().zip(first).take_while(|(a, b)| a == b).count())
        });
        let common: Box<[u8]> = first[..common_len].into();
        let mut keys: Vec<u128> = sample.iter().map(|id| key_after(id, common_len)).collect();
        keys.sort_unstable();
        let mut bounds: Vec<u128> = (1..partitions)
            .map(|k| keys[k * keys.len() / partitions])
            .collect();
        bounds.dedup();
        // A bound at the smallest key would leave the first partition empty.
        bounds.retain(|&b| b > keys[0]);
        Plan { common, bounds }
    }

    pub fn count(&self) -> usize {
        self.bounds.len() + 1
    }

    /// The partition of a (trimmed) installation id. Monotone: a smaller id in byte
    /// order never has a later partition.
    pub fn partition_of(&self, id: &[u8]) -> usize {
        if self.bounds.is_empty() {
            return 0;
        }
        let n = self.common.len().min(id.len());
        match id[..n].cmp(&self.common[..n]) {
            Ordering::Less => 0,
            Ordering::Greater => self.bounds.len(),
            // A proper prefix of the common prefix sorts before every id that has it.
            Ordering::Equal if id.len() < self.common.len() => 0,
            Ordering::Equal => {
                let key = key_after(id, self.common.len());
                self.bounds.partition_point(|&b| b <= key)
            }
        }
    }
}

/// The 16 bytes after the first `skip`, zero-padded, as a big-endian number: zero
/// padding never contradicts byte order, so a smaller key is never a larger id.
fn key_after(id: &[u8], skip: usize) -> u128 {
    let rest = id.get(skip..).unwrap_or(&[]);
    let mut head = [0u8; 16];
    let n = rest.len().min(16);
    head[..n].copy_from_slice(&rest[..n]);
    u128::from_be_bytes(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                let b = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes();
                format!("00-0D-6F-00-00-00-{:02X}-{:02X}", b[0], b[1])
            })
            .collect()
    }

    #[test]
    fn partitions_are_monotone_in_byte_order_and_about_equal() {
        let all = ids(20_000);
        let sample: Vec<&[u8]> = all.iter().step_by(10).map(|s| s.as_bytes()).collect();
        let plan = Plan::from_sample(sample, 16);
        assert_eq!(&*plan.common, b"00-0D-6F-00-00-00-");
        assert_eq!(plan.count(), 16);
        let mut sorted: Vec<&[u8]> = all.iter().map(|s| s.as_bytes()).collect();
        // Ids outside the sample's shared prefix and range still get a partition.
        sorted.extend([
            &b""[..],
            b"00-0D",
            b"00-0D-6F-00-00-00-",
            b"01",
            b"~",
            b"\0",
        ]);
        sorted.sort_unstable();
        let parts: Vec<usize> = sorted.iter().map(|id| plan.partition_of(id)).collect();
        assert!(parts.windows(2).all(|w| w[0] <= w[1]), "not monotone");
        let mut sizes = vec![0usize; plan.count()];
        for &p in &parts {
            sizes[p] += 1;
        }
        assert!(sizes.iter().all(|&s| s > 20_000 / 16 / 2), "{sizes:?}");
    }

    #[test]
    fn degenerate_samples_give_one_partition() {
        assert_eq!(Plan::from_sample(vec![], 8).count(), 1);
        assert_eq!(Plan::from_sample(vec![b"a"], 8).count(), 1);
        let same = Plan::from_sample(vec![b"a", b"a", b"a"], 8);
        assert_eq!(same.count(), 1);
        assert_eq!(same.partition_of(b"zzz"), 0);
        assert_eq!(Plan::from_sample(vec![b"a", b"b"], 1).count(), 1);
    }
}
