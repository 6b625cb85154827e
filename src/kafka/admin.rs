//! Topic creation through librdkafka's admin client: the internal topics
//! (offsets, config, status: compacted) and, for the sink, the connector's
//! topics (`topic.creation.default.*`). A topic that already exists is fine;
//! the topics known to exist are remembered.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{Classify, ErrorClass};

use super::client::{keep_token_fresh, KafkaContext};
use super::ClientSettings;

/// How long to wait for the broker to answer an admin request.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot create the Kafka admin client (check [kafka] options)")]
    Client(#[source] KafkaError),
    #[error("cannot create topic {topic}")]
    Create {
        topic: String,
        #[source]
        source: KafkaError,
    },
}

impl Classify for AdminError {
    fn class(&self) -> ErrorClass {
        match self {
            AdminError::Client(e) | AdminError::Create { source: e, .. } => super::classify(e),
        }
    }
}

/// An admin client that creates topics on first use.
pub struct Admin {
    /// Shared with the thread that keeps its OAUTHBEARER token fresh: nothing
    /// polls an admin client's main queue, where librdkafka asks for one.
    client: Arc<AdminClient<KafkaContext>>,
    known: HashSet<String>,
}

impl Admin {
    pub fn new(settings: &ClientSettings) -> Result<Self, AdminError> {
        let client = Arc::new(settings.create(&settings.client_config()).map_err(AdminError::Client)?);
        keep_token_fresh(Arc::downgrade(&client), settings.context());
        Ok(Admin { client, known: HashSet::new() })
    }

    /// Makes sure the internal topic `topic` exists, creating it compacted
    /// (`cleanup.policy=compact`). A topic created by someone else may not
    /// be compacted: its records would then expire, so a warning says so
    /// (Kafka Connect refuses to start; brokers differ in what they describe).
    pub async fn ensure_compacted(&mut self, topic: &str, partitions: i32, replication_factor: i16) -> Result<(), AdminError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(i32::from(replication_factor)))
            .set("cleanup.policy", "compact");
        self.create(&new_topic).await?;
        if let Ok(described) = self.client.describe_configs([&ResourceSpecifier::Topic(topic)], &options()).await {
            let policy = described.iter().flatten().find_map(|r| r.get("cleanup.policy").and_then(|e| e.value.clone()));
            if let Some(policy) = policy.filter(|p| !p.split(',').any(|x| x.trim() == "compact")) {
                tracing::warn!(
                    topic,
                    cleanup_policy = %policy,
                    "internal topic is not compacted: set cleanup.policy=compact on it, or its records expire"
                );
            }
        }
        Ok(())
    }

    /// Makes sure `topic` exists, creating it with these settings.
    pub async fn ensure(
        &mut self,
        topic: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &[(String, String)],
    ) -> Result<(), AdminError> {
        if self.known.contains(topic) {
            return Ok(());
        }
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(i32::from(replication_factor)));
        for (k, v) in configs {
            new_topic = new_topic.set(k, v);
        }
        self.create(&new_topic).await
    }

    async fn create(&mut self, new_topic: &NewTopic<'_>) -> Result<(), AdminError> {
        let topic = new_topic.name;
        let results = self
            .client
            .create_topics([new_topic], &options())
            .await
            .map_err(|source| AdminError::Create { topic: topic.to_owned(), source })?;
        for result in results {
            match result {
                Ok(_) => tracing::info!(topic, partitions = new_topic.num_partitions, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((_, code)) => return Err(AdminError::Create { topic: topic.to_owned(), source: KafkaError::AdminOp(code) }),
            }
        }
        self.known.insert(topic.to_owned());
        Ok(())
    }
}

fn options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT)).request_timeout(Some(ADMIN_TIMEOUT))
}
