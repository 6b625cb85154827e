//! The AvroConverter against a schema registry over https with a bearer token (and a client
//! certificate), end to end: `support::registry_tls` serves the tests' registry behind
//! rustls; Confluent's Python client reads the records back through its plain-HTTP view.
//! A wrong token and an untrusted registry certificate fail the connector with a trace
//! naming the setting to fix.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::e2e_avro::{decode, AVRO};
use crate::support::registry_tls::TlsRegistry;
use crate::support::{connector_config, unique_name, Broker, PgServer, TestDatabase, Worker};

const TIMEOUT: Duration = Duration::from_secs(90);

/// The AvroConverter on `sides` (`key`, `value`) over `url`, with `token` and the given
/// truststore (and client keystore when `keystore` is set).
fn avro_over_https(sides: &[&str], url: &str, token: &str, truststore: &str, keystore: Option<&str>) -> Vec<(String, String)> {
    let mut props = Vec::new();
    for side in sides {
        let c = format!("{side}.converter");
        props.extend([
            (c.clone(), AVRO.to_owned()),
            (format!("{c}.schema.registry.url"), url.to_owned()),
            (format!("{c}.bearer.auth.credentials.source"), "STATIC_TOKEN".to_owned()),
            (format!("{c}.bearer.auth.token"), token.to_owned()),
            (format!("{c}.schema.registry.ssl.truststore.location"), truststore.to_owned()),
            (format!("{c}.schema.registry.ssl.truststore.type"), "PEM".to_owned()),
        ]);
        if let Some(keystore) = keystore {
            props.push((format!("{c}.schema.registry.ssl.keystore.location"), keystore.to_owned()));
            props.push((format!("{c}.schema.registry.ssl.keystore.type"), "PEM".to_owned()));
        }
    }
    props
}

fn config(db: &TestDatabase, prefix: &str, props: &[(String, String)]) -> Value {
    let mut extra: Vec<(&str, &str)> = props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    extra.extend([("table.include.list", "public.t"), ("slot.drop.on.stop", "true")]);
    connector_config(db, prefix, &unique_name("slot"), &extra)
}

/// GIVEN a registry that answers only https, only with `Authorization: Bearer tok-1`, and
/// only to clients with a certificate signed by its CA,
/// WHEN a connector with the AvroConverter on keys and values (PEM truststore, PEM keystore,
/// STATIC_TOKEN) captures inserts,
/// THEN its schemas are registered there, Confluent's AvroDeserializer decodes every record,
/// and the REST API shows the token as [hidden].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_over_https_with_bearer_token_and_client_certificate() {
    let reg = TlsRegistry::start("tok-1", true).await;
    let db = PgServer::shared().create_database("avro_tls").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY, name text)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let prefix = unique_name("avtls");
    let (ca, client) = (reg.ca.display().to_string(), reg.client_pem.display().to_string());
    let props = avro_over_https(&["key", "value"], &reg.https_url, "tok-1", &ca, Some(&client));
    let (code, body) = worker.register("avtls", config(&db, &prefix, &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("avtls", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')").await;
    let topic = format!("{prefix}.public.t");
    let records = decode(&reg.registry, broker, &topic, 3).await;
    let ids: Vec<i64> = records.iter().filter_map(|r| r["value"]["after"]["id"].as_i64()).collect();
    assert_eq!(ids, [1, 2, 3], "{records:?}\n{}", worker.log());
    assert_eq!(records[2]["key"], serde_json::json!({"id": 3}));
    let subjects = reg.registry.subjects();
    assert!(subjects.contains_key(&format!("{topic}-key")) && subjects.contains_key(&format!("{topic}-value")), "{subjects:?}");
    let (_, shown) = worker.call(Method::GET, "/connectors/avtls/config", None).await;
    assert_eq!(shown["value.converter.bearer.auth.token"], "[hidden]", "{shown}");
    assert!(!shown.to_string().contains("tok-1") && !worker.log().contains("tok-1"), "the token is a secret");
}

/// GIVEN a registry over https with a bearer token,
/// WHEN a connector sends the wrong token, or trusts a CA that did not sign the registry's
/// certificate, or has no client certificate for a registry that requires one,
/// THEN it goes FAILED with a trace naming the setting to fix, and no schema is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_token_and_certificate_failures_fail_the_connector_naming_the_setting() {
    let reg = TlsRegistry::start("tok-1", false).await;
    let db = PgServer::shared().create_database("avro_tls_bad").await;
    db.execute("CREATE TABLE t (id int PRIMARY KEY)").await;
    let broker = Broker::shared();
    let worker = Worker::start(broker).await;
    let (ca, other_ca) = (reg.ca.display().to_string(), reg.other_ca.display().to_string());
    for (name, token, truststore) in [("avwrongtoken", "not-the-token", &ca), ("avuntrusted", "tok-1", &other_ca)] {
        let props = avro_over_https(&["value"], &reg.https_url, token, truststore, None);
        let (code, body) = worker.register(name, config(&db, &unique_name(name), &props)).await;
        assert_eq!(code, 201, "{body}");
        worker.wait_task_state(name, "RUNNING", TIMEOUT).await;
    }
    // A registry that requires a client certificate, and a connector without one.
    let mtls = TlsRegistry::start("tok-1", true).await;
    let props = avro_over_https(&["value"], &mtls.https_url, "tok-1", &mtls.ca.display().to_string(), None);
    let (code, body) = worker.register("avnocert", config(&db, &unique_name("avnocert"), &props)).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("avnocert", "RUNNING", TIMEOUT).await;
    db.execute("INSERT INTO t VALUES (1)").await;
    for (name, want) in [
        ("avwrongtoken", "value.converter.bearer.auth.token"),
        ("avuntrusted", "value.converter.schema.registry.ssl.truststore.location"),
        ("avnocert", "value.converter.schema.registry.ssl.keystore.location"),
    ] {
        let status = worker.wait_task_state(name, "FAILED", TIMEOUT).await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
        assert!(trace.contains(want), "{name}: the trace names {want}: {trace}");
        assert!(!trace.contains("not-the-token"), "{name}: the token is a secret: {trace}");
    }
    assert!(reg.registry.subjects().is_empty(), "nothing registered: {:?}", reg.registry.subjects());
    assert!(mtls.registry.subjects().is_empty(), "nothing registered: {:?}", mtls.registry.subjects());
}
