//! Kafka Connect's JsonConverter, byte for byte where consumers can tell.

/// `decimal.format` of JsonConverter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Decimal as base64 of the unscaled big-endian two's complement bytes.
    #[default]
    Base64,
    /// Decimal as a JSON number.
    Numeric,
}

/// `key.converter.*` / `value.converter.*` settings of a JsonConverter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonOptions {
    /// `schemas.enable` (default true): `{"schema":…,"payload":…}`.
    pub schemas_enable: bool,
    pub decimal_format: DecimalFormat,
    /// `replace.null.with.default` (default true).
    pub replace_null_with_default: bool,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions { schemas_enable: true, decimal_format: DecimalFormat::default(), replace_null_with_default: true }
    }
}

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::{Classify, ErrorClass};
use crate::record::SchemaAndValue;
use crate::schema::{Schema, SchemaType, Value};

/// Connect's logical name of a Decimal.
pub use crate::schema::DECIMAL_SCHEMA_NAME;
pub(crate) use crate::javafmt::{write_f32, write_f64};

/// Cached schema JSON texts kept before the cache is reset (one per live table schema version).
const SCHEMA_CACHE_CAPACITY: usize = 4096;

/// A value that does not fit its schema.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// Connect's "Conversion error: null value for field that is required and has no default value".
    #[error("null value for required field {field:?} that has no default value")]
    RequiredNull { field: String },
    /// The value's variant does not match the schema type.
    #[error("value of field {field:?} does not match its schema type {expected}")]
    TypeMismatch { field: String, expected: &'static str },
    /// A struct value has a different number of fields than its schema.
    #[error("struct value for {field:?} has {actual} fields, its schema {expected}")]
    StructArity { field: String, expected: usize, actual: usize },
    /// An array or map schema without its element schema.
    #[error("schema of field {field:?} lacks its element schema")]
    IncompleteSchema { field: String },
    /// A Decimal schema whose `scale` parameter is missing or not an integer.
    #[error("decimal field {field:?} has no valid scale parameter")]
    DecimalScale { field: String },
    /// A Connect schema the AvroConverter cannot express in Avro.
    #[error("schema {schema:?} has no Avro form")]
    AvroSchema {
        schema: String,
        #[source]
        source: crate::encode::avro::SchemaError,
    },
    /// The schema registry could not give the schema an id.
    #[error(transparent)]
    Registry(#[from] crate::encode::schema_registry::RegistryError),
    /// Debezium's CloudEventsConverter cannot write the record as an event.
    #[error("CloudEventsConverter cannot convert the record: {reason}")]
    CloudEvents { reason: String },
    /// A transform of the chain failed on the record (a data error).
    #[error(transparent)]
    Transform(#[from] crate::transform::TransformError),
}

impl Classify for EncodeError {
    fn class(&self) -> ErrorClass {
        match self {
            EncodeError::Registry(e) => e.class(),
            _ => ErrorClass::Data,
        }
    }
}

/// Kafka Connect's `JsonConverter` (`org.apache.kafka.connect.json.JsonConverter`).
///
/// With `schemas.enable` the output is `{"schema":…,"payload":…}`; the schema
/// text is serialized once per schema (cached by `Arc` pointer) so the hot
/// path only writes the payload.
#[derive(Debug)]
pub struct JsonConverter {
    opts: JsonOptions,
    cache: HashMap<*const Schema, (Arc<Schema>, Vec<u8>)>,
    /// Length of the last text [`JsonConverter::to_bytes`] wrote: the next
    /// buffer starts that large instead of growing to it step by step.
    last_len: usize,
}

// The raw pointers are only compared, never dereferenced; the `Arc` next to
// each one keeps the schema alive.
unsafe impl Send for JsonConverter {}

impl JsonConverter {
    pub fn new(opts: JsonOptions) -> Self {
        JsonConverter { opts, cache: HashMap::new(), last_len: 0 }
    }

    pub fn options(&self) -> &JsonOptions {
        &self.opts
    }

    /// Serialize `sv` into `buf` (appending). `None` is Kafka's null: nothing is
    /// written and the caller sends a null key/payload, as
    /// `JsonConverter.fromConnectData` returns null for a null value.
    pub fn encode(&mut self, sv: Option<&SchemaAndValue>, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        let Some(sv) = sv else { return Ok(()) };
        let w = Writer { decimal_format: self.opts.decimal_format, replace_null_with_default: self.opts.replace_null_with_default };
        if !self.opts.schemas_enable {
            return w.value(&sv.schema, &sv.value, buf, "");
        }
        let key = Arc::as_ptr(&sv.schema);
        if !self.cache.contains_key(&key) {
            if self.cache.len() >= SCHEMA_CACHE_CAPACITY {
                self.cache.clear();
            }
            let mut text = Vec::with_capacity(256);
            w.schema(&sv.schema, &mut text)?;
            self.cache.insert(key, (Arc::clone(&sv.schema), text));
        }
        buf.extend_from_slice(b"{\"schema\":");
        if let Some((_, text)) = self.cache.get(&key) {
            buf.extend_from_slice(text);
        }
        buf.extend_from_slice(b",\"payload\":");
        w.value(&sv.schema, &sv.value, buf, "")?;
        buf.push(b'}');
        Ok(())
    }

    /// Convenience: serialize into a fresh buffer; `None` for Kafka's null.
    pub fn to_bytes(&mut self, sv: Option<&SchemaAndValue>) -> Result<Option<Vec<u8>>, EncodeError> {
        match sv {
            None => Ok(None),
            Some(_) => {
                let mut buf = Vec::with_capacity((self.last_len + self.last_len / 8 + 64).min(1 << 20));
                self.encode(sv, &mut buf)?;
                self.last_len = buf.len();
                Ok(Some(buf))
            }
        }
    }
}

/// Serializes schemas and values the way JsonConverter + Jackson print them.
#[derive(Clone, Copy)]
pub(crate) struct Writer {
    pub decimal_format: DecimalFormat,
    pub replace_null_with_default: bool,
}

impl Writer {
    /// `JsonConverter.asJsonSchema`: type, fields|items|keys+values, optional,
    /// name, version, doc, parameters, default.
    pub fn schema(&self, s: &Schema, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        buf.extend_from_slice(b"{\"type\":\"");
        buf.extend_from_slice(s.kind.json_name().as_bytes());
        buf.push(b'"');
        match s.kind {
            SchemaType::Struct => {
                buf.extend_from_slice(b",\"fields\":[");
                for (i, f) in s.fields.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    self.schema(&f.schema, buf)?;
                    // Re-open the object to append "field".
                    buf.pop();
                    buf.extend_from_slice(b",\"field\":");
                    write_str(&f.name, buf);
                    buf.push(b'}');
                }
                buf.push(b']');
            }
            SchemaType::Array => {
                let items = s.items.as_ref().ok_or_else(|| incomplete(s))?;
                buf.extend_from_slice(b",\"items\":");
                self.schema(items, buf)?;
            }
            SchemaType::Map => {
                let keys = s.keys.as_ref().ok_or_else(|| incomplete(s))?;
                let values = s.items.as_ref().ok_or_else(|| incomplete(s))?;
                buf.extend_from_slice(b",\"keys\":");
                self.schema(keys, buf)?;
                buf.extend_from_slice(b",\"values\":");
                self.schema(values, buf)?;
            }
            _ => {}
        }
        buf.extend_from_slice(if s.optional { b",\"optional\":true" } else { b",\"optional\":false" });
        if let Some(name) = &s.name {
            buf.extend_from_slice(b",\"name\":");
            write_str(name, buf);
        }
        if let Some(v) = s.version {
            buf.extend_from_slice(b",\"version\":");
            write_int(i64::from(v), buf);
        }
        if let Some(doc) = &s.doc {
            buf.extend_from_slice(b",\"doc\":");
            write_str(doc, buf);
        }
        if !s.parameters.is_empty() {
            buf.extend_from_slice(b",\"parameters\":{");
            for (i, (k, v)) in s.parameters.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write_str(k, buf);
                buf.push(b':');
                write_str(v, buf);
            }
            buf.push(b'}');
        }
        if let Some(d) = &s.default {
            buf.extend_from_slice(b",\"default\":");
            self.value(s, d, buf, s.name.as_deref().unwrap_or(""))?;
        }
        buf.push(b'}');
        Ok(())
    }

    /// `JsonConverter.convertToJson`.
    pub fn value(&self, s: &Schema, v: &Value, buf: &mut Vec<u8>, field: &str) -> Result<(), EncodeError> {
        if v.is_null() {
            if self.replace_null_with_default {
                if let Some(d) = &s.default {
                    if !d.is_null() {
                        return self.value(s, d, buf, field);
                    }
                }
            }
            if s.optional {
                buf.extend_from_slice(b"null");
                return Ok(());
            }
            return Err(EncodeError::RequiredNull { field: field.to_owned() });
        }
        let mismatch = || EncodeError::TypeMismatch { field: field.to_owned(), expected: s.kind.json_name() };
        match (s.kind, v) {
            (SchemaType::Int8, Value::Int8(x)) => write_int(i64::from(*x), buf),
            (SchemaType::Int16, Value::Int16(x)) => write_int(i64::from(*x), buf),
            (SchemaType::Int32, Value::Int32(x)) => write_int(i64::from(*x), buf),
            (SchemaType::Int64, Value::Int64(x)) => write_int(*x, buf),
            (SchemaType::Float32, Value::Float32(x)) => write_f32(*x, buf),
            (SchemaType::Float64, Value::Float64(x)) => write_f64(*x, buf),
            (SchemaType::Boolean, Value::Boolean(b)) => {
                buf.extend_from_slice(if *b { b"true" } else { b"false" })
            }
            (SchemaType::String, Value::String(x)) => write_str(x, buf),
            (SchemaType::Bytes, Value::Bytes(b)) => {
                if self.decimal_format == DecimalFormat::Numeric && s.name.as_deref() == Some(DECIMAL_SCHEMA_NAME) {
                    let scale = s
                        .parameter("scale")
                        .and_then(|p| p.parse::<i32>().ok())
                        .ok_or_else(|| EncodeError::DecimalScale { field: field.to_owned() })?;
                    buf.extend_from_slice(decimal_plain(b, scale).as_bytes());
                } else {
                    write_base64(b, buf);
                }
            }
            (SchemaType::Array, Value::Array(items)) => {
                let is = s.items.as_ref().ok_or_else(|| incomplete(s))?;
                buf.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    self.value(is, item, buf, field)?;
                }
                buf.push(b']');
            }
            (SchemaType::Map, Value::Map(entries)) => {
                let ks = s.keys.as_ref().ok_or_else(|| incomplete(s))?;
                let vs = s.items.as_ref().ok_or_else(|| incomplete(s))?;
                let object = ks.kind == SchemaType::String;
                buf.push(if object { b'{' } else { b'[' });
                for (i, (k, val)) in entries.iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    if object {
                        match k {
                            Value::String(k) => write_str(k, buf),
                            _ => return Err(mismatch()),
                        }
                        buf.push(b':');
                        self.value(vs, val, buf, field)?;
                    } else {
                        buf.push(b'[');
                        self.value(ks, k, buf, field)?;
                        buf.push(b',');
                        self.value(vs, val, buf, field)?;
                        buf.push(b']');
                    }
                }
                buf.push(if object { b'}' } else { b']' });
            }
            (SchemaType::Struct, Value::Struct(values)) => {
                if values.len() != s.fields.len() {
                    return Err(EncodeError::StructArity {
                        field: field.to_owned(),
                        expected: s.fields.len(),
                        actual: values.len(),
                    });
                }
                buf.push(b'{');
                for (i, (f, val)) in s.fields.iter().zip(values).enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_str(&f.name, buf);
                    buf.push(b':');
                    self.value(&f.schema, val, buf, &f.name)?;
                }
                buf.push(b'}');
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

fn incomplete(s: &Schema) -> EncodeError {
    EncodeError::IncompleteSchema { field: s.name.clone().unwrap_or_default() }
}

/// An integer in decimal, as `Display` writes it, without the formatting
/// machinery (one of the drain's hot spots).
pub(crate) fn write_int(x: i64, buf: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut n = x.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if x < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(&digits[at..]);
}

fn write_base64(b: &[u8], buf: &mut Vec<u8>) {
    buf.push(b'"');
    let start = buf.len();
    buf.resize(start + b.len().div_ceil(3) * 4, 0);
    // The buffer was sized for the padded output, so encoding cannot fail.
    let n = BASE64.encode_slice(b, &mut buf[start..]).unwrap_or(0);
    buf.truncate(start + n);
    buf.push(b'"');
}

/// Bytes that end the raw run of [`write_str`]: `"`, `\\`, control
/// characters, and lead bytes of 4-byte UTF-8 sequences (supplementary
/// characters, which Jackson escapes as a surrogate pair).
const fn special_bytes() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i == b'"' as usize || i == b'\\' as usize || i >= 0xF0;
        i += 1;
    }
    t
}
static SPECIAL: [bool; 256] = special_bytes();

/// A JSON string as Jackson's UTF-8 generator writes it: `"` `\` and control
/// characters escaped (short forms for \b \t \n \f \r, else `\u00XX`), other
/// BMP characters raw, supplementary characters as an escaped surrogate pair.
///
/// Hot path: runs of raw bytes are found with a byte table and copied at
/// once; only the (rare) special characters are decoded.
pub(crate) fn write_str(s: &str, buf: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = s.as_bytes();
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !SPECIAL[usize::from(bytes[i])] {
            i += 1;
            continue;
        }
        buf.extend_from_slice(&bytes[start..i]);
        // `i` is a char boundary: special bytes are ASCII or UTF-8 lead bytes.
        let c = s[i..].chars().next().unwrap_or('\u{FFFD}');
        i += c.len_utf8();
        start = i;
        let esc: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\n' => b"\\n",
            '\t' => b"\\t",
            '\r' => b"\\r",
            '\u{8}' => b"\\b",
            '\u{c}' => b"\\f",
            _ => b"",
        };
        if !esc.is_empty() {
            buf.extend_from_slice(esc);
            continue;
        }
        let mut units = [0u16; 2];
        for u in c.encode_utf16(&mut units) {
            let u = *u;
            buf.extend_from_slice(b"\\u");
            for shift in [12, 8, 4, 0] {
                buf.push(HEX[usize::from((u >> shift) & 0xF)]);
            }
        }
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}


/// `BigDecimal.toPlainString()` of an unscaled big-endian two's complement
/// integer and a scale.
pub(crate) fn decimal_plain(unscaled: &[u8], scale: i32) -> String {
    let n = num_bigint::BigInt::from_signed_bytes_be(unscaled);
    let (neg, mag) = match n.sign() {
        num_bigint::Sign::Minus => (true, (-n).to_string()),
        _ => (false, n.to_string()),
    };
    let mut out = String::with_capacity(mag.len() + 4);
    if neg {
        out.push('-');
    }
    if scale <= 0 {
        out.push_str(&mag);
        out.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        return out;
    }
    let scale = scale as usize;
    if mag.len() > scale {
        out.push_str(&mag[..mag.len() - scale]);
        out.push('.');
        out.push_str(&mag[mag.len() - scale..]);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - mag.len()));
        out.push_str(&mag);
    }
    out
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
