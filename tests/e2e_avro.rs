//! Confluent's AvroConverter with a Schema Registry, end to end: a real
//! `pgcdc run` worker, PostgreSQL and the broker, the tests' registry
//! (`support::registry`), and Confluent's own Python client
//! (`support/avro_client.py`: SchemaRegistryClient + AvroDeserializer) as the
//! independent reader. Each Avro record must decode to the payload the
//! JsonConverter writes for the same WAL (a twin connector on the same
//! database), and use the schema id of the subject version it belongs to.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::registry::Registry;
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(90);
pub(crate) const AVRO: &str = "io.confluent.connect.avro.AvroConverter";

/// The Python of the tools venv (where `scripts/install-deps.sh` puts confluent-kafka).
fn python() -> PathBuf {
    let tools = std::env::var("PGCDC_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/pgcdc-tools")
    });
    tools.join("venv/bin/python")
}

fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/avro_client.py")
}

async fn run_client(args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(python())
        .arg(client_script())
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {} (scripts/install-deps.sh installs confluent-kafka): {e}", python().display()));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Records of `topic` decoded by Confluent's AvroDeserializer.
pub(crate) async fn decode(registry: &Registry, broker: &Broker, topic: &str, count: usize) -> Vec<Value> {
    let (ok, out, err) =
        run_client(&["decode", &registry.url, &broker.bootstrap, topic, &count.to_string(), &TIMEOUT.as_secs().to_string()]).await;
    assert!(ok, "avro_client.py decode {topic} failed:\n{out}\n{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("decoded JSON line")).collect();
    assert!(records.len() >= count, "{topic}: {} of {count} records decoded:\n{out}\n{err}", records.len());
    records
}

fn avro_props(registry: &Registry) -> Vec<(&'static str, String)> {
    vec![
        ("key.converter", AVRO.to_owned()),
        ("key.converter.schema.registry.url", registry.url.clone()),
        ("value.converter", AVRO.to_owned()),
        ("value.converter.schema.registry.url", registry.url.clone()),
    ]
}

/// Blank what differs between two connectors on the same WAL: processing
/// times and the connector's name (`source.name` = its topic prefix).
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        for k in ["ts_ms", "ts_us", "ts_ns"] {
            if m.contains_key(k) && m.contains_key("op") {
                m.insert(k.into(), Value::from("<ts>"));
            }
        }
        if let Some(Value::Object(source)) = m.get_mut("source") {
            source.insert("name".into(), Value::from("<prefix>"));
        }
    }
    v
}

async fn register(worker: &Worker, name: &str, config: Value) {
    let (code, body) = worker.register(name, config).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
}

fn with(base: Value, props: &[(&str, String)]) -> Value {
    let mut c = base;
    for (k, v) in props {
        c[*k] = Value::String(v.clone());
    }
    c
}

async fn setup_table(db: &TestDatabase) {
    db.execute(
        "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), flag boolean, \
         created timestamp, tags text[], data bytea)",
    )
    .await;
}

/// GIVEN the tests' registry WHEN Confluent's Python SchemaRegistryClient,
/// AvroSerializer and AvroDeserializer drive it THEN every answer is the one
/// Confluent's registry gives (ids, versions, 409, 42201, 40401, 40403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_registry_speaks_confluents_api() {
    let registry = Registry::start().await;
    let (ok, out, err) = run_client(&["check-registry", &registry.url]).await;
    assert!(ok && out.contains("registry-check: passed"), "{out}\n{err}");
}

/// GIVEN two connectors on one database, one with the AvroConverter (keys and
/// values, transaction metadata, heartbeats) and one with the JsonConverter,
/// WHEN rows are inserted, updated and deleted, the table is altered mid-stream
/// and more rows change, THEN Confluent's AvroDeserializer reads every Avro
/// record as the JsonConverter's payload, the records before the ALTER carry
/// version 1's schema id and those after it version 2's, the subjects are
/// `<topic>-key` / `<topic>-value`, and the heartbeat and transaction topics
/// are Avro too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_records_decode_like_json_across_alter_table() {
    let db = PgServer::shared().create_database("avro").await;
    setup_table(&db).await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let (avro_prefix, json_prefix) = (unique_name("avro"), unique_name("avrojson"));
    let common = [
        ("provide.transaction.metadata", "true".to_owned()),
        ("heartbeat.interval.ms", "1000".to_owned()),
        ("slot.drop.on.stop", "true".to_owned()),
    ];
    let avro_cfg = with(connector_config(&db, &avro_prefix, &unique_name("slot"), &[]), &common);
    register(&worker, "avro", with(avro_cfg, &avro_props(&registry))).await;
    register(&worker, "avrojson", with(connector_config(&db, &json_prefix, &unique_name("slot"), &[]), &common)).await;

    db.execute(
        "INSERT INTO t VALUES (1, 'one', 12.50, true, '2024-05-06 07:08:09.123456', '{a,b}', '\\x00ff'), \
                              (2, 'two', -0.01, NULL, NULL, NULL, NULL)",
    )
    .await;
    db.execute("UPDATE t SET name = 'uno', price = 99999999.99 WHERE id = 1").await;
    db.execute("DELETE FROM t WHERE id = 2").await;
    db.execute("ALTER TABLE t ADD COLUMN extra bigint").await;
    db.execute("INSERT INTO t (id, name, extra) VALUES (3, 'three', 42)").await;
    db.execute("UPDATE t SET extra = -7 WHERE id = 1").await;

    // 2 inserts, 1 update, 1 delete + tombstone | 1 insert, 1 update.
    const BEFORE_ALTER: usize = 5;
    const TOTAL: usize = 7;
    let topic = |p: &str| format!("{p}.public.t");
    let avro = decode(&registry, broker, &topic(&avro_prefix), TOTAL).await;
    let json = broker.consume(&topic(&json_prefix), TOTAL, TIMEOUT).await;
    assert_eq!(avro.len(), TOTAL, "{avro:#?}");
    assert_eq!(json.len(), TOTAL);
    for (i, (a, j)) in avro.iter().zip(&json).enumerate() {
        assert_eq!(a["key"], j.key_json()["payload"], "record {i}: key");
        let json_value = if j.value.is_some() { j.value_json()["payload"].clone() } else { Value::Null };
        assert_eq!(comparable(&a["value"]), comparable(&json_value), "record {i}: value");
    }
    assert_eq!(avro[1]["value"]["after"]["price"], json!("/w=="), "numeric(10,2) -0.01: unscaled -1, one byte");
    assert_eq!(avro[5]["value"]["after"]["extra"], json!(42));
    assert!(avro[4]["value"].is_null(), "the tombstone is a Kafka null");

    let subjects = registry.subjects();
    let value_subject = format!("{}-value", topic(&avro_prefix));
    let key_subject = format!("{}-key", topic(&avro_prefix));
    let versions = subjects.get(&value_subject).unwrap_or_else(|| panic!("no {value_subject} in {subjects:?}"));
    assert_eq!(versions.len(), 2, "ALTER TABLE makes version 2 of {value_subject}: {subjects:?}");
    assert_eq!(subjects.get(&key_subject).map(Vec::len), Some(1), "the key did not change: {subjects:?}");
    let (v1, v2) = (versions[0], versions[1]);
    for (i, r) in avro.iter().enumerate() {
        if r["value"].is_null() {
            continue;
        }
        let want = if i < BEFORE_ALTER { v1 } else { v2 };
        assert_eq!(r["value_id"], json!(want), "record {i} uses the id of its table version");
        assert_eq!(r["key_id"], json!(subjects[&key_subject][0]), "record {i}: key id");
    }
    let schema = registry.schema(v2).unwrap();
    assert_eq!(schema["name"], "Envelope");
    assert_eq!(schema["namespace"], topic(&avro_prefix));
    assert_eq!(schema["connect.version"], 2);

    // Transaction metadata: BEGIN and END of the 5 transactions that changed rows.
    let tx_avro = decode(&registry, broker, &format!("{avro_prefix}.transaction"), 10).await;
    let tx_json = broker.consume(&format!("{json_prefix}.transaction"), 10, TIMEOUT).await;
    assert_eq!((tx_avro.len(), tx_json.len()), (10, 10));
    for (i, (a, j)) in tx_avro.iter().zip(&tx_json).enumerate() {
        assert_eq!(a["key"], j.key_json()["payload"], "transaction record {i}: key");
        assert_eq!(a["value"], j.value_json()["payload"], "transaction record {i}: value");
    }
    assert!(subjects.contains_key(&format!("{avro_prefix}.transaction-value")), "{subjects:?}");

    // Heartbeats (the table is idle now).
    let beats = decode(&registry, broker, &format!("__debezium-heartbeat.{avro_prefix}"), 1).await;
    assert_eq!(beats[0]["key"], json!({"serverName": avro_prefix}));
    assert!(beats[0]["value"]["ts_ms"].as_i64().is_some_and(|t| t > 1_600_000_000_000), "{beats:?}");
}

/// GIVEN a subject whose compatibility level is BACKWARD WHEN a column's type
/// changes so the new schema cannot read the old data THEN the connector
/// fails, and its status names the subject and the compatibility level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_schema_change_fails_the_connector_naming_the_subject() {
    let db = PgServer::shared().create_database("avroincompat").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name("avroinc");
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &[("slot.drop.on.stop", "true")]), &avro_props(&registry));
    register(&worker, "avroinc", cfg).await;
    db.execute("INSERT INTO t VALUES (1, 'a')").await;
    decode(&registry, broker, &format!("{prefix}.public.t"), 1).await;

    db.execute("ALTER TABLE t ALTER COLUMN v TYPE int USING length(v)").await;
    db.execute("INSERT INTO t VALUES (2, 5)").await;
    let status = worker.wait_task_state("avroinc", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    let subject = format!("{prefix}.public.t-value");
    assert!(trace.contains(&subject), "the trace names the subject: {trace}");
    assert!(trace.contains("compatibility level"), "the trace names the compatibility level: {trace}");
    assert_eq!(registry.subjects()[&subject].len(), 1, "no version was added");
}

/// GIVEN the AvroConverter without `schema.registry.url`, or with one that is
/// not a URL, WHEN the connector is created or validated THEN the REST API
/// answers 400 / an error naming the property.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_converter_config_errors_name_the_property() {
    let db = PgServer::shared().create_database("avrocfg").await;
    let worker = Worker::start(Broker::shared()).await;
    let mut cfg = connector_config(&db, &unique_name("avrocfg"), &unique_name("slot"), &[("value.converter", AVRO)]);
    let (code, body) = worker.register("avrocfg", cfg.clone()).await;
    assert_eq!(code, 400, "{body}");
    assert!(body.to_string().contains("value.converter.schema.registry.url"), "{body}");

    let mut named_cfg = cfg.clone();
    named_cfg["name"] = json!("avrocfg");
    named_cfg["value.converter.schema.registry.url"] = json!("registry:8081");
    let (code, body) = worker
        .call(
            reqwest::Method::PUT,
            "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate",
            Some(&named_cfg),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["error_count"], 1, "{body}");
    let named = body["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["value"]["name"] == "value.converter.schema.registry.url")
        .unwrap_or_else(|| panic!("no entry for the property: {body}"));
    assert!(named["value"]["errors"][0].as_str().unwrap().contains("http://"), "{named}");

    cfg["value.converter.schema.registry.url"] = json!("http://127.0.0.1:1");
    cfg["value.converter.basic.auth.credentials.source"] = json!("USER_INFO");
    cfg["value.converter.basic.auth.user.info"] = json!("user:s3cret");
    let (code, body) = worker.register("avrocfg", cfg).await;
    assert_eq!(code, 201, "{body}");
    let (_, shown) = worker.call(reqwest::Method::GET, "/connectors/avrocfg/config", None).await;
    assert_eq!(shown["value.converter.basic.auth.user.info"], "[hidden]", "{shown}");
    assert!(!worker.log().contains("s3cret"), "the user info is never logged");
}

/// `s` with the scenario's topic prefix replaced by the run's.
fn renamed(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) if s == from => Value::from(to),
        Value::String(s) => match s.strip_prefix(&format!("{from}.")) {
            Some(rest) => Value::from(format!("{to}.{rest}")),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|i| renamed(i, from, to)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), renamed(x, from, to))).collect()),
        _ => v.clone(),
    }
}

/// GIVEN scenario `avroschemas` (every kind of column, defaults, an enum,
/// arrays; a column added then dropped mid-stream, transaction metadata)
/// captured with Debezium 3.6.3 + Confluent's AvroConverter 7.0
/// (`golden/avroschemas/envelope.subjects.json`) WHEN pgcdc runs it with the
/// AvroConverter THEN it registers the same subjects with the same schemas,
/// version by version; the records after the DROP COLUMN are back on
/// version 1's id; and its JsonConverter output is Debezium's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_schemas_match_debezium_with_avro_converter() {
    use crate::support::golden::{assert_matches_debezium, debezium_dir, run_like_psql, variant_properties};
    const SCENARIO: &str = "avroschemas";
    assert_matches_debezium(SCENARIO, "envelope", &[]).await;

    let golden_path = debezium_dir().join(format!("golden/{SCENARIO}/envelope.subjects.json"));
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(&golden_path).expect("subjects golden")).expect("JSON");
    let db = PgServer::shared().create_database(SCENARIO).await;
    let dir = debezium_dir().join(format!("scenarios/{SCENARIO}"));
    db.execute(&std::fs::read_to_string(dir.join("setup.sql")).expect("setup.sql")).await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name("avsch");
    let props: Vec<(String, String)> = variant_properties(SCENARIO, "envelope");
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &props), &avro_props(&registry));
    register(&worker, "avsch", cfg).await;
    run_like_psql(&db, &std::fs::read_to_string(dir.join("changes.sql")).expect("changes.sql")).await;

    let want = renamed(&golden, SCENARIO, &prefix);
    let want: std::collections::BTreeMap<String, Vec<Value>> = golden
        .as_object()
        .unwrap()
        .iter()
        .map(|(subject, _)| {
            let ours = format!("{prefix}{}", subject.strip_prefix(SCENARIO).unwrap());
            (ours.clone(), want[subject.as_str()].as_array().cloned().unwrap_or_default())
        })
        .collect();
    // The item topic's 7 records are all written once its last version is in use.
    let item = decode(&registry, broker, &format!("{prefix}.public.item"), 7).await;
    decode(&registry, broker, &format!("{prefix}.transaction"), 16).await;
    let subjects = registry.subjects();
    let got: std::collections::BTreeMap<String, Vec<Value>> = subjects
        .iter()
        .map(|(s, ids)| (s.clone(), ids.iter().map(|id| registry.schema(*id).unwrap()).collect()))
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "subjects");
    for (subject, versions) in &want {
        assert_eq!(got[subject].len(), versions.len(), "{subject}: versions");
        for (i, (g, w)) in got[subject].iter().zip(versions).enumerate() {
            assert_eq!(g, w, "{subject} version {}: pgcdc's schema vs AvroConverter's", i + 1);
        }
    }
    let value_ids = &subjects[&format!("{prefix}.public.item-value")];
    let ids: Vec<Value> = item.iter().map(|r| r["value_id"].clone()).collect();
    let (v1, v2) = (json!(value_ids[0]), json!(value_ids[1]));
    assert_eq!(ids, [v1.clone(), v1.clone(), v1.clone(), v1.clone(), Value::Null, v2, v1], "value ids per record (the 5th is the tombstone)");
}

/// GIVEN the tests' registry WHEN pgcdc's registry client registers, looks
/// up, asks for the latest version, logs in, and fails over between URLs
/// THEN it gets the registry's ids, and each refusal is the error (and class)
/// that names the fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_client_ids_lookups_auth_and_failover() {
    use pgcdc::config::Secret;
    use pgcdc::encode::schema_registry::{RegistryClient, RegistryConfig, RegistryError};
    use pgcdc::error::{Classify, ErrorClass};

    let registry = Registry::start_with(Some("u:pw")).await;
    let config = |urls: Vec<String>, auth: Option<&str>| RegistryConfig { urls, basic_auth: auth.map(Secret::new), ..RegistryConfig::default() };
    let a = r#"{"type":"record","name":"V","fields":[{"name":"id","type":"int"}]}"#;
    let b = r#"{"type":"record","name":"V","fields":[{"name":"id","type":"int"},{"name":"x","type":["null","long"],"default":null}]}"#;

    let anonymous = RegistryClient::new(config(vec![registry.url.clone()], None), "value.converter");
    let err = anonymous.id("s-value", a, true).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { status: 401, .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(err.to_string().contains("value.converter.basic.auth.user.info"), "{err}");

    // The first URL refuses connections: the client moves on to the second.
    let dead = "http://127.0.0.1:1".to_owned();
    let client = RegistryClient::new(config(vec![dead.clone(), registry.url.clone()], Some("u:pw")), "value.converter");
    let id_a = client.id("s-value", a, true).await.unwrap();
    assert_eq!(client.id("s-value", a, true).await.unwrap(), id_a);
    assert_eq!(registry.registrations(), 1, "the second call is served from the cache");
    let err = client.id("s-value", b, false).await.unwrap_err();
    assert!(matches!(err, RegistryError::NotRegistered { .. }), "auto.register.schemas=false: {err}");
    assert_eq!(err.class(), ErrorClass::Data);
    assert_eq!(client.latest_id("s-value", a).await.unwrap(), id_a);
    let id_b = client.id("s-value", b, true).await.unwrap();
    assert_ne!(id_a, id_b);
    assert_eq!(client.id("s-value", a, false).await.unwrap(), id_a, "lookup of version 1");
    let err = client.latest_id("s-value", a).await.unwrap_err();
    assert!(matches!(err, RegistryError::LatestDiffers { .. }), "{err}");
    let err = client.id("s-value", "{\"type\":\"record\"}", true).await.unwrap_err();
    assert!(matches!(err, RegistryError::Invalid { code: 42201, .. }), "{err}");

    let unreachable = RegistryClient::new(config(vec![dead], None), "key.converter");
    let err = unreachable.id("s-key", a, true).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreachable { .. }), "{err}");
    assert_eq!(err.class(), ErrorClass::Transient);
    assert!(err.to_string().contains("key.converter.schema.registry.url"), "{err}");
}

/// GIVEN the tests' registry WHEN Confluent's Java client 7.0 drives it
/// (CachedSchemaRegistryClient, and AvroConverter over HTTP writing and
/// reading back every record of a Debezium capture) THEN every answer is
/// what that client expects. Needs the Debezium jars
/// (`scripts/install-deps.sh --debezium`, `$PGCDC_DEBEZIUM_LIBS`) and javac;
/// skipped without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_registry_serves_confluents_java_client() {
    let Ok(libs) = std::env::var("PGCDC_DEBEZIUM_LIBS") else {
        eprintln!("skipped: PGCDC_DEBEZIUM_LIBS is not set (scripts/install-deps.sh --debezium)");
        return;
    };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/debezium");
    let classes = tempfile::tempdir().expect("temp dir");
    let cp = format!("{libs}/*");
    let javac = tokio::process::Command::new("javac")
        .args(["-nowarn", "-cp", &cp, "-d"])
        .arg(classes.path())
        .arg(dir.join("RegistryCheck.java"))
        .output()
        .await
        .expect("javac");
    assert!(javac.status.success(), "javac: {}", String::from_utf8_lossy(&javac.stderr));
    let registry = Registry::start().await;
    let out = tokio::process::Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{cp}", classes.path().display()))
        .arg("RegistryCheck")
        .arg(&registry.url)
        .arg(dir.join("golden/avroschemas/envelope.jsonl"))
        .output()
        .await
        .expect("java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("registry-java-check: passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| !l.starts_with("SLF4J")).collect::<Vec<_>>().join("\n")
    );
}

/// GIVEN a connector with the AvroConverter WHEN the registry answers 503
/// while rows change THEN the task restarts with the registry's error as its
/// trace (transient), and once the registry is back every row arrives exactly
/// once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_outage_is_retried_without_loss() {
    let db = PgServer::shared().create_database("avrooutage").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)").await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name("avroout");
    let extra = [
        ("slot.drop.on.stop", "true"),
        ("retriable.restart.connector.wait.ms", "300"),
        ("errors.retry.delay.initial.ms", "100"),
        ("errors.retry.delay.max.ms", "500"),
    ];
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &extra), &avro_props(&registry));
    register(&worker, "avroout", cfg).await;

    registry.set_unavailable(true);
    for id in 1..=3 {
        db.execute(&format!("INSERT INTO t VALUES ({id}, 'v{id}')")).await;
    }
    let deadline = std::time::Instant::now() + TIMEOUT;
    let trace = loop {
        let status = worker.status("avroout").await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
        if trace.contains("HTTP 503") {
            break trace;
        }
        assert!(std::time::Instant::now() < deadline, "no registry error in the status: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(trace.contains(&format!("{prefix}.public.t-")), "{trace}");
    registry.set_unavailable(false);
    worker.wait_task_state("avroout", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (4, 'v4')").await;
    let records = decode(&registry, broker, &format!("{prefix}.public.t"), 4).await;
    let ids: Vec<Value> = records.iter().map(|r| r["key"]["id"].clone()).collect();
    assert_eq!(ids, [json!(1), json!(2), json!(3), json!(4)], "every row once, in order");
}

/// GIVEN a connector writing Avro keys and values through the tests' registry,
/// WHEN `pgcdc tail --schema-registry-url` reads its topic, THEN every record is
/// decoded with its writer schema: numeric(10,2) as its digits, a timestamp as
/// ISO text, bytes as base64, and with `--raw` the Decimal as its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_decodes_avro_through_the_registry() {
    let db = PgServer::shared().create_database("avro_tail").await;
    setup_table(&db).await;
    let broker = Broker::shared();
    let registry = Registry::start().await;
    let worker = Worker::start(broker).await;
    let prefix = unique_name("avrotail");
    let cfg = with(connector_config(&db, &prefix, &unique_name("slot"), &[]), &[("slot.drop.on.stop", "true".to_owned())]);
    register(&worker, "avrotail", with(cfg, &avro_props(&registry))).await;
    db.execute("INSERT INTO t VALUES (1, 'one', 12.50, true, '2024-05-06 07:08:09.123456', '{a,b}', '\\x00ff')").await;
    let topic = format!("{prefix}.public.t");
    let _ = broker.consume(&topic, 1, TIMEOUT).await;
    let tail = |raw: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pgcdc"));
        cmd.args(["tail", "--bootstrap-servers", &broker.bootstrap, "--schema-registry-url", &registry.url, "--max", "1"]);
        if raw {
            cmd.arg("--raw");
        }
        let out = cmd.arg(&topic).output().expect("run pgcdc tail");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_owned).expect("one record");
        serde_json::from_str::<Value>(&line).expect("JSON line")
    };
    let record = tail(false);
    println!("{record}");
    let after = &record["value"]["after"];
    assert_eq!(record["key"]["id"], 1, "{record}");
    assert_eq!(after["name"], "one", "{record}");
    assert_eq!(after["price"], "12.50", "Decimal as its digits: {record}");
    assert_eq!(after["created"], "2024-05-06T07:08:09.123456", "MicroTimestamp as ISO text: {record}");
    assert_eq!(after["data"], "AP8=", "bytea as base64: {record}");
    assert_eq!(record["value"]["op"], "c");
    let raw = tail(true);
    assert_eq!(raw["value"]["after"]["price"], "BOI=", "--raw keeps the Decimal's bytes: {raw}");
}
