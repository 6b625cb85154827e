//! Schemas built by the relation cache from the catalog facts PostgreSQL 15
//! reports for the golden scenarios' DDL (defaults verbatim from
//! `pg_get_expr`), run through the envelope and JsonConverter, against the
//! key and value schemas of Debezium 3.6.3's records in
//! `tests/debezium/golden/{skeleton,identity}/envelope.jsonl`.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::*;
use crate::encode::{JsonOptions, RecordEncoder};
use crate::envelope::debezium::zero_value;
use crate::envelope::{Envelope, EnvelopeOptions, EventTime};
use crate::event::{ChangeEvent, Op, SnapshotMarker, SourceInfo};
use crate::source::postgres::catalog::CatalogColumn;
use crate::source::postgres::pgoutput::RelationColumn;
use crate::source::postgres::value::oid;

/// (name, type oid, typname, typmod, NOT NULL, default expression, primary key position)
type Col = (&'static str, u32, &'static str, i32, bool, Option<&'static str>, Option<usize>);

fn numeric(p: i32, s: i32) -> i32 {
    ((p << 16) | s) + 4
}

fn table(relation_id: u32, name: &str, replica_identity: u8, cols: &[Col]) -> (RelationBody, CatalogTable) {
    let rel = RelationBody {
        xid: None,
        relation_id,
        namespace: "public".into(),
        name: name.into(),
        replica_identity,
        columns: cols
            .iter()
            .map(|c| RelationColumn { is_key: c.6.is_some(), name: c.0.into(), type_oid: c.1, type_modifier: c.3 })
            .collect(),
    };
    let columns: Vec<CatalogColumn> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| CatalogColumn {
            name: c.0.into(),
            attnum: i16::try_from(i + 1).unwrap(),
            column_type: ColumnType::new(c.1, c.3, c.2),
            not_null: c.4,
            default_expr: c.5.map(str::to_owned),
            primary_key_position: c.6,
        })
        .collect();
    let mut pk: Vec<(usize, String)> = cols.iter().filter_map(|c| c.6.map(|p| (p, c.0.to_owned()))).collect();
    pk.sort();
    let cat = CatalogTable {
        relation_id,
        id: TableId::new("public", name),
        replica_identity: ReplicaIdentity::from_byte(replica_identity).unwrap(),
        columns,
        primary_key: pk.into_iter().map(|(_, n)| n).collect(),
        message_types: Default::default(),
    };
    (rel, cat)
}

const INT4: u32 = oid::INT4;
const TEXT: u32 = oid::TEXT;

fn skeleton() -> Vec<(RelationBody, CatalogTable)> {
    vec![
        table(1, "product", b'd', &[
            ("id", INT4, "int4", -1, true, Some("nextval('product_id_seq'::regclass)"), Some(0)),
            ("name", TEXT, "text", -1, true, None, None),
            ("description", TEXT, "text", -1, false, None, None),
            ("price", oid::NUMERIC, "numeric", numeric(10, 2), true, None, None),
            ("created_at", oid::TIMESTAMP, "timestamp", -1, false, Some("now()"), None),
        ]),
        table(2, "stock", b'd', &[
            ("id", INT4, "int4", -1, true, Some("nextval('stock_id_seq'::regclass)"), Some(0)),
            ("product_id", INT4, "int4", -1, true, None, None),
            ("quantity", INT4, "int4", -1, true, None, None),
            ("reserved_quantity", INT4, "int4", -1, false, Some("0"), None),
            ("updated_at", oid::TIMESTAMPTZ, "timestamptz", -1, false, Some("now()"), None),
        ]),
        table(3, "sale", b'd', &[
            ("id", INT4, "int4", -1, true, Some("nextval('sale_id_seq'::regclass)"), Some(0)),
            ("product_id", INT4, "int4", -1, false, None, None),
            ("quantity", INT4, "int4", -1, false, None, None),
            ("total", oid::NUMERIC, "numeric", numeric(12, 2), false, None, None),
            ("sold_at", oid::TIMESTAMPTZ, "timestamptz", -1, false, None, None),
            ("sale_date", oid::DATE, "date", -1, false, None, None),
            ("customer", oid::UUID, "uuid", -1, false, None, None),
            ("meta", oid::JSONB, "jsonb", -1, false, None, None),
        ]),
    ]
}

fn identity() -> Vec<(RelationBody, CatalogTable)> {
    let id_val_n = |rid, name, ident| {
        table(rid, name, ident, &[
            ("id", INT4, "int4", -1, true, None, Some(0)),
            ("val", TEXT, "text", -1, false, None, None),
            ("n", INT4, "int4", -1, true, Some("7"), None),
        ])
    };
    let id_big_n = |rid, name, ident| {
        table(rid, name, ident, &[
            ("id", INT4, "int4", -1, true, None, Some(0)),
            ("big", TEXT, "text", -1, false, None, None),
            ("n", INT4, "int4", -1, false, None, None),
        ])
    };
    vec![
        id_val_n(11, "id_default", b'd'),
        id_val_n(12, "id_full", b'f'),
        table(13, "id_nothing", b'n', &[
            ("id", INT4, "int4", -1, true, None, Some(0)),
            ("val", TEXT, "text", -1, false, None, None),
        ]),
        table(14, "id_index", b'i', &[
            ("id", INT4, "int4", -1, true, None, Some(0)),
            ("code", TEXT, "text", -1, true, None, None),
            ("val", TEXT, "text", -1, false, None, None),
        ]),
        table(15, "nopk_full", b'f', &[("a", INT4, "int4", -1, false, None, None), ("b", TEXT, "text", -1, false, None, None)]),
        table(16, "nopk_default", b'd', &[("a", INT4, "int4", -1, false, None, None), ("b", TEXT, "text", -1, false, None, None)]),
        id_big_n(17, "toasty", b'd'),
        id_big_n(18, "toasty_full", b'f'),
    ]
}

/// The first golden record with a value of each table topic: (key schema, value schema).
fn golden_schemas(scenario: &str) -> BTreeMap<String, (J, J)> {
    let path = format!("{}/tests/debezium/golden/{scenario}/envelope.jsonl", env!("CARGO_MANIFEST_DIR"));
    let mut out = BTreeMap::new();
    for line in std::fs::read_to_string(&path).unwrap().lines() {
        let r: J = serde_json::from_str(line).unwrap();
        let topic = r["topic"].as_str().unwrap().to_owned();
        if r["value"].is_null() || topic.ends_with(".message") || out.contains_key(&topic) {
            continue;
        }
        out.insert(topic, (r["key"]["schema"].clone(), r["value"]["schema"].clone()));
    }
    out
}

/// Key and value schema JSON of a create record for `table`.
fn our_schemas(scenario: &str, table: &Arc<TableSchema>) -> (String, J, J) {
    let mut env = Envelope::new(EnvelopeOptions::new(scenario, scenario));
    let after: Row = table.columns.iter().map(|c| zero_value(&c.schema)).collect();
    let event = ChangeEvent {
        op: Op::Create,
        table: Arc::clone(table),
        before: None,
        after: Some(after),
        source: SourceInfo {
            commit_ts_us: 0,
            snapshot: SnapshotMarker::False,
            tx_id: Some(1),
            lsn: None,
            last_commit_lsn: None,
            xmin: None,
            origin: None,
        },
    };
    let mut records = Vec::new();
    env.records(&event, EventTime { unix_nanos: 0 }, None, &mut records);
    let opts = JsonOptions { schemas_enable: true, ..JsonOptions::default() };
    let mut enc = RecordEncoder::new(opts.clone(), opts);
    let e = enc.encode(&records[0]).unwrap();
    let parse = |b: Option<Vec<u8>>| b.map_or(J::Null, |b| serde_json::from_slice::<J>(&b).unwrap()["schema"].clone());
    (e.topic, parse(e.key), parse(e.payload))
}

fn check(scenario: &str, tables: Vec<(RelationBody, CatalogTable)>) {
    let golden = golden_schemas(scenario);
    let mut cache = RelationCache::new();
    let mut seen = 0;
    for (rel, cat) in tables {
        let table = cache.apply(&rel, &cat, &ValueOptions::default()).unwrap();
        let (topic, key, value) = our_schemas(scenario, &table);
        let Some((want_key, want_value)) = golden.get(&topic) else { continue };
        seen += 1;
        assert_eq!(&key, want_key, "{topic} key schema");
        // `before` carries the row schema with every column's default.
        assert_eq!(value["fields"][0], want_value["fields"][0], "{topic} row schema");
        assert_eq!(&value, want_value, "{topic} envelope schema");
    }
    assert_eq!(seen, golden.len(), "{scenario}: every golden table topic checked");
}

#[test]
fn skeleton_schemas_match_debezium() {
    check("skeleton", skeleton());
}

#[test]
fn identity_schemas_match_debezium() {
    check("identity", identity());
}

#[test]
fn key_fields_follow_primary_key_order() {
    // CREATE TABLE t (a int, b text, c int, PRIMARY KEY (c, a))
    let (rel, cat) = table(21, "t", b'd', &[
        ("a", INT4, "int4", -1, true, None, Some(1)),
        ("b", TEXT, "text", -1, false, Some("'x'::text"), None),
        ("c", INT4, "int4", -1, true, Some("'-1'::integer"), Some(0)),
    ]);
    let table = RelationCache::new().apply(&rel, &cat, &ValueOptions::default()).unwrap();
    assert_eq!(table.columns.iter().map(|c| c.key_position).collect::<Vec<_>>(), [Some(1), None, Some(0)]);
    let (_, key, value) = our_schemas("s", &table);
    assert_eq!(
        key,
        serde_json::json!({"type":"struct","fields":[
            {"type":"int32","optional":false,"default":-1,"field":"c"},
            {"type":"int32","optional":false,"field":"a"}],
          "optional":false,"name":"s.public.t.Key"})
    );
    let row_fields: Vec<&str> =
        value["fields"][1]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(row_fields, ["a", "b", "c"], "the row keeps column order");
    assert_eq!(value["fields"][1]["fields"][1]["default"], "x");
}
