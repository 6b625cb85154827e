//! The EventRouter against Debezium 3.6.3's own EventRouter
//! (`golden/outbox_*.json`, made by `golden/SmtGolden.java` over the same rows).

use std::sync::Arc;

use super::*;
use crate::envelope::debezium::tests::{col, streaming_source, test_context, test_options, NOW};
use crate::envelope::Envelope;
use crate::event::{
    ChangeEvent, Op, ReplicaIdentity, SnapshotMarker, SourceInfo, TableId, TableSchema,
};
use crate::lsn::Lsn;
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::test_support::assert_golden_file;

fn outbox_table() -> Arc<TableSchema> {
    let s = |k| Schema::new(k);
    Arc::new(TableSchema {
        relation_id: 16390,
        id: TableId::new("public", "outbox"),
        columns: vec![
            col(
                "id",
                s(SchemaType::String)
                    .named("io.debezium.data.Uuid")
                    .with_version(1),
                true,
            ),
            col("aggregatetype", s(SchemaType::String), false),
            col("aggregateid", s(SchemaType::String), false),
            col("type", s(SchemaType::String), false),
            col("payload", s(SchemaType::String).optional(), false),
            col("tenant", s(SchemaType::Int32).optional(), false),
            col(
                "created_at",
                s(SchemaType::Int64)
                    .named("io.debezium.time.MicroTimestamp")
                    .with_version(1)
                    .optional(),
                false,
            ),
            col("version", s(SchemaType::Int32), false),
        ],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    })
}

const ROWS: &[(&str, &str, &str, &str, Option<&str>)] = &[
    (
        "11111111-1111-4111-8111-111111111111",
        "Order",
        "o-1",
        "OrderCreated",
        Some(
            r#"{"id":1,"lines":[{"sku":"a","qty":2},{"sku":"b","qty":1,"note":null}],"total":12.5,"big":5000000000,"paid":false,"tags":[],"who":{"name":"x","n":null},"ids":[1,2,null]}"#,
        ),
    ),
    (
        "22222222-2222-4222-8222-222222222222",
        "Customer",
        "c-9",
        "CustomerRenamed",
        Some("{\"name\":\"\u{e9} \\\"q\\\" \\u0001\",\"score\":-0.25e3}"),
    ),
    (
        "33333333-3333-4333-8333-333333333333",
        "Order",
        "o-1",
        "OrderCancelled",
        None,
    ),
    (
        "44444444-4444-4444-8444-444444444444",
        "Order",
        "o-2",
        "OrderNoted",
        Some("  "),
    ),
    (
        "55555555-5555-4555-8555-555555555555",
        "Customer",
        "c-9",
        "CustomerNote",
        Some("not json"),
    ),
];

fn row(i: usize) -> Vec<Value> {
    let (id, at, aid, ty, payload) = ROWS[i];
    let s = |v: &str| Value::String(v.into());
    vec![
        s(id),
        s(at),
        s(aid),
        s(ty),
        payload.map_or(Value::Null, s),
        if i % 2 == 0 {
            Value::Int32(40 + i as i32)
        } else {
            Value::Null
        },
        if i == 1 {
            Value::Null
        } else {
            Value::Int64(1_700_000_000_123_456 + i as i64)
        },
        Value::Int32(1 + i as i32),
    ]
}

/// The records SmtGolden.java builds: five inserts, an update, a delete
/// (+ tombstone) and a snapshot read.
fn outbox_records() -> Vec<Record> {
    let t = outbox_table();
    let source = SourceInfo {
        tx_id: Some(774),
        lsn: Some(Lsn(22_004_000)),
        ..streaming_source()
    };
    let ev = |op, before, after, source: &SourceInfo| ChangeEvent {
        op,
        table: Arc::clone(&t),
        before,
        after,
        source: source.clone(),
    };
    let mut events: Vec<ChangeEvent> = (0..ROWS.len())
        .map(|i| ev(Op::Create, None, Some(row(i)), &source))
        .collect();
    events.push(ev(Op::Update, None, Some(row(0)), &source));
    events.push(ev(Op::Delete, Some(row(0)), None, &source));
    let snap = SourceInfo {
        snapshot: SnapshotMarker::Last,
        tx_id: Some(770),
        lsn: Some(Lsn(22_000_000)),
        last_commit_lsn: None,
        ..source
    };
    let read = ev(Op::Read, None, Some(row(0)), &snap);
    events.push(read);
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let mut out = Vec::new();
    for e in &events {
        env.records(e, NOW, None, &mut out);
    }
    out
}

fn options() -> EventRouterOptions {
    EventRouterOptions {
        field_event_id: "id".into(),
        field_event_key: Some("aggregateid".into()),
        field_payload: "payload".into(),
        field_event_timestamp: None,
        field_schema_version: None,
        route_by_field: "aggregatetype".into(),
        route_topic: TopicRewrite::new(DEFAULT_ROUTE_TOPIC_REGEX, DEFAULT_ROUTE_TOPIC_REPLACEMENT)
            .unwrap(),
        route_tombstone_on_empty_payload: false,
        additional_fields: Vec::new(),
        ignore_missing_additional: false,
        invalid_operation: InvalidOperation::Warn,
        expand_json_payload: false,
        json_null_as_bytes: false,
    }
}

fn run(opts: EventRouterOptions, records: Vec<Record>) -> Vec<Record> {
    let mut t = EventRouter::new(opts);
    let mut out = Vec::new();
    for r in records {
        t.apply(r, &mut out).unwrap();
    }
    out
}

fn golden(name: &str, records: &[Record]) {
    assert_golden_file(name, records);
}

fn placement(spec: &[(&str, Placement, &str)]) -> Vec<AdditionalField> {
    spec.iter()
        .map(|(f, p, a)| AdditionalField {
            field: (*f).into(),
            placement: *p,
            alias: (*a).into(),
        })
        .collect()
}

#[test]
fn default_options_route_inserts_by_aggregate_type() {
    let out = run(options(), outbox_records());
    golden("outbox_default", &out);
    assert_eq!(
        out[0].timestamp_ms,
        Some(1_800_000_000_987),
        "the envelope's ts_ms"
    );
}

#[test]
fn expanded_json_with_envelope_and_header_fields() {
    let opts = EventRouterOptions {
        expand_json_payload: true,
        additional_fields: placement(&[
            ("type", Placement::Header, "eventType"),
            ("aggregateid", Placement::Envelope, "aggId"),
            ("tenant", Placement::Envelope, "tenant"),
            ("created_at", Placement::Header, "created_at"),
        ]),
        route_tombstone_on_empty_payload: true,
        field_event_timestamp: Some("created_at".into()),
        route_topic: TopicRewrite::new(DEFAULT_ROUTE_TOPIC_REGEX, "events.${routedByValue}")
            .unwrap(),
        ..options()
    };
    let out = run(opts, outbox_records());
    golden("outbox_expand_envelope", &out);
    assert_eq!(
        out[0].timestamp_ms,
        Some(1_700_000_000_123),
        "created_at (micros) in millis"
    );
    assert_eq!(
        out[1].timestamp_ms,
        Some(1_800_000_000_987),
        "a null created_at falls back to ts_ms"
    );
}

#[test]
fn versioned_schema_custom_key_id_and_route() {
    let opts = EventRouterOptions {
        expand_json_payload: true,
        field_event_key: Some("tenant".into()),
        field_event_id: "aggregateid".into(),
        field_schema_version: Some("version".into()),
        additional_fields: placement(&[("type", Placement::Envelope, "type")]),
        route_by_field: "type".into(),
        route_topic: TopicRewrite::new("(Order|Customer)(.*)", "$2.$1").unwrap(),
        ..options()
    };
    golden("outbox_expand_options", &run(opts, outbox_records()));
}

#[test]
fn updates_fail_when_fatal_and_unexpandable_payloads_are_data_errors() {
    let records = outbox_records();
    let update = records
        .iter()
        .find(|r| {
            r.value.as_ref().is_some_and(
                |v| matches!(&v.value, Value::Struct(f) if f[4] == Value::String("u".into())),
            )
        })
        .unwrap()
        .clone();
    let mut t = EventRouter::new(EventRouterOptions {
        invalid_operation: InvalidOperation::Fatal,
        ..options()
    });
    assert!(t.apply(update, &mut Vec::new()).is_err());
    // A root JSON array: Debezium swaps the schema, then fails on the data.
    let mut first = records[0].clone();
    if let Some(SchemaAndValue {
        value: Value::Struct(env),
        ..
    }) = &mut first.value
    {
        if let Value::Struct(after) = &mut env[1] {
            after[4] = Value::String("[1,2]".into());
        }
    }
    let mut t = EventRouter::new(EventRouterOptions {
        expand_json_payload: true,
        ..options()
    });
    let err = t.apply(first, &mut Vec::new()).unwrap_err();
    assert_eq!(err.transform, "EventRouter");
}
