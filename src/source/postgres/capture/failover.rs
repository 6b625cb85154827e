//! High availability: which server to connect to, and whether the slot found
//! there still holds every change after the stored offset.
//!
//! ```text
//!   database.hostname=a,b:5433 ──▶ a: refused / in recovery ──▶ b: read-write ──▶ connect here
//!   slot on that server:
//!     missing + stored offset ──▶ FAIL "changes after L are lost" (when_needed/always: re-snapshot)
//!     wal_status=lost / invalidation_reason ──▶ FAIL with the cause (never recreated)
//!     slot.failover=true: PostgreSQL < 17 ──▶ FAIL; slot without FAILOVER ──▶ ALTER_REPLICATION_SLOT
//! ```
//!
//! - **Several hosts** (libpq's multi-host list) follow a failover: the task's
//!   restart after a lost connection tries them in order and keeps the first
//!   that is not in recovery (`target_session_attrs=read-write`). None being
//!   read-write is transient: a standby is most likely being promoted. One
//!   host is used whatever it is.
//! - **A missing slot with a stored offset** means the WAL after the offset is
//!   gone: the slot was dropped, or this is a promoted standby the slot was
//!   not synchronized to (no `slot.failover`, or PostgreSQL < 17). Creating it
//!   again would silently skip every change made in between, so the source
//!   fails unless the user chose a snapshot for this case
//!   (`snapshot.mode=when_needed`, or `always`) or dropping the slot
//!   (`slot.drop.on.stop=true`).
//! - **An invalidated slot** (`max_slot_wal_keep_size` exceeded, or a
//!   conflict on a standby) cannot decode any more: the source fails naming
//!   the server's reason, whatever `snapshot.mode` says; an operator drops it.
//! - A synchronized slot may confirm less than the stored offset (it is copied
//!   from the primary now and then): that is fine, the decoder drops the
//!   transactions already in Kafka. The primary's `synchronized_standby_slots`
//!   makes sure nothing reached Kafka that the standby lacks.

use std::time::Duration;

use tokio_postgres::NoTls;

use crate::config::connector::{ConnectorConfig, PgConnection, SnapshotMode};
use crate::lsn::Lsn;

use super::super::catalog::SlotInfo;
use super::super::replication::ReplicationClient;
use super::super::tls::{self, PgTls, TlsOptions};
use super::SourceError;

/// The first PostgreSQL version with failover slots.
pub(crate) const FAILOVER_SLOTS_VERSION: u32 = 170_000;

/// A catalog connection to the server pgcdc streams from (see the module
/// docs for several hosts), the TLS settings, and that server's host and port.
pub(crate) async fn connect_primary(
    conn: &PgConnection,
) -> Result<(tokio_postgres::Client, PgTls, (String, u16)), SourceError> {
    let endpoints = conn.endpoints().map_err(|message| SourceError::Hosts { message })?;
    let tls = PgTls::new(&TlsOptions::from_connection(conn))?;
    let several = endpoints.len() > 1;
    let mut tried = Vec::new();
    let mut last = None;
    for (host, port) in endpoints {
        let client = match connect_one(conn, &host, port, &tls).await {
            Ok(client) => client,
            Err(e) if several => {
                tracing::info!(host = %host, port, error = %e, "host unreachable, trying the next one");
                tried.push(format!("{host}:{port} unreachable"));
                last = Some(Box::new(e));
                continue;
            }
            Err(e) => return Err(e),
        };
        if !several {
            return Ok((client, tls, (host, port)));
        }
        let in_recovery = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|source| SourceError::Connect { host: host.clone(), port, source })?;
        if !in_recovery.get::<_, bool>(0) {
            tracing::info!(host = %host, port, "connected to the read-write server");
            return Ok((client, tls, (host, port)));
        }
        tracing::info!(host = %host, port, "host is a standby (in recovery), trying the next one");
        tried.push(format!("{host}:{port} in recovery"));
    }
    Err(SourceError::NoPrimary { hosts: conn.host.clone(), tried: tried.join(", "), last })
}

async fn connect_one(
    conn: &PgConnection,
    host: &str,
    port: u16,
    tls: &PgTls,
) -> Result<tokio_postgres::Client, SourceError> {
    // TLS is negotiated by `tls` for both connections; tokio-postgres gets
    // the ready stream (its own TLS handling stays off).
    let mut pg = tokio_postgres::Config::new();
    pg.user(&conn.user)
        .dbname(&conn.dbname)
        .application_name("pgcdc")
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(p) = &conn.password {
        pg.password(p.expose());
    }
    let connect_err = |source| SourceError::Connect { host: host.to_owned(), port, source };
    let io = tls::connect(host, port, tls, Duration::from_secs(10)).await?;
    let (client, connection) = pg.connect_raw(io, NoTls).await.map_err(connect_err)?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "catalog connection ended");
        }
    });
    // Literals built here (incremental snapshot keys) double quotes only.
    client.batch_execute("SET standard_conforming_strings = on").await.map_err(connect_err)?;
    // `database.initial.statements`, in order, as Debezium runs them on
    // its JDBC connections (never on the replication connection).
    for statement in &conn.initial_statements {
        client
            .batch_execute(statement)
            .await
            .map_err(|source| SourceError::InitialStatement { statement: statement.clone(), source })?;
    }
    Ok(client)
}

/// Checks the slot found at `server` against the stored offset (see the
/// module docs); `streams` is false when no streaming follows
/// (`initial_only`).
pub(crate) fn check_slot(
    config: &ConnectorConfig,
    server: &(String, u16),
    slot: Option<&SlotInfo>,
    stored: Option<Lsn>,
    streams: bool,
) -> Result<(), SourceError> {
    if let Some(slot) = slot {
        let lost = slot.wal_status.as_deref() == Some("lost");
        if lost || slot.invalidation_reason.is_some() {
            return Err(SourceError::SlotInvalidated {
                slot: config.slot_name.clone(),
                reason: slot.invalidation_reason.clone().unwrap_or_else(|| "wal_removed".to_owned()),
                wal_status: slot.wal_status.clone().unwrap_or_else(|| "unknown".to_owned()),
            });
        }
        return Ok(());
    }
    let Some(stored) = stored else { return Ok(()) };
    let snapshots = matches!(config.snapshot_mode, SnapshotMode::WhenNeeded | SnapshotMode::Always);
    if !streams || snapshots || config.slot_drop_on_stop {
        return Ok(());
    }
    Err(SourceError::SlotMissing {
        connector: config.name.clone(),
        slot: config.slot_name.clone(),
        server: format!("{}:{}", server.0, server.1),
        stored,
    })
}

/// `slot.failover=true`: refused before PostgreSQL 17; an existing slot
/// without FAILOVER is altered (no process may be streaming from it).
pub(crate) async fn ensure_failover(
    config: &ConnectorConfig,
    repl: &mut ReplicationClient,
    slot: Option<&SlotInfo>,
) -> Result<(), SourceError> {
    if !config.slot.failover {
        return Ok(());
    }
    let version = repl.server_version();
    if version < FAILOVER_SLOTS_VERSION {
        return Err(SourceError::FailoverUnsupported { version: repl.parameter("server_version").unwrap_or("?").to_owned() });
    }
    if let Some(slot) = slot.filter(|s| s.failover == Some(false)) {
        if slot.synced == Some(true) {
            return Ok(());
        }
        repl.alter_slot_failover(&config.slot_name, true).await?;
        tracing::info!(slot = %config.slot_name, "slot altered with FAILOVER");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::error::{Classify, ErrorClass};

    fn config(extra: &[(&str, &str)]) -> ConnectorConfig {
        let mut props: BTreeMap<String, String> = [
            ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
            ("database.hostname", "a,b"),
            ("database.user", "u"),
            ("database.dbname", "d"),
            ("slot.name", "s"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        props.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        ConnectorConfig::from_properties("c", &props).map(|(c, _)| c).unwrap()
    }

    fn slot(wal_status: &str, reason: Option<&str>) -> SlotInfo {
        SlotInfo {
            plugin: Some("pgoutput".into()),
            database: Some("d".into()),
            active: false,
            active_pid: None,
            confirmed_flush_lsn: Some(Lsn(100)),
            restart_lsn: Some(Lsn(50)),
            wal_status: Some(wal_status.into()),
            invalidation_reason: reason.map(Into::into),
            failover: None,
            synced: None,
        }
    }

    #[test]
    fn a_missing_slot_after_streaming_fails_unless_a_snapshot_or_dropping_was_chosen() {
        let server = ("b".to_owned(), 5432);
        let err = check_slot(&config(&[]), &server, None, Some(Lsn(0x1_0000_00A0)), true).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Fatal);
        let text = err.to_string();
        for part in ["\"s\" does not exist on b:5432", "1/A0", "lost", "slot.failover", "snapshot.mode=when_needed", "DELETE /connectors/c/offsets"] {
            assert!(text.contains(part), "{part} missing from: {text}");
        }
        check_slot(&config(&[]), &server, None, None, true).expect("no stored offset: a first start creates the slot");
        check_slot(&config(&[]), &server, None, Some(Lsn(1)), false).expect("initial_only never streams");
        for (k, v) in [("snapshot.mode", "when_needed"), ("snapshot.mode", "always"), ("slot.drop.on.stop", "true")] {
            check_slot(&config(&[(k, v)]), &server, None, Some(Lsn(1)), true).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        check_slot(&config(&[]), &server, Some(&slot("reserved", None)), Some(Lsn(1_000)), true)
            .expect("a slot behind the stored offset still holds the changes after it");
    }

    #[test]
    fn an_invalidated_slot_fails_with_the_cause_whatever_the_snapshot_mode() {
        let server = ("b".to_owned(), 5432);
        let when_needed = config(&[("snapshot.mode", "when_needed")]);
        for (info, cause) in [
            (slot("lost", Some("wal_removed")), "wal_removed"),
            (slot("lost", None), "wal_removed"),
            (slot("reserved", Some("rows_removed")), "rows_removed"),
        ] {
            let err = check_slot(&when_needed, &server, Some(&info), Some(Lsn(1)), true).unwrap_err();
            assert_eq!(err.class(), ErrorClass::Fatal);
            let text = err.to_string();
            assert!(text.contains(cause) && text.contains("invalidated"), "{text}");
            assert!(text.contains("max_slot_wal_keep_size"), "{text}");
        }
        check_slot(&when_needed, &server, Some(&slot("unreserved", None)), None, true).expect("at risk, not lost yet");
    }

    #[test]
    fn failover_refusal_and_no_primary_name_the_setting() {
        let e = SourceError::FailoverUnsupported { version: "15.8".into() };
        assert_eq!(e.class(), ErrorClass::Fatal);
        assert!(e.to_string().contains("slot.failover") && e.to_string().contains("17"), "{e}");
        let e = SourceError::NoPrimary { hosts: "a,b".into(), tried: "a:1 in recovery".into(), last: None };
        assert_eq!(e.class(), ErrorClass::Transient, "a standby may be being promoted");
        assert!(e.to_string().contains("database.hostname"), "{e}");
    }
}
