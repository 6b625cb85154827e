//! Catalog queries over a regular SQL connection (never the replication one):
//! table and column metadata, table listing, publication and slot facts.
//!
//! pgoutput's Relation message lacks what Debezium's schemas need — NOT NULL,
//! the primary key, enum labels, domain bases — so the relation cache joins it
//! with [`load_table`] by column name.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::value::ColumnType;
use crate::config::connector::PublicationAutocreateMode;
use crate::error::{Classify, ErrorClass};
use crate::event::{ReplicaIdentity, TableId};
use crate::lsn::Lsn;

/// A catalog query failed or returned something unusable.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog query failed: {context}")]
    Query {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("relation {relation_id} does not exist (dropped since the change was written?)")]
    RelationNotFound { relation_id: u32 },
    #[error("type {oid} not found in pg_type")]
    TypeNotFound { oid: u32 },
    #[error("publication {name:?} does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION {name} FOR ALL TABLES) or set publication.autocreate.mode to all_tables or filtered")]
    PublicationMissing { name: String },
    #[error("publication.autocreate.mode=filtered but no captured table matches the include/exclude lists")]
    NoTablesToPublish,
    #[error("unexpected catalog value: {0}")]
    Unexpected(&'static str),
}

impl Classify for CatalogError {
    fn class(&self) -> ErrorClass {
        match self {
            CatalogError::Query { source, .. } => classify_pg(source),
            CatalogError::RelationNotFound { .. } => ErrorClass::Data,
            _ => ErrorClass::Fatal,
        }
    }
}

/// Connection loss and server shutdown are transient; everything else (bad
/// privileges, missing objects, syntax) needs a human.
pub fn classify_pg(err: &tokio_postgres::Error) -> ErrorClass {
    let Some(code) = err.code() else {
        // No SQLSTATE: I/O error or closed connection.
        return ErrorClass::Transient;
    };
    let transient = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::QUERY_CANCELED,
        SqlState::LOCK_NOT_AVAILABLE,
    ];
    if transient.contains(code) || code.code().starts_with("08") {
        ErrorClass::Transient
    } else {
        ErrorClass::Fatal
    }
}

fn q(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> CatalogError {
    move |source| CatalogError::Query { context, source }
}

/// One column of a table as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogColumn {
    pub name: String,
    pub attnum: i16,
    /// Type with enum labels, array element and domain base resolved.
    pub column_type: ColumnType,
    /// `attnotnull`.
    pub not_null: bool,
    /// `pg_get_expr(adbin)` of the column default.
    pub default_expr: Option<String>,
    /// 0-based position within the record key, if part of it: the primary
    /// key or, for a table without one, its first unique index by name (as
    /// Debezium falls back to `DatabaseMetaData.getIndexInfo(unique)`).
    pub primary_key_position: Option<usize>,
}

/// A table as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogTable {
    pub relation_id: u32,
    pub id: TableId,
    pub replica_identity: ReplicaIdentity,
    /// Live columns in `attnum` order.
    pub columns: Vec<CatalogColumn>,
    /// Record key column names in key order (Debezium's record key order):
    /// the primary key, else the first unique index by name.
    pub primary_key: Vec<String>,
    /// Types, by OID, of Relation-message columns this catalog no longer
    /// describes (dropped since the WAL was written, or of another type now),
    /// resolved from `pg_type` ([`resolve_message_types`]); Debezium's type
    /// registry resolves them by OID too (e.g. an hstore column added and
    /// dropped later is still an hstore).
    pub message_types: std::collections::BTreeMap<u32, ColumnType>,
}

impl CatalogTable {
    pub fn column(&self, name: &str) -> Option<&CatalogColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Resolves a type (recursively through domains and array elements).
pub fn load_type(client: &Client, oid: u32, type_modifier: i32) -> BoxFut<'_, Result<ColumnType, CatalogError>> {
    Box::pin(async move {
        let row = client
            .query_opt(
                "SELECT t.typname::text, t.typtype::text, t.typcategory::text, t.typelem, t.typbasetype, t.typtypmod, \
                 (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) \
                 FROM pg_type t WHERE t.oid = $1",
                &[&oid],
            )
            .await
            .map_err(q("reading pg_type"))?
            .ok_or(CatalogError::TypeNotFound { oid })?;
        let name: String = row.get(0);
        let typtype: String = row.get(1);
        let category: String = row.get(2);
        let elem: u32 = row.get(3);
        let base: u32 = row.get(4);
        let base_typmod: i32 = row.get(5);
        let labels: Option<Vec<String>> = row.get(6);
        let mut ty = ColumnType::new(oid, type_modifier, name);
        match typtype.as_str() {
            "e" => ty.enum_values = Some(labels.unwrap_or_default()),
            "d" => ty.domain_base = Some(Box::new(load_type(client, base, base_typmod).await?)),
            _ if category == "A" && elem != 0 => {
                ty.element = Some(Box::new(load_type(client, elem, type_modifier).await?));
            }
            _ => {}
        }
        Ok(ty)
    })
}

/// Loads a table's metadata by relation OID.
pub async fn load_table(client: &Client, relation_id: u32) -> Result<CatalogTable, CatalogError> {
    let head = client
        .query_opt(
            "SELECT n.nspname::text, c.relname::text, c.relreplident::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            &[&relation_id],
        )
        .await
        .map_err(q("reading pg_class"))?
        .ok_or(CatalogError::RelationNotFound { relation_id })?;
    let ident: String = head.get(2);
    let replica_identity = ident
        .bytes()
        .next()
        .and_then(ReplicaIdentity::from_byte)
        .ok_or(CatalogError::Unexpected("pg_class.relreplident"))?;
    let rows = client
        .query(
            "SELECT a.attname::text, a.attnum, a.atttypid, a.atttypmod, a.attnotnull, \
                    pg_get_expr(d.adbin, d.adrelid), \
                    array_position(i.indkey::int2[], a.attnum) - array_lower(i.indkey::int2[], 1) \
             FROM pg_attribute a \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN LATERAL (SELECT ix.indkey FROM pg_index ix JOIN pg_class ic ON ic.oid = ix.indexrelid \
                                WHERE ix.indrelid = a.attrelid AND (ix.indisprimary OR ix.indisunique) \
                                ORDER BY ix.indisprimary DESC, ic.relname LIMIT 1) i ON true \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            &[&relation_id],
        )
        .await
        .map_err(q("reading pg_attribute"))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let pk_pos: Option<i32> = row.get(6);
        columns.push(CatalogColumn {
            name: row.get(0),
            attnum: row.get(1),
            column_type: load_type(client, row.get(2), row.get(3)).await?,
            not_null: row.get(4),
            default_expr: row.get(5),
            // int2vector subscripts start at 0; the query yields a 0-based position.
            primary_key_position: pk_pos.and_then(|p| usize::try_from(p).ok()),
        });
    }
    let mut pk: Vec<(usize, String)> =
        columns.iter().filter_map(|c| c.primary_key_position.map(|p| (p, c.name.clone()))).collect();
    pk.sort();
    Ok(CatalogTable {
        relation_id,
        id: TableId::new(head.get::<_, String>(0), head.get::<_, String>(1)),
        replica_identity,
        columns,
        primary_key: pk.into_iter().map(|(_, n)| n).collect(),
        message_types: std::collections::BTreeMap::new(),
    })
}

/// Fills `table.message_types` for the `(name, type OID)` columns of a
/// Relation message that the catalog does not describe with that type and
/// whose OID is not a built-in type. A type that no longer exists is left
/// out (the column is then mapped by OID only).
pub async fn resolve_message_types(
    client: &Client,
    table: &mut CatalogTable,
    columns: Vec<(String, u32)>,
) -> Result<(), CatalogError> {
    for (name, type_oid) in columns {
        let name = name.as_str();
        let described = table.column(name).is_some_and(|c| c.column_type.oid == type_oid);
        if described || crate::source::postgres::value::oid::builtin_name(type_oid).is_some() || table.message_types.contains_key(&type_oid) {
            continue;
        }
        match load_type(client, type_oid, -1).await {
            Ok(ty) => {
                table.message_types.insert(type_oid, ty);
            }
            Err(CatalogError::TypeNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Ordinary and partitioned tables outside the system schemas that `filter` accepts.
pub async fn list_tables(client: &Client, filter: &(dyn Fn(&TableId) -> bool + Sync)) -> Result<Vec<TableId>, CatalogError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(q("listing tables"))?;
    Ok(rows
        .into_iter()
        .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|t| filter(t))
        .collect())
}

/// `"ident"` with embedded quotes doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn table_list(tables: &[TableId]) -> String {
    tables
        .iter()
        .map(|t| format!("{}.{}", quote_ident(&t.schema), quote_ident(&t.table)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Makes sure the publication exists as `publication.autocreate.mode` wants it.
pub async fn ensure_publication(
    client: &Client,
    name: &str,
    mode: PublicationAutocreateMode,
    tables: &[TableId],
) -> Result<(), CatalogError> {
    let existing = client
        .query_opt("SELECT puballtables FROM pg_publication WHERE pubname = $1", &[&name])
        .await
        .map_err(q("reading pg_publication"))?;
    match (mode, existing) {
        (PublicationAutocreateMode::Disabled, None) => Err(CatalogError::PublicationMissing { name: name.to_owned() }),
        (PublicationAutocreateMode::Disabled, Some(_)) => Ok(()),
        (PublicationAutocreateMode::AllTables, Some(_)) => Ok(()),
        (PublicationAutocreateMode::AllTables, None) => {
            let sql = format!("CREATE PUBLICATION {} FOR ALL TABLES", quote_ident(name));
            tracing::info!(publication = name, "creating publication for all tables");
            create_publication(client, &sql).await
        }
        (PublicationAutocreateMode::Filtered, _) if tables.is_empty() => Err(CatalogError::NoTablesToPublish),
        (PublicationAutocreateMode::Filtered, None) => {
            let sql = format!("CREATE PUBLICATION {} FOR TABLE {}", quote_ident(name), table_list(tables));
            tracing::info!(publication = name, tables = tables.len(), "creating filtered publication");
            create_publication(client, &sql).await
        }
        (PublicationAutocreateMode::Filtered, Some(row)) => {
            let all: bool = row.get(0);
            let current: BTreeSet<TableId> = client
                .query("SELECT schemaname::text, tablename::text FROM pg_publication_tables WHERE pubname = $1", &[&name])
                .await
                .map_err(q("reading pg_publication_tables"))?
                .into_iter()
                .map(|r| TableId::new(r.get::<_, String>(0), r.get::<_, String>(1)))
                .collect();
            let wanted: BTreeSet<TableId> = tables.iter().cloned().collect();
            if !all && current == wanted {
                return Ok(());
            }
            let sql = format!("ALTER PUBLICATION {} SET TABLE {}", quote_ident(name), table_list(tables));
            tracing::info!(publication = name, tables = tables.len(), "updating filtered publication table set");
            client.batch_execute(&sql).await.map_err(q("altering publication"))
        }
    }
}

/// Runs `CREATE PUBLICATION`; one that another connector of the same
/// database created in the meantime (a race between the check and the
/// create) counts as created.
async fn create_publication(client: &Client, sql: &str) -> Result<(), CatalogError> {
    match client.batch_execute(sql).await {
        Err(e) if matches!(e.code(), Some(c) if *c == SqlState::UNIQUE_VIOLATION || *c == SqlState::DUPLICATE_OBJECT) => {
            tracing::info!("publication created concurrently by another connector");
            Ok(())
        }
        other => other.map_err(q("creating publication")),
    }
}

/// A replication slot's state (`pg_replication_slots`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub plugin: Option<String>,
    pub database: Option<String>,
    pub active: bool,
    /// The process streaming from the slot, while it is active.
    pub active_pid: Option<i32>,
    pub confirmed_flush_lsn: Option<Lsn>,
    pub restart_lsn: Option<Lsn>,
    /// `wal_status` (PostgreSQL 13+): `reserved`, `extended`, `unreserved`,
    /// or `lost` (the WAL the slot needs was removed).
    pub wal_status: Option<String>,
    /// `invalidation_reason` (PostgreSQL 17+); before, `wal_removed` for
    /// `wal_status = lost` and `rows_removed` for 16's `conflicting` (which
    /// is true for any invalidation): why the server invalidated the slot.
    pub invalidation_reason: Option<String>,
    /// `failover` (PostgreSQL 17+): standbys synchronize the slot.
    pub failover: Option<bool>,
    /// `synced` (PostgreSQL 17+): the slot is a standby's copy of a primary's.
    pub synced: Option<bool>,
}

/// The slot's state, or `None` when no slot has that name.
pub async fn slot_info(client: &Client, slot_name: &str) -> Result<Option<SlotInfo>, CatalogError> {
    let row = client
        .query_opt(
            // Columns of newer servers through to_jsonb: NULL where they do not exist.
            "SELECT plugin::text, database::text, active, confirmed_flush_lsn::text, restart_lsn::text, active_pid, \
                    to_jsonb(s)->>'wal_status', \
                    COALESCE(to_jsonb(s)->>'invalidation_reason', \
                             CASE WHEN to_jsonb(s)->>'wal_status' = 'lost' THEN 'wal_removed' \
                                  WHEN to_jsonb(s)->>'conflicting' = 'true' THEN 'rows_removed' END), \
                    (to_jsonb(s)->>'failover')::bool, (to_jsonb(s)->>'synced')::bool \
             FROM pg_replication_slots s WHERE slot_name = $1",
            &[&slot_name],
        )
        .await
        .map_err(q("reading pg_replication_slots"))?;
    let Some(row) = row else { return Ok(None) };
    let lsn = |i: usize| -> Result<Option<Lsn>, CatalogError> {
        let text: Option<String> = row.get(i);
        text.map(|t| t.parse::<Lsn>().map_err(|_| CatalogError::Unexpected("slot LSN"))).transpose()
    };
    Ok(Some(SlotInfo {
        plugin: row.get(0),
        database: row.get(1),
        active: row.get(2),
        confirmed_flush_lsn: lsn(3)?,
        restart_lsn: lsn(4)?,
        active_pid: row.get(5),
        wal_status: row.get(6),
        invalidation_reason: row.get(7),
        failover: row.get(8),
        synced: row.get(9),
    }))
}

/// How far behind the end of WAL the slot is, in bytes: (end − `restart_lsn`
/// = the WAL the slot keeps, end − `confirmed_flush_lsn`); `None` without
/// such a slot. On a standby the end is the last WAL received.
pub async fn slot_lag(client: &Client, slot_name: &str) -> Result<Option<(i64, i64)>, CatalogError> {
    let row = client
        .query_opt(
            "WITH e AS (SELECT CASE WHEN pg_is_in_recovery() \
                 THEN COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) ELSE pg_current_wal_insert_lsn() END AS lsn) \
             SELECT COALESCE(GREATEST(e.lsn - s.restart_lsn, 0), 0)::bigint, \
                    COALESCE(GREATEST(e.lsn - s.confirmed_flush_lsn, 0), 0)::bigint \
             FROM pg_replication_slots s, e WHERE s.slot_name = $1",
            &[&slot_name],
        )
        .await
        .map_err(q("reading the slot's lag"))?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The server's current end of WAL: `pg_current_wal_insert_lsn()` on a
/// primary (at or after `pg_current_wal_lsn()`: WAL inserted but not yet
/// written is still WAL this server has), the last position received or
/// replayed on a standby. No valid offset or slot position lies beyond it.
pub async fn current_wal_lsn(client: &Client) -> Result<Lsn, CatalogError> {
    let row = client
        .query_one(
            "SELECT (CASE WHEN pg_is_in_recovery() \
               THEN COALESCE(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) \
               ELSE pg_current_wal_insert_lsn() END)::text",
            &[],
        )
        .await
        .map_err(q("reading the current WAL position"))?;
    let text: Option<String> = row.get(0);
    text.and_then(|t| t.parse::<Lsn>().ok()).ok_or(CatalogError::Unexpected("current WAL position"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("orders"), "\"orders\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(
            table_list(&[TableId::new("public", "a"), TableId::new("S", "b c")]),
            "\"public\".\"a\", \"S\".\"b c\""
        );
    }

    #[test]
    fn errors_classify() {
        assert_eq!(CatalogError::PublicationMissing { name: "p".into() }.class(), ErrorClass::Fatal);
        assert!(CatalogError::PublicationMissing { name: "p".into() }.to_string().contains("publication.autocreate.mode"));
        assert_eq!(CatalogError::RelationNotFound { relation_id: 1 }.class(), ErrorClass::Data);
    }
}
