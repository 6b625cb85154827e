//! SASL/OAUTHBEARER on every connection pgcdc opens (librdkafka's producers, admin and
//! consumers through their token refresh callback, and its own protocol connection), with a
//! static token and with tokens pgcdc fetches from an OAuth token endpoint (client
//! credentials) and refreshes before they expire.
//!
//! The SASL exchange is answered by `support::sasl_gate` in front of tansu (tansu has no
//! OAUTHBEARER); the gate refuses a token it does not know, or one that expired, like Apache
//! Kafka: `{"status":"invalid_token"}`, then error 58.

use std::time::Duration;

use base64::Engine as _;

use crate::e2e_kafka_sasl::{failed_trace, insert, pgcdc_tail, table};
use crate::support::tls_broker::{ids, wait_ids};
use crate::support::tls_broker::{Security, TlsBroker};
use crate::support::token_endpoint::TokenEndpoint;
use crate::support::{connector_config, unique_name, Worker};
use pgcdc::kafka::ClientSettings;

const TIMEOUT: Duration = Duration::from_secs(60);

/// An unsigned JWT with `sub` and an expiry an hour away (the gate compares the whole token).
fn jwt(sub: &str) -> String {
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() + 3600;
    format!("{}.{}.c2ln", b64(r#"{"alg":"RS256","typ":"JWT"}"#), b64(&format!(r#"{{"sub":"{sub}","exp":{exp}}}"#)))
}

fn settings(bootstrap: &str, options: &[(&str, &str)]) -> ClientSettings {
    ClientSettings::new(bootstrap.to_owned(), options.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
}

/// GIVEN tansu behind TLS and the SASL gate (OAUTHBEARER only, three known tokens), the worker
/// given its token as `sasl.oauthbearer.token = "${env:…}"` and the connector another one as
/// `producer.override.sasl.oauthbearer.token`,
/// WHEN it streams, is killed with SIGKILL and restarted while rows keep coming,
/// THEN every row is in Kafka exactly once, every connection (librdkafka's producer, admin and
/// consumers, its own check and offsets reader) authenticated with its token, the REST API
/// hides the token and the log never shows one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_over_sasl_ssl_oauthbearer_static_token_survives_kill_9() {
    let (worker_token, connector_token, reader_token) = (jwt("pgcdc"), jwt("connector"), jwt("reader"));
    let known = [(worker_token.clone(), "pgcdc"), (connector_token.clone(), "connector"), (reader_token.clone(), "reader")];
    let check = std::sync::Arc::new(move |t: &str| known.iter().find(|(k, _)| k == t).map(|(_, p)| (*p).to_owned()));
    let broker = TlsBroker::start_with_tokens(Security { tls: true, client_cert: false, sasl: &["OAUTHBEARER"] }, check);
    let ca = broker.ca.display().to_string();
    let base = [("security.protocol", "SASL_SSL"), ("ssl.ca.location", ca.as_str()), ("sasl.mechanism", "OAUTHBEARER")];
    let config = broker.worker_config("w.toml", &[&base[..], &[("sasl.oauthbearer.token", "${env:PGCDC_TEST_KAFKA_TOKEN}")]].concat());
    let reader = settings(&broker.tls_bootstrap, &[&base[..], &[("sasl.oauthbearer.token", reader_token.as_str())]].concat());
    let db = table("kafka_oauth").await;
    let prefix = unique_name("koauth");
    let topic = format!("{prefix}.public.t");
    let env = [("PGCDC_CONFIG", config.to_str().expect("utf-8")), ("PGCDC_TEST_KAFKA_TOKEN", worker_token.as_str())];
    let mut worker = Worker::start_at(&broker.tls_bootstrap, &env).await;
    let props = connector_config(&db, &prefix, &unique_name("slot"), &[("producer.override.sasl.oauthbearer.token", &connector_token)]);
    let (code, body) = worker.register("koauth", props).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("koauth", "RUNNING", TIMEOUT).await;
    insert(&db, 0..20).await;
    let seen = wait_ids(&reader, &topic, 20).await;
    assert_eq!(seen.len(), 20, "{seen:?}\n{}", worker.log());
    worker.kill9();
    insert(&db, 20..40).await;
    worker.restart().await;
    let seen = wait_ids(&reader, &topic, 40).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(seen, ids(&reader, &topic).await, "records kept coming after the last id");
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..40).collect::<Vec<_>>(), "{}", worker.log());
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");

    let (_, config) = worker.call(reqwest::Method::GET, "/connectors/koauth/config", None).await;
    assert_eq!(config["producer.override.sasl.oauthbearer.token"], "[hidden]", "{config}");
    let log = broker.gate.as_ref().expect("gate").log();
    let by = |who: &str| -> Vec<&str> { log.authenticated.iter().filter(|(_, u, _)| u == who).map(|(c, _, _)| c.as_str()).collect() };
    assert!(log.authenticated.iter().all(|(_, _, m)| m == "OAUTHBEARER"), "{log:?}");
    // The worker's settings: its internal topics' clients (librdkafka: admin, producer,
    // consumer) and the offsets reader; the connector's: its producer and its check.
    for client in ["rdkafka", "pgcdc-log-reader"] {
        assert!(by("pgcdc").contains(&client), "no connection of {client} with the worker's token: {log:?}");
    }
    for client in ["rdkafka", "pgcdc-check"] {
        assert!(by("connector").contains(&client), "no connection of {client} with the connector's token: {log:?}");
    }
    assert!(log.refused.is_empty() && log.failed.is_empty(), "a connection skipped or failed SASL: {log:?}");
    let text = worker.log();
    for token in [&worker_token, &connector_token] {
        let signature_free = token.rsplit_once('.').map_or(token.as_str(), |(t, _)| t);
        assert!(!text.contains(signature_free), "a token is in the log: {text}");
    }
    assert!(!text.contains(&broker.plaintext), "pgcdc must never learn the ports behind TLS: {text}");
}

/// GIVEN the gate (OAUTHBEARER, SASL_PLAINTEXT) and a token it does not know,
/// THEN the connector goes FAILED with a trace naming `sasl.oauthbearer.token` and the
/// broker's answer, `pgcdc tail` fails naming it too, and neither shows the token;
/// a token endpoint that refuses the client credentials is named as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_oauthbearer_token_fails_the_connector_naming_the_setting() {
    let good = jwt("pgcdc");
    let known = good.clone();
    let check = std::sync::Arc::new(move |t: &str| (t == known).then(|| "pgcdc".to_owned()));
    let broker = TlsBroker::start_with_tokens(Security { tls: false, client_cert: false, sasl: &["OAUTHBEARER"] }, check);
    let db = table("kafka_oauth_bad").await;
    let wrong = jwt("intruder");
    let sasl = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "OAUTHBEARER")];
    let config = broker.worker_config("bad.toml", &[&sasl[..], &[("sasl.oauthbearer.token", wrong.as_str())]].concat());
    let trace = failed_trace(&broker.tls_bootstrap, &config, &db, "oauthbad").await;
    assert!(trace.contains("sasl.oauthbearer.token") && trace.contains("invalid_token"), "{trace}");
    assert!(!trace.contains(&wrong), "the token is in the trace: {trace}");
    let (ok, text) = pgcdc_tail(&config, "any-topic").await;
    assert!(!ok && text.contains("sasl.oauthbearer.token") && !text.contains(&wrong), "{text}");
    assert!(broker.gate.as_ref().expect("gate").log().authenticated.is_empty());

    let endpoint = TokenEndpoint::start("pgcdc", "right-secret", Duration::from_secs(60)).await;
    let jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"pgcdc\" clientSecret=\"wrong-secret\";";
    let oidc = [("sasl.oauthbearer.token.endpoint.url", endpoint.url.as_str()), ("sasl.jaas.config", jaas)];
    let config = broker.worker_config("oidc.toml", &[&sasl[..], &oidc[..]].concat());
    let trace = failed_trace(&broker.tls_bootstrap, &config, &db, "oidcbad").await;
    assert!(trace.contains("refused the client credentials") && trace.contains("invalid_client"), "{trace}");
    assert!(!trace.contains("wrong-secret"), "{trace}");
}

/// GIVEN an OAuth token endpoint issuing tokens that live 4 s (the gate refuses an expired one
/// on a new connection) and the worker configured as a Connect worker would be
/// (`sasl.oauthbearer.token.endpoint.url`, OAuthBearerLoginCallbackHandler, clientId/
/// clientSecret/scope in `sasl.jaas.config`),
/// WHEN it streams, and after the first tokens expired the gate cuts every connection,
/// THEN librdkafka's clients reconnect with tokens pgcdc fetched since (refreshed, not
/// expired: no refused exchange), and every row arrives exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_client_credentials_tokens_are_refreshed_before_they_expire() {
    const LIFETIME: Duration = Duration::from_secs(4);
    let endpoint = TokenEndpoint::start("pgcdc", "oidc-s3cret", LIFETIME).await;
    let broker = TlsBroker::start_with_tokens(Security { tls: false, client_cert: false, sasl: &["OAUTHBEARER"] }, endpoint.check());
    let jaas = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required \
                clientId=\"pgcdc\" clientSecret=\"oidc-s3cret\" scope=\"kafka\";";
    let options = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"),
        ("sasl.oauthbearer.token.endpoint.url", endpoint.url.as_str()),
        ("sasl.jaas.config", jaas),
    ];
    let config = broker.worker_config("w.toml", &options);
    let reader = settings(&broker.tls_bootstrap, &options);
    let db = table("kafka_oidc").await;
    let prefix = unique_name("koidc");
    let topic = format!("{prefix}.public.t");
    let worker = Worker::start_at(&broker.tls_bootstrap, &[("PGCDC_CONFIG", config.to_str().expect("utf-8"))]).await;
    let (code, body) = worker.register("koidc", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("koidc", "RUNNING", TIMEOUT).await;
    insert(&db, 0..10).await;
    let seen = wait_ids(&reader, &topic, 10).await;
    assert_eq!(seen.len(), 10, "{seen:?}\n{}", worker.log());

    // Every token issued so far has expired a lifetime later.
    let first_serials = endpoint.requests().len() as u64;
    tokio::time::sleep(LIFETIME + Duration::from_millis(500)).await;
    let gate = broker.gate.as_ref().expect("gate");
    let before_cut = gate.log().authenticated.len();
    gate.cut_all();
    insert(&db, 10..20).await;
    let seen = wait_ids(&reader, &topic, 20).await;
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..20).collect::<Vec<_>>(), "{}", worker.log());
    assert!(seen.values().all(|n| *n == 1), "duplicates: {seen:?}");

    let log = gate.log();
    assert!(log.failed.is_empty() && log.refused.is_empty(), "an expired or missing token was presented: {log:?}");
    let serial = |principal: &str| principal.rsplit_once('#').and_then(|(_, s)| s.parse::<u64>().ok()).unwrap_or(0);
    let after: Vec<&(String, String, String)> = log.authenticated[before_cut..].iter().filter(|(c, _, _)| c == "rdkafka").collect();
    assert!(!after.is_empty(), "librdkafka did not reconnect after the cut: {log:?}");
    assert!(
        after.iter().all(|(_, p, _)| serial(p) > first_serials),
        "a reconnection used a token issued before the first ones expired (not refreshed): {after:?} (first {first_serials})"
    );
    let requests = endpoint.requests();
    println!("oidc: {} tokens issued, {} connections authenticated ({} after the cut)", requests.len(), log.authenticated.len(), log.authenticated.len() - before_cut);
    assert!(requests.iter().all(|(scope, _)| scope.as_deref() == Some("kafka")), "{requests:?}");
    assert!(!worker.log().contains("oidc-s3cret") && !worker.log().contains("tok-"), "a secret or token is in the log");
}

/// GIVEN a distributed worker (config and status topics, group membership through pgcdc's own
/// connection) whose only credentials are a static OAUTHBEARER token,
/// WHEN a connector runs on it, THEN rows stream and the group membership connection
/// authenticated with the token too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_worker_joins_its_group_with_an_oauthbearer_token() {
    use crate::support::worker::{distributed_env, DistributedTimeouts};
    let token = jwt("pgcdc");
    let known = token.clone();
    let check = std::sync::Arc::new(move |t: &str| (t == known).then(|| "pgcdc".to_owned()));
    let broker = TlsBroker::start_with_tokens(Security { tls: false, client_cert: false, sasl: &["OAUTHBEARER"] }, check);
    let options = [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "OAUTHBEARER"), ("sasl.oauthbearer.token", token.as_str())];
    let config = broker.worker_config("w.toml", &options);
    let mut env = distributed_env(&unique_name("dist_oauth"), &DistributedTimeouts::default());
    env.push(("PGCDC_CONFIG".to_owned(), config.to_str().expect("utf-8").to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let worker = Worker::start_at(&broker.tls_bootstrap, &env).await;
    let db = table("kafka_oauth_dist").await;
    let prefix = unique_name("koauthd");
    let (code, body) = worker.register("koauthd", connector_config(&db, &prefix, &unique_name("slot"), &[])).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state("koauthd", "RUNNING", TIMEOUT).await;
    insert(&db, 0..5).await;
    let seen = wait_ids(&settings(&broker.tls_bootstrap, &options), &format!("{prefix}.public.t"), 5).await;
    assert_eq!(seen.keys().copied().collect::<Vec<_>>(), (0..5).collect::<Vec<_>>(), "{}", worker.log());
    let log = broker.gate.as_ref().expect("gate").log();
    for client in ["rdkafka", "pgcdc-worker", "pgcdc-check"] {
        assert!(log.authenticated.iter().any(|(c, _, m)| c == client && m == "OAUTHBEARER"), "no {client} connection: {log:?}");
    }
    assert!(log.failed.is_empty() && log.refused.is_empty(), "{log:?}");
}
