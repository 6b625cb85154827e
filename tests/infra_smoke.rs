//! Smoke tests of the test environment itself: if these fail, every end-to-end test would.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::support::{unique_name, Broker, PgServer, MD5_PASSWORD, MD5_USER, SCRAM_PASSWORD, SCRAM_USER};

/// Connects as `user`/`password` over TCP; returns the error text on failure.
async fn connect_as(db: &crate::support::TestDatabase, user: &str, password: &str) -> Result<tokio_postgres::Client, String> {
    let conn = format!("host={} port={} dbname={} user={user} password={password}", db.host, db.port, db.name);
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls).await.map_err(|e| {
        e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_else(|| e.to_string())
    })?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[tokio::test]
async fn postgres_accepts_connections_with_logical_wal_level() {
    // GIVEN the shared cluster and a fresh database
    let db = PgServer::shared().create_database("smoke_pg").await;
    // WHEN we connect and read the server settings
    let client = db.client().await;
    let wal_level: String = client.query_one("SHOW wal_level", &[]).await.unwrap().get(0);
    let slots: String = client.query_one("SHOW max_replication_slots", &[]).await.unwrap().get(0);
    let current: String = client.query_one("SELECT current_database()", &[]).await.unwrap().get(0);
    // THEN logical decoding is possible and we are in our database
    assert_eq!(wal_level, "logical");
    assert!(slots.parse::<u32>().unwrap() >= 400, "max_replication_slots = {slots}");
    assert_eq!(current, db.name);
    assert!(db.name.starts_with("smoke_pg_"), "{}", db.name);

    // AND the WAL insert position moves forward with a write
    db.execute("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1);").await;
    let before = db.current_wal_lsn().await;
    db.execute("INSERT INTO t VALUES (2);").await;
    let after = db.current_wal_lsn().await;
    let cmp: bool = client
        .query_one("SELECT $1::text::pg_lsn < $2::text::pg_lsn", &[&before, &after])
        .await
        .unwrap()
        .get(0);
    assert!(cmp, "WAL insert LSN did not advance: {before} -> {after}");
}

#[tokio::test]
async fn two_fresh_databases_are_distinct() {
    // GIVEN two databases created with the same prefix
    let server = PgServer::shared();
    let a = server.create_database("smoke_distinct").await;
    let b = server.create_database("smoke_distinct").await;
    assert_ne!(a.name, b.name);
    // WHEN a table is created and filled in the first one only
    a.execute("CREATE TABLE only_in_a (id int); INSERT INTO only_in_a VALUES (42);").await;
    // THEN the second does not see it
    let b_client = b.client().await;
    let found: Option<String> = b_client
        .query_one("SELECT to_regclass('public.only_in_a')::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(found, None);
    let a_count: i64 = a.client().await.query_one("SELECT count(*) FROM only_in_a", &[]).await.unwrap().get(0);
    assert_eq!(a_count, 1);
}

#[tokio::test]
async fn password_roles_authenticate_with_md5_and_scram() {
    let db = PgServer::shared().create_database("smoke_auth").await;
    // GIVEN the md5 and SCRAM roles created with the cluster
    let admin = db.client().await;
    for (user, prefix) in [(MD5_USER, "md5"), (SCRAM_USER, "SCRAM-SHA-256$")] {
        let stored: String = admin
            .query_one("SELECT rolpassword FROM pg_authid WHERE rolname = $1", &[&user])
            .await
            .unwrap()
            .get(0);
        assert!(stored.starts_with(prefix), "{user} password stored as {stored:.16}...");
        let repl: bool = admin
            .query_one("SELECT rolreplication FROM pg_roles WHERE rolname = $1", &[&user])
            .await
            .unwrap()
            .get(0);
        assert!(repl, "{user} lacks REPLICATION");
    }
    // WHEN they log in with the right password THEN it works
    for (user, password) in [(MD5_USER, MD5_PASSWORD), (SCRAM_USER, SCRAM_PASSWORD)] {
        let client = connect_as(&db, user, password).await.unwrap_or_else(|e| panic!("{user}: {e}"));
        let who: String = client.query_one("SELECT current_user::text", &[]).await.unwrap().get(0);
        assert_eq!(who, user);
    }
    // WHEN they log in with a wrong password THEN they are refused (pg_hba does not trust them)
    for user in [MD5_USER, SCRAM_USER] {
        let err = connect_as(&db, user, "wrong").await.err().unwrap_or_else(|| panic!("{user} logged in with a wrong password"));
        assert!(err.contains("password authentication failed"), "{user}: {err}");
    }
}

#[tokio::test]
async fn broker_round_trips_keyed_records_with_headers() {
    let broker = Broker::shared();
    let topic = unique_name("smoke.Topic-rt");
    // GIVEN a topic with 3 partitions
    broker.create_topic(&topic, 3).await;
    assert!(broker.topics().await.contains(&topic), "topic {topic} not listed");
    broker.create_topic(&topic, 3).await; // creating it again is fine

    // WHEN keyed records with headers (one null-valued) and a tombstone are produced
    let producer: FutureProducer = broker
        .client_config()
        .set("enable.idempotence", "true")
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let mut sent = Vec::new();
    for partition in 0..3 {
        let key = format!(r#"{{"id":{partition}}}"#);
        let value = format!(r#"{{"after":{{"id":{partition}}},"op":"c"}}"#);
        let headers = OwnedHeaders::new()
            .insert(Header { key: "h.text", value: Some("v-1") })
            .insert(Header { key: "h.null", value: None::<&[u8]> });
        let rdkafka::producer::future_producer::Delivery { partition: p, offset, .. } = producer
            .send(
                FutureRecord::to(&topic).partition(partition).key(&key).payload(&value).headers(headers),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
        assert_eq!(p, partition);
        sent.push((partition, offset, key, value));
    }
    let rdkafka::producer::future_producer::Delivery { partition: p, offset: tombstone_offset, .. } = producer
        .send(FutureRecord::<str, [u8]>::to(&topic).partition(1).key(r#"{"id":1}"#), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce tombstone: {e}"));
    assert_eq!(p, 1);

    // THEN a consumer from the beginning reads them back intact
    let got = broker.consume(&topic, 4, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 4, "got {got:#?}");
    for (partition, offset, key, value) in &sent {
        let r = got
            .iter()
            .find(|r| r.partition == *partition && r.offset == *offset)
            .unwrap_or_else(|| panic!("missing p{partition}@{offset} in {got:#?}"));
        assert_eq!(r.topic, topic);
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
        assert_eq!(r.value.as_deref(), Some(value.as_bytes()));
        assert_eq!(r.key_json(), serde_json::json!({ "id": partition }));
        assert_eq!(r.value_json()["op"], "c");
        assert_eq!(
            r.headers,
            vec![("h.text".to_owned(), Some(b"v-1".to_vec())), ("h.null".to_owned(), None)]
        );
        assert_eq!(r.header_str("h.text").as_deref(), Some("v-1"));
        assert_eq!(r.header_str("h.null"), None);
        assert!(r.timestamp_ms.is_some_and(|t| t > 0));
    }
    let tomb = got.iter().find(|r| r.partition == 1 && r.offset == tombstone_offset).expect("tombstone");
    assert_eq!(tomb.value, None);
    assert_eq!(tomb.value_json(), serde_json::Value::Null);
}

#[tokio::test]
async fn committed_transactions_are_read_back_across_topics() {
    let broker = Broker::shared();
    let (t1, t2) = (unique_name("smoke_txn_a"), unique_name("smoke_txn_b"));
    broker.create_topic(&t1, 1).await;
    broker.create_topic(&t2, 2).await;
    // GIVEN a transactional producer
    let producer: FutureProducer = broker
        .client_config()
        .set("transactional.id", unique_name("smoke_txn"))
        .set("message.timeout.ms", "10000")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let p = producer.clone();
    tokio::task::spawn_blocking(move || {
        p.init_transactions(timeout)?;
        p.begin_transaction()
    })
    .await
    .unwrap()
    .unwrap();
    // WHEN it writes to two topics and commits
    for (topic, key) in [(&t1, "a"), (&t2, "b"), (&t2, "c")] {
        producer
            .send(FutureRecord::to(topic).key(key).payload("{}"), timeout)
            .await
            .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    }
    let p = producer.clone();
    tokio::task::spawn_blocking(move || p.commit_transaction(timeout)).await.unwrap().unwrap();
    // THEN read_committed consumers see every record (and nothing else)
    let a = broker.consume(&t1, 2, Duration::from_secs(3)).await;
    let b = broker.consume(&t2, 3, Duration::from_secs(3)).await;
    let keys = |rs: &[crate::support::Consumed]| {
        let mut k: Vec<String> = rs.iter().map(|r| String::from_utf8(r.key.clone().unwrap()).unwrap()).collect();
        k.sort();
        k
    };
    assert_eq!(keys(&a), ["a"]);
    assert_eq!(keys(&b), ["b", "c"]);
}

#[tokio::test]
async fn consume_returns_what_it_has_at_the_timeout() {
    let broker = Broker::shared();
    let topic = unique_name("smoke_timeout");
    broker.create_topic(&topic, 1).await;
    let producer: FutureProducer = broker.client_config().create().unwrap();
    producer
        .send(FutureRecord::to(&topic).key("k").payload("v"), Duration::from_secs(10))
        .await
        .unwrap_or_else(|(e, _)| panic!("produce: {e}"));
    // GIVEN one record WHEN two are asked for THEN one comes back after about the timeout
    let start = Instant::now();
    let got = broker.consume(&topic, 2, Duration::from_secs(2)).await;
    let took = start.elapsed();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(8), "took {took:?}");
    // AND a topic that never appears yields nothing, also without hanging
    let start = Instant::now();
    assert!(broker.consume(&unique_name("smoke_absent"), 1, Duration::from_secs(1)).await.is_empty());
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn dedicated_servers_support_fault_injection() {
    // GIVEN a dedicated cluster with a table
    let pg = PgServer::dedicated();
    assert_ne!(pg.port, PgServer::shared().port);
    let db = pg.create_database("smoke_fault").await;
    db.execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1);").await;
    let client = db.client().await;
    // WHEN it is stopped THEN the open connection breaks and new ones are refused
    pg.stop();
    assert!(client.query_one("SELECT 1", &[]).await.is_err());
    assert!(tokio_postgres::connect(&db.conn_str(), tokio_postgres::NoTls).await.is_err());
    // WHEN it is started again THEN data is still there on the same port
    pg.start();
    let n: i64 = db.client().await.query_one("SELECT count(*) FROM t", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);
    pg.restart();
    db.execute("INSERT INTO t VALUES (2);").await;

    // GIVEN a dedicated broker WHEN paused THEN requests time out; WHEN resumed THEN they work
    let broker = Broker::dedicated();
    assert_ne!(broker.bootstrap, Broker::shared().bootstrap);
    assert!(metadata_ok(&broker).await, "metadata on a running broker failed");
    broker.pause();
    assert!(!metadata_ok(&broker).await, "metadata answered while paused");
    broker.resume();
    broker.create_topic("after_resume", 1).await;
    assert!(broker.topics().await.contains(&"after_resume".to_owned()));
}

/// Whether a metadata request to `broker` succeeds within 1.5 s.
async fn metadata_ok(broker: &Broker) -> bool {
    let config = broker.client_config();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = config.create().unwrap();
        consumer.fetch_metadata(None, Duration::from_millis(1500)).is_ok()
    })
    .await
    .unwrap()
}
