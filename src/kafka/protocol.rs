//! One raw Kafka-protocol connection (`kafka-protocol` request/response
//! types) for the APIs librdkafka does not expose: the offsets log reader's
//! Metadata/Fetch and the distributed worker's group coordinator APIs.
//!
//! ```text
//!   open(addr) ── TCP connect ── [TLS handshake] ── ApiVersions ── [SASL] ─▶ versions per API
//!                 (all within the profile's connect timeout; TLS and SASL as `[kafka.options]`
//!                  say, see super::security: never a silent plaintext fallback)
//!   request(api, version, body, timeout):
//!      [len i32][RequestHeader(correlation id = previous + 1, client id)][body] ──▶
//!      ◀── [len i32 ≤ max_response_bytes][ResponseHeader(same correlation id)][body]
//! ```
//!
//! - One request at a time: each waits for its response, whose correlation
//!   id must be the request's (anything else is a decode error).
//! - Each request has its own timeout: JoinGroup legitimately blocks until
//!   the whole group has rejoined (up to the rebalance timeout). After a
//!   timeout or an i/o error the connection is not reusable: drop it.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Classify, ErrorClass};

use super::oauth::OAuthError;
use super::sasl::{self, Scram, ScramError};
use super::security::{Credentials, SaslMechanism, SaslSettings, SettingError};
use super::tls::TlsError;
use super::ClientSettings;

/// A TCP or TLS stream.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Kafka's UNSUPPORTED_SASL_MECHANISM.
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// Kafka's ILLEGAL_SASL_STATE.
const ILLEGAL_SASL_STATE: i16 = 34;
/// Kafka's SASL_AUTHENTICATION_FAILED.
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// What differs between the users of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    /// Client id sent with every request.
    pub client_id: &'static str,
    /// Timeout of connecting and of the ApiVersions exchange.
    pub connect_timeout: Duration,
    /// Largest response accepted.
    pub max_response_bytes: usize,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
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
    #[error("cannot encode a {api} request")]
    Encode {
        api: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot decode a {api} response")]
    Decode {
        api: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the Kafka broker does not support {api} v{min}..v{max}: it needs a Kafka 0.11+ compatible broker")]
    UnsupportedVersion { api: &'static str, min: i16, max: i16 },
    #[error("the Kafka broker answered {api} with error code {code}")]
    Broker { api: &'static str, code: i16 },
    #[error("the Kafka settings cannot be used")]
    Setting(#[from] SettingError),
    #[error("TLS to the Kafka broker failed")]
    Tls(#[from] TlsError),
    #[error("the Kafka broker does not enable SASL mechanism {mechanism} (it offers {offered}): check sasl.mechanism")]
    SaslMechanism { mechanism: &'static str, offered: String },
    #[error("SASL authentication as {username} with {mechanism} failed: check the user name and password in sasl.jaas.config ({message})")]
    SaslFailed { mechanism: &'static str, username: String, message: String },
    #[error("the Kafka broker at {addr} closed the connection at the first request after ApiVersions: it requires authentication. Set security.protocol=SASL_SSL (or SASL_PLAINTEXT), sasl.mechanism and sasl.jaas.config as the broker's listener demands")]
    SaslRequired { addr: String },
    #[error("the Kafka broker ({servers}) closed the connection at the first request: if its listener speaks TLS, set security.protocol=SSL (or SASL_SSL) and ssl.ca.location")]
    TlsRequired { servers: String },
    #[error("SASL OAUTHBEARER authentication failed: the broker refused the token of {setting} ({message})")]
    TokenRefused { setting: &'static str, message: String },
    #[error("no SASL OAUTHBEARER token")]
    Token(#[from] OAuthError),
    #[error("SASL {mechanism} exchange failed (check sasl.jaas.config)")]
    Scram {
        mechanism: &'static str,
        #[source]
        source: ScramError,
    },
}

impl Classify for ProtocolError {
    fn class(&self) -> ErrorClass {
        match self {
            ProtocolError::Encode { .. }
            | ProtocolError::Decode { .. }
            | ProtocolError::UnsupportedVersion { .. }
            | ProtocolError::Setting(_)
            | ProtocolError::SaslMechanism { .. }
            | ProtocolError::SaslFailed { .. }
            | ProtocolError::SaslRequired { .. }
            | ProtocolError::TokenRefused { .. }
            | ProtocolError::Scram { .. } => ErrorClass::Fatal,
            ProtocolError::Token(e) => e.class(),
            // A proxy in front of a broker that is down (HAProxy, a TCP load
            // balancer) also accepts and closes: retried, with this trace.
            ProtocolError::TlsRequired { .. } => ErrorClass::Transient,
            // A certificate the broker's chain or name does not pass (rustls's
            // errors are InvalidData) needs a fix, not a retry; a cut
            // connection during the handshake is transient.
            ProtocolError::Tls(TlsError::Handshake { source, .. }) if source.kind() != std::io::ErrorKind::InvalidData => {
                ErrorClass::Transient
            }
            ProtocolError::Tls(_) => ErrorClass::Fatal,
            ProtocolError::Connect { .. }
            | ProtocolError::Io(_)
            | ProtocolError::Timeout { .. }
            | ProtocolError::Broker { .. } => ErrorClass::Transient,
        }
    }
}

/// The profile of [`check_reachable`].
const CHECK: Profile =
    Profile { client_id: "pgcdc-check", connect_timeout: Duration::from_secs(15), max_response_bytes: 1024 * 1024 };

/// Opens (and closes) one connection to a bootstrap server with the
/// worker's TLS and SASL and asks it for metadata: a wrong CA, host name or
/// password, a missing client certificate, a broker that demands SASL when
/// none is configured fail here, classified and naming the setting, before
/// librdkafka would retry them silently.
///
/// A connection the broker closes is ambiguous (a broker restarting does it
/// too): such a check is tried once more before it counts.
pub async fn check_reachable(settings: &ClientSettings) -> Result<(), ProtocolError> {
    match check_once(settings).await {
        Err(ProtocolError::SaslRequired { .. } | ProtocolError::TlsRequired { .. }) => {
            tokio::time::sleep(RECHECK_PAUSE).await;
            check_once(settings).await
        }
        other => other,
    }
}

/// The pause before a closed connection is checked again.
const RECHECK_PAUSE: Duration = Duration::from_secs(1);

async fn check_once(settings: &ClientSettings) -> Result<(), ProtocolError> {
    let mut conn = match Connection::open_any(settings, CHECK).await {
        Ok(conn) => conn,
        // A TLS listener reads a plaintext request as a bad handshake and
        // closes the connection.
        Err(ProtocolError::Io(e)) if settings.security()?.tls.is_none() && closed(&e) => {
            return Err(ProtocolError::TlsRequired { servers: settings.bootstrap_servers.clone() });
        }
        Err(e) => return Err(e),
    };
    let version = conn.version(ApiKey::Metadata, "Metadata", 1, 4)?;
    let request = MetadataRequest::default().with_topics(Some(Vec::new()));
    match conn.request::<_, MetadataResponse>(ApiKey::Metadata, "Metadata", version, &request, CHECK.connect_timeout).await {
        Ok(_) => Ok(()),
        // A SASL listener reads ApiVersions, then drops a client that goes on
        // without authenticating (Apache Kafka and tansu alike).
        Err(ProtocolError::Io(e)) if settings.security()?.sasl.is_none() && closed(&e) => {
            Err(ProtocolError::SaslRequired { addr: conn.addr })
        }
        Err(e) => Err(e),
    }
}

/// Whether `e` is the peer closing the connection.
fn closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(e.kind(), K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe)
}

/// One connection to one broker.
pub struct Connection {
    /// `host:port` connected to.
    addr: String,
    stream: Box<dyn Stream>,
    profile: Profile,
    correlation_id: i32,
    /// (min, max) version per API key, from ApiVersions.
    versions: HashMap<i16, (i16, i16)>,
}

impl Connection {
    /// Connects to `addr` (`host:port`, a broker named by another broker's
    /// answer) with the worker's settings and asks for its API versions.
    pub async fn open(settings: &ClientSettings, addr: &str, profile: Profile) -> Result<Connection, ProtocolError> {
        let security = settings.security()?;
        let timeout = profile.connect_timeout;
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ProtocolError::Timeout { api: "connect", timeout })?
            .map_err(|source| ProtocolError::Connect { addr: addr.to_owned(), source })?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match &security.tls {
            Some(tls) => {
                let config = super::tls::client_config(tls)?;
                let handshake = super::tls::connect(config, tcp, addr);
                Box::new(tokio::time::timeout(timeout, handshake).await.map_err(|_| ProtocolError::Timeout { api: "TLS handshake", timeout })??)
            }
            None => Box::new(tcp),
        };
        let mut conn = Connection { addr: addr.to_owned(), stream, profile, correlation_id: 0, versions: HashMap::new() };
        let response: ApiVersionsResponse = conn
            .request(ApiKey::ApiVersions, "ApiVersions", 0, &ApiVersionsRequest::default(), timeout)
            .await
            .map_err(|e| super::tls::refused(e, addr))?;
        if response.error_code != 0 {
            return Err(ProtocolError::Broker { api: "ApiVersions", code: response.error_code });
        }
        conn.versions = response.api_keys.iter().map(|k| (k.api_key, (k.min_version, k.max_version))).collect();
        if let Some(sasl) = &security.sasl {
            conn.authenticate(sasl, timeout).await?;
        }
        Ok(conn)
    }

    /// SaslHandshake v1, then the mechanism's SaslAuthenticate round trips.
    async fn authenticate(&mut self, sasl: &SaslSettings, timeout: Duration) -> Result<(), ProtocolError> {
        let mechanism = sasl.mechanism.name();
        let version = self.version(ApiKey::SaslHandshake, "SaslHandshake", 1, 1)?;
        let request = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism));
        let response: SaslHandshakeResponse =
            self.request(ApiKey::SaslHandshake, "SaslHandshake", version, &request, timeout).await?;
        match response.error_code {
            0 => {}
            UNSUPPORTED_SASL_MECHANISM => {
                let offered = response.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ");
                return Err(ProtocolError::SaslMechanism { mechanism, offered });
            }
            code => return Err(ProtocolError::Broker { api: "SaslHandshake", code }),
        }
        match (&sasl.credentials, sasl.mechanism) {
            (Credentials::Token(source), _) => {
                let token = source.token().await?;
                let setting = source.kind().setting();
                // RFC 7628 section 3.2.2: a refusal is an error JSON the client answers with %x01
                // before the broker fails the exchange; some brokers fail it at once (error 58).
                let refused = |message: String| ProtocolError::TokenRefused { setting, message };
                let answer = match self.sasl_authenticate(sasl, sasl::oauthbearer(token.value.expose()), timeout).await {
                    Ok(answer) => answer,
                    Err(ProtocolError::SaslFailed { message, .. }) => return Err(refused(message)),
                    Err(e) => return Err(e),
                };
                if !answer.is_empty() {
                    let status: String = String::from_utf8_lossy(&answer).chars().filter(|c| !c.is_control()).take(200).collect();
                    return match self.sasl_authenticate(sasl, vec![1], timeout).await {
                        Err(ProtocolError::SaslFailed { message, .. }) => Err(refused(format!("{message}; {status}"))),
                        Err(e) => Err(e),
                        Ok(_) => Err(refused(status)),
                    };
                }
            }
            (Credentials::Password { username, password }, SaslMechanism::Plain) => {
                self.sasl_authenticate(sasl, sasl::plain(username, password.expose()), timeout).await?;
            }
            (Credentials::Password { username, password }, _) => {
                let scram_err = |source| match source {
                    ScramError::Refused(answer) => ProtocolError::SaslFailed {
                        mechanism,
                        username: username.clone(),
                        message: format!("the broker answered e={answer}"),
                    },
                    source => ProtocolError::Scram { mechanism, source },
                };
                let (scram, first) = Scram::start(sasl.mechanism, username, password.expose()).map_err(scram_err)?;
                let server_first = self.sasl_authenticate(sasl, first, timeout).await?;
                let (fin, client_final) = scram.respond(&server_first).map_err(scram_err)?;
                let server_final = self.sasl_authenticate(sasl, client_final, timeout).await?;
                fin.verify(&server_final).map_err(scram_err)?;
            }
        }
        Ok(())
    }

    /// One SaslAuthenticate round trip: the broker's bytes.
    async fn sasl_authenticate(&mut self, sasl: &SaslSettings, bytes: Vec<u8>, timeout: Duration) -> Result<Bytes, ProtocolError> {
        let version = self.version(ApiKey::SaslAuthenticate, "SaslAuthenticate", 0, 1)?;
        let request = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes));
        let response: SaslAuthenticateResponse =
            self.request(ApiKey::SaslAuthenticate, "SaslAuthenticate", version, &request, timeout).await?;
        match response.error_code {
            0 => Ok(response.auth_bytes),
            SASL_AUTHENTICATION_FAILED | ILLEGAL_SASL_STATE => Err(ProtocolError::SaslFailed {
                mechanism: sasl.mechanism.name(),
                username: sasl.who(),
                message: response.error_message.as_ref().map_or_else(|| "no reason given".to_owned(), |m| m.to_string()),
            }),
            code => Err(ProtocolError::Broker { api: "SaslAuthenticate", code }),
        }
    }

    /// Connects to the first reachable bootstrap server.
    pub async fn open_any(settings: &ClientSettings, profile: Profile) -> Result<Connection, ProtocolError> {
        let mut last = None;
        for addr in settings.servers() {
            match Connection::open(settings, addr, profile).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ProtocolError::Connect {
            addr: settings.bootstrap_servers.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no bootstrap server"),
        }))
    }

    /// The highest version both sides speak within `min..=max`.
    pub fn version(&self, key: ApiKey, api: &'static str, min: i16, max: i16) -> Result<i16, ProtocolError> {
        let (broker_min, broker_max) = self.versions.get(&(key as i16)).copied().unwrap_or((0, -1));
        let v = broker_max.min(max);
        if v < min.max(broker_min) {
            return Err(ProtocolError::UnsupportedVersion { api, min, max });
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
    ) -> Result<Resp, ProtocolError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str(self.profile.client_id)));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        let encode_err = |e: anyhow::Error| ProtocolError::Encode { api, source: e.into() };
        header.encode(&mut buf, Req::header_version(version)).map_err(encode_err)?;
        body.encode(&mut buf, version).map_err(encode_err)?;
        let len = i32::try_from(buf.len() - 4).map_err(|e| ProtocolError::Encode { api, source: e.into() })?;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        let max = self.profile.max_response_bytes;
        let exchange = async {
            self.stream.write_all(&buf).await?;
            let len = self.stream.read_i32().await?;
            let len = usize::try_from(len)
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "response size out of range"))?;
            let mut resp = vec![0u8; len];
            self.stream.read_exact(&mut resp).await?;
            Ok::<_, std::io::Error>(Bytes::from(resp))
        };
        let mut resp =
            tokio::time::timeout(timeout, exchange).await.map_err(|_| ProtocolError::Timeout { api, timeout })??;
        let decode_err = |e: anyhow::Error| ProtocolError::Decode { api, source: e.into() };
        let header = ResponseHeader::decode(&mut resp, Resp::header_version(version)).map_err(decode_err)?;
        if header.correlation_id != self.correlation_id {
            return Err(ProtocolError::Decode { api, source: "correlation id mismatch".into() });
        }
        Resp::decode(&mut resp, version).map_err(decode_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    const PROFILE: Profile =
        Profile { client_id: "pgcdc-test", connect_timeout: Duration::from_secs(5), max_response_bytes: 1024 * 1024 };

    /// `reply`'s answer for: close the connection.
    const CLOSE: i32 = i32::MIN;

    /// A broker that answers ApiVersions, then `reply(correlation id)` to each later request.
    async fn broker(reply: fn(i32) -> Option<i32>) -> (ClientSettings, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            // One connection at a time, each from its ApiVersions on.
            while let Ok((mut s, _)) = listener.accept().await {
                let mut first = true;
                while let Ok(len) = s.read_i32().await {
                    let mut req = vec![0u8; len as usize];
                    s.read_exact(&mut req).await.unwrap();
                    let correlation = i32::from_be_bytes([req[4], req[5], req[6], req[7]]);
                    // ApiVersions v0: header (correlation id), error code, api keys.
                    let mut body = BytesMut::new();
                    if first {
                        first = false;
                        body.put_i32(correlation);
                        body.put_i16(0);
                        body.put_i32(2);
                        body.put_i16(ApiKey::ApiVersions as i16);
                        body.put_i16(0);
                        body.put_i16(3);
                        body.put_i16(ApiKey::Metadata as i16);
                        body.put_i16(0);
                        body.put_i16(12);
                    } else {
                        let Some(c) = reply(correlation) else { continue };
                        if c == CLOSE {
                            break;
                        }
                        body.put_i32(c);
                        body.put_i16(0);
                        body.put_i32(0);
                    }
                    s.write_i32(body.len() as i32).await.unwrap();
                    s.write_all(&body).await.unwrap();
                }
            }
        });
        (ClientSettings::new(format!(",{addr}"), Vec::new()), task)
    }

    #[tokio::test]
    async fn versions_are_negotiated_and_responses_correlated() {
        let (settings, _task) = broker(Some).await;
        let mut conn = Connection::open_any(&settings, PROFILE).await.unwrap();
        assert_eq!(conn.version(ApiKey::ApiVersions, "ApiVersions", 0, 2).unwrap(), 2);
        assert!(matches!(
            conn.version(ApiKey::Fetch, "Fetch", 4, 12),
            Err(ProtocolError::UnsupportedVersion { api: "Fetch", min: 4, max: 12 })
        ));
        for _ in 0..3 {
            let r: ApiVersionsResponse = conn
                .request(ApiKey::ApiVersions, "ApiVersions", 0, &ApiVersionsRequest::default(), Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!(r.error_code, 0);
        }
    }

    #[tokio::test]
    async fn a_wrong_correlation_id_and_a_silent_broker_are_errors() {
        let (settings, _task) = broker(|c| Some(c + 7)).await;
        let mut conn = Connection::open_any(&settings, PROFILE).await.unwrap();
        let r = conn
            .request::<_, ApiVersionsResponse>(ApiKey::ApiVersions, "ApiVersions", 0, &ApiVersionsRequest::default(), Duration::from_secs(5))
            .await;
        assert!(matches!(r, Err(ProtocolError::Decode { api: "ApiVersions", .. })), "{r:?}");
        assert_eq!(r.unwrap_err().class(), ErrorClass::Fatal);

        let (settings, _task) = broker(|_| None).await;
        let mut conn = Connection::open_any(&settings, PROFILE).await.unwrap();
        let r = conn
            .request::<_, ApiVersionsResponse>(ApiKey::ApiVersions, "ApiVersions", 0, &ApiVersionsRequest::default(), Duration::from_millis(100))
            .await;
        assert!(matches!(r, Err(ProtocolError::Timeout { api: "ApiVersions", .. })), "{r:?}");
        assert_eq!(r.unwrap_err().class(), ErrorClass::Transient);
    }

    #[tokio::test]
    async fn a_broker_that_drops_the_first_request_after_api_versions_requires_sasl() {
        let (settings, _task) = broker(|_| Some(CLOSE)).await;
        let r = check_reachable(&settings).await;
        assert!(matches!(r, Err(ProtocolError::SaslRequired { .. })), "{r:?}");
        let e = r.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Fatal);
        assert!(e.to_string().contains("security.protocol=SASL_SSL"), "{e}");
    }

    #[tokio::test]
    async fn a_broker_that_drops_a_plaintext_client_at_once_requires_tls() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let settings = ClientSettings::new(listener.local_addr().unwrap().to_string(), Vec::new());
        let _task = tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        let e = check_reachable(&settings).await.unwrap_err();
        assert!(matches!(e, ProtocolError::TlsRequired { .. }), "{e:?}");
        assert_eq!(e.class(), ErrorClass::Transient);
        assert!(e.to_string().contains("security.protocol=SSL"), "{e}");
    }

    #[tokio::test]
    async fn no_reachable_server_is_a_transient_connect_error() {
        let r = Connection::open_any(&ClientSettings::new("127.0.0.1:1", Vec::new()), PROFILE).await;
        assert!(matches!(r, Err(ProtocolError::Connect { .. })), "{:?}", r.err());
        let r = Connection::open_any(&ClientSettings::new(" , ", Vec::new()), PROFILE).await;
        assert!(matches!(r, Err(ProtocolError::Connect { .. })));
    }
}
