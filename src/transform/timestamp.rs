//! Connect's time SMTs: TimestampConverter (`$Key` / `$Value`) and
//! TimestampRouter (`golden/connect_timestamp*.json`), with the part of
//! Java's `SimpleDateFormat` they need, always in UTC as Connect sets it.
//!
//! Patterns: `y` (`yy` = two digits), `M` (`MMM` / `MMMM` = English month
//! names), `d`, `H`, `m`, `s`, `S` (milliseconds, zero-padded to the count),
//! `X` / `Z` (the UTC offset: `Z`, `+0000`), `'quoted'` text and any other
//! non-letter as itself; a pattern with other letters is refused at
//! registration. Dates are proleptic Gregorian (Java switches to the Julian
//! calendar before 1582-10-15). Parsing is lenient as Java's (a month 13 rolls
//! over), reads abutting numeric fields by their width and ignores text after
//! the pattern.
//!
//! TimestampConverter infers the source type from the schema: Connect's
//! Timestamp / Date / Time, a string (parsed with `format`) or an int64
//! (`unix`, in `unix.precision`); Debezium's `io.debezium.time.MicroTimestamp`
//! is an int64, i.e. `unix` with `unix.precision=microseconds`.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::record::{Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};
use crate::transform::fields::timestamp_schema;
use crate::transform::smt::{field_value, require_struct, struct_basics, SchemaCache, Side};
use crate::transform::TransformError;

const DAY_MS: i64 = 86_400_000;
const MONTHS: [&str; 12] =
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Literal(String),
    Field(char, usize),
}

/// A parsed `SimpleDateFormat` pattern (UTC).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JavaDateFormat {
    pattern: String,
    items: Vec<Item>,
}

impl JavaDateFormat {
    /// The pattern, or the letter pgcdc does not support.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut items = Vec::new();
        let mut chars = pattern.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                        None => return Err(format!("unterminated quote in {pattern}")),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                if !"yMdHmsSXZ".contains(c) {
                    return Err(format!("the pattern letter {c} (pgcdc supports y, M, d, H, m, s, S, X, Z and quoted text)"));
                }
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if !literal.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut literal)));
                }
                items.push(Item::Field(c, count));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        Ok(JavaDateFormat { pattern: pattern.to_owned(), items })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// `SimpleDateFormat.parse` (lenient, UTC): milliseconds since the epoch.
    pub fn parse(&self, text: &str) -> Option<i64> {
        let b = text.as_bytes();
        let mut pos = 0;
        let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut milli, mut offset_ms) =
            (1970i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64, 0i64);
        for (i, item) in self.items.iter().enumerate() {
            match item {
                Item::Literal(l) => {
                    if !text.get(pos..)?.starts_with(l.as_str()) {
                        return None;
                    }
                    pos += l.len();
                }
                Item::Field('M', count) if *count >= 3 => {
                    let rest = text.get(pos..)?;
                    let (m, len) = MONTHS.iter().enumerate().find_map(|(m, name)| {
                        [name.len(), 3].into_iter().find_map(|len| {
                            rest.get(..len).filter(|p| p.eq_ignore_ascii_case(&name[..len])).map(|_| (m, len))
                        })
                    })?;
                    month = i64::try_from(m).ok()? + 1;
                    pos += len;
                }
                Item::Field(c @ ('X' | 'Z'), _) => {
                    let _ = c;
                    if b.get(pos) == Some(&b'Z') {
                        pos += 1;
                        continue;
                    }
                    let sign = match b.get(pos) {
                        Some(b'+') => 1,
                        Some(b'-') => -1,
                        _ => return None,
                    };
                    pos += 1;
                    let digits = |from: usize| text.get(from..from + 2).and_then(|d| d.parse::<i64>().ok());
                    let h = digits(pos)?;
                    pos += 2;
                    if b.get(pos) == Some(&b':') {
                        pos += 1;
                    }
                    let m = digits(pos).unwrap_or(0);
                    if digits(pos).is_some() {
                        pos += 2;
                    }
                    offset_ms = sign * (h * 3_600_000 + m * 60_000);
                }
                Item::Field(c, count) => {
                    let abutting = matches!(self.items.get(i + 1), Some(Item::Field(n, _)) if !"XZ".contains(*n));
                    let start = pos;
                    let neg = b.get(pos) == Some(&b'-');
                    if neg {
                        pos += 1;
                    }
                    while pos < b.len() && b[pos].is_ascii_digit() && (!abutting || pos - start < *count) {
                        pos += 1;
                    }
                    let digits = &text[start..pos];
                    let n: i64 = digits.parse().ok()?;
                    match c {
                        'y' if *count <= 2 && digits.len() == 2 => year = two_digit_year(n),
                        'y' => year = n,
                        'M' => month = n,
                        'd' => day = n,
                        'H' => hour = n,
                        'm' => minute = n,
                        's' => second = n,
                        _ => milli = n,
                    }
                }
            }
        }
        // Lenient: months, days and times roll over.
        let y = year + (month - 1).div_euclid(12);
        let m = (month - 1).rem_euclid(12) + 1;
        let days = days_from_civil(y, m, 1) + day - 1;
        Some(days * DAY_MS + hour * 3_600_000 + minute * 60_000 + second * 1000 + milli - offset_ms)
    }
}

/// SimpleDateFormat's default century: the 100 years from 80 years ago.
fn two_digit_year(n: i64) -> i64 {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let start = civil_from_days(now_ms.div_euclid(DAY_MS)).0 - 80;
    let year = start - start.rem_euclid(100) + n;
    if year < start {
        year + 100
    } else {
        year
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

/// `SimpleDateFormat.format` of epoch milliseconds, in UTC.
pub fn format_millis(format: &JavaDateFormat, ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MS));
    let t = ms.rem_euclid(DAY_MS);
    let mut out = String::new();
    for item in &format.items {
        let (n, count) = match item {
            Item::Literal(l) => {
                out.push_str(l);
                continue;
            }
            Item::Field('y', 2) => (year.rem_euclid(100), 2),
            Item::Field('y', c) => (year, *c),
            Item::Field('M', c) if *c >= 3 => {
                let name = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
                out.push_str(if *c == 3 { &name[..3] } else { name });
                continue;
            }
            Item::Field('M', c) => (month, *c),
            Item::Field('d', c) => (day, *c),
            Item::Field('H', c) => (t / 3_600_000, *c),
            Item::Field('m', c) => (t / 60_000 % 60, *c),
            Item::Field('s', c) => (t / 1000 % 60, *c),
            Item::Field('S', c) => (t % 1000, *c),
            Item::Field('Z', _) => {
                out.push_str("+0000");
                continue;
            }
            Item::Field(_, _) => {
                out.push('Z');
                continue;
            }
        };
        // Writing to a String cannot fail.
        let _ = write!(out, "{n:0count$}");
    }
    out
}

/// TimestampConverter's `target.type` (and the source types it infers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

/// `unix.precision`: the unit of a `unix` timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnixPrecision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

/// TimestampConverter's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampConverterOptions {
    /// Empty: the whole key or value.
    pub field: String,
    pub target: TimestampType,
    pub format: Option<JavaDateFormat>,
    pub unix_precision: UnixPrecision,
    pub replace_null_with_default: bool,
}

#[derive(Debug)]
pub struct TimestampConverter {
    side: Side,
    opts: TimestampConverterOptions,
    schemas: SchemaCache<Arc<Schema>>,
    /// The whole-value schemas of `target.type`: required, optional.
    whole: [Arc<Schema>; 2],
}

fn err(reason: impl Into<String>) -> TransformError {
    TransformError::new("TimestampConverter", reason)
}

/// The schema of a `target.type`.
fn type_schema(target: TimestampType, optional: bool) -> Schema {
    let logical = |kind, name: &str| Schema::new(kind).named(name).with_version(1).with_optional(optional);
    match target {
        TimestampType::String => Schema::new(SchemaType::String).with_optional(optional),
        TimestampType::Unix => Schema::new(SchemaType::Int64).with_optional(optional),
        TimestampType::Date => logical(SchemaType::Int32, "org.apache.kafka.connect.data.Date"),
        TimestampType::Time => logical(SchemaType::Int32, "org.apache.kafka.connect.data.Time"),
        TimestampType::Timestamp => timestamp_schema(optional),
    }
}

fn source_type(schema: &Schema) -> Result<TimestampType, TransformError> {
    Ok(match (schema.name.as_deref(), schema.kind) {
        (Some("org.apache.kafka.connect.data.Timestamp"), _) => TimestampType::Timestamp,
        (Some("org.apache.kafka.connect.data.Date"), _) => TimestampType::Date,
        (Some("org.apache.kafka.connect.data.Time"), _) => TimestampType::Time,
        (_, SchemaType::String) => TimestampType::String,
        (_, SchemaType::Int64) => TimestampType::Unix,
        _ => {
            return Err(err(format!(
                "Schema {} ({}) does not correspond to a known timestamp type format",
                schema.name.as_deref().unwrap_or(""),
                schema.kind.json_name()
            )))
        }
    })
}

impl TimestampConverter {
    pub fn new(side: Side, opts: TimestampConverterOptions) -> Self {
        let whole = [Arc::new(type_schema(opts.target, false)), Arc::new(type_schema(opts.target, true))];
        TimestampConverter { side, opts, schemas: SchemaCache::default(), whole }
    }

    fn to_millis(&self, source: TimestampType, value: &Value) -> Result<i64, TransformError> {
        let precision = self.opts.unix_precision;
        Ok(match (source, value) {
            (TimestampType::String, Value::String(s)) => {
                let format = self.opts.format.as_ref().ok_or_else(|| {
                    err("TimestampConverter requires format option to be specified when using string timestamps")
                })?;
                format.parse(s).ok_or_else(|| {
                    err(format!("Could not parse timestamp: value ({s}) does not match pattern ({})", format.pattern()))
                })?
            }
            (TimestampType::Unix, Value::Int64(x)) => match precision {
                UnixPrecision::Seconds => x.saturating_mul(1000),
                UnixPrecision::Milliseconds => *x,
                UnixPrecision::Microseconds => x / 1000,
                UnixPrecision::Nanoseconds => x / 1_000_000,
            },
            (TimestampType::Date, Value::Int32(days)) => i64::from(*days) * DAY_MS,
            (TimestampType::Time, Value::Int32(ms)) => i64::from(*ms),
            (TimestampType::Timestamp, Value::Int64(ms)) => *ms,
            (_, other) => return Err(err(format!("unexpected value {other:?} for its timestamp schema"))),
        })
    }

    fn millis_to_target(&self, ms: i64) -> Value {
        match self.opts.target {
            TimestampType::String => Value::String(self.opts.format.as_ref().map(|f| format_millis(f, ms)).unwrap_or_default()),
            TimestampType::Unix => Value::Int64(match self.opts.unix_precision {
                UnixPrecision::Seconds => ms / 1000,
                UnixPrecision::Milliseconds => ms,
                UnixPrecision::Microseconds => ms.saturating_mul(1000),
                UnixPrecision::Nanoseconds => ms.saturating_mul(1_000_000),
            }),
            TimestampType::Date => Value::Int32(i32::try_from(ms.div_euclid(DAY_MS)).unwrap_or(i32::MAX)),
            TimestampType::Time => Value::Int32(i32::try_from(ms.rem_euclid(DAY_MS)).unwrap_or(0)),
            TimestampType::Timestamp => Value::Int64(ms),
        }
    }

    fn convert(&self, schema: &Schema, value: &Value) -> Result<Value, TransformError> {
        let source = source_type(schema)?;
        if value.is_null() {
            return Ok(Value::Null);
        }
        Ok(self.millis_to_target(self.to_millis(source, value)?))
    }

    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let Some(operand) = self.side.operand(&record) else {
            return Ok(record);
        };
        let updated = if self.opts.field.is_empty() {
            let value = self.convert(&operand.schema, &operand.value)?;
            SchemaAndValue::new(Arc::clone(&self.whole[usize::from(operand.schema.optional)]), value)
        } else {
            let (field, target) = (&self.opts.field, self.opts.target);
            let schema = Arc::clone(self.schemas.get_or_try(&operand.schema, |s| {
                if s.kind != SchemaType::Struct {
                    return Err(err(format!("Only Struct objects supported for [converting timestamp formats], found: {}", s.kind.json_name())));
                }
                let mut out = struct_basics(s);
                for f in &s.fields {
                    let schema = if f.name == *field { Arc::new(type_schema(target, f.schema.optional)) } else { Arc::clone(&f.schema) };
                    out = out.with_field(f.name.clone(), schema);
                }
                out.optional = s.optional;
                Ok(Arc::new(out))
            })?);
            let value = if operand.value.is_null() {
                Value::Null
            } else {
                let (in_schema, values) = require_struct("TimestampConverter", "converting timestamp formats", Some(operand))?;
                let mut out = Vec::with_capacity(values.len());
                for (f, v) in in_schema.fields.iter().zip(values) {
                    let v = field_value(&f.schema, v, self.opts.replace_null_with_default);
                    out.push(if f.name == *field { self.convert(&f.schema, &v)? } else { v });
                }
                Value::Struct(out)
            };
            SchemaAndValue::new(schema, value)
        };
        *self.side.operand_mut(&mut record) = Some(updated);
        Ok(record)
    }
}

/// TimestampRouter's properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampRouterOptions {
    pub topic_format: String,
    pub timestamp_format: JavaDateFormat,
}

#[derive(Debug)]
pub struct TimestampRouter {
    opts: TimestampRouterOptions,
}

impl TimestampRouter {
    pub fn new(opts: TimestampRouterOptions) -> Self {
        TimestampRouter { opts }
    }

    /// `${topic}` then `${timestamp}` replaced in `topic.format`; a record
    /// without a Kafka timestamp fails, as in Connect.
    pub fn apply(&mut self, mut record: Record) -> Result<Record, TransformError> {
        let Some(ts) = record.timestamp_ms else {
            return Err(TransformError::new(
                "TimestampRouter",
                format!("Timestamp missing on record of topic {} (change events have none before a transform sets one)", record.topic),
            ));
        };
        let formatted = format_millis(&self.opts.timestamp_format, ts);
        record.topic = self.opts.topic_format.replace("${topic}", &record.topic).replace("${timestamp}", &formatted);
        Ok(record)
    }
}
