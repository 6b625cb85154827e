//! The environment every end-to-end test runs in: a throwaway PostgreSQL cluster and a
//! Kafka-compatible broker, each started once per test process on first use.
//!
//! ```text
//!   test fn ──▶ PgServer::shared() ──▶ create_database("orders") ──▶ TestDatabase (orders_7)
//!           └─▶ Broker::shared()   ──▶ create_topic / consume(topic, n, timeout)
//! ```
//!
//! Backends (chosen at run time, same API):
//! - **local** (default): PostgreSQL server binaries from `$PGCDC_PG_BIN` (else the highest
//!   `/usr/lib/postgresql/*/bin`) and the tansu broker from `$PGCDC_TANSU_BIN`; both are
//!   installed by `scripts/install-deps.sh`. Each process starts its own cluster and broker on
//!   free ports; a detached watchdog stops them when the test process exits.
//! - **containers** (cargo feature `testcontainers`): PostgreSQL and Apache Kafka images, used
//!   when a Docker engine is reachable (`$DOCKER_HOST` or `/var/run/docker.sock`).
//!   `PGCDC_TEST_BACKEND=local|containers` forces a choice.
//!
//! Tests share the two servers and run in parallel: each test uses its own database, slot
//! names and topic prefix (see [`unique_name`]). A test that stops PostgreSQL or pauses the
//! broker must use a dedicated instance ([`PgServer::dedicated`], [`Broker::dedicated`]).
#![allow(dead_code, unused_imports)]

pub mod batches;
pub mod differential;
pub mod golden;
pub mod kafka;
pub mod load;
pub mod postgres;
mod process;
pub mod registry;
pub mod registry_tls;
pub mod sasl_gate;
pub mod tls_broker;
pub mod token_endpoint;
pub mod txlog;
pub mod worker;

#[cfg(feature = "testcontainers")]
pub mod containers;

pub use kafka::{unique_name, Broker, Consumed};
pub use worker::{connector_config, Worker};
pub use postgres::{PgServer, TestDatabase, MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER};

/// Which backend runs the servers of this test process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Processes started from local binaries.
    Local,
    /// Docker containers (feature `testcontainers`).
    Containers,
}

/// The backend to use: `$PGCDC_TEST_BACKEND` if set, else containers when the feature is on and
/// a Docker engine is reachable, else local.
pub fn backend() -> Backend {
    match std::env::var("PGCDC_TEST_BACKEND").as_deref() {
        Ok("local") => return Backend::Local,
        Ok("containers") => {
            assert!(
                cfg!(feature = "testcontainers"),
                "PGCDC_TEST_BACKEND=containers needs `--features testcontainers`"
            );
            return Backend::Containers;
        }
        Ok(other) if !other.is_empty() => {
            panic!("PGCDC_TEST_BACKEND must be `local` or `containers`, not {other:?}")
        }
        _ => {}
    }
    #[cfg(feature = "testcontainers")]
    if containers::docker_available() {
        return Backend::Containers;
    }
    Backend::Local
}

/// Installs a tracing subscriber that writes through the test harness's capture (once per
/// process; later calls do nothing). Filter with `RUST_LOG`, default `info`.
pub fn init_tracing() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    });
}
