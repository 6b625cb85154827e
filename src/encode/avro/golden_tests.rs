//! Goldens from Confluent's AvroConverter 7.0 itself
//! (`tests/debezium/capture-avro-goldens.sh`): for every record Debezium
//! 3.6.3 wrote (`tests/debezium/golden/`, JsonConverter with schemas), the
//! Avro schema AvroConverter registers and the Avro body it writes. Each
//! record's Connect schema and value are read back from the JSON capture and
//! must give the same schema (as parsed JSON) and the same bytes here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value as Json;

use super::binary::write_value;
use super::schema::{avro_schema_json, scrub_name, AvroDataOptions, SchemaError};
use crate::schema::{Schema, SchemaType, Value};

/// A JsonConverter schema → a Connect schema.
pub(crate) fn parse_schema(j: &Json) -> Schema {
    let kind = match j["type"].as_str().unwrap() {
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
        "struct" => SchemaType::Struct,
        other => panic!("unknown type {other}"),
    };
    let mut s = Schema::new(kind).with_optional(j["optional"].as_bool().unwrap_or(false));
    s.name = j["name"].as_str().map(str::to_owned);
    s.version = j["version"].as_i64().map(|v| v as i32);
    s.doc = j["doc"].as_str().map(str::to_owned);
    if let Some(params) = j["parameters"].as_object() {
        s.parameters = params.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect();
    }
    if let Some(fields) = j["fields"].as_array() {
        for f in fields {
            s = s.with_field(f["field"].as_str().unwrap(), Arc::new(parse_schema(f)));
        }
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

/// A JsonConverter payload → a Connect value of `schema`.
pub(crate) fn parse_value(schema: &Schema, j: &Json) -> Value {
    if j.is_null() {
        return Value::Null;
    }
    match schema.kind {
        SchemaType::Int8 => Value::Int8(j.as_i64().unwrap() as i8),
        SchemaType::Int16 => Value::Int16(j.as_i64().unwrap() as i16),
        SchemaType::Int32 => Value::Int32(j.as_i64().unwrap() as i32),
        SchemaType::Int64 => Value::Int64(j.as_i64().unwrap()),
        SchemaType::Float32 => Value::Float32(float(j) as f32),
        SchemaType::Float64 => Value::Float64(float(j)),
        SchemaType::Boolean => Value::Boolean(j.as_bool().unwrap()),
        SchemaType::String => Value::String(j.as_str().unwrap().to_owned()),
        SchemaType::Bytes => Value::Bytes(base64::engine::general_purpose::STANDARD.decode(j.as_str().unwrap()).unwrap()),
        SchemaType::Array => {
            let items = schema.items.as_deref().unwrap();
            Value::Array(j.as_array().unwrap().iter().map(|v| parse_value(items, v)).collect())
        }
        SchemaType::Map => {
            let (ks, vs) = (schema.keys.as_deref().unwrap(), schema.items.as_deref().unwrap());
            match j {
                Json::Object(m) => Value::Map(m.iter().map(|(k, v)| (Value::String(k.clone()), parse_value(vs, v))).collect()),
                Json::Array(entries) => {
                    Value::Map(entries.iter().map(|e| (parse_value(ks, &e[0]), parse_value(vs, &e[1]))).collect())
                }
                _ => panic!("map payload {j}"),
            }
        }
        SchemaType::Struct => Value::Struct(schema.fields.iter().map(|f| parse_value(&f.schema, &j[&f.name])).collect()),
    }
}

/// A JSON number. Jackson writes NaN and the infinities as text, which
/// JsonConverter reads back as 0 (`TextNode.floatValue()`), and so did the
/// oracle that made the Avro goldens: follow it.
fn float(j: &Json) -> f64 {
    match j {
        Json::String(_) => 0.0,
        _ => j.as_f64().unwrap(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compare every record of one capture; returns the number of records checked.
fn check_capture(json_capture: &Path, avro_capture: &Path, opts: &AvroDataOptions) -> usize {
    let captured = std::fs::read_to_string(json_capture).unwrap();
    let expected = std::fs::read_to_string(avro_capture).unwrap();
    let mut last_schema: HashMap<String, Json> = HashMap::new();
    let mut n = 0;
    for (i, (line, want)) in captured.lines().filter(|l| !l.trim().is_empty()).zip(expected.lines()).enumerate() {
        let rec: Json = serde_json::from_str(line).unwrap();
        let want: Json = serde_json::from_str(want).unwrap();
        let topic = rec["topic"].as_str().unwrap();
        for side in ["key", "value"] {
            let node = &rec[side];
            if node.is_null() {
                continue;
            }
            let schema = parse_schema(&node["schema"]);
            let value = parse_value(&schema, &node["payload"]);
            let at = format!("{}:{} {topic} {side}", avro_capture.display(), i + 1);
            let got_schema = avro_schema_json(&schema, opts).unwrap_or_else(|e| panic!("{at}: {e}"));
            let slot = format!("{topic}/{side}");
            let want_schema = match &want[format!("{side}_schema")] {
                Json::Null => last_schema.get(&slot).cloned().unwrap(),
                s => {
                    last_schema.insert(slot, s.clone());
                    s.clone()
                }
            };
            assert_eq!(got_schema, want_schema, "{at}: schema");
            match want[format!("{side}_avro")].as_str() {
                None => assert!(value.is_null() && schema.default.is_none(), "{at}: AvroConverter wrote null"),
                Some(want_body) => {
                    let mut buf = Vec::new();
                    write_value(&schema, &value, opts, &mut buf).unwrap_or_else(|e| panic!("{at}: {e}"));
                    assert_eq!(hex(&buf), want_body, "{at}: body");
                }
            }
            n += 1;
        }
    }
    n
}

#[test]
fn every_debezium_capture_matches_avro_converter() {
    let root = manifest().join("tests/debezium/golden-avro");
    let mut files = 0;
    let mut records = 0;
    for scenario in std::fs::read_dir(&root).unwrap() {
        let scenario = scenario.unwrap().path();
        for f in std::fs::read_dir(&scenario).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_str().unwrap().to_owned();
            if name.matches('.').count() > 1 {
                continue; // <variant>.<option>.jsonl: captured with a non-default option, below
            }
            let json = manifest().join("tests/debezium/golden").join(scenario.file_name().unwrap()).join(&name);
            records += check_capture(&json, &f, &AvroDataOptions::default());
            files += 1;
        }
    }
    assert!(files >= 40, "only {files} captures found under {}", root.display());
    assert!(records >= 1000, "only {records} records checked");
}

#[test]
fn without_connect_meta_data_no_connect_properties() {
    let opts = AvroDataOptions { connect_meta_data: false, ..AvroDataOptions::default() };
    let n = check_capture(
        &manifest().join("tests/debezium/golden/skeleton/envelope.jsonl"),
        &manifest().join("tests/debezium/golden-avro/skeleton/envelope.nometa.jsonl"),
        &opts,
    );
    assert!(n > 0);
}

#[test]
fn scrub_invalid_names_rewrites_namespaces_like_avro_converter() {
    let opts = AvroDataOptions { scrub_invalid_names: true, ..AvroDataOptions::default() };
    let n = check_capture(
        &manifest().join("tests/debezium/golden/naming/envelope.jsonl"),
        &manifest().join("tests/debezium/golden-avro/naming/envelope.scrub.jsonl"),
        &opts,
    );
    assert!(n > 0);
}

#[test]
fn unnamed_structs_get_connect_default_names() {
    let inner = Arc::new(Schema::new(SchemaType::Struct).with_field("a", Arc::new(Schema::new(SchemaType::Int8))));
    let other = Arc::new(Schema::new(SchemaType::Struct).with_field("b", Arc::new(Schema::new(SchemaType::String).optional())));
    let s = Schema::new(SchemaType::Struct).with_field("x", inner.clone()).with_field("y", inner).with_field("z", other);
    let got = avro_schema_json(&s, &AvroDataOptions::default()).unwrap();
    let want = serde_json::json!({
        "type": "record", "name": "ConnectDefault", "namespace": "io.confluent.connect.avro",
        "fields": [
            {"name": "x", "type": {"type": "record", "name": "ConnectDefault2",
                "fields": [{"name": "a", "type": {"type": "int", "connect.type": "int8"}}]}},
            {"name": "y", "type": "ConnectDefault2"},
            {"name": "z", "type": {"type": "record", "name": "ConnectDefault3",
                "fields": [{"name": "b", "type": ["null", "string"], "default": null}]}}
        ]
    });
    assert_eq!(got, want);
}

#[test]
fn invalid_names_fail_unless_scrubbed() {
    let s = Schema::new(SchemaType::Struct)
        .named("shop.public.my-table.Value")
        .with_field("a col", Arc::new(Schema::new(SchemaType::Int32)));
    // Avro 1.11 checks names, not namespaces: only the field fails.
    let err = avro_schema_json(&s, &AvroDataOptions::default()).unwrap_err();
    assert!(matches!(err, SchemaError::InvalidName { ref name, .. } if name == "a col"), "{err}");
    let opts = AvroDataOptions { scrub_invalid_names: true, ..AvroDataOptions::default() };
    let got = avro_schema_json(&s, &opts).unwrap();
    assert_eq!(got["namespace"], "shop.public.my_table");
    assert_eq!(got["fields"][0]["name"], "a_col");
    assert_eq!(got["connect.name"], "shop.public.my-table.Value");
    assert_eq!(scrub_name("1abc"), "x1abc");
    assert_eq!(scrub_name("é"), "_C3_A9");
}
