//! `key.converter` / `value.converter` and their `*.converter.*` settings:
//! Kafka Connect's JsonConverter or Confluent's AvroConverter.

use crate::config::properties::Props;
use crate::config::Secret;
use crate::encode::cloudevents::{CloudEventsOptions, CLOUD_EVENTS_CONVERTER_CLASS};
use crate::encode::avro::{AvroDataOptions, AvroOptions, AVRO_CONVERTER_CLASS, SUBJECT_NAME_STRATEGIES};
use crate::encode::json::{DecimalFormat, JsonOptions};
use crate::encode::registry_tls::RegistryTls;
use crate::encode::schema_registry::RegistryConfig;
use crate::encode::ConverterConfig;

/// Kafka Connect's JsonConverter.
pub const JSON_CONVERTER_CLASS: &str = "org.apache.kafka.connect.json.JsonConverter";

/// `<prefix>` (the class) and its settings; `prefix` is `key.converter` or `value.converter`.
pub(crate) fn parse_converter(p: &mut Props, prefix: &str) -> ConverterConfig {
    let is_key = prefix.starts_with("key");
    match p.get(prefix).as_deref() {
        Some(AVRO_CONVERTER_CLASS | "AvroConverter") => return ConverterConfig::Avro(parse_avro(p, prefix, is_key)),
        Some(CLOUD_EVENTS_CONVERTER_CLASS | "CloudEventsConverter") if !is_key => {
            return ConverterConfig::CloudEvents(parse_cloud_events(p, prefix));
        }
        Some(JSON_CONVERTER_CLASS | "JsonConverter") | None => {}
        Some(class @ (CLOUD_EVENTS_CONVERTER_CLASS | "CloudEventsConverter")) => p.error(
            prefix,
            format!("Invalid value {class} for configuration {prefix}: the CloudEventsConverter writes values only (Debezium always configures it as a value converter); use it as value.converter"),
        ),
        Some(class) => p.error(
            prefix,
            format!("Invalid value {class} for configuration {prefix}: supported are {JSON_CONVERTER_CLASS}, {AVRO_CONVERTER_CLASS} and (values) {CLOUD_EVENTS_CONVERTER_CLASS}"),
        ),
    }
    ConverterConfig::Json(JsonOptions {
        schemas_enable: p.flag(&format!("{prefix}.schemas.enable")),
        decimal_format: p.choice(
            &format!("{prefix}.decimal.format"),
            &[("BASE64", DecimalFormat::Base64), ("NUMERIC", DecimalFormat::Numeric)],
        ),
        replace_null_with_default: p.flag(&format!("{prefix}.replace.null.with.default")),
    })
}

/// `value.converter=io.debezium.converters.CloudEventsConverter`: JSON
/// events with JSON data, metadata from the value.
fn parse_cloud_events(p: &mut Props, prefix: &str) -> CloudEventsOptions {
    let key = |name: &str| format!("{prefix}.{name}");
    for name in ["serializer.type", "data.serializer.type"] {
        let k = key(name);
        let v = p.text(&k);
        if !v.eq_ignore_ascii_case("json") {
            let why = if v.eq_ignore_ascii_case("avro") {
                "pgcdc writes CloudEvents as JSON only (Avro events and Avro data are not supported); set json or remove it"
            } else {
                "expected json"
            };
            p.error(&k, format!("Invalid value {v} for configuration {k}: {why}"));
        }
    }
    let tracing = key("opentelemetry.tracing.attributes.enable");
    if p.flag(&tracing) {
        p.error(&tracing, format!("Invalid value true for configuration {tracing}: pgcdc has no OpenTelemetry tracing, so there is no traceparent to write; set false or remove it"));
    }
    let source_key = key("metadata.source");
    let source = p.text(&source_key);
    if let Some(why) = metadata_source_problem(&source) {
        p.error(&source_key, format!("Invalid value {source} for configuration {source_key}: {why}"));
    }
    CloudEventsOptions {
        extension_attributes: p.flag(&key("extension.attributes.enable")),
        data: JsonOptions {
            schemas_enable: p.flag(&key("json.schemas.enable")),
            decimal_format: p.choice(&key("json.decimal.format"), &[("BASE64", DecimalFormat::Base64), ("NUMERIC", DecimalFormat::Numeric)]),
            replace_null_with_default: p.flag(&key("json.replace.null.with.default")),
        },
    }
}

/// `metadata.source`: `value` (global) then `id`, `type`, `traceparent`,
/// `dataSchemaName` as `<name>:<source>`; pgcdc reads everything from the
/// value (traceparent is only read with tracing, which is refused).
fn metadata_source_problem(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split(',').map(str::trim).collect();
    match parts.first().map(|g| g.to_ascii_lowercase()) {
        Some(g) if g == "value" => {}
        Some(g) if g == "header" => {
            return Some("metadata from headers is not supported (pgcdc's records carry no source/op headers); use value".into())
        }
        _ => return Some("the first entry must be value or header".into()),
    }
    for part in &parts[1..] {
        let Some((name, source)) = part.split_once(':') else {
            return Some(format!("{part} is not <field>:<source>"));
        };
        let source = source.trim().to_ascii_lowercase();
        match (name.trim(), source.as_str()) {
            ("id" | "type" | "dataSchemaName", "generate") | ("traceparent", _) => {}
            ("id" | "type" | "dataSchemaName", "header") => {
                return Some(format!("{} from headers is not supported; use {}:generate", name.trim(), name.trim()))
            }
            _ => return Some(format!("{part} is not one of id, type, traceparent, dataSchemaName with generate or header")),
        }
    }
    None
}

fn parse_avro(p: &mut Props, prefix: &str, is_key: bool) -> AvroOptions {
    let key = |name: &str| format!("{prefix}.{name}");
    let url_key = key("schema.registry.url");
    let mut urls = Vec::new();
    let mut url_user_info = None;
    match p.get(&url_key) {
        None => p.error(
            &url_key,
            format!("Missing required configuration \"{url_key}\" which has no default value: {prefix}={AVRO_CONVERTER_CLASS} needs the schema registry's URL, e.g. http://registry:8081"),
        ),
        Some(list) => {
            for entry in crate::config::properties::split_list(&list) {
                match reqwest::Url::parse(&entry) {
                    Ok(mut url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                        if !url.username().is_empty() {
                            url_user_info = Some(format!("{}:{}", url.username(), url.password().unwrap_or("")));
                            let _ = url.set_username("");
                            let _ = url.set_password(None);
                        }
                        urls.push(url.as_str().trim_end_matches('/').to_owned());
                    }
                    _ => p.error(
                        &url_key,
                        format!(
                            "Invalid value {} for configuration {url_key}: expected a comma-separated list of http:// or https:// URLs",
                            crate::config::secrets::mask_url(&entry)
                        ),
                    ),
                }
            }
            if urls.is_empty() && !p.errors.iter().any(|e| e.property == url_key) {
                p.error(&url_key, format!("Invalid value for configuration {url_key}: no URL given"));
            }
        }
    }
    let source_key = key("basic.auth.credentials.source");
    let info_key = key("basic.auth.user.info");
    let source = p.text(&source_key);
    let user_info = p
        .get_raw(&info_key)
        .or_else(|| p.get_raw(&key("schema.registry.basic.auth.user.info")))
        .filter(|v| !v.is_empty());
    let basic_auth = match source.to_ascii_uppercase().as_str() {
        "URL" => url_user_info.map(Secret::new),
        "USER_INFO" => match user_info {
            Some(v) if v.contains(':') => Some(Secret::new(v)),
            Some(_) => {
                p.error(&info_key, format!("Invalid value for configuration {info_key}: expected user:password"));
                None
            }
            None => {
                p.error(&info_key, format!("{source_key}=USER_INFO needs {info_key}=user:password"));
                None
            }
        },
        other => {
            p.error(&source_key, format!("Invalid value {other} for configuration {source_key}: supported are URL and USER_INFO (SASL_INHERIT is not)"));
            None
        }
    };
    let bearer_token = parse_bearer(p, prefix, basic_auth.is_some());
    let tls = parse_registry_tls(p, prefix, urls.iter().any(|u| u.starts_with("https://")));
    let side = if is_key { "key" } else { "value" };
    let strategy_key = key(&format!("{side}.subject.name.strategy"));
    let subject_name_strategy = p.choice(&strategy_key, SUBJECT_NAME_STRATEGIES);
    let data = AvroDataOptions {
        connect_meta_data: p.flag(&key("connect.meta.data")),
        enhanced_schema_support: p.flag(&key("enhanced.avro.schema.support")),
        scrub_invalid_names: p.flag(&key("scrub.invalid.names")),
        allow_optional_map_keys: p.flag(&key("allow.optional.map.keys")),
    };
    let _cache_size: i64 = p.int(&key("schemas.cache.config"));
    AvroOptions {
        registry: RegistryConfig { urls, basic_auth, bearer_token, tls },
        auto_register_schemas: p.flag(&key("auto.register.schemas")),
        use_latest_version: p.flag(&key("use.latest.version")),
        subject_name_strategy,
        data,
    }
}

/// `bearer.auth.credentials.source` and `bearer.auth.token`: the token to
/// send, with `STATIC_TOKEN`; `has_basic` when basic auth is configured too
/// (refused: one `Authorization` header).
fn parse_bearer(p: &mut Props, prefix: &str, has_basic: bool) -> Option<Secret> {
    let source_key = format!("{prefix}.bearer.auth.credentials.source");
    let token_key = format!("{prefix}.bearer.auth.token");
    let source = p.get(&source_key);
    let token = p.get_raw(&token_key).filter(|t| !t.trim().is_empty());
    match source.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None => {
            if token.is_some() {
                p.error(&token_key, format!("{token_key} is set but {source_key} is not: set {source_key}=STATIC_TOKEN to send it"));
            }
            None
        }
        Some("STATIC_TOKEN") => {
            if has_basic {
                p.error(
                    &source_key,
                    format!("{source_key}=STATIC_TOKEN and basic auth are both configured: the registry gets one Authorization header; remove one"),
                );
            }
            match token {
                Some(t) => Some(Secret::new(t.trim())),
                None => {
                    p.error(&token_key, format!("{source_key}=STATIC_TOKEN needs {token_key}"));
                    None
                }
            }
        }
        Some(other) => {
            p.error(
                &source_key,
                format!("Invalid value {other} for configuration {source_key}: supported is STATIC_TOKEN (OAUTHBEARER, SASL_OAUTHBEARER_INHERIT and CUSTOM are not)"),
            );
            None
        }
    }
}

/// `schema.registry.ssl.*`: PEM files only; each setting that could not
/// take effect is refused naming it (a password for a PEM store, an
/// encrypted key, a JKS or PKCS12 store, TLS settings without an https URL).
fn parse_registry_tls(p: &mut Props, prefix: &str, any_https: bool) -> RegistryTls {
    let key = |name: &str| format!("{prefix}.schema.registry.ssl.{name}");
    for store in ["truststore", "keystore"] {
        let type_key = key(&format!("{store}.type"));
        if let Some(t) = p.get(&type_key) {
            if !t.eq_ignore_ascii_case("PEM") {
                p.error(
                    &type_key,
                    format!("Invalid value {t} for configuration {type_key}: only PEM files are read; export the store to PEM (keytool -exportcert -rfc, or openssl pkcs12 -nodes) and set {type_key}=PEM"),
                );
            }
        }
    }
    for (name, why) in [
        ("truststore.password", "a PEM truststore has no password: remove it"),
        ("keystore.password", "a PEM keystore has no store password: remove it"),
        ("key.password", "encrypted private keys are not supported: decrypt it (openssl pkey -in KEY -out KEY.plain) and remove the password"),
    ] {
        let k = key(name);
        if p.get_raw(&k).is_some_and(|v| !v.is_empty()) {
            p.error(&k, format!("Invalid value for configuration {k}: {why}"));
        }
    }
    let algorithm_key = key("endpoint.identification.algorithm");
    let algorithm = p.get_raw(&algorithm_key).map(|v| v.trim().to_owned());
    if algorithm.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case("https")) {
        p.error(
            &algorithm_key,
            format!("Invalid value for configuration {algorithm_key}: pgcdc always checks the registry's name against its certificate; set https or remove it"),
        );
    }
    let path = |p: &mut Props, name: &str| p.get(&key(name)).map(std::path::PathBuf::from);
    let tls = RegistryTls { truststore: path(p, "truststore.location"), keystore: path(p, "keystore.location") };
    if !any_https {
        for (name, set) in [("truststore.location", tls.truststore.is_some()), ("keystore.location", tls.keystore.is_some())] {
            if set {
                let k = key(name);
                p.error(&k, format!("{k} is set but no {prefix}.schema.registry.url is https://: it would have no effect"));
            }
        }
    }
    tls
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::encode::avro::SubjectNameStrategy;

    fn parse(props: &[(&str, &str)]) -> (ConverterConfig, Vec<(String, String)>) {
        let raw: BTreeMap<String, String> = props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut p = Props::new(&raw);
        let c = parse_converter(&mut p, "value.converter");
        (c, p.errors.iter().map(|e| (e.property.clone(), e.message.clone())).collect())
    }

    #[test]
    fn avro_converter_with_registry_auth_and_strategy() {
        let (c, errors) = parse(&[
            ("value.converter", AVRO_CONVERTER_CLASS),
            ("value.converter.schema.registry.url", "http://a:8081/, https://b:8082"),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
            ("value.converter.basic.auth.user.info", "u:p@ss"),
            ("value.converter.auto.register.schemas", "false"),
            ("value.converter.value.subject.name.strategy", "io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            ("value.converter.connect.meta.data", "false"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let ConverterConfig::Avro(a) = c else { panic!("not avro") };
        assert_eq!(a.registry.urls, ["http://a:8081", "https://b:8082"]);
        assert_eq!(a.registry.basic_auth.as_ref().map(Secret::expose), Some("u:p@ss"));
        assert!(!a.auto_register_schemas);
        assert_eq!(a.subject_name_strategy, SubjectNameStrategy::RecordName);
        assert!(!a.data.connect_meta_data);
        assert!(!format!("{a:?}").contains("p@ss"), "the user info is a secret");
    }

    #[test]
    fn user_info_in_the_url_is_the_default_source() {
        let (c, errors) = parse(&[("value.converter", "AvroConverter"), ("value.converter.schema.registry.url", "http://u:pw@reg:8081")]);
        assert!(errors.is_empty(), "{errors:?}");
        let ConverterConfig::Avro(a) = c else { panic!("not avro") };
        assert_eq!(a.registry.urls, ["http://reg:8081"]);
        assert_eq!(a.registry.basic_auth.as_ref().map(Secret::expose), Some("u:pw"));
    }

    #[test]
    fn missing_or_bad_registry_url_names_the_property() {
        let (_, errors) = parse(&[("value.converter", AVRO_CONVERTER_CLASS)]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "value.converter.schema.registry.url");
        assert!(errors[0].1.contains("Missing required configuration"), "{}", errors[0].1);
        let (_, errors) = parse(&[("value.converter", AVRO_CONVERTER_CLASS), ("value.converter.schema.registry.url", "registry:8081")]);
        assert_eq!(errors[0].0, "value.converter.schema.registry.url");
        let (_, errors) = parse(&[
            ("value.converter", AVRO_CONVERTER_CLASS),
            ("value.converter.schema.registry.url", "http://r:1"),
            ("value.converter.basic.auth.credentials.source", "USER_INFO"),
        ]);
        assert_eq!(errors[0].0, "value.converter.basic.auth.user.info");
    }

    #[test]
    fn bearer_token_and_pem_tls_settings_reach_the_registry_config() {
        let (c, errors) = parse(&[
            ("value.converter", AVRO_CONVERTER_CLASS),
            ("value.converter.schema.registry.url", "https://reg:8081"),
            ("value.converter.bearer.auth.credentials.source", "STATIC_TOKEN"),
            ("value.converter.bearer.auth.token", "t0ken"),
            ("value.converter.schema.registry.ssl.truststore.location", "/etc/ca.pem"),
            ("value.converter.schema.registry.ssl.truststore.type", "PEM"),
            ("value.converter.schema.registry.ssl.keystore.location", "/etc/client.pem"),
            ("value.converter.schema.registry.ssl.endpoint.identification.algorithm", "https"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        let ConverterConfig::Avro(a) = c else { panic!("not avro") };
        assert_eq!(a.registry.bearer_token.as_ref().map(Secret::expose), Some("t0ken"));
        assert_eq!(a.registry.basic_auth, None);
        assert_eq!(a.registry.tls.truststore.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(a.registry.tls.keystore.as_deref(), Some(std::path::Path::new("/etc/client.pem")));
        assert!(!format!("{a:?}").contains("t0ken"), "the token is a secret");
    }

    #[test]
    fn registry_settings_that_cannot_take_effect_are_refused_naming_them() {
        let base = [("value.converter", AVRO_CONVERTER_CLASS), ("value.converter.schema.registry.url", "https://reg:8081")];
        for (extra, property) in [
            (vec![("value.converter.bearer.auth.credentials.source", "OAUTHBEARER")], "value.converter.bearer.auth.credentials.source"),
            (vec![("value.converter.bearer.auth.credentials.source", "STATIC_TOKEN")], "value.converter.bearer.auth.token"),
            (vec![("value.converter.bearer.auth.token", "t")], "value.converter.bearer.auth.token"),
            (
                vec![
                    ("value.converter.bearer.auth.credentials.source", "STATIC_TOKEN"),
                    ("value.converter.bearer.auth.token", "t"),
                    ("value.converter.basic.auth.credentials.source", "USER_INFO"),
                    ("value.converter.basic.auth.user.info", "u:p"),
                ],
                "value.converter.bearer.auth.credentials.source",
            ),
            (vec![("value.converter.schema.registry.ssl.truststore.type", "JKS")], "value.converter.schema.registry.ssl.truststore.type"),
            (vec![("value.converter.schema.registry.ssl.keystore.type", "PKCS12")], "value.converter.schema.registry.ssl.keystore.type"),
            (vec![("value.converter.schema.registry.ssl.key.password", "pw")], "value.converter.schema.registry.ssl.key.password"),
            (vec![("value.converter.schema.registry.ssl.truststore.password", "pw")], "value.converter.schema.registry.ssl.truststore.password"),
            (vec![("value.converter.schema.registry.ssl.endpoint.identification.algorithm", "")], "value.converter.schema.registry.ssl.endpoint.identification.algorithm"),
        ] {
            let props: Vec<(&str, &str)> = base.iter().copied().chain(extra.iter().copied()).collect();
            let (_, errors) = parse(&props);
            assert_eq!(errors.len(), 1, "{property}: {errors:?}");
            assert_eq!(errors[0].0, property, "{errors:?}");
        }
        // TLS files for a registry reached over http only would have no effect.
        let (_, errors) = parse(&[
            ("value.converter", AVRO_CONVERTER_CLASS),
            ("value.converter.schema.registry.url", "http://reg:8081"),
            ("value.converter.schema.registry.ssl.truststore.location", "/etc/ca.pem"),
        ]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "value.converter.schema.registry.ssl.truststore.location");
    }

    #[test]
    fn other_converters_are_refused() {
        let (_, errors) = parse(&[("value.converter", "org.apache.kafka.connect.storage.StringConverter")]);
        assert_eq!(errors[0].0, "value.converter");
        assert!(errors[0].1.contains(AVRO_CONVERTER_CLASS));
    }
}

#[cfg(test)]
mod cloud_events_tests {
    use std::collections::BTreeMap;

    use super::*;

    fn parse(prefix: &str, props: &[(&str, &str)]) -> (ConverterConfig, Vec<(String, String)>) {
        let raw: BTreeMap<String, String> = props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut p = Props::new(&raw);
        let c = parse_converter(&mut p, prefix);
        (c, p.errors.iter().map(|e| (e.property.clone(), e.message.clone())).collect())
    }

    #[test]
    fn cloud_events_json_with_its_options() {
        let (c, errors) = parse(
            "value.converter",
            &[
                ("value.converter", CLOUD_EVENTS_CONVERTER_CLASS),
                ("value.converter.serializer.type", "json"),
                ("value.converter.data.serializer.type", "JSON"),
                ("value.converter.extension.attributes.enable", "false"),
                ("value.converter.json.schemas.enable", "false"),
                ("value.converter.json.decimal.format", "NUMERIC"),
                ("value.converter.metadata.source", "value,id:generate,type:generate"),
            ],
        );
        assert_eq!(errors, vec![]);
        let ConverterConfig::CloudEvents(o) = c else { panic!("not CloudEvents: {c:?}") };
        assert!(!o.extension_attributes);
        assert!(!o.data.schemas_enable);
        assert_eq!(o.data.decimal_format, DecimalFormat::Numeric);
        let (c, errors) = parse("value.converter", &[("value.converter", "CloudEventsConverter")]);
        assert_eq!(errors, vec![]);
        assert!(matches!(c, ConverterConfig::CloudEvents(o) if o.extension_attributes && o.data.schemas_enable));
    }

    #[test]
    fn avro_header_metadata_tracing_and_keys_are_refused_by_name() {
        let refused = |prefix: &str, props: &[(&str, &str)]| -> Vec<String> {
            parse(prefix, props).1.into_iter().map(|(k, _)| k).collect()
        };
        let ce = ("value.converter", CLOUD_EVENTS_CONVERTER_CLASS);
        assert_eq!(refused("value.converter", &[ce, ("value.converter.data.serializer.type", "avro")]), ["value.converter.data.serializer.type"]);
        assert_eq!(refused("value.converter", &[ce, ("value.converter.serializer.type", "avro")]), ["value.converter.serializer.type"]);
        assert_eq!(refused("value.converter", &[ce, ("value.converter.metadata.source", "header")]), ["value.converter.metadata.source"]);
        assert_eq!(
            refused("value.converter", &[ce, ("value.converter.metadata.source", "value,id:header,type:generate")]),
            ["value.converter.metadata.source"]
        );
        assert_eq!(
            refused("value.converter", &[ce, ("value.converter.opentelemetry.tracing.attributes.enable", "true")]),
            ["value.converter.opentelemetry.tracing.attributes.enable"]
        );
        assert_eq!(refused("key.converter", &[("key.converter", CLOUD_EVENTS_CONVERTER_CLASS)]), ["key.converter"]);
    }
}
