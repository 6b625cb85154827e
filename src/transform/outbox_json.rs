//! `table.expand.json.payload` of the outbox EventRouter: a JSON text payload
//! becomes a Connect struct whose schema is inferred from the document, as
//! Debezium's `JsonSchemaData` does it (Jackson number types: int32 when the
//! integer fits, else int64, fractions and exponents double; strings and
//! booleans optional; objects optional structs named by their dotted path
//! from the payload field; null members and empty arrays left out unless
//! `table.json.payload.null.behavior=optional_bytes`).
//!
//! Two failure points, as in Debezium: when the schema cannot be inferred
//! (not JSON, not starting with `{`/`[`, an array mixing types) the payload
//! stays the original string ([`Expansion::Keep`]); when the schema was
//! inferred but the data does not fit it (a root array, an integer beyond
//! int64) Debezium has already swapped
//! the schema and the record fails ([`Expansion::Fail`]).
//!
//! Known difference: integers beyond 2^64 parse as doubles here (Jackson's
//! BigInteger fails the record in Debezium); arrays whose objects have
//! different shapes merge in order of appearance (Debezium's order is that
//! of a hash set).

use std::sync::Arc;

use serde_json::Value as Json;

use crate::schema::{Schema, SchemaType, Value};

/// What the expansion of one payload gave.
#[derive(Debug)]
pub enum Expansion {
    /// The inferred schema and the struct.
    Expanded(Arc<Schema>, Value),
    /// Not expandable: keep the string payload (Debezium logs a warning).
    Keep,
    /// The schema was inferred but the data does not fit it.
    Fail(String),
}

/// Expands `text` for a payload field named `field`.
pub fn expand(text: &str, field: &str, null_as_bytes: bool) -> Expansion {
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Expansion::Keep;
    }
    let Ok(doc) = serde_json::from_str::<Json>(text) else {
        return Expansion::Keep;
    };
    let inferer = Inferer { null_as_bytes };
    let schema = match inferer.schema(Some(field), &doc) {
        Ok(Some(s)) => Arc::new(s),
        Ok(None) | Err(()) => return Expansion::Keep,
    };
    if schema.kind != SchemaType::Struct {
        return Expansion::Fail("the JSON payload is not an object".into());
    }
    match data_struct(&doc, &schema) {
        Ok(v) => Expansion::Expanded(schema, v),
        Err(e) => Expansion::Fail(e),
    }
}

/// The document of a logical decoding message as
/// `DecodeLogicalDecodingMessageContent` reads it: as `expand` with no field
/// name (the root struct is unnamed, nested ones are named by their path),
/// but every failure fails the record. Like Jackson's `readTree`, text after
/// the first JSON value is ignored.
pub fn decode_document(text: &str, null_as_bytes: bool) -> Result<(Arc<Schema>, Value), String> {
    if !(text.starts_with('{') || text.starts_with('[')) {
        return Err(format!("Unable to parse logical decoding message content JSON string '{text}'"));
    }
    let doc = match serde_json::Deserializer::from_str(text).into_iter::<Json>().next() {
        Some(Ok(doc)) => doc,
        Some(Err(e)) => return Err(format!("the content is not JSON: {e}")),
        None => return Err("the content is empty".into()),
    };
    let schema = match (Inferer { null_as_bytes }).schema(None, &doc) {
        Ok(Some(s)) => s,
        Ok(None) => return Err("the content is an empty JSON array, not an object".into()),
        Err(()) => return Err("the content has an array mixing JSON types (not a homogenous array)".into()),
    };
    if schema.kind != SchemaType::Struct {
        return Err(format!("Not a struct schema: the content is a JSON {}", schema.kind.json_name()));
    }
    let value = data_struct(&doc, &schema)?;
    Ok((Arc::new(schema), value))
}

struct Inferer {
    null_as_bytes: bool,
}

fn number_kind(n: &serde_json::Number) -> SchemaType {
    match n.as_i64() {
        Some(i) if i32::try_from(i).is_ok() => SchemaType::Int32,
        Some(_) => SchemaType::Int64,
        // u64 beyond i64: Jackson's BigInteger, typed double (its data then fails).
        None => SchemaType::Float64,
    }
}

impl Inferer {
    /// `toConnectSchema`: `Ok(None)` leaves the member out; `Err` is a
    /// ConnectException (the payload is kept as it is).
    fn schema(&self, key: Option<&str>, node: &Json) -> Result<Option<Schema>, ()> {
        Ok(match node {
            Json::String(_) => Some(Schema::new(SchemaType::String).optional()),
            Json::Bool(_) => Some(Schema::new(SchemaType::Boolean).optional()),
            Json::Number(n) => Some(Schema::new(number_kind(n)).optional()),
            Json::Array(items) if items.is_empty() => None,
            Json::Array(items) => {
                Some(Schema::array_of(Arc::new(self.array_items(key, items)?)).optional())
            }
            Json::Object(members) => {
                let mut s = Schema::new(SchemaType::Struct).optional();
                if let Some(k) = key {
                    s = s.named(k);
                }
                for (name, member) in members {
                    let member_key = match key {
                        Some(k) if !k.trim().is_empty() => format!("{k}.{name}"),
                        _ => name.clone(),
                    };
                    if let Some(ms) = self.schema(Some(&member_key), member)? {
                        if s.field_index(name).is_none() {
                            s = s.with_field(name.clone(), Arc::new(ms));
                        }
                    }
                }
                Some(s)
            }
            Json::Null => self
                .null_as_bytes
                .then(|| Schema::new(SchemaType::Bytes).optional()),
        })
    }

    /// `toConnectSchemaWithCycles`: the element schema of a non-empty array.
    fn array_items(&self, key: Option<&str>, items: &[Json]) -> Result<Schema, ()> {
        let sample = self.first_element(items)?;
        match sample {
            Json::Object(_) => {
                let mut merged: Option<Schema> = None;
                let mut seen: Vec<Schema> = Vec::new();
                for item in items.iter().filter(|i| i.is_object()) {
                    if let Some(s) = self.schema(key, item)? {
                        if !seen.contains(&s) {
                            seen.push(s);
                        }
                    }
                }
                for s in seen {
                    merged = Some(match merged {
                        None => s,
                        Some(left) => merge(left, s),
                    });
                }
                merged.ok_or(())
            }
            other => self.schema(None, other)?.ok_or(()),
        }
    }

    /// `getFirstArrayElement`: the first non-null element; every other
    /// non-null element must be of its JSON type (numbers: of its Connect type).
    fn first_element<'a>(&self, items: &'a [Json]) -> Result<&'a Json, ()> {
        let mut first: Option<&Json> = None;
        for item in items.iter().filter(|i| !i.is_null()) {
            let Some(reference) = first else {
                first = Some(item);
                continue;
            };
            if std::mem::discriminant(reference) != std::mem::discriminant(item) {
                return Err(());
            }
            if let (Json::Number(a), Json::Number(b)) = (reference, item) {
                if number_kind(a) != number_kind(b) {
                    return Err(());
                }
            }
        }
        Ok(first.unwrap_or(&Json::Null))
    }
}

/// `mergeSchema`: the left struct's fields, then the right's new ones; a
/// bytes field (from a null) gives way to a typed one.
fn merge(left: Schema, right: Schema) -> Schema {
    let mut out = left;
    for f in right.fields {
        match out.field_index(&f.name) {
            None => out.fields.push(f),
            Some(i) => {
                let old = &out.fields[i].schema;
                if **old != *f.schema
                    && old.kind == SchemaType::Bytes
                    && f.schema.kind != SchemaType::Bytes
                {
                    out.fields[i].schema = f.schema;
                }
            }
        }
    }
    out
}

/// `jsonNodeToStructInternal`: the struct of `schema` over an object (a
/// member the schema lacks is left out; one the document lacks is null).
fn data_struct(doc: &Json, schema: &Schema) -> Result<Value, String> {
    let Json::Object(members) = doc else {
        return Err("a struct field holds a JSON non-object".into());
    };
    let mut fields = Vec::with_capacity(schema.fields.len());
    for f in &schema.fields {
        fields.push(match members.get(&f.name) {
            Some(node) => data(node, &f.schema)?,
            None => Value::Null,
        });
    }
    Ok(Value::Struct(fields))
}

/// `getStructFieldValue` followed by Connect's validation of the value against `schema`.
fn data(node: &Json, schema: &Schema) -> Result<Value, String> {
    let mismatch = || {
        Err(format!(
            "a JSON value does not fit its inferred {} schema",
            schema.kind.json_name()
        ))
    };
    match (node, schema.kind) {
        (Json::Null, _) => Ok(Value::Null),
        (Json::String(s), SchemaType::String) => Ok(Value::String(s.clone())),
        (Json::Bool(b), SchemaType::Boolean) => Ok(Value::Boolean(*b)),
        (Json::Number(n), kind) => match (number_kind(n), kind) {
            (SchemaType::Int32, SchemaType::Int32) => Ok(Value::Int32(
                n.as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .unwrap_or_default(),
            )),
            (SchemaType::Int64, SchemaType::Int64) => {
                Ok(Value::Int64(n.as_i64().unwrap_or_default()))
            }
            (SchemaType::Float64, SchemaType::Float64) if n.as_u64().is_none() => {
                Ok(Value::Float64(n.as_f64().unwrap_or_default()))
            }
            _ => mismatch(),
        },
        (Json::Array(items), SchemaType::Array) => {
            let Some(item_schema) = &schema.items else {
                return mismatch();
            };
            items
                .iter()
                .map(|i| data(i, item_schema))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        (Json::Object(_), SchemaType::Struct) => data_struct(node, schema),
        _ => mismatch(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_mixing_types_keep_the_string_and_misfits_fail() {
        assert!(
            matches!(expand("[1, 2]", "payload", false), Expansion::Fail(_)),
            "root array"
        );
        assert!(matches!(
            expand("{\"a\":[1,\"x\"]}", "payload", false),
            Expansion::Keep
        ));
        assert!(
            matches!(
                expand("{\"a\":[1,5000000000]}", "payload", false),
                Expansion::Keep
            ),
            "int32 and int64"
        );
        assert!(
            matches!(
                expand("{\"a\":[{\"b\":1},2]}", "payload", false),
                Expansion::Keep
            ),
            "object then number"
        );
        assert!(
            matches!(
                expand("{\"n\":18446744073709551615}", "payload", false),
                Expansion::Fail(_)
            ),
            "beyond int64"
        );
        assert!(
            matches!(expand(" {}", "payload", false), Expansion::Keep),
            "must start with {{ or ["
        );
        assert!(matches!(
            expand("{\"a\":[null]}", "payload", false),
            Expansion::Keep
        ));
        let Expansion::Expanded(s, _) = expand("{\"a\":[null],\"b\":null}", "p", true) else {
            panic!()
        };
        assert_eq!(s.fields.len(), 2, "optional_bytes keeps nulls");
    }

    #[test]
    fn object_arrays_merge_their_fields_and_nest_names() {
        let Expansion::Expanded(s, v) = expand(
            "{\"l\":[{\"a\":1},{\"b\":\"x\",\"a\":2}],\"o\":{\"p\":{}}}",
            "payload",
            false,
        ) else {
            panic!()
        };
        let items = s.fields[0].schema.items.clone().unwrap();
        assert_eq!(items.name.as_deref(), Some("payload.l"));
        assert_eq!(
            items
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            s.fields[1].schema.fields[0].schema.name.as_deref(),
            Some("payload.o.p")
        );
        let Value::Struct(f) = v else { panic!() };
        assert_eq!(
            f[0],
            Value::Array(vec![
                Value::Struct(vec![Value::Int32(1), Value::Null]),
                Value::Struct(vec![Value::Int32(2), Value::String("x".into())])
            ])
        );
    }
}
