//! The membership loop of one worker (eager protocol).
//!
//! ```text
//!   ┌─▶ FindCoordinator ─▶ JoinGroup ─┬─ leader: assign(members, connectors) ─┐
//!   │                                 └─ follower ────────────────────────────┴─▶ SyncGroup
//!   │                                                                              │ assignment
//!   │      wait until the config topic is read up to the assignment's offset ◀────┘
//!   │      start the assigned connectors
//!   │      Heartbeat every heartbeat interval ──REBALANCE_IN_PROGRESS / ILLEGAL_GENERATION
//!   │                                           / UNKNOWN_MEMBER_ID / no answer for a session──┐
//!   │      (leader) a connector added or removed ─────────────────────────────────────────────┤
//!   └──── stop every connector (eager) ◀──────────────────────────────────────────────────────┘
//!   shutdown: stop every connector, LeaveGroup (the others rebalance at once)
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::assign::{self, MemberMetadata};
use super::group::{self, codes, Timeouts};
use crate::kafka::protocol::{Connection, ProtocolError};
use super::{Cluster, Membership, READ_BACK_TIMEOUT};
use crate::connect::herder::Herder;

/// Wait before asking the broker again after a failed group request.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Why one round of the loop ended.
enum Next {
    /// Join again (a rebalance, or our generation is gone).
    Rejoin,
    /// Find the coordinator again.
    Reconnect,
    /// Shut down.
    Stop,
}

/// Runs until `shutdown` turns true; then leaves the group.
pub async fn run(herder: Arc<Herder>, cluster: Arc<Cluster>, mut shutdown: watch::Receiver<bool>) {
    let s = cluster.settings.clone();
    let timeouts = Timeouts { session: s.session_timeout, rebalance: s.rebalance_timeout };
    let mut member_id = String::new();
    let mut conn: Option<Connection> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match group::coordinator(&s.client, &s.group_id).await {
                Ok(c) => conn.insert(c),
                Err(err) => {
                    tracing::warn!(group = %s.group_id, error = %crate::error::chain(&err), "cannot reach the group coordinator");
                    backoff(&mut shutdown).await;
                    continue;
                }
            },
        };
        let mut round_shutdown = shutdown.clone();
        let mut interrupted = false;
        let next = tokio::select! {
            next = round(&herder, &cluster, c, &mut member_id, timeouts, &mut round_shutdown) => next,
            _ = shutdown.changed() => {
                interrupted = true;
                Next::Stop
            }
        };
        if interrupted {
            // A request may be half-way on the connection (JoinGroup waits
            // for the whole group): LeaveGroup goes over a fresh one.
            conn = None;
        }
        herder.revoke_all().await;
        match next {
            Next::Rejoin => {}
            Next::Reconnect => {
                conn = None;
                backoff(&mut shutdown).await;
            }
            Next::Stop => break,
        }
    }
    herder.revoke_all().await;
    if member_id.is_empty() {
        return;
    }
    let left = match conn.as_mut() {
        Some(c) => group::leave(c, &s.group_id, &member_id).await,
        None => match group::coordinator(&s.client, &s.group_id).await {
            Ok(mut c) => group::leave(&mut c, &s.group_id, &member_id).await,
            Err(e) => Err(e),
        },
    };
    match left {
        Ok(code) => tracing::info!(group = %s.group_id, member = %member_id, code, "left the group"),
        Err(err) => tracing::warn!(error = %crate::error::chain(&err), "cannot leave the group; the others rebalance after the session timeout"),
    }
}

async fn backoff(shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(RETRY_BACKOFF) => {}
        _ = shutdown.changed() => {}
    }
}

fn rpc_failed(what: &str, err: &ProtocolError) -> Next {
    tracing::warn!(error = %crate::error::chain(err), "group {what} failed");
    Next::Reconnect
}

/// Joins, syncs, runs the assignment and heartbeats until the next rebalance.
async fn round(
    herder: &Herder,
    cluster: &Cluster,
    conn: &mut Connection,
    member_id: &mut String,
    timeouts: Timeouts,
    shutdown: &mut watch::Receiver<bool>,
) -> Next {
    let s = &cluster.settings;
    let metadata = assign::encode(&MemberMetadata::new(&s.worker_id, &s.url, cluster.config_position.get()));
    let joined = match group::join(conn, &s.group_id, member_id, metadata, timeouts).await {
        Ok(j) => j,
        Err(err) => return rpc_failed("join", &err),
    };
    match joined.error_code {
        codes::NONE => {}
        codes::MEMBER_ID_REQUIRED => {
            *member_id = joined.member_id;
            return Next::Rejoin;
        }
        codes::UNKNOWN_MEMBER_ID => {
            member_id.clear();
            return Next::Rejoin;
        }
        codes::REBALANCE_IN_PROGRESS | codes::ILLEGAL_GENERATION => return Next::Rejoin,
        codes::INCONSISTENT_GROUP_PROTOCOL => {
            tracing::error!(
                group = %s.group_id,
                "the group is used by other clients (another protocol, e.g. Kafka Connect or consumers): \
                 give the pgcdc workers a worker.group_id of their own"
            );
            return Next::Reconnect;
        }
        code => {
            tracing::warn!(group = %s.group_id, code, "join group refused");
            return Next::Reconnect;
        }
    }
    *member_id = joined.member_id.clone();
    let leader = joined.leader == *member_id;
    let mut assignments = Vec::new();
    if leader {
        let mut members = Vec::new();
        for (id, bytes) in &joined.members {
            match assign::decode_metadata(bytes) {
                Ok(m) => members.push((id.clone(), m)),
                Err(err) => tracing::error!(member = %id, error = %crate::error::chain(&err), "ignoring a group member"),
            }
        }
        // Assign from a config view at least as new as every member's.
        let newest = members.iter().map(|(_, m)| m.config_offset).max().unwrap_or(0);
        if let Err(err) = cluster.config_position.reach(&s.config_topic, newest, READ_BACK_TIMEOUT).await {
            tracing::warn!(error = %err, "leader is behind the config topic");
            return Next::Rejoin;
        }
        let config_offset = cluster.config_position.get();
        let names = herder.names().await;
        let plan = assign::assign(joined.generation, member_id, &members, &names, config_offset);
        assignments = plan.iter().map(|(id, a)| (id.clone(), assign::encode(a))).collect();
        tracing::info!(generation = joined.generation, members = members.len(), connectors = names.len(), "leading the group: assigned connectors");
    }
    let (code, bytes) = match group::sync(conn, &s.group_id, joined.generation, member_id, assignments, timeouts).await {
        Ok(r) => r,
        Err(err) => return rpc_failed("sync", &err),
    };
    if code != codes::NONE {
        if code == codes::UNKNOWN_MEMBER_ID {
            member_id.clear();
        }
        return Next::Rejoin;
    }
    let assignment = match assign::decode_assignment(&bytes) {
        Ok(a) => a,
        Err(err) => {
            tracing::error!(error = %crate::error::chain(&err), "unreadable assignment; rejoining");
            return Next::Rejoin;
        }
    };
    if let Err(err) = cluster.config_position.reach(&s.config_topic, assignment.config_offset, READ_BACK_TIMEOUT).await {
        tracing::warn!(error = %err, "cannot catch up with the config topic; rejoining");
        return Next::Rejoin;
    }
    herder
        .take_assignment(Membership {
            stable: true,
            generation: assignment.generation,
            leader,
            leader_url: assignment.leader_url.clone(),
            assigned: assignment.connectors.iter().cloned().collect(),
            owners: assignment.owners.clone(),
        })
        .await;
    heartbeat_until_rebalance(herder, cluster, conn, member_id, joined.generation, leader, shutdown).await
}

async fn heartbeat_until_rebalance(
    herder: &Herder,
    cluster: &Cluster,
    conn: &mut Connection,
    member_id: &mut String,
    generation: i32,
    leader: bool,
    shutdown: &mut watch::Receiver<bool>,
) -> Next {
    let s = &cluster.settings;
    let mut last_ok = Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(s.heartbeat_interval) => {}
            _ = cluster.rebalance.notified(), if leader => {
                let assigned: Vec<String> = cluster.membership().owners.into_keys().collect();
                if herder.names().await != assigned {
                    tracing::info!("connectors added or removed: rebalancing");
                    return Next::Rejoin;
                }
                continue;
            }
            _ = shutdown.changed() => return Next::Stop,
        }
        match group::heartbeat(conn, &s.group_id, generation, member_id).await {
            Ok(codes::NONE) => last_ok = Instant::now(),
            Ok(codes::REBALANCE_IN_PROGRESS) | Ok(codes::ILLEGAL_GENERATION) => {
                tracing::info!(generation, "group rebalancing");
                return Next::Rejoin;
            }
            Ok(codes::UNKNOWN_MEMBER_ID) => {
                tracing::warn!("this worker is no longer a member of the group (session expired)");
                member_id.clear();
                return Next::Rejoin;
            }
            Ok(code @ (codes::NOT_COORDINATOR | codes::COORDINATOR_NOT_AVAILABLE | codes::COORDINATOR_LOAD_IN_PROGRESS)) => {
                tracing::info!(code, "group coordinator moved");
                return Next::Reconnect;
            }
            Ok(code) => {
                tracing::warn!(code, "heartbeat refused");
                return Next::Rejoin;
            }
            Err(err) => {
                tracing::warn!(error = %crate::error::chain(&err), "heartbeat failed");
                if last_ok.elapsed() >= s.session_timeout {
                    // The coordinator has expired us by now: stop our connectors.
                    return Next::Reconnect;
                }
                match group::coordinator(&s.client, &s.group_id).await {
                    Ok(c) => *conn = c,
                    Err(err) => tracing::warn!(error = %crate::error::chain(&err), "cannot reach the group coordinator"),
                }
            }
        }
    }
}
