//! Kafka Connect's SMTs against the real Java classes: each golden
//! (`golden/connect_*.json`, made by `golden/SmtGolden.java` with Kafka
//! Connect 4.3 over the same records) holds, per input record, the
//! JsonConverter output, `{"dropped": true}` or `{"error": ...}`. The chains
//! are configured from connector properties, so the parser is checked too.

use std::collections::BTreeMap;

use crate::config::connector::ConnectorConfig;
use crate::encode::json::DecimalFormat;
use crate::encode::{JsonOptions, RecordEncoder};
use crate::envelope::debezium::tests::{measure_records, stock_records};
use crate::record::Record;
use crate::transform::router::RegexRouter;
use crate::transform::smt::Smt;
use crate::transform::unwrap::{Unwrap, UnwrapOptions};
use crate::transform::TransformConfig;

/// The Kafka timestamp SmtGolden.java gives its inputs.
const TS: i64 = 1_800_000_000_987;

fn stamped(records: Vec<Record>, unwrap: bool) -> Vec<Record> {
    let mut out = Vec::new();
    if unwrap {
        let mut t = Unwrap::new(UnwrapOptions::default());
        for r in records {
            t.apply(r, &mut out);
        }
    } else {
        out = records;
    }
    for r in &mut out {
        r.timestamp_ms = Some(TS);
    }
    out
}

/// Unwrapped stock records and a tombstone of the first.
pub(crate) fn stock() -> Vec<Record> {
    let mut out = stamped(stock_records(), true);
    let tombstone = Record { value: None, ..out[0].clone() };
    out.push(tombstone);
    out
}

/// The first five unwrapped rows of the table of many types.
pub(crate) fn measure() -> Vec<Record> {
    stamped(measure_records().into_iter().take(5).collect(), true)
}

/// The stock envelopes, tombstones and truncate included.
pub(crate) fn envelopes() -> Vec<Record> {
    stamped(stock_records(), false)
}

/// The transforms of a connector with `props` (`transforms`, `predicates`, ...).
pub(crate) fn chain_of(props: &[(&str, &str)]) -> Vec<TransformConfig> {
    let mut all: BTreeMap<String, String> = [
        ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
        ("database.hostname", "db"),
        ("database.user", "u"),
        ("database.dbname", "shop"),
        ("plugin.name", "pgoutput"),
        ("topic.prefix", "ecommerce"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    match ConnectorConfig::from_properties("c", &all) {
        Ok((config, _)) => config.transforms,
        Err(e) => panic!("{e:?}"),
    }
}

/// The configuration errors of `props`, as (property, message).
pub(crate) fn errors_of(props: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = [
        ("connector.class", "io.debezium.connector.postgresql.PostgresConnector"),
        ("database.hostname", "db"),
        ("database.user", "u"),
        ("database.dbname", "shop"),
        ("plugin.name", "pgoutput"),
        ("topic.prefix", "ecommerce"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    all.extend(props.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    match ConnectorConfig::from_properties("c", &all) {
        Ok(_) => Vec::new(),
        Err(e) => e.issues().iter().map(|i| (i.property.clone(), i.message.clone())).collect(),
    }
}

enum Step {
    Smt(Smt),
    Router(RegexRouter),
    Unwrap(Unwrap),
    Decode(crate::transform::decode_message::DecodeMessage),
    HeaderToValue(crate::transform::header_to_value::HeaderToValue),
    EventRouter(crate::transform::outbox::EventRouter),
    Conditional(Box<Step>, crate::transform::predicate::Condition),
}

fn step(config: &TransformConfig) -> Step {
    match config {
        TransformConfig::Connect(c) => Step::Smt(Smt::new(c)),
        TransformConfig::RegexRouter(r) => Step::Router(RegexRouter::new(r.clone())),
        TransformConfig::ExtractNewRecordState(o) => Step::Unwrap(Unwrap::new(o.clone())),
        TransformConfig::HeaderToValue(o) => Step::HeaderToValue(crate::transform::header_to_value::HeaderToValue::new(o.clone())),
        TransformConfig::DecodeMessage(o) => Step::Decode(crate::transform::decode_message::DecodeMessage::new(o.clone())),
        TransformConfig::EventRouter(o) => Step::EventRouter(crate::transform::outbox::EventRouter::new(o.clone())),
        TransformConfig::Conditional(inner, c) => Step::Conditional(Box::new(step(inner)), c.clone()),
        other => panic!("not in these tests: {other:?}"),
    }
}

fn apply(step: &mut Step, record: Record) -> Result<Option<Record>, String> {
    match step {
        Step::Smt(s) => s.apply(record).map_err(|e| e.to_string()),
        Step::Router(r) => {
            let mut out = Vec::new();
            r.apply(record, &mut out);
            Ok(out.pop())
        }
        Step::Unwrap(u) => {
            let mut out = Vec::new();
            u.apply(record, &mut out);
            assert!(out.len() <= 1, "one record in, at most one out in these tests");
            Ok(out.pop())
        }
        Step::Decode(d) => d.apply(record).map(Some).map_err(|e| e.to_string()),
        Step::HeaderToValue(t) => t.apply(record).map(Some).map_err(|e| e.to_string()),
        Step::EventRouter(t) => {
            let mut out = Vec::new();
            t.apply(record, &mut out).map_err(|e| e.to_string())?;
            assert!(out.len() <= 1, "one record in, at most one out in these tests");
            Ok(out.pop())
        }
        Step::Conditional(inner, c) if c.applies(&record) => apply(inner, record),
        Step::Conditional(..) => Ok(Some(record)),
    }
}

/// Each input through the chain of `props`, compared with golden `name`.
/// `schemaless` lists the inputs where Connect goes on with a schemaless
/// value (which pgcdc's records cannot hold) and pgcdc fails the record.
pub(crate) fn check(name: &str, inputs: Vec<Record>, props: &[(&str, &str)], schemaless: &[usize]) {
    let mut steps: Vec<Step> = chain_of(props).iter().map(step).collect();
    let path = format!("{}/src/transform/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let golden = golden.as_array().unwrap();
    assert_eq!(golden.len(), inputs.len(), "{name}: one golden entry per input");
    let opts = JsonOptions { schemas_enable: true, decimal_format: DecimalFormat::Base64, replace_null_with_default: true };
    let mut enc = RecordEncoder::new(opts.clone(), opts);
    for (n, (input, want)) in inputs.into_iter().zip(golden).enumerate() {
        let mut outcome = Ok(Some(input));
        for s in &mut steps {
            outcome = match outcome {
                Ok(Some(r)) => apply(s, r),
                done => done,
            };
        }
        let encoded = match outcome {
            Ok(Some(r)) => enc.encode(&r).map(Some).map_err(|e| e.to_string()),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        if schemaless.contains(&n) {
            assert!(want["value"].as_str().is_some_and(|v| v.starts_with(r#"{"schema":null"#)), "{name}[{n}]: {want}");
            assert!(encoded.is_err(), "{name}[{n}]: pgcdc fails a record Connect makes schemaless");
            continue;
        }
        match (encoded, want.get("error"), want.get("dropped")) {
            (Err(_), Some(_), _) | (Ok(None), _, Some(_)) => {}
            (Err(e), None, _) => panic!("{name}[{n}]: pgcdc failed ({e}) where Connect wrote {want}"),
            (Ok(_), Some(err), _) => panic!("{name}[{n}]: Connect failed ({err}) where pgcdc wrote a record"),
            (Ok(None), None, None) => panic!("{name}[{n}]: pgcdc dropped {want}"),
            (Ok(Some(e)), None, dropped) => {
                assert!(dropped.is_none(), "{name}[{n}]: Connect dropped the record pgcdc kept");
                let s = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8(b.clone()).unwrap());
                assert_eq!(e.topic, want["topic"].as_str().unwrap(), "{name}[{n}] topic");
                assert_eq!(s(&e.key).as_deref(), want["key"].as_str(), "{name}[{n}] key");
                assert_eq!(s(&e.payload).as_deref(), want["value"].as_str(), "{name}[{n}] value");
                let headers: Vec<(String, Option<String>)> = e.headers.iter().map(|(k, v)| (k.clone(), s(v))).collect();
                let want_headers: Vec<(String, Option<String>)> = want["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().map(str::to_owned)))
                    .collect();
                assert_eq!(headers, want_headers, "{name}[{n}] headers");
            }
        }
    }
}

/// `transforms=t` with `transforms.t.type=<class>` and its properties.
pub(crate) fn one(class: &str, props: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut all = vec![("transforms".to_owned(), "t".to_owned()), ("transforms.t.type".to_owned(), class.to_owned())];
    all.extend(props.iter().map(|(k, v)| (format!("transforms.t.{k}"), (*v).to_owned())));
    all
}

pub(crate) fn check_one(name: &str, inputs: Vec<Record>, class: &str, props: &[(&str, &str)], schemaless: &[usize]) {
    let all = one(class, props);
    let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    check(name, inputs, &refs, schemaless);
}

#[test]
fn insert_field_value_topic_timestamp_static() {
    let p = [("topic.field", "topic"), ("timestamp.field", "ts!"), ("static.field", "origin"), ("static.value", "pg")];
    check_one("connect_insertfield_value", stock(), "org.apache.kafka.connect.transforms.InsertField$Value", &p, &[]);
}

#[test]
fn insert_field_key_required_fields() {
    let p = [("static.field", "src!"), ("static.value", "pgcdc"), ("topic.field", "t!")];
    check_one("connect_insertfield_key", stock(), "InsertField$Key", &p, &[]);
}

#[test]
fn replace_field_exclude_and_renames() {
    let p = [("exclude", "quantity"), ("renames", "id:item_id,product_id:pid")];
    check_one("connect_replacefield_value", stock(), "org.apache.kafka.connect.transforms.ReplaceField$Value", &p, &[]);
}

#[test]
fn replace_field_include_keeps_listed_fields_in_schema_order() {
    let p = [("include", "id,note,ratio,flag"), ("renames", "note:comment")];
    check_one("connect_replacefield_include", measure(), "ReplaceField$Value", &p, &[]);
    let p = [("include", "id,note"), ("replace.null.with.default", "false")];
    check_one("connect_replacefield_nodefault", measure(), "ReplaceField$Value", &p, &[]);
}

#[test]
fn replace_field_key() {
    check_one("connect_replacefield_key", stock(), "ReplaceField$Key", &[("renames", "id:key_id")], &[]);
}

#[test]
fn mask_field_zeroes_and_fails_on_bytes_and_scaled_decimals() {
    let p = [("fields", "note,ratio,weight,flag,small,tiny,price,taken_at,tags,attrs,nope")];
    check_one("connect_maskfield_value", measure(), "MaskField$Value", &p, &[]);
    check_one("connect_maskfield_bytes", measure(), "MaskField$Value", &[("fields", "data")], &[]);
    check_one("connect_maskfield_key", stock(), "MaskField$Key", &[("fields", "id")], &[]);
}

#[test]
fn mask_field_replacement_parsed_per_type_and_null_values_fail() {
    let p = [("fields", "note,small,ratio,id"), ("replacement", "12")];
    check_one("connect_maskfield_replacement", measure(), "MaskField$Value", &p, &[]);
    let p = [("fields", "quantity,product_id"), ("replacement", "7")];
    check_one("connect_maskfield_stock", stock(), "MaskField$Value", &p, &[]);
}

#[test]
fn value_to_key_in_listed_order() {
    check_one("connect_valuetokey", stock(), "org.apache.kafka.connect.transforms.ValueToKey", &[("fields", "product_id,id")], &[]);
    check_one("connect_valuetokey_missing", stock(), "ValueToKey", &[("fields", "nope")], &[]);
}

#[test]
fn field_options_refused_or_checked_at_registration() {
    let errs = errors_of(&one_refs(&one("InsertField$Value", &[("offset.field", "off")])));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "transforms.t.offset.field");
    let errs = errors_of(&one_refs(&one("ReplaceField$Value", &[("renames", "a:b:c,d")])));
    assert_eq!(errs.iter().filter(|(p, _)| p == "transforms.t.renames").count(), 2, "{errs:?}");
    let errs = errors_of(&one_refs(&one("MaskField$Value", &[])));
    assert_eq!(errs[0].0, "transforms.t.fields", "{errs:?}");
    let errs = errors_of(&one_refs(&one("ValueToKey", &[("fields", "a"), ("replace.null.with.default", "maybe")])));
    assert_eq!(errs[0].0, "transforms.t.replace.null.with.default", "{errs:?}");
}

pub(crate) fn one_refs(all: &[(String, String)]) -> Vec<(&str, &str)> {
    all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// GIVEN the Debezium / Kafka Connect jars (`scripts/install-deps.sh
/// --debezium`) WHEN SmtGolden.java runs the real classes again THEN it
/// writes exactly the goldens checked in (outbox and Connect SMTs): they are
/// the Java classes' output, not an edited copy. Skipped without the jars.
#[test]
fn goldens_are_what_the_java_classes_write() {
    let Ok(libs) = std::env::var("PGCDC_DEBEZIUM_LIBS") else {
        eprintln!("skipped: PGCDC_DEBEZIUM_LIBS is not set (scripts/install-deps.sh --debezium)");
        return;
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let run = std::process::Command::new(format!("{root}/scripts/smt-goldens.sh"))
        .arg(out.path())
        .env("PGCDC_DEBEZIUM_LIBS", libs)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let checked_in = format!("{root}/src/transform/golden");
    let mut names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.iter().filter(|n| n.starts_with("connect_")).count() >= 40, "{names:?}");
    for name in &names {
        let fresh = std::fs::read_to_string(out.path().join(name)).unwrap();
        let kept = std::fs::read_to_string(format!("{checked_in}/{name}")).unwrap_or_default();
        assert!(fresh == kept, "src/transform/golden/{name} differs from what the Java classes write: scripts/smt-goldens.sh");
    }
}
