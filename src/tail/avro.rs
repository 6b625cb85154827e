//! Confluent-framed Avro (magic 0, schema id, binary datum) read back for
//! `pgcdc tail`: the writer schema from the registry, the datum decoded to
//! JSON with the logical types readable (decimal as its digits, dates and
//! timestamps as ISO text) unless `raw`.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::{json, Map, Value};

/// Why a record could not be decoded (tail prints it in place of the value).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AvroReadError {
    #[error("not Confluent's Avro framing (magic byte 0 and a 4-byte schema id)")]
    Framing,
    #[error("the datum ends early")]
    Truncated,
    #[error("schema {0}: not an Avro schema this reader knows")]
    Schema(String),
    #[error("union branch {0} out of range")]
    Branch(i64),
}

/// The schema id of a Confluent-framed value, and the datum after it.
pub fn split(bytes: &[u8]) -> Result<(u32, &[u8]), AvroReadError> {
    match bytes {
        [0, a, b, c, d, rest @ ..] => Ok((u32::from_be_bytes([*a, *b, *c, *d]), rest)),
        _ => Err(AvroReadError::Framing),
    }
}

/// A parsed writer schema with its named types, ready to decode datums.
pub struct Reader {
    root: Value,
    named: HashMap<String, Value>,
    raw: bool,
}

impl Reader {
    pub fn new(schema_text: &str, raw: bool) -> Result<Reader, AvroReadError> {
        let root: Value = serde_json::from_str(schema_text).map_err(|e| AvroReadError::Schema(e.to_string()))?;
        let mut named = HashMap::new();
        collect_named(&root, None, &mut named);
        Ok(Reader { root, named, raw })
    }

    /// The datum as JSON.
    pub fn read(&self, datum: &[u8]) -> Result<Value, AvroReadError> {
        let mut cur = datum;
        self.value(&self.root, &mut cur)
    }

    fn value(&self, schema: &Value, cur: &mut &[u8]) -> Result<Value, AvroReadError> {
        match schema {
            Value::String(name) => self.named_or_primitive(name, schema, cur),
            Value::Array(branches) => {
                let i = long(cur)?;
                let branch = usize::try_from(i).ok().and_then(|i| branches.get(i)).ok_or(AvroReadError::Branch(i))?;
                self.value(branch, cur)
            }
            Value::Object(o) => {
                let ty = o.get("type").and_then(Value::as_str).unwrap_or("");
                let v = match ty {
                    "record" | "error" => {
                        let mut out = Map::new();
                        for f in o.get("fields").and_then(Value::as_array).into_iter().flatten() {
                            let name = f.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
                            out.insert(name, self.value(f.get("type").unwrap_or(&Value::Null), cur)?);
                        }
                        Value::Object(out)
                    }
                    "array" => {
                        let items = o.get("items").unwrap_or(&Value::Null);
                        let mut out = Vec::new();
                        blocks(cur, |cur| Ok(out.push(self.value(items, cur)?)))?;
                        Value::Array(out)
                    }
                    "map" => {
                        let values = o.get("values").unwrap_or(&Value::Null);
                        let mut out = Map::new();
                        blocks(cur, |cur| {
                            let k = string(cur)?;
                            out.insert(k, self.value(values, cur)?);
                            Ok(())
                        })?;
                        Value::Object(out)
                    }
                    "enum" => {
                        let i = long(cur)?;
                        let symbols = o.get("symbols").and_then(Value::as_array);
                        symbols.and_then(|s| usize::try_from(i).ok().and_then(|i| s.get(i))).cloned().ok_or(AvroReadError::Branch(i))?
                    }
                    "fixed" => {
                        let size = o.get("size").and_then(Value::as_u64).unwrap_or(0) as usize;
                        Value::String(b64(take(cur, size)?))
                    }
                    other => self.named_or_primitive(other, schema, cur)?,
                };
                Ok(if self.raw { v } else { logical(o, v) })
            }
            _ => Err(AvroReadError::Schema(schema.to_string())),
        }
    }

    fn named_or_primitive(&self, name: &str, schema: &Value, cur: &mut &[u8]) -> Result<Value, AvroReadError> {
        Ok(match name {
            "null" => Value::Null,
            "boolean" => Value::Bool(take(cur, 1)?[0] != 0),
            "int" | "long" => json!(long(cur)?),
            "float" => json!(f32::from_le_bytes(take(cur, 4)?.try_into().map_err(|_| AvroReadError::Truncated)?)),
            "double" => json!(f64::from_le_bytes(take(cur, 8)?.try_into().map_err(|_| AvroReadError::Truncated)?)),
            "bytes" => {
                let n = len(cur)?;
                Value::String(b64(take(cur, n)?))
            }
            "string" => Value::String(string(cur)?),
            other => match self.named.get(other).or_else(|| self.named.get(other.rsplit('.').next().unwrap_or(other))) {
                Some(s) => self.value(s, cur)?,
                None => return Err(AvroReadError::Schema(schema.to_string())),
            },
        })
    }
}

fn collect_named(schema: &Value, namespace: Option<&str>, out: &mut HashMap<String, Value>) {
    match schema {
        Value::Array(branches) => branches.iter().for_each(|b| collect_named(b, namespace, out)),
        Value::Object(o) => {
            let ns = o.get("namespace").and_then(Value::as_str).or(namespace);
            if let Some(name) = o.get("name").and_then(Value::as_str) {
                if matches!(o.get("type").and_then(Value::as_str), Some("record" | "error" | "enum" | "fixed")) {
                    let full = match ns {
                        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
                        _ => name.to_owned(),
                    };
                    out.insert(full, schema.clone());
                    out.entry(name.rsplit('.').next().unwrap_or(name).to_owned()).or_insert_with(|| schema.clone());
                }
            }
            for f in o.get("fields").and_then(Value::as_array).into_iter().flatten() {
                if let Some(t) = f.get("type") {
                    collect_named(t, ns, out);
                }
            }
            for key in ["items", "values", "type"] {
                if let Some(t) = o.get(key).filter(|t| !t.is_string()) {
                    collect_named(t, ns, out);
                }
            }
        }
        _ => {}
    }
}

/// Readable forms of Avro's logical types and of Connect's names carried in
/// `connect.name` (Debezium's temporal types).
fn logical(schema: &Map<String, Value>, v: Value) -> Value {
    let logical = schema.get("logicalType").and_then(Value::as_str).unwrap_or("");
    let connect = schema.get("connect.name").and_then(Value::as_str).unwrap_or("");
    match (logical, connect, &v) {
        ("decimal", _, Value::String(b)) => {
            let scale = schema.get("scale").and_then(Value::as_u64).unwrap_or(0) as u32;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_default();
            Value::String(super::readable::decimal_from_bytes(&bytes, scale))
        }
        _ => {
            let name = if connect.is_empty() { logical_connect_name(logical) } else { connect };
            super::readable::logical_value(name, &v).unwrap_or(v)
        }
    }
}

/// The Connect logical type an Avro logical type stands for, when tail can show it.
fn logical_connect_name(logical: &str) -> &str {
    match logical {
        "date" => "org.apache.kafka.connect.data.Date",
        "timestamp-millis" => "org.apache.kafka.connect.data.Timestamp",
        "timestamp-micros" => "io.debezium.time.MicroTimestamp",
        "time-millis" => "org.apache.kafka.connect.data.Time",
        "time-micros" => "io.debezium.time.MicroTime",
        _ => "",
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn take<'a>(cur: &mut &'a [u8], n: usize) -> Result<&'a [u8], AvroReadError> {
    if cur.len() < n {
        return Err(AvroReadError::Truncated);
    }
    let (head, rest) = cur.split_at(n);
    *cur = rest;
    Ok(head)
}

/// A zig-zag varint.
fn long(cur: &mut &[u8]) -> Result<i64, AvroReadError> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = take(cur, 1)?[0];
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((n >> 1) as i64 ^ -((n & 1) as i64));
        }
    }
    Err(AvroReadError::Truncated)
}

fn len(cur: &mut &[u8]) -> Result<usize, AvroReadError> {
    usize::try_from(long(cur)?).map_err(|_| AvroReadError::Truncated)
}

fn string(cur: &mut &[u8]) -> Result<String, AvroReadError> {
    let n = len(cur)?;
    Ok(String::from_utf8_lossy(take(cur, n)?).into_owned())
}

/// Array and map blocks: counts until 0; a negative count is followed by the block's size.
fn blocks(cur: &mut &[u8], mut item: impl FnMut(&mut &[u8]) -> Result<(), AvroReadError>) -> Result<(), AvroReadError> {
    loop {
        let mut count = long(cur)?;
        if count == 0 {
            return Ok(());
        }
        if count < 0 {
            count = -count;
            long(cur)?;
        }
        for _ in 0..count {
            item(cur)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::avro::binary::write_long;

    fn string_bytes(s: &str, buf: &mut Vec<u8>) {
        write_long(s.len() as i64, buf);
        buf.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn decodes_a_debezium_like_record_with_unions_logical_types_and_named_reuse() {
        let schema = r#"{"type":"record","name":"Envelope","namespace":"p.public.t","fields":[
            {"name":"before","type":["null",{"type":"record","name":"Value","fields":[
                {"name":"id","type":"int"},
                {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2,"connect.name":"org.apache.kafka.connect.data.Decimal"}},
                {"name":"day","type":["null",{"type":"int","connect.name":"io.debezium.time.Date"}]},
                {"name":"tags","type":{"type":"array","items":"string"}},
                {"name":"attrs","type":{"type":"map","values":"long"}}]}],"default":null},
            {"name":"after","type":["null","Value"],"default":null},
            {"name":"op","type":"string"},
            {"name":"ts_ms","type":["null","long"]}]}"#;
        let mut d = Vec::new();
        write_long(0, &mut d); // before: null
        write_long(1, &mut d); // after: Value
        write_long(7, &mut d); // id
        write_long(2, &mut d); // price: 2 bytes 0x04d2 = 1234
        d.extend_from_slice(&[0x04, 0xd2]);
        write_long(1, &mut d); // day: int
        write_long(19783, &mut d);
        write_long(-2, &mut d); // tags: a block of 2 with its size
        write_long(4, &mut d);
        string_bytes("a", &mut d);
        string_bytes("b", &mut d);
        write_long(0, &mut d);
        write_long(1, &mut d); // attrs: one entry
        string_bytes("k", &mut d);
        write_long(-5, &mut d);
        write_long(0, &mut d);
        string_bytes("c", &mut d); // op
        write_long(1, &mut d); // ts_ms
        write_long(1_700_000_000_000, &mut d);
        let v = Reader::new(schema, false).unwrap().read(&d).unwrap();
        assert_eq!(
            v,
            json!({"before": null, "after": {"id": 7, "price": "12.34", "day": "2024-03-01", "tags": ["a", "b"], "attrs": {"k": -5}},
                   "op": "c", "ts_ms": 1_700_000_000_000i64})
        );
        let raw = Reader::new(schema, true).unwrap().read(&d).unwrap();
        assert_eq!(raw["after"]["price"], "BNI=");
        assert_eq!(raw["after"]["day"], 19783);
        assert_eq!(Reader::new(schema, false).unwrap().read(&d[..d.len() - 2]), Err(AvroReadError::Truncated));
    }

    #[test]
    fn framing_is_checked() {
        assert_eq!(split(&[0, 0, 0, 1, 44, 9]), Ok((300, &[9u8][..])));
        assert_eq!(split(&[1, 0, 0, 0, 1]), Err(AvroReadError::Framing));
        assert_eq!(split(&[0, 0]), Err(AvroReadError::Framing));
    }
}
