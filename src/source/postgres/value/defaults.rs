//! Column defaults (`pg_get_expr(adbin)`) → the Connect schema `default`, as
//! Debezium 3.6's `PostgresDefaultValueConverter` derives it.
//!
//! Debezium never evaluates an expression. It picks a parser by the column's
//! type name (`pg_type.typname`: `int4`, `text`, `timestamptz`, an enum's
//! name, …) and reads the expression text:
//!
//! ```text
//!   expression                         text used                      e.g.
//!   ─────────────────────────────────  ─────────────────────────────  ─────────────────────────────
//!   f(...) or (f(...) ...) at start    the type's placeholder         nextval('s'::regclass) → 0
//!   CURRENT_TIMESTAMP, CURRENT_DATE,   the type's placeholder         now() on timestamptz →
//!   CURRENT_TIME, LOCALTIME(STAMP)                                      "1970-01-01T00:00:00.000000Z"
//!   no quote at all                    the expression itself          7, true, 1.5, CURRENT_USER
//!   NULL::type                         no default
//!   anything with a quote              inside the FIRST '…' pair      '-1'::integer → -1,
//!                                      (no unescaping: 'it''s' → it)  'abc'::text → "abc"
//! ```
//!
//! That text is then parsed as Java would (`Integer.parseInt`, `new
//! BigDecimal`, `UUID.fromString`, pgjdbc's date/time parsers, …) and run
//! through the column's value converter, so it ends up in the column's
//! Connect representation (epoch days, MicroTimestamp, ZonedTimestamp string,
//! Decimal bytes at the column's scale, …). Anything that fails to parse
//! (`(2 + 3)`, `'-1'` on a type without a parser) gives no default.
//!
//! Types with a parser: `bool`, `bit`, `varbit`, `int2`, `int4`, `int8`,
//! `float4`, `float8`, `numeric`, `text`, `varchar`, `bpchar`, `json`,
//! `jsonb`, `xml`, `uuid`, `date`, `time`, `timestamp`, `timestamptz`,
//! `interval` and enums (`'ok'::mood`). Every other type (`timetz`, `money`,
//! `bytea`, arrays, domains, ranges, network types, `point`, extensions) gets
//! no default; so does unconstrained `numeric` in precise mode (a
//! `VariableScaleDecimal` struct cannot be a Connect default).

use super::numeric::{self, BigDec};
use super::{parse_text, ColumnType, DecimalHandlingMode, ValueOptions};
use crate::schema::{Schema, Value};

/// Debezium refuses longer expressions (`extractDefault` throws).
const MAX_EXPRESSION_LEN: usize = 16348;

/// Whole expressions Debezium treats like a function call.
const CURRENT_DATE_TIMES: &[&str] = &["current_timestamp", "current_time", "current_date", "localtime", "localtimestamp"];

/// Why a column default gives no Connect default (Debezium logs a warning
/// and leaves the field without one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DefaultValueError {
    #[error("no default value parser for type {type_name}")]
    NoParser { type_name: String },
    #[error("cannot parse column default {expression:?} as {type_name}: expression evaluation is not supported")]
    Unparsable { type_name: String, expression: String },
    #[error("numeric default {expression:?} has more fractional digits than the column scale {scale}")]
    Scale { expression: String, scale: i32 },
}

/// The parser Debezium picks by type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Parser {
    Bit,
    Varbit,
    Bool,
    Text,
    Numeric,
    Float4,
    Float8,
    Int2,
    Int4,
    Int8,
    Json,
    Xml,
    Uuid,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Interval,
    Enum,
}

impl Parser {
    fn for_type(col: &ColumnType) -> Option<Parser> {
        Some(match col.type_name.as_str() {
            "bit" => Parser::Bit,
            "varbit" => Parser::Varbit,
            "bool" => Parser::Bool,
            "bpchar" | "varchar" | "text" => Parser::Text,
            "numeric" => Parser::Numeric,
            "float4" => Parser::Float4,
            "float8" => Parser::Float8,
            "int2" | "smallserial" => Parser::Int2,
            "int4" | "serial" => Parser::Int4,
            "int8" | "bigserial" => Parser::Int8,
            "json" | "jsonb" => Parser::Json,
            "xml" => Parser::Xml,
            "uuid" => Parser::Uuid,
            "date" => Parser::Date,
            "time" => Parser::Time,
            "timestamp" => Parser::Timestamp,
            "timestamptz" => Parser::Timestamptz,
            "interval" => Parser::Interval,
            _ if col.enum_values.is_some() => Parser::Enum,
            _ => return None,
        })
    }

    /// What a function-call default stands for. Debezium's placeholders
    /// (`"00"`, `"0.0"`, `"epoch"`, `"00:00"`, `"1970-01-01"`) written as
    /// the PostgreSQL output [`parse_text`] reads, with the same result.
    fn placeholder(self) -> &'static str {
        match self {
            Parser::Bit => "00",
            Parser::Varbit => "0",
            Parser::Bool => "false",
            Parser::Text | Parser::Xml | Parser::Enum => "",
            Parser::Numeric | Parser::Float4 | Parser::Float8 => "0.0",
            Parser::Int2 | Parser::Int4 | Parser::Int8 => "0",
            Parser::Json => "{}",
            Parser::Uuid => "00000000-0000-0000-0000-000000000000",
            Parser::Date => "1970-01-01",
            Parser::Time | Parser::Interval => "00:00:00",
            Parser::Timestamp => "1970-01-01 00:00:00",
            Parser::Timestamptz => "1970-01-01 00:00:00+00",
        }
    }

    /// Types whose expression Debezium trims first.
    fn trims(self) -> bool {
        !matches!(self, Parser::Text | Parser::Json | Parser::Xml | Parser::Enum)
    }

    /// Types where a leading `NULL::` means "no default" before extraction.
    fn null_aware(self) -> bool {
        matches!(
            self,
            Parser::Bool | Parser::Numeric | Parser::Float4 | Parser::Float8 | Parser::Int2 | Parser::Int4 | Parser::Int8
        )
    }
}

/// The Connect default of a column whose catalog default is `expression`.
///
/// `schema` must be the column's schema from [`super::column_schema`] for the
/// same `col` and `opts`. `Ok(None)`: Debezium sets no default either, silently
/// (`NULL::type`, a value its converter turns into null or a struct).
pub fn parse_default(
    col: &ColumnType,
    schema: &Schema,
    expression: &str,
    opts: &ValueOptions,
) -> Result<Option<Value>, DefaultValueError> {
    let parser = Parser::for_type(col).ok_or_else(|| DefaultValueError::NoParser { type_name: col.type_name.clone() })?;
    let unparsable = || DefaultValueError::Unparsable { type_name: col.type_name.clone(), expression: expression.to_owned() };
    let expr = if parser.trims() { java_trim(expression) } else { expression };
    if parser.null_aware() && expr.starts_with("NULL::") {
        return Ok(None);
    }
    if parser == Parser::Enum {
        return Ok(enum_default(&col.type_name, expr).map(Value::String));
    }
    if expr.len() > MAX_EXPRESSION_LEN {
        return Err(unparsable());
    }
    let text = if is_generated(expr) {
        parser.placeholder().to_owned()
    } else if !expr.contains('\'') {
        if expr.starts_with("NULL::") {
            return Ok(None);
        }
        expr.to_owned()
    } else {
        first_quoted(expr).ok_or_else(unparsable)?.to_owned()
    };
    let via_converter = |text: &str| parse_text(col, schema, text, opts).map_err(|_| unparsable());
    let value = match parser {
        Parser::Bool => Value::Boolean(text.eq_ignore_ascii_case("true")),
        Parser::Text | Parser::Json | Parser::Xml => Value::String(text),
        Parser::Int2 => Value::Int16(text.parse().map_err(|_| unparsable())?),
        Parser::Int4 => Value::Int32(text.parse().map_err(|_| unparsable())?),
        Parser::Int8 => Value::Int64(text.parse().map_err(|_| unparsable())?),
        Parser::Float4 => Value::Float32(java_float(&text).ok_or_else(unparsable)? as f32),
        Parser::Float8 => Value::Float64(java_float(&text).ok_or_else(unparsable)?),
        Parser::Numeric => return numeric_default(col, schema, expression, &text, opts),
        Parser::Uuid => Value::String(java_uuid(&text).ok_or_else(unparsable)?),
        Parser::Timestamp if !text.contains(' ') && !text.ends_with("infinity") => {
            // pgjdbc reads a bare date as midnight.
            via_converter(&format!("{text} 00:00:00"))?
        }
        Parser::Bit | Parser::Varbit | Parser::Date | Parser::Time | Parser::Timestamp | Parser::Timestamptz | Parser::Interval => {
            via_converter(&text)?
        }
        Parser::Enum => return Ok(None),
    };
    Ok(if value.is_null() || matches!(value, Value::Struct(_)) { None } else { Some(value) })
}

/// `new BigDecimal(text)` → the column's decimal representation. Debezium
/// raises the scale to the column's; it never lowers it, so a longer literal
/// (`numeric(10,2) DEFAULT 1.234`, kept as is by PostgreSQL) would give a
/// Decimal default Connect cannot serialize: we leave it out instead.
fn numeric_default(
    col: &ColumnType,
    schema: &Schema,
    expression: &str,
    text: &str,
    opts: &ValueOptions,
) -> Result<Option<Value>, DefaultValueError> {
    let unparsable = || DefaultValueError::Unparsable { type_name: col.type_name.clone(), expression: expression.to_owned() };
    // BigDecimal rejects NaN and the infinities.
    let d: BigDec = match numeric::parse(text) {
        Some(Ok(d)) => d,
        _ => return Err(unparsable()),
    };
    let column_scale = (col.type_modifier >= 0).then(|| (col.type_modifier - 4) & 0xFFFF);
    let d = match column_scale {
        Some(s) if s > d.scale => d.with_scale(s).ok_or_else(unparsable)?,
        _ => d,
    };
    Ok(match opts.decimal_handling_mode {
        DecimalHandlingMode::Precise => {
            let Some(scale) = schema.parameter("scale").and_then(|s| s.parse::<i32>().ok()) else {
                // Unconstrained numeric: a VariableScaleDecimal struct, which
                // Debezium drops as a default (KAFKA-12694).
                return Ok(None);
            };
            if d.scale != scale {
                return Err(DefaultValueError::Scale { expression: expression.to_owned(), scale });
            }
            Some(Value::Bytes(d.unscaled_bytes()))
        }
        DecimalHandlingMode::Double => Some(Value::Float64(d.to_f64())),
        DecimalHandlingMode::String => Some(Value::String(d.to_plain_string())),
    })
}

/// Java's `String.trim()`: strips code points up to U+0020 at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Debezium's "generated value" test: the whole expression is one of the
/// current date/time keywords, or it starts with a function call —
/// `^[(]?[A-Za-z0-9_.]+\((?:[^()]*+(?:\([^()]*+\))?)*+\)` (arguments with at
/// most one level of nested parentheses; possessive, so no backtracking).
fn is_generated(expr: &str) -> bool {
    let lower = expr.to_ascii_lowercase();
    if CURRENT_DATE_TIMES.contains(&lower.as_str()) {
        return true;
    }
    let b = expr.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'('));
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
        i += 1;
    }
    if i == name_start || b.get(i) != Some(&b'(') {
        return false;
    }
    i += 1;
    let skip_plain = |mut j: usize| {
        while j < b.len() && b[j] != b'(' && b[j] != b')' {
            j += 1;
        }
        j
    };
    loop {
        i = skip_plain(i);
        if b.get(i) != Some(&b'(') {
            break;
        }
        let j = skip_plain(i + 1);
        if b.get(j) != Some(&b')') {
            break;
        }
        i = j + 1;
    }
    b.get(i) == Some(&b')')
}

/// The first match of Java's `'(.*?)'`: the text between a quote and the next
/// one, where `.` crosses no line terminator.
fn first_quoted(expr: &str) -> Option<&str> {
    let is_line_end = |c: char| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}');
    let mut rest_start = 0;
    while let Some(open) = expr[rest_start..].find('\'').map(|p| p + rest_start) {
        let body_start = open + 1;
        for (off, c) in expr[body_start..].char_indices() {
            if c == '\'' {
                return Some(&expr[body_start..body_start + off]);
            }
            if is_line_end(c) {
                break;
            }
        }
        rest_start = body_start;
    }
    None
}

/// `Float.parseFloat` / `Double.parseDouble` on what PostgreSQL prints.
fn java_float(text: &str) -> Option<f64> {
    match java_trim(text) {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        t if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) => {
            t.parse().ok()
        }
        _ => None,
    }
}

/// `UUID.fromString(text).toString()`: five dash-separated hex groups of at
/// most 8-4-4-4-12 digits, printed zero-padded in lower case.
fn java_uuid(text: &str) -> Option<String> {
    const WIDTHS: [usize; 5] = [8, 4, 4, 4, 12];
    let parts: Vec<&str> = text.split('-').collect();
    if parts.len() != WIDTHS.len() || text.len() > 36 {
        return None;
    }
    let mut out = Vec::with_capacity(5);
    for (part, width) in parts.iter().zip(WIDTHS) {
        if part.is_empty() || part.len() > width || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        out.push(format!("{:0>width$}", part.to_ascii_lowercase()));
    }
    Some(out.join("-"))
}

/// An enum default `'label'::typname` → `label`; anything else (another
/// schema's or a quoted type name, a cast expression) → none.
fn enum_default(type_name: &str, expr: &str) -> Option<String> {
    let literal = expr.strip_suffix(type_name)?.strip_suffix("::")?;
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.to_owned())
}

#[cfg(test)]
#[path = "defaults_tests.rs"]
mod tests;
