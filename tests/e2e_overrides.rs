//! A connector's own producer settings (`producer.override.*`, Kafka Connect's client config
//! override policy) against a real broker: an override takes effect on what the broker
//! stores, one pgcdc cannot honour is refused at registration naming it, and the worker's
//! policy can forbid them.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::support::batches::{data_batch_codecs, Codec};
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);
const PG_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";

/// The codecs of `topic`'s data batches once there is at least one.
async fn codecs(broker: &Broker, topic: &str) -> Vec<Codec> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let (bootstrap, t) = (broker.bootstrap.clone(), topic.to_owned());
        let found = tokio::task::spawn_blocking(move || data_batch_codecs(&bootstrap, &t, 0)).await.expect("fetch task");
        if !found.is_empty() || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// GIVEN a worker with no compression in [kafka.options] and two connectors on one table,
/// one with `producer.override.compression.type=zstd`,
/// WHEN rows are inserted,
/// THEN the broker stores that connector's batches zstd-compressed and the other's
/// uncompressed, and a consumer reads the same rows from both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_override_compression_type_zstd_compresses_that_connectors_batches() {
    let db = PgServer::shared().create_database("override_zstd").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, pad text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let mut topics = Vec::new();
    for (name, extra) in [("ovzstd", vec![("producer.override.compression.type", "zstd")]), ("ovplain", vec![])] {
        let prefix = unique_name(name);
        // Unwrapped, without schemas: the records of both connectors are the same bytes.
        let mut props = vec![
            ("table.include.list", "public.t"),
            ("slot.drop.on.stop", "true"),
            ("transforms", "unwrap"),
            ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
            ("key.converter.schemas.enable", "false"),
            ("value.converter.schemas.enable", "false"),
        ];
        props.extend(extra);
        let (code, body) = worker.register(name, connector_config(&db, &prefix, &unique_name("slot"), &props)).await;
        assert_eq!(code, 201, "{body}");
        worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
        topics.push(format!("{prefix}.public.t"));
    }
    for id in 0..20 {
        db.execute(&format!("INSERT INTO t VALUES ({id}, repeat('x', 500))")).await;
    }
    for topic in &topics {
        let got = broker.consume(topic, 20, TIMEOUT).await;
        let ids: Vec<i64> = got.iter().filter_map(|c| c.value_json()["id"].as_i64()).collect();
        assert_eq!(ids, (0..20).collect::<Vec<_>>(), "{topic}\n{}", worker.log());
    }
    let zstd = codecs(broker, &topics[0]).await;
    let plain = codecs(broker, &topics[1]).await;
    assert!(!zstd.is_empty() && zstd.iter().all(|c| *c == Codec::Zstd), "override topic batches: {zstd:?}");
    assert!(!plain.is_empty() && plain.iter().all(|c| *c == Codec::None), "control topic batches: {plain:?}");
    // An independent client (Confluent's Python one, its own librdkafka) reads the zstd
    // topic back byte for byte equal to the uncompressed one.
    let read = |topic: String| async move {
        let out = tokio::process::Command::new(python_of_the_tools())
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/avro_client.py"))
            .args(["raw", &broker.bootstrap, &topic, "20", "30"])
            .output()
            .await
            .expect("run the Python consumer (scripts/install-deps.sh installs confluent-kafka)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
                // Debezium's context headers name the connector and its run: they differ by design.
                let headers: Vec<serde_json::Value> = v["headers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| match h[0].as_str() {
                        Some(n @ ("__debezium.context.connectorLogicalName" | "__debezium.context.runId")) => serde_json::json!([n]),
                        _ => h.clone(),
                    })
                    .collect();
                (v["key"].clone(), v["value"].clone(), headers)
            })
            .collect::<Vec<_>>()
    };
    let (zstd_records, plain_records) = (read(topics[0].clone()).await, read(topics[1].clone()).await);
    assert_eq!(zstd_records.len(), 20, "records read back from the zstd topic");
    let differing = zstd_records.iter().zip(&plain_records).position(|(a, b)| a != b);
    assert!(
        zstd_records.len() == plain_records.len() && differing.is_none(),
        "the zstd topic reads back as the uncompressed one: {} vs {} records, first difference at {differing:?}",
        zstd_records.len(),
        plain_records.len()
    );
}

/// The Python of the tools venv (where `scripts/install-deps.sh` puts confluent-kafka).
fn python_of_the_tools() -> std::path::PathBuf {
    let tools = std::env::var("PGCDC_TOOLS_DIR").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/pgcdc-tools")
    });
    tools.join("venv/bin/python")
}

/// GIVEN a plaintext worker,
/// WHEN a connector is registered with an override pgcdc cannot honour (per-connector SASL
/// credentials without SASL, an unknown librdkafka value, acks=1),
/// THEN each is a 400 naming the override and why, and the password is shown nowhere
/// (neither in the refusal nor in the validate endpoint's answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overrides_pgcdc_cannot_honour_are_refused_at_registration_naming_them() {
    let db = PgServer::shared().create_database("override_bad").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="c1" password="Sup3rS3cret";"#;
    for (key, value, why) in [
        ("producer.override.sasl.jaas.config", jaas, "security.protocol"),
        ("producer.override.compression.type", "brotli", "zstd"),
        ("producer.override.acks", "1", "acks=all"),
        ("producer.override.transactional.id", "mine", "fences"),
    ] {
        let config = connector_config(&db, &unique_name("ovbad"), &unique_name("slot"), &[(key, value)]);
        let (code, body) = worker.register("ovbad", config.clone()).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert_eq!(code, 400, "{key}: {body}");
        assert!(message.contains(key) && message.contains(why), "{key}: {message}");
        assert!(!body.to_string().contains("Sup3rS3cret"), "{body}");
        let (_, validated) =
            worker.call(Method::PUT, &format!("/connector-plugins/{PG_CLASS}/config/validate"), Some(&config)).await;
        assert!(!validated.to_string().contains("Sup3rS3cret"), "{validated}");
        let entry = validated["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|e| e["value"]["name"] == key))
            .unwrap_or_else(|| panic!("{key} not in {validated}"));
        assert!(!entry["value"]["errors"].as_array().is_none_or(Vec::is_empty), "{key}: {entry}");
        if key.ends_with("jaas.config") {
            assert_eq!(entry["value"]["value"], "[hidden]");
        }
    }
    assert_eq!(worker.call(Method::GET, "/connectors", None).await.1, Value::Array(vec![]));
}

/// GIVEN a worker whose `connector_client_config_override_policy` is `None`,
/// WHEN a connector with `producer.override.linger.ms` is registered,
/// THEN it is a 400 naming the property and the policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_none_policy_refuses_every_override_naming_the_policy() {
    let db = PgServer::shared().create_database("override_none").await;
    let broker = Broker::shared();
    let worker = Worker::start_with(broker, &[("PGCDC_WORKER__CONNECTOR_CLIENT_CONFIG_OVERRIDE_POLICY", "None")]).await;
    let config =
        connector_config(&db, &unique_name("ovnone"), &unique_name("slot"), &[("producer.override.linger.ms", "10")]);
    let (code, body) = worker.register("ovnone", config).await;
    let message = body["message"].as_str().unwrap_or_default();
    assert_eq!(code, 400, "{body}");
    assert!(
        message.contains("producer.override.linger.ms") && message.contains("'None' policy"),
        "{message}"
    );
}

/// GIVEN a worker that reaches the broker only over TLS (`[kafka.options]`: SSL and the CA
/// that signed the broker's certificate),
/// WHEN one connector overrides `ssl.ca.location` with a CA that did not sign it and
/// another connector overrides nothing,
/// THEN the first goes FAILED with a trace naming the override and the setting, while the
/// second streams: the override reached that connector's connections and no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_override_ssl_ca_location_applies_to_that_connector_only() {
    let broker = crate::support::tls_broker::TlsBroker::start();
    let ca = broker.ca.to_str().expect("utf-8").to_owned();
    let config = broker.worker_config("w.toml", &[("security.protocol", "SSL"), ("ssl.ca.location", &ca)]);
    let db = PgServer::shared().create_database("override_tls").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let other_ca = broker.other_ca.to_str().expect("utf-8").to_owned();
    let overridden = [("producer.override.ssl.ca.location", other_ca.as_str()), ("slot.drop.on.stop", "true")];
    let (code, body) = worker.register("ovca", connector_config(&db, &unique_name("ovca"), &unique_name("slot"), &overridden)).await;
    assert_eq!(code, 201, "{body}");
    let prefix = unique_name("ovplainca");
    let (code, body) =
        worker.register("ovplainca", connector_config(&db, &prefix, &unique_name("slot"), &[("slot.drop.on.stop", "true")])).await;
    assert_eq!(code, 201, "{body}");
    let status = worker.wait_task_state("ovca", "FAILED", TIMEOUT).await;
    let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
    assert!(trace.contains("producer.override.ssl.ca.location") && trace.contains("ssl.ca.location"), "{trace}");
    worker.wait_task_state("ovplainca", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1)").await;
    let deadline = Instant::now() + TIMEOUT;
    let topic = format!("{prefix}.public.t");
    loop {
        let client = pgcdc::kafka::ClientSettings::new(
            broker.tls_bootstrap.clone(),
            [("security.protocol".to_owned(), "SSL".to_owned()), ("ssl.ca.location".to_owned(), ca.clone())],
        );
        let read = pgcdc::offsets::log_reader::read_partitions(&client, &topic).await;
        if read.as_ref().is_ok_and(|(_, parts)| parts.values().map(Vec::len).sum::<usize>() >= 1) {
            break;
        }
        assert!(Instant::now() < deadline, "{topic} stayed empty: {read:?}\n{}", worker.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
