//! Kafka Connect's `SimpleHeaderConverter`: header values as text.
//!
//! `Values.convertToString`: strings raw, numbers and booleans as Java prints
//! them, bytes as base64, and structs/maps/arrays as a compact JSON-like text
//! (`{"id":2}`) with embedded strings quoted.

use crate::record::SchemaAndValue;
use crate::schema::{Schema, Value};

use super::json::{write_f32, write_f64};

/// Serialize one header value; `None` for a null header value.
pub fn encode_header(sv: &SchemaAndValue) -> Option<Vec<u8>> {
    if sv.value.is_null() {
        return None;
    }
    let mut buf = Vec::with_capacity(32);
    append(&sv.schema, &sv.value, false, &mut buf);
    Some(buf)
}

fn append(schema: &Schema, v: &Value, embedded: bool, buf: &mut Vec<u8>) {
    use base64::Engine as _;
    match v {
        Value::Null => buf.extend_from_slice(b"null"),
        Value::Boolean(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int8(x) => buf.extend_from_slice(x.to_string().as_bytes()),
        Value::Int16(x) => buf.extend_from_slice(x.to_string().as_bytes()),
        Value::Int32(x) => buf.extend_from_slice(x.to_string().as_bytes()),
        Value::Int64(x) => buf.extend_from_slice(x.to_string().as_bytes()),
        Value::Float32(x) => write_java_float(|b| write_f32(*x, b), buf),
        Value::Float64(x) => write_java_float(|b| write_f64(*x, b), buf),
        Value::String(s) => {
            if embedded {
                buf.push(b'"');
                for c in s.bytes() {
                    if c == b'"' || c == b'\\' {
                        buf.push(b'\\');
                    }
                    buf.push(c);
                }
                buf.push(b'"');
            } else {
                buf.extend_from_slice(s.as_bytes());
            }
        }
        Value::Bytes(b) => {
            if schema.name.as_deref() == Some(super::json::DECIMAL_SCHEMA_NAME) {
                let scale = schema.parameter("scale").and_then(|p| p.parse().ok()).unwrap_or(0);
                buf.extend_from_slice(super::json::decimal_plain(b, scale).as_bytes());
                return;
            }
            let text = base64::engine::general_purpose::STANDARD.encode(b);
            if embedded {
                buf.push(b'"');
                buf.extend_from_slice(text.as_bytes());
                buf.push(b'"');
            } else {
                buf.extend_from_slice(text.as_bytes());
            }
        }
        Value::Array(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                match &schema.items {
                    Some(s) => append(s, item, true, buf),
                    None => append(schema, item, true, buf),
                }
            }
            buf.push(b']');
        }
        Value::Map(entries) => {
            buf.push(b'{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                append(schema.keys.as_deref().unwrap_or(schema), k, true, buf);
                buf.push(b':');
                append(schema.items.as_deref().unwrap_or(schema), val, true, buf);
            }
            buf.push(b'}');
        }
        Value::Struct(values) => {
            buf.push(b'{');
            for (i, (f, val)) in schema.fields.iter().zip(values).enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                append(schema, &Value::String(f.name.clone()), true, buf);
                buf.push(b':');
                append(&f.schema, val, true, buf);
            }
            buf.push(b'}');
        }
    }
}

/// Java prints NaN/Infinity bare in `String.valueOf`; strip the JSON quotes.
fn write_java_float(f: impl FnOnce(&mut Vec<u8>), buf: &mut Vec<u8>) {
    let start = buf.len();
    f(buf);
    if buf.get(start) == Some(&b'"') {
        buf.remove(start);
        buf.pop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::schema::SchemaType;

    #[test]
    fn strings_raw_numbers_text_structs_json() {
        let s = SchemaAndValue::new(Arc::new(Schema::new(SchemaType::String)), Value::String("a\"b".into()));
        assert_eq!(encode_header(&s).unwrap(), b"a\"b");
        let n = SchemaAndValue::new(Arc::new(Schema::new(SchemaType::Int64)), Value::Int64(-771));
        assert_eq!(encode_header(&n).unwrap(), b"-771");
        let d = SchemaAndValue::new(Arc::new(Schema::new(SchemaType::Float64)), Value::Float64(1e10));
        assert_eq!(encode_header(&d).unwrap(), b"1.0E10");
        let key = Arc::new(
            Schema::new(SchemaType::Struct)
                .named("p.s.t.Key")
                .with_field("id", Arc::new(Schema::new(SchemaType::Int32)))
                .with_field("name", Arc::new(Schema::new(SchemaType::String))),
        );
        let k = SchemaAndValue::new(key, Value::Struct(vec![Value::Int32(2), Value::String("x\"".into())]));
        assert_eq!(encode_header(&k).unwrap(), br#"{"id":2,"name":"x\""}"#);
        let null = SchemaAndValue::new(Arc::new(Schema::new(SchemaType::String).optional()), Value::Null);
        assert_eq!(encode_header(&null), None);
    }
}
