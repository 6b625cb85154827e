//! Topic creation: Kafka Connect creates a source connector's topics when
//! they are missing (`topic.creation.default.*`), because brokers often run
//! with auto-creation off.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::config::connector::TopicCreation;

use super::SinkError;

/// How long to wait for the broker to answer an admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates topics on first use and remembers which exist.
pub struct TopicManager {
    admin: AdminClient<DefaultClientContext>,
    settings: TopicCreation,
    known: HashSet<String>,
}

impl TopicManager {
    pub fn new(client_config: &ClientConfig, settings: TopicCreation) -> Result<Self, SinkError> {
        let admin = client_config.create().map_err(SinkError::Client)?;
        Ok(TopicManager { admin, settings, known: HashSet::new() })
    }

    /// Make sure the internal topic `topic` exists, creating it compacted
    /// (`cleanup.policy=compact`) with `partitions` partitions.
    pub async fn ensure_compacted(&mut self, topic: &str, partitions: i32) -> Result<(), SinkError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let new_topic =
            NewTopic::new(topic, partitions, TopicReplication::Fixed(i32::from(self.settings.replication_factor)))
                .set("cleanup.policy", "compact");
        self.create(&new_topic).await
    }

    /// Make sure `topic` exists, creating it with the configured settings.
    pub async fn ensure(&mut self, topic: &str) -> Result<(), SinkError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let configs: Vec<(String, String)> = self.settings.configs.to_vec();
        let mut new_topic = NewTopic::new(
            topic,
            self.settings.partitions,
            TopicReplication::Fixed(i32::from(self.settings.replication_factor)),
        );
        for (k, v) in &configs {
            new_topic = new_topic.set(k, v);
        }
        self.create(&new_topic).await
    }

    async fn create(&mut self, new_topic: &NewTopic<'_>) -> Result<(), SinkError> {
        let topic = new_topic.name;
        let opts = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)).request_timeout(Some(ADMIN_TIMEOUT));
        let results = self
            .admin
            .create_topics([new_topic], &opts)
            .await
            .map_err(|source| SinkError::TopicCreation { topic: topic.to_owned(), source })?;
        for result in results {
            match result {
                Ok(_) => tracing::info!(topic, partitions = new_topic.num_partitions, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => {
                    return Err(SinkError::TopicCreation { topic: topic.to_owned(), source: KafkaError::AdminOp(code) })
                }
            }
        }
        self.known.insert(topic.to_owned());
        Ok(())
    }
}
