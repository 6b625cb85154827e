//! Topic creation: Kafka Connect creates a source connector's topics when
//! they are missing (`topic.creation.default.*`), because brokers often run
//! with auto-creation off. The admin work is [`crate::kafka::admin`]'s.

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::config::connector::TopicCreation;
use crate::kafka::admin::{Admin, AdminError};
use crate::kafka::ClientSettings;

use super::SinkError;

impl From<AdminError> for SinkError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Client(e) => SinkError::Client(e),
            AdminError::Create { topic, source } => SinkError::TopicCreation { topic, source },
        }
    }
}

/// Creates the connector's topics on first use, with its `topic.creation.default.*` settings.
pub struct TopicManager {
    admin: Admin,
    settings: TopicCreation,
}

impl TopicManager {
    pub fn new(client: &ClientSettings, settings: TopicCreation) -> Result<Self, SinkError> {
        Ok(TopicManager { admin: Admin::new(client)?, settings })
    }

    /// Make sure the internal topic `topic` exists, creating it compacted
    /// (`cleanup.policy=compact`) with `partitions` partitions.
    pub async fn ensure_compacted(&mut self, topic: &str, partitions: i32) -> Result<(), SinkError> {
        Ok(self.admin.ensure_compacted(topic, partitions, self.settings.replication_factor).await?)
    }

    /// Make sure the dead letter queue topic exists, creating it as Kafka
    /// Connect does: one partition, `errors.deadletterqueue.topic.replication.factor`,
    /// no other settings.
    pub async fn ensure_dead_letter_queue(&mut self, topic: &str, replication_factor: i16) -> Result<(), SinkError> {
        self.admin.ensure(topic, 1, replication_factor, &[]).await.map_err(|err| match err {
            AdminError::Create { topic, source } => dead_letter_error(topic, replication_factor, source),
            other => other.into(),
        })
    }

    /// Make sure `topic` exists, creating it with the configured settings.
    pub async fn ensure(&mut self, topic: &str) -> Result<(), SinkError> {
        let s = &self.settings;
        Ok(self.admin.ensure(topic, s.partitions, s.replication_factor, &s.configs).await?)
    }
}

/// Whether the broker refused a topic's replication factor.
pub(super) fn refuses_replication_factor(err: &KafkaError) -> bool {
    let code = match err {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    };
    code == Some(RDKafkaErrorCode::InvalidReplicationFactor)
}

/// The error of a dead letter queue topic the broker did not create: it
/// names the property, and the fix when the broker refused the factor.
fn dead_letter_error(topic: String, replication_factor: i16, source: KafkaError) -> SinkError {
    let hint = if refuses_replication_factor(&source) {
        ": the broker refused it; set errors.deadletterqueue.topic.replication.factor to at most the number of brokers (1 for a single broker), or -1 for the broker's default"
    } else {
        ""
    };
    SinkError::DeadLetterTopic { topic, replication_factor, hint, source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{chain, Classify, ErrorClass};

    #[test]
    fn a_refused_dead_letter_replication_factor_fails_naming_the_property_and_the_fix() {
        let err = dead_letter_error("dlq".into(), 3, KafkaError::AdminOp(RDKafkaErrorCode::InvalidReplicationFactor));
        let text = chain(&err);
        for part in ["dlq", "replication factor 3", "errors.deadletterqueue.topic.replication.factor to at most the number of brokers"] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
        assert_eq!(err.class(), ErrorClass::Fatal, "no retry makes the broker accept it");
        let timeout = dead_letter_error("dlq".into(), 3, KafkaError::AdminOp(RDKafkaErrorCode::RequestTimedOut));
        assert_eq!(timeout.class(), ErrorClass::Transient);
        assert!(!chain(&timeout).contains("at most the number of brokers"), "{}", chain(&timeout));
    }
}
