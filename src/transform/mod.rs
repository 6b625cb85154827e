//! Single message transforms applied to records between envelope and encoder,
//! as Kafka Connect applies a connector's `transforms` chain.

pub mod changed;
pub mod logical_router;
pub mod outbox;
pub mod outbox_json;
pub mod router;
pub mod unwrap;

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
