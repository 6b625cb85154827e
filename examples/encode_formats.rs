//! JsonConverter vs AvroConverter on Debezium's own records: time per
//! record and bytes per record. Prints one markdown table.
//!
//!   cargo run --release --example encode_formats [CAPTURE.jsonl ...]
//!
//! The records are Debezium 3.6.3 captures (`tests/debezium/golden/`, default
//! `types/envelope.jsonl` and `skeleton/envelope.jsonl`) read back into
//! Connect schemas and values. The AvroConverter runs its real path
//! (`to_bytes`, awaited) against a stub registry on 127.0.0.1 that answers
//! every registration with id 1, so after the first record of each schema
//! every call is a cache hit, as in steady streaming.

use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use pgcdc::encode::avro::{AvroDataOptions, AvroOptions, SubjectNameStrategy};
use pgcdc::encode::schema_registry::RegistryConfig;
use pgcdc::encode::{AvroConverter, JsonConverter, JsonOptions};
use pgcdc::record::SchemaAndValue;
use pgcdc::schema::{Schema, SchemaType, Value};
use serde_json::Value as Json;

const ROUNDS: usize = 200;

fn parse_schema(j: &Json) -> Schema {
    let kind = match j["type"].as_str().unwrap_or_default() {
        "int8" => SchemaType::Int8,
        "int16" => SchemaType::Int16,
        "int32" => SchemaType::Int32,
        "int64" => SchemaType::Int64,
        "float" => SchemaType::Float32,
        "double" => SchemaType::Float64,
        "boolean" => SchemaType::Boolean,
        "string" => SchemaType::String,
        "bytes" => SchemaType::Bytes,
        "array" => SchemaType::Array,
        "map" => SchemaType::Map,
        _ => SchemaType::Struct,
    };
    let mut s = Schema::new(kind).with_optional(j["optional"].as_bool().unwrap_or(false));
    s.name = j["name"].as_str().map(str::to_owned);
    s.version = j["version"].as_i64().map(|v| v as i32);
    if let Some(p) = j["parameters"].as_object() {
        s.parameters = p.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect();
    }
    for f in j["fields"].as_array().into_iter().flatten() {
        s = s.with_field(f["field"].as_str().unwrap_or_default(), Arc::new(parse_schema(f)));
    }
    if !j["items"].is_null() {
        s.items = Some(Arc::new(parse_schema(&j["items"])));
    }
    if !j["keys"].is_null() {
        s.keys = Some(Arc::new(parse_schema(&j["keys"])));
        s.items = Some(Arc::new(parse_schema(&j["values"])));
    }
    if let Some(d) = j.get("default") {
        s.default = Some(parse_value(&s, d));
    }
    s
}

fn parse_value(s: &Schema, j: &Json) -> Value {
    if j.is_null() {
        return Value::Null;
    }
    match s.kind {
        SchemaType::Int8 => Value::Int8(j.as_i64().unwrap_or(0) as i8),
        SchemaType::Int16 => Value::Int16(j.as_i64().unwrap_or(0) as i16),
        SchemaType::Int32 => Value::Int32(j.as_i64().unwrap_or(0) as i32),
        SchemaType::Int64 => Value::Int64(j.as_i64().unwrap_or(0)),
        SchemaType::Float32 => Value::Float32(j.as_f64().unwrap_or(0.0) as f32),
        SchemaType::Float64 => Value::Float64(j.as_f64().unwrap_or(0.0)),
        SchemaType::Boolean => Value::Boolean(j.as_bool().unwrap_or(false)),
        SchemaType::String => Value::String(j.as_str().unwrap_or_default().to_owned()),
        SchemaType::Bytes => Value::Bytes(base64::engine::general_purpose::STANDARD.decode(j.as_str().unwrap_or_default()).unwrap_or_default()),
        SchemaType::Array => {
            let items = s.items.as_deref().expect("array items");
            Value::Array(j.as_array().into_iter().flatten().map(|v| parse_value(items, v)).collect())
        }
        SchemaType::Map => {
            let (ks, vs) = (s.keys.as_deref().expect("map keys"), s.items.as_deref().expect("map values"));
            match j {
                Json::Object(m) => Value::Map(m.iter().map(|(k, v)| (Value::String(k.clone()), parse_value(vs, v))).collect()),
                _ => Value::Map(j.as_array().into_iter().flatten().map(|e| (parse_value(ks, &e[0]), parse_value(vs, &e[1]))).collect()),
            }
        }
        SchemaType::Struct => Value::Struct(s.fields.iter().map(|f| parse_value(&f.schema, &j[&f.name])).collect()),
    }
}

/// The value records of a capture, one shared schema `Arc` per distinct schema (as the envelope keeps them).
fn records(path: &str) -> Vec<(String, SchemaAndValue)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut schemas: Vec<(Json, Arc<Schema>)> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: Json = serde_json::from_str(line).expect("JSON line");
        let v = &rec["value"];
        if v.is_null() || v["schema"].is_null() {
            continue;
        }
        let schema = match schemas.iter().find(|(j, _)| *j == v["schema"]) {
            Some((_, s)) => Arc::clone(s),
            None => {
                let s = Arc::new(parse_schema(&v["schema"]));
                schemas.push((v["schema"].clone(), Arc::clone(&s)));
                s
            }
        };
        let value = parse_value(&schema, &v["payload"]);
        out.push((rec["topic"].as_str().unwrap_or_default().to_owned(), SchemaAndValue::new(schema, value)));
    }
    out
}

async fn stub_registry() -> String {
    let app = axum::Router::new().fallback(|| async { axum::Json(serde_json::json!({"id": 1})) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/debezium/golden/");
    let mut paths: Vec<String> = std::env::args().skip(1).collect();
    if paths.is_empty() {
        paths = vec![format!("{root}types/envelope.jsonl"), format!("{root}skeleton/envelope.jsonl")];
    }
    let url = stub_registry().await;
    println!("| capture | records | JsonConverter µs/record | JSON bytes/record | AvroConverter µs/record | Avro bytes/record |");
    println!("|---|---:|---:|---:|---:|---:|");
    for path in &paths {
        let recs = records(path);
        let mut json = JsonConverter::new(JsonOptions::default());
        let opts = AvroOptions {
            registry: RegistryConfig { urls: vec![url.clone()], ..RegistryConfig::default() },
            auto_register_schemas: true,
            use_latest_version: false,
            subject_name_strategy: SubjectNameStrategy::TopicName,
            data: AvroDataOptions::default(),
        };
        let mut avro = AvroConverter::new(opts, false);
        let (mut json_bytes, mut avro_bytes) = (0usize, 0usize);
        for (topic, sv) in &recs {
            json_bytes += json.to_bytes(Some(sv)).expect("json").map_or(0, |b| b.len());
            avro_bytes += avro.to_bytes(topic, Some(sv)).await.expect("avro").map_or(0, |b| b.len());
        }
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for (_, sv) in &recs {
                std::hint::black_box(json.to_bytes(Some(sv)).expect("json"));
            }
        }
        let json_us = start.elapsed().as_secs_f64() * 1e6 / (ROUNDS * recs.len()) as f64;
        let start = Instant::now();
        for _ in 0..ROUNDS {
            for (topic, sv) in &recs {
                std::hint::black_box(avro.to_bytes(topic, Some(sv)).await.expect("avro"));
            }
        }
        let avro_us = start.elapsed().as_secs_f64() * 1e6 / (ROUNDS * recs.len()) as f64;
        let n = recs.len().max(1);
        let name = path.strip_prefix(root).unwrap_or(path);
        println!("| {name} | {} | {json_us:.2} | {} | {avro_us:.2} | {} |", recs.len(), json_bytes / n, avro_bytes / n);
    }
}
