//! Expressions are verbatim `pg_get_expr(adbin, adrelid)` output of
//! PostgreSQL 15 for the DDL in each comment.

use super::*;
use crate::source::postgres::value::{column_schema, oid, IntervalHandlingMode, TimePrecisionMode};

fn t(oid: u32, typmod: i32, name: &str) -> ColumnType {
    ColumnType::new(oid, typmod, name)
}

fn numeric_typmod(p: i32, s: i32) -> i32 {
    ((p << 16) | s) + 4
}

fn dflt_with(col: &ColumnType, expr: &str, o: &ValueOptions) -> Result<Option<Value>, DefaultValueError> {
    let schema = column_schema(col, true, o).unwrap();
    parse_default(col, &schema, expr, o)
}

fn dflt(col: &ColumnType, expr: &str) -> Option<Value> {
    dflt_with(col, expr, &ValueOptions::default()).unwrap()
}

fn s(v: &str) -> Option<Value> {
    Some(Value::String(v.into()))
}

#[test]
fn integers_serials_and_negative_literals() {
    let int4 = t(oid::INT4, -1, "int4");
    // id serial
    assert_eq!(dflt(&int4, "nextval('product_id_seq'::regclass)"), Some(Value::Int32(0)));
    // DEFAULT 7 / DEFAULT -1
    assert_eq!(dflt(&int4, "7"), Some(Value::Int32(7)));
    assert_eq!(dflt(&int4, "'-1'::integer"), Some(Value::Int32(-1)));
    // smallint DEFAULT -3, bigint DEFAULT -5, bigint max
    assert_eq!(dflt(&t(oid::INT2, -1, "int2"), "'-3'::integer"), Some(Value::Int16(-3)));
    assert_eq!(dflt(&t(oid::INT8, -1, "int8"), "'-5'::integer"), Some(Value::Int64(-5)));
    assert_eq!(dflt(&t(oid::INT8, -1, "int8"), "'9223372036854775807'::bigint"), Some(Value::Int64(i64::MAX)));
    assert_eq!(dflt(&t(oid::INT8, -1, "int8"), "nextval('d_b_seq'::regclass)"), Some(Value::Int64(0)));
    // Debezium does not evaluate: DEFAULT (2+3), and a parenthesised negative.
    assert!(matches!(dflt_with(&int4, "(2 + 3)", &ValueOptions::default()), Err(DefaultValueError::Unparsable { .. })));
    assert!(dflt_with(&int4, "(-1)", &ValueOptions::default()).is_err());
    assert_eq!(dflt(&int4, "NULL::integer"), None);
    // Overflow is a parse failure, as in Short.parseShort.
    assert!(dflt_with(&t(oid::INT2, -1, "int2"), "40000", &ValueOptions::default()).is_err());
}

#[test]
fn floats_and_numerics_by_decimal_mode() {
    assert_eq!(dflt(&t(oid::FLOAT4, -1, "float4"), "1.5"), Some(Value::Float32(1.5)));
    // float8 DEFAULT -2.25 / 'NaN' / 1
    let f8 = t(oid::FLOAT8, -1, "float8");
    assert_eq!(dflt(&f8, "'-2.25'::numeric"), Some(Value::Float64(-2.25)));
    assert!(matches!(dflt(&f8, "'NaN'::double precision"), Some(Value::Float64(x)) if x.is_nan()));
    assert_eq!(dflt(&f8, "1"), Some(Value::Float64(1.0)));
    assert_eq!(dflt(&f8, "random()"), Some(Value::Float64(0.0)));

    // numeric(10,2) DEFAULT 0 → scale raised to 2: unscaled 0.
    let n102 = t(oid::NUMERIC, numeric_typmod(10, 2), "numeric");
    assert_eq!(dflt(&n102, "0"), Some(Value::Bytes(vec![0])));
    // numeric(5,1) DEFAULT -1.5 → unscaled -15.
    let n51 = t(oid::NUMERIC, numeric_typmod(5, 1), "numeric");
    assert_eq!(dflt(&n51, "'-1.5'::numeric"), Some(Value::Bytes(vec![0xF1])));
    // numeric(10,2) DEFAULT 1.234 is stored unrounded; Debezium never lowers the scale.
    assert!(matches!(dflt_with(&n102, "1.234", &ValueOptions::default()), Err(DefaultValueError::Scale { scale: 2, .. })));
    // Unconstrained numeric in precise mode is a struct: no default.
    let n = t(oid::NUMERIC, -1, "numeric");
    assert_eq!(dflt(&n, "1.50"), None);
    let string = ValueOptions { decimal_handling_mode: DecimalHandlingMode::String, ..ValueOptions::default() };
    assert_eq!(dflt_with(&n, "1.50", &string).unwrap(), s("1.50"));
    assert_eq!(dflt_with(&n102, "0", &string).unwrap(), s("0.00"));
    assert_eq!(dflt_with(&n102, "1.234", &string).unwrap(), s("1.234"));
    let double = ValueOptions { decimal_handling_mode: DecimalHandlingMode::Double, ..ValueOptions::default() };
    assert_eq!(dflt_with(&n51, "'-1.5'::numeric", &double).unwrap(), Some(Value::Float64(-1.5)));
    assert!(dflt_with(&n, "'NaN'::numeric", &string).is_err());
    assert_eq!(dflt(&n102, "NULL::numeric"), None);
}

#[test]
fn booleans_and_bits() {
    let b = t(oid::BOOL, -1, "bool");
    assert_eq!(dflt(&b, "true"), Some(Value::Boolean(true)));
    assert_eq!(dflt(&b, "false"), Some(Value::Boolean(false)));
    // bit(1) DEFAULT B'1', bit(3) DEFAULT B'101', varbit DEFAULT B'11'
    assert_eq!(dflt(&t(oid::BIT, 1, "bit"), "'1'::\"bit\""), Some(Value::Boolean(true)));
    assert_eq!(dflt(&t(oid::BIT, 3, "bit"), "'101'::\"bit\""), Some(Value::Bytes(vec![0b101])));
    assert_eq!(dflt(&t(oid::VARBIT, -1, "varbit"), "'11'::\"bit\""), Some(Value::Bytes(vec![0b11])));
}

#[test]
fn strings_take_the_first_quoted_literal_verbatim() {
    let text = t(oid::TEXT, -1, "text");
    assert_eq!(dflt(&text, "'abc'::text"), s("abc"));
    assert_eq!(dflt(&text, "''::text"), s(""));
    // Debezium's '(.*?)' stops at the doubled quote: DEFAULT 'it''s' → "it".
    assert_eq!(dflt(&text, "'it''s'::text"), s("it"));
    // ('a' || 'b') → the first literal; md5('x') is a function → "".
    assert_eq!(dflt(&text, "('a'::text || 'b'::text)"), s("a"));
    assert_eq!(dflt(&text, "md5('x'::text)"), s(""));
    // A keyword without quotes is taken as the text itself.
    assert_eq!(dflt(&text, "CURRENT_USER"), s("CURRENT_USER"));
    assert_eq!(dflt(&t(oid::VARCHAR, 14, "varchar"), "'vc'::character varying"), s("vc"));
    // char(5) DEFAULT 'ab': not blank-padded, unlike row values.
    assert_eq!(dflt(&t(oid::BPCHAR, 9, "bpchar"), "'ab'::bpchar"), s("ab"));
    assert_eq!(dflt(&t(oid::JSONB, -1, "jsonb"), "'{\"a\": 1}'::jsonb"), s("{\"a\": 1}"));
    assert_eq!(dflt(&t(oid::JSON, -1, "json"), "json_build_object()"), s("{}"));
    assert_eq!(dflt(&t(oid::XML, -1, "xml"), "'<a/>'::xml"), s("<a/>"));
    assert_eq!(dflt(&text, "NULL::text"), None);
    // An unterminated literal, or one broken by a newline, does not match.
    assert!(dflt_with(&text, "'a\nb'::text", &ValueOptions::default()).is_err());
}

#[test]
fn uuids() {
    let u = t(oid::UUID, -1, "uuid");
    assert_eq!(dflt(&u, "'A0EEBC99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid"), s("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(dflt(&u, "gen_random_uuid()"), s("00000000-0000-0000-0000-000000000000"));
    assert!(dflt_with(&u, "'nope'::uuid", &ValueOptions::default()).is_err());
}

#[test]
fn temporal_literals_and_current_time_placeholders() {
    let date = t(oid::DATE, -1, "date");
    assert_eq!(dflt(&date, "'2024-01-01'::date"), Some(Value::Int32(19723)));
    assert_eq!(dflt(&date, "CURRENT_DATE"), Some(Value::Int32(0)));
    assert_eq!(dflt(&date, "now()"), Some(Value::Int32(0)));

    let time = t(oid::TIME, -1, "time");
    assert_eq!(dflt(&time, "'12:34:56.789'::time without time zone"), Some(Value::Int64(45_296_789_000)));
    assert_eq!(dflt(&time, "CURRENT_TIME"), Some(Value::Int64(0)));
    // time(3) DEFAULT LOCALTIME → io.debezium.time.Time (int32 ms).
    assert_eq!(dflt(&t(oid::TIME, 3, "time"), "LOCALTIME"), Some(Value::Int32(0)));

    // product.created_at timestamp DEFAULT now() → MicroTimestamp 0 (golden).
    let ts = t(oid::TIMESTAMP, -1, "timestamp");
    assert_eq!(dflt(&ts, "now()"), Some(Value::Int64(0)));
    assert_eq!(dflt(&ts, "CURRENT_TIMESTAMP"), Some(Value::Int64(0)));
    assert_eq!(dflt(&ts, "LOCALTIMESTAMP"), Some(Value::Int64(0)));
    assert_eq!(
        dflt(&ts, "'2024-01-01 10:00:00.5'::timestamp without time zone"),
        Some(Value::Int64(1_704_103_200_500_000))
    );
    let connect = ValueOptions { time_precision_mode: TimePrecisionMode::Connect, ..ValueOptions::default() };
    assert_eq!(
        dflt_with(&ts, "'2024-01-01 10:00:00.5'::timestamp without time zone", &connect).unwrap(),
        Some(Value::Int64(1_704_103_200_500))
    );

    // stock.updated_at timestamptz DEFAULT now() (golden).
    let tz = t(oid::TIMESTAMPTZ, -1, "timestamptz");
    assert_eq!(dflt(&tz, "now()"), s("1970-01-01T00:00:00.000000Z"));
    assert_eq!(dflt(&tz, "(now() AT TIME ZONE 'utc'::text)"), s("1970-01-01T00:00:00.000000Z"));
    assert_eq!(dflt(&tz, "clock_timestamp()"), s("1970-01-01T00:00:00.000000Z"));
    // DEFAULT '2024-01-01 10:00:00+02', printed in the catalog session's zone.
    assert_eq!(dflt(&tz, "'2024-01-01 08:00:00+00'::timestamp with time zone"), s("2024-01-01T08:00:00.000000Z"));

    let iv = t(oid::INTERVAL, -1, "interval");
    assert_eq!(dflt(&iv, "'1 day 02:00:00'::interval"), Some(Value::Int64(93_600_000_000)));
    assert_eq!(dflt(&iv, "'1 year 2 mons'::interval"), Some(Value::Int64(36_817_200_000_000)));
    assert_eq!(dflt(&iv, "'-01:00:00'::interval"), Some(Value::Int64(-3_600_000_000)));
    let iso = ValueOptions { interval_handling_mode: IntervalHandlingMode::String, ..ValueOptions::default() };
    assert_eq!(dflt_with(&iv, "'-01:00:00'::interval", &iso).unwrap(), s("P0Y0M0DT-1H0M0S"));
}

#[test]
fn enums_need_the_exact_type_name() {
    let mut mood = t(70000, -1, "mood");
    mood.enum_values = Some(vec!["sad".into(), "ok".into(), "happy".into()]);
    assert_eq!(dflt(&mood, "'ok'::mood"), s("ok"));
    // Debezium requires the expression to end in `::<typname>`.
    assert_eq!(dflt(&mood, "'ok'::other.mood"), None);
    assert_eq!(dflt(&mood, "'ok'::\"Mood\""), None);
    assert_eq!(dflt(&mood, "NULL::mood"), None);
}

#[test]
fn types_without_a_parser_get_no_default() {
    for (col, expr) in [
        (t(oid::TIMETZ, -1, "timetz"), "'10:00:00+02'::time with time zone"),
        (t(oid::MONEY, -1, "money"), "12.5"),
        (t(oid::BYTEA, -1, "bytea"), "'\\x00ff'::bytea"),
        (t(oid::INET, -1, "inet"), "'10.0.0.1'::inet"),
        (ColumnType::array(1007, -1, "_int4", t(oid::INT4, -1, "int4")), "'{}'::integer[]"),
    ] {
        assert!(
            matches!(dflt_with(&col, expr, &ValueOptions::default()), Err(DefaultValueError::NoParser { .. })),
            "{expr}"
        );
    }
    // A domain goes by its own name (no parser), not its base type's.
    let mut dom = t(80000, -1, "posint");
    dom.domain_base = Some(Box::new(t(oid::INT4, -1, "int4")));
    assert!(dflt_with(&dom, "5", &ValueOptions::default()).is_err());
}

#[test]
fn generated_expression_matcher() {
    for generated in [
        "now()",
        "nextval('s'::regclass)",
        "(now() AT TIME ZONE 'utc'::text)",
        "pg_catalog.now()",
        "f(a, (b), c)",
        "CURRENT_TIMESTAMP",
        "localtimestamp",
        "CURRENT_TIMESTAMP(3)",
    ] {
        assert!(is_generated(generated), "{generated}");
    }
    for literal in ["7", "(2 + 3)", "'a'::text", "f(g(h(1)))", "now", "(-1)", "CURRENT_USER", "f(x"] {
        assert!(!is_generated(literal), "{literal}");
    }
}
