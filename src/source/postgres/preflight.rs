//! `pgcdc check --connector FILE.json`: what a connector needs from its
//! PostgreSQL, checked before it runs, each result a line with the fix.
//!
//! ```text
//!   connect ─▶ server version ─▶ wal_level ─▶ slots / wal senders headroom
//!           ─▶ replication privilege ─▶ publication ─▶ captured tables
//!              (replica identity, SELECT for the snapshot) ─▶ the slot
//! ```
//!
//! Read-only: nothing is created or changed. A FAIL is something that stops
//! the connector (or, for a table whose updates PostgreSQL would refuse, its
//! writers); a WARN is something that works but loses data or surprises.

use std::fmt;

use tokio_postgres::Client;

use crate::config::connector::{ConnectorConfig, PublicationAutocreateMode, SnapshotMode};
use crate::event::TableId;
use crate::source::postgres::capture::catalog_client;
use crate::source::postgres::catalog::{list_tables, slot_info};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Warn,
    Fail,
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
    /// What to do, for a WARN or FAIL.
    pub fix: Option<String>,
}

impl Finding {
    fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
        Finding { check, verdict: Verdict::Ok, detail: detail.into(), fix: None }
    }
    fn warn(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { check, verdict: Verdict::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    fn fail(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding { check, verdict: Verdict::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.verdict {
            Verdict::Ok => "ok  ",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        };
        write!(f, "{tag} {}: {}", self.check, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n     fix: {fix}")?;
        }
        Ok(())
    }
}

/// Runs every check against the connector's database.
pub async fn check(config: &ConnectorConfig) -> Vec<Finding> {
    let conn = &config.connection;
    let client = match catalog_client(conn).await {
        Ok((client, _)) => client,
        Err(e) => {
            return vec![Finding::fail(
                "connection",
                format!("cannot connect to {}:{} as {} to database {}: {}", conn.host, conn.port, conn.user, conn.dbname, chain(&e)),
                "check database.hostname/port/user/password/dbname and sslmode, and that pg_hba.conf admits this host",
            )]
        }
    };
    let mut out = vec![Finding::ok("connection", format!("{}:{} as {} to database {}", conn.host, conn.port, conn.user, conn.dbname))];
    match checks(&client, config, &mut out).await {
        Ok(()) => {}
        Err(e) => out.push(Finding::fail("catalog", format!("a catalog query failed: {}", chain(e.as_ref())), "the user needs to read pg_catalog; see the error")),
    }
    out
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn setting(client: &Client, name: &str) -> Result<String, tokio_postgres::Error> {
    Ok(client.query_one("SELECT current_setting($1)", &[&name]).await?.get(0))
}

async fn checks(client: &Client, config: &ConnectorConfig, out: &mut Vec<Finding>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Server version.
    let version: i32 = setting(client, "server_version_num").await?.parse()?;
    let shown = setting(client, "server_version").await?;
    out.push(match version {
        v if v < 100_000 => Finding::fail("server version", format!("PostgreSQL {shown}"), "pgoutput needs PostgreSQL 10 or later; pgcdc is tested on 14 to 17"),
        v if v < 140_000 => Finding::warn("server version", format!("PostgreSQL {shown}"), "pgcdc is tested on PostgreSQL 14 to 17; streamed transactions need 14"),
        _ => Finding::ok("server version", format!("PostgreSQL {shown}")),
    });

    // wal_level.
    let wal_level = setting(client, "wal_level").await?;
    out.push(if wal_level == "logical" {
        Finding::ok("wal_level", "logical")
    } else {
        Finding::fail(
            "wal_level",
            format!("is {wal_level}: logical decoding is off"),
            "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL (on RDS/Aurora: rds.logical_replication = 1 in the parameter group; Cloud SQL: cloudsql.logical_decoding = on)",
        )
    });

    // Slot and WAL sender headroom.
    let slot = slot_info(client, &config.slot_name).await?;
    let max_slots: i64 = setting(client, "max_replication_slots").await?.parse()?;
    let used_slots: i64 = client.query_one("SELECT count(*) FROM pg_replication_slots", &[]).await?.get(0);
    out.push(if slot.is_some() || used_slots < max_slots {
        Finding::ok("max_replication_slots", format!("{used_slots} of {max_slots} in use"))
    } else {
        Finding::fail(
            "max_replication_slots",
            format!("all {max_slots} slots are in use and slot {} does not exist", config.slot_name),
            "drop unused slots (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart",
        )
    });
    let max_senders: i64 = setting(client, "max_wal_senders").await?.parse()?;
    let senders: i64 = client.query_one("SELECT count(*) FROM pg_stat_replication", &[]).await?.get(0);
    out.push(if senders < max_senders {
        Finding::ok("max_wal_senders", format!("{senders} of {max_senders} in use"))
    } else {
        Finding::fail("max_wal_senders", format!("all {max_senders} WAL senders are in use"), "raise max_wal_senders and restart PostgreSQL")
    });

    // Replication privilege: REPLICATION, superuser, or a cloud role that grants it.
    let row = client
        .query_one(
            "SELECT r.rolreplication, r.rolsuper, \
               COALESCE((SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) FROM pg_roles g \
                 WHERE g.rolname IN ('rds_replication', 'rds_superuser', 'cloudsqlsuperuser', 'azure_pg_admin', 'alloydbsuperuser') \
                   AND pg_has_role(current_user, g.oid, 'member')), '') \
             FROM pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await?;
    let (replication, superuser, cloud): (bool, bool, String) = (row.get(0), row.get(1), row.get(2));
    out.push(if replication || superuser || !cloud.is_empty() {
        let how = if superuser { "superuser".to_owned() } else if replication { "REPLICATION".to_owned() } else { format!("member of {cloud}") };
        Finding::ok("replication privilege", format!("{} has {how}", config.connection.user))
    } else {
        Finding::fail(
            "replication privilege",
            format!("{} has neither REPLICATION nor superuser", config.connection.user),
            format!("ALTER ROLE {} REPLICATION; (RDS: GRANT rds_replication TO …; Cloud SQL: ALTER USER … WITH REPLICATION)", quote(&config.connection.user)),
        )
    });

    // The captured tables and the publication.
    let filter = config.table_filter();
    let tables = list_tables(client, &|t| filter.matches(t)).await?;
    if tables.is_empty() {
        out.push(Finding::warn(
            "captured tables",
            "no table matches table.include.list / schema.include.list (and their exclude lists)",
            "check the lists: entries are regular expressions matched against schema.table",
        ));
    } else {
        out.push(Finding::ok("captured tables", format!("{} table(s)", tables.len())));
    }
    publication(client, config, &tables, superuser, out).await?;
    for table in &tables {
        table_checks(client, config, table, out).await?;
    }

    // Failover slots and the standbys (see `ha`).
    let several_hosts = config.connection.endpoints().is_ok_and(|e| e.len() > 1);
    if config.slot.failover || several_hosts {
        let state = ha::read(client, version).await?;
        out.extend(ha::findings(config.slot.failover, several_hosts, slot.as_ref().and_then(|s| s.failover), &state));
    }

    // The slot, when it exists.
    match slot {
        None => out.push(Finding::ok("slot", format!("{} does not exist yet: the connector creates it", config.slot_name))),
        Some(s) => {
            let db = config.connection.dbname.as_str();
            if s.plugin.as_deref() != Some("pgoutput") {
                out.push(Finding::fail(
                    "slot",
                    format!("{} uses plugin {} (pgcdc decodes pgoutput)", config.slot_name, s.plugin.as_deref().unwrap_or("none")),
                    "use another slot.name, or drop the slot if nothing else uses it",
                ));
            } else if s.database.as_deref() != Some(db) {
                out.push(Finding::fail(
                    "slot",
                    format!("{} belongs to database {}, not {db}", config.slot_name, s.database.as_deref().unwrap_or("?")),
                    "use another slot.name (slots are per database)",
                ));
            } else if let Some(pid) = s.active_pid {
                out.push(Finding::warn(
                    "slot",
                    format!("{} is in use by process {pid}", config.slot_name),
                    "another connector or client streams from it: stop it, or give this connector its own slot.name",
                ));
            } else {
                out.push(Finding::ok("slot", format!("{} exists (pgoutput), not in use", config.slot_name)));
            }
        }
    }
    Ok(())
}

mod ha;

fn quote(ident: &str) -> String {
    crate::source::postgres::catalog::quote_ident(ident)
}

async fn publication(
    client: &Client,
    config: &ConnectorConfig,
    tables: &[TableId],
    superuser: bool,
    out: &mut Vec<Finding>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let name = &config.publication_name;
    let existing = client
        .query_opt(
            "SELECT p.puballtables, pg_has_role(current_user, p.pubowner, 'member') FROM pg_publication p WHERE p.pubname = $1",
            &[name],
        )
        .await?;
    let mode = config.publication_autocreate_mode;
    let finding = match (existing, mode) {
        (None, PublicationAutocreateMode::Disabled) => Finding::fail(
            "publication",
            format!("{name} does not exist and publication.autocreate.mode is disabled"),
            format!("CREATE PUBLICATION {} FOR TABLE …; or set publication.autocreate.mode=filtered", quote(name)),
        ),
        (None, PublicationAutocreateMode::AllTables) if !superuser => Finding::fail(
            "publication",
            format!("{name} does not exist and creating it FOR ALL TABLES needs a superuser"),
            format!("have a superuser run CREATE PUBLICATION {} FOR ALL TABLES, or use publication.autocreate.mode=filtered", quote(name)),
        ),
        (None, PublicationAutocreateMode::Filtered) => {
            let not_owned = not_owned(client, tables).await?;
            if not_owned.is_empty() || superuser {
                Finding::ok("publication", format!("{name} does not exist yet: the connector creates it for the captured tables"))
            } else {
                Finding::fail(
                    "publication",
                    format!("{name} does not exist; creating it needs ownership of {}", list(&not_owned)),
                    "create the publication as the tables' owner, or grant the owning role to the connector's user",
                )
            }
        }
        (None, PublicationAutocreateMode::AllTables) => Finding::ok("publication", format!("{name} does not exist yet: the connector creates it FOR ALL TABLES")),
        (Some(row), _) => {
            let (all, owner): (bool, bool) = (row.get(0), row.get(1));
            let published: Vec<TableId> = client
                .query("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", &[name])
                .await?
                .into_iter()
                .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect();
            let missing: Vec<TableId> = tables.iter().filter(|t| !published.contains(t)).cloned().collect();
            if mode == PublicationAutocreateMode::Filtered && !owner && !superuser && (all || !missing.is_empty()) {
                Finding::fail(
                    "publication",
                    format!("{name} must be altered to the captured tables but is owned by another role"),
                    "have its owner run ALTER PUBLICATION … SET TABLE …, or set publication.autocreate.mode=disabled",
                )
            } else if mode == PublicationAutocreateMode::Disabled && !missing.is_empty() {
                Finding::warn(
                    "publication",
                    format!("{name} does not publish {}: their changes are not captured", list(&missing)),
                    format!("ALTER PUBLICATION {} ADD TABLE …;", quote(name)),
                )
            } else {
                Finding::ok("publication", format!("{name} exists{}", if all { " (FOR ALL TABLES)" } else { "" }))
            }
        }
    };
    out.push(finding);
    Ok(())
}

async fn not_owned(client: &Client, tables: &[TableId]) -> Result<Vec<TableId>, tokio_postgres::Error> {
    let mut out = Vec::new();
    for t in tables {
        let owned: bool = client
            .query_one(
                "SELECT pg_has_role(current_user, c.relowner, 'member') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relname = $2",
                &[&t.schema, &t.table],
            )
            .await?
            .get(0);
        if !owned {
            out.push(t.clone());
        }
    }
    Ok(out)
}

fn list(tables: &[TableId]) -> String {
    let mut names: Vec<String> = tables.iter().take(5).map(|t| format!("{}.{}", t.schema, t.table)).collect();
    if tables.len() > 5 {
        names.push(format!("and {} more", tables.len() - 5));
    }
    names.join(", ")
}

/// Replica identity and, when the snapshot reads, SELECT on one captured table.
async fn table_checks(
    client: &Client,
    config: &ConnectorConfig,
    table: &TableId,
    out: &mut Vec<Finding>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let row = client
        .query_one(
            "SELECT c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), \
               has_table_privilege(c.oid, 'SELECT') \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
            &[&table.schema, &table.table],
        )
        .await?;
    let (identity, has_pk, select): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
    let name = format!("{}.{}", table.schema, table.table);
    let alter = format!("ALTER TABLE {}.{} REPLICA IDENTITY FULL", quote(&table.schema), quote(&table.table));
    out.push(match (identity.as_str(), has_pk) {
        ("d", false) => Finding::fail(
            "replica identity",
            format!("{name} has no primary key and REPLICA IDENTITY DEFAULT: PostgreSQL refuses its UPDATEs and DELETEs once it is published, and events have no key"),
            format!("add a primary key, or {alter}"),
        ),
        ("n", _) => Finding::fail(
            "replica identity",
            format!("{name} has REPLICA IDENTITY NOTHING: PostgreSQL refuses its UPDATEs and DELETEs once it is published"),
            format!("{alter} (or USING INDEX of a unique index)"),
        ),
        ("d", true) => Finding::ok("replica identity", format!("{name}: primary key (updates and deletes carry the key; `before` only with FULL)")),
        ("f", _) => Finding::ok("replica identity", format!("{name}: FULL")),
        _ => Finding::ok("replica identity", format!("{name}: USING INDEX")),
    });
    if !select {
        let grant = format!("GRANT SELECT ON {}.{} TO {};", quote(&table.schema), quote(&table.table), quote(&config.connection.user));
        out.push(if config.snapshot_mode == SnapshotMode::NoData {
            Finding::warn("select privilege", format!("{} cannot SELECT {name}: incremental snapshots of it would fail", config.connection.user), grant)
        } else {
            Finding::fail("select privilege", format!("{} cannot SELECT {name}, which the initial snapshot reads", config.connection.user), grant)
        });
    }
    Ok(())
}

/// Whether any finding is a FAIL.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}
