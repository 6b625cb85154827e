//! Docker backend (cargo feature `testcontainers`): PostgreSQL and Apache Kafka images in place
//! of the local binaries, selected by [`super::backend`] when a Docker engine is reachable.
//!
//! The servers are configured like the local ones: `wal_level=logical`, 400 slots, 100 senders,
//! durability off, the md5, SCRAM and cleartext-password roles with their `pg_hba.conf` lines. Host ports are fixed
//! at start (mapped to a free host port) so `stop`/`start` keep the address the tests hold.
//! Each container runs its own tokio runtime (the tests' runtimes come and go per test), and a
//! watchdog removes it with `docker rm -f` when the test process exits.

use std::future::Future;
use std::path::Path;

use testcontainers::core::{ContainerPort, IntoContainerPort};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ImageExt};
use testcontainers_modules::kafka::apache;
use testcontainers_modules::postgres::Postgres;

use super::postgres::{MD5_PASSWORD, MD5_USER, PLAIN_PASSWORD, PLAIN_USER, SCRAM_PASSWORD, SCRAM_USER};
use super::process::{free_port, spawn_watchdog};

/// PostgreSQL image tag (a major in the 14–17 range the daemon supports).
const POSTGRES_TAG: &str = "16-alpine";

/// Whether a Docker engine looks reachable: `$DOCKER_HOST` set, or the default socket exists.
pub fn docker_available() -> bool {
    std::env::var_os("DOCKER_HOST").is_some_and(|h| !h.is_empty()) || Path::new("/var/run/docker.sock").exists()
}

/// A runtime private to the containers, driven from plain threads (never from inside a test's
/// runtime, where `block_on` would panic).
struct Driver {
    rt: tokio::runtime::Runtime,
}

impl Driver {
    fn new() -> Driver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("containers runtime");
        Driver { rt }
    }

    fn block<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        std::thread::scope(|s| s.spawn(|| self.rt.block_on(fut)).join().expect("containers thread"))
    }
}

fn remove_on_exit(id: &str) {
    spawn_watchdog(&format!("docker rm -f -v {id} >/dev/null 2>&1"));
}

/// Init script run by the image's entrypoint: password roles and their `pg_hba.conf` lines
/// ahead of the image's own.
fn init_script() -> String {
    format!(
        "#!/bin/sh\nset -e\n\
         psql -v ON_ERROR_STOP=1 -U postgres -d postgres <<'SQL'\n\
         SET password_encryption = 'md5';\n\
         CREATE ROLE {MD5_USER} LOGIN REPLICATION PASSWORD '{MD5_PASSWORD}';\n\
         SET password_encryption = 'scram-sha-256';\n\
         CREATE ROLE {SCRAM_USER} LOGIN REPLICATION PASSWORD '{SCRAM_PASSWORD}';\n\
         CREATE ROLE {PLAIN_USER} LOGIN REPLICATION PASSWORD '{PLAIN_PASSWORD}';\n\
         SQL\n\
         {{ printf 'host all {MD5_USER} all md5\\nhost replication {MD5_USER} all md5\\n'; \
            printf 'host all {SCRAM_USER} all scram-sha-256\\nhost replication {SCRAM_USER} all scram-sha-256\\n'; \
            printf 'host all {PLAIN_USER} all password\\nhost replication {PLAIN_USER} all password\\n'; \
            printf 'local all all trust\\nlocal replication all trust\\n'; \
            printf 'host all all all trust\\nhost replication all all trust\\n'; }} > \"$PGDATA/pg_hba.conf\"\n"
    )
}

/// A PostgreSQL container.
pub struct PgContainer {
    pub host: String,
    pub port: u16,
    container: ContainerAsync<Postgres>,
    driver: Driver,
}

impl PgContainer {
    /// Pulls (if needed) and starts the image; blocks until it accepts connections.
    pub fn start() -> PgContainer {
        let driver = Driver::new();
        let port = free_port();
        let image = Postgres::default()
            .with_host_auth()
            .with_tag(POSTGRES_TAG)
            .with_copy_to("/docker-entrypoint-initdb.d/00_pgcdc_roles.sh", init_script().into_bytes())
            .with_mapped_port(port, 5432.tcp())
            .with_cmd([
                "postgres",
                "-c",
                "wal_level=logical",
                "-c",
                "max_replication_slots=400",
                "-c",
                "max_wal_senders=100",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        let container = driver
            .block(image.start())
            .unwrap_or_else(|e| panic!("starting the postgres:{POSTGRES_TAG} container: {e}"));
        remove_on_exit(container.id());
        PgContainer { host: "127.0.0.1".to_owned(), port, container, driver }
    }

    /// Stops the container (the server shuts down; the host port is kept for [`Self::start`]).
    pub fn stop(&self) {
        self.driver
            .block(self.container.stop())
            .unwrap_or_else(|e| panic!("stopping the postgres container: {e}"));
    }

    /// Starts the stopped container again and waits until it accepts connections.
    pub fn start_again(&self) {
        self.driver
            .block(self.container.start())
            .unwrap_or_else(|e| panic!("starting the postgres container: {e}"));
    }
}

/// A Kafka (KRaft, Apache image) container.
pub struct KafkaContainer {
    pub bootstrap: String,
    container: ContainerAsync<apache::Kafka>,
    driver: Driver,
}

impl KafkaContainer {
    /// Pulls (if needed) and starts the image; blocks until the broker is up.
    pub fn start() -> KafkaContainer {
        let driver = Driver::new();
        let container = driver
            .block(apache::Kafka::default().start())
            .unwrap_or_else(|e| panic!("starting the kafka container: {e}"));
        remove_on_exit(container.id());
        let port: ContainerPort = apache::KAFKA_PORT;
        let host_port = driver
            .block(container.get_host_port_ipv4(port))
            .unwrap_or_else(|e| panic!("kafka container port: {e}"));
        KafkaContainer { bootstrap: format!("127.0.0.1:{host_port}"), container, driver }
    }

    /// Freezes the container (`docker pause`).
    pub fn pause(&self) {
        self.driver
            .block(self.container.pause())
            .unwrap_or_else(|e| panic!("pausing the kafka container: {e}"));
    }

    /// Unfreezes the container (`docker unpause`).
    pub fn resume(&self) {
        self.driver
            .block(self.container.unpause())
            .unwrap_or_else(|e| panic!("resuming the kafka container: {e}"));
    }
}
