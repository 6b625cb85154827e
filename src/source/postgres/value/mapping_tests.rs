use super::*;
use crate::source::postgres::value::DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER;

fn opts() -> ValueOptions {
    ValueOptions::default()
}

fn t(oid: u32, typmod: i32, name: &str) -> ColumnType {
    ColumnType::new(oid, typmod, name)
}

/// numeric(p,s) type modifier.
fn numeric_typmod(p: i32, s: i32) -> i32 {
    ((p << 16) | s) + 4
}

fn value(col: &ColumnType, text: &str, o: &ValueOptions) -> Value {
    let schema = column_schema(col, true, o).unwrap();
    parse_text(col, &schema, text, o).unwrap()
}

#[test]
fn primitive_schemas_and_values() {
    let o = opts();
    let cases: Vec<(ColumnType, &str, SchemaType, Value)> = vec![
        (t(oid::BOOL, -1, "bool"), "t", SchemaType::Boolean, Value::Boolean(true)),
        (t(oid::BOOL, -1, "bool"), "f", SchemaType::Boolean, Value::Boolean(false)),
        (t(oid::INT2, -1, "int2"), "-32768", SchemaType::Int16, Value::Int16(i16::MIN)),
        (t(oid::INT4, -1, "int4"), "2147483647", SchemaType::Int32, Value::Int32(i32::MAX)),
        (t(oid::INT8, -1, "int8"), "-9223372036854775808", SchemaType::Int64, Value::Int64(i64::MIN)),
        (t(oid::OID, -1, "oid"), "4294967295", SchemaType::Int64, Value::Int64(4_294_967_295)),
        (t(oid::FLOAT4, -1, "float4"), "1.5", SchemaType::Float32, Value::Float32(1.5)),
        (t(oid::FLOAT8, -1, "float8"), "-Infinity", SchemaType::Float64, Value::Float64(f64::NEG_INFINITY)),
        (t(oid::FLOAT8, -1, "float8"), "1e-310", SchemaType::Float64, Value::Float64(1e-310)),
        (t(oid::TEXT, -1, "text"), "héllo", SchemaType::String, Value::String("héllo".into())),
        (t(oid::BPCHAR, 9, "bpchar"), "ab   ", SchemaType::String, Value::String("ab   ".into())),
        (t(oid::VARCHAR, 14, "varchar"), "", SchemaType::String, Value::String(String::new())),
        (t(oid::INET, -1, "inet"), "10.0.0.1/8", SchemaType::String, Value::String("10.0.0.1/8".into())),
        (t(oid::INT4RANGE, -1, "int4range"), "[1,5)", SchemaType::String, Value::String("[1,5)".into())),
    ];
    for (col, text, kind, expected) in cases {
        let schema = column_schema(&col, true, &o).unwrap();
        assert_eq!(schema.kind, kind, "{}", col.type_name);
        assert!(schema.optional);
        assert_eq!(schema.name, None, "{}", col.type_name);
        assert_eq!(parse_text(&col, &schema, text, &o).unwrap(), expected, "{} {text}", col.type_name);
    }
    let nan = value(&t(oid::FLOAT4, -1, "float4"), "NaN", &o);
    assert!(matches!(nan, Value::Float32(f) if f.is_nan()));
}

#[test]
fn bad_text_is_a_data_error_naming_type_and_text() {
    let col = t(oid::INT4, -1, "int4");
    let schema = column_schema(&col, false, &opts()).unwrap();
    let err = parse_text(&col, &schema, &"9".repeat(200), &opts()).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Data);
    let msg = err.to_string();
    assert!(msg.contains("int4"), "{msg}");
    assert!(msg.len() < 200, "text must be truncated: {msg}");
    assert!(parse_text(&col, &schema, "2147483648", &opts()).is_err());
}

#[test]
fn logical_string_types() {
    let o = opts();
    for (col, name) in [
        (t(oid::JSON, -1, "json"), "io.debezium.data.Json"),
        (t(oid::JSONB, -1, "jsonb"), "io.debezium.data.Json"),
        (t(oid::UUID, -1, "uuid"), "io.debezium.data.Uuid"),
        (t(oid::XML, -1, "xml"), "io.debezium.data.Xml"),
        (t(99_001, -1, "ltree"), "io.debezium.data.Ltree"),
    ] {
        let s = column_schema(&col, false, &o).unwrap();
        assert_eq!((s.kind, s.name.as_deref(), s.version, s.optional), (SchemaType::String, Some(name), Some(1), false));
    }
    let citext = column_schema(&t(99_002, -1, "citext"), true, &o).unwrap();
    assert_eq!((citext.kind, citext.name.clone()), (SchemaType::String, None));
}

#[test]
fn numeric_precise_decimal() {
    let o = opts();
    let col = t(oid::NUMERIC, numeric_typmod(10, 2), "numeric");
    let s = column_schema(&col, false, &o).unwrap();
    assert_eq!(s.kind, SchemaType::Bytes);
    assert_eq!(s.name.as_deref(), Some("org.apache.kafka.connect.data.Decimal"));
    assert_eq!(s.version, Some(1));
    assert_eq!(
        s.parameters,
        vec![("scale".to_owned(), "2".to_owned()), ("connect.decimal.precision".to_owned(), "10".to_owned())]
    );
    let cases: &[(&str, &[u8])] = &[
        ("0.00", &[0]),
        ("1.00", &[0x64]),
        ("-1.00", &[0x9c]),
        ("12345678.90", &[0x49, 0x96, 0x02, 0xd2]),
        ("-99999999.99", &[0xfd, 0xab, 0xf4, 0x1c, 0x01]),
    ];
    for (text, bytes) in cases {
        assert_eq!(parse_text(&col, &s, text, &o).unwrap(), Value::Bytes(bytes.to_vec()), "{text}");
    }
    assert_eq!(parse_text(&col, &s, "NaN", &o).unwrap(), Value::Null);
    assert!(parse_text(&col, &s, "1.234", &o).is_err());
}

#[test]
fn numeric_variable_scale() {
    let o = opts();
    let col = t(oid::NUMERIC, -1, "numeric");
    let s = column_schema(&col, true, &o).unwrap();
    assert_eq!(s.name.as_deref(), Some("io.debezium.data.VariableScaleDecimal"));
    assert_eq!(s.doc.as_deref(), Some("Variable scaled decimal"));
    assert_eq!(s.fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["scale", "value"]);
    let vsd = |scale: i32, bytes: &[u8]| Value::Struct(vec![Value::Int32(scale), Value::Bytes(bytes.to_vec())]);
    assert_eq!(parse_text(&col, &s, "1.500", &o).unwrap(), vsd(1, &[0x0f]));
    assert_eq!(parse_text(&col, &s, "1500", &o).unwrap(), vsd(0, &[0x05, 0xdc]));
    assert_eq!(parse_text(&col, &s, "0", &o).unwrap(), vsd(0, &[0]));
    assert_eq!(parse_text(&col, &s, "-0.001", &o).unwrap(), vsd(3, &[0xff]));
    assert_eq!(parse_text(&col, &s, "Infinity", &o).unwrap(), Value::Null);
}

#[test]
fn numeric_double_and_string_modes() {
    let dbl = ValueOptions { decimal_handling_mode: DecimalHandlingMode::Double, ..opts() };
    let st = ValueOptions { decimal_handling_mode: DecimalHandlingMode::String, ..opts() };
    let fixed = t(oid::NUMERIC, numeric_typmod(20, 8), "numeric");
    let var = t(oid::NUMERIC, -1, "numeric");
    assert_eq!(column_schema(&fixed, true, &dbl).unwrap().kind, SchemaType::Float64);
    assert_eq!(column_schema(&var, true, &st).unwrap().kind, SchemaType::String);
    assert_eq!(value(&fixed, "1.50000000", &dbl), Value::Float64(1.5));
    assert!(matches!(value(&var, "NaN", &dbl), Value::Float64(f) if f.is_nan()));
    assert_eq!(value(&fixed, "1.50000000", &st), Value::String("1.50000000".into()));
    assert_eq!(value(&fixed, "0.00000001", &st), Value::String("0.00000001".into()));
    assert_eq!(value(&var, "1.50", &st), Value::String("1.50".into()));
    assert_eq!(value(&var, "NaN", &st), Value::String("NAN".into()));
}

#[test]
fn money() {
    let o = opts();
    let col = t(oid::MONEY, -1, "money");
    let s = column_schema(&col, false, &o).unwrap();
    assert_eq!(s.parameters, vec![("scale".to_owned(), "2".to_owned())]);
    assert_eq!(parse_text(&col, &s, "$1,234.56", &o).unwrap(), Value::Bytes(vec![0x01, 0xe2, 0x40]));
    assert_eq!(parse_text(&col, &s, "-$0.01", &o).unwrap(), Value::Bytes(vec![0xff]));
    let st = ValueOptions { decimal_handling_mode: DecimalHandlingMode::String, ..opts() };
    assert_eq!(value(&col, "$12.00", &st), Value::String("12.00".into()));
    assert_eq!(value(&col, "-$92,233,720,368,547,758.08", &st), Value::String("-92233720368547758.08".into()));
}

fn name_of(col: &ColumnType, o: &ValueOptions) -> (SchemaType, Option<String>) {
    let s = column_schema(col, true, o).unwrap();
    (s.kind, s.name.clone())
}

#[test]
fn temporal_schemas_by_mode() {
    let adaptive = opts();
    let micro = ValueOptions { time_precision_mode: TimePrecisionMode::AdaptiveTimeMicroseconds, ..opts() };
    let connect = ValueOptions { time_precision_mode: TimePrecisionMode::Connect, ..opts() };
    let n = |s: &str| Some(s.to_owned());
    let ts = t(oid::TIMESTAMP, -1, "timestamp");
    let ts3 = t(oid::TIMESTAMP, 3, "timestamp");
    let time = t(oid::TIME, -1, "time");
    let time0 = t(oid::TIME, 0, "time");
    let date = t(oid::DATE, -1, "date");
    assert_eq!(name_of(&ts, &adaptive), (SchemaType::Int64, n("io.debezium.time.MicroTimestamp")));
    assert_eq!(name_of(&ts3, &adaptive), (SchemaType::Int64, n("io.debezium.time.Timestamp")));
    assert_eq!(name_of(&ts, &connect), (SchemaType::Int64, n("org.apache.kafka.connect.data.Timestamp")));
    assert_eq!(name_of(&time, &adaptive), (SchemaType::Int64, n("io.debezium.time.MicroTime")));
    assert_eq!(name_of(&time0, &adaptive), (SchemaType::Int32, n("io.debezium.time.Time")));
    assert_eq!(name_of(&time0, &micro), (SchemaType::Int64, n("io.debezium.time.MicroTime")));
    assert_eq!(name_of(&time, &connect), (SchemaType::Int32, n("org.apache.kafka.connect.data.Time")));
    assert_eq!(name_of(&date, &adaptive), (SchemaType::Int32, n("io.debezium.time.Date")));
    assert_eq!(name_of(&date, &connect), (SchemaType::Int32, n("org.apache.kafka.connect.data.Date")));
    let tz = t(oid::TIMESTAMPTZ, -1, "timestamptz");
    assert_eq!(name_of(&tz, &connect), (SchemaType::String, n("io.debezium.time.ZonedTimestamp")));
    assert_eq!(name_of(&t(oid::TIMETZ, -1, "timetz"), &adaptive), (SchemaType::String, n("io.debezium.time.ZonedTime")));
}

#[test]
fn temporal_values() {
    let o = opts();
    let connect = ValueOptions { time_precision_mode: TimePrecisionMode::Connect, ..opts() };
    let ts = t(oid::TIMESTAMP, -1, "timestamp");
    let ts0 = t(oid::TIMESTAMP, 0, "timestamp");
    assert_eq!(value(&ts, "2024-01-02 03:04:05.123456", &o), Value::Int64(1_704_164_645_123_456));
    assert_eq!(value(&ts, "1969-12-31 23:59:59.5", &o), Value::Int64(-500_000));
    assert_eq!(value(&ts0, "1969-12-31 23:59:59", &o), Value::Int64(-1000));
    assert_eq!(value(&ts, "1969-12-31 23:59:59.9995", &connect), Value::Int64(-1));
    assert_eq!(value(&ts, "infinity", &o), Value::Int64(9_223_372_036_825_200_000));
    assert_eq!(value(&ts0, "-infinity", &o), Value::Int64(-9_223_372_036_832_400));
    assert_eq!(value(&ts, "0001-01-01 00:00:00 BC", &o), Value::Int64(-62_167_219_200_000_000));
    let date = t(oid::DATE, -1, "date");
    assert_eq!(value(&date, "2000-01-01", &o), Value::Int32(10_957));
    assert_eq!(value(&date, "1900-03-01", &o), Value::Int32(-25_508));
    let tz = t(oid::TIMESTAMPTZ, -1, "timestamptz");
    assert_eq!(value(&tz, "2024-01-02 03:04:05+00", &o), Value::String("2024-01-02T03:04:05.000000Z".into()));
    assert_eq!(value(&tz, "2024-01-02 03:04:05.5-07:30", &o), Value::String("2024-01-02T10:34:05.500000Z".into()));
    assert_eq!(value(&tz, "infinity", &o), Value::String("infinity".into()));
    let tz0 = t(oid::TIMESTAMPTZ, 0, "timestamptz");
    assert_eq!(value(&tz0, "2024-01-02 03:04:05+00", &o), Value::String("2024-01-02T03:04:05Z".into()));
    let time = t(oid::TIME, -1, "time");
    assert_eq!(value(&time, "13:14:15.000016", &o), Value::Int64(47_655_000_016));
    assert_eq!(value(&time, "13:14:15.000016", &connect), Value::Int32(47_655_000));
    let timetz = t(oid::TIMETZ, -1, "timetz");
    assert_eq!(value(&timetz, "13:14:15.25+02", &o), Value::String("11:14:15.25Z".into()));
}

#[test]
fn interval_modes() {
    let col = t(oid::INTERVAL, -1, "interval");
    assert_eq!(value(&col, "1 day 01:00:00", &opts()), Value::Int64(90_000_000_000));
    let st = ValueOptions { interval_handling_mode: IntervalHandlingMode::String, ..opts() };
    assert_eq!(name_of(&col, &st).1.as_deref(), Some("io.debezium.time.Interval"));
    assert_eq!(value(&col, "1 day 01:00:00", &st), Value::String("P0Y0M1DT1H0M0S".into()));
}

#[test]
fn bytea_modes() {
    let col = t(oid::BYTEA, -1, "bytea");
    assert_eq!(value(&col, "\\x00ff10", &opts()), Value::Bytes(vec![0, 255, 16]));
    assert_eq!(value(&col, "\\x", &opts()), Value::Bytes(vec![]));
    for (mode, expected) in [
        (BinaryHandlingMode::Base64, "AP8Q/w=="),
        (BinaryHandlingMode::Base64UrlSafe, "AP8Q_w=="),
        (BinaryHandlingMode::Hex, "00ff10ff"),
    ] {
        let o = ValueOptions { binary_handling_mode: mode, ..opts() };
        assert_eq!(column_schema(&col, true, &o).unwrap().kind, SchemaType::String);
        assert_eq!(value(&col, "\\x00ff10ff", &o), Value::String(expected.into()));
    }
    let schema = column_schema(&col, true, &opts()).unwrap();
    assert!(parse_text(&col, &schema, "\\x0", &opts()).is_err());
}

#[test]
fn bits() {
    let o = opts();
    let bit1 = t(oid::BIT, 1, "bit");
    assert_eq!(column_schema(&bit1, true, &o).unwrap().kind, SchemaType::Boolean);
    assert_eq!(value(&bit1, "1", &o), Value::Boolean(true));
    let bit10 = t(oid::BIT, 10, "bit");
    let s = column_schema(&bit10, true, &o).unwrap();
    assert_eq!(s.name.as_deref(), Some("io.debezium.data.Bits"));
    assert_eq!(s.parameters, vec![("length".to_owned(), "10".to_owned())]);
    assert_eq!(value(&bit10, "1000000001", &o), Value::Bytes(vec![0x01, 0x02]));
    assert_eq!(value(&bit10, "0000000000", &o), Value::Bytes(vec![]));
    assert_eq!(value(&t(oid::VARBIT, -1, "varbit"), "101", &o), Value::Bytes(vec![0x05]));
}

#[test]
fn enums_arrays_domains() {
    let o = opts();
    let mood = ColumnType { enum_values: Some(vec!["sad".into(), "ok".into()]), ..t(70_000, -1, "mood") };
    let s = column_schema(&mood, true, &o).unwrap();
    assert_eq!(s.name.as_deref(), Some("io.debezium.data.Enum"));
    assert_eq!(s.parameters, vec![("allowed".to_owned(), "sad,ok".to_owned())]);
    assert_eq!(value(&mood, "ok", &o), Value::String("ok".into()));

    let ints = ColumnType::array(1007, -1, "_int4", t(oid::INT4, -1, "int4"));
    let s = column_schema(&ints, true, &o).unwrap();
    assert_eq!(s.kind, SchemaType::Array);
    assert!(s.items.as_ref().unwrap().optional);
    assert_eq!(value(&ints, "{1,NULL,-3}", &o), Value::Array(vec![Value::Int32(1), Value::Null, Value::Int32(-3)]));
    let texts = ColumnType::array(1009, -1, "_text", t(oid::TEXT, -1, "text"));
    assert_eq!(value(&texts, r#"{"a,b",c}"#, &o), Value::Array(vec![Value::String("a,b".into()), Value::String("c".into())]));
    // Observed from Debezium 3.6.3 (differential test): the elements of timestamp[] are MicroTimestamp.
    let tss = ColumnType::array(1115, -1, "_timestamp", t(oid::TIMESTAMP, -1, "timestamp"));
    assert_eq!(column_schema(&tss, true, &o).unwrap().items.as_ref().unwrap().name.as_deref(), Some("io.debezium.time.MicroTimestamp"));
    let moods = ColumnType::array(70_001, -1, "_mood", mood.clone());
    assert!(!column_schema(&moods, true, &o).unwrap().items.as_ref().unwrap().optional);
    let money_arr = ColumnType::array(791, -1, "_money", t(oid::MONEY, -1, "money"));
    assert!(matches!(column_schema(&money_arr, true, &o), Err(ValueError::UnsupportedType { .. })));

    let base = t(oid::NUMERIC, numeric_typmod(6, 2), "numeric");
    let domain = ColumnType { domain_base: Some(Box::new(base)), ..t(80_000, -1, "price") };
    let s = column_schema(&domain, false, &o).unwrap();
    assert_eq!(s.parameter("scale"), Some("2"));
    assert_eq!(parse_text(&domain, &s, "1.50", &o).unwrap(), Value::Bytes(vec![0x00, 0x96]));
    // Observed from Debezium 3.6.3 (differential test): an array of a domain is left out.
    let domains = ColumnType::array(80_001, -1, "_price", domain.clone());
    assert!(matches!(column_schema(&domains, true, &o), Err(ValueError::UnsupportedType { .. })));
}

#[test]
fn point_hstore_unknown() {
    let o = opts();
    let p = t(oid::POINT, -1, "point");
    let s = column_schema(&p, true, &o).unwrap();
    assert_eq!(s.name.as_deref(), Some("io.debezium.data.geometry.Point"));
    let v = parse_text(&p, &s, "(1,2.5)", &o).unwrap();
    let Value::Struct(fields) = v else { panic!("struct expected") };
    assert_eq!(&fields[..2], &[Value::Float64(1.0), Value::Float64(2.5)]);
    assert_eq!(fields[3], Value::Null);

    let h = t(99_003, -1, "hstore");
    // Java HashMap order for keys "b","a" (hash 98, 97) is a, b.
    assert_eq!(value(&h, r#""b"=>"2", "a"=>NULL"#, &o), Value::String(r#"{"a":null,"b":"2"}"#.into()));
    let map = ValueOptions { hstore_handling_mode: HstoreHandlingMode::Map, ..opts() };
    assert_eq!(column_schema(&h, true, &map).unwrap().kind, SchemaType::Map);

    let lsn = t(3220, -1, "pg_lsn");
    assert!(matches!(column_schema(&lsn, true, &o), Err(ValueError::UnsupportedType { .. })));
    let inc = ValueOptions { include_unknown_datatypes: true, ..opts() };
    assert_eq!(value(&lsn, "0/16B3748", &inc), Value::Bytes(b"0/16B3748".to_vec()));
}

/// Debezium 3.6.3 leaves the geometric types other than point out of the
/// events entirely (tests/debezium/golden/geo: only id, attrs and pt remain).
#[test]
fn geometric_types_other_than_point_are_left_out() {
    let o = opts();
    for (oid, name) in [(603, "box"), (718, "circle"), (628, "line"), (601, "lseg"), (602, "path"), (604, "polygon")] {
        let col = t(oid, -1, name);
        assert!(matches!(column_schema(&col, true, &o), Err(ValueError::UnsupportedType { .. })), "{name}");
    }
}

#[test]
fn placeholders() {
    let o = opts();
    let p = DEFAULT_UNAVAILABLE_VALUE_PLACEHOLDER;
    let schema = |col: &ColumnType| column_schema(col, true, &o).unwrap();
    let text = t(oid::TEXT, -1, "text");
    assert_eq!(unavailable_placeholder(&schema(&text), &o), Value::String(p.into()));
    let bytea = t(oid::BYTEA, -1, "bytea");
    assert_eq!(unavailable_placeholder(&schema(&bytea), &o), Value::Bytes(p.as_bytes().to_vec()));
    let texts = ColumnType::array(1009, -1, "_text", text.clone());
    assert_eq!(unavailable_placeholder(&schema(&texts), &o), Value::Array(vec![Value::String(p.into())]));
    let ints = ColumnType::array(1007, -1, "_int4", t(oid::INT4, -1, "int4"));
    let Value::Array(items) = unavailable_placeholder(&schema(&ints), &o) else { panic!() };
    assert_eq!(items.len(), p.len());
    assert_eq!(items[0], Value::Int32(i32::from(b'_')));
    let h = t(99_003, -1, "hstore");
    assert_eq!(
        unavailable_placeholder_for(&h, &schema(&h), &o),
        Value::String(format!(r#"{{"{p}":"{p}"}}"#))
    );
}

#[test]
fn semantic_schema_names_are_debeziums() {
    let o = opts();
    let tsv = column_schema(&t(oid::TSVECTOR, -1, "tsvector"), true, &o).unwrap();
    assert_eq!(tsv.name.as_deref(), Some("io.debezium.data.Tsvector"));
}

#[test]
fn timestamptz_array_elements_have_six_fraction_digits() {
    let o = opts();
    let arr = ColumnType::array(1185, -1, "_timestamptz", t(oid::TIMESTAMPTZ, -1, "timestamptz"));
    assert_eq!(
        value(&arr, "{\"2024-01-01 00:00:00+00\",\"2024-01-01 12:30:00.5+02\",NULL}", &o),
        Value::Array(vec![
            Value::String("2024-01-01T00:00:00.000000Z".into()),
            Value::String("2024-01-01T10:30:00.500000Z".into()),
            Value::Null,
        ])
    );
}

#[test]
fn streamed_name_values_are_dropped_unless_unknown_types_are_included() {
    let name = t(oid::NAME, -1, "name");
    assert!(streamed_value_dropped(&name, &opts()));
    assert!(!streamed_value_dropped(&name, &ValueOptions { include_unknown_datatypes: true, ..opts() }));
    assert!(!streamed_value_dropped(&t(oid::TEXT, -1, "text"), &opts()));
}

#[test]
fn required_fallbacks_are_the_converters() {
    let o = opts();
    let fb = |col: &ColumnType, o: &ValueOptions| {
        let schema = column_schema(col, false, o).unwrap();
        required_fallback(col.oid, col.type_modifier, &col.type_name, &schema)
    };
    let s = |x: &str| Some(Value::String(x.into()));
    assert_eq!(fb(&t(oid::TIMESTAMPTZ, -1, "timestamptz"), &o), s("1970-01-01T00:00:00Z"));
    assert_eq!(fb(&t(oid::TIMESTAMPTZ, 3, "timestamptz"), &o), s("1970-01-01T00:00:00Z"));
    assert_eq!(fb(&t(oid::TIMETZ, -1, "timetz"), &o), s("00:00:00Z"));
    let iv_string = ValueOptions { interval_handling_mode: IntervalHandlingMode::String, ..opts() };
    assert_eq!(fb(&t(oid::INTERVAL, -1, "interval"), &iv_string), s("P0Y0M0DT0H0M0S"));
    assert_eq!(fb(&t(oid::INTERVAL, -1, "interval"), &o), None, "numeric interval: the int64 zero");
    assert_eq!(
        fb(&t(oid::NUMERIC, -1, "numeric"), &o),
        Some(Value::Struct(vec![Value::Int32(0), Value::Bytes(vec![0])]))
    );
    let dec_string = ValueOptions { decimal_handling_mode: DecimalHandlingMode::String, ..opts() };
    assert_eq!(fb(&t(oid::NUMERIC, numeric_typmod(10, 2), "numeric"), &dec_string), s("0.00"));
    assert_eq!(fb(&t(oid::NUMERIC, -1, "numeric"), &dec_string), s("0"));
    assert_eq!(fb(&t(oid::MONEY, -1, "money"), &dec_string), s("0.00"));
    assert_eq!(
        fb(&t(oid::POINT, -1, "point"), &o),
        Some(Value::Struct(vec![
            Value::Float64(0.0),
            Value::Float64(0.0),
            Value::Bytes(super::point_wkb(0.0, 0.0)),
            Value::Null
        ]))
    );
    assert_eq!(fb(&t(60_000, -1, "hstore"), &o), s("{}"));
    assert_eq!(fb(&t(oid::TEXT, -1, "text"), &o), None);
}

/// Observed from Debezium 3.6.3 by the differential test: array elements take
/// the array column's modifier (numeric(10,2)[] → Decimal(10,2), time[] →
/// MicroTime) and timetz[] elements lose their fraction.
#[test]
fn array_elements_as_debezium_streams_them() {
    let o = opts();
    let nums = ColumnType::array(1231, numeric_typmod(10, 2), "_numeric", t(oid::NUMERIC, -1, "numeric"));
    let items = column_schema(&nums, true, &o).unwrap().items.clone().unwrap();
    assert_eq!(items.name.as_deref(), Some("org.apache.kafka.connect.data.Decimal"));
    assert_eq!(items.parameter("scale"), Some("2"));
    assert_eq!(value(&nums, "{1.5}", &o), Value::Array(vec![Value::Bytes(vec![0x00, 0x96])]));
    let times = ColumnType::array(1183, -1, "_time", t(oid::TIME, -1, "time"));
    assert_eq!(column_schema(&times, true, &o).unwrap().items.as_ref().unwrap().name.as_deref(), Some("io.debezium.time.MicroTime"));
    let tz = ColumnType::array(1270, -1, "_timetz", t(oid::TIMETZ, -1, "timetz"));
    assert_eq!(value(&tz, "{12:30:00.5-02}", &o), Value::Array(vec![Value::String("14:30:00Z".into())]));
}
