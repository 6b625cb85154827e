//! DecodeLogicalDecodingMessageContent against Debezium 3.6.3's class
//! (`golden/decode_*.json`, made by `golden/SmtGolden.java` over the same
//! messages): two outbox events, four contents the class refuses, a table
//! insert it passes and a tombstone it fails on.

use crate::envelope::debezium::tests::{stock_records, streaming_source, test_context, test_options, NOW};
use crate::envelope::Envelope;
use crate::event::{LogicalMessage, SourceInfo};
use crate::lsn::Lsn;
use crate::record::Record;
use crate::transform::smt_tests::{check, check_one};

const CLASS: &str = "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent";

const EVENTS: &[&str] = &[
    r#"{"id":"e-1","aggregatetype":"Order","aggregateid":"o-1","type":"OrderCreated","payload":{"total":12.5,"lines":[{"sku":"a","qty":2}],"paid":false,"note":null,"big":5000000000}}"#,
    "{\"id\":\"e-2\",\"aggregatetype\":\"Customer\",\"aggregateid\":\"c-9\",\"type\":\"CustomerRenamed\",\"payload\":{\"name\":\"\u{e9}\",\"tags\":[]},\"extra\":null}",
];
const REFUSED: &[&str] = &["not json", "[1,2]", "{\"a\":", "{\"a\":[1,\"x\"]}"];

fn messages(contents: &[&str]) -> Vec<Record> {
    let mut env = Envelope::with_context_headers(test_options(), Some(test_context()));
    contents
        .iter()
        .map(|c| {
            let msg = LogicalMessage {
                transactional: true,
                prefix: "outbox".into(),
                content: c.as_bytes().to_vec(),
                source: SourceInfo { tx_id: Some(772), lsn: Some(Lsn(22_002_000)), ..streaming_source() },
            };
            env.message_record(&msg, NOW, None)
        })
        .collect()
}

fn inputs() -> Vec<Record> {
    let mut all = messages(EVENTS);
    all.extend(messages(REFUSED));
    let stock = stock_records();
    assert!(stock[4].value.is_none(), "the stock delete's tombstone");
    all.push(stock[0].clone());
    all.push(stock[4].clone());
    all
}

#[test]
fn message_content_becomes_the_after_of_an_insert() {
    check_one("decode_default", inputs(), CLASS, &[], &[]);
}

#[test]
fn fields_null_include_keeps_json_nulls_as_optional_bytes() {
    check_one("decode_nulls", inputs(), CLASS, &[("fields.null.include", "true")], &[]);
}

#[test]
fn decoded_messages_route_through_the_outbox_event_router() {
    let props = [
        ("transforms", "decode,outbox"),
        ("transforms.decode.type", "DecodeLogicalDecodingMessageContent"),
        ("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter"),
        ("transforms.outbox.table.field.event.key", "aggregateid"),
    ];
    check("decode_outbox", messages(EVENTS), &props, &[]);
}
