//! Topic creation: Kafka Connect creates a source connector's topics when
//! they are missing (`topic.creation.default.*`), because brokers often run
//! with auto-creation off. The admin work is [`crate::kafka::admin`]'s.

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

    /// Make sure `topic` exists, creating it with the configured settings.
    pub async fn ensure(&mut self, topic: &str) -> Result<(), SinkError> {
        let s = &self.settings;
        Ok(self.admin.ensure(topic, s.partitions, s.replication_factor, &s.configs).await?)
    }
}
