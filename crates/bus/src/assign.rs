//! Which partitions a rules instance claims or gives up: pure, no I/O.
//!
//! Every live instance (a member key renewed in the leases bucket) should hold its fair share, the
//! partitions divided by the members, rounded up. An instance holding more gives up the excess (the
//! highest numbered first) so a newcomer gets work; one holding less claims free partitions, each
//! instance in its own order (a hash of its id and the partition), so instances starting together mostly
//! reach for different ones. Claiming itself is exclusive (a create in the bucket), so two instances
//! reaching for one partition still end with one owner.

use std::collections::{BTreeMap, BTreeSet};

use tianshu_model::fnv1a64;

/// What an instance does with the leases this round.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Free partitions to claim, in order of preference.
    pub claim: Vec<u16>,
    /// Partitions held to give up.
    pub release: Vec<u16>,
}

/// The plan of instance `me` among `members` (itself counted whether listed or not), `owners` saying who
/// holds each held partition of `0..partitions`.
pub fn plan(me: &str, partitions: u16, members: &BTreeSet<String>, owners: &BTreeMap<u16, String>) -> Plan {
    let partitions = partitions.max(1);
    let live = members.len() + usize::from(!members.contains(me));
    let fair = usize::from(partitions).div_ceil(live);
    let mine: Vec<u16> = owners
        .iter()
        .filter(|(_, owner)| owner.as_str() == me)
        .map(|(p, _)| *p)
        .collect();
    if mine.len() > fair {
        return Plan {
            claim: Vec::new(),
            release: mine[fair..].to_vec(),
        };
    }
    let mut free: Vec<u16> = (0..partitions).filter(|p| !owners.contains_key(p)).collect();
    free.sort_by_key(|p| fnv1a64(format!("{me}/{p}").as_bytes()));
    free.truncate(fair - mine.len());
    Plan {
        claim: free,
        release: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// Runs rounds of every instance's plan (claims granted first come, first served) until nothing moves.
    fn settle(names: &[&str], partitions: u16, owners: &mut BTreeMap<u16, String>) -> usize {
        let live = members(names);
        for round in 0..20 {
            let mut moved = false;
            for me in names {
                let p = plan(me, partitions, &live, owners);
                for r in &p.release {
                    owners.remove(r);
                    moved = true;
                }
                for c in p.claim {
                    if let std::collections::btree_map::Entry::Vacant(free) = owners.entry(c) {
                        free.insert(me.to_string());
                        moved = true;
                    }
                }
            }
            if !moved {
                return round;
            }
        }
        panic!("the leases never settle: {owners:?}");
    }

    fn held(owners: &BTreeMap<u16, String>, me: &str) -> usize {
        owners.values().filter(|o| o.as_str() == me).count()
    }

    #[test]
    fn a_lone_instance_claims_every_partition() {
        let p = plan("a", 8, &members(&["a"]), &BTreeMap::new());
        let mut claimed = p.claim.clone();
        claimed.sort();
        assert_eq!(claimed, (0..8).collect::<Vec<u16>>());
        assert!(p.release.is_empty());
        // Not yet listed as a member (its first round): counted all the same.
        assert_eq!(plan("a", 8, &BTreeSet::new(), &BTreeMap::new()).claim.len(), 8);
    }

    #[test]
    fn instances_share_the_partitions_fairly_and_every_partition_has_one_owner() {
        let mut owners = BTreeMap::new();
        settle(&["a", "b", "c"], 64, &mut owners);
        assert_eq!(owners.len(), 64, "every partition owned");
        // None holds more than its share (64 / 3, rounded up), so none holds less than what is left.
        for me in ["a", "b", "c"] {
            assert!((20..=22).contains(&held(&owners, me)), "{me}: {owners:?}");
        }
    }

    #[test]
    fn a_newcomer_gets_its_share_from_an_instance_holding_everything() {
        let mut owners: BTreeMap<u16, String> = (0..16).map(|p| (p, "a".to_string())).collect();
        let p = plan("a", 16, &members(&["a", "b"]), &owners);
        assert_eq!(
            p.release,
            (8..16).collect::<Vec<u16>>(),
            "the excess, highest first"
        );
        assert!(p.claim.is_empty());
        settle(&["a", "b"], 16, &mut owners);
        assert_eq!((held(&owners, "a"), held(&owners, "b")), (8, 8));
    }

    #[test]
    fn a_dead_instances_partitions_go_to_the_survivors() {
        let mut owners = BTreeMap::new();
        settle(&["a", "b"], 16, &mut owners);
        // b's leases expired with it: its partitions are free, and a alone is live.
        owners.retain(|_, o| o.as_str() == "a");
        assert_eq!(owners.len(), 8);
        let p = plan("a", 16, &members(&["a"]), &owners);
        assert_eq!(p.claim.len(), 8);
        assert!(p.claim.iter().all(|c| !owners.contains_key(c)));
        settle(&["a"], 16, &mut owners);
        assert_eq!(held(&owners, "a"), 16);
    }

    #[test]
    fn instances_reach_for_different_free_partitions_first() {
        let none = BTreeMap::new();
        let live = members(&["a", "b"]);
        let a = plan("a", 64, &live, &none).claim;
        let b = plan("b", 64, &live, &none).claim;
        let both = a.iter().filter(|p| b.contains(p)).count();
        assert!(both < 32, "a and b want the same {both} of their 32 partitions");
    }

    #[test]
    fn an_instance_holding_its_share_neither_claims_nor_releases() {
        let owners: BTreeMap<u16, String> = (0..4)
            .map(|p| (p, "a".to_string()))
            .chain((4..8).map(|p| (p, "b".to_string())))
            .collect();
        assert_eq!(plan("a", 8, &members(&["a", "b"]), &owners), Plan::default());
    }
}
