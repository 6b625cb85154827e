//! Single message transforms applied to records between envelope and encoder,
//! as Kafka Connect applies a connector's `transforms` chain.

pub mod cast;
pub mod changed;
pub mod decode_message;
pub mod fields;
pub mod header_to_value;
pub mod headers;
pub mod logical_router;
pub mod outbox;
pub mod outbox_json;
pub mod predicate;
pub mod reshape;
pub mod router;
pub mod smt;
pub mod timestamp;
pub mod unwrap;

#[cfg(test)]
mod smt_tests;
#[cfg(test)]
mod smt_tests_more;

#[cfg(test)]
pub(crate) mod test_support;

/// One configured transform of the chain, in `transforms` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransformConfig {
    /// `io.debezium.transforms.ExtractNewRecordState`
    ExtractNewRecordState(unwrap::UnwrapOptions),
    /// `io.debezium.transforms.ExtractChangedRecordState`
    ExtractChangedRecordState(changed::ChangedOptions),
    /// `org.apache.kafka.connect.transforms.RegexRouter`
    RegexRouter(router::TopicRewrite),
    /// `io.debezium.transforms.ByLogicalTableRouter`
    ByLogicalTableRouter(logical_router::LogicalRouterOptions),
    /// `io.debezium.transforms.outbox.EventRouter`
    EventRouter(outbox::EventRouterOptions),
    /// `io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent`
    DecodeMessage(decode_message::DecodeMessageOptions),
    /// `io.debezium.transforms.HeaderToValue`
    HeaderToValue(header_to_value::HeaderToValueOptions),
    /// Kafka Connect's own SMTs (`org.apache.kafka.connect.transforms.*`).
    Connect(smt::SmtConfig),
    /// A transform with `transforms.<alias>.predicate` (and `.negate`).
    Conditional(Box<TransformConfig>, predicate::Condition),
}

/// A transform could not handle one record: a data error (the connector's
/// error policy decides), naming the transform.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("transform {transform} failed: {reason}")]
pub struct TransformError {
    pub transform: &'static str,
    pub reason: String,
}

impl TransformError {
    pub fn new(transform: &'static str, reason: impl Into<String>) -> Self {
        TransformError { transform, reason: reason.into() }
    }
}
