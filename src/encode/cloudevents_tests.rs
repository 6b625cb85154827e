//! The CloudEventsConverter against Debezium 3.6.3's class
//! (`src/transform/golden/cloudevents_*.json`, made by
//! `src/transform/golden/SmtGolden.java` over the same records): per input,
//! the value the Java converter wrote, or null.

use super::*;
use crate::encode::json::DecimalFormat;
use crate::envelope::debezium::tests::{measure_records, stock_records, streaming_source, test_context, test_options, NOW};
use crate::envelope::Envelope;
use crate::event::{LogicalMessage, SourceInfo};
use crate::lsn::Lsn;
use crate::record::Record;

fn options(schemas: bool, extensions: bool, decimal_format: DecimalFormat) -> CloudEventsOptions {
    CloudEventsOptions {
        extension_attributes: extensions,
        data: JsonOptions { schemas_enable: schemas, decimal_format, replace_null_with_default: true },
    }
}

/// The stock envelopes, the first insert inside a transaction, a logical decoding message.
fn inputs() -> Vec<Record> {
    let mut all = stock_records();
    let mut tx = all[0].clone();
    let value = tx.value.as_mut().unwrap();
    let at = value.schema.field_index("transaction").unwrap();
    let Value::Struct(fields) = &mut value.value else { panic!("an envelope") };
    fields[at] = Value::Struct(vec![Value::String("771:22001000".into()), Value::Int64(3), Value::Int64(2)]);
    all.push(tx);
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    let msg = LogicalMessage {
        transactional: true,
        prefix: "outbox".into(),
        content: br#"{"a":1}"#.to_vec(),
        source: SourceInfo { tx_id: Some(772), lsn: Some(Lsn(22_002_000)), ..streaming_source() },
    };
    all.push(env.message_record(&msg, NOW, None));
    all
}

fn check(name: &str, opts: CloudEventsOptions, records: &[Record]) {
    let path = format!("{}/src/transform/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let golden: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let golden = golden.as_array().unwrap();
    assert_eq!(golden.len(), records.len(), "{name}: one golden entry per input");
    let mut c = CloudEventsConverter::new(opts);
    for (n, (r, want)) in records.iter().zip(golden).enumerate() {
        let got = c.to_bytes(r.value.as_ref()).unwrap().map(|b| String::from_utf8(b).unwrap());
        assert_eq!(got.as_deref(), want.as_str(), "{name}[{n}]");
    }
}

#[test]
fn default_options_write_extensions_and_data_with_its_schema() {
    check("cloudevents_default", options(true, true, DecimalFormat::Base64), &inputs());
}

#[test]
fn without_schemas_or_extensions() {
    check("cloudevents_noschemas", options(false, false, DecimalFormat::Base64), &inputs());
}

#[test]
fn every_connect_type_in_data() {
    let measure: Vec<Record> = measure_records().into_iter().take(5).collect();
    check("cloudevents_measure", options(false, true, DecimalFormat::Base64), &measure);
    check("cloudevents_measure_schemas", options(true, true, DecimalFormat::Numeric), &measure);
}

#[test]
fn the_schema_text_of_data_is_reused_per_envelope_schema() {
    let records = inputs();
    let mut c = CloudEventsConverter::new(options(true, true, DecimalFormat::Base64));
    let a = c.to_bytes(records[0].value.as_ref()).unwrap().unwrap();
    let b = c.to_bytes(records[0].value.as_ref()).unwrap().unwrap();
    assert_eq!(a, b);
    assert_eq!(c.cache.len(), 1);
}
