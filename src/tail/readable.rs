//! Connect's logical types as a person reads them, for `pgcdc tail`.
//!
//! A JsonConverter record with schemas (`{"schema", "payload"}`) carries a
//! Decimal as base64 bytes (`"Ads="`), a date as days since 1970, a
//! MicroTimestamp as microseconds: exact, and unreadable. Walking the schema
//! beside the payload turns them into `"12.34"`, `"2024-03-01"`,
//! `"2024-03-01T10:00:00.123456"`. Records without a schema, and `--raw`,
//! stay as written.

use base64::Engine as _;
use num_bigint::BigInt;
use serde_json::{Map, Value};

/// `{"schema", "payload"}` with the payload's logical types made readable;
/// anything else unchanged.
pub fn readable(record: Value) -> Value {
    match record {
        Value::Object(mut o) if o.len() == 2 && o.contains_key("schema") && o.contains_key("payload") => {
            let payload = o.remove("payload").unwrap_or(Value::Null);
            let schema = o.get("schema").cloned().unwrap_or(Value::Null);
            o.insert("payload".to_owned(), convert(&schema, payload));
            Value::Object(o)
        }
        other => other,
    }
}

fn convert(schema: &Value, value: Value) -> Value {
    if value.is_null() {
        return value;
    }
    let name = schema.get("name").and_then(Value::as_str).unwrap_or("");
    if let Some(v) = logical(name, schema, &value) {
        return v;
    }
    match (schema.get("type").and_then(Value::as_str), value) {
        (Some("struct"), Value::Object(mut fields)) => {
            let mut out = Map::new();
            for f in schema.get("fields").and_then(Value::as_array).into_iter().flatten() {
                let Some(field) = f.get("field").and_then(Value::as_str) else { continue };
                if let Some(v) = fields.remove(field) {
                    out.insert(field.to_owned(), convert(f, v));
                }
            }
            // Fields the schema does not list stay as they are.
            out.extend(fields);
            Value::Object(out)
        }
        (Some("array"), Value::Array(items)) => {
            let item = schema.get("items").cloned().unwrap_or(Value::Null);
            Value::Array(items.into_iter().map(|v| convert(&item, v)).collect())
        }
        (Some("map"), Value::Object(entries)) => {
            let values = schema.get("values").cloned().unwrap_or(Value::Null);
            Value::Object(entries.into_iter().map(|(k, v)| (k, convert(&values, v))).collect())
        }
        (_, v) => v,
    }
}

/// The readable form of a logical type's value, `None` when `name` is not one
/// (or the value is not what the type writes: then it stays as written).
fn logical(name: &str, schema: &Value, value: &Value) -> Option<Value> {
    let text = |s: String| Some(Value::String(s));
    match name {
        "org.apache.kafka.connect.data.Decimal" => {
            let scale: u32 = schema.pointer("/parameters/scale")?.as_str()?.parse().ok()?;
            text(decimal(value.as_str()?, scale)?)
        }
        "io.debezium.data.VariableScaleDecimal" => {
            let scale = u32::try_from(value.get("scale")?.as_i64()?).ok()?;
            text(decimal(value.get("value")?.as_str()?, scale)?)
        }
        _ => logical_value(name, value),
    }
}

/// The readable form of a temporal logical type's value (Connect's or Debezium's
/// name), `None` for other names or values not of the type's kind.
pub(super) fn logical_value(name: &str, value: &Value) -> Option<Value> {
    let text = |s: String| Some(Value::String(s));
    match name {
        "org.apache.kafka.connect.data.Date" | "io.debezium.time.Date" => text(date(value.as_i64()?)?),
        "org.apache.kafka.connect.data.Timestamp" | "io.debezium.time.Timestamp" => text(timestamp(value.as_i64()?, 1_000)?),
        "io.debezium.time.MicroTimestamp" => text(timestamp(value.as_i64()?, 1_000_000)?),
        "io.debezium.time.NanoTimestamp" => text(timestamp(value.as_i64()?, 1_000_000_000)?),
        "org.apache.kafka.connect.data.Time" | "io.debezium.time.Time" => text(time_of_day(value.as_i64()?, 1_000)?),
        "io.debezium.time.MicroTime" => text(time_of_day(value.as_i64()?, 1_000_000)?),
        "io.debezium.time.NanoTime" => text(time_of_day(value.as_i64()?, 1_000_000_000)?),
        _ => None,
    }
}

/// Base64 of a big-endian two's complement unscaled value → `-12.34`.
fn decimal(b64: &str, scale: u32) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some(decimal_from_bytes(&bytes, scale))
}

/// A big-endian two's complement unscaled value and its scale → `-12.34`.
pub(super) fn decimal_from_bytes(bytes: &[u8], scale: u32) -> String {
    let unscaled = BigInt::from_signed_bytes_be(bytes).to_string();
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(d) => ("-", d.to_owned()),
        None => ("", unscaled),
    };
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let digits = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = digits.split_at(digits.len() - scale);
    format!("{sign}{int}.{frac}")
}

fn date(days: i64) -> Option<String> {
    let d = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::try_days(days)?)?;
    Some(d.format("%Y-%m-%d").to_string())
}

/// `units` per second since the epoch → `2024-03-01T10:00:00[.fraction]` (no zone: Connect's
/// Timestamp and Debezium's timestamps of `timestamp without time zone` carry none).
fn timestamp(v: i64, units: i64) -> Option<String> {
    let secs = v.div_euclid(units);
    let sub = v.rem_euclid(units);
    let t = chrono::DateTime::from_timestamp(secs, 0)?.naive_utc();
    Some(format!("{}{}", t.format("%Y-%m-%dT%H:%M:%S"), fraction(sub, units)))
}

fn time_of_day(v: i64, units: i64) -> Option<String> {
    let secs = v.div_euclid(units);
    let sub = v.rem_euclid(units);
    if !(0..=86_400).contains(&secs) {
        return None;
    }
    Some(format!("{:02}:{:02}:{:02}{}", secs / 3600, secs / 60 % 60, secs % 60, fraction(sub, units)))
}

/// `.123`, `.123456` or `.123456789` by the unit, without trailing zeros; empty for zero.
fn fraction(sub: i64, units: i64) -> String {
    if sub == 0 {
        return String::new();
    }
    let width = match units {
        1_000 => 3,
        1_000_000 => 6,
        _ => 9,
    };
    let s = format!("{sub:0width$}");
    format!(".{}", s.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(name: &str, ty: &str, logical: Option<&str>, params: Option<Value>) -> Value {
        let mut f = json!({"field": name, "type": ty, "optional": true});
        if let Some(l) = logical {
            f["name"] = json!(l);
        }
        if let Some(p) = params {
            f["parameters"] = p;
        }
        f
    }

    #[test]
    fn logical_types_become_readable_and_the_rest_stays() {
        let schema = json!({"type": "struct", "fields": [
            field("price", "bytes", Some("org.apache.kafka.connect.data.Decimal"), Some(json!({"scale": "2", "connect.decimal.precision": "10"}))),
            field("neg", "bytes", Some("org.apache.kafka.connect.data.Decimal"), Some(json!({"scale": "3"}))),
            field("var", "struct", Some("io.debezium.data.VariableScaleDecimal"), None),
            field("day", "int32", Some("io.debezium.time.Date"), None),
            field("at", "int64", Some("io.debezium.time.MicroTimestamp"), None),
            field("ms", "int64", Some("org.apache.kafka.connect.data.Timestamp"), None),
            field("t", "int64", Some("io.debezium.time.MicroTime"), None),
            field("tz", "string", Some("io.debezium.time.ZonedTimestamp"), None),
            field("blob", "bytes", None, None),
            {"field": "tags", "type": "array", "optional": true, "items": {"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "1"}}},
        ]});
        let record = json!({"schema": schema, "payload": {
            "price": "BNI=",          // 1234 → 12.34
            "neg": "/4U=",            // -123 → -0.123
            "var": {"scale": 4, "value": "AeJA"}, // 123456 → 12.3456
            "day": 19783,
            "at": 1709287200123456i64,
            "ms": -1,
            "t": 36_000_000_001i64,
            "tz": "2024-03-01T10:00:00Z",
            "blob": "AQI=",
            "tags": ["Bw==", null],
            "extra": 5,
        }});
        let out = readable(record);
        assert_eq!(
            out["payload"],
            json!({
                "price": "12.34", "neg": "-0.123", "var": "12.3456", "day": "2024-03-01",
                "at": "2024-03-01T10:00:00.123456", "ms": "1969-12-31T23:59:59.999", "t": "10:00:00.000001",
                "tz": "2024-03-01T10:00:00Z", "blob": "AQI=", "tags": ["0.7", null], "extra": 5,
            })
        );
        assert!(out["schema"].is_object(), "the schema stays");
    }

    #[test]
    fn records_without_a_schema_and_odd_values_stay_as_written() {
        let plain = json!({"id": 1, "price": "BNI="});
        assert_eq!(readable(plain.clone()), plain);
        let schema = json!({"type": "struct", "fields": [field("price", "bytes", Some("org.apache.kafka.connect.data.Decimal"), None)]});
        let odd = json!({"schema": schema, "payload": {"price": "BNI="}});
        assert_eq!(readable(odd.clone()), odd, "no scale parameter: left as written");
        assert_eq!(decimal("AA==", 2).as_deref(), Some("0.00"));
        assert_eq!(decimal("AQ==", 0).as_deref(), Some("1"));
    }
}
