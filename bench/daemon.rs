//! The pgcdc daemon under test: `pgcdc run --config FILE` with a generated worker config, a
//! connector registered over its Kafka Connect-compatible REST API, and /proc sampling.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::infra::{free_port, http, stop_child, wait_listening, Sampler};

/// A running `pgcdc run`.
pub struct Daemon {
    child: Child,
    rest_port: u16,
    pub sampler: Sampler,
    log: PathBuf,
}

/// What a connector streams: one table through an existing slot and publication.
pub struct ConnectorSpec<'a> {
    pub name: &'a str,
    pub pg_port: u16,
    pub dbname: &'a str,
    pub table: &'a str,
    pub slot: &'a str,
    pub publication: &'a str,
    pub topic_prefix: &'a str,
}

impl ConnectorSpec<'_> {
    /// Debezium connector properties (also used for the Debezium comparison).
    pub fn properties(&self) -> Vec<(String, String)> {
        [
            (
                "connector.class",
                "io.debezium.connector.postgresql.PostgresConnector".to_owned(),
            ),
            ("database.hostname", "127.0.0.1".to_owned()),
            ("database.port", self.pg_port.to_string()),
            ("database.user", "postgres".to_owned()),
            ("database.password", "postgres".to_owned()),
            ("database.dbname", self.dbname.to_owned()),
            ("topic.prefix", self.topic_prefix.to_owned()),
            ("table.include.list", format!("public.{}", self.table)),
            ("plugin.name", "pgoutput".to_owned()),
            ("slot.name", self.slot.to_owned()),
            ("publication.name", self.publication.to_owned()),
            ("publication.autocreate.mode", "disabled".to_owned()),
            ("snapshot.mode", "no_data".to_owned()),
            ("tombstones.on.delete", "false".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The topic of the table.
    pub fn topic(&self) -> String {
        format!("{}.public.{}", self.topic_prefix, self.table)
    }
}

impl Daemon {
    /// Starts `bin run` against `bootstrap` and waits until its REST API listens.
    pub fn start(
        bin: &Path,
        bootstrap: &str,
        exactly_once: bool,
        state_dir: &Path,
    ) -> Result<Daemon> {
        Daemon::start_with(bin, bootstrap, exactly_once, state_dir, &[])
    }

    /// [`Daemon::start`] with `[kafka.options]` (e.g. `compression.type`).
    pub fn start_with(
        bin: &Path,
        bootstrap: &str,
        exactly_once: bool,
        state_dir: &Path,
        kafka_options: &[(String, String)],
    ) -> Result<Daemon> {
        std::fs::create_dir_all(state_dir)?;
        let rest_port = free_port()?;
        let config = state_dir.with_extension("toml");
        let toml = format!(
            "[rest]\nlisten = \"127.0.0.1:{rest_port}\"\n\n[kafka]\nbootstrap_servers = \"{bootstrap}\"\n\
             exactly_once = {exactly_once}\n\n[worker]\ngroup_id = \"pgcdc-bench-{}\"\nstate_dir = \"{}\"\n\n\
             [log]\nformat = \"text\"\nlevel = \"warn\"\n",
            state_dir.file_name().and_then(|s| s.to_str()).unwrap_or("x"),
            state_dir.display()
        );
        let mut toml = toml;
        if !kafka_options.is_empty() {
            toml.push_str("\n[kafka.options]\n");
            for (k, v) in kafka_options {
                toml.push_str(&format!("{k:?} = {v:?}\n"));
            }
        }
        std::fs::write(&config, toml)?;
        let log = state_dir.with_extension("log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let mut child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        if let Err(e) = wait_listening(&mut child, rest_port, Duration::from_secs(30)) {
            let _ = child.kill();
            let _ = child.wait();
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: String = tail.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
            bail!("pgcdc run did not serve its REST API ({e}): {tail}");
        }
        let sampler = Sampler::start(child.id());
        Ok(Daemon {
            child,
            rest_port,
            sampler,
            log,
        })
    }

    /// Registers the connector (POST /connectors) unless the worker already has it.
    pub fn register(&self, spec: &ConnectorSpec) -> Result<()> {
        self.register_with(spec, &[])
    }

    /// As [`register`](Self::register), with `overrides` replacing (or adding to) the spec's
    /// properties, e.g. `snapshot.mode`.
    pub fn register_with(&self, spec: &ConnectorSpec, overrides: &[(&str, String)]) -> Result<()> {
        let (status, body) = http(self.rest_port, "GET", "/connectors", None)?;
        if status == 200 && body.contains(&format!("\"{}\"", spec.name)) {
            return Ok(());
        }
        let mut config: serde_json::Map<String, serde_json::Value> = spec
            .properties()
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        for (k, v) in overrides {
            config.insert((*k).to_owned(), serde_json::Value::String(v.clone()));
        }
        let body = serde_json::json!({ "name": spec.name, "config": config }).to_string();
        let (status, resp) = http(self.rest_port, "POST", "/connectors", Some(&body))?;
        if !(200..300).contains(&status) {
            bail!("POST /connectors answered {status}: {resp}");
        }
        Ok(())
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Stops it (SIGTERM, then SIGKILL after 20 s).
    pub fn stop(mut self) {
        stop_child(&mut self.child, Duration::from_secs(20));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.exited() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Seconds between two instants (0 when `b` is before `a`).
pub fn secs_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64()
}
