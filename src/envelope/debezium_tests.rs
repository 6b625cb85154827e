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
        // Single-column keys here; ties keep column order anyway.
        key_position: is_key.then_some(0),
        schema: Arc::new(schema),
        key_mapping: None,
        required_fallback: None,
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
        origin: None,
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
fn a_shape_from_another_source_with_the_same_version_rebuilds_the_schemas() {
    // The snapshot's table shape and the stream's both start at version 1:
    // a column dropped in between must still change the schema.
    let mut env = Envelope::with_context_headers(test_options(), None);
    let mut e = stock_events().remove(0);
    let mut out = Vec::new();
    env.records(&e, NOW, None, &mut out);
    let mut t = (*e.table).clone();
    t.columns.pop();
    e.table = Arc::new(t);
    e.after.as_mut().unwrap().pop();
    env.records(&e, NOW, None, &mut out);
    let fields = |i: usize| {
        let envelope = &out[i].value.as_ref().unwrap().schema;
        envelope.fields.iter().find(|f| f.name == "after").map(|a| a.schema.fields.len())
    };
    assert_eq!(fields(1), fields(0).map(|n| n - 1), "same version, one column less");
    // and an equal shape in a new Arc keeps the schemas
    let same = Arc::new((*e.table).clone());
    e.table = same;
    env.records(&e, NOW, None, &mut out);
    assert!(Arc::ptr_eq(&out[1].value.as_ref().unwrap().schema, &out[2].value.as_ref().unwrap().schema));
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

/// The `measure` table of the goldens: one column per Connect type.
pub(crate) fn measure_events() -> Vec<ChangeEvent> {
    let named = |k, n: &str| Schema::new(k).optional().named(n).with_version(1);
    let str_opt = Arc::new(Schema::new(SchemaType::String).optional());
    let table = Arc::new(TableSchema {
        relation_id: 16390,
        id: TableId::new("public", "measure"),
        columns: vec![
            col("id", Schema::new(SchemaType::Int64), true),
            col(
                "price",
                named(SchemaType::Bytes, crate::encode::json::DECIMAL_SCHEMA_NAME)
                    .with_parameter("scale", "2")
                    .with_parameter("connect.decimal.precision", "10"),
                false,
            ),
            col("taken_at", named(SchemaType::Int64, "io.debezium.time.MicroTimestamp"), false),
            col("taken_tz", named(SchemaType::String, "io.debezium.time.ZonedTimestamp"), false),
            col("day", named(SchemaType::Int32, "io.debezium.time.Date"), false),
            col("note", Schema::new(SchemaType::String).optional().with_default(Value::String("n/a".into())), false),
            col("ratio", Schema::new(SchemaType::Float64).optional(), false),
            col("weight", Schema::new(SchemaType::Float32).optional(), false),
            col("flag", Schema::new(SchemaType::Boolean).with_default(Value::Boolean(true)), false),
            col("small", Schema::new(SchemaType::Int16).optional(), false),
            col("tiny", Schema::new(SchemaType::Int8).optional(), false),
            col("data", Schema::new(SchemaType::Bytes).optional(), false),
            col("tags", Schema::array_of(Arc::clone(&str_opt)).optional(), false),
            col("attrs", Schema::map_of(Arc::new(Schema::new(SchemaType::String)), str_opt).optional(), false),
            col(
                "counts",
                Schema::map_of(Arc::new(Schema::new(SchemaType::Int32)), Arc::new(Schema::new(SchemaType::Int64)))
                    .optional(),
                false,
            ),
            col(
                "vardec",
                named(SchemaType::Struct, "io.debezium.data.VariableScaleDecimal")
                    .with_doc("Variable scaled decimal")
                    .with_field("scale", Arc::new(Schema::new(SchemaType::Int32)))
                    .with_field("value", Arc::new(Schema::new(SchemaType::Bytes))),
                false,
            ),
        ],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    });
    let ratios = [
        1.0, 0.1, 1e10, 1.0E-5, 123456789.125, -0.0, f64::NAN, f64::INFINITY, 1e7, 9999999.0, 0.001,
        1.7976931348623157E308, 4.9E-324,
    ];
    let weights = [
        1.5f32, 0.1, 1e10, 3.4028235E38, 1e-5, f32::NAN, 100.0, 1e7, 12345.678, 0.001, 1.0E-45, f32::NEG_INFINITY,
        2.5e-3,
    ];
    let source = SourceInfo {
        commit_ts_us: COMMIT_US,
        snapshot: SnapshotMarker::False,
        tx_id: Some(773),
        lsn: Some(Lsn(22_003_000)),
        last_commit_lsn: None,
        xmin: None,
        origin: None,
    };
    let opt = |cond: bool, v: Value| if cond { Value::Null } else { v };
    (0..ratios.len())
        .map(|n| {
            let i = n as i64;
            let price = if n % 3 == 0 {
                Value::Null
            } else if n % 2 == 0 {
                Value::Bytes(num_bigint::BigInt::from(-1_234_567_890i64).to_signed_bytes_be())
            } else {
                Value::Bytes(vec![5])
            };
            let note = match n {
                1 => Value::Null,
                2 => Value::String(
                    "quote \" backslash \\ tab \t nl \n ctl \u{1} uni \u{e9}\u{4e2d} \u{1F600} </script>".into(),
                ),
                _ => Value::String("plain".into()),
            };
            let row = vec![
                Value::Int64(i),
                price,
                opt(n == 0, Value::Int64(1_700_000_000_123_456 * if n % 2 == 0 { 1 } else { -1 })),
                opt(n == 0, Value::String("2023-11-14T22:13:20.123456Z".into())),
                opt(n == 0, Value::Int32(19675)),
                note,
                Value::Float64(ratios[n]),
                Value::Float32(weights[n]),
                Value::Boolean(n % 2 == 0),
                Value::Int16(if n == 3 { -32768 } else { n as i16 }),
                Value::Int8(if n == 4 { -128 } else { n as i8 }),
                opt(n == 0, Value::Bytes(vec![0, 0xff, n as u8, 65])),
                opt(n == 0, Value::Array(vec![Value::String("a".into()), Value::Null, Value::String("c".into())])),
                opt(n == 0, Value::Map(vec![(Value::String("k".into()), Value::String("v".into()))])),
                opt(n == 0, Value::Map(vec![(Value::Int32(7), Value::Int64(70))])),
                opt(n == 0, Value::Struct(vec![Value::Int32(3), Value::Bytes(vec![0x30, 0x39])])),
            ];
            ChangeEvent { op: Op::Create, table: Arc::clone(&table), before: None, after: Some(row), source: source.clone() }
        })
        .collect()
}

pub(crate) fn measure_records() -> Vec<Record> {
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let mut out = Vec::new();
    for e in measure_events() {
        env.records(&e, NOW, None, &mut out);
    }
    out
}

#[test]
fn all_connect_types_match_jsonconverter_with_schemas() {
    assert_golden("measure_envelope_schemas", &measure_records(), true, false);
}

#[test]
fn all_connect_types_match_jsonconverter_numeric_decimals_without_schemas() {
    assert_golden("measure_envelope_noschemas_numeric", &measure_records(), false, true);
}

/// `skipped.operations` applies per emitted record: a key change is a delete
/// (+ tombstone) and a create (tests/debezium/golden/identity/skip_cu, skip_d).
#[test]
fn skipped_operations_split_a_key_change() {
    let events = stock_events();
    let ops = |skip: &[Op]| {
        let mut o = test_options();
        o.skipped_operations = skip.to_vec();
        let mut env = Envelope::with_context_headers(o, None);
        let mut out = Vec::new();
        for e in &events[..5] {
            env.records(e, NOW, None, &mut out);
        }
        out.iter()
            .map(|r| match &r.value {
                Some(v) => match &v.value {
                    Value::Struct(f) => match &f[4] {
                        Value::String(op) => op.clone(),
                        other => format!("{other:?}"),
                    },
                    other => format!("{other:?}"),
                },
                None => "tombstone".to_owned(),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(ops(&[]), ["c", "u", "u", "d", "tombstone", "d", "tombstone", "c"]);
    assert_eq!(ops(&[Op::Create, Op::Update]), ["d", "tombstone", "d", "tombstone"]);
    assert_eq!(ops(&[Op::Delete]), ["c", "u", "u", "c"]);
    assert_eq!(ops(&[Op::Update]), ["c", "d", "tombstone", "d", "tombstone", "c"]);
}

/// `column.mask.with.3.chars` on a primary-key column (tests/debezium/golden/keys/mask_pk):
/// the key keeps the raw value and schema, `before`/`after` are masked, and a
/// change of the raw key is a key change even though both masked values are equal.
#[test]
fn mapped_key_column_is_raw_in_the_key_and_mapped_in_the_rows() {
    use crate::event::KeyMapping;
    use crate::source::postgres::columns::ColumnMapper;
    let raw = Schema::new(SchemaType::String);
    let mut code = col("code", raw.clone().with_parameter("masked", "true"), true);
    code.key_mapping = Some(KeyMapping { mapper: ColumnMapper::Mask("***".into()), key_schema: Arc::new(raw) });
    let table = Arc::new(TableSchema {
        relation_id: 7,
        id: TableId::new("public", "tags"),
        columns: vec![code, col("label", Schema::new(SchemaType::String).optional(), false)],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    });
    let s = |v: &str| Value::String(v.into());
    let event = ChangeEvent {
        op: Op::Update,
        table,
        before: Some(vec![s("a"), Value::Null]),
        after: Some(vec![s("b"), s("x")]),
        source: streaming_source(),
    };
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let mut out = Vec::new();
    env.records(&event, NOW, None, &mut out);
    let ops: Vec<_> = out.iter().map(|r| r.value.as_ref().map(|v| field(&v.value, &v.schema, "op"))).collect();
    assert_eq!(ops, [Some(s("d")), None, Some(s("c"))], "a key change: delete, tombstone, create");
    let key = out[2].key.as_ref().unwrap();
    assert_eq!(key.value, Value::Struct(vec![s("b")]));
    assert!(key.schema.fields[0].schema.parameters.is_empty(), "no masked parameter in the key");
    assert_eq!(out[0].key.as_ref().unwrap().value, Value::Struct(vec![s("a")]));
    let v = out[2].value.as_ref().unwrap();
    assert_eq!(field(&v.value, &v.schema, "after"), Value::Struct(vec![s("***"), s("x")]));
    let v = out[0].value.as_ref().unwrap();
    assert_eq!(field(&v.value, &v.schema, "before"), Value::Struct(vec![s("***"), Value::Null]));
    assert_eq!(v.schema.fields[0].schema.fields[0].schema.parameter("masked"), Some("true"));
}

fn field(v: &Value, schema: &Schema, name: &str) -> Value {
    let Value::Struct(vals) = v else { panic!("not a struct") };
    vals[schema.field_index(name).unwrap()].clone()
}

/// A delete under REPLICA IDENTITY DEFAULT: the required non-key columns of
/// `before` carry Debezium's converter fallback (a `timestamptz NOT NULL` is
/// the epoch, not ""), a default when the column has one, null when optional.
#[test]
fn delete_before_fills_required_columns_with_the_converter_fallback() {
    use crate::source::postgres::value::{column_schema, oid, ColumnType, ValueOptions};
    let o = ValueOptions::default();
    let typed = |name: &str, oid: u32, type_name: &str, nullable: bool| {
        let ty = ColumnType::new(oid, -1, type_name);
        let schema = column_schema(&ty, nullable, &o).unwrap();
        let required_fallback = crate::source::postgres::value::required_fallback(oid, -1, type_name, &schema);
        ColumnSchema { type_oid: oid, type_name: type_name.into(), required_fallback, ..col(name, (*schema).clone(), false) }
    };
    let table = Arc::new(TableSchema {
        relation_id: 8,
        id: TableId::new("public", "d"),
        columns: vec![
            col("id", Schema::new(SchemaType::Int32), true),
            typed("at", oid::TIMESTAMPTZ, "timestamptz", false),
            typed("t", oid::TIMETZ, "timetz", false),
            typed("n", oid::NUMERIC, "numeric", false),
            typed("s", oid::TEXT, "text", false),
            typed("opt", oid::TIMESTAMPTZ, "timestamptz", true),
        ],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    });
    let event = ChangeEvent {
        op: Op::Delete,
        table,
        before: Some(vec![i(1), Value::Null, Value::Null, Value::Null, Value::Null, Value::Null]),
        after: None,
        source: streaming_source(),
    };
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let mut out = Vec::new();
    env.records(&event, NOW, None, &mut out);
    let v = out[0].value.as_ref().unwrap();
    let s = |x: &str| Value::String(x.into());
    assert_eq!(
        field(&v.value, &v.schema, "before"),
        Value::Struct(vec![
            i(1),
            s("1970-01-01T00:00:00Z"),
            s("00:00:00Z"),
            Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0])]),
            s(""),
            Value::Null
        ])
    );
}
