//! The records of the config and status topics, in Kafka Connect's layout.
//!
//! ```text
//!   config topic (compacted, 1 partition)
//!     connector-<name>     {"properties": {...}}                     null = deleted
//!     target-state-<name>  {"state": "STARTED"|"PAUSED", "state.v2": "STARTED"|"PAUSED"|"STOPPED"}
//!   status topic (compacted, 1 partition)
//!     status-connector-<name>  {"state": "RUNNING", "trace": null, "worker_id": "host:8083", "generation": 3}
//!     status-task-<name>-0     (same shape)                          null = connector deleted
//! ```
//!
//! Connect writes a STOPPED target state as `"state": "PAUSED"` plus
//! `"state.v2": "STOPPED"` so that older workers read it as paused; pgcdc
//! writes and reads the same. Records of other kinds (Connect's `task-*`,
//! `commit-*`, `session-key`) are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::connect::store::TargetState;

/// Key prefix of a connector's config.
const CONNECTOR_PREFIX: &str = "connector-";
/// Key prefix of a connector's target state.
const TARGET_PREFIX: &str = "target-state-";
/// Key prefix of a connector's status.
const STATUS_CONNECTOR_PREFIX: &str = "status-connector-";
/// Key prefix of a task's status.
const STATUS_TASK_PREFIX: &str = "status-task-";

/// A config topic record that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("record key is not UTF-8")]
    Key,
    #[error("value of {key} is not the expected JSON")]
    Value {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("value of {key} has an unknown target state {state:?}")]
    State { key: String, state: String },
}

/// One decoded config topic record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigRecord {
    /// `connector-<name>`: its properties, `None` when deleted.
    Connector { name: String, config: Option<BTreeMap<String, String>> },
    /// `target-state-<name>`: `None` when deleted.
    Target { name: String, state: Option<TargetState> },
    /// A record this worker does not use.
    Other,
}

#[derive(Serialize, Deserialize)]
struct ConnectorValue {
    properties: BTreeMap<String, String>,
}

/// Key and value of a connector's config record (`None`: tombstone).
pub fn connector_record(name: &str, config: Option<&BTreeMap<String, String>>) -> (String, Option<Vec<u8>>) {
    let value = config.map(|c| json!({ "properties": c }).to_string().into_bytes());
    (format!("{CONNECTOR_PREFIX}{name}"), value)
}

/// Key and value of a connector's target state record (`None`: tombstone).
pub fn target_record(name: &str, state: Option<TargetState>) -> (String, Option<Vec<u8>>) {
    let value = state.map(|s| {
        let (v1, v2) = match s {
            TargetState::Started => ("STARTED", "STARTED"),
            TargetState::Paused => ("PAUSED", "PAUSED"),
            TargetState::Stopped => ("PAUSED", "STOPPED"),
        };
        json!({ "state": v1, "state.v2": v2 }).to_string().into_bytes()
    });
    (format!("{TARGET_PREFIX}{name}"), value)
}

/// Decodes one config topic record.
pub fn decode_config(key: &[u8], value: Option<&[u8]>) -> Result<ConfigRecord, CodecError> {
    let key = std::str::from_utf8(key).map_err(|_| CodecError::Key)?;
    let bad = |source| CodecError::Value { key: key.to_owned(), source };
    if let Some(name) = key.strip_prefix(TARGET_PREFIX) {
        let Some(value) = value else { return Ok(ConfigRecord::Target { name: name.to_owned(), state: None }) };
        let v: Value = serde_json::from_slice(value).map_err(bad)?;
        let state = v.get("state.v2").or_else(|| v.get("state")).and_then(Value::as_str).unwrap_or_default();
        let state = match state {
            "STARTED" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            other => return Err(CodecError::State { key: key.to_owned(), state: other.to_owned() }),
        };
        return Ok(ConfigRecord::Target { name: name.to_owned(), state: Some(state) });
    }
    if let Some(name) = key.strip_prefix(CONNECTOR_PREFIX) {
        let config = match value {
            None => None,
            Some(v) => Some(serde_json::from_slice::<ConnectorValue>(v).map_err(bad)?.properties),
        };
        return Ok(ConfigRecord::Connector { name: name.to_owned(), config });
    }
    Ok(ConfigRecord::Other)
}

/// A connector's or task's status as written to the status topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusValue {
    pub state: String,
    #[serde(default)]
    pub trace: Option<String>,
    pub worker_id: String,
    #[serde(default)]
    pub generation: i32,
}

/// What a status record is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatusKey {
    Connector(String),
    Task(String, u32),
}

impl StatusKey {
    /// The record key.
    pub fn encode(&self) -> String {
        match self {
            StatusKey::Connector(name) => format!("{STATUS_CONNECTOR_PREFIX}{name}"),
            StatusKey::Task(name, task) => format!("{STATUS_TASK_PREFIX}{name}-{task}"),
        }
    }

    /// Parses a record key; `None` for keys of other kinds.
    pub fn decode(key: &[u8]) -> Option<StatusKey> {
        let key = std::str::from_utf8(key).ok()?;
        if let Some(name) = key.strip_prefix(STATUS_CONNECTOR_PREFIX) {
            return Some(StatusKey::Connector(name.to_owned()));
        }
        let rest = key.strip_prefix(STATUS_TASK_PREFIX)?;
        let (name, task) = rest.rsplit_once('-')?;
        Some(StatusKey::Task(name.to_owned(), task.parse().ok()?))
    }

    /// The connector the record is about.
    pub fn connector(&self) -> &str {
        match self {
            StatusKey::Connector(name) | StatusKey::Task(name, _) => name,
        }
    }
}

/// Decodes a status value; `None` for a tombstone or a value that is not a status.
pub fn decode_status(value: Option<&[u8]>) -> Option<StatusValue> {
    serde_json::from_slice(value?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_and_target_records_round_trip() {
        let config: BTreeMap<String, String> = [("a".to_owned(), "1".to_owned())].into();
        let (key, value) = connector_record("my-conn", Some(&config));
        assert_eq!(key, "connector-my-conn");
        let decoded = decode_config(key.as_bytes(), value.as_deref()).unwrap();
        assert_eq!(decoded, ConfigRecord::Connector { name: "my-conn".into(), config: Some(config) });
        let (key, value) = connector_record("my-conn", None);
        assert_eq!(decode_config(key.as_bytes(), value.as_deref()).unwrap(), ConfigRecord::Connector {
            name: "my-conn".into(),
            config: None
        });
        for state in [TargetState::Started, TargetState::Paused, TargetState::Stopped] {
            let (key, value) = target_record("c", Some(state));
            assert_eq!(key, "target-state-c");
            assert_eq!(decode_config(key.as_bytes(), value.as_deref()).unwrap(), ConfigRecord::Target {
                name: "c".into(),
                state: Some(state)
            });
        }
    }

    #[test]
    fn reads_connects_own_target_state_values() {
        let old = br#"{"state":"PAUSED"}"#;
        let stopped = br#"{"state":"PAUSED","state.v2":"STOPPED"}"#;
        assert_eq!(decode_config(b"target-state-x", Some(old)).unwrap(), ConfigRecord::Target {
            name: "x".into(),
            state: Some(TargetState::Paused)
        });
        assert_eq!(decode_config(b"target-state-x", Some(stopped)).unwrap(), ConfigRecord::Target {
            name: "x".into(),
            state: Some(TargetState::Stopped)
        });
        let err = decode_config(b"target-state-x", Some(br#"{"state":"DANCING"}"#)).unwrap_err();
        assert!(err.to_string().contains("target-state-x"), "{err}");
        assert!(decode_config(b"connector-x", Some(b"{")).unwrap_err().to_string().contains("connector-x"));
        assert_eq!(decode_config(b"task-x-0", Some(b"{}")).unwrap(), ConfigRecord::Other);
        assert_eq!(decode_config(b"session-key", Some(b"{}")).unwrap(), ConfigRecord::Other);
    }

    #[test]
    fn status_keys_round_trip_with_dashes_in_names() {
        for key in [StatusKey::Connector("a-b".into()), StatusKey::Task("a-b-1".into(), 0)] {
            assert_eq!(StatusKey::decode(key.encode().as_bytes()), Some(key));
        }
        assert_eq!(StatusKey::decode(b"status-task-x"), None);
        assert_eq!(StatusKey::decode(b"connector-x"), None);
        let v = StatusValue { state: "RUNNING".into(), trace: None, worker_id: "h:1".into(), generation: 2 };
        assert_eq!(decode_status(Some(&serde_json::to_vec(&v).unwrap())), Some(v));
        assert_eq!(decode_status(None), None);
    }
}
