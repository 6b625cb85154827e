//! What the group's members tell each other through the coordinator, and
//! the leader's assignment of connectors to members.
//!
//! ```text
//!   JoinGroup metadata  (each member)  {"version":1,"worker_id","url","config_offset"}
//!   SyncGroup assignment (from leader) {"version":1,"generation","leader","leader_url",
//!                                       "config_offset","connectors":[..],"owners":{connector: url}}
//! ```
//!
//! Members are ordered by (worker id, member id), connectors by name, and
//! connector `i` goes to member `i mod n`: the same inputs always give the
//! same assignment, and every member is given the full owner map so any
//! worker can forward a request to a connector's owner.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Version of both encodings.
const VERSION: u32 = 1;

/// What a member says about itself in JoinGroup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberMetadata {
    pub version: u32,
    /// The worker id statuses show (`host:port`).
    pub worker_id: String,
    /// The URL of its REST API, for forwarded requests.
    pub url: String,
    /// The config topic offset it has read up to.
    pub config_offset: i64,
}

impl MemberMetadata {
    pub fn new(worker_id: &str, url: &str, config_offset: i64) -> MemberMetadata {
        MemberMetadata { version: VERSION, worker_id: worker_id.to_owned(), url: url.to_owned(), config_offset }
    }
}

/// One member's share, as the leader sends it in SyncGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub version: u32,
    pub generation: i32,
    /// The leader's member id.
    pub leader: String,
    pub leader_url: String,
    /// Members start their connectors only once they have read the config topic this far.
    pub config_offset: i64,
    /// The connectors this member runs.
    pub connectors: Vec<String>,
    /// Every connector's owner URL.
    pub owners: BTreeMap<String, String>,
}

/// An unreadable metadata or assignment.
#[derive(Debug, thiserror::Error)]
#[error("unreadable group {what} (another program in the same group, or a newer pgcdc)")]
pub struct DecodeError {
    what: &'static str,
    #[source]
    source: serde_json::Error,
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain structs cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

pub fn decode_metadata(bytes: &[u8]) -> Result<MemberMetadata, DecodeError> {
    serde_json::from_slice(bytes).map_err(|source| DecodeError { what: "member metadata", source })
}

pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, DecodeError> {
    serde_json::from_slice(bytes).map_err(|source| DecodeError { what: "assignment", source })
}

/// The leader's assignment: member id → its assignment.
pub fn assign(
    generation: i32,
    leader: &str,
    members: &[(String, MemberMetadata)],
    connectors: &[String],
    config_offset: i64,
) -> BTreeMap<String, Assignment> {
    let mut order: Vec<&(String, MemberMetadata)> = members.iter().collect();
    order.sort_by(|a, b| (&a.1.worker_id, &a.0).cmp(&(&b.1.worker_id, &b.0)));
    let mut names: Vec<&String> = connectors.iter().collect();
    names.sort();
    names.dedup();
    let leader_url = members.iter().find(|(id, _)| id == leader).map(|(_, m)| m.url.clone()).unwrap_or_default();
    let mut owners = BTreeMap::new();
    let mut shares: BTreeMap<String, Vec<String>> = order.iter().map(|(id, _)| (id.clone(), Vec::new())).collect();
    if !order.is_empty() {
        for (i, name) in names.into_iter().enumerate() {
            let (id, meta) = order[i % order.len()];
            owners.insert(name.clone(), meta.url.clone());
            shares.entry(id.clone()).or_default().push(name.clone());
        }
    }
    shares
        .into_iter()
        .map(|(id, connectors)| {
            let a = Assignment {
                version: VERSION,
                generation,
                leader: leader.to_owned(),
                leader_url: leader_url.clone(),
                config_offset,
                connectors,
                owners: owners.clone(),
            };
            (id, a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, worker: &str) -> (String, MemberMetadata) {
        (id.to_owned(), MemberMetadata::new(worker, &format!("http://{worker}"), 7))
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    #[test]
    fn spreads_round_robin_in_a_stable_order() {
        let members = vec![member("m-b", "w2:1"), member("m-a", "w1:1"), member("m-c", "w3:1")];
        let connectors = names(7);
        let a = assign(4, "m-a", &members, &connectors, 11);
        let counts: Vec<usize> = ["m-a", "m-b", "m-c"].iter().map(|m| a[*m].connectors.len()).collect();
        assert_eq!(counts, vec![3, 2, 2]);
        assert_eq!(a["m-a"].connectors, vec!["c0", "c3", "c6"]);
        assert_eq!(a["m-b"].owners["c1"], "http://w2:1");
        assert!(a.values().all(|x| x.generation == 4 && x.config_offset == 11 && x.leader_url == "http://w1:1"));
        // The order of the inputs does not matter.
        let mut shuffled = members.clone();
        shuffled.reverse();
        let mut rev = connectors.clone();
        rev.reverse();
        assert_eq!(assign(4, "m-a", &shuffled, &rev, 11), a);
    }

    #[test]
    fn every_connector_has_exactly_one_owner() {
        for n_members in 1..4 {
            let members: Vec<_> = (0..n_members).map(|i| member(&format!("m{i}"), &format!("w{i}:1"))).collect();
            let a = assign(1, "m0", &members, &names(10), 0);
            let mut all: Vec<String> = a.values().flat_map(|x| x.connectors.clone()).collect();
            all.sort();
            assert_eq!(all, {
                let mut n = names(10);
                n.sort();
                n
            });
            assert_eq!(a.values().next().map(|x| x.owners.len()), Some(10));
        }
        assert!(assign(1, "x", &[], &names(3), 0).is_empty());
    }

    #[test]
    fn codecs_round_trip_and_reject_garbage() {
        let m = MemberMetadata::new("h:1", "http://h:1", 5);
        assert_eq!(decode_metadata(&encode(&m)).unwrap(), m);
        let a = assign(2, "m", &[("m".to_owned(), m)], &names(2), 5).remove("m").unwrap();
        assert_eq!(decode_assignment(&encode(&a)).unwrap(), a);
        assert!(decode_assignment(b"\x00consumer").is_err());
        assert!(decode_metadata(b"").is_err());
    }
}
