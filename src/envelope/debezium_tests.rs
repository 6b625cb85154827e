//! Envelope tests against Debezium 3.6.3's own output (`golden/`, made by
//! `golden/Golden.java` from Debezium's classes and Connect's JsonConverter).

use std::sync::Arc;

use super::*;
use crate::encode::{JsonOptions, RecordEncoder};
use crate::envelope::EnvelopeOptions;
use crate::event::{ColumnSchema, ReplicaIdentity, SnapshotMarker, TableId};
use crate::lsn::Lsn;
use crate::schema::{Schema, SchemaType};

pub(crate) const NOW: EventTime = EventTime { unix_nanos: 1_800_000_000_987_654_321 };
pub(crate) const COMMIT_US: i64 = 1_700_000_000_123_456;

pub(crate) fn col(name: &str, schema: Schema, is_key: bool) -> ColumnSchema {
    ColumnSchema {
        name: name.to_owned(),
        type_oid: 0,
        type_modifier: -1,
        type_name: String::new(),
        nullable: schema.optional,
        is_key,
        schema: Arc::new(schema),
    }
}

pub(crate) fn stock_table() -> Arc<TableSchema> {
    Arc::new(TableSchema {
        relation_id: 16384,
        id: TableId::new("public", "stock"),
        columns: vec![
            col("id", Schema::new(SchemaType::Int32), true),
            col("product_id", Schema::new(SchemaType::Int32), false),
            col("quantity", Schema::new(SchemaType::Int32).optional(), false),
            col("reserved_quantity", Schema::new(SchemaType::Int32).optional(), false),
        ],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    })
}

pub(crate) fn streaming_source() -> SourceInfo {
    SourceInfo {
        commit_ts_us: COMMIT_US,
        snapshot: SnapshotMarker::False,
        tx_id: Some(771),
        lsn: Some(Lsn(22_001_000)),
        last_commit_lsn: Some(Lsn(22_000_000)),
        xmin: None,
    }
}

fn i(v: i32) -> Value {
    Value::Int32(v)
}

pub(crate) fn test_options() -> EnvelopeOptions {
    let mut o = EnvelopeOptions::new("ecommerce", "shop");
    o.skipped_operations.clear();
    o
}

pub(crate) fn test_context() -> ContextHeaders {
    ContextHeaders {
        connector_logical_name: "ecommerce".into(),
        task_id: "0".into(),
        connector_name: "postgresql".into(),
        run_id: "00000000-0000-4000-8000-000000000000".into(),
    }
}

/// The changes of the `stock_*` goldens, in order.
pub(crate) fn stock_events() -> Vec<ChangeEvent> {
    let t = stock_table();
    let ev = |op, before: Option<Row>, after: Option<Row>, source: SourceInfo| ChangeEvent {
        op,
        table: Arc::clone(&t),
        before,
        after,
        source,
    };
    let s = streaming_source();
    let snap = SourceInfo {
        snapshot: SnapshotMarker::Last,
        tx_id: Some(770),
        lsn: Some(Lsn(22_000_000)),
        last_commit_lsn: None,
        ..s.clone()
    };
    let key_only = vec![i(1), Value::Null, Value::Null, Value::Null];
    vec![
        ev(Op::Create, None, Some(vec![i(1), i(10), i(5), Value::Null]), s.clone()),
        ev(Op::Update, None, Some(vec![i(1), i(10), i(4), i(1)]), s.clone()),
        ev(Op::Update, Some(vec![i(1), i(10), i(5), Value::Null]), Some(vec![i(1), i(10), i(4), i(1)]), s.clone()),
        ev(Op::Delete, Some(key_only.clone()), None, s.clone()),
        ev(Op::Update, Some(key_only), Some(vec![i(2), i(10), i(4), i(1)]), s.clone()),
        ev(Op::Read, None, Some(vec![i(1), i(10), i(5), Value::Null]), snap),
        ev(Op::Truncate, None, None, s),
    ]
}

pub(crate) fn stock_records() -> Vec<Record> {
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let mut out = Vec::new();
    for e in stock_events() {
        env.records(&e, NOW, None, &mut out);
    }
    out
}

/// Compare encoded records with a golden file (`{"dropped":true}` entries skipped).
pub(crate) fn assert_golden(name: &str, records: &[Record], schemas: bool, numeric: bool) {
    let path = format!("{}/src/envelope/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: Vec<&serde_json::Value> =
        golden.as_array().unwrap().iter().filter(|g| g.get("dropped").is_none()).collect();
    let opts = JsonOptions {
        schemas_enable: schemas,
        decimal_format: if numeric {
            crate::encode::json::DecimalFormat::Numeric
        } else {
            crate::encode::json::DecimalFormat::Base64
        },
        replace_null_with_default: true,
    };
    let mut enc = RecordEncoder::new(opts.clone(), opts);
    assert_eq!(records.len(), want.len(), "{name}: record count");
    for (n, (r, g)) in records.iter().zip(want).enumerate() {
        let e = enc.encode(r).unwrap();
        let s = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8(b.clone()).unwrap());
        assert_eq!(e.topic, g["topic"].as_str().unwrap(), "{name}[{n}] topic");
        assert_eq!(s(&e.key).as_deref(), g["key"].as_str(), "{name}[{n}] key");
        assert_eq!(s(&e.payload).as_deref(), g["value"].as_str(), "{name}[{n}] value");
        let headers: Vec<(String, Option<String>)> =
            e.headers.iter().map(|(k, v)| (k.clone(), s(v))).collect();
        let want_headers: Vec<(String, Option<String>)> = g["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().map(str::to_owned)))
            .collect();
        assert_eq!(headers, want_headers, "{name}[{n}] headers");
    }
}

#[test]
fn stock_envelope_matches_debezium_with_schemas() {
    assert_golden("stock_envelope_schemas", &stock_records(), true, false);
}

#[test]
fn stock_envelope_matches_debezium_without_schemas() {
    assert_golden("stock_envelope_noschemas", &stock_records(), false, false);
}

#[test]
fn truncate_skipped_by_default_and_no_tombstone_when_disabled() {
    let mut opts = EnvelopeOptions::new("ecommerce", "shop");
    opts.tombstones_on_delete = false;
    let mut env = Envelope::with_context_headers(opts, None);
    let mut out = Vec::new();
    for e in stock_events() {
        env.records(&e, NOW, None, &mut out);
    }
    // 5 single records + pk change (delete + create); no tombstones, no truncate.
    assert_eq!(out.len(), 7);
    assert!(out.iter().all(|r| r.value.is_some() && r.headers.len() <= 1));
}

#[test]
fn schemas_are_shared_between_records_of_one_table_version() {
    let recs = stock_records();
    let a = recs[0].value.as_ref().unwrap();
    let b = recs[1].value.as_ref().unwrap();
    assert!(Arc::ptr_eq(&a.schema, &b.schema));
    let mut env = Envelope::with_context_headers(test_options(), None);
    let mut e = stock_events().remove(0);
    let mut out = Vec::new();
    env.records(&e, NOW, None, &mut out);
    let mut t = (*e.table).clone();
    t.version = 2;
    t.columns.pop();
    e.table = Arc::new(t);
    e.after.as_mut().unwrap().pop();
    env.records(&e, NOW, None, &mut out);
    assert!(!Arc::ptr_eq(&out[0].value.as_ref().unwrap().schema, &out[1].value.as_ref().unwrap().schema));
}

#[test]
fn message_matches_debezium() {
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let msg = LogicalMessage {
        transactional: true,
        prefix: "audit".into(),
        content: b"hello".to_vec(),
        source: SourceInfo { tx_id: Some(772), lsn: Some(Lsn(22_002_000)), ..streaming_source() },
    };
    let rec = env.message_record(&msg, NOW, None);
    assert_golden("message_envelope", &[rec], true, false);
}

#[test]
fn random_run_ids_differ() {
    assert_ne!(super::schemas::fresh_uuid(), super::schemas::fresh_uuid());
}
