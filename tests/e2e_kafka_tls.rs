//! Kafka over TLS, for every connection pgcdc opens (librdkafka's producers, admin and
//! consumers, and its own protocol connection: offsets reader), against tansu behind
//! stunnel4 (see `support::tls_broker`). pgcdc is given only the TLS port.

use std::time::Duration;


use crate::support::tls_broker::{ids, wait_ids, TlsBroker};
use pgcdc::kafka::ClientSettings;
use crate::support::{connector_config, unique_name, PgServer, Worker};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The tests' reader of the TLS port (the CA file, no SASL).
fn reader(broker: &TlsBroker) -> ClientSettings {
    ClientSettings::new(
        broker.tls_bootstrap.clone(),
        [("security.protocol".to_owned(), "SSL".to_owned()), ("ssl.ca.location".to_owned(), broker.ca.display().to_string())],
    )
}

/// GIVEN a worker whose only broker address is the TLS port (CA file, zstd compression),
/// WHEN it streams, is killed with SIGKILL and restarted while rows keep coming,
/// THEN every row is in Kafka exactly once and reads back as the JSON it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_over_tls_with_zstd_survives_kill_9() {
    let broker = TlsBroker::start();
    let config = broker.worker_config(
        "w.toml",
        &[("security.protocol", "SSL"), ("ssl.ca.location", broker.ca.to_str().expect("utf-8")), ("compression.type", "zstd")],
    );
    let db = PgServer::shared().create_database("kafka_tls").await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY, pad text)").await;
    let prefix = unique_name("ktls");
    let topic = format!("{prefix}.public.t");
    let mut worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register("ktls", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("ktls", "RUNNING", TIMEOUT).await;
    for id in 0..40i64 {
        db.execute(&format!("INSERT INTO t VALUES ({id}, repeat('z', 200))")).await;
    }
    let seen = wait_ids(&reader(&broker), &topic, 40).await;
    assert_eq!(seen.len(), 40, "{seen:?}\n{}", worker.log());
    worker.kill9();
    for id in 40..80i64 {
        db.execute(&format!("INSERT INTO t VALUES ({id}, repeat('z', 200))")).await;
    }
    worker.restart().await;
    let seen = wait_ids(&reader(&broker), &topic, 80).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen_again = ids(&reader(&broker), &topic).await;
    assert_eq!(seen, seen_again, "records kept coming after the last id");
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..80).collect::<Vec<_>>(), "{}", worker.log());
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");
    // The records were compressed with zstd by the producer (the test's reader decompressed them).
    let log = worker.log();
    assert!(!log.contains(&broker.plaintext), "pgcdc must never learn the plaintext port: {log}");
}

/// GIVEN a CA that did not sign the broker's certificate (or a name the certificate does not
/// carry), THEN the connector goes FAILED with a trace naming the setting to fix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_ca_and_hostname_mismatch_fail_the_connector_naming_the_setting() {
    let broker = TlsBroker::start();
    let db = PgServer::shared().create_database("kafka_tls_bad").await;
    db.execute("CREATE TABLE t (id bigint PRIMARY KEY)").await;
    let port = broker.tls_bootstrap.rsplit(':').next().expect("port").to_owned();
    for (case, ca, bootstrap) in [
        ("untrusted", broker.other_ca.clone(), broker.tls_bootstrap.clone()),
        ("hostname", broker.ca.clone(), format!("localhost:{port}")),
    ] {
        let config = broker.worker_config(&format!("{case}.toml"), &[("security.protocol", "SSL"), ("ssl.ca.location", ca.to_str().expect("utf-8"))]);
        let worker = Worker::start_at(&bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8")), ("PGCDC_KAFKA__BOOTSTRAP_SERVERS", &bootstrap)]).await;
        let prefix = unique_name(case);
        let (code, body) = worker.register(case, connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
        assert_eq!(code, 201, "{body}");
        let status = worker.wait_task_state(case, "FAILED", TIMEOUT).await;
        let trace = status["tasks"][0]["trace"].as_str().unwrap_or_default().to_owned();
        assert!(trace.contains("ssl.ca.location") && trace.contains("TLS"), "{case}: {trace}");
    }
}
