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
