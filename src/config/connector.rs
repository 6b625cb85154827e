//! A connector's configuration: Debezium's PostgreSQL connector properties,
//! accepted by their own names, parsed into typed options for each stage.

use crate::config::Secret;
use crate::encode::json::JsonOptions;
use crate::envelope::EnvelopeOptions;
use crate::source::postgres::value::ValueOptions;
use crate::transform::TransformConfig;

/// `database.sslmode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How to reach PostgreSQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgConnection {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: Option<Secret>,
    pub dbname: String,
    pub sslmode: SslMode,
}

/// `publication.autocreate.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PublicationAutocreateMode {
    #[default]
    AllTables,
    Filtered,
    Disabled,
}

/// `snapshot.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SnapshotMode {
    #[default]
    Initial,
    InitialOnly,
    NoData,
    Always,
    WhenNeeded,
    ConfigurationBased,
    Custom,
}

/// `topic.creation.default.*`: how the worker creates missing topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicCreation {
    pub partitions: i32,
    pub replication_factor: i16,
    /// Other `topic.creation.default.<config>` entries, passed to the broker.
    pub configs: Vec<(String, String)>,
}

impl Default for TopicCreation {
    fn default() -> Self {
        TopicCreation { partitions: 1, replication_factor: 1, configs: Vec::new() }
    }
}

/// Everything one connector needs, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectorConfig {
    pub name: String,
    pub connection: PgConnection,
    /// `slot.name` (default `debezium`).
    pub slot_name: String,
    /// `publication.name` (default `dbz_publication`).
    pub publication_name: String,
    pub publication_autocreate_mode: PublicationAutocreateMode,
    /// `table.include.list`: anchored regular expressions over `schema.table`.
    pub table_include_list: Vec<String>,
    pub table_exclude_list: Vec<String>,
    pub schema_include_list: Vec<String>,
    pub schema_exclude_list: Vec<String>,
    pub snapshot_mode: SnapshotMode,
    pub envelope: EnvelopeOptions,
    pub values: ValueOptions,
    pub transforms: Vec<TransformConfig>,
    pub key_converter: JsonOptions,
    pub value_converter: JsonOptions,
    pub topic_creation: TopicCreation,
}
