//! Config providers and secrets over the REST API (security review, issue 10):
//! what an outsider who can call the API gets back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::tests::{call, config, opts, FakeRuntime};
use super::*;
use crate::config::providers::{EnvProvider, FileProvider, ProviderPolicy};

const SECRET: &str = "0ther-connector-pw";

/// A directory holding a properties file with [`SECRET`], and the reference to it.
fn secret_file() -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.properties");
    std::fs::write(&path, format!("password={SECRET}\n")).unwrap();
    let reference = format!("${{file:{}:password}}", path.display());
    (dir, path, reference)
}

fn allowing(dir: &Path) -> ProviderPolicy {
    ProviderPolicy {
        env: Some(EnvProvider { allowed_names: vec!["PGCDC_TEST_REST_*".into()] }),
        file: Some(FileProvider { allowed_paths: vec![dir.to_owned()] }),
    }
}

async fn app_with(providers: ProviderPolicy) -> (tempfile::TempDir, Arc<Herder>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let herder = Herder::open(HerderOptions { providers, ..opts(dir.path()) }, Arc::new(FakeRuntime::default())).await.unwrap();
    let app = router(herder.clone());
    (dir, herder, app)
}

fn assert_leaks_nothing(v: &Value, path_var: &str) {
    let text = v.to_string();
    assert!(!text.contains(SECRET), "secret leaked: {text}");
    assert!(!text.contains(path_var), "$PATH leaked: {text}");
    assert!(!text.contains("root:x:0:0"), "/etc/passwd leaked: {text}");
}

fn attack(file_ref: &str) -> Value {
    let mut c = config();
    c["snapshot.mode"] = json!(file_ref);
    c["slot.name"] = json!("${env:PATH}");
    c["topic.prefix"] = json!("${file:/etc/passwd:root}");
    c
}

#[tokio::test]
async fn providers_are_off_by_default_over_rest() {
    let (_s, _p, file_ref) = secret_file();
    let path_var = std::env::var("PATH").unwrap();
    let (_d, _h, app) = app_with(ProviderPolicy::default()).await;
    let (s, v) = call(&app, "PUT", "/connector-plugins/PostgresConnector/config/validate", Some(attack(&file_ref))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_leaks_nothing(&v, &path_var);
    let errors_of = |name: &str| {
        v["configs"].as_array().unwrap().iter().find(|c| c["value"]["name"] == name).unwrap()["value"]["errors"].to_string()
    };
    assert!(errors_of("snapshot.mode").contains("[config_providers.file]"), "{v}");
    assert!(errors_of("slot.name").contains("[config_providers.env]"), "{v}");
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "c", "config": attack(&file_ref)}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_leaks_nothing(&v, &path_var);
    assert!(v["message"].as_str().unwrap().contains("snapshot.mode"), "{v}");
}

#[tokio::test]
async fn allowed_providers_resolve_but_errors_show_the_reference_only() {
    let (secrets, _p, file_ref) = secret_file();
    let path_var = std::env::var("PATH").unwrap();
    let (_d, herder, app) = app_with(allowing(secrets.path())).await;
    // Resolvable but invalid for the property: the value is not echoed.
    let (_, v) = call(&app, "PUT", "/connector-plugins/PostgresConnector/config/validate", Some(attack(&file_ref))).await;
    assert_leaks_nothing(&v, &path_var);
    assert!(v.to_string().contains("${file:"), "the reference as written is named: {v}");
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "bad", "config": attack(&file_ref)}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_leaks_nothing(&v, &path_var);
    // A file outside allowed_paths reads like a missing one.
    let mut c = config();
    c["database.password"] = json!("${file:/etc/passwd:root}");
    let (s, outside) = call(&app, "POST", "/connectors", Some(json!({"name": "o", "config": c}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    c["database.password"] = json!(format!("${{file:{}/none.properties:root}}", secrets.path().display()));
    let (_, missing) = call(&app, "POST", "/connectors", Some(json!({"name": "o", "config": c}))).await;
    let shape = |v: &Value| v["message"].as_str().unwrap().split("cannot be resolved").nth(1).unwrap_or_default().to_owned();
    assert_eq!(shape(&outside), shape(&missing));
    // Allowed and valid: it runs with the resolved password, and shows the reference.
    std::env::set_var("PGCDC_TEST_REST_SLOT", "slot_from_env");
    let mut c = config();
    c["database.password"] = json!(file_ref);
    c["slot.name"] = json!("${env:PGCDC_TEST_REST_SLOT}");
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "ok", "config": c}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["config"]["slot.name"], "${env:PGCDC_TEST_REST_SLOT}");
    assert_eq!(v["config"]["database.password"], "[hidden]");
    let map = herder.connectors.lock().await;
    let parsed = map["ok"].config.as_ref().unwrap();
    assert_eq!(parsed.connection.password.as_ref().map(|p| p.expose()), Some(SECRET));
    assert_eq!(parsed.slot_name, "slot_from_env");
}

#[tokio::test]
async fn persisted_references_are_expanded_under_the_worker_policy_at_start() {
    let (secrets, _p, file_ref) = secret_file();
    let state = tempfile::tempdir().unwrap();
    let mut raw: BTreeMap<String, String> = serde_json::from_value(config()).unwrap();
    raw.insert("name".into(), "c".into());
    raw.insert("database.password".into(), file_ref);
    let stored = store::StoredConnector { config: raw, target_state: TargetState::Started };
    store::Store::new(state.path().join("state")).save(&[("c".to_owned(), stored)].into()).unwrap();
    let open = |providers| Herder::open(HerderOptions { providers, ..opts(state.path()) }, Arc::new(FakeRuntime::default()));
    let off = open(ProviderPolicy::default()).await.unwrap();
    let status = serde_json::to_value(off.status("c").await.unwrap()).unwrap();
    assert_eq!(status["connector"]["state"], "FAILED", "{status}");
    assert!(status["connector"]["trace"].as_str().unwrap().contains("[config_providers.file]"), "{status}");
    assert!(!status.to_string().contains(SECRET));
    let on = open(allowing(secrets.path())).await.unwrap();
    assert_eq!(on.status("c").await.unwrap().connector.state, "RUNNING");
}

#[tokio::test]
async fn registry_url_password_is_hidden_in_every_answer() {
    let (_d, herder, app) = app_with(ProviderPolicy::default()).await;
    let mut c = config();
    c["value.converter"] = json!("io.confluent.connect.avro.AvroConverter");
    c["value.converter.schema.registry.url"] = json!("http://reg:RegPw1@reg1:8081,http://u2:RegPw2@reg2:8081");
    let no_pw = |v: &Value| {
        let t = v.to_string();
        assert!(!t.contains("RegPw1") && !t.contains("RegPw2") && !t.contains("topsecret"), "{t}");
    };
    let (s, v) = call(&app, "POST", "/connectors", Some(json!({"name": "a", "config": c}))).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    no_pw(&v);
    assert_eq!(v["config"]["value.converter.schema.registry.url"], "http://reg:[hidden]@reg1:8081,http://u2:[hidden]@reg2:8081");
    for uri in ["/connectors/a", "/connectors/a/config", "/connectors/a/tasks", "/connectors?expand=info"] {
        let (s, v) = call(&app, "GET", uri, None).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        assert!(v.to_string().contains("reg:[hidden]@reg1"), "{uri}: {v}");
        no_pw(&v);
    }
    let (_, v) = call(&app, "PUT", "/connector-plugins/PostgresConnector/config/validate", Some(c.clone())).await;
    no_pw(&v);
    let mut bad = c.clone();
    bad["value.converter.schema.registry.url"] = json!("ftp://u:RegPw1@reg1");
    let (_, v) = call(&app, "PUT", "/connector-plugins/PostgresConnector/config/validate", Some(bad)).await;
    no_pw(&v);
    assert!(v["error_count"].as_u64().unwrap() >= 1, "{v}");
    // The config read back and PUT unchanged keeps the passwords.
    let (_, shown) = call(&app, "GET", "/connectors/a/config", None).await;
    let (s, v) = call(&app, "PUT", "/connectors/a/config", Some(shown)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let raw = herder.connectors.lock().await["a"].raw.clone();
    assert_eq!(raw["value.converter.schema.registry.url"], "http://reg:RegPw1@reg1:8081,http://u2:RegPw2@reg2:8081");
    assert_eq!(raw["database.password"], "topsecret");
}
