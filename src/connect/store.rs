//! Registered connectors and their target state, kept in
//! `<state_dir>/connectors.json` so they survive a restart.
//!
//! Writes are atomic: the new content goes to a temporary file in the same
//! directory, is synced, then renamed over the old one; a crash leaves either
//! the old or the new file, never a torn one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::{Deserialize, Serialize};

/// Name of the state file inside `state_dir`.
pub const STATE_FILE: &str = "connectors.json";
/// Version of the file's format.
const FORMAT_VERSION: u32 = 1;

/// What the operator asked a connector to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TargetState {
    /// Running (Connect's `STARTED`).
    #[default]
    Started,
    /// Paused: the task is stopped, the connector stays registered.
    Paused,
    /// Stopped (Connect 3.5+): like paused, and no task is reported.
    Stopped,
}

/// One persisted connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConnector {
    /// The properties as registered (config provider references unexpanded).
    pub config: BTreeMap<String, String>,
    pub target_state: TargetState,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    connectors: BTreeMap<String, StoredConnector>,
}

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read connector state file {path}")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("connector state file {path} is corrupt; fix or remove it")]
    Corrupt { path: PathBuf, #[source] source: serde_json::Error },
    #[error("connector state file {path} has format version {version}; this pgcdc reads version {FORMAT_VERSION} only (was it written by a newer pgcdc?)")]
    Version { path: PathBuf, version: u32 },
    #[error("cannot write connector state file {path}")]
    Write { path: PathBuf, #[source] source: std::io::Error },
    /// The shared config topic of distributed mode could not be written or read back.
    #[error("cannot write the connector config topic")]
    Kafka(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the herder persists connectors: the state file of a standalone
/// worker ([`Store`]) or the config topic shared by distributed workers
/// ([`crate::connect::distributed::KafkaStore`]).
pub trait ConnectorStore: Send + Sync {
    /// Persists `name`'s new state (`None`: deleted); `all` is the whole
    /// registry after the change (a store of single records may ignore it).
    fn persist<'a>(
        &'a self,
        name: &'a str,
        change: Option<&'a StoredConnector>,
        all: &'a BTreeMap<String, StoredConnector>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Whether other workers share the store: the herder then applies a
    /// change when it reads it back from the store, not inline.
    fn shared(&self) -> bool {
        false
    }
}

impl ConnectorStore for Store {
    fn persist<'a>(
        &'a self,
        _name: &'a str,
        _change: Option<&'a StoredConnector>,
        all: &'a BTreeMap<String, StoredConnector>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        let result = self.save(all);
        async move { result }.boxed()
    }
}

/// The state file of one worker.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The persisted connectors; empty when no file exists yet.
    pub fn load(&self) -> Result<BTreeMap<String, StoredConnector>, StoreError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        let file: StateFile = serde_json::from_slice(&bytes).map_err(|source| StoreError::Corrupt { path: path.clone(), source })?;
        if file.version != FORMAT_VERSION {
            return Err(StoreError::Version { path, version: file.version });
        }
        Ok(file.connectors)
    }

    /// Replaces the persisted connectors atomically.
    pub fn save(&self, connectors: &BTreeMap<String, StoredConnector>) -> Result<(), StoreError> {
        let path = self.path();
        let file = StateFile { version: FORMAT_VERSION, connectors: connectors.clone() };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| StoreError::Write { path: path.clone(), source: e.into() })?;
        write_atomically(&self.dir, &path, &bytes).map_err(|source| StoreError::Write { path, source })
    }
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let tmp = path.with_extension("json.tmp");
    // The file holds connector configs, passwords included when given
    // literally: a fresh 0600 file, never an existing one or a symlink's target
    // (a leftover of a crash is removed first; `remove_file` does not follow symlinks).
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = crate::private_fs::create_private(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("nested"));
        assert!(store.load().unwrap().is_empty());
        let mut m = BTreeMap::new();
        m.insert(
            "a".to_owned(),
            StoredConnector { config: [("k".to_owned(), "v".to_owned())].into(), target_state: TargetState::Paused },
        );
        store.save(&m).unwrap();
        assert_eq!(store.load().unwrap(), m);
        assert!(!dir.path().join("nested").join("connectors.json.tmp").exists());
    }

    #[cfg(unix)]
    #[test]
    fn state_file_is_private_and_a_planted_symlink_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&victim, state.join("connectors.json.tmp")).unwrap();
        let store = Store::new(&state);
        store.save(&BTreeMap::new()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "the symlink's target is untouched");
        let mode = std::fs::metadata(state.join(STATE_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let fresh = dir.path().join("fresh");
        Store::new(&fresh).save(&BTreeMap::new()).unwrap();
        assert_eq!(std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), br#"{"version":99,"connectors":{}}"#).unwrap();
        let err = Store::new(dir.path()).load().unwrap_err();
        assert!(matches!(err, StoreError::Version { version: 99, .. }), "{err}");
        assert!(err.to_string().contains("version 99"), "{err}");
    }

    #[test]
    fn corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(STATE_FILE), b"{not json").unwrap();
        let err = Store::new(dir.path()).load().unwrap_err();
        assert!(err.to_string().contains(STATE_FILE), "{err}");
    }
}
