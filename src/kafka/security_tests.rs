use super::*;
use crate::kafka::oauth::TokenKind;

fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn get<'a>(r: &'a Resolved, k: &str) -> Option<&'a str> {
    r.librdkafka.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn err(pairs: &[(&str, &str)]) -> SettingError {
    resolve(&opts(pairs)).unwrap_err()
}

#[test]
fn connect_scram_over_tls_is_translated_for_librdkafka_and_the_raw_connection() {
    let r = resolve(&opts(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        (
            "sasl.jaas.config",
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p\"w;x";"#,
        ),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", "/etc/ca.pem"),
        ("compression.type", "ZSTD"),
    ]))
    .unwrap();
    assert_eq!(get(&r, "security.protocol"), Some("sasl_ssl"));
    assert_eq!(get(&r, "sasl.mechanisms"), Some("SCRAM-SHA-512"));
    assert_eq!(get(&r, "sasl.username"), Some("alice"));
    assert_eq!(get(&r, "sasl.password"), Some("p\"w;x"));
    assert_eq!(get(&r, "ssl.ca.location"), Some("/etc/ca.pem"));
    assert_eq!(get(&r, "compression.type"), Some("zstd"));
    assert!(r.librdkafka.iter().all(|(k, _)| !k.starts_with("ssl.truststore") && k != "sasl.jaas.config"));
    let sasl = r.security.sasl.unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::ScramSha512);
    assert_eq!(sasl.credentials, Credentials::Password { username: "alice".into(), password: Secret::new("p\"w;x") });
    let tls = r.security.tls.unwrap();
    assert_eq!(tls.ca, Some(Pem::File("/etc/ca.pem".into())));
    assert!(tls.verify_hostname);
}

#[test]
fn plain_login_module_and_hostname_check_off() {
    let r = resolve(&opts(&[
        ("security.protocol", "sasl_ssl"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=key password=\"s\";"),
        ("ssl.endpoint.identification.algorithm", ""),
    ]))
    .unwrap();
    assert_eq!(get(&r, "ssl.endpoint.identification.algorithm"), Some("none"));
    assert!(!r.security.tls.unwrap().verify_hostname);
    assert_eq!(r.security.sasl.unwrap().who(), "key");
}

#[test]
fn what_cannot_be_honoured_is_refused_by_name_without_secrets() {
    let e = err(&[("security.protocol", "SSL"), ("ssl.truststore.location", "/t.jks"), ("ssl.truststore.password", "pw")]);
    assert_eq!(e.property, "ssl.truststore.location");
    assert!(e.reason.contains("PEM"), "{e}");
    assert_eq!(err(&[("ssl.keystore.type", "JKS")]).property, "ssl.keystore.type");
    assert_eq!(err(&[("ssl.enabled.protocols", "TLSv1.3")]).property, "ssl.enabled.protocols");
    assert_eq!(err(&[("compression.type", "brotli")]).property, "compression.type");
    assert_eq!(err(&[("security.protocol", "SSL"), ("enable.ssl.certificate.verification", "false")]).property, "enable.ssl.certificate.verification");
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "GSSAPI")]);
    assert_eq!(e.property, "sasl.mechanism");
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "AWS_MSK_IAM")]);
    assert!(e.reason.contains("MSK IAM") && e.reason.contains("not supported"), "{e}");
    let secret = "hunter2-secret";
    let jaas = format!("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"{secret}\";");
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", &jaas)]);
    assert_eq!(e.property, "sasl.jaas.config");
    assert!(!e.to_string().contains(secret));
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.jaas.config", "Foo required;")]);
    assert!(!e.to_string().contains("Foo"), "the jaas value is never quoted: {e}");
}

#[test]
fn nothing_silently_falls_back_to_plaintext() {
    let e = err(&[("ssl.ca.location", "/ca.pem")]);
    assert_eq!(e.property, "security.protocol");
    assert!(e.reason.contains("ssl.ca.location"), "{e}");
    let e = err(&[(
        "sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";",
    )]);
    assert_eq!(e.property, "security.protocol");
    assert_eq!(err(&[("security.protocol", "SASL_SSL")]).property, "sasl.mechanism");
    assert_eq!(err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "PLAIN")]).property, "sasl.jaas.config");
    assert_eq!(err(&[("security.protocol", "SSL"), ("ssl.certificate.location", "/c.pem")]).property, "ssl.key.location");
}

#[test]
fn plaintext_and_plain_librdkafka_options_pass_through() {
    let r = resolve(&opts(&[("linger.ms", "5")])).unwrap();
    assert_eq!(r.librdkafka, opts(&[("linger.ms", "5")]));
    assert_eq!(r.security, Security::default());
}

const OAUTH_JAAS: &str = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required";

#[test]
fn oauthbearer_static_token_is_one_token_source_and_never_reaches_librdkafka() {
    let r = resolve(&opts(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.token", "eyJ.static.token"),
        ("ssl.ca.location", "/ca.pem"),
    ]))
    .unwrap();
    assert_eq!(get(&r, "sasl.mechanisms"), Some("OAUTHBEARER"));
    assert!(r.librdkafka.iter().all(|(k, v)| !k.starts_with("sasl.oauthbearer") && !v.contains("static.token")), "{:?}", r.librdkafka);
    let sasl = r.security.sasl.unwrap();
    assert_eq!(sasl.mechanism, SaslMechanism::OAuthBearer);
    assert_eq!(sasl.token_source().unwrap().kind(), &TokenKind::Static(Secret::new("eyJ.static.token")));
    assert!(!format!("{sasl:?}").contains("static.token"));
}

#[test]
fn connects_oauthbearer_login_callback_handler_is_client_credentials_or_a_token_file() {
    let jaas = format!("{OAUTH_JAAS} clientId=\"pgcdc\" clientSecret=\"s3cret\" scope=\"kafka\";");
    let r = resolve(&opts(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.login.callback.handler.class", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp.example/oauth2/token"),
        ("sasl.jaas.config", &jaas),
    ]))
    .unwrap();
    assert!(r.librdkafka.iter().all(|(k, _)| !k.starts_with("sasl.oauthbearer") && !k.starts_with("sasl.login") && k != "sasl.jaas.config"));
    let kind = r.security.sasl.unwrap().token_source().unwrap().kind().clone();
    assert_eq!(
        kind,
        TokenKind::ClientCredentials {
            url: "https://idp.example/oauth2/token".into(),
            client_id: "pgcdc".into(),
            client_secret: Secret::new("s3cret"),
            scope: Some("kafka".into())
        }
    );
    // librdkafka's names for the same.
    let r = resolve(&opts(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.client.id", "pgcdc"),
        ("sasl.oauthbearer.client.secret", "s3cret"),
        ("sasl.oauthbearer.scope", "kafka"),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp.example/oauth2/token"),
    ]))
    .unwrap();
    assert_eq!(r.security.sasl.unwrap().token_source().unwrap().kind(), &kind);
    let r = resolve(&opts(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.token.endpoint.url", "file:///run/secrets/kafka.jwt"),
        ("sasl.jaas.config", &format!("{OAUTH_JAAS};")),
    ]))
    .unwrap();
    assert_eq!(r.security.sasl.unwrap().token_source().unwrap().kind(), &TokenKind::File("/run/secrets/kafka.jwt".into()));
}

#[test]
fn oauthbearer_settings_that_cannot_take_effect_are_refused_by_name() {
    let sasl = [("security.protocol", "SASL_SSL"), ("sasl.mechanism", "OAUTHBEARER")];
    let with = |extra: &[(&str, &str)]| err(&[&sasl[..], extra].concat());
    assert_eq!(with(&[]).property, "sasl.oauthbearer.token");
    let e = with(&[("sasl.oauthbearer.config", "principal=admin")]);
    assert!(e.property == "sasl.oauthbearer.config" && e.reason.contains("unsecured"), "{e}");
    assert_eq!(with(&[("sasl.oauthbearer.extensions", "a=b")]).property, "sasl.oauthbearer.extensions");
    let e = with(&[("sasl.oauthbearer.token.endpoint.url", "https://idp/token")]);
    assert!(e.property == "sasl.jaas.config" && e.reason.contains("clientId"), "{e}");
    let e = with(&[("sasl.oauthbearer.token", "t"), ("sasl.oauthbearer.token.endpoint.url", "https://idp/token")]);
    assert_eq!(e.property, "sasl.oauthbearer.token");
    let e = with(&[("sasl.oauthbearer.token", "t"), ("sasl.jaas.config", &format!("{OAUTH_JAAS} extension_logicalCluster=\"lkc-1\";"))]);
    assert!(e.property == "sasl.jaas.config" && e.reason.contains("extension_logicalCluster") && !e.reason.contains("lkc-1"), "{e}");
    let e = with(&[("sasl.oauthbearer.token", "t"), ("sasl.jaas.config", &format!("{OAUTH_JAAS} unsecuredLoginStringClaim_sub=\"x\";"))]);
    assert!(e.reason.contains("unsecured"), "{e}");
    let e = with(&[("sasl.oauthbearer.token", "t"), ("sasl.login.callback.handler.class", "com.example.Handler")]);
    assert_eq!(e.property, "sasl.login.callback.handler.class");
    let scram = "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\";";
    assert_eq!(with(&[("sasl.jaas.config", scram)]).property, "sasl.jaas.config");
    // An OAUTHBEARER setting with another mechanism, or without SASL, takes no effect: refused.
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "SCRAM-SHA-256"), ("sasl.jaas.config", scram), ("sasl.oauthbearer.token", "t")]);
    assert_eq!(e.property, "sasl.oauthbearer.token");
    assert_eq!(err(&[("sasl.oauthbearer.token", "t")]).property, "security.protocol");
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;")]);
    assert!(e.reason.contains("MSK IAM"), "{e}");
}
