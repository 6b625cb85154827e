//! Debezium's ByLogicalTableRouter (`io.debezium.transforms.ByLogicalTableRouter`):
//! routes the records of several physical tables to one logical topic.
//!
//! For a record whose topic matches `topic.regex` entirely (Java
//! `Matcher.replaceFirst` on `topic.replacement`, as RegexRouter):
//! - the topic becomes the replacement (an empty result leaves the record as is);
//! - a non-null key struct is renamed `<new topic>.Key` and, with
//!   `key.enforce.uniqueness` (default true), gets a required string field
//!   `key.field.name` (default `__dbz__physicalTableIdentifier`) holding the
//!   old topic, or `key.field.regex` → `key.field.replacement` applied to it
//!   when that regex matches the old topic;
//! - a change-event envelope is renamed `<new topic>.Envelope`, and its
//!   `before`/`after` struct `<new topic>.Value`; tombstones and other
//!   values (e.g. after ExtractNewRecordState) keep their value untouched.
//!
//! Schema names pass through `schema.name.adjustment.mode` (`none`, the
//! default; `avro`; `avro_unicode`). Copying a row goes through Kafka's
//! `Struct.get`, which turns a null into the field's default when it has one.

use std::collections::HashMap;
use std::sync::Arc;

use super::router::TopicRewrite;
use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};

/// Default of `key.field.name`.
pub const DEFAULT_KEY_FIELD_NAME: &str = "__dbz__physicalTableIdentifier";

/// `schema.name.adjustment.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SchemaNameAdjustment {
    #[default]
    None,
    /// Characters not valid in an Avro full name become `_`.
    Avro,
    /// Characters not valid in an Avro full name become `_uXXXX`.
    AvroUnicode,
}

impl SchemaNameAdjustment {
    /// The adjusted schema name.
    pub fn adjust(self, name: &str) -> String {
        if self == SchemaNameAdjustment::None {
            return name.to_owned();
        }
        let mut out = String::with_capacity(name.len());
        for (i, c) in name.chars().enumerate() {
            let valid = c == '_' || c.is_ascii_alphabetic() || (i > 0 && (c.is_ascii_digit() || c == '.'));
            match (valid, self) {
                (true, _) => out.push(c),
                (false, SchemaNameAdjustment::AvroUnicode) => out.push_str(&format!("_u{:04x}", u32::from(c))),
                (false, _) => out.push('_'),
            }
        }
        out
    }
}

/// The transform's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalRouterOptions {
    /// `topic.regex` + `topic.replacement`
    pub topic: TopicRewrite,
    /// `key.enforce.uniqueness` (default true)
    pub key_enforce_uniqueness: bool,
    /// `key.field.name`
    pub key_field_name: String,
    /// `key.field.regex` + `key.field.replacement`
    pub key_field: Option<TopicRewrite>,
    /// `schema.name.adjustment.mode`
    pub adjustment: SchemaNameAdjustment,
}

/// Cached schemas by the address of the schema they replace (kept alive in the entry).
type SchemaCache = HashMap<usize, (Arc<Schema>, Arc<Schema>)>;

/// Entries kept per cache before it is reset.
const CACHE_CAPACITY: usize = 4096;

/// ByLogicalTableRouter with its schema caches.
#[derive(Debug)]
pub struct LogicalRouter {
    opts: LogicalRouterOptions,
    keys: SchemaCache,
    envelopes: SchemaCache,
}

impl LogicalRouter {
    pub fn new(opts: LogicalRouterOptions) -> Self {
        LogicalRouter { opts, keys: HashMap::new(), envelopes: HashMap::new() }
    }

    pub fn apply(&mut self, mut record: Record, out: &mut Vec<Record>) {
        let Some(topic) = self.opts.topic.apply(&record.topic).filter(|t| !t.is_empty()) else {
            out.push(record);
            return;
        };
        let old_topic = std::mem::replace(&mut record.topic, topic);
        if let Some(key) = record.key.take() {
            record.key = Some(self.route_key(key, &old_topic, &record.topic));
        }
        if let Some(value) = record.value.take() {
            record.value = Some(self.route_envelope(value, &record.topic));
        }
        out.push(record);
    }

    fn route_key(&mut self, key: SchemaAndValue, old_topic: &str, topic: &str) -> SchemaAndValue {
        if key.schema.kind != SchemaType::Struct || !matches!(key.value, Value::Struct(_)) {
            return key;
        }
        let Value::Struct(mut values) = key.value else { return key };
        let opts = &self.opts;
        let schema = cached(&mut self.keys, &key.schema, || {
            let mut s = copy_without_name(&key.schema);
            s.name = Some(opts.adjustment.adjust(&format!("{topic}.Key")));
            if opts.key_enforce_uniqueness {
                s = s.with_field(opts.key_field_name.clone(), Arc::new(Schema::new(SchemaType::String)));
            }
            s
        });
        values = with_defaults(&key.schema, values);
        if opts.key_enforce_uniqueness {
            let id = opts.key_field.as_ref().and_then(|r| r.apply(old_topic)).unwrap_or_else(|| old_topic.to_owned());
            values.push(Value::String(id));
        }
        SchemaAndValue::new(schema, Value::Struct(values))
    }

    fn route_envelope(&mut self, value: SchemaAndValue, topic: &str) -> SchemaAndValue {
        let env = &value.schema;
        let is_envelope = env.kind == SchemaType::Struct && env.name.as_deref().is_some_and(|n| n.ends_with(".Envelope"));
        let (Some(before), Some(after)) = (env.field_index("before"), env.field_index("after")) else {
            return value;
        };
        if !is_envelope {
            return value;
        }
        let adjustment = self.opts.adjustment;
        let schema = cached(&mut self.envelopes, env, || {
            let mut row = copy_without_name(&env.fields[before].schema);
            row.name = Some(adjustment.adjust(&format!("{topic}.Value")));
            let row = Arc::new(row);
            let mut s = copy_without_name(env);
            s.name = Some(adjustment.adjust(&format!("{topic}.Envelope")));
            for f in &mut s.fields {
                if f.name == "before" || f.name == "after" {
                    f.schema = Arc::clone(&row);
                }
            }
            s
        });
        let Value::Struct(mut fields) = value.value else { return SchemaAndValue::new(value.schema, value.value) };
        for i in [before, after] {
            if let Some(Value::Struct(row)) = fields.get_mut(i) {
                *row = with_defaults(&env.fields[i].schema, std::mem::take(row));
            }
        }
        SchemaAndValue::new(schema, Value::Struct(fields))
    }
}

/// Debezium's `copySchemaExcludingName`: version, doc, parameters,
/// optionality and fields; no name, no default.
fn copy_without_name(s: &Schema) -> Schema {
    let mut c = Schema::new(s.kind);
    c.version = s.version;
    c.doc = s.doc.clone();
    c.parameters = s.parameters.clone();
    c.optional = s.optional;
    c.fields = s.fields.clone();
    c
}

/// A struct's values as Kafka's `Struct.get` reads them: null → the field's default.
fn with_defaults(schema: &Schema, mut values: Vec<Value>) -> Vec<Value> {
    for (v, f) in values.iter_mut().zip(&schema.fields) {
        if v.is_null() {
            if let Some(d) = &f.schema.default {
                *v = d.clone();
            }
        }
    }
    values
}

fn cached(cache: &mut SchemaCache, old: &Arc<Schema>, build: impl FnOnce() -> Schema) -> Arc<Schema> {
    let key = Arc::as_ptr(old) as usize;
    if let Some((_, new)) = cache.get(&key) {
        return Arc::clone(new);
    }
    if cache.len() >= CACHE_CAPACITY {
        cache.clear();
    }
    let new = Arc::new(build());
    cache.insert(key, (Arc::clone(old), Arc::clone(&new)));
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::debezium::tests::stock_records;

    fn opts(uniqueness: bool, key_field: Option<TopicRewrite>) -> LogicalRouterOptions {
        LogicalRouterOptions {
            topic: TopicRewrite::new("(.*)[.]public[.]st(.*)", "$1.logical").unwrap(),
            key_enforce_uniqueness: uniqueness,
            key_field_name: DEFAULT_KEY_FIELD_NAME.into(),
            key_field,
            adjustment: SchemaNameAdjustment::None,
        }
    }

    fn route(o: LogicalRouterOptions) -> Vec<Record> {
        let mut t = LogicalRouter::new(o);
        let mut out = Vec::new();
        for r in stock_records() {
            t.apply(r, &mut out);
        }
        out
    }

    #[test]
    fn routes_topic_and_renames_key_value_and_envelope_schemas() {
        let input = stock_records();
        let out = route(opts(true, None));
        assert_eq!(out.len(), input.len());
        for (got, was) in out.iter().zip(&input) {
            assert_eq!(got.topic, "ecommerce.logical");
            if let (Some(k), Some(old)) = (&got.key, &was.key) {
                assert_eq!(k.schema.name.as_deref(), Some("ecommerce.logical.Key"));
                let last = k.schema.fields.last().unwrap();
                assert_eq!((last.name.as_str(), last.schema.kind, last.schema.optional), (DEFAULT_KEY_FIELD_NAME, SchemaType::String, false));
                let (Value::Struct(new), Value::Struct(old_vals)) = (&k.value, &old.value) else { panic!() };
                assert_eq!(new[..old_vals.len()], old_vals[..]);
                assert_eq!(new.last(), Some(&Value::String("ecommerce.public.stock".into())));
            }
            match (&got.value, &was.value) {
                (Some(v), Some(old)) => {
                    assert_eq!(v.schema.name.as_deref(), Some("ecommerce.logical.Envelope"));
                    assert_eq!(v.schema.fields[0].schema.name.as_deref(), Some("ecommerce.logical.Value"));
                    assert_eq!(v.schema.fields[1].schema, v.schema.fields[0].schema);
                    assert_eq!(v.schema.fields.len(), old.schema.fields.len());
                }
                (None, None) => {}
                other => panic!("value presence changed: {other:?}"),
            }
        }
    }

    #[test]
    fn key_field_regex_and_disabled_uniqueness() {
        let out = route(opts(true, Some(TopicRewrite::new(".*[.](st.*)", "$1-id").unwrap())));
        let k = out.iter().find_map(|r| r.key.as_ref()).unwrap();
        let Value::Struct(vals) = &k.value else { panic!() };
        assert_eq!(vals.last(), Some(&Value::String("stock-id".into())));
        let out = route(opts(false, None));
        let (k, old) = (out.iter().find_map(|r| r.key.as_ref()).unwrap(), stock_records().into_iter().find_map(|r| r.key).unwrap());
        assert_eq!(k.value, old.value);
        assert_eq!(k.schema.fields, old.schema.fields);
    }

    #[test]
    fn unmatched_topics_pass_unchanged_and_names_adjust_for_avro() {
        let mut o = opts(true, None);
        o.topic = TopicRewrite::new("nothing", "x").unwrap();
        assert_eq!(route(o), stock_records());
        assert_eq!(SchemaNameAdjustment::Avro.adjust("db.dash-name.Key"), "db.dash_name.Key");
        assert_eq!(SchemaNameAdjustment::AvroUnicode.adjust("1a-b"), "_u0031a_u002db");
        assert_eq!(SchemaNameAdjustment::None.adjust("a-b"), "a-b");
    }
}
