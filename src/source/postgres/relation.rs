//! The relation cache: pgoutput Relation messages + catalog facts → [`TableSchema`].
//!
//! pgoutput sends a Relation message before the first change of a table in a
//! session and again whenever its shape changes. It carries column names,
//! type OIDs and type modifiers, but not NOT NULL, the primary key or type
//! details; those come from the catalog ([`CatalogTable`]) and are matched by
//! column *name* — dropped columns are absent from pgoutput but their attnums
//! leave holes, so positions cannot be used.
//!
//! ```text
//!   Relation(id) ──┐
//!                  ├─▶ apply ─▶ CachedRelation{ TableSchema (versioned), tuple position → column, types }
//!   load_table(id)─┘
//!   TupleData ─────────▶ decode_row ─▶ Row (one Connect value per TableSchema column)
//! ```
//!
//! Columns Debezium cannot map (unknown types without
//! `include.unknown.datatypes`) are left out of the schema and skipped in rows.
//!
//! Each column schema carries the column default as Debezium parses it
//! ([`value::parse_default`]), and each primary-key column its position in
//! the key, which orders the record key's fields.

use std::collections::HashMap;
use std::sync::Arc;

use super::catalog::CatalogTable;
use super::columns::{ColumnMapper, ColumnRules};
use super::pgoutput::{RelationBody, TupleData, TupleValue};
use super::value::{self, ColumnType, ValueError, ValueOptions};
use crate::error::{Classify, ErrorClass};
use crate::event::{ColumnSchema, KeyMapping, ReplicaIdentity, Row, TableId, TableSchema};
use crate::schema::Value;

/// A relation or row could not be turned into the change model.
#[derive(Debug, thiserror::Error)]
pub enum RelationError {
    #[error("change for relation {0} arrived before its Relation message")]
    UnknownRelation(u32),
    #[error("relation {relation_id} has unknown replica identity {identity:#04x}")]
    BadReplicaIdentity { relation_id: u32, identity: u8 },
    #[error("tuple for {table} has {got} values but its Relation message had {expected} columns")]
    TupleLength { table: TableId, expected: usize, got: usize },
    #[error("column {table}.{column}: {source}")]
    Value {
        table: TableId,
        column: String,
        #[source]
        source: Box<ValueError>,
    },
    #[error("column {table}.{column} holds text that is not UTF-8")]
    NotUtf8 { table: TableId, column: String },
}

impl Classify for RelationError {
    fn class(&self) -> ErrorClass {
        match self {
            RelationError::UnknownRelation(_) | RelationError::BadReplicaIdentity { .. } => ErrorClass::Fatal,
            _ => ErrorClass::Data,
        }
    }
}

/// One table's current shape plus what row decoding needs.
#[derive(Clone, Debug)]
pub struct CachedRelation {
    pub table: Arc<TableSchema>,
    /// For each pgoutput tuple position, the index into `table.columns`
    /// (`None`: a column Debezium leaves out).
    positions: Vec<Option<usize>>,
    /// Resolved type per `table.columns` entry.
    types: Vec<ColumnType>,
    /// Value mapper (mask, truncate, hash) per `table.columns` entry.
    mappers: Vec<Option<ColumnMapper>>,
}

impl CachedRelation {
    /// Decodes one streamed tuple (see [`decode_row`]).
    pub fn decode_row(&self, tuple: &TupleData, opts: &ValueOptions) -> Result<Row, RelationError> {
        decode_row(self, tuple, opts)
    }

    /// Decodes one row read by a snapshot (COPY): as [`decode_row`], but
    /// values Debezium drops only when streamed (`name`) are kept, as its
    /// JDBC snapshot keeps them.
    pub fn decode_snapshot_row(&self, tuple: &TupleData, opts: &ValueOptions) -> Result<Row, RelationError> {
        decode(self, tuple, opts, true)
    }
}

/// Relations by OID.
#[derive(Debug, Default)]
pub struct RelationCache {
    entries: HashMap<u32, CachedRelation>,
    /// Column filters, mappers and key overrides (see `columns`).
    rules: ColumnRules,
}

impl RelationCache {
    #[cfg(test)]
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache applying the connector's column options.
    pub fn with_rules(rules: ColumnRules) -> Self {
        RelationCache { entries: HashMap::new(), rules }
    }

    /// Builds (or rebuilds) a relation's schema. The returned `Arc` is the old
    /// one when nothing changed; otherwise a new one with `version + 1`.
    pub fn apply(
        &mut self,
        rel: &RelationBody,
        catalog: &CatalogTable,
        opts: &ValueOptions,
    ) -> Result<Arc<TableSchema>, RelationError> {
        let id = TableId::new(rel.namespace.clone(), rel.name.clone());
        let replica_identity = ReplicaIdentity::from_byte(rel.replica_identity).ok_or(
            RelationError::BadReplicaIdentity { relation_id: rel.relation_id, identity: rel.replica_identity },
        )?;
        let mut columns = Vec::with_capacity(rel.columns.len());
        let mut types = Vec::with_capacity(rel.columns.len());
        let mut positions = Vec::with_capacity(rel.columns.len());
        let mut mappers = Vec::with_capacity(rel.columns.len());
        let key_override = self.rules.key_columns(&id);
        for rc in &rel.columns {
            if !self.rules.captured(&id, &rc.name) {
                positions.push(None);
                continue;
            }
            let cat = catalog.column(&rc.name);
            // The catalog's type details only count when it describes the same column type.
            let matched = cat.filter(|c| c.column_type.oid == rc.type_oid);
            let column_type = match cat {
                Some(c) if matched.is_some() => {
                    ColumnType { type_modifier: rc.type_modifier, ..c.column_type.clone() }
                }
                // A type the catalog no longer uses here, resolved by OID.
                _ if catalog.message_types.contains_key(&rc.type_oid) => {
                    let ty = &catalog.message_types[&rc.type_oid];
                    ColumnType { type_modifier: rc.type_modifier, ..ty.clone() }
                }
                other => {
                    tracing::warn!(table = %id, column = %rc.name, type_oid = rc.type_oid,
                        "catalog does not match the relation message; mapping the column by oid only");
                    // The catalog's name belongs to its (other) type: name the message's type.
                    let name = value::oid::builtin_name(rc.type_oid)
                        .map(str::to_owned)
                        .or_else(|| other.map(|c| c.column_type.type_name.clone()))
                        .unwrap_or_default();
                    match value::oid::builtin_array_element(rc.type_oid) {
                        Some(elem) => {
                            let elem_name = value::oid::builtin_name(elem).unwrap_or_default();
                            ColumnType::array(rc.type_oid, rc.type_modifier, format!("_{elem_name}"), ColumnType::new(elem, -1, elem_name))
                        }
                        None => ColumnType::new(rc.type_oid, rc.type_modifier, name),
                    }
                }
            };
            // Debezium treats a column it cannot find in the catalog as optional.
            let nullable = cat.is_none_or(|c| !c.not_null);
            let mut schema = match value::column_schema(&column_type, nullable, opts) {
                Ok(s) => s,
                Err(ValueError::UnsupportedType { type_name, oid }) => {
                    tracing::warn!(table = %id, column = %rc.name, type_name = %type_name, oid,
                        "column type has no mapping; leaving the column out");
                    positions.push(None);
                    continue;
                }
                Err(source) => {
                    return Err(RelationError::Value { table: id, column: rc.name.clone(), source: Box::new(source) })
                }
            };
            // Like Debezium, the default is taken from the catalog by column name
            // and parsed as the Relation message's type: the catalog may already
            // be ahead of the WAL (e.g. the column's type changed since), and
            // Debezium still reports the default then.
            // (Only when the message's type is known by name: a default parsed
            // as another type than the column's would not fit its schema.)
            let default_source = cat.filter(|_| matched.is_some() || value::oid::builtin_name(rc.type_oid).is_some());
            if let Some(expr) = default_source.and_then(|c| c.default_expr.as_deref()) {
                match value::parse_default(&column_type, &schema, expr, opts) {
                    Ok(Some(default)) => Arc::make_mut(&mut schema).default = Some(default),
                    Ok(None) => {}
                    // Debezium warns and leaves the field without a default.
                    Err(err) => tracing::warn!(table = %id, column = %rc.name, error = %err,
                        "column default not representable; leaving it out of the schema"),
                }
            }
            let key_position = match key_override {
                // message.key.columns: the key columns in the order given.
                Some(keys) => keys.iter().position(|k| k.eq_ignore_ascii_case(&rc.name)),
                None => cat.and_then(|c| c.primary_key_position),
            }
            .map(|p| u16::try_from(p).unwrap_or(u16::MAX));
            let raw_schema = Arc::clone(&schema);
            let mapper = self.rules.mapper(&id, &rc.name, rc.type_oid, declared_length(rc.type_oid, rc.type_modifier));
            let mapper = mapper.map(|(mapper, parameter)| {
                if let Some((k, v)) = parameter {
                    Arc::make_mut(&mut schema).parameters.push((k.to_owned(), v));
                }
                mapper
            });
            // A key column keeps its raw value in the row (Debezium keys it
            // unmapped); the envelope maps it for before/after.
            let (mapper, key_mapping) = match mapper {
                Some(mapper) if key_position.is_some() => (None, Some(KeyMapping { mapper, key_schema: raw_schema })),
                other => (other, None),
            };
            positions.push(Some(columns.len()));
            columns.push(ColumnSchema {
                name: rc.name.clone(),
                type_oid: rc.type_oid,
                type_modifier: rc.type_modifier,
                type_name: column_type.type_name.clone(),
                nullable,
                is_key: key_position.is_some(),
                key_position,
                required_fallback: super::value::required_fallback(rc.type_oid, rc.type_modifier, &column_type.type_name, &schema),
                schema,
                key_mapping,
            });
            types.push(column_type);
            mappers.push(mapper.filter(|m| *m != ColumnMapper::Passthrough));
        }
        let previous = self.entries.get(&rel.relation_id).map(|e| e.table.clone());
        let unchanged = previous.as_ref().filter(|p| {
            p.id == id && p.columns == columns && p.replica_identity == replica_identity
        });
        let table = match unchanged {
            Some(p) => p.clone(),
            None => Arc::new(TableSchema {
                relation_id: rel.relation_id,
                id,
                columns,
                replica_identity,
                version: previous.map_or(1, |p| p.version + 1),
            }),
        };
        self.entries.insert(rel.relation_id, CachedRelation { table: table.clone(), positions, types, mappers });
        Ok(table)
    }

    pub fn get(&self, relation_id: u32) -> Option<&CachedRelation> {
        self.entries.get(&relation_id)
    }

    /// Like [`get`](Self::get), as an error when absent.
    pub fn require(&self, relation_id: u32) -> Result<&CachedRelation, RelationError> {
        self.get(relation_id).ok_or(RelationError::UnknownRelation(relation_id))
    }
}

/// The declared length of a `varchar(n)` / `char(n)` column (Debezium's
/// `Column.length()` for the mappers); `None` when unbounded.
fn declared_length(type_oid: u32, type_modifier: i32) -> Option<usize> {
    match type_oid {
        value::oid::VARCHAR | value::oid::BPCHAR if type_modifier >= 4 => usize::try_from(type_modifier - 4).ok(),
        _ => None,
    }
}

/// Maps a pgoutput tuple to a row: `Null` → null, unchanged TOAST → the
/// placeholder, text → [`value::parse_text`], binary → error.
pub fn decode_row(rel: &CachedRelation, tuple: &TupleData, opts: &ValueOptions) -> Result<Row, RelationError> {
    decode(rel, tuple, opts, false)
}

fn decode(rel: &CachedRelation, tuple: &TupleData, opts: &ValueOptions, snapshot: bool) -> Result<Row, RelationError> {
    let table = &rel.table;
    if tuple.len() != rel.positions.len() {
        return Err(RelationError::TupleLength { table: table.id.clone(), expected: rel.positions.len(), got: tuple.len() });
    }
    let mut row = vec![Value::Null; table.columns.len()];
    for (value_in, pos) in tuple.iter().zip(&rel.positions) {
        let Some(i) = *pos else { continue };
        let column = &table.columns[i];
        let ty = &rel.types[i];
        let err = |source| RelationError::Value { table: table.id.clone(), column: column.name.clone(), source: Box::new(source) };
        row[i] = match value_in {
            TupleValue::Null => Value::Null,
            TupleValue::UnchangedToast => value::unavailable_placeholder_for(ty, &column.schema, opts),
            TupleValue::Text(_) if !snapshot && value::streamed_value_dropped(ty, opts) => Value::Null,
            TupleValue::Text(bytes) => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|_| RelationError::NotUtf8 { table: table.id.clone(), column: column.name.clone() })?;
                value::parse_text(ty, &column.schema, text, opts).map_err(err)?
            }
            TupleValue::Binary(_) => return Err(err(ValueError::Binary { type_name: ty.type_name.clone() })),
        };
        if let Some(mapper) = &rel.mappers[i] {
            row[i] = mapper.apply(std::mem::replace(&mut row[i], Value::Null));
        }
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::source::postgres::catalog::CatalogColumn;
    use crate::source::postgres::pgoutput::RelationColumn;
    use crate::source::postgres::value::oid;

    fn rel_col(name: &str, type_oid: u32, typmod: i32) -> RelationColumn {
        RelationColumn { is_key: false, name: name.into(), type_oid, type_modifier: typmod }
    }

    fn cat_col(name: &str, attnum: i16, ty: ColumnType, not_null: bool, pk: Option<usize>) -> CatalogColumn {
        CatalogColumn { name: name.into(), attnum, column_type: ty, not_null, default_expr: None, primary_key_position: pk }
    }

    fn fixture() -> (RelationBody, CatalogTable) {
        let rel = RelationBody {
            xid: None,
            relation_id: 42,
            namespace: "public".into(),
            name: "t".into(),
            replica_identity: b'd',
            columns: vec![rel_col("id", oid::INT4, -1), rel_col("lsn", 3220, -1), rel_col("body", oid::TEXT, -1)],
        };
        let cat = CatalogTable {
            relation_id: 42,
            id: TableId::new("public", "t"),
            replica_identity: ReplicaIdentity::Default,
            // `body` has attnum 4: a dropped column left a hole at 3.
            columns: vec![
                cat_col("id", 1, ColumnType::new(oid::INT4, -1, "int4"), true, Some(0)),
                cat_col("lsn", 2, ColumnType::new(3220, -1, "pg_lsn"), false, None),
                cat_col("body", 4, ColumnType::new(oid::TEXT, -1, "text"), false, None),
            ],
            primary_key: vec!["id".into()],
            message_types: Default::default(),
        };
        (rel, cat)
    }

    #[test]
    fn builds_schema_skipping_unmapped_columns() {
        let (rel, cat) = fixture();
        let mut cache = RelationCache::new();
        let table = cache.apply(&rel, &cat, &ValueOptions::default()).unwrap();
        assert_eq!(table.version, 1);
        let names: Vec<_> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "body"]);
        assert!(table.columns[0].is_key && !table.columns[0].nullable && !table.columns[0].schema.optional);
        assert!(!table.columns[1].is_key && table.columns[1].schema.optional);

        let row = cache
            .get(42)
            .unwrap()
            .decode_row(
                &vec![TupleValue::Text(Bytes::from_static(b"7")), TupleValue::Text(Bytes::from_static(b"0/1")), TupleValue::UnchangedToast],
                &ValueOptions::default(),
            )
            .unwrap();
        assert_eq!(row, vec![Value::Int32(7), Value::String("__debezium_unavailable_value".into())]);
    }

    #[test]
    fn a_mapped_key_column_keeps_its_raw_value_and_schema_for_the_key() {
        // column.mask.with.3.chars on the key `id` (int4: values unchanged,
        // parameter only) and on `body` (text: masked while decoding).
        let (rel, cat) = fixture();
        let options = crate::config::columns::ColumnOptions {
            mask_with: vec![(3, vec![r"public\.t\.(id|body)".into()])],
            ..Default::default()
        };
        let mut cache = RelationCache::with_rules(ColumnRules::new(&options));
        let table = cache.apply(&rel, &cat, &ValueOptions::default()).unwrap();
        let (id, body) = (&table.columns[0], &table.columns[1]);
        assert_eq!(id.schema.parameter("masked"), Some("true"));
        let mapping = id.key_mapping.as_ref().expect("the key column's mapping");
        assert_eq!((mapping.mapper.clone(), mapping.key_schema.parameter("masked")), (ColumnMapper::Passthrough, None));
        assert!(body.key_mapping.is_none() && body.schema.parameter("masked") == Some("true"));
        let row = cache
            .get(42)
            .unwrap()
            .decode_row(
                &vec![TupleValue::Text(Bytes::from_static(b"7")), TupleValue::Null, TupleValue::Text(Bytes::from_static(b"secret"))],
                &ValueOptions::default(),
            )
            .unwrap();
        assert_eq!(row, vec![Value::Int32(7), Value::String("***".into())]);
    }

    /// Observed from Debezium 3.6.3 (differential test): an hstore column
    /// added and dropped before the WAL is decoded is still an hstore (its
    /// type resolved by OID), not left out.
    #[test]
    fn a_dropped_column_of_an_extension_type_is_mapped_by_its_oid() {
        let (mut rel, mut cat) = fixture();
        rel.columns.push(rel_col("h", 99_003, -1));
        let mut cache = RelationCache::new();
        let o = ValueOptions::default();
        let names = |t: &TableSchema| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&cache.apply(&rel, &cat, &o).unwrap()), ["id", "body"], "unknown without its type");
        cat.message_types.insert(99_003, ColumnType::new(99_003, -1, "hstore"));
        let table = cache.apply(&rel, &cat, &o).unwrap();
        assert_eq!(names(&table), ["id", "body", "h"]);
        let h = &table.columns[2];
        assert!(h.schema.optional);
        assert_eq!(h.schema.name.as_deref(), Some("io.debezium.data.Json"));
    }

    /// Observed from Debezium 3.6.3 (differential test): a `name` value is
    /// null when streamed (its pgoutput resolver does not know the type) but
    /// kept by the snapshot, which reads it through JDBC.
    #[test]
    fn name_values_are_dropped_when_streamed_and_kept_by_the_snapshot() {
        let (mut rel, mut cat) = fixture();
        rel.columns[2] = rel_col("body", oid::NAME, -1);
        cat.columns[2] = cat_col("body", 4, ColumnType::new(oid::NAME, -1, "name"), false, None);
        let mut cache = RelationCache::new();
        let o = ValueOptions::default();
        cache.apply(&rel, &cat, &o).unwrap();
        let tuple = vec![TupleValue::Text(Bytes::from_static(b"7")), TupleValue::Null, TupleValue::Text(Bytes::from_static(b"pg_name"))];
        let cached = cache.get(42).unwrap();
        assert_eq!(cached.decode_row(&tuple, &o).unwrap(), vec![Value::Int32(7), Value::Null]);
        assert_eq!(cached.decode_snapshot_row(&tuple, &o).unwrap(), vec![Value::Int32(7), Value::String("pg_name".into())]);
    }

    #[test]
    fn version_bumps_only_on_shape_change() {
        let (mut rel, mut cat) = fixture();
        let mut cache = RelationCache::new();
        let o = ValueOptions::default();
        let v1 = cache.apply(&rel, &cat, &o).unwrap();
        let again = cache.apply(&rel, &cat, &o).unwrap();
        assert!(Arc::ptr_eq(&v1, &again));
        rel.columns.push(rel_col("extra", oid::INT8, -1));
        cat.columns.push(cat_col("extra", 5, ColumnType::new(oid::INT8, -1, "int8"), false, None));
        let v2 = cache.apply(&rel, &cat, &o).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.columns.len(), 3);
    }

    #[test]
    fn default_comes_from_a_catalog_that_is_ahead_of_the_wal() {
        // WAL: `b int DEFAULT 5`; by the time the Relation message is read the
        // column is already `bigint` (ALTER COLUMN b TYPE bigint ran since).
        // Debezium still reports the default, as the message's type (int32).
        let (mut rel, mut cat) = fixture();
        rel.columns.push(rel_col("b", oid::INT4, -1));
        let mut b = cat_col("b", 5, ColumnType::new(oid::INT8, -1, "int8"), false, None);
        b.default_expr = Some("5".into());
        cat.columns.push(b);
        let table = RelationCache::new().apply(&rel, &cat, &ValueOptions::default()).unwrap();
        let col = table.columns.iter().find(|c| c.name == "b").unwrap();
        assert_eq!(col.schema.kind, crate::schema::SchemaType::Int32);
        assert_eq!(col.schema.default, Some(Value::Int32(5)));
    }

    #[test]
    fn row_errors_name_the_column() {
        let (rel, cat) = fixture();
        let mut cache = RelationCache::new();
        let o = ValueOptions::default();
        cache.apply(&rel, &cat, &o).unwrap();
        let cached = cache.require(42).unwrap();
        let bad = vec![TupleValue::Text(Bytes::from_static(b"x")), TupleValue::Null, TupleValue::Null];
        let err = cached.decode_row(&bad, &o).unwrap_err();
        assert!(err.to_string().contains("public.t.id"), "{err}");
        assert_eq!(err.class(), ErrorClass::Data);
        let bin = vec![TupleValue::Binary(Bytes::from_static(b"\0")), TupleValue::Null, TupleValue::Null];
        assert!(cached.decode_row(&bin, &o).unwrap_err().to_string().contains("binary"));
        assert!(matches!(cached.decode_row(&vec![TupleValue::Null], &o), Err(RelationError::TupleLength { .. })));
        assert!(matches!(cache.require(7), Err(RelationError::UnknownRelation(7))));
        let nulls = cached.decode_row(&vec![TupleValue::Null; 3], &o).unwrap();
        assert_eq!(nulls, vec![Value::Null, Value::Null]);
    }
}

#[cfg(test)]
#[path = "relation_golden_tests.rs"]
mod golden_tests;
