//! Kafka Connect's reshaping, cast, time and header SMTs, predicates and a
//! chain, against the Java classes (see `smt_tests.rs`).

use crate::transform::smt_tests::{check, check_one, envelopes, errors_of, measure, one, one_refs, stock};

#[test]
fn extract_field_key_value_and_unknown_field() {
    check_one("connect_extractfield_key", stock(), "org.apache.kafka.connect.transforms.ExtractField$Key", &[("field", "id")], &[]);
    check_one("connect_extractfield_value", envelopes(), "ExtractField$Value", &[("field", "after")], &[]);
    check_one("connect_extractfield_missing", stock(), "ExtractField$Value", &[("field", "nope")], &[]);
}

#[test]
fn hoist_field_wraps_in_an_unnamed_struct() {
    // The tombstone (input 7): Connect hoists it into a schemaless map.
    check_one("connect_hoistfield_value", stock(), "HoistField$Value", &[("field", "row")], &[7]);
    check_one("connect_hoistfield_key", stock(), "HoistField$Key", &[("field", "k")], &[]);
}

#[test]
fn flatten_envelopes_nested_structs_and_keys() {
    check_one("connect_flatten_envelope", envelopes(), "org.apache.kafka.connect.transforms.Flatten$Value", &[], &[]);
    check_one("connect_flatten_measure", measure(), "Flatten$Value", &[("delimiter", "_")], &[]);
    let all = [
        ("transforms", "r,f"),
        ("transforms.r.type", "ReplaceField$Value"),
        ("transforms.r.exclude", "attrs,counts"),
        ("transforms.f.type", "Flatten$Value"),
        ("transforms.f.delimiter", "_"),
    ];
    check("connect_flatten_nomaps", measure(), &all, &[]);
    let all = [
        ("transforms", "h,f"),
        ("transforms.h.type", "HoistField$Key"),
        ("transforms.h.field", "k"),
        ("transforms.f.type", "Flatten$Key"),
        ("transforms.f.delimiter", "/"),
    ];
    check("connect_flatten_key", stock(), &all, &[]);
}

#[test]
fn cast_fields_like_java() {
    let p = [("spec", "id:string,quantity:float64,reserved_quantity:boolean,product_id:int8")];
    check_one("connect_cast_stock", stock(), "org.apache.kafka.connect.transforms.Cast$Value", &p, &[]);
    let p = [("spec", "id:int8,ratio:string,weight:float64,flag:int32,small:string,tiny:boolean,price:float64,day:string,note:string,taken_at:int32")];
    check_one("connect_cast_measure", measure(), "Cast$Value", &p, &[]);
    let p = [("spec", "ratio:int64,weight:int16,small:float32,tiny:float64,flag:string,price:string")];
    check_one("connect_cast_numbers", measure(), "Cast$Value", &p, &[]);
    check_one("connect_cast_bad_string", measure(), "Cast$Value", &[("spec", "note:int32")], &[]);
}

#[test]
fn cast_connect_dates_to_text_and_numbers() {
    for (target, name) in [
        ("Timestamp", "connect_cast_timestamp_string"),
        ("Date", "connect_cast_date_string"),
        ("Time", "connect_cast_time_string"),
    ] {
        let all = [
            ("transforms", "t,c"),
            ("transforms.t.type", "TimestampConverter$Value"),
            ("transforms.t.field", "taken_at"),
            ("transforms.t.target.type", target),
            ("transforms.t.unix.precision", "microseconds"),
            ("transforms.c.type", "Cast$Value"),
            ("transforms.c.spec", "taken_at:string"),
        ];
        check(name, measure(), &all, &[]);
    }
    let all = [
        ("transforms", "t,c"),
        ("transforms.t.type", "TimestampConverter$Value"),
        ("transforms.t.field", "taken_at"),
        ("transforms.t.target.type", "Date"),
        ("transforms.t.unix.precision", "microseconds"),
        ("transforms.c.type", "Cast$Value"),
        ("transforms.c.spec", "taken_at:int64"),
    ];
    check("connect_cast_timestamp_int", measure(), &all, &[]);
}

#[test]
fn cast_whole_key() {
    check_one("connect_cast_struct_whole", stock(), "Cast$Key", &[("spec", "string")], &[]);
    let all = [
        ("transforms", "x,c"),
        ("transforms.x.type", "ExtractField$Key"),
        ("transforms.x.field", "id"),
        ("transforms.c.type", "Cast$Key"),
        ("transforms.c.spec", "string"),
    ];
    check("connect_cast_key_whole", stock(), &all, &[]);
}

#[test]
fn cast_spec_refused_naming_the_property() {
    for spec in ["a:uuid", "string,a:int8", "a:b:c", "bytes"] {
        let errs = errors_of(&one_refs(&one("Cast$Value", &[("spec", spec)])));
        assert!(errs.iter().any(|(p, _)| p == "transforms.t.spec"), "{spec}: {errs:?}");
    }
}

#[test]
fn timestamp_converter_micro_timestamps() {
    let p = [("field", "taken_at"), ("target.type", "Timestamp"), ("unix.precision", "microseconds")];
    check_one("connect_timestamp_micros", measure(), "org.apache.kafka.connect.transforms.TimestampConverter$Value", &p, &[]);
}

#[test]
fn timestamp_converter_formats_and_parses_strings() {
    let all = [
        ("transforms", "a,b"),
        ("transforms.a.type", "TimestampConverter$Value"),
        ("transforms.a.field", "taken_at"),
        ("transforms.a.target.type", "string"),
        ("transforms.a.unix.precision", "microseconds"),
        ("transforms.a.format", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
        ("transforms.b.type", "TimestampConverter$Value"),
        ("transforms.b.field", "taken_tz"),
        ("transforms.b.target.type", "unix"),
        ("transforms.b.format", "yyyy-MM-dd'T'HH:mm:ss"),
        ("transforms.b.unix.precision", "seconds"),
    ];
    check("connect_timestamp_string", measure(), &all, &[]);
}

#[test]
fn timestamp_converter_pattern_letters_and_lenient_parsing() {
    let all = [
        ("transforms", "a,b"),
        ("transforms.a.type", "TimestampConverter$Value"),
        ("transforms.a.field", "taken_at"),
        ("transforms.a.target.type", "string"),
        ("transforms.a.unix.precision", "microseconds"),
        ("transforms.a.format", "d MMM yy, MMMM yyyyy H 'o''clock' S SS SSSS X XXX Z''"),
        ("transforms.b.type", "TimestampConverter$Value"),
        ("transforms.b.field", "taken_tz"),
        ("transforms.b.target.type", "Timestamp"),
        // SSSSSS reads 123456 milliseconds: Java's lenient parse adds two minutes.
        ("transforms.b.format", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"),
    ];
    check("connect_timestamp_patterns", measure(), &all, &[]);
}

#[test]
fn timestamp_converter_chain_through_timestamp_date_and_string() {
    let all = [
        ("transforms", "a,b,c"),
        ("transforms.a.type", "TimestampConverter$Value"),
        ("transforms.a.field", "taken_at"),
        ("transforms.a.target.type", "Timestamp"),
        ("transforms.a.unix.precision", "microseconds"),
        ("transforms.b.type", "TimestampConverter$Value"),
        ("transforms.b.field", "taken_at"),
        ("transforms.b.target.type", "Date"),
        ("transforms.c.type", "TimestampConverter$Value"),
        ("transforms.c.field", "taken_at"),
        ("transforms.c.target.type", "string"),
        ("transforms.c.format", "dd/MM/yy HH:mm"),
    ];
    check("connect_timestamp_chain", measure(), &all, &[]);
}

#[test]
fn timestamp_converter_whole_value() {
    let all = [
        ("transforms", "x,a,b"),
        ("transforms.x.type", "ExtractField$Value"),
        ("transforms.x.field", "taken_at"),
        ("transforms.a.type", "TimestampConverter$Value"),
        ("transforms.a.target.type", "Time"),
        ("transforms.a.unix.precision", "microseconds"),
        ("transforms.b.type", "TimestampConverter$Value"),
        ("transforms.b.target.type", "unix"),
        ("transforms.b.unix.precision", "nanoseconds"),
    ];
    check("connect_timestamp_whole", measure(), &all, &[]);
}

#[test]
fn timestamp_options_refused_naming_the_property() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("target.type", "string")], "transforms.t.format"),
        (&[("target.type", "date")], "transforms.t.target.type"),
        (&[("target.type", "Date"), ("unix.precision", "days")], "transforms.t.unix.precision"),
        (&[("target.type", "string"), ("format", "EEE, d MMM yyyy")], "transforms.t.format"),
    ];
    for (props, property) in cases {
        let errs = errors_of(&one_refs(&one("TimestampConverter$Value", props)));
        assert!(errs.iter().any(|(p, _)| p == property), "{props:?}: {errs:?}");
    }
}

#[test]
fn set_schema_metadata_name_and_version() {
    let all = [
        ("transforms", "v,k"),
        ("transforms.v.type", "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value"),
        ("transforms.v.schema.name", "shop.stock.Row"),
        ("transforms.v.schema.version", "3"),
        ("transforms.k.type", "SetSchemaMetadata$Key"),
        ("transforms.k.schema.name", "shop.stock.Id"),
    ];
    check("connect_setschemametadata", stock(), &all, &[]);
    check_one("connect_setschemametadata_measure", measure(), "SetSchemaMetadata$Value", &[("schema.version", "9")], &[]);
}

fn filter_with(predicate: &[(&str, &str)], negate: bool) -> Vec<(String, String)> {
    let mut all = vec![
        ("transforms".to_owned(), "f".to_owned()),
        ("transforms.f.type".to_owned(), "org.apache.kafka.connect.transforms.Filter".to_owned()),
        ("transforms.f.predicate".to_owned(), "p".to_owned()),
        ("transforms.f.negate".to_owned(), negate.to_string()),
        ("predicates".to_owned(), "p".to_owned()),
    ];
    all.extend(predicate.iter().map(|(k, v)| (format!("predicates.p.{k}"), (*v).to_owned())));
    all
}

#[test]
fn filter_with_predicates() {
    let all = filter_with(&[("type", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone")], false);
    check("connect_filter_tombstones", stock(), &one_refs(&all), &[]);
    let all = filter_with(&[("type", "HasHeaderKey"), ("name", "__debezium.oldkey")], true);
    check("connect_filter_header", stock(), &one_refs(&all), &[]);
    let all = filter_with(&[("type", "TopicNameMatches"), ("pattern", ".*\\.stock")], false);
    let mut both = stock();
    both.extend(measure());
    check("connect_filter_topic", both, &one_refs(&all), &[]);
}

#[test]
fn predicates_refused_naming_the_property() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("type", "TopicNameMatches")], "predicates.p.pattern"),
        (&[("type", "TopicNameMatches"), ("pattern", "(?<=a)b")], "predicates.p.pattern"),
        (&[("type", "HasHeaderKey")], "predicates.p.name"),
        (&[("type", "com.example.Custom")], "predicates.p.type"),
    ];
    for (props, property) in cases {
        let errs = errors_of(&one_refs(&filter_with(props, false)));
        assert!(errs.iter().any(|(p, _)| p == property), "{props:?}: {errs:?}");
    }
    let mut all = filter_with(&[("type", "RecordIsTombstone")], false);
    all[2].1 = "other".into();
    let errs = errors_of(&one_refs(&all));
    assert!(errs.iter().any(|(p, _)| p == "transforms.f.predicate"), "{errs:?}");
}

#[test]
fn insert_and_drop_headers() {
    let all = [
        ("transforms", "a,b,c"),
        ("transforms.a.type", "InsertHeader"),
        ("transforms.a.header", "origin"),
        ("transforms.a.value.literal", "pgcdc"),
        ("transforms.b.type", "InsertHeader"),
        ("transforms.b.header", "n"),
        ("transforms.b.value.literal", "42"),
        ("transforms.c.type", "org.apache.kafka.connect.transforms.InsertHeader"),
        ("transforms.c.header", "b"),
        ("transforms.c.value.literal", "true"),
    ];
    check("connect_insertheader", stock(), &all, &[]);
    let p = [("headers", "__debezium.context.taskId,__debezium.context.runId,absent")];
    check_one("connect_dropheaders", stock(), "org.apache.kafka.connect.transforms.DropHeaders", &p, &[]);
    for literal in ["1.5", "[1,2]", "2024-01-01"] {
        let errs = errors_of(&one_refs(&one("InsertHeader", &[("header", "h"), ("value.literal", literal)])));
        assert!(errs.iter().any(|(p, _)| p == "transforms.t.value.literal"), "{literal}: {errs:?}");
    }
}

/// InsertHeader's literals as Connect 4.3 writes them
/// (`Values.parseString` + SimpleHeaderConverter, run on the Java side).
#[test]
fn insert_header_literals_like_values_parse_string() {
    use crate::encode::header::encode_header;
    use crate::transform::headers::parse_literal;
    let java = [
        ("pgcdc", "pgcdc"),
        ("42", "42"),
        ("-129", "-129"),
        ("40000", "40000"),
        ("3000000000", "3000000000"),
        ("true", "true"),
        ("TRUE", "TRUE"),
        ("False", "False"),
        ("NULL", "NULL"),
        ("007", "7"),
        ("+5", "5"),
        ("-0", "0"),
        ("abc def", "abc def"),
        ("a,b", "a,b"),
        ("x:y", "x:y"),
        ("\"quoted\"", "\"quoted\""),
        ("NaN", "NaN"),
        ("T10:00", "T10:00"),
        ("abc[1]", "abc[1]"),
        ("é", "é"),
    ];
    for (literal, written) in java {
        let sv = parse_literal(literal).unwrap_or_else(|e| panic!("{literal}: {e}"));
        let bytes = sv.as_ref().and_then(encode_header);
        assert_eq!(bytes.as_deref(), Some(written.as_bytes()), "{literal}");
    }
    // Connect: FLOAT32, INT16 1000, INT8 3, INT8 7, INT8 12, Date, ARRAY, MAP, Decimal, INT8 12, NPE.
    for literal in ["1.5", "1e3", "3.0", "7,8", "12:30", "2024-01-01", "[1,2]", "{\"a\":1}", "9999999999999999999", "\u{661}\u{662}", "null"] {
        assert!(parse_literal(literal).is_err(), "{literal}");
    }
}

#[test]
fn header_from_copy_and_move() {
    let p = [("fields", "id,quantity"), ("headers", "h_id,h_q"), ("operation", "copy")];
    check_one("connect_headerfrom_copy", stock(), "org.apache.kafka.connect.transforms.HeaderFrom$Value", &p, &[]);
    let p = [("fields", "note,ratio,flag,tags"), ("headers", "note,ratio,flag,tags"), ("operation", "move")];
    check_one("connect_headerfrom_move", measure(), "HeaderFrom$Value", &p, &[]);
    let p = [("fields", "id"), ("headers", "key_id"), ("operation", "move")];
    check_one("connect_headerfrom_key", stock(), "HeaderFrom$Key", &p, &[]);
    let errs = errors_of(&one_refs(&one("HeaderFrom$Value", &[("fields", "a,b"), ("headers", "a"), ("operation", "copy")])));
    assert!(errs.iter().any(|(p, _)| p == "transforms.t.headers"), "{errs:?}");
}

#[test]
fn timestamp_router_formats() {
    check_one("connect_timestamprouter", stock(), "org.apache.kafka.connect.transforms.TimestampRouter", &[], &[]);
    let p = [("topic.format", "${timestamp}/${topic}/${topic}"), ("timestamp.format", "yyyy-MM-dd'T'HH'h'mm.ss.SSS")];
    check_one("connect_timestamprouter_format", stock(), "TimestampRouter", &p, &[]);
}

#[test]
fn a_predicate_on_debeziums_unwrap() {
    let all = [
        ("predicates", "newkey,tomb"),
        ("predicates.newkey.type", "HasHeaderKey"),
        ("predicates.newkey.name", "__debezium.newkey"),
        ("predicates.tomb.type", "RecordIsTombstone"),
        ("transforms", "unwrap,mark"),
        ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.unwrap.delete.tombstone.handling.mode", "rewrite"),
        ("transforms.unwrap.predicate", "newkey"),
        ("transforms.unwrap.negate", "true"),
        ("transforms.mark.type", "InsertHeader"),
        ("transforms.mark.header", "t"),
        ("transforms.mark.value.literal", "tomb"),
        ("transforms.mark.predicate", "tomb"),
    ];
    check("connect_predicate_unwrap", envelopes(), &all, &[]);
}

#[test]
fn a_chain_with_predicates() {
    let all = [
        ("predicates", "stock,tomb"),
        ("predicates.stock.type", "TopicNameMatches"),
        ("predicates.stock.pattern", ".*stock"),
        ("predicates.tomb.type", "RecordIsTombstone"),
        ("transforms", "replace,insert,tokey,extract,ts,route"),
        ("transforms.replace.type", "ReplaceField$Value"),
        ("transforms.replace.exclude", "reserved_quantity"),
        ("transforms.replace.renames", "quantity:qty"),
        ("transforms.replace.predicate", "stock"),
        ("transforms.insert.type", "InsertField$Value"),
        ("transforms.insert.static.field", "origin"),
        ("transforms.insert.static.value", "pgcdc"),
        ("transforms.tokey.type", "ValueToKey"),
        ("transforms.tokey.fields", "id"),
        ("transforms.tokey.predicate", "tomb"),
        ("transforms.tokey.negate", "true"),
        ("transforms.extract.type", "ExtractField$Key"),
        ("transforms.extract.field", "id"),
        ("transforms.extract.predicate", "tomb"),
        ("transforms.extract.negate", "true"),
        ("transforms.ts.type", "TimestampRouter"),
        ("transforms.ts.topic.format", "${topic}.${timestamp}"),
        ("transforms.ts.timestamp.format", "yyyy"),
        ("transforms.route.type", "RegexRouter"),
        ("transforms.route.regex", "ecommerce\\.public\\.(.*)"),
        ("transforms.route.replacement", "shop.$1"),
    ];
    let mut both = stock();
    both.extend(measure());
    check("connect_chain", both, &all, &[]);
}
