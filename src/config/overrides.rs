//! `producer.override.*`: a connector's own settings for its producer, under
//! the worker's client config override policy (Kafka Connect's
//! `connector.client.config.override.policy`).
//!
//! ```text
//!   connector config: producer.override.X = v
//!        │ policy (All / None / Principal): may X be overridden at all?
//!        │ rules: can pgcdc honour X = v? (exactly-once, one cluster)
//!        │ [kafka.options] ++ overrides ─ security::resolve (the one Connect → librdkafka
//!        │                                translation) ─ librdkafka checks each value
//!        ▼
//!   ConnectorConfig::producer_overrides ──▶ sink: the connector's producer is built from
//!        [kafka.options] then its overrides (later wins), both translated together
//! ```
//!
//! What the overrides reach: the connector's producer (its records and, in
//! the same Kafka transaction, its offset record) and the TLS/SASL check
//! made before it starts. Topics are created with the worker's admin client
//! (`admin.override.*` has no effect); the worker's own connections (offsets
//! reader, group membership, config and status topics) keep `[kafka]`.
//!
//! Refused whatever the policy, naming the property and why:
//! - `bootstrap.servers`: the records and the offset record are written in
//!   one Kafka transaction by one producer, and the offsets are read from
//!   the worker's cluster: the connector's producer must write there;
//! - `transactional.id`: the worker's `<group_id>-<connector>`, which is
//!   what fences a second instance of the connector;
//! - `enable.idempotence` other than `true`, `acks` other than `all`/`-1`:
//!   every pgcdc producer is idempotent (exactly-once needs it, and
//!   at-least-once relies on it for order and no duplicates from retries).

use serde::{Deserialize, Serialize};

use crate::config::properties::Props;
use crate::config::secrets::mask_value;

/// The prefix of a connector's producer settings.
pub const PRODUCER_PREFIX: &str = "producer.override.";
/// Every client override family of Kafka Connect; the policy governs all
/// three (only the producer's take effect in pgcdc).
const CLIENT_PREFIXES: &[&str] = &[PRODUCER_PREFIX, "consumer.override.", "admin.override."];
/// What the `Principal` policy lets a connector override (Connect's list).
const PRINCIPAL_PROPERTIES: &[&str] = &["sasl.jaas.config", "sasl.mechanism", "security.protocol"];

/// `[worker] connector_client_config_override_policy`: Kafka Connect's
/// `connector.client.config.override.policy`, by its class's short name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverridePolicy {
    /// Any client property may be overridden (Connect's default since 3.0).
    #[default]
    #[serde(alias = "all")]
    All,
    /// No client property may be overridden: any `*.override.*` is refused.
    #[serde(alias = "none")]
    None,
    /// Only the principal: `sasl.jaas.config`, `sasl.mechanism`, `security.protocol`.
    #[serde(alias = "principal")]
    Principal,
}

impl OverridePolicy {
    fn name(self) -> &'static str {
        match self {
            OverridePolicy::All => "All",
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
        }
    }

    fn allows(self, property: &str) -> bool {
        match self {
            OverridePolicy::All => true,
            OverridePolicy::None => false,
            OverridePolicy::Principal => PRINCIPAL_PROPERTIES.contains(&property),
        }
    }
}

/// A connector's producer overrides: names without the prefix, values
/// trimmed, in the order given. Its `Debug` hides secrets (`sasl.jaas.config`,
/// passwords) as every REST answer does.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProducerOverrides(pub Vec<(String, String)>);

impl std::fmt::Debug for ProducerOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(k, v)| (k, mask_value(k, v)))).finish()
    }
}

/// What a connector's overrides are checked against: the worker's policy
/// and `[kafka.options]` (with which they are translated and combined).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientOverrides {
    pub policy: OverridePolicy,
    /// The worker's `[kafka.options]`, as given.
    pub worker_options: Vec<(String, String)>,
}

/// The worker's options with their secrets hidden.
impl std::fmt::Debug for ClientOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOverrides")
            .field("policy", &self.policy)
            .field("worker_options", &ProducerOverrides(self.worker_options.clone()))
            .finish()
    }
}

/// Why `property` = `value` can never be a producer override; `None` when it can.
fn refusal(property: &str, value: &str) -> Option<&'static str> {
    let v = value.trim().to_ascii_lowercase();
    match property {
        "bootstrap.servers" => Some(
            "a connector's records and its offset record are written in one Kafka transaction to the worker's \
             cluster: set [kafka] bootstrap_servers, or run a worker for the other cluster",
        ),
        "transactional.id" => Some(
            "the worker sets it (<group_id>-<connector>) so that a second instance of the connector fences the first: remove it",
        ),
        "enable.idempotence" if v != "true" => {
            Some("pgcdc's producers are always idempotent (exactly-once needs it; at-least-once keeps order with it): remove it")
        }
        "acks" if v != "all" && v != "-1" => {
            Some("pgcdc's producers are idempotent, which needs acks=all: remove it or set all")
        }
        _ => None,
    }
}

/// Reads every `*.override.*` property: refuses what the policy does not
/// allow and what pgcdc cannot honour, each an error of its property; returns
/// the producer's overrides (names without the prefix, values trimmed).
pub(crate) fn parse(p: &mut Props, rules: &ClientOverrides) -> ProducerOverrides {
    let mut overrides = Vec::new();
    for prefix in CLIENT_PREFIXES {
        for key in p.keys_with_prefix(prefix) {
            let property = &key[prefix.len()..];
            if !rules.policy.allows(property) {
                p.mark_used(&key);
                p.error(
                    &key,
                    format!(
                        "The '{}' policy does not allow '{property}' to be overridden in the connector configuration \
                         (the worker's [worker] connector_client_config_override_policy)",
                        rules.policy.name()
                    ),
                );
                continue;
            }
            if *prefix != PRODUCER_PREFIX {
                continue; // no effect: reported by the parser's foreign-property check
            }
            let Some(value) = p.get_raw(&key) else { continue };
            if let Some(why) = refusal(property, &value) {
                let shown = mask_value(property, value.trim());
                p.error(&key, format!("Invalid value {shown} for configuration {key}: {why}"));
                continue;
            }
            overrides.push((property.to_owned(), value.trim().to_owned()));
        }
    }
    if !overrides.is_empty() {
        if let Err((key, message)) = check_combined(&rules.worker_options, &overrides) {
            p.error(&key, message);
        }
    }
    ProducerOverrides(overrides)
}

/// Translates `[kafka.options]` and `overrides` together, as the sink will,
/// and has librdkafka check the result: `Err((property, message))` naming
/// the override to fix.
fn check_combined(worker: &[(String, String)], overrides: &[(String, String)]) -> Result<(), (String, String)> {
    let combined: Vec<(String, String)> = worker.iter().chain(overrides).cloned().collect();
    let named = |property: &str, reason: String| -> (String, String) {
        if let Some((k, _)) = overrides.iter().find(|(k, _)| k == property) {
            return (format!("{PRODUCER_PREFIX}{k}"), format!("{PRODUCER_PREFIX}{k}: {reason}"));
        }
        // A translated name, or a check across settings: filed under the
        // override it comes from (or the first security one), naming both.
        let source = match property {
            "sasl.username" | "sasl.password" => "sasl.jaas.config",
            "sasl.mechanisms" => "sasl.mechanism",
            "ssl.ca.location" => "ssl.truststore.location",
            _ => "",
        };
        let security = |k: &str| k.starts_with("ssl.") || k.starts_with("sasl.") || k == "security.protocol";
        let key = overrides
            .iter()
            .find(|(k, _)| k == source)
            .or_else(|| overrides.iter().find(|(k, _)| security(k)))
            .or(overrides.first())
            .map_or(String::new(), |(k, _)| k.clone());
        (format!("{PRODUCER_PREFIX}{key}"), format!("with the worker's [kafka.options], {property}: {reason}"))
    };
    let resolved = crate::kafka::security::resolve(&combined).map_err(|e| named(&e.property, e.reason))?;
    crate::kafka::client::check_librdkafka(&resolved.librdkafka, crate::config::secrets::is_secret).map_err(|e| named(&e.property, e.reason))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type Pairs = Vec<(String, String)>;

    /// The overrides parsed from `given`, and the errors as (property, message).
    fn parse_with(rules: &ClientOverrides, given: &[(&str, &str)]) -> (Pairs, Pairs) {
        let raw: BTreeMap<String, String> = given.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut p = Props::new(&raw);
        let out = parse(&mut p, rules).0;
        let (errors, _) = p.finish();
        (out, errors.into_iter().map(|i| (i.property, i.message)).collect())
    }

    #[test]
    fn honourable_overrides_are_returned_without_the_prefix() {
        let (out, errors) = parse_with(
            &ClientOverrides::default(),
            &[
                ("producer.override.compression.type", " zstd "),
                ("producer.override.linger.ms", "20"),
                ("producer.override.acks", "all"),
                ("producer.override.enable.idempotence", "true"),
                ("producer.override.batch.size", "65536"),
            ],
        );
        assert_eq!(errors, []);
        let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["acks", "batch.size", "compression.type", "enable.idempotence", "linger.ms"]);
        assert!(out.contains(&("compression.type".to_owned(), "zstd".to_owned())));
    }

    #[test]
    fn what_breaks_exactly_once_or_the_single_cluster_is_refused_naming_it() {
        for (key, value, why) in [
            ("producer.override.transactional.id", "x", "fences"),
            ("producer.override.enable.idempotence", "false", "idempotent"),
            ("producer.override.acks", "1", "acks=all"),
            ("producer.override.bootstrap.servers", "other:9092", "worker's cluster"),
        ] {
            let (out, errors) = parse_with(&ClientOverrides::default(), &[(key, value)]);
            assert!(out.is_empty(), "{key}");
            assert_eq!(errors.len(), 1, "{key}: {errors:?}");
            assert_eq!(errors[0].0, key);
            assert!(errors[0].1.contains(why), "{key}: {}", errors[0].1);
        }
    }

    #[test]
    fn values_librdkafka_or_the_translation_rejects_are_refused_naming_the_override() {
        for (key, value, words) in [
            ("producer.override.compression.type", "brotli", "zstd"),
            ("producer.override.linger.ms", "-5", "librdkafka"),
            ("producer.override.buffer.memory", "1", "librdkafka"),
            ("producer.override.sasl.mechanism", "GSSAPI", "GSSAPI"),
        ] {
            let (_, errors) = parse_with(&ClientOverrides::default(), &[(key, value)]);
            assert_eq!(errors.len(), 1, "{key}: {errors:?}");
            assert_eq!(errors[0].0, key);
            assert!(errors[0].1.contains(words) && errors[0].1.contains(key), "{key}: {}", errors[0].1);
        }
    }

    #[test]
    fn overrides_are_checked_together_with_the_worker_options() {
        let jaas = r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="c1" password="s3cret";"#;
        let tls_worker = ClientOverrides {
            worker_options: vec![("security.protocol".into(), "SASL_SSL".into()), ("sasl.mechanism".into(), "SCRAM-SHA-512".into())],
            ..Default::default()
        };
        let (out, errors) = parse_with(&tls_worker, &[("producer.override.sasl.jaas.config", jaas)]);
        assert_eq!(errors, []);
        assert_eq!(out.len(), 1);
        // Without SASL on the worker, credentials alone cannot be used: refused, and the
        // password is not in the message.
        let (_, errors) = parse_with(
            &ClientOverrides::default(),
            &[("producer.override.acks", "all"), ("producer.override.sasl.jaas.config", jaas)],
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].0, "producer.override.sasl.jaas.config");
        assert!(errors[0].1.contains("security.protocol") && !errors[0].1.contains("s3cret"), "{}", errors[0].1);
    }

    #[test]
    fn the_policy_governs_every_client_override_family() {
        let none = ClientOverrides { policy: OverridePolicy::None, ..Default::default() };
        let (out, errors) = parse_with(&none, &[("producer.override.linger.ms", "5"), ("admin.override.client.id", "a")]);
        assert!(out.is_empty());
        let mut keys: Vec<&str> = errors.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["admin.override.client.id", "producer.override.linger.ms"]);
        assert!(errors.iter().all(|(_, m)| m.contains("'None' policy") && m.contains("connector_client_config_override_policy")));
        let principal = ClientOverrides {
            policy: OverridePolicy::Principal,
            worker_options: vec![("security.protocol".into(), "SASL_PLAINTEXT".into()), ("sasl.mechanism".into(), "PLAIN".into())],
        };
        let jaas = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";"#;
        let (out, errors) =
            parse_with(&principal, &[("producer.override.sasl.jaas.config", jaas), ("producer.override.linger.ms", "5")]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "producer.override.linger.ms");
        assert!(errors[0].1.contains("'Principal' policy"));
    }

    #[test]
    fn override_secrets_are_hidden_in_refusals() {
        let (_, errors) = parse_with(&ClientOverrides::default(), &[("producer.override.ssl.key.password", "hunter2")]);
        assert!(errors.iter().all(|(_, m)| !m.contains("hunter2")), "{errors:?}");
        assert_eq!(mask_value("producer.override.sasl.jaas.config", "x"), crate::config::secrets::HIDDEN);
        assert_eq!(mask_value("producer.override.ssl.key.password", "x"), crate::config::secrets::HIDDEN);
        assert_eq!(mask_value("producer.override.ssl.keystore.password", "x"), crate::config::secrets::HIDDEN);
        assert_eq!(mask_value("producer.override.linger.ms", "5"), "5");
        let overrides = ProducerOverrides(vec![("sasl.jaas.config".into(), "x password=\"hunter2\";".into()), ("linger.ms".into(), "5".into())]);
        let shown = format!("{overrides:?}");
        assert!(!shown.contains("hunter2") && shown.contains("linger.ms") && shown.contains('5'), "{shown}");
    }
}
