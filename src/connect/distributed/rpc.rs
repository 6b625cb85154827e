//! A minimal Kafka protocol client for the group coordinator APIs
//! (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup), over
//! `kafka-protocol` request/response types.
//!
//! Unlike the log reader's connection, each request has its own timeout:
//! JoinGroup legitimately blocks until the whole group has rejoined (up to
//! the rebalance timeout).

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Classify, ErrorClass};

/// Client id sent with every request.
const CLIENT_ID: &str = "pgcdc-worker";
/// Largest response accepted.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
/// Timeout of connecting and of requests that do not block on the group.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a request to the group coordinator failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("cannot connect to the Kafka broker at {addr}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("i/o error talking to the Kafka broker")]
    Io(#[from] std::io::Error),
    #[error("the Kafka broker did not answer {api} within {timeout:?}")]
    Timeout { api: &'static str, timeout: Duration },
    #[error("cannot encode or decode a {api} message")]
    Codec {
        api: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the Kafka broker does not support {api} v{min}..v{max}")]
    UnsupportedVersion { api: &'static str, min: i16, max: i16 },
    #[error("the Kafka broker answered {api} with error code {code}")]
    Broker { api: &'static str, code: i16 },
}

impl Classify for RpcError {
    fn class(&self) -> ErrorClass {
        match self {
            RpcError::Codec { .. } | RpcError::UnsupportedVersion { .. } => ErrorClass::Fatal,
            _ => ErrorClass::Transient,
        }
    }
}

/// One connection to one broker.
pub struct Connection {
    stream: TcpStream,
    correlation_id: i32,
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    /// Connects to `addr` (`host:port`) and asks for its API versions.
    pub async fn open(addr: &str) -> Result<Connection, RpcError> {
        let stream = tokio::time::timeout(SHORT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| RpcError::Timeout { api: "connect", timeout: SHORT_TIMEOUT })?
            .map_err(|source| RpcError::Connect { addr: addr.to_owned(), source })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Connection { stream, correlation_id: 0, versions: HashMap::new() };
        let response: ApiVersionsResponse =
            conn.request(ApiKey::ApiVersions, "ApiVersions", 0, &ApiVersionsRequest::default(), SHORT_TIMEOUT).await?;
        if response.error_code != 0 {
            return Err(RpcError::Broker { api: "ApiVersions", code: response.error_code });
        }
        conn.versions = response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        Ok(conn)
    }

    /// Connects to the first reachable server of a comma-separated list.
    pub async fn open_any(bootstrap: &str) -> Result<Connection, RpcError> {
        let mut last = None;
        for addr in bootstrap.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            match Connection::open(addr).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(RpcError::Connect {
            addr: bootstrap.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no bootstrap server"),
        }))
    }

    /// The highest version both sides speak within `min..=max`.
    pub fn version(&self, key: ApiKey, api: &'static str, min: i16, max: i16) -> Result<i16, RpcError> {
        let (broker_min, broker_max) = self.versions.get(&(key as i16)).copied().unwrap_or((0, -1));
        let v = broker_max.min(max);
        if v < min.max(broker_min) {
            return Err(RpcError::UnsupportedVersion { api, min, max });
        }
        Ok(v)
    }

    /// Sends one request and reads its response within `timeout`.
    pub async fn request<Req, Resp>(
        &mut self,
        key: ApiKey,
        api: &'static str,
        version: i16,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp, RpcError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(CLIENT_ID)));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let codec = |e: anyhow::Error| RpcError::Codec { api, source: e.into() };
        header.encode(&mut buf, Req::header_version(version)).map_err(codec)?;
        body.encode(&mut buf, version).map_err(codec)?;
        let len = i32::try_from(buf.len() - 4).map_err(|e| RpcError::Codec { api, source: e.into() })?;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        let exchange = async {
            self.stream.write_all(&buf).await?;
            let len = self.stream.read_i32().await?;
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l <= MAX_RESPONSE_BYTES)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "response size out of range"))?;
            let mut resp = vec![0u8; len];
            self.stream.read_exact(&mut resp).await?;
            Ok::<_, std::io::Error>(Bytes::from(resp))
        };
        let mut resp = tokio::time::timeout(timeout, exchange).await.map_err(|_| RpcError::Timeout { api, timeout })??;
        let header = ResponseHeader::decode(&mut resp, Resp::header_version(version)).map_err(codec)?;
        if header.correlation_id != self.correlation_id {
            return Err(RpcError::Codec { api, source: "correlation id mismatch".into() });
        }
        Resp::decode(&mut resp, version).map_err(codec)
    }
}
