//! The type dispatch: one [`Kind`] per column decides both its Connect schema
//! and how its text is converted, so the two can never disagree.

use std::sync::Arc;

use base64::Engine as _;

use super::composite::{parse_array, parse_hstore, parse_pg_float, parse_point, point_wkb};
use super::numeric::{self, BigDec, Special};
use super::temporal::{self, Interval};
use super::{oid, BinaryHandlingMode, DecimalHandlingMode, HstoreHandlingMode, IntervalHandlingMode, TimePrecisionMode, ValueOptions};
use crate::error::{Classify, ErrorClass};
use crate::schema::{Schema, SchemaType, Value};

/// What the catalog knows about a column's type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnType {
    /// `atttypid` (may be a domain, enum, array or extension type).
    pub oid: u32,
    /// `atttypmod`; -1 when none.
    pub type_modifier: i32,
    /// `pg_type.typname`, e.g. `int4`, `_text`, `citext`.
    pub type_name: String,
    /// Element type of an array type (`typelem`).
    pub element: Option<Box<ColumnType>>,
    /// Labels of an enum type, in `enumsortorder`.
    pub enum_values: Option<Vec<String>>,
    /// Base type of a domain (`typbasetype`, with the domain's `typtypmod`).
    pub domain_base: Option<Box<ColumnType>>,
}

impl ColumnType {
    /// A plain (non-array, non-enum, non-domain) type.
    pub fn new(oid: u32, type_modifier: i32, type_name: impl Into<String>) -> Self {
        ColumnType { oid, type_modifier, type_name: type_name.into(), element: None, enum_values: None, domain_base: None }
    }

    /// An array of `element`.
    pub fn array(oid: u32, type_modifier: i32, type_name: impl Into<String>, element: ColumnType) -> Self {
        ColumnType { element: Some(Box::new(element)), ..ColumnType::new(oid, type_modifier, type_name) }
    }

    /// Follows domains down to their root type; a domain's own typmod is used
    /// when the column has none.
    pub fn root(&self) -> ColumnType {
        let mut cur = self.clone();
        while let Some(base) = cur.domain_base.take() {
            let typmod = if cur.type_modifier >= 0 { cur.type_modifier } else { base.type_modifier };
            cur = ColumnType { type_modifier: typmod, ..*base };
        }
        cur
    }
}

/// A value could not be mapped. Every variant names the column type.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    #[error("cannot parse {type_name} value {text:?}: expected {expected}")]
    Parse { type_name: String, text: String, expected: &'static str },
    #[error("column type {type_name} (oid {oid}) has no Debezium mapping: set include.unknown.datatypes=true to capture it as bytes")]
    UnsupportedType { type_name: String, oid: u32 },
    #[error("{type_name} value {text:?} has more than {scale} fractional digits")]
    Scale { type_name: String, text: String, scale: i32 },
    #[error("binary tuple values are not supported ({type_name}): do not enable pgoutput's binary option")]
    Binary { type_name: String },
}

impl Classify for ValueError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Data
    }
}

/// Bad text, truncated to keep messages and logs bounded.
fn truncated(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn parse_err(col: &ColumnType, text: &str, expected: &'static str) -> ValueError {
    ValueError::Parse { type_name: col.type_name.clone(), text: truncated(text), expected }
}

/// The mapping of one (root) type.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Text passed through unchanged, optionally with a logical name.
    Str(Option<&'static str>),
    Enum(Vec<String>),
    /// `precision` 0 means unconstrained (variable scale).
    Numeric { precision: i32, scale: Option<i32> },
    Money,
    Date,
    Time { precision: i32 },
    TimeTz,
    /// A `timetz[]` element: pgjdbc reads it as `java.sql.Time`, whose
    /// `toLocalTime()` drops the fraction (observed: `"14:30:00Z"` for `12:30:00.5-02`).
    TimeTzWholeSeconds,
    Timestamp { precision: i32 },
    TimestampTz { fraction: i32 },
    Interval,
    Bytea,
    Bit { length: i64 },
    Point,
    Hstore,
    /// Element kind, whether elements are optional.
    Array(Box<Kind>, bool),
    Unknown,
    /// Debezium drops the column (no schema).
    Omitted,
}

/// pgjdbc's scale of a temporal type modifier: 6 when absent.
fn temporal_precision(typmod: i32) -> i32 {
    if typmod < 0 {
        6
    } else {
        typmod
    }
}

fn extension_kind(name: &str) -> Option<Kind> {
    Some(match name {
        "citext" | "isbn" => Kind::Str(None),
        "ltree" => Kind::Str(Some("io.debezium.data.Ltree")),
        "hstore" => Kind::Hstore,
        _ => return None,
    })
}

fn kind_of(col: &ColumnType) -> Kind {
    let col = col.root();
    if let Some(values) = &col.enum_values {
        return Kind::Enum(values.clone());
    }
    if let Some(elem) = &col.element {
        return array_kind(&col, elem);
    }
    let typmod = col.type_modifier;
    match col.oid {
        oid::BOOL => Kind::Bool,
        oid::INT2 => Kind::Int16,
        oid::INT4 => Kind::Int32,
        oid::INT8 | oid::OID => Kind::Int64,
        oid::FLOAT4 => Kind::Float32,
        oid::FLOAT8 => Kind::Float64,
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::CHAR | oid::NAME => Kind::Str(None),
        oid::INET | oid::CIDR | oid::MACADDR | oid::MACADDR8 => Kind::Str(None),
        oid::INT4RANGE | oid::INT8RANGE | oid::NUMRANGE | oid::TSRANGE | oid::TSTZRANGE | oid::DATERANGE => Kind::Str(None),
        oid::JSON | oid::JSONB => Kind::Str(Some("io.debezium.data.Json")),
        oid::UUID => Kind::Str(Some("io.debezium.data.Uuid")),
        oid::XML => Kind::Str(Some("io.debezium.data.Xml")),
        oid::TSVECTOR => Kind::Str(Some("io.debezium.data.Tsvector")),
        oid::NUMERIC => {
            if typmod < 0 {
                Kind::Numeric { precision: 0, scale: None }
            } else {
                let precision = ((typmod - 4) >> 16) & 0xFFFF;
                let scale = (typmod - 4) & 0xFFFF;
                Kind::Numeric { precision, scale: Some(scale) }
            }
        }
        oid::MONEY => Kind::Money,
        oid::DATE => Kind::Date,
        oid::TIME => Kind::Time { precision: temporal_precision(typmod) },
        oid::TIMETZ => Kind::TimeTz,
        oid::TIMESTAMP => Kind::Timestamp { precision: temporal_precision(typmod) },
        oid::TIMESTAMPTZ => Kind::TimestampTz { fraction: temporal_precision(typmod) },
        oid::INTERVAL => Kind::Interval,
        oid::BYTEA => Kind::Bytea,
        // pgjdbc: bit(n) has length n; varbit without a modifier Integer.MAX_VALUE.
        oid::BIT => Kind::Bit { length: i64::from(typmod.max(1)) },
        oid::VARBIT => Kind::Bit { length: if typmod < 0 { i64::from(i32::MAX) } else { i64::from(typmod) } },
        oid::POINT => Kind::Point,
        _ => extension_kind(&col.type_name).unwrap_or(Kind::Unknown),
    }
}

fn array_kind(col: &ColumnType, elem: &ColumnType) -> Kind {
    if oid::UNSUPPORTED_ARRAYS.contains(&col.oid) {
        return Kind::Omitted;
    }
    // Observed from Debezium 3.6.3 (differential test): an array of a domain
    // (`shorttext[]`, `posint[]`) is a type it does not map; the column is left out.
    if elem.domain_base.is_some() {
        return Kind::Unknown;
    }
    let elem = elem.root();
    if let Some(values) = &elem.enum_values {
        return Kind::Array(Box::new(Kind::Enum(values.clone())), false);
    }
    // The element column takes the array column's length and scale; a streamed
    // array column without a modifier has length 6 (observed against Debezium
    // 3.6.3: time[]/timestamp[] elements are MicroTime/MicroTimestamp and
    // timestamptz[] elements carry six fractional digits, "…T00:00:00.000000Z").
    let precision = temporal_precision(col.type_modifier);
    let inner = match elem.oid {
        oid::TIME => Kind::Time { precision },
        oid::TIMESTAMP => Kind::Timestamp { precision },
        oid::TIMESTAMPTZ => Kind::TimestampTz { fraction: precision },
        oid::TIMETZ => Kind::TimeTzWholeSeconds,
        // numeric(p,s)[] elements are Decimal(p,s); numeric[] elements variable-scale.
        oid::NUMERIC => kind_of(&ColumnType { type_modifier: col.type_modifier, ..elem.clone() }),
        _ => kind_of(&elem),
    };
    let optional_elements = matches!(
        elem.oid,
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID | oid::CHAR | oid::VARCHAR | oid::TEXT | oid::BPCHAR
            | oid::INET | oid::CIDR | oid::MACADDR | oid::MACADDR8 | oid::INT4RANGE | oid::INT8RANGE
            | oid::NUMRANGE | oid::TSRANGE | oid::TSTZRANGE | oid::DATERANGE | oid::NUMERIC | oid::FLOAT4
            | oid::FLOAT8 | oid::BOOL | oid::DATE | oid::UUID | oid::JSON | oid::JSONB | oid::TIME
            | oid::TIMETZ | oid::TIMESTAMP | oid::TIMESTAMPTZ | oid::BYTEA
    ) || matches!(elem.type_name.as_str(), "citext" | "hstore" | "ltree");
    match inner {
        Kind::Unknown | Kind::Omitted | Kind::Array(..) => Kind::Unknown,
        k => Kind::Array(Box::new(k), optional_elements),
    }
}

fn named(kind: SchemaType, name: &str) -> Schema {
    Schema::new(kind).named(name).with_version(1)
}

fn binary_schema(opts: &ValueOptions) -> Schema {
    match opts.binary_handling_mode {
        BinaryHandlingMode::Bytes => Schema::new(SchemaType::Bytes),
        _ => Schema::new(SchemaType::String),
    }
}

fn decimal_schema(scale: i32) -> Schema {
    named(SchemaType::Bytes, "org.apache.kafka.connect.data.Decimal").with_parameter("scale", scale.to_string())
}

fn schema_of(kind: &Kind, col: &ColumnType, opts: &ValueOptions) -> Result<Schema, ValueError> {
    let adaptive = opts.time_precision_mode != TimePrecisionMode::Connect;
    Ok(match kind {
        Kind::Bool => Schema::new(SchemaType::Boolean),
        Kind::Int16 => Schema::new(SchemaType::Int16),
        Kind::Int32 => Schema::new(SchemaType::Int32),
        Kind::Int64 => Schema::new(SchemaType::Int64),
        Kind::Float32 => Schema::new(SchemaType::Float32),
        Kind::Float64 => Schema::new(SchemaType::Float64),
        Kind::Str(None) => Schema::new(SchemaType::String),
        Kind::Str(Some(name)) => named(SchemaType::String, name),
        Kind::Enum(values) => named(SchemaType::String, "io.debezium.data.Enum").with_parameter("allowed", values.join(",")),
        Kind::Numeric { precision, scale } => match (opts.decimal_handling_mode, scale) {
            (DecimalHandlingMode::Precise, None) => named(SchemaType::Struct, "io.debezium.data.VariableScaleDecimal")
                .with_doc("Variable scaled decimal")
                .with_field("scale", Arc::new(Schema::new(SchemaType::Int32)))
                .with_field("value", Arc::new(Schema::new(SchemaType::Bytes))),
            (DecimalHandlingMode::Precise, Some(scale)) => {
                decimal_schema(*scale).with_parameter("connect.decimal.precision", precision.to_string())
            }
            (DecimalHandlingMode::Double, _) => Schema::new(SchemaType::Float64),
            (DecimalHandlingMode::String, _) => Schema::new(SchemaType::String),
        },
        Kind::Money => match opts.decimal_handling_mode {
            DecimalHandlingMode::Precise => decimal_schema(i32::from(opts.money_fraction_digits)),
            DecimalHandlingMode::Double => Schema::new(SchemaType::Float64),
            DecimalHandlingMode::String => Schema::new(SchemaType::String),
        },
        Kind::Date if adaptive => named(SchemaType::Int32, "io.debezium.time.Date"),
        Kind::Date => named(SchemaType::Int32, "org.apache.kafka.connect.data.Date"),
        Kind::Time { precision } => match opts.time_precision_mode {
            TimePrecisionMode::Connect => named(SchemaType::Int32, "org.apache.kafka.connect.data.Time"),
            TimePrecisionMode::Adaptive if *precision <= 3 => named(SchemaType::Int32, "io.debezium.time.Time"),
            _ => named(SchemaType::Int64, "io.debezium.time.MicroTime"),
        },
        Kind::Timestamp { precision } => match opts.time_precision_mode {
            TimePrecisionMode::Connect => named(SchemaType::Int64, "org.apache.kafka.connect.data.Timestamp"),
            _ if *precision <= 3 => named(SchemaType::Int64, "io.debezium.time.Timestamp"),
            _ => named(SchemaType::Int64, "io.debezium.time.MicroTimestamp"),
        },
        Kind::TimeTz | Kind::TimeTzWholeSeconds => named(SchemaType::String, "io.debezium.time.ZonedTime"),
        Kind::TimestampTz { .. } => named(SchemaType::String, "io.debezium.time.ZonedTimestamp"),
        Kind::Interval => match opts.interval_handling_mode {
            IntervalHandlingMode::Numeric => named(SchemaType::Int64, "io.debezium.time.MicroDuration"),
            IntervalHandlingMode::String => named(SchemaType::String, "io.debezium.time.Interval"),
        },
        Kind::Bytea => binary_schema(opts),
        Kind::Bit { length } if *length > 1 => {
            named(SchemaType::Bytes, "io.debezium.data.Bits").with_parameter("length", length.to_string())
        }
        Kind::Bit { .. } => Schema::new(SchemaType::Boolean),
        Kind::Point => named(SchemaType::Struct, "io.debezium.data.geometry.Point")
            .with_doc("Geometry (POINT)")
            .with_field("x", Arc::new(Schema::new(SchemaType::Float64)))
            .with_field("y", Arc::new(Schema::new(SchemaType::Float64)))
            .with_field("wkb", Arc::new(Schema::new(SchemaType::Bytes).optional()))
            .with_field("srid", Arc::new(Schema::new(SchemaType::Int32).optional())),
        Kind::Hstore => match opts.hstore_handling_mode {
            HstoreHandlingMode::Json => named(SchemaType::String, "io.debezium.data.Json"),
            HstoreHandlingMode::Map => Schema::map_of(
                Arc::new(Schema::new(SchemaType::String)),
                Arc::new(Schema::new(SchemaType::String).optional()),
            ),
        },
        Kind::Array(elem, optional) => {
            let elem_schema = schema_of(elem, col, opts)?.with_optional(*optional);
            Schema::array_of(Arc::new(elem_schema))
        }
        Kind::Unknown if opts.include_unknown_datatypes => binary_schema(opts),
        Kind::Unknown | Kind::Omitted => {
            return Err(ValueError::UnsupportedType { type_name: col.type_name.clone(), oid: col.oid })
        }
    })
}

/// The Connect schema Debezium gives a column of this type.
///
/// `Err(ValueError::UnsupportedType)` means Debezium leaves the column out of
/// the table's schema and records (unknown types without
/// `include.unknown.datatypes`, and a few array types it never maps).
pub fn column_schema(col: &ColumnType, nullable: bool, opts: &ValueOptions) -> Result<Arc<Schema>, ValueError> {
    let kind = kind_of(col);
    Ok(Arc::new(schema_of(&kind, col, opts)?.with_optional(nullable)))
}

/// Whether Debezium drops a streamed value of this type (writes null, or the
/// required column's fallback): its pgoutput value resolver knows no `name`
/// type and resolves it only with `include.unknown.datatypes` (as its text).
/// The snapshot reads such values through JDBC and keeps them.
pub fn streamed_value_dropped(col: &ColumnType, opts: &ValueOptions) -> bool {
    col.root().oid == oid::NAME && !opts.include_unknown_datatypes
}

/// The value Debezium's converter falls back to for a required column
/// without a value and without a default (`convertValue`'s `fallback`), e.g.
/// the non-key columns of a delete's `before` under REPLICA IDENTITY
/// DEFAULT. `None` when the type-independent zero of the schema is right.
///
/// `money` in string mode assumes the default `money.fraction.digits` (2): the
/// envelope does not know the connector's value options.
pub fn required_fallback(type_oid: u32, type_modifier: i32, type_name: &str, schema: &Schema) -> Option<Value> {
    let name = schema.name.as_deref();
    Some(match (schema.kind, name) {
        (SchemaType::String, Some("io.debezium.data.Json")) if type_name == "hstore" => Value::String("{}".to_owned()),
        (SchemaType::String, Some("io.debezium.time.ZonedTimestamp")) => Value::String(temporal::format_zoned_timestamp(0, 0)),
        (SchemaType::String, Some("io.debezium.time.ZonedTime")) => Value::String(temporal::format_zoned_time(0)),
        (SchemaType::String, Some("io.debezium.time.Interval")) => Value::String(Interval::default().to_iso_string()),
        (SchemaType::Struct, Some("io.debezium.data.VariableScaleDecimal")) => {
            Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0])])
        }
        (SchemaType::Struct, Some("io.debezium.data.geometry.Point")) => {
            Value::Struct(vec![Value::Float64(0.0), Value::Float64(0.0), Value::Bytes(point_wkb(0.0, 0.0)), Value::Null])
        }
        // decimal.handling.mode=string: `BigDecimal.ZERO` at the column's scale.
        (SchemaType::String, None) if type_oid == oid::NUMERIC => {
            let scale = if type_modifier >= 4 { (type_modifier - 4) & 0xFFFF } else { 0 };
            Value::String(zero_plain(scale))
        }
        (SchemaType::String, None) if type_oid == oid::MONEY => {
            Value::String(zero_plain(i32::from(super::DEFAULT_MONEY_FRACTION_DIGITS)))
        },
        _ => return None,
    })
}

/// `BigDecimal.ZERO.setScale(scale).toPlainString()`.
fn zero_plain(scale: i32) -> String {
    match usize::try_from(scale) {
        Ok(n) if n > 0 => format!("0.{}", "0".repeat(n)),
        _ => "0".to_owned(),
    }
}

/// Converts one value in PostgreSQL's text output format to its Connect value.
/// `schema` must come from [`column_schema`] for the same `col` and `opts`.
pub fn parse_text(col: &ColumnType, schema: &Schema, text: &str, opts: &ValueOptions) -> Result<Value, ValueError> {
    let _ = schema;
    convert(&kind_of(col), col, text, opts)
}

fn encode_binary(bytes: Vec<u8>, opts: &ValueOptions) -> Value {
    match opts.binary_handling_mode {
        BinaryHandlingMode::Bytes => Value::Bytes(bytes),
        BinaryHandlingMode::Base64 => Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        BinaryHandlingMode::Base64UrlSafe => Value::String(base64::engine::general_purpose::URL_SAFE.encode(bytes)),
        BinaryHandlingMode::Hex => {
            Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect())
        }
    }
}

fn parse_bytea(col: &ColumnType, text: &str) -> Result<Vec<u8>, ValueError> {
    let hex = text.strip_prefix("\\x").ok_or_else(|| parse_err(col, text, "hex bytea output (\\x…)"))?;
    if hex.len() % 2 != 0 {
        return Err(parse_err(col, text, "an even number of hex digits"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| parse_err(col, text, "hex digits")))
        .collect()
}

/// Debezium's bit string bytes: bit i (from the right) → byte i/8, bit i%8,
/// trimmed to the highest set bit (`BitSet.toByteArray()`).
fn bits_bytes(text: &str) -> Option<Vec<u8>> {
    let len = text.len();
    let mut out: Vec<u8> = Vec::new();
    for (pos, c) in text.bytes().enumerate() {
        let bit = len - 1 - pos;
        match c {
            b'1' => {
                if out.len() <= bit / 8 {
                    out.resize(bit / 8 + 1, 0);
                }
                out[bit / 8] |= 1 << (bit % 8);
            }
            b'0' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// `money` output (`$1,234.56`, `-$0.50`, `($5.00)`) → decimal text.
fn money_decimal(text: &str) -> Option<BigDec> {
    let (neg, body) = if let Some(inner) = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        (true, inner)
    } else if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else {
        (false, text)
    };
    let cleaned: String = body.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
    let d = numeric::parse(&cleaned)?.ok()?;
    Some(if neg { BigDec { unscaled: -d.unscaled, scale: d.scale } } else { d })
}

/// `setScale(scale, HALF_UP)`.
fn round_half_up(d: &BigDec, scale: i32) -> BigDec {
    if let Some(exact) = d.with_scale(scale) {
        return exact;
    }
    let drop = u32::try_from(d.scale - scale).unwrap_or(0);
    let factor = num_bigint::BigInt::from(10u8).pow(drop);
    let half = &factor / 2;
    let zero = num_bigint::BigInt::from(0);
    let mag = if d.unscaled < zero { -d.unscaled.clone() } else { d.unscaled.clone() };
    let mut q: num_bigint::BigInt = (&mag + &half) / &factor;
    if d.unscaled < zero {
        q = -q;
    }
    BigDec { unscaled: q, scale }
}

/// Orders hstore pairs as Java's `HashMap` iterates them (pgjdbc's
/// `HStoreConverter.fromString` returns one; Debezium serializes it as is).
fn java_hashmap_order(pairs: Vec<(String, Option<String>)>) -> Vec<(String, Option<String>)> {
    let mut dedup: Vec<(String, Option<String>)> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match dedup.iter_mut().find(|(dk, _)| *dk == k) {
            Some(slot) => slot.1 = v,
            None => dedup.push((k, v)),
        }
    }
    let mut cap: usize = 16;
    while dedup.len() > cap * 3 / 4 {
        cap *= 2;
    }
    let hash = |s: &str| -> u32 {
        let mut h: i32 = 0;
        for unit in s.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(i32::from(unit));
        }
        let h = h as u32;
        h ^ (h >> 16)
    };
    let mut indexed: Vec<(usize, usize, (String, Option<String>))> =
        dedup.into_iter().enumerate().map(|(i, kv)| ((hash(&kv.0) as usize) & (cap - 1), i, kv)).collect();
    indexed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    indexed.into_iter().map(|(_, _, kv)| kv).collect()
}

fn hstore_json(pairs: &[(String, Option<String>)]) -> String {
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        map.insert(k.clone(), v.clone().map_or(serde_json::Value::Null, serde_json::Value::String));
    }
    serde_json::Value::Object(map).to_string()
}

fn convert(kind: &Kind, col: &ColumnType, text: &str, opts: &ValueOptions) -> Result<Value, ValueError> {
    let bad = |expected| parse_err(col, text, expected);
    Ok(match kind {
        Kind::Bool => Value::Boolean(text.eq_ignore_ascii_case("t")),
        Kind::Int16 => Value::Int16(text.parse().map_err(|_| bad("a 16-bit integer"))?),
        Kind::Int32 => Value::Int32(text.parse().map_err(|_| bad("a 32-bit integer"))?),
        Kind::Int64 => Value::Int64(text.parse().map_err(|_| bad("a 64-bit integer"))?),
        Kind::Float32 => Value::Float32(parse_pg_float(text).ok_or_else(|| bad("a float"))? as f32),
        Kind::Float64 => Value::Float64(parse_pg_float(text).ok_or_else(|| bad("a float"))?),
        Kind::Str(_) | Kind::Enum(_) => Value::String(text.to_owned()),
        Kind::Numeric { scale, .. } => {
            let parsed = numeric::parse(text).ok_or_else(|| bad("a numeric"))?;
            let d = match parsed {
                Err(special) => return special_decimal(col, text, special, opts),
                Ok(d) => d,
            };
            let d = match scale {
                Some(s) => d.with_scale(*s).ok_or_else(|| ValueError::Scale {
                    type_name: col.type_name.clone(),
                    text: truncated(text),
                    scale: *s,
                })?,
                None => d,
            };
            match (opts.decimal_handling_mode, scale) {
                (DecimalHandlingMode::Precise, None) => {
                    let d = d.strip_trailing_zeros_non_negative();
                    Value::Struct(vec![Value::Int32(d.scale), Value::Bytes(d.unscaled_bytes())])
                }
                (DecimalHandlingMode::Precise, Some(_)) => Value::Bytes(d.unscaled_bytes()),
                (DecimalHandlingMode::Double, _) => Value::Float64(d.to_f64()),
                // Observed from Debezium 3.6.3: plain notation, never `1E-21`.
                (DecimalHandlingMode::String, _) => Value::String(d.to_plain_string()),
            }
        }
        Kind::Money => {
            let d = money_decimal(text).ok_or_else(|| bad("a money amount"))?;
            match opts.decimal_handling_mode {
                DecimalHandlingMode::Precise => {
                    Value::Bytes(round_half_up(&d, i32::from(opts.money_fraction_digits)).unscaled_bytes())
                }
                DecimalHandlingMode::Double => Value::Float64(d.to_f64()),
                DecimalHandlingMode::String => Value::String(d.to_plain_string()),
            }
        }
        Kind::Date => {
            let day = temporal::parse_date(text).ok_or_else(|| bad("an ISO date"))?;
            // Java's `(int) localDate.toEpochDay()` wraps.
            Value::Int32(day as i32)
        }
        Kind::Time { precision } => {
            let micros = temporal::parse_time_micros(text).ok_or_else(|| bad("HH:MM:SS[.ffffff]"))?;
            match opts.time_precision_mode {
                TimePrecisionMode::Adaptive if *precision > 3 => Value::Int64(micros),
                TimePrecisionMode::AdaptiveTimeMicroseconds => Value::Int64(micros),
                _ => Value::Int32((micros / 1000) as i32),
            }
        }
        Kind::Timestamp { precision } => {
            let micros = temporal::parse_timestamp(text).ok_or_else(|| bad("an ISO timestamp"))?;
            match opts.time_precision_mode {
                TimePrecisionMode::Connect => Value::Int64(micros.div_euclid(1000)),
                _ if *precision <= 3 => Value::Int64(micros.div_euclid(1000)),
                _ => Value::Int64(micros),
            }
        }
        Kind::TimestampTz { fraction } => match temporal::parse_timestamptz(text).ok_or_else(|| bad("an ISO timestamp with offset"))? {
            Ok(micros) => Value::String(temporal::format_zoned_timestamp(micros, *fraction)),
            Err(infinity) => Value::String(infinity.to_owned()),
        },
        Kind::TimeTz => {
            let micros = temporal::parse_timetz_utc(text).ok_or_else(|| bad("HH:MM:SS[.ffffff]+HH[:MM]"))?;
            Value::String(temporal::format_zoned_time(micros))
        }
        Kind::TimeTzWholeSeconds => {
            let micros = temporal::parse_timetz_utc(text).ok_or_else(|| bad("HH:MM:SS[.ffffff]+HH[:MM]"))?;
            Value::String(temporal::format_zoned_time(micros - micros.rem_euclid(1_000_000)))
        }
        Kind::Interval => {
            let iv = Interval::parse(text).ok_or_else(|| bad("an interval in IntervalStyle postgres"))?;
            match opts.interval_handling_mode {
                IntervalHandlingMode::Numeric => Value::Int64(iv.micros()),
                IntervalHandlingMode::String => Value::String(iv.to_iso_string()),
            }
        }
        Kind::Bytea => encode_binary(parse_bytea(col, text)?, opts),
        Kind::Bit { length } => {
            if *length > 1 {
                Value::Bytes(bits_bytes(text).ok_or_else(|| bad("a bit string"))?)
            } else {
                Value::Boolean(text.contains('1'))
            }
        }
        Kind::Point => {
            let (x, y) = parse_point(text).ok_or_else(|| bad("a point (x,y)"))?;
            Value::Struct(vec![Value::Float64(x), Value::Float64(y), Value::Bytes(point_wkb(x, y)), Value::Null])
        }
        Kind::Hstore => {
            let pairs = java_hashmap_order(parse_hstore(text).ok_or_else(|| bad("hstore output"))?);
            match opts.hstore_handling_mode {
                HstoreHandlingMode::Json => Value::String(hstore_json(&pairs)),
                HstoreHandlingMode::Map => Value::Map(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v.map_or(Value::Null, Value::String)))
                        .collect(),
                ),
            }
        }
        Kind::Array(elem, _) => {
            let elem_col = col.root().element.map(|e| *e).unwrap_or_else(|| col.clone());
            let items = parse_array(text).ok_or_else(|| bad("a one-dimensional array literal"))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    None => Value::Null,
                    Some(t) => convert(elem, &elem_col, &t, opts)?,
                });
            }
            Value::Array(out)
        }
        Kind::Unknown if opts.include_unknown_datatypes => encode_binary(text.as_bytes().to_vec(), opts),
        Kind::Unknown | Kind::Omitted => {
            return Err(ValueError::UnsupportedType { type_name: col.type_name.clone(), oid: col.oid })
        }
    })
}

fn special_decimal(col: &ColumnType, _text: &str, special: Special, opts: &ValueOptions) -> Result<Value, ValueError> {
    match opts.decimal_handling_mode {
        // Debezium 3.6.3 logs a warning and emits null (observed against PG 15).
        DecimalHandlingMode::Precise => {
            tracing::warn!(type_name = %col.type_name, "special numeric value cannot be encoded in precise mode; emitting null");
            Ok(Value::Null)
        }
        DecimalHandlingMode::Double => Ok(Value::Float64(special.as_f64())),
        DecimalHandlingMode::String => Ok(Value::String(special.java_name().to_owned())),
    }
}

/// The value Debezium puts in place of an unchanged TOASTed column, by schema
/// shape: strings → the placeholder, bytes → its bytes, string arrays →
/// `[placeholder]`, int32/int64 arrays → its bytes as numbers, maps →
/// `{placeholder: placeholder}`; anything else (never TOASTed) → null.
pub fn unavailable_placeholder(schema: &Schema, opts: &ValueOptions) -> Value {
    let text = &opts.unavailable_value_placeholder;
    match schema.kind {
        SchemaType::String => Value::String(text.clone()),
        SchemaType::Bytes => Value::Bytes(text.as_bytes().to_vec()),
        SchemaType::Map => Value::Map(vec![(Value::String(text.clone()), Value::String(text.clone()))]),
        SchemaType::Array => match schema.items.as_deref().map(|s| s.kind) {
            Some(SchemaType::Int32) => {
                Value::Array(text.as_bytes().iter().map(|b| Value::Int32(i32::from(*b as i8))).collect())
            }
            Some(SchemaType::Int64) => {
                Value::Array(text.as_bytes().iter().map(|b| Value::Int64(i64::from(*b as i8))).collect())
            }
            _ => Value::Array(vec![Value::String(text.clone())]),
        },
        _ => Value::Null,
    }
}

/// Like [`unavailable_placeholder`], with the one type-specific case: an
/// hstore in JSON mode becomes `{"<placeholder>":"<placeholder>"}`.
pub fn unavailable_placeholder_for(col: &ColumnType, schema: &Schema, opts: &ValueOptions) -> Value {
    if kind_of(col) == Kind::Hstore && opts.hstore_handling_mode == HstoreHandlingMode::Json {
        let p = opts.unavailable_value_placeholder.clone();
        return Value::String(hstore_json(&[(p.clone(), Some(p))]));
    }
    unavailable_placeholder(schema, opts)
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
