//! The group coordinator conversation of one member: find the coordinator,
//! join, sync, heartbeat, leave. Stateless apart from the connection; the
//! membership loop ([`super::member`]) keeps member id and generation.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::FindCoordinatorResponse;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::join_group_response::JoinGroupResponse;
use kafka_protocol::messages::leave_group_request::{LeaveGroupRequest, MemberIdentity};
use kafka_protocol::messages::leave_group_response::LeaveGroupResponse;
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{ApiKey, GroupId};
use kafka_protocol::protocol::StrBytes;

use crate::kafka::protocol::{Connection, Profile, ProtocolError};
use crate::kafka::ClientSettings;

/// Timeout of connecting and of requests that do not block on the group.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(15);
/// The group client's connections.
const PROFILE: Profile =
    Profile { client_id: "pgcdc-worker", connect_timeout: SHORT_TIMEOUT, max_response_bytes: 64 * 1024 * 1024 };

/// The group's protocol type: Kafka Connect's, so tools show the group as a Connect cluster.
pub const PROTOCOL_TYPE: &str = "connect";
/// The one assignment protocol pgcdc workers speak.
pub const PROTOCOL_NAME: &str = "pgcdc-v1";

/// Kafka error codes the membership loop acts on.
pub mod codes {
    pub const NONE: i16 = 0;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
}

/// The group's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub session: Duration,
    pub rebalance: Duration,
}

/// A JoinGroup answer.
#[derive(Debug)]
pub struct Joined {
    pub error_code: i16,
    pub generation: i32,
    pub member_id: String,
    pub leader: String,
    /// (member id, metadata) of every member; only the leader gets them.
    pub members: Vec<(String, Bytes)>,
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Asks any broker for the group's coordinator; returns a connection to it.
pub async fn coordinator(client: &ClientSettings, group: &str) -> Result<Connection, ProtocolError> {
    let mut conn = Connection::open_any(client, PROFILE).await?;
    let version = conn.version(ApiKey::FindCoordinator, "FindCoordinator", 0, 3)?;
    let request = FindCoordinatorRequest::default().with_key(s(group)).with_key_type(0);
    let r: FindCoordinatorResponse =
        conn.request(ApiKey::FindCoordinator, "FindCoordinator", version, &request, SHORT_TIMEOUT).await?;
    if r.error_code != codes::NONE {
        return Err(ProtocolError::Broker { api: "FindCoordinator", code: r.error_code });
    }
    Connection::open(client, &format!("{}:{}", r.host.as_str(), r.port), PROFILE).await
}

/// JoinGroup; blocks until the group's rebalance completes or times out.
pub async fn join(
    conn: &mut Connection,
    group: &str,
    member_id: &str,
    metadata: Vec<u8>,
    timeouts: Timeouts,
) -> Result<Joined, ProtocolError> {
    let version = conn.version(ApiKey::JoinGroup, "JoinGroup", 1, 5)?;
    let request = JoinGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_session_timeout_ms(millis(timeouts.session))
        .with_rebalance_timeout_ms(millis(timeouts.rebalance))
        .with_member_id(s(member_id))
        .with_protocol_type(s(PROTOCOL_TYPE))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s(PROTOCOL_NAME))
            .with_metadata(Bytes::from(metadata))]);
    // The coordinator may hold the request for the whole rebalance timeout.
    let timeout = timeouts.rebalance + SHORT_TIMEOUT;
    let r: JoinGroupResponse = conn.request(ApiKey::JoinGroup, "JoinGroup", version, &request, timeout).await?;
    Ok(Joined {
        error_code: r.error_code,
        generation: r.generation_id,
        member_id: r.member_id.to_string(),
        leader: r.leader.to_string(),
        members: r.members.into_iter().map(|m| (m.member_id.to_string(), m.metadata)).collect(),
    })
}

/// SyncGroup; the leader passes every member's assignment, the others none.
/// Returns (error code, this member's assignment bytes).
pub async fn sync(
    conn: &mut Connection,
    group: &str,
    generation: i32,
    member_id: &str,
    assignments: Vec<(String, Vec<u8>)>,
    timeouts: Timeouts,
) -> Result<(i16, Bytes), ProtocolError> {
    let version = conn.version(ApiKey::SyncGroup, "SyncGroup", 0, 3)?;
    let request = SyncGroupRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id(generation)
        .with_member_id(s(member_id))
        .with_assignments(
            assignments
                .into_iter()
                .map(|(id, bytes)| SyncGroupRequestAssignment::default().with_member_id(s(&id)).with_assignment(Bytes::from(bytes)))
                .collect(),
        );
    let timeout = timeouts.rebalance + SHORT_TIMEOUT;
    let r: SyncGroupResponse = conn.request(ApiKey::SyncGroup, "SyncGroup", version, &request, timeout).await?;
    Ok((r.error_code, r.assignment))
}

/// Heartbeat; returns the error code.
pub async fn heartbeat(conn: &mut Connection, group: &str, generation: i32, member_id: &str) -> Result<i16, ProtocolError> {
    let version = conn.version(ApiKey::Heartbeat, "Heartbeat", 0, 3)?;
    let request =
        HeartbeatRequest::default().with_group_id(GroupId(s(group))).with_generation_id(generation).with_member_id(s(member_id));
    let r: HeartbeatResponse = conn.request(ApiKey::Heartbeat, "Heartbeat", version, &request, SHORT_TIMEOUT).await?;
    Ok(r.error_code)
}

/// LeaveGroup; returns the error code.
pub async fn leave(conn: &mut Connection, group: &str, member_id: &str) -> Result<i16, ProtocolError> {
    let version = conn.version(ApiKey::LeaveGroup, "LeaveGroup", 0, 4)?;
    let mut request = LeaveGroupRequest::default().with_group_id(GroupId(s(group)));
    if version >= 3 {
        request = request.with_members(vec![MemberIdentity::default().with_member_id(s(member_id))]);
    } else {
        request = request.with_member_id(s(member_id));
    }
    let r: LeaveGroupResponse = conn.request(ApiKey::LeaveGroup, "LeaveGroup", version, &request, SHORT_TIMEOUT).await?;
    Ok(r.error_code)
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
