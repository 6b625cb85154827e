//! Kafka Connect's data model: typed schemas and the values they describe.
//!
//! Every stage after the source speaks this model, exactly as a Kafka Connect
//! connector hands `SourceRecord`s to transforms and converters:
//!
//! ```text
//!   ChangeEvent ──envelope──▶ Record{key: (Schema, Value), value: (Schema, Value)} ──transforms──▶ ──encode──▶ bytes
//! ```
//!
//! A [`Value::Struct`] holds its field values positionally, in the order of
//! its schema's [`Schema::fields`]. Logical types (Decimal, MicroTimestamp, …)
//! are a primitive [`SchemaType`] plus a `name` (and `parameters`), as in
//! Connect.

/// The Connect schema name of a Decimal (`scale` parameter; bytes of the unscaled value).
pub const DECIMAL_SCHEMA_NAME: &str = "org.apache.kafka.connect.data.Decimal";

use std::sync::Arc;

/// Connect's primitive and container types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The name JsonConverter writes in `"type"`.
    pub fn json_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }
}

/// A Connect schema. Build with [`Schema::new`] and the `with_*` helpers.
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub kind: SchemaType,
    pub optional: bool,
    /// Logical or record name, e.g. `io.debezium.time.MicroTimestamp` or
    /// `ecommerce.public.stock.Value`.
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    /// Ordered parameters, e.g. Decimal's `scale`.
    pub parameters: Vec<(String, String)>,
    pub default: Option<Value>,
    /// Fields of a struct schema, in order.
    pub fields: Vec<Field>,
    /// Element schema of an array; value schema of a map.
    pub items: Option<Arc<Schema>>,
    /// Key schema of a map.
    pub keys: Option<Arc<Schema>>,
}

/// One named field of a struct schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub schema: Arc<Schema>,
}

impl Schema {
    pub fn new(kind: SchemaType) -> Self {
        Schema {
            kind,
            optional: false,
            name: None,
            version: None,
            doc: None,
            parameters: Vec::new(),
            default: None,
            fields: Vec::new(),
            items: None,
            keys: None,
        }
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    pub fn with_optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    pub fn with_version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    pub fn with_doc(mut self, doc: impl Into<String>) -> Self {
        self.doc = Some(doc.into());
        self
    }

    pub fn with_parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parameters.push((key.into(), value.into()));
        self
    }

    pub fn with_default(mut self, default: Value) -> Self {
        self.default = Some(default);
        self
    }

    pub fn with_field(mut self, name: impl Into<String>, schema: Arc<Schema>) -> Self {
        self.fields.push(Field { name: name.into(), schema });
        self
    }

    pub fn array_of(items: Arc<Schema>) -> Self {
        let mut s = Schema::new(SchemaType::Array);
        s.items = Some(items);
        s
    }

    pub fn map_of(keys: Arc<Schema>, values: Arc<Schema>) -> Self {
        let mut s = Schema::new(SchemaType::Map);
        s.keys = Some(keys);
        s.items = Some(values);
        s
    }

    /// Position of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A Connect value. `Struct` values are positional (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Struct(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
