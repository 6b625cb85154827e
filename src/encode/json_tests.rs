//! Unit tests of the JsonConverter; byte-exact expectations come from Kafka
//! Connect 4.3's JsonConverter (see src/envelope/golden/).

use std::sync::Arc;

use super::*;
use crate::schema::{Schema, SchemaType, Value};

fn f64_text(x: f64) -> String {
    let mut b = Vec::new();
    write_f64(x, &mut b);
    String::from_utf8(b).unwrap()
}

fn f32_text(x: f32) -> String {
    let mut b = Vec::new();
    write_f32(x, &mut b);
    String::from_utf8(b).unwrap()
}

#[test]
fn doubles_print_like_java() {
    let cases = [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e10, "1.0E10"),
        (1.0e-5, "1.0E-5"),
        (123456789.125, "1.23456789125E8"),
        (-0.0, "-0.0"),
        (1e7, "1.0E7"),
        (9999999.0, "9999999.0"),
        (0.001, "0.001"),
        (1.7976931348623157e308, "1.7976931348623157E308"),
        (4.9e-324, "4.9E-324"),
        (f64::NAN, "\"NaN\""),
        (f64::NEG_INFINITY, "\"-Infinity\""),
        (-12.5, "-12.5"),
        (100.0, "100.0"),
    ];
    for (x, want) in cases {
        assert_eq!(f64_text(x), want, "{x:e}");
    }
}

#[test]
fn floats_print_like_java() {
    let cases = [
        (1.5f32, "1.5"),
        (0.1, "0.1"),
        (1e10, "1.0E10"),
        (3.4028235e38, "3.4028235E38"),
        (1e-5, "1.0E-5"),
        (12345.678, "12345.678"),
        (1.0e-45, "1.4E-45"),
        (0.0025, "0.0025"),
    ];
    for (x, want) in cases {
        assert_eq!(f32_text(x), want, "{x:e}");
    }
}

#[test]
fn strings_escape_like_jackson() {
    let mut b = Vec::new();
    write_str("q\" b\\ t\t n\n c\u{1} é中 😀 </", &mut b);
    assert_eq!(String::from_utf8(b).unwrap(), "\"q\\\" b\\\\ t\\t n\\n c\\u0001 é中 \\uD83D\\uDE00 </\"");
}

#[test]
fn decimal_plain_text() {
    assert_eq!(decimal_plain(&[0xb6, 0x69, 0xfd, 0x2e], 2), "-12345678.90");
    assert_eq!(decimal_plain(&[5], 2), "0.05");
    assert_eq!(decimal_plain(&[0], 2), "0.00");
    assert_eq!(decimal_plain(&[1], -2), "100");
}

#[test]
fn null_is_kafka_null_and_required_null_fails() {
    let mut c = JsonConverter::new(JsonOptions::default());
    let mut buf = Vec::new();
    c.encode(None, &mut buf).unwrap();
    assert!(buf.is_empty());
    let s = Arc::new(Schema::new(SchemaType::Struct).with_field("id", Arc::new(Schema::new(SchemaType::Int32))));
    let err = c.encode(Some(&SchemaAndValue::new(s, Value::Struct(vec![Value::Null]))), &mut buf).unwrap_err();
    assert!(matches!(err, EncodeError::RequiredNull { ref field } if field == "id"), "{err}");
}

#[test]
fn default_replaces_null_unless_disabled() {
    let s = Arc::new(
        Schema::new(SchemaType::Struct)
            .with_field("n", Arc::new(Schema::new(SchemaType::String).optional().with_default(Value::String("x".into())))),
    );
    let sv = SchemaAndValue::new(s, Value::Struct(vec![Value::Null]));
    let mut on = JsonConverter::new(JsonOptions { schemas_enable: false, ..JsonOptions::default() });
    assert_eq!(on.to_bytes(Some(&sv)).unwrap().unwrap(), br#"{"n":"x"}"#);
    let mut off =
        JsonConverter::new(JsonOptions { schemas_enable: false, replace_null_with_default: false, ..JsonOptions::default() });
    assert_eq!(off.to_bytes(Some(&sv)).unwrap().unwrap(), br#"{"n":null}"#);
}

/// The char-by-char escaping `write_str` replaced; its byte-table fast path
/// must write exactly the same text.
fn write_str_reference(s: &str) -> Vec<u8> {
    let mut buf = vec![b'"'];
    for c in s.chars() {
        match c {
            '"' => buf.extend_from_slice(b"\\\""),
            '\\' => buf.extend_from_slice(b"\\\\"),
            '\n' => buf.extend_from_slice(b"\\n"),
            '\t' => buf.extend_from_slice(b"\\t"),
            '\r' => buf.extend_from_slice(b"\\r"),
            '\u{8}' => buf.extend_from_slice(b"\\b"),
            '\u{c}' => buf.extend_from_slice(b"\\f"),
            c if (c as u32) >= 0x20 && (c as u32) <= 0xFFFF => {
                buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes())
            }
            c => {
                for u in c.encode_utf16(&mut [0; 2]) {
                    buf.extend_from_slice(format!("\\u{:04X}", u).as_bytes());
                }
            }
        }
    }
    buf.push(b'"');
    buf
}

#[test]
fn fast_string_escaping_matches_the_char_by_char_rules() {
    // Every char class at every position: start, middle, end, runs.
    let pieces = ["", "a", "\"", "\\", "\n", "\u{1}", "\u{1f}", " ", "\u{7f}", "é", "中", "\u{ffff}", "😀", "\u{10ffff}", "/"];
    let mut n = 0;
    for a in pieces {
        for b in pieces {
            for c in pieces {
                let s = format!("{a}x{b}{c}yz{a}");
                let mut got = Vec::new();
                write_str(&s, &mut got);
                assert_eq!(got, write_str_reference(&s), "{s:?}");
                n += 1;
            }
        }
    }
    assert_eq!(n, pieces.len().pow(3));
}

#[test]
fn integers_print_like_display() {
    for x in [0, 1, -1, 9, 10, -10, 99, 12345, i64::from(i32::MIN), i64::from(i32::MAX), i64::MIN, i64::MAX, i64::MIN + 1] {
        let mut b = Vec::new();
        write_int(x, &mut b);
        assert_eq!(String::from_utf8(b).unwrap(), x.to_string());
    }
}

#[test]
fn buffers_grow_to_the_last_record_size_and_text_is_unchanged() {
    let schema = Arc::new(Schema::new(SchemaType::String));
    let mut c = JsonConverter::new(JsonOptions::default());
    let long = SchemaAndValue::new(Arc::clone(&schema), Value::String("x".repeat(5000)));
    let short = SchemaAndValue::new(schema, Value::String("y".into()));
    let first = c.to_bytes(Some(&long)).unwrap().unwrap();
    let again = c.to_bytes(Some(&long)).unwrap().unwrap();
    assert_eq!(first, again);
    assert!(again.capacity() >= again.len() && again.capacity() < 2 * again.len());
    let small = c.to_bytes(Some(&short)).unwrap().unwrap();
    assert!(small.ends_with(b",\"payload\":\"y\"}"));
}
