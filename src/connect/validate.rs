//! `GET /connector-plugins` and `PUT /connector-plugins/{plugin}/config/validate`
//! in Kafka Connect's shapes. Both list the declarations of
//! [`crate::config::declarations`], the ones the parser reads its defaults from.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::config::connector::{ConnectorConfig, JSON_CONVERTER_CLASS, POSTGRES_CONNECTOR_ALIASES, POSTGRES_CONNECTOR_CLASS};
use crate::config::definitions::{self, PropertyDef, GROUPS, PROPERTIES};
use crate::config::overrides::ClientOverrides;
use crate::config::providers::ProviderPolicy;
use crate::config::secrets::mask_value;
use crate::config::ConfigErrors;

/// The Debezium release whose connector pgcdc stands in for.
pub const DEBEZIUM_VERSION: &str = "3.6.3.Final";
/// The Confluent AvroConverter release whose output pgcdc's AvroConverter matches.
pub const AVRO_CONVERTER_VERSION: &str = "7.0.16";
/// The Kafka Connect release whose transforms and predicates pgcdc implements.
pub const KAFKA_CONNECT_VERSION: &str = "4.3.0";

/// The plugins list; with `all`, transforms and converters too (`connectorsOnly=false`).
pub fn plugins(all: bool) -> Vec<Value> {
    let mut out = vec![json!({ "class": POSTGRES_CONNECTOR_CLASS, "type": "source", "version": DEBEZIUM_VERSION })];
    if all {
        for class in [
            "io.debezium.transforms.ByLogicalTableRouter",
            "io.debezium.transforms.ExtractChangedRecordState",
            "io.debezium.transforms.ExtractNewRecordState",
            "io.debezium.transforms.HeaderToValue",
            "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent",
        ] {
            out.push(json!({ "class": class, "type": "transformation", "version": DEBEZIUM_VERSION }));
        }
        out.push(json!({ "class": "io.debezium.transforms.outbox.EventRouter", "type": "transformation", "version": DEBEZIUM_VERSION }));
        out.push(json!({ "class": "org.apache.kafka.connect.transforms.RegexRouter", "type": "transformation", "version": KAFKA_CONNECT_VERSION }));
        for (class, kind) in crate::config::connect_plugin_classes() {
            out.push(json!({ "class": class, "type": kind, "version": KAFKA_CONNECT_VERSION }));
        }
        out.push(json!({ "class": crate::encode::avro::AVRO_CONVERTER_CLASS, "type": "converter", "version": AVRO_CONVERTER_VERSION }));
        out.push(json!({ "class": JSON_CONVERTER_CLASS, "type": "converter", "version": env!("CARGO_PKG_VERSION") }));
        out.push(json!({ "class": crate::encode::cloudevents::CLOUD_EVENTS_CONVERTER_CLASS, "type": "converter", "version": DEBEZIUM_VERSION }));
    }
    out
}

/// Whether `plugin` names the PostgreSQL connector (by class or alias).
pub fn check_plugin(plugin: &str) -> Result<(), String> {
    if plugin == POSTGRES_CONNECTOR_CLASS || POSTGRES_CONNECTOR_ALIASES.contains(&plugin) {
        Ok(())
    } else {
        Err(format!("Failed to find any class that implements Connector and which name matches {plugin}; available: {POSTGRES_CONNECTOR_CLASS}"))
    }
}

fn definition(d: &PropertyDef, order: usize) -> Value {
    json!({
        "name": d.name,
        "type": d.kind.name(),
        "required": d.required,
        "default_value": d.default.render(),
        "importance": if d.required { "HIGH" } else { "MEDIUM" },
        "documentation": d.documentation,
        "group": d.group,
        "width": "MEDIUM",
        "display_name": d.name,
        "dependents": [],
        "order": order,
    })
}

/// `GET /connector-plugins/{plugin}/config`: the definitions.
pub fn definitions() -> Value {
    Value::Array(PROPERTIES.iter().enumerate().map(|(i, d)| definition(d, i + 1)).collect())
}

/// Validates `config` as Connect's validate endpoint does, expanding config
/// providers under `providers` and checking client overrides against
/// `overrides`; `Err` for a request that cannot be validated
/// at all (unknown plugin, mismatched class). Values are shown as written,
/// secrets masked; no message shows what a provider resolved to.
pub fn validate(
    plugin: &str,
    config: BTreeMap<String, String>,
    providers: &ProviderPolicy,
    overrides: &ClientOverrides,
) -> Result<Value, String> {
    validate_with(plugin, config, providers, overrides, Vec::new())
}

/// How long `validate` waits for the database checks of a config that parsed.
pub const DATABASE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// [`validate`], and when the config parses, the checks of `pgcdc check` against its
/// database (as Debezium's validate connects to it): each failed check is an error of
/// the property it concerns, with its fix.
pub async fn validate_live(
    plugin: &str,
    config: BTreeMap<String, String>,
    providers: &ProviderPolicy,
    overrides: &ClientOverrides,
) -> Result<Value, String> {
    let name = config.get("name").cloned().unwrap_or_else(|| "validate".to_owned());
    let mut extra = Vec::new();
    if let Ok((parsed, _)) = ConnectorConfig::parse(&name, &config, providers, overrides) {
        let findings = match tokio::time::timeout(DATABASE_CHECK_TIMEOUT, crate::source::postgres::preflight::check(&parsed)).await {
            Ok(f) => f,
            Err(_) => vec![crate::source::postgres::preflight::Finding {
                check: "connection",
                verdict: crate::source::postgres::preflight::Verdict::Fail,
                detail: format!("the database did not answer within {} s", DATABASE_CHECK_TIMEOUT.as_secs()),
                fix: Some("check database.hostname and database.port, and the network between the worker and the database".to_owned()),
            }],
        };
        extra = database_issues(&findings);
    }
    validate_with(plugin, config, providers, overrides, extra)
}

/// The failed checks as errors of the properties they concern.
fn database_issues(findings: &[crate::source::postgres::preflight::Finding]) -> Vec<crate::config::ConfigIssue> {
    use crate::source::postgres::preflight::Verdict;
    findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .map(|f| {
            let property = match f.check {
                "max_replication_slots" | "slot" => "slot.name",
                "replication privilege" | "select privilege" => "database.user",
                "publication" => "publication.name",
                "replica identity" | "captured tables" => "table.include.list",
                _ => "database.hostname",
            };
            let message = match &f.fix {
                Some(fix) => format!("{}: {}; fix: {fix}", f.check, f.detail),
                None => format!("{}: {}", f.check, f.detail),
            };
            crate::config::ConfigIssue { property: property.to_owned(), message }
        })
        .collect()
}

fn validate_with(
    plugin: &str,
    mut config: BTreeMap<String, String>,
    providers: &ProviderPolicy,
    overrides: &ClientOverrides,
    database: Vec<crate::config::ConfigIssue>,
) -> Result<Value, String> {
    check_plugin(plugin)?;
    match config.get("connector.class") {
        None => {
            config.insert("connector.class".to_owned(), plugin.to_owned());
        }
        Some(class) if check_plugin(class).is_err() => {
            return Err(format!("Included connector type {class} does not match request type {plugin}"));
        }
        Some(_) => {}
    }
    let name = config.get("name").cloned().unwrap_or_default();
    let errors = match ConnectorConfig::parse(&name, &config, providers, overrides) {
        Ok(_) => ConfigErrors(Vec::new()),
        Err(e) => e,
    };
    let mut issues = errors.0;
    issues.extend(database);
    if name.trim().is_empty() {
        issues.push(crate::config::ConfigIssue {
            property: "name".to_owned(),
            message: "Missing required configuration \"name\" which has no default value.".to_owned(),
        });
    }
    let errors = ConfigErrors(issues);
    let mut configs = Vec::new();
    let mut order = 0;
    let mut entry = |def: Value, name: &str, value: Option<String>| {
        let value = value.map(|v| mask_value(name, &v));
        let errs: Vec<&str> = errors.for_property(name).collect();
        configs.push(json!({
            "definition": def,
            "value": { "name": name, "value": value, "recommended_values": [], "errors": errs, "visible": true },
        }));
    };
    for d in PROPERTIES {
        order += 1;
        let value = config.get(d.name).cloned().or_else(|| d.default.render());
        entry(definition(d, order), d.name, value);
    }
    // Properties outside the table that were given (transforms.<alias>.*, …) or have errors.
    let mut extra: Vec<String> = config.keys().filter(|k| definitions::find(k).is_none()).cloned().collect();
    for issue in errors.issues() {
        if definitions::find(&issue.property).is_none() && !extra.contains(&issue.property) {
            extra.push(issue.property.clone());
        }
    }
    for name in extra {
        order += 1;
        let group = match name.strip_prefix("transforms.").and_then(|r| r.split('.').next()) {
            Some(alias) => format!("Transforms: {alias}"),
            None => "Common".to_owned(),
        };
        // A property pgcdc does not implement says so ("accepted, no effect in pgcdc").
        let documentation = match definitions::foreign_verdict(&name, config.get(&name).map_or("", String::as_str)) {
            Ok(Some(note)) => note,
            _ => String::new(),
        };
        let def = json!({
            "name": name, "type": "STRING", "required": false, "default_value": null, "importance": "LOW",
            "documentation": documentation, "group": group, "width": "NONE", "display_name": name, "dependents": [], "order": order,
        });
        entry(def, &name, config.get(&name).cloned());
    }
    let mut groups: Vec<String> = GROUPS.iter().map(|g| (*g).to_owned()).collect();
    for c in &configs {
        if let Some(g) = c["definition"]["group"].as_str() {
            if !groups.iter().any(|x| x == g) {
                groups.push(g.to_owned());
            }
        }
    }
    Ok(json!({
        "name": POSTGRES_CONNECTOR_CLASS,
        "error_count": errors.issues().len(),
        "groups": groups,
        "configs": configs,
    }))
}
