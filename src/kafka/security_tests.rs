use super::*;

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
    assert_eq!((sasl.mechanism, sasl.username.as_str(), sasl.password.expose()), (SaslMechanism::ScramSha512, "alice", "p\"w;x"));
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
    assert_eq!(r.security.sasl.unwrap().username, "key");
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
    let e = err(&[("security.protocol", "SASL_SSL"), ("sasl.mechanism", "OAUTHBEARER")]);
    assert_eq!(e.property, "sasl.mechanism");
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
