//! Everything pgcdc says to Kafka goes through here: one place builds the
//! librdkafka clients from the worker's `[kafka]` settings, one place
//! creates the internal (compacted) topics, and one raw-protocol connection
//! serves the APIs librdkafka does not expose.
//!
//! ```text
//!   [kafka] bootstrap_servers + [kafka.options]
//!        │  KafkaConfig::client_settings()
//!        ▼
//!   ClientSettings ──client_config()───────────────────────▶ admin::Admin (create topics, ensure_compacted)
//!        ├────────── with_defaults(role) + idempotent/transactional ─▶ producers (sink, offsets, internal topics)
//!        ├────────── client_config() + consumer(group) ─────▶ consumers (internal topics, `pgcdc tail`)
//!        └────────── protocol::Connection::open_any ────────▶ raw requests (offsets log reader, group membership)
//!
//!   OAUTHBEARER: ClientSettings ─ one oauth::TokenSource ─┬─▶ client::KafkaContext (librdkafka's token refresh)
//!                                                         └─▶ protocol::Connection (SaslAuthenticate)
//! ```
//!
//! The order in a client's configuration: `bootstrap.servers`, then the
//! role's tunable defaults, then `[kafka.options]` (which may tune them),
//! then what the role cannot work without (idempotence, transactional id,
//! group id). The options the worker manages itself are refused when the
//! worker configuration is validated.

pub(crate) mod admin;
pub(crate) mod client;
pub mod partitioner;
pub(crate) mod protocol;
pub(crate) mod oauth;
pub(crate) mod sasl;
pub mod security;
pub(crate) mod tls;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::ErrorClass;

pub use client::ClientSettings;

/// How long a transaction commit or abort may take (librdkafka's calls
/// block that long at most; a coordinator that drops a request leaves a
/// caller waiting exactly that long).
pub const TXN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Kafka error codes that no retry can fix.
fn is_fatal_code(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::ProducerFenced
            | C::InvalidProducerEpoch
            | C::TransactionalIdAuthorizationFailed
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::InvalidTransactionTimeout
            | C::UnsupportedVersion
            | C::InvalidArgument
            | C::InvalidConfig
            | C::Fenced
            | C::Fatal
            | C::SaslAuthenticationFailed
            | C::Authentication
    )
}

/// Kafka error codes that mean this record cannot be written.
fn is_data_code(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(code, C::MessageSizeTooLarge | C::InvalidRecord | C::InvalidMessageSize | C::InvalidMessage)
}

/// The class of a librdkafka error: by an explicit list of codes, and a
/// client that cannot be created (bad `[kafka.options]`) is fatal.
pub(crate) fn classify(err: &KafkaError) -> ErrorClass {
    if let KafkaError::Transaction(e) = err {
        if e.is_fatal() {
            return ErrorClass::Fatal;
        }
    }
    match err.rdkafka_error_code() {
        Some(code) if is_fatal_code(code) => ErrorClass::Fatal,
        Some(code) if is_data_code(code) => ErrorClass::Data,
        _ => match err {
            KafkaError::ClientConfig(..) | KafkaError::ClientCreation(..) => ErrorClass::Fatal,
            _ => ErrorClass::Transient,
        },
    }
}
