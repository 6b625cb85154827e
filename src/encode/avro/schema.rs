//! Connect schema → Avro schema, as Confluent's `AvroData.fromConnectSchema`
//! (kafka-connect-avro-data 7.0) builds it, and its JSON text as Avro's
//! `Schema.toString()` prints it (the text the converter registers).
//!
//! ```text
//!   struct  (name a.b.C)    → {"type":"record","name":"C","namespace":"a.b","fields":[…],"connect.name":"a.b.C"}
//!   optional T              → ["null", T]                field "default": null
//!   optional T, default d   → [T, "null"]                field "default": d, T has "connect.default": d
//!   int8 / int16            → {"type":"int","connect.type":"int8"|"int16"}
//!   Decimal(scale s)        → {"type":"bytes","scale":s,"precision":p|64,…,"logicalType":"decimal"}
//!   Date / Time / Timestamp → int "date" / int "time-millis" / long "timestamp-millis"
//!   map<string, V>          → {"type":"map","values":V};  other keys → array of record MapEntry{key, value}
//!   unnamed struct          → record io.confluent.connect.avro.ConnectDefault, ConnectDefault2, …
//! ```
//!
//! With `connect.meta.data` (default true) every non-union schema also carries
//! `connect.doc`, `connect.version`, `connect.parameters`, `connect.default`,
//! `connect.name` and `connect.type`, in that order. A Connect schema equal to
//! one already converted (optional ones aside) is the same Avro schema, so a
//! record type appears once and is referred to by name afterwards, exactly as
//! `AvroData`'s schema map and Avro's printer do. Debezium's semantic types
//! (`io.debezium.time.*`, `io.debezium.data.Enum`, `VariableScaleDecimal`, …)
//! need nothing of their own: they are named Connect schemas like any other.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::encode::json::DECIMAL_SCHEMA_NAME;
use crate::schema::{Schema, SchemaType, Value};

/// Namespace of the names `AvroData` makes up.
pub const NAMESPACE: &str = "io.confluent.connect.avro";
/// Name of an unnamed struct (then `ConnectDefault2`, `ConnectDefault3`, …).
pub const DEFAULT_SCHEMA_NAME: &str = "ConnectDefault";
/// Record name of a map entry when the map's keys are not strings.
pub const MAP_ENTRY_TYPE_NAME: &str = "MapEntry";
const DATE_SCHEMA_NAME: &str = "org.apache.kafka.connect.data.Date";
const TIME_SCHEMA_NAME: &str = "org.apache.kafka.connect.data.Time";
const TIMESTAMP_SCHEMA_NAME: &str = "org.apache.kafka.connect.data.Timestamp";
/// `AvroData`'s precision of a Decimal without `connect.decimal.precision`.
const DEFAULT_DECIMAL_PRECISION: i64 = 64;
/// Connect parameter naming a Decimal's precision.
const DECIMAL_PRECISION_PARAMETER: &str = "connect.decimal.precision";

/// The `AvroDataConfig` settings of a converter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvroDataOptions {
    /// `connect.meta.data` (default true): the `connect.*` properties.
    pub connect_meta_data: bool,
    /// `enhanced.avro.schema.support` (default false): Avro enums from
    /// `io.confluent.connect.avro.Enum` parameters. Debezium never sets those,
    /// so it changes nothing for its schemas.
    pub enhanced_schema_support: bool,
    /// `scrub.invalid.names` (default false): replace characters Avro names
    /// may not hold instead of failing.
    pub scrub_invalid_names: bool,
    /// `allow.optional.map.keys` (default false): a map with optional string
    /// keys is still an Avro map.
    pub allow_optional_map_keys: bool,
}

impl Default for AvroDataOptions {
    fn default() -> Self {
        AvroDataOptions {
            connect_meta_data: true,
            enhanced_schema_support: false,
            scrub_invalid_names: false,
            allow_optional_map_keys: false,
        }
    }
}

/// A Connect schema that has no Avro form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemaError {
    /// Avro names are `[A-Za-z_][A-Za-z0-9_]*` (dot-separated in namespaces).
    #[error("{what} {name:?} is not a valid Avro name; set {{key,value}}.converter.scrub.invalid.names=true to have it rewritten, or rename it")]
    InvalidName { what: &'static str, name: String },
    /// Two different Connect schemas under one Avro name.
    #[error("two different schemas are both named {name:?}; Avro cannot define a name twice")]
    Redefined { name: String },
    /// A Decimal without a valid `scale` parameter.
    #[error("Decimal schema has no valid scale parameter")]
    DecimalScale,
    /// An array or map schema without its element schemas.
    #[error("{kind} schema lacks its element schema")]
    Incomplete { kind: &'static str },
}

/// An Avro schema, as the tree `AvroData` builds before it is printed.
#[derive(Clone, Debug, PartialEq)]
enum Node {
    /// `"int"`, or `{"type":"int", props…}` with properties.
    Primitive { name: &'static str, props: Map<String, Json> },
    Record(Arc<Record>),
    Array { items: Box<Node>, props: Map<String, Json> },
    Map { values: Box<Node>, props: Map<String, Json> },
    Union(Vec<Node>),
}

#[derive(Clone, Debug, PartialEq)]
struct Record {
    namespace: Option<String>,
    name: String,
    fields: Vec<RecordField>,
    props: Map<String, Json>,
}

#[derive(Clone, Debug, PartialEq)]
struct RecordField {
    name: String,
    schema: Node,
    default: Option<Json>,
}

impl Node {
    fn props_mut(&mut self) -> Option<&mut Map<String, Json>> {
        match self {
            Node::Primitive { props, .. } | Node::Array { props, .. } | Node::Map { props, .. } => Some(props),
            Node::Record(r) => Some(&mut Arc::make_mut(r).props),
            Node::Union(_) => None,
        }
    }
}

/// The Avro schema of `schema` as JSON text (what the converter registers).
pub fn avro_schema_text(schema: &Schema, opts: &AvroDataOptions) -> Result<String, SchemaError> {
    Ok(avro_schema_json(schema, opts)?.to_string())
}

/// The Avro schema of `schema` as parsed JSON.
pub fn avro_schema_json(schema: &Schema, opts: &AvroDataOptions) -> Result<Json, SchemaError> {
    let mut ctx = Context { opts, seen: Vec::new(), default_names: 0 };
    let node = ctx.convert(schema, false)?;
    let mut printer = Printer { names: Vec::new(), space: None };
    printer.print(&node)
}

/// `AvroData.FromConnectContext`: converted non-optional schemas and the
/// counter of made-up names.
struct Context<'a> {
    opts: &'a AvroDataOptions,
    seen: Vec<(Schema, Node)>,
    default_names: u32,
}

impl Context<'_> {
    fn convert(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Node, SchemaError> {
        if !schema.optional {
            if let Some((_, node)) = self.seen.iter().find(|(s, _)| s == schema) {
                return Ok(node.clone());
            }
        }
        let mut connect_type = None;
        let mut base = match schema.kind {
            SchemaType::Int8 => {
                connect_type = Some("int8");
                primitive("int")
            }
            SchemaType::Int16 => {
                connect_type = Some("int16");
                primitive("int")
            }
            SchemaType::Int32 => primitive("int"),
            SchemaType::Int64 => primitive("long"),
            SchemaType::Float32 => primitive("float"),
            SchemaType::Float64 => primitive("double"),
            SchemaType::Boolean => primitive("boolean"),
            SchemaType::String => primitive("string"),
            SchemaType::Bytes => {
                let mut node = primitive("bytes");
                if is_named(schema, DECIMAL_SCHEMA_NAME) {
                    let (precision, scale) = decimal_precision_scale(schema)?;
                    if let Some(props) = node.props_mut() {
                        props.insert("scale".into(), scale.into());
                        props.insert("precision".into(), precision.into());
                    }
                }
                node
            }
            SchemaType::Array => {
                let items = schema.items.as_deref().ok_or(SchemaError::Incomplete { kind: "array" })?;
                Node::Array { items: Box::new(self.convert(items, false)?), props: Map::new() }
            }
            SchemaType::Map => {
                let keys = schema.keys.as_deref().ok_or(SchemaError::Incomplete { kind: "map" })?;
                let values = schema.items.as_deref().ok_or(SchemaError::Incomplete { kind: "map" })?;
                if string_keyed(schema, self.opts) {
                    Node::Map { values: Box::new(self.convert(values, false)?), props: Map::new() }
                } else {
                    let (namespace, name, internal) = match &schema.name {
                        None => (Some(NAMESPACE.to_owned()), MAP_ENTRY_TYPE_NAME.to_owned(), false),
                        Some(n) => {
                            let (ns, name) = self.split_name(n)?;
                            (ns, name, true)
                        }
                    };
                    let mut props = Map::new();
                    if internal {
                        props.insert("connect.internal.type".into(), MAP_ENTRY_TYPE_NAME.into());
                    }
                    let fields = vec![self.field("key", keys)?, self.field("value", values)?];
                    let entry = Node::Record(Arc::new(Record { namespace, name, fields, props }));
                    Node::Array { items: Box::new(entry), props: Map::new() }
                }
            }
            SchemaType::Struct if schema.optional => {
                let required = Schema { optional: false, ..schema.clone() };
                Node::Union(vec![primitive("null"), self.convert(&required, false)?])
            }
            SchemaType::Struct => {
                let (namespace, name) = match &schema.name {
                    Some(n) => self.split_name(n)?,
                    None => {
                        self.default_names += 1;
                        let name = match self.default_names {
                            1 => DEFAULT_SCHEMA_NAME.to_owned(),
                            n => format!("{DEFAULT_SCHEMA_NAME}{n}"),
                        };
                        (Some(NAMESPACE.to_owned()), name)
                    }
                };
                let mut fields = Vec::with_capacity(schema.fields.len());
                for f in &schema.fields {
                    let name = self.scrub(&f.name, "field name")?;
                    fields.push(self.field_named(name, &f.schema)?);
                }
                Node::Record(Arc::new(Record { namespace, name, fields, props: Map::new() }))
            }
        };
        if matches!(base, Node::Union(_)) {
            return Ok(base);
        }
        if let Some(props) = base.props_mut() {
            if self.opts.connect_meta_data {
                if let Some(doc) = &schema.doc {
                    props.insert("connect.doc".into(), doc.clone().into());
                }
                if let Some(version) = schema.version {
                    props.insert("connect.version".into(), version.into());
                }
                if !schema.parameters.is_empty() {
                    let params: Map<String, Json> =
                        schema.parameters.iter().map(|(k, v)| (k.clone(), Json::String(v.clone()))).collect();
                    props.insert("connect.parameters".into(), Json::Object(params));
                }
                if let Some(default) = &schema.default {
                    props.insert("connect.default".into(), default_json(schema, default, self.opts));
                }
                if let Some(name) = &schema.name {
                    props.insert("connect.name".into(), name.clone().into());
                }
                if let Some(t) = connect_type {
                    props.insert("connect.type".into(), t.into());
                }
            }
            let logical = match schema.name.as_deref() {
                Some(n) if n.eq_ignore_ascii_case(DECIMAL_SCHEMA_NAME) => Some("decimal"),
                Some(n) if n.eq_ignore_ascii_case(TIME_SCHEMA_NAME) => Some("time-millis"),
                Some(n) if n.eq_ignore_ascii_case(TIMESTAMP_SCHEMA_NAME) => Some("timestamp-millis"),
                Some(n) if n.eq_ignore_ascii_case(DATE_SCHEMA_NAME) => Some("date"),
                _ => None,
            };
            if let Some(logical) = logical {
                props.insert("logicalType".into(), logical.into());
            }
            for (k, v) in &schema.parameters {
                if k.starts_with("avro") {
                    props.insert(k.clone(), v.clone().into());
                }
            }
        }
        let result = if ignore_optional || !schema.optional {
            base
        } else if schema.default.is_some() {
            Node::Union(vec![base, primitive("null")])
        } else {
            Node::Union(vec![primitive("null"), base])
        };
        if !schema.optional {
            self.seen.push((schema.clone(), result.clone()));
        }
        Ok(result)
    }

    fn field(&mut self, name: &str, schema: &Schema) -> Result<RecordField, SchemaError> {
        self.field_named(name.to_owned(), schema)
    }

    fn field_named(&mut self, name: String, schema: &Schema) -> Result<RecordField, SchemaError> {
        let default = match &schema.default {
            Some(d) => Some(default_json(schema, d, self.opts)),
            None if schema.optional => Some(Json::Null),
            None => None,
        };
        let node = self.convert(schema, false)?;
        Ok(RecordField { name, schema: node, default })
    }

    /// `AvroData.splitName`: namespace before the last dot, name after it.
    fn split_name(&self, full: &str) -> Result<(Option<String>, String), SchemaError> {
        let (ns, name) = match full.rfind('.') {
            Some(i) => (Some(&full[..i]), &full[i + 1..]),
            None => (None, full),
        };
        let name = self.scrub(name, "schema name")?;
        // Avro 1.11 (AvroConverter 7.0's) checks a name, not its namespace:
        // `shop.public.dash-name.Value` is accepted as it is.
        let ns = match ns {
            None => None,
            Some(ns) if !self.opts.scrub_invalid_names => Some(ns.to_owned()),
            Some(ns) => {
                let parts: Result<Vec<String>, SchemaError> =
                    ns.split('.').map(|p| self.scrub(p, "schema namespace")).collect();
                Some(parts?.join("."))
            }
        };
        Ok((ns, name))
    }

    /// A name as Avro accepts it: scrubbed when `scrub.invalid.names`, else checked.
    fn scrub(&self, name: &str, what: &'static str) -> Result<String, SchemaError> {
        if valid_name(name) {
            Ok(name.to_owned())
        } else if self.opts.scrub_invalid_names {
            Ok(scrub_name(name))
        } else {
            Err(SchemaError::InvalidName { what, name: name.to_owned() })
        }
    }
}

fn primitive(name: &'static str) -> Node {
    Node::Primitive { name, props: Map::new() }
}

fn is_named(schema: &Schema, name: &str) -> bool {
    schema.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// Whether a map schema becomes an Avro map (string keys) rather than an array of entries.
pub(crate) fn string_keyed(schema: &Schema, opts: &AvroDataOptions) -> bool {
    schema.keys.as_deref().is_some_and(|k| k.kind == SchemaType::String && (!k.optional || opts.allow_optional_map_keys))
}

fn decimal_precision_scale(schema: &Schema) -> Result<(i64, i64), SchemaError> {
    let scale = schema.parameter("scale").and_then(|s| s.parse::<i64>().ok()).ok_or(SchemaError::DecimalScale)?;
    let precision = schema
        .parameter(DECIMAL_PRECISION_PARAMETER)
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(DEFAULT_DECIMAL_PRECISION);
    Ok((precision, scale))
}

/// Avro's name rule: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `AvroData.doScrubName`: URL-encode (UTF-8, `URLEncoder` rules), prefix
/// `x` when that starts with a digit, then every character that is not
/// `[A-Za-z0-9_]` becomes `_`.
pub fn scrub_name(name: &str) -> String {
    if name.is_empty() || valid_name(name) {
        return name.to_owned();
    }
    let mut encoded = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => encoded.push(b as char),
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    if encoded.starts_with(|c: char| c.is_ascii_digit()) {
        encoded.insert(0, 'x');
    }
    encoded.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// `AvroData.defaultValueFromConnect`: a Connect default as Avro JSON.
fn default_json(schema: &Schema, value: &Value, opts: &AvroDataOptions) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(v) => Json::from(*v),
        Value::Int16(v) => Json::from(*v),
        Value::Int32(v) => Json::from(*v),
        Value::Int64(v) => Json::from(*v),
        // Jackson prints a float as Java's Float.toString does: the shortest
        // decimal that reads back as the same f32.
        Value::Float32(v) => v.to_string().parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Json::Null, Json::Number),
        Value::Float64(v) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.clone()),
        // Bytes are ISO-8859-1 text in Avro JSON.
        Value::Bytes(b) => Json::String(b.iter().map(|&c| c as char).collect()),
        Value::Array(items) => {
            let item_schema = schema.items.as_deref();
            Json::Array(items.iter().map(|v| item_schema.map_or(Json::Null, |s| default_json(s, v, opts))).collect())
        }
        Value::Map(entries) => {
            let (Some(ks), Some(vs)) = (schema.keys.as_deref(), schema.items.as_deref()) else { return Json::Null };
            if string_keyed(schema, opts) {
                let mut m = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        m.insert(k.clone(), default_json(vs, v, opts));
                    }
                }
                Json::Object(m)
            } else {
                Json::Array(
                    entries.iter().map(|(k, v)| Json::Array(vec![default_json(ks, k, opts), default_json(vs, v, opts)])).collect(),
                )
            }
        }
        Value::Struct(values) => {
            let mut m = Map::new();
            for (f, v) in schema.fields.iter().zip(values) {
                let name = if opts.scrub_invalid_names { scrub_name(&f.name) } else { f.name.clone() };
                m.insert(name, default_json(&f.schema, v, opts));
            }
            Json::Object(m)
        }
    }
}

/// Avro's `Schema.toString()`: a named type is defined once, then referred
/// to by its name, short when its namespace is the enclosing one.
struct Printer {
    names: Vec<(String, Arc<Record>)>,
    space: Option<String>,
}

impl Printer {
    fn print(&mut self, node: &Node) -> Result<Json, SchemaError> {
        Ok(match node {
            Node::Primitive { name, props } if props.is_empty() => Json::String((*name).to_owned()),
            Node::Primitive { name, props } => {
                let mut m = Map::new();
                m.insert("type".into(), (*name).into());
                m.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
                Json::Object(m)
            }
            Node::Array { items, props } => {
                let mut m = Map::new();
                m.insert("type".into(), "array".into());
                m.insert("items".into(), self.print(items)?);
                m.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
                Json::Object(m)
            }
            Node::Map { values, props } => {
                let mut m = Map::new();
                m.insert("type".into(), "map".into());
                m.insert("values".into(), self.print(values)?);
                m.extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
                Json::Object(m)
            }
            Node::Union(branches) => Json::Array(branches.iter().map(|b| self.print(b)).collect::<Result<_, _>>()?),
            Node::Record(record) => self.record(record)?,
        })
    }

    fn record(&mut self, record: &Arc<Record>) -> Result<Json, SchemaError> {
        let full = match &record.namespace {
            Some(ns) => format!("{ns}.{}", record.name),
            None => record.name.clone(),
        };
        if let Some((_, defined)) = self.names.iter().find(|(n, _)| *n == full) {
            if **defined != **record {
                return Err(SchemaError::Redefined { name: full });
            }
            let short = record.namespace.is_none() || record.namespace == self.space;
            return Ok(Json::String(if short { record.name.clone() } else { full }));
        }
        self.names.push((full, Arc::clone(record)));
        let mut m = Map::new();
        m.insert("type".into(), "record".into());
        m.insert("name".into(), record.name.clone().into());
        match &record.namespace {
            Some(ns) if Some(ns) != self.space.as_ref() => {
                m.insert("namespace".into(), ns.clone().into());
            }
            None if self.space.is_some() => {
                m.insert("namespace".into(), "".into());
            }
            _ => {}
        }
        let saved = std::mem::replace(&mut self.space, record.namespace.clone());
        let mut fields = Vec::with_capacity(record.fields.len());
        for f in &record.fields {
            let mut fm = Map::new();
            fm.insert("name".into(), f.name.clone().into());
            fm.insert("type".into(), self.print(&f.schema)?);
            if let Some(d) = &f.default {
                fm.insert("default".into(), d.clone());
            }
            fields.push(Json::Object(fm));
        }
        m.insert("fields".into(), Json::Array(fields));
        m.extend(record.props.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.space = saved;
        Ok(Json::Object(m))
    }
}
