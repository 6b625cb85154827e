//! Kafka Connect's SMTs and predicates on a live connector: the chain a
//! Debezium user brings, checked on what a consumer reads.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// GIVEN a chain unwrap → Filter (audit_log only) → ReplaceField →
/// InsertField → ValueToKey + ExtractField$Key (not on tombstones) →
/// InsertHeader → RegexRouter (the Filter first: ValueToKey fails, as in
/// Connect, on a record without the field), WHEN rows of two tables change, THEN the item topic
/// holds the rows without `secret`, `qty` renamed, `origin` added, keyed by
/// the bare sku, with the header, under the routed name; the delete keeps
/// its struct key and null value; audit_log's rows are filtered away. An
/// unsupported option is refused at registration naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_smt_chain_with_predicates() {
    let db = PgServer::shared().create_database("smtchain").await;
    db.execute(
        "CREATE TABLE item (id int PRIMARY KEY, sku text NOT NULL, qty int, secret text);
         CREATE TABLE audit_log (id int PRIMARY KEY, note text);",
    )
    .await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("smt");
    let chain = [
        ("predicates", "tomb,audit"),
        ("predicates.tomb.type", "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"),
        ("predicates.audit.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
        ("predicates.audit.pattern", ".*\\.audit_log"),
        ("transforms", "unwrap,drop,replace,insert,tokey,extract,header,route"),
        ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.replace.type", "org.apache.kafka.connect.transforms.ReplaceField$Value"),
        ("transforms.replace.exclude", "secret"),
        ("transforms.replace.renames", "qty:quantity"),
        ("transforms.insert.type", "org.apache.kafka.connect.transforms.InsertField$Value"),
        ("transforms.insert.static.field", "origin"),
        ("transforms.insert.static.value", "pgcdc"),
        ("transforms.tokey.type", "org.apache.kafka.connect.transforms.ValueToKey"),
        ("transforms.tokey.fields", "sku"),
        ("transforms.tokey.predicate", "tomb"),
        ("transforms.tokey.negate", "true"),
        ("transforms.extract.type", "org.apache.kafka.connect.transforms.ExtractField$Key"),
        ("transforms.extract.field", "sku"),
        ("transforms.extract.predicate", "tomb"),
        ("transforms.extract.negate", "true"),
        ("transforms.header.type", "org.apache.kafka.connect.transforms.InsertHeader"),
        ("transforms.header.header", "pipeline"),
        ("transforms.header.value.literal", "smt-chain"),
        ("transforms.drop.type", "org.apache.kafka.connect.transforms.Filter"),
        ("transforms.drop.predicate", "audit"),
        ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("transforms.route.regex", "([^.]+)\\.public\\.(.*)"),
        ("transforms.route.replacement", "$1.routed.$2"),
    ];

    let mut bad = chain.to_vec();
    bad.push(("transforms.insert.offset.field", "off"));
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &bad);
    let (code, resp) = worker.register("smtbad", cfg).await;
    assert_eq!(code, 400, "{resp}");
    assert!(resp.to_string().contains("transforms.insert.offset.field"), "{resp}");

    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &chain);
    let (code, resp) = worker.register("smtchain", cfg).await;
    assert_eq!(code, 201, "{resp}");
    worker.wait_task_state("smtchain", "RUNNING", TIMEOUT).await;

    db.execute(
        "INSERT INTO audit_log VALUES (1, 'first');
         INSERT INTO item VALUES (1, 'A-1', 5, 's1'), (2, 'B-2', 7, 's2');
         UPDATE item SET qty = 4 WHERE id = 1;
         DELETE FROM item WHERE id = 2;
         INSERT INTO audit_log VALUES (2, 'last');",
    )
    .await;
    let topic = format!("{prefix}.routed.item");
    let got = broker.consume(&topic, 4, Duration::from_secs(30)).await;
    if got.len() != 4 {
        let status = worker.status("smtchain").await;
        let topics = broker.topics().await;
        panic!("{got:#?}\nstatus: {status}\ntopics: {topics:?}");
    }
    let keys: Vec<Value> = got.iter().map(|r| r.key_json()).collect();
    let string_key = |sku: &str| json!({"schema": {"type": "string", "optional": false}, "payload": sku});
    assert_eq!(keys[..3], [string_key("A-1"), string_key("B-2"), string_key("A-1")]);
    assert_eq!(keys[3]["payload"], json!({"id": 2}), "the delete keeps its primary-key struct: {}", keys[3]);
    let first = got[0].value_json();
    let fields: Vec<&str> = first["schema"]["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["id", "sku", "quantity", "origin"], "{first}");
    assert_eq!(got[0].value_json()["payload"], json!({"id": 1, "sku": "A-1", "quantity": 5, "origin": "pgcdc"}));
    assert_eq!(got[2].value_json()["payload"], json!({"id": 1, "sku": "A-1", "quantity": 4, "origin": "pgcdc"}));
    assert_eq!(got[3].value_json()["payload"], Value::Null, "the delete: a null value");
    for r in &got {
        assert_eq!(r.header_str("pipeline").as_deref(), Some("smt-chain"), "{r:?}");
    }
    // audit_log's rows came before and after the item changes: all filtered.
    let topics = broker.topics().await;
    assert!(!topics.iter().any(|t| t.contains("audit_log")), "{topics:?}");
    let (code, _) = worker.call(reqwest::Method::DELETE, "/connectors/smtchain", None).await;
    assert_eq!(code, 204);
}

/// GIVEN the outbox EventRouter followed by TimestampRouter (only for Order
/// events: TopicNameMatches) WHEN services write outbox rows THEN Order
/// events land on `<topic>-<yyyyMM of the event's Kafka timestamp>` and
/// Customer events on their plain routed topic — TimestampRouter works after
/// EventRouter, which gives records their timestamp (change events have none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_then_timestamp_router_with_a_predicate() {
    let db = PgServer::shared().create_database("smtoutbox").await;
    db.execute(
        "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL, payload text);",
    )
    .await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("smtob");
    let replacement = format!("{prefix}.${{routedByValue}}");
    let pattern = format!("{prefix}\\.Order");
    let chain = [
        ("predicates", "orders"),
        ("predicates.orders.type", "TopicNameMatches"),
        ("predicates.orders.pattern", pattern.as_str()),
        ("transforms", "outbox,monthly"),
        ("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter"),
        ("transforms.outbox.route.topic.replacement", replacement.as_str()),
        ("transforms.monthly.type", "org.apache.kafka.connect.transforms.TimestampRouter"),
        ("transforms.monthly.topic.format", "${topic}-${timestamp}"),
        ("transforms.monthly.timestamp.format", "yyyyMM"),
        ("transforms.monthly.predicate", "orders"),
    ];
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &chain);
    let (code, resp) = worker.register("smtoutbox", cfg).await;
    assert_eq!(code, 201, "{resp}");
    worker.wait_task_state("smtoutbox", "RUNNING", TIMEOUT).await;
    db.execute(
        "INSERT INTO outbox VALUES ('11111111-1111-4111-8111-111111111111', 'Order', 'o-1', 'OrderCreated', '{\"n\":1}');
         INSERT INTO outbox VALUES ('22222222-2222-4222-8222-222222222222', 'Customer', 'c-1', 'CustomerCreated', '{\"n\":2}');",
    )
    .await;
    let customers = broker.consume(&format!("{prefix}.Customer"), 1, Duration::from_secs(30)).await;
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0].key_json()["payload"], "c-1");
    let topics = broker.topics().await;
    let monthly: Vec<&String> = topics.iter().filter(|t| t.starts_with(&format!("{prefix}.Order"))).collect();
    assert_eq!(monthly.len(), 1, "{topics:?}");
    let orders = broker.consume(monthly[0], 1, Duration::from_secs(30)).await;
    assert_eq!(orders.len(), 1, "{orders:?}");
    let ts = orders[0].timestamp_ms.expect("EventRouter sets the Kafka timestamp");
    let days = ts.div_euclid(86_400_000);
    // Civil year and month of `days` since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    assert_eq!(*monthly[0], format!("{prefix}.Order-{year}{month:02}"));
    assert_eq!(orders[0].key_json()["payload"], "o-1");
    assert_eq!(orders[0].header_str("id").as_deref(), Some("11111111-1111-4111-8111-111111111111"));
}

/// GIVEN ValueToKey on `sku`, which one table lacks, and
/// `errors.tolerance=all` with a dead letter queue WHEN both tables change
/// THEN the failing record (a data error, as in Connect) goes to the DLQ
/// naming the transform, the other table's records pass keyed by sku, and
/// the task keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_transform_is_a_data_error_for_the_error_policy() {
    let db = PgServer::shared().create_database("smtdlq").await;
    db.execute("CREATE TABLE item (id int PRIMARY KEY, sku text NOT NULL); CREATE TABLE other (id int PRIMARY KEY, note text);").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("smtdlq");
    let dlq = format!("{prefix}.dlq");
    let extra = [
        ("transforms", "unwrap,tokey"),
        ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.tokey.type", "org.apache.kafka.connect.transforms.ValueToKey"),
        ("transforms.tokey.fields", "sku"),
        ("errors.tolerance", "all"),
        ("errors.deadletterqueue.topic.name", dlq.as_str()),
        ("errors.deadletterqueue.context.headers.enable", "true"),
    ];
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &extra);
    let (code, resp) = worker.register("smtdlq", cfg).await;
    assert_eq!(code, 201, "{resp}");
    worker.wait_task_state("smtdlq", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO other VALUES (1, 'no sku here'); INSERT INTO item VALUES (1, 'A-1');").await;
    let items = broker.consume(&format!("{prefix}.public.item"), 1, Duration::from_secs(30)).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].key_json()["payload"], json!({"sku": "A-1"}));
    let dead = broker.consume(&dlq, 1, Duration::from_secs(30)).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    let all_headers = format!("{:?}", dead[0].headers.iter().map(|(k, v)| (k, v.as_deref().map(String::from_utf8_lossy))).collect::<Vec<_>>());
    assert!(all_headers.contains("ValueToKey"), "the DLQ record names the transform: {all_headers}");
    let topics = broker.topics().await;
    assert!(!topics.contains(&format!("{prefix}.public.other")), "{topics:?}");
    assert_eq!(worker.status("smtdlq").await["tasks"][0]["state"], "RUNNING");
}

/// GIVEN DecodeLogicalDecodingMessageContent then the outbox EventRouter,
/// both only for the message topic (TopicNameMatches), on a connector that
/// also captures a table WHEN a service emits outbox events with
/// `pg_logical_emit_message` (two aggregates, one transaction) and a row is
/// inserted and deleted THEN each event lands on its aggregate's topic keyed
/// by the aggregate id, with its JSON payload expanded to a struct and the
/// `id` header, in emission order; the table's records (tombstone included,
/// on which the transform would fail) pass untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logical_decoding_messages_through_decode_and_outbox() {
    let db = PgServer::shared().create_database("smtdecode").await;
    db.execute("CREATE TABLE item (id int PRIMARY KEY, note text);").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("smtmsg");
    let pattern = format!("{prefix}\\.message");
    let replacement = format!("{prefix}.events.${{routedByValue}}");
    let chain = [
        ("predicates", "msgs"),
        ("predicates.msgs.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
        ("predicates.msgs.pattern", pattern.as_str()),
        ("transforms", "decode,outbox"),
        ("transforms.decode.type", "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent"),
        ("transforms.decode.predicate", "msgs"),
        ("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter"),
        ("transforms.outbox.route.topic.replacement", replacement.as_str()),
        ("transforms.outbox.predicate", "msgs"),
    ];
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &chain);
    let (code, resp) = worker.register("smtdecode", cfg).await;
    assert_eq!(code, 201, "{resp}");
    worker.wait_task_state("smtdecode", "RUNNING", TIMEOUT).await;
    db.execute(
        r#"BEGIN;
           SELECT pg_logical_emit_message(true, 'outbox', '{"id":"e-1","aggregatetype":"Order","aggregateid":"o-1","type":"OrderCreated","payload":{"total":12.5,"lines":[{"sku":"a","qty":2}]}}');
           SELECT pg_logical_emit_message(true, 'outbox', '{"id":"e-2","aggregatetype":"Customer","aggregateid":"c-9","type":"CustomerRenamed","payload":{"name":"Zoé"}}');
           SELECT pg_logical_emit_message(true, 'outbox', '{"id":"e-3","aggregatetype":"Order","aggregateid":"o-1","type":"OrderPaid","payload":{"total":12.5,"lines":[]}}');
           COMMIT;
           INSERT INTO item VALUES (1, 'x');
           DELETE FROM item WHERE id = 1;"#,
    )
    .await;
    let orders = broker.consume(&format!("{prefix}.events.Order"), 2, Duration::from_secs(30)).await;
    if orders.len() != 2 {
        let status = worker.status("smtdecode").await;
        let topics = broker.topics().await;
        panic!("{orders:#?}\nstatus: {status}\ntopics: {topics:?}");
    }
    let string_key = |id: &str| json!({"schema": {"type": "string", "optional": true}, "payload": id});
    assert_eq!(orders.iter().map(|r| r.key_json()).collect::<Vec<_>>(), [string_key("o-1"), string_key("o-1")]);
    assert_eq!(orders.iter().map(|r| r.header_str("id")).collect::<Vec<_>>(), [Some("e-1".to_owned()), Some("e-3".to_owned())]);
    let first = orders[0].value_json();
    assert_eq!(first["payload"], json!({"total": 12.5, "lines": [{"sku": "a", "qty": 2}]}), "{first}");
    assert_eq!(first["schema"]["name"], "payload", "the expanded payload's inferred schema: {first}");
    assert_eq!(first["schema"]["fields"][1]["items"]["fields"][1], json!({"type": "int32", "optional": true, "field": "qty"}));
    // An empty array is left out of the inferred schema, as in Debezium.
    assert_eq!(orders[1].value_json()["payload"], json!({"total": 12.5}));
    let customers = broker.consume(&format!("{prefix}.events.Customer"), 1, Duration::from_secs(30)).await;
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0].key_json(), string_key("c-9"));
    assert_eq!(customers[0].value_json()["payload"], json!({"name": "Zoé"}));
    let items = broker.consume(&format!("{prefix}.public.item"), 3, Duration::from_secs(30)).await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].value_json()["payload"]["op"], "c");
    assert_eq!(items[1].value_json()["payload"]["op"], "d");
    assert_eq!(items[2].value, None, "the delete's tombstone passes the predicated transforms");
    assert_eq!(worker.status("smtdecode").await["tasks"][0]["state"], "RUNNING");
}

/// GIVEN `value.converter=io.debezium.converters.CloudEventsConverter` with
/// its JSON options (data without schema) WHEN a row of several types is
/// inserted, updated and deleted THEN each value read back is a CloudEvent
/// whose attributes match the change field by field: id from the source
/// block's lsn, txId and sequence, the source path, type, time from
/// source.ts_ms, the iodebezium* extension attributes (int64 as strings),
/// and data = {before, after}; the tombstone stays a null value. Avro data
/// is refused at registration, naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudevents_converter() {
    let db = PgServer::shared().create_database("cloudevents").await;
    db.execute("CREATE TABLE item (id int PRIMARY KEY, name text, price numeric(10,2), big bigint, ok boolean);").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("ce");
    let mut extra = vec![
        ("value.converter", "io.debezium.converters.CloudEventsConverter"),
        ("value.converter.serializer.type", "json"),
        ("value.converter.data.serializer.type", "avro"),
    ];
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &extra);
    let (code, resp) = worker.register("cebad", cfg).await;
    assert_eq!(code, 400, "{resp}");
    assert!(resp.to_string().contains("value.converter.data.serializer.type"), "{resp}");

    extra[2] = ("value.converter.data.serializer.type", "json");
    extra.push(("value.converter.json.schemas.enable", "false"));
    extra.push(("value.converter.json.decimal.format", "NUMERIC"));
    let cfg = connector_config(&db, &prefix, &unique_name("slot"), &extra);
    let (code, resp) = worker.register("ce", cfg).await;
    assert_eq!(code, 201, "{resp}");
    worker.wait_task_state("ce", "RUNNING", TIMEOUT).await;
    db.execute(
        "INSERT INTO item VALUES (1, 'Zoé \"q\"', 12.50, 5000000000, true);
         UPDATE item SET price = 0.05 WHERE id = 1;
         DELETE FROM item WHERE id = 1;",
    )
    .await;
    let got = broker.consume(&format!("{prefix}.public.item"), 4, Duration::from_secs(30)).await;
    if got.len() != 4 {
        let status = worker.status("ce").await;
        panic!("{got:#?}\nstatus: {status}");
    }
    let row = |price: f64| json!({"id": 1, "name": "Zoé \"q\"", "price": price, "big": 5000000000i64, "ok": true});
    let key_only = json!({"id": 1, "name": null, "price": null, "big": null, "ok": null});
    let expected = [("c", Value::Null, row(12.5)), ("u", Value::Null, row(0.05)), ("d", key_only, Value::Null)];
    for (n, (op, before, after)) in expected.iter().enumerate() {
        let ev = got[n].value_json();
        let text = String::from_utf8_lossy(got[n].value.as_deref().unwrap_or_default()).into_owned();
        let names: Vec<&str> = ev.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
        assert_eq!(
            names[..6],
            ["id", "source", "specversion", "type", "time", "datacontenttype"],
            "attribute order: {text}"
        );
        assert_eq!(names.last(), Some(&"data"), "{text}");
        assert_eq!(ev["source"], format!("/debezium/postgresql/{prefix}"));
        assert_eq!(ev["specversion"], "1.0");
        assert_eq!(ev["type"], "io.debezium.connector.postgresql.DataChangeEvent");
        assert_eq!(ev["datacontenttype"], "application/json");
        assert_eq!(ev["iodebeziumop"], *op, "{text}");
        assert_eq!(ev["iodebeziumconnector"], "postgresql");
        assert_eq!(ev["iodebeziumname"], prefix.as_str());
        assert_eq!(ev["iodebeziumschema"], "public");
        assert_eq!(ev["iodebeziumtable"], "item");
        assert_eq!(ev["iodebeziumsnapshot"], "false");
        assert_eq!(ev["iodebeziumtxid"], Value::Null, "no provide.transaction.metadata");
        let lsn = ev["iodebeziumlsn"].as_str().unwrap_or_else(|| panic!("int64 lsn as a string: {text}"));
        let tx = ev["iodebeziumtxId"].as_str().unwrap_or_else(|| panic!("int64 txId as a string: {text}"));
        let sequence = ev["iodebeziumsequence"].as_str().unwrap_or_default();
        assert_eq!(ev["id"], format!("name:{prefix};lsn:{lsn};txId:{tx};sequence:{sequence}"), "{text}");
        let ts_ms: i64 = ev["iodebeziumtsms"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{text}"));
        let time = chrono::DateTime::from_timestamp_millis(ts_ms).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        assert_eq!(ev["time"].as_str(), time.as_deref(), "{text}");
        assert_eq!(ev["data"], json!({"before": before, "after": after}), "{text}");
    }
    assert_eq!(got[3].value, None, "the tombstone is not an event");
}
