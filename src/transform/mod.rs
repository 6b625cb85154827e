//! Single message transforms applied to records between envelope and encoder,
//! as Kafka Connect applies a connector's `transforms` chain.

pub mod changed;
pub mod logical_router;
pub mod router;
pub mod unwrap;

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
}
