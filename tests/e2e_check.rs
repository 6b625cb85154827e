//! `pgcdc check --connector FILE.json` against real PostgreSQL servers: one
//! set up wrong on purpose, one set up right.

use std::process::Command;

use serde_json::json;

use crate::support::postgres::PgSetup;
use crate::support::{connector_config, unique_name, Broker, PgServer, Worker};
use reqwest::Method;

const VALIDATE: &str = "/connector-plugins/io.debezium.connector.postgresql.PostgresConnector/config/validate";

/// Runs `pgcdc check` on `config` written as a connector file: (exit code, output).
fn check(config: serde_json::Value) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("connector.json");
    std::fs::write(&file, json!({ "name": "checked", "config": config }).to_string()).expect("connector file");
    let out = Command::new(env!("CARGO_BIN_EXE_pgcdc")).arg("check").arg("--connector").arg(&file).output().expect("run pgcdc check");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn line_of<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
}

/// GIVEN a server with wal_level=replica, a user without REPLICATION nor
/// SELECT, a keyless table with REPLICA IDENTITY DEFAULT beside a keyed one,
/// WHEN `pgcdc check` runs on a connector for both tables, THEN it exits 1
/// and names each problem with its fix, and passes the keyed table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_misconfiguration_with_its_fix() {
    let server = PgServer::dedicated_with(&PgSetup { conf: "wal_level = replica\n".to_owned(), ..PgSetup::default() });
    let db = server.create_database("check_wrong").await;
    db.execute("CREATE ROLE cdc_plain LOGIN; CREATE TABLE keyless (a int); CREATE TABLE keyed (id int PRIMARY KEY)").await;
    let mut config = connector_config(&db, &unique_name("chk"), &unique_name("slot"), &[("table.include.list", "public.keyless,public.keyed")]);
    config["database.user"] = json!("cdc_plain");

    let (code, out) = check(config.clone());
    println!("{out}");
    assert_eq!(code, 1, "{out}");
    // The same checks answer PUT …/config/validate, each on the property it concerns.
    let worker = Worker::start(Broker::shared()).await;
    let mut named = config.clone();
    named["name"] = json!("checked");
    let (status, body) = worker.call(Method::PUT, VALIDATE, Some(&named)).await;
    assert_eq!(status, 200, "{body}");
    let errors_of = |property: &str| -> Vec<String> {
        body["configs"]
            .as_array()
            .and_then(|c| c.iter().find(|e| e["value"]["name"] == property))
            .and_then(|e| e["value"]["errors"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect()
    };
    assert!(errors_of("database.hostname").iter().any(|m| m.contains("wal_level") && m.contains("fix:")), "{body}");
    assert!(errors_of("database.user").iter().any(|m| m.contains("REPLICATION")), "{body}");
    assert!(errors_of("table.include.list").iter().any(|m| m.contains("public.keyless")), "{body}");
    assert!(body["error_count"].as_u64().unwrap_or(0) >= 5, "{body}");
    assert!(line_of(&out, "ok   connection").contains("cdc_plain"));
    assert!(line_of(&out, "FAIL wal_level").contains("is replica"), "{out}");
    assert!(out.contains("ALTER SYSTEM SET wal_level = logical"), "{out}");
    assert!(line_of(&out, "FAIL replication privilege").contains("cdc_plain has neither REPLICATION nor superuser"), "{out}");
    assert!(out.contains(r#"ALTER ROLE "cdc_plain" REPLICATION"#), "{out}");
    assert!(line_of(&out, "FAIL replica identity: public.keyless").contains("no primary key"), "{out}");
    assert!(out.contains(r#"ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL"#), "{out}");
    assert!(line_of(&out, "ok   replica identity: public.keyed").contains("primary key"), "{out}");
    assert!(line_of(&out, "FAIL select privilege").contains("cdc_plain cannot SELECT"), "{out}");
    assert!(line_of(&out, "FAIL publication").contains("FOR ALL TABLES needs a superuser"), "{out}");
}

/// GIVEN the tests' server (wal_level=logical) and a keyed table, WHEN
/// `pgcdc check` runs as postgres, THEN every line is ok and it exits 0;
/// an unreadable connector file is exit 2 naming the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_a_ready_database() {
    let db = PgServer::shared().create_database("check_right").await;
    db.execute("CREATE TABLE orders (id int PRIMARY KEY, note text)").await;
    let config = connector_config(&db, &unique_name("chk"), &unique_name("slot"), &[("table.include.list", "public.orders")]);
    let (code, out) = check(config.clone());
    println!("{out}");
    assert_eq!(code, 0, "{out}");
    let worker = Worker::start(Broker::shared()).await;
    let mut named = config;
    named["name"] = json!("checked");
    let (status, body) = worker.call(Method::PUT, VALIDATE, Some(&named)).await;
    assert_eq!((status, body["error_count"].as_u64()), (200, Some(0)), "{body}");
    assert!(!out.contains("FAIL") && !out.contains("WARN"), "{out}");
    assert!(line_of(&out, "ok   wal_level").contains("logical"));
    assert!(line_of(&out, "ok   slot").contains("does not exist yet"));

    let out = Command::new(env!("CARGO_BIN_EXE_pgcdc")).args(["check", "--connector", "/nonexistent/c.json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/c.json"));
}
