//! Debezium's ExtractChangedRecordState (`io.debezium.transforms.ExtractChangedRecordState`).
//!
//! To every change-event envelope it adds up to two headers listing the
//! `after` fields whose value differs from (`header.changed.name`) or equals
//! (`header.unchanged.name`) the `before` value, in field order; both lists
//! are empty unless the event has both rows (an update under REPLICA
//! IDENTITY FULL). Each header is an optional array of optional strings whose
//! schema is named after the header, so `SimpleHeaderConverter` writes it as
//! `["a","b"]` (or `[]`). This is the header ExtractNewRecordState's
//! `drop.fields.header.name` is meant to read.
//!
//! Observed on Debezium 3.6.3 (tests/debezium/golden/identity/changed_headers):
//! a delete's tombstone carries the same headers as the delete, because
//! Debezium builds the tombstone on the delete's very `Headers` object, which
//! the transform then mutates. pgcdc reproduces it: a tombstone right after
//! an envelope of the same topic and key gets the headers added to it.
//! Other records (messages, transaction records) pass unchanged.

use std::sync::Arc;

use crate::record::{Header, Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};

/// The transform's properties (`transforms.<alias>.*`); a blank name adds no header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedOptions {
    /// `header.changed.name`
    pub header_changed_name: Option<String>,
    /// `header.unchanged.name`
    pub header_unchanged_name: Option<String>,
}

/// ExtractChangedRecordState with its header schemas built once.
#[derive(Debug)]
pub struct ExtractChanged {
    changed: Option<(String, Arc<Schema>)>,
    unchanged: Option<(String, Arc<Schema>)>,
    /// Topic, key and added headers of the last envelope, for its tombstone.
    last: Option<(String, Option<SchemaAndValue>, Vec<Header>)>,
}

/// `SchemaBuilder.array(OPTIONAL_STRING_SCHEMA).optional().name(header)`.
fn header_schema(name: &Option<String>) -> Option<(String, Arc<Schema>)> {
    let name = name.as_deref().map(str::trim).filter(|n| !n.is_empty())?;
    let items = Arc::new(Schema::new(SchemaType::String).optional());
    Some((name.to_owned(), Arc::new(Schema::array_of(items).optional().named(name))))
}

impl ExtractChanged {
    pub fn new(opts: &ChangedOptions) -> Self {
        ExtractChanged {
            changed: header_schema(&opts.header_changed_name),
            unchanged: header_schema(&opts.header_unchanged_name),
            last: None,
        }
    }

    /// Adds the headers to an envelope (and its tombstone); every record is kept.
    pub fn apply(&mut self, mut record: Record, out: &mut Vec<Record>) {
        if record.value.is_none() {
            if let Some((topic, key, added)) = self.last.take() {
                if topic == record.topic && key == record.key {
                    record.headers.extend(added);
                }
            }
        } else if let Some((changed, unchanged)) = compare(&record) {
            let mut added = Vec::new();
            for (header, names) in [(&self.changed, changed), (&self.unchanged, unchanged)] {
                if let Some((name, schema)) = header {
                    let list = Value::Array(names.into_iter().map(Value::String).collect());
                    added.push(Header { key: name.clone(), value: Some(SchemaAndValue::new(Arc::clone(schema), list)) });
                }
            }
            record.headers.extend(added.iter().cloned());
            self.last = Some((record.topic.clone(), record.key.clone(), added));
        } else {
            self.last = None;
        }
        out.push(record);
    }
}

/// The changed and unchanged `after` field names of an envelope (both
/// empty unless `before` and `after` are set); `None` for other records.
fn compare(record: &Record) -> Option<(Vec<String>, Vec<String>)> {
    let value = record.value.as_ref()?;
    let schema = &value.schema;
    if schema.kind != SchemaType::Struct || !schema.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")) {
        return None;
    }
    let Value::Struct(env) = &value.value else { return None };
    let before_i = schema.field_index("before")?;
    let after_i = schema.field_index("after")?;
    let (Some(Value::Struct(before)), Some(Value::Struct(after))) = (env.get(before_i), env.get(after_i)) else {
        return Some((Vec::new(), Vec::new()));
    };
    let before_schema = &schema.fields[before_i].schema;
    let after_schema = &schema.fields[after_i].schema;
    let (mut changed, mut unchanged) = (Vec::new(), Vec::new());
    for (field, v) in after_schema.fields.iter().zip(after) {
        let old = before_schema.field_index(&field.name).and_then(|j| before.get(j)).unwrap_or(&Value::Null);
        if java_equals(old, v) { unchanged.push(field.name.clone()) } else { changed.push(field.name.clone()) }
    }
    Some((changed, unchanged))
}

/// Java's `Objects.equals` on Connect values: floats compare by bit pattern
/// (`NaN` equals `NaN`, `0.0` differs from `-0.0`); bytes (a `ByteBuffer`)
/// by content; arrays, maps and structs element-wise.
fn java_equals(a: &Value, b: &Value) -> bool {
    let all = |x: &[Value], y: &[Value]| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| java_equals(p, q));
    match (a, b) {
        (Value::Float64(x), Value::Float64(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Float32(x), Value::Float32(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
        (Value::Array(x), Value::Array(y)) | (Value::Struct(x), Value::Struct(y)) => all(x, y),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((k1, v1), (k2, v2))| java_equals(k1, k2) && java_equals(v1, v2))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::debezium::tests::stock_records;

    fn names(h: &Header) -> Vec<String> {
        match &h.value.as_ref().unwrap().value {
            Value::Array(items) => items.iter().map(|v| match v { Value::String(s) => s.clone(), _ => panic!() }).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn update(before: Vec<Value>, after: Vec<Value>) -> Record {
        let row = Arc::new(
            Schema::new(SchemaType::Struct)
                .optional()
                .named("p.public.t.Value")
                .with_field("id", Arc::new(Schema::new(SchemaType::Int32)))
                .with_field("val", Arc::new(Schema::new(SchemaType::String).optional()))
                .with_field("n", Arc::new(Schema::new(SchemaType::Int32).optional())),
        );
        let env = Schema::new(SchemaType::Struct)
            .named("p.public.t.Envelope")
            .with_field("before", Arc::clone(&row))
            .with_field("after", row)
            .with_field("op", Arc::new(Schema::new(SchemaType::String)));
        let value = Value::Struct(vec![Value::Struct(before), Value::Struct(after), Value::String("u".into())]);
        Record {
            topic: "p.public.t".into(),
            key: None,
            value: Some(SchemaAndValue::new(Arc::new(env), value)),
            headers: Vec::new(),
            timestamp_ms: None,
        }
    }

    #[test]
    fn lists_changed_and_unchanged_fields_of_an_update_with_both_rows() {
        let mut t = ExtractChanged::new(&ChangedOptions {
            header_changed_name: Some("Changed".into()),
            header_unchanged_name: Some("Unchanged".into()),
        });
        let mut out = Vec::new();
        let r = update(
            vec![Value::Int32(1), Value::String("a".into()), Value::Null],
            vec![Value::Int32(1), Value::String("b".into()), Value::Null],
        );
        t.apply(r, &mut out);
        let h = &out[0].headers;
        assert_eq!((h[0].key.as_str(), names(&h[0])), ("Changed", vec!["val".to_owned()]));
        assert_eq!((h[1].key.as_str(), names(&h[1])), ("Unchanged", vec!["id".to_owned(), "n".to_owned()]));
        let schema = &h[1].value.as_ref().unwrap().schema;
        assert_eq!((schema.kind, schema.optional, schema.name.as_deref()), (SchemaType::Array, true, Some("Unchanged")));
    }

    #[test]
    fn other_envelopes_get_empty_lists_and_a_tombstone_its_deletes_headers() {
        let mut t = ExtractChanged::new(&ChangedOptions { header_changed_name: Some("C".into()), header_unchanged_name: None });
        let records = stock_records();
        let mut out = Vec::new();
        for r in records.clone() {
            t.apply(r, &mut out);
        }
        assert_eq!(out.len(), records.len());
        let mut tombstones = 0;
        for (i, (got, input)) in out.iter().zip(&records).enumerate() {
            let added: Vec<&Header> = got.headers[input.headers.len()..].iter().collect();
            if input.value.is_none() {
                tombstones += 1;
                // Its delete is the record before it.
                assert_eq!(added.len(), 1);
                assert_eq!(out[i - 1].headers.last(), added.first().copied());
            } else if compare(input).is_some() {
                assert_eq!(added.len(), 1);
                assert_eq!(added[0].key, "C");
            }
        }
        assert!(tombstones > 0);
        let empty = out.iter().filter(|r| r.headers.last().is_some_and(|h| h.key == "C" && names(h).is_empty())).count();
        assert!(empty > 0, "creates and deletes carry an empty list");
    }

    #[test]
    fn values_compare_as_java_objects_equals() {
        assert!(java_equals(&Value::Float64(f64::NAN), &Value::Float64(f64::NAN)));
        assert!(!java_equals(&Value::Float64(0.0), &Value::Float64(-0.0)));
        assert!(java_equals(&Value::Array(vec![Value::Float32(f32::NAN)]), &Value::Array(vec![Value::Float32(f32::NAN)])));
        assert!(!java_equals(&Value::Bytes(vec![1]), &Value::Bytes(vec![2])));
        assert!(java_equals(&Value::Bytes(vec![1]), &Value::Bytes(vec![1])), "ByteBuffer equality is by content");
    }

    #[test]
    fn a_blank_header_name_adds_no_header() {
        let mut t = ExtractChanged::new(&ChangedOptions { header_changed_name: Some(" ".into()), header_unchanged_name: None });
        let mut out = Vec::new();
        t.apply(update(vec![Value::Int32(1), Value::Null, Value::Null], vec![Value::Int32(2), Value::Null, Value::Null]), &mut out);
        assert!(out[0].headers.is_empty());
    }
}
