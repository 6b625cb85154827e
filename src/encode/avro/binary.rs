//! Avro binary encoding of Connect values, laid out by the Avro schema that
//! [`super::schema`] derives from the same Connect schema (so it walks the
//! Connect schema directly, with no Avro schema object at run time):
//!
//! ```text
//!   int8/16/32, Date, Time   zig-zag varint            int64, Timestamp   zig-zag varint (long)
//!   float32 / float64        4 / 8 bytes little-endian boolean            1 byte
//!   string, bytes, Decimal   varint length + bytes     struct             fields in order
//!   optional                 union branch index (varint) then the value:
//!                              ["null", T] → null 0, value 1;  [T, "null"] (has a default) → value 0, null 1
//!   array / map              one block: count, items (map: key string + value), then 0; empty → 0
//!   map with non-string keys array of {key, value} records
//! ```
//!
//! A null where the schema has a default writes the default, as Connect's
//! `Struct.get` hands `AvroData` the default for a missing value.

use crate::encode::json::EncodeError;
use crate::schema::{Schema, SchemaType, Value};

use super::schema::{string_keyed, AvroDataOptions};

/// Zig-zag varint of an Avro `long` (and `int`).
pub fn write_long(n: i64, buf: &mut Vec<u8>) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        buf.push((z as u8) | 0x80);
        z >>= 7;
    }
    buf.push(z as u8);
}

fn write_bytes(b: &[u8], buf: &mut Vec<u8>) {
    write_long(b.len() as i64, buf);
    buf.extend_from_slice(b);
}

/// Append the Avro binary form of `value` (whose schema is `schema`).
pub fn write_value(schema: &Schema, value: &Value, opts: &AvroDataOptions, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
    write(schema, value, opts, buf, "")
}

fn write(schema: &Schema, value: &Value, opts: &AvroDataOptions, buf: &mut Vec<u8>, field: &str) -> Result<(), EncodeError> {
    let value = match (value, &schema.default) {
        (Value::Null, Some(default)) => default,
        _ => value,
    };
    if schema.optional {
        // An optional struct is always ["null", record]; other optional
        // schemas put the type first when they have a default.
        let type_first = schema.kind != SchemaType::Struct && schema.default.is_some();
        // Branch indexes 0 and 1 are the zig-zag varints 0 and 2.
        let null_index = if type_first { 2 } else { 0 };
        if value.is_null() {
            buf.push(null_index);
            return Ok(());
        }
        buf.push(2 - null_index);
    } else if value.is_null() {
        return Err(EncodeError::RequiredNull { field: field.to_owned() });
    }
    let mismatch = || EncodeError::TypeMismatch { field: field.to_owned(), expected: schema.kind.json_name() };
    match (schema.kind, value) {
        (SchemaType::Int8, Value::Int8(v)) => write_long(i64::from(*v), buf),
        (SchemaType::Int16, Value::Int16(v)) => write_long(i64::from(*v), buf),
        (SchemaType::Int32, Value::Int32(v)) => write_long(i64::from(*v), buf),
        (SchemaType::Int64, Value::Int64(v)) => write_long(*v, buf),
        (SchemaType::Float32, Value::Float32(v)) => buf.extend_from_slice(&v.to_le_bytes()),
        (SchemaType::Float64, Value::Float64(v)) => buf.extend_from_slice(&v.to_le_bytes()),
        (SchemaType::Boolean, Value::Boolean(v)) => buf.push(u8::from(*v)),
        (SchemaType::String, Value::String(s)) => write_bytes(s.as_bytes(), buf),
        (SchemaType::Bytes, Value::Bytes(b)) => write_bytes(b, buf),
        (SchemaType::Struct, Value::Struct(values)) => {
            if values.len() != schema.fields.len() {
                return Err(EncodeError::StructArity { field: field.to_owned(), expected: schema.fields.len(), actual: values.len() });
            }
            for (f, v) in schema.fields.iter().zip(values) {
                write(&f.schema, v, opts, buf, &f.name)?;
            }
        }
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema.items.as_deref().ok_or_else(|| EncodeError::IncompleteSchema { field: field.to_owned() })?;
            if !items.is_empty() {
                write_long(items.len() as i64, buf);
                for item in items {
                    write(item_schema, item, opts, buf, field)?;
                }
            }
            buf.push(0);
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let incomplete = || EncodeError::IncompleteSchema { field: field.to_owned() };
            let key_schema = schema.keys.as_deref().ok_or_else(incomplete)?;
            let value_schema = schema.items.as_deref().ok_or_else(incomplete)?;
            let string_keys = string_keyed(schema, opts);
            if !entries.is_empty() {
                write_long(entries.len() as i64, buf);
                for (k, v) in entries {
                    if string_keys {
                        match k {
                            Value::String(s) => write_bytes(s.as_bytes(), buf),
                            _ => return Err(EncodeError::TypeMismatch { field: field.to_owned(), expected: "string" }),
                        }
                    } else {
                        write(key_schema, k, opts, buf, field)?;
                    }
                    write(value_schema, v, opts, buf, field)?;
                }
            }
            buf.push(0);
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn enc(schema: &Schema, value: &Value) -> Vec<u8> {
        let mut buf = Vec::new();
        write_value(schema, value, &AvroDataOptions::default(), &mut buf).unwrap();
        buf
    }

    #[test]
    fn longs_are_zigzag_varints() {
        for (n, want) in [
            (0i64, vec![0x00]),
            (-1, vec![0x01]),
            (1, vec![0x02]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
            (i64::MAX, vec![0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
            (i64::MIN, vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] {
            let mut buf = Vec::new();
            write_long(n, &mut buf);
            assert_eq!(buf, want, "{n}");
        }
    }

    #[test]
    fn primitives_follow_the_avro_spec() {
        assert_eq!(enc(&Schema::new(SchemaType::String), &Value::String("foo".into())), b"\x06foo");
        assert_eq!(enc(&Schema::new(SchemaType::Boolean), &Value::Boolean(true)), [1]);
        assert_eq!(enc(&Schema::new(SchemaType::Float32), &Value::Float32(1.0)), 1.0f32.to_le_bytes());
        assert_eq!(enc(&Schema::new(SchemaType::Float64), &Value::Float64(-2.5)), (-2.5f64).to_le_bytes());
        assert_eq!(enc(&Schema::new(SchemaType::Int16), &Value::Int16(-3)), [5]);
    }

    #[test]
    fn optional_union_index_depends_on_the_default() {
        let plain = Schema::new(SchemaType::Int32).optional();
        assert_eq!(enc(&plain, &Value::Null), [0]);
        assert_eq!(enc(&plain, &Value::Int32(1)), [2, 2]);
        let with_default = Schema::new(SchemaType::Int32).optional().with_default(Value::Int32(7));
        assert_eq!(enc(&with_default, &Value::Int32(1)), [0, 2]);
        // A null takes the default, as Connect's Struct.get does.
        assert_eq!(enc(&with_default, &Value::Null), [0, 14]);
    }

    #[test]
    fn arrays_and_maps_are_one_block() {
        let arr = Schema::array_of(Arc::new(Schema::new(SchemaType::Int32)));
        assert_eq!(enc(&arr, &Value::Array(vec![Value::Int32(1), Value::Int32(2)])), [4, 2, 4, 0]);
        assert_eq!(enc(&arr, &Value::Array(vec![])), [0]);
        let map = Schema::map_of(Arc::new(Schema::new(SchemaType::String)), Arc::new(Schema::new(SchemaType::Int32)));
        assert_eq!(enc(&map, &Value::Map(vec![(Value::String("a".into()), Value::Int32(1))])), [2, 2, b'a', 2, 0]);
        let int_keys = Schema::map_of(Arc::new(Schema::new(SchemaType::Int32)), Arc::new(Schema::new(SchemaType::Int32)));
        assert_eq!(enc(&int_keys, &Value::Map(vec![(Value::Int32(3), Value::Int32(4))])), [2, 6, 8, 0]);
    }

    #[test]
    fn a_required_null_without_default_is_refused() {
        let s = Schema::new(SchemaType::Struct).with_field("id", Arc::new(Schema::new(SchemaType::Int32)));
        let mut buf = Vec::new();
        let err = write_value(&s, &Value::Struct(vec![Value::Null]), &AvroDataOptions::default(), &mut buf).unwrap_err();
        assert!(matches!(err, EncodeError::RequiredNull { ref field } if field == "id"), "{err}");
    }
}
