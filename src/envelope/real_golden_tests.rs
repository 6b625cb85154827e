//! The `product` table of a real Debezium 3.6.3 run (embedded engine on
//! PostgreSQL 15, `tests/debezium/golden/skeleton/`, captured by tests/debezium): rebuild each
//! change from the captured source facts (LSNs, txIds, commit and processing
//! times) and require the same key, value and headers.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value as J;

use super::debezium::tests::col;
use super::debezium::ContextHeaders;
use super::*;
use crate::encode::{JsonOptions, RecordEncoder};
use crate::event::{ChangeEvent, Op, ReplicaIdentity, SnapshotMarker, SourceInfo, TableId, TableSchema};
use crate::lsn::Lsn;
use crate::record::Record;
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::unwrap::{AddedField, Unwrap, UnwrapOptions};

fn product() -> Arc<TableSchema> {
    Arc::new(TableSchema {
        relation_id: 1,
        id: TableId::new("public", "product"),
        columns: vec![
            col("id", Schema::new(SchemaType::Int32).with_default(Value::Int32(0)), true),
            col("name", Schema::new(SchemaType::String), false),
            col("description", Schema::new(SchemaType::String).optional(), false),
            col(
                "price",
                Schema::new(SchemaType::Bytes)
                    .named(crate::encode::json::DECIMAL_SCHEMA_NAME)
                    .with_version(1)
                    .with_parameter("scale", "2")
                    .with_parameter("connect.decimal.precision", "10"),
                false,
            ),
            col(
                "created_at",
                Schema::new(SchemaType::Int64)
                    .optional()
                    .named("io.debezium.time.MicroTimestamp")
                    .with_version(1)
                    .with_default(Value::Int64(0)),
                false,
            ),
        ],
        replica_identity: ReplicaIdentity::Default,
        version: 1,
    })
}

fn row(j: &J, key_only: bool) -> Option<Vec<Value>> {
    let o = j.as_object()?;
    let s = |k: &str| if key_only { Value::Null } else { o[k].as_str().map_or(Value::Null, |s| Value::String(s.into())) };
    Some(vec![
        Value::Int32(o["id"].as_i64().unwrap() as i32),
        s("name"),
        s("description"),
        if key_only {
            Value::Null
        } else {
            Value::Bytes(base64::engine::general_purpose::STANDARD.decode(o["price"].as_str().unwrap()).unwrap())
        },
        if key_only { Value::Null } else { o["created_at"].as_i64().map_or(Value::Null, Value::Int64) },
    ])
}

fn lsn_of(j: &J) -> Option<Lsn> {
    j.as_str().map(|s| Lsn(s.parse().unwrap()))
}

/// Rebuild the product records of a capture; returns (records, golden lines).
fn rebuild(file: &str, unwrap: Option<UnwrapOptions>) -> (Vec<Record>, Vec<J>) {
    let path = format!("{}/tests/debezium/golden/skeleton/{file}", env!("CARGO_MANIFEST_DIR"));
    let lines: Vec<J> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &J| r["topic"] == "skeleton.public.product")
        .collect();
    let h = &lines[0]["headers"];
    let ctx = ContextHeaders {
        connector_logical_name: "skeleton".into(),
        task_id: "0".into(),
        connector_name: "postgresql".into(),
        run_id: h["__debezium.context.runId"].as_str().unwrap().into(),
    };
    let mut env = Envelope::with_context_headers(EnvelopeOptions::new("skeleton", "skeleton"), Some(ctx));
    let mut t = unwrap.map(Unwrap::new);
    let table = product();
    let mut out = Vec::new();
    for (n, g) in lines.iter().enumerate() {
        let Some(v) = g["value"].get("payload") else { continue };
        // Unwrapped captures lack the envelope: take the facts from the envelope capture.
        let p = if v.get("source").is_some() { v.clone() } else { envelope_payload(n) };
        let src = &p["source"];
        let seq: Vec<J> = serde_json::from_str(src["sequence"].as_str().unwrap()).unwrap();
        let op = Op::from_code(p["op"].as_str().unwrap()).unwrap();
        let event = ChangeEvent {
            op,
            table: Arc::clone(&table),
            before: row(&p["before"], op == Op::Delete),
            after: row(&p["after"], false),
            source: SourceInfo {
                commit_ts_us: src["ts_us"].as_i64().unwrap(),
                snapshot: SnapshotMarker::False,
                tx_id: src["txId"].as_i64(),
                lsn: src["lsn"].as_u64().map(Lsn),
                last_commit_lsn: lsn_of(&seq[0]),
                xmin: None,
                origin: None,
            },
        };
        let now = EventTime { unix_nanos: v.get("ts_ns").and_then(J::as_i64).unwrap_or(p["ts_ns"].as_i64().unwrap()) };
        let mut recs = Vec::new();
        env.records(&event, now, None, &mut recs);
        match &mut t {
            None => out.extend(recs),
            Some(t) => {
                for r in recs {
                    t.apply(r, &mut out);
                }
            }
        }
    }
    (out, lines)
}

fn envelope_payload(n: usize) -> J {
    let path = format!("{}/tests/debezium/golden/skeleton/envelope.jsonl", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<J> = text
        .lines()
        .map(|l| serde_json::from_str::<J>(l).unwrap())
        .filter(|r| r["topic"] == "skeleton.public.product" && !r["value"].is_null())
        .collect();
    lines[n]["value"]["payload"].clone()
}

fn compare(records: &[Record], golden: &[J], strip_ts: bool) {
    let opts = JsonOptions::default();
    let mut enc = RecordEncoder::new(opts.clone(), opts);
    assert_eq!(records.len(), golden.len(), "record count");
    for (n, (r, g)) in records.iter().zip(golden).enumerate() {
        let e = enc.encode(r).unwrap();
        let parse = |b: &Option<Vec<u8>>| b.as_ref().map_or(J::Null, |b| serde_json::from_slice(b).unwrap());
        let (k, mut v) = (parse(&e.key), parse(&e.payload));
        let (gk, mut gv) = (g["key"].clone(), g["value"].clone());
        if strip_ts {
            for x in [&mut v, &mut gv] {
                if let Some(p) = x.get_mut("payload").and_then(J::as_object_mut) {
                    p.remove("__ts_ms");
                }
            }
        }
        assert_eq!(serde_json::to_string(&k).unwrap(), serde_json::to_string(&gk).unwrap(), "[{n}] key");
        assert_eq!(serde_json::to_string(&v).unwrap(), serde_json::to_string(&gv).unwrap(), "[{n}] value");
        let headers: serde_json::Map<String, J> = e
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.as_ref().map_or(J::Null, |b| J::String(String::from_utf8(b.clone()).unwrap()))))
            .collect();
        let mut gh = g["headers"].as_object().unwrap().clone();
        if strip_ts {
            // The unwrap capture ran with its own run id.
            gh.remove("__debezium.context.runId");
        }
        let mut headers = headers;
        if strip_ts {
            headers.remove("__debezium.context.runId");
        }
        assert_eq!(J::Object(headers), J::Object(gh), "[{n}] headers");
    }
}

#[test]
fn product_envelope_equals_real_debezium_capture() {
    let (records, golden) = rebuild("envelope.jsonl", None);
    compare(&records, &golden, false);
}

#[test]
fn product_unwrap_equals_real_debezium_capture() {
    let opts = UnwrapOptions {
        add_fields: vec![
            AddedField { field: "op".into(), rename: None },
            AddedField { field: "ts_ms".into(), rename: None },
        ],
        ..UnwrapOptions::default()
    };
    let (records, golden) = rebuild("unwrap.jsonl", Some(opts));
    compare(&records, &golden, true);
}
