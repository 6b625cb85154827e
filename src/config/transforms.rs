//! The `transforms` chain: `transforms=<alias>,...` and each
//! `transforms.<alias>.type` with its `transforms.<alias>.*` properties.

use crate::config::declarations::{
    CHANGED_GROUP, DECODE_MESSAGE_GROUP, HEADER_TO_VALUE_GROUP, DEFAULT_OUTBOX_ROUTE_BY_FIELD, EVENT_ROUTER_GROUP, LOGICAL_ROUTER_GROUP, REGEX_ROUTER_GROUP,
    TRANSFORMS_GROUP, TRANSFORM_PROPERTIES, UNWRAP_GROUP,
};
use crate::config::properties::{split_list, Props};
use crate::config::transforms_connect;
use crate::transform::predicate::{Condition, Predicate};
use crate::transform::changed::ChangedOptions;
use crate::transform::decode_message::DecodeMessageOptions;
use crate::transform::header_to_value::HeaderToValueOptions;
use crate::transform::logical_router::{LogicalRouterOptions, SchemaNameAdjustment};
use crate::transform::outbox::{AdditionalField, EventRouterOptions, InvalidOperation, Placement};
use crate::transform::router::TopicRewrite;
use crate::transform::unwrap::{AddedField, DeleteTombstoneHandling, UnwrapOptions};
use crate::transform::TransformConfig;

/// Class names (and Connect-style aliases) of Debezium's ExtractNewRecordState.
pub const EXTRACT_NEW_RECORD_STATE: &[&str] = &["io.debezium.transforms.ExtractNewRecordState", "ExtractNewRecordState"];
/// Class names of Debezium's ExtractChangedRecordState.
pub const EXTRACT_CHANGED_RECORD_STATE: &[&str] =
    &["io.debezium.transforms.ExtractChangedRecordState", "ExtractChangedRecordState"];
/// Class names of Kafka's RegexRouter.
pub const REGEX_ROUTER: &[&str] = &["org.apache.kafka.connect.transforms.RegexRouter", "RegexRouter"];

/// Class names of Debezium's ByLogicalTableRouter.
pub const BY_LOGICAL_TABLE_ROUTER: &[&str] = &["io.debezium.transforms.ByLogicalTableRouter", "ByLogicalTableRouter"];
/// Debezium's scripting SMTs (Groovy / JavaScript expressions): refused with the alternative.
const SCRIPTING: &[&str] = &[
    "io.debezium.transforms.Filter",
    "io.debezium.transforms.ContentBasedRouter",
    "io.debezium.transforms.Filter$Value",
    "io.debezium.transforms.ContentBasedRouter$Value",
];
/// Class names of Debezium's DecodeLogicalDecodingMessageContent.
pub const DECODE_MESSAGE: &[&str] = &[
    "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent",
    "DecodeLogicalDecodingMessageContent",
];
/// Class names of Debezium's HeaderToValue.
pub const HEADER_TO_VALUE: &[&str] = &["io.debezium.transforms.HeaderToValue", "HeaderToValue"];
/// Debezium SMTs pgcdc does not run, refused with the reason.
const UNSUPPORTED_DEBEZIUM: &[(&str, &str)] = &[
    ("io.debezium.transforms.TimezoneConverter", "not supported yet by pgcdc"),
    ("io.debezium.transforms.partitions.PartitionRouting", "pgcdc does not set record partitions (the producer's partitioner hashes the key)"),
    ("io.debezium.transforms.SchemaChangeEventFilter", "pgcdc's PostgreSQL connector emits no schema change events, so there is nothing to filter"),
];
/// Class names of Debezium's outbox EventRouter.
pub const EVENT_ROUTER: &[&str] = &["io.debezium.transforms.outbox.EventRouter", "EventRouter"];

const DELETE_TOMBSTONE_MODES: &[(&str, DeleteTombstoneHandling)] = &[
    ("drop", DeleteTombstoneHandling::Drop),
    ("tombstone", DeleteTombstoneHandling::Tombstone),
    ("rewrite", DeleteTombstoneHandling::Rewrite),
    ("rewrite-with-tombstone", DeleteTombstoneHandling::RewriteWithTombstone),
    ("delete-to-tombstone", DeleteTombstoneHandling::DeleteToTombstone),
];

/// Legacy `delete.handling.mode`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LegacyDeleteHandling {
    Drop,
    Rewrite,
    None,
}

/// Whether `sub` (of `transforms.<alias>.<sub>`) is declared for the
/// transform whose properties are in `group`, or for every transform.
fn is_property_of(group: &str, sub: &str) -> bool {
    // Declared once (under ExtractNewRecordState), read by both.
    if group == EVENT_ROUTER_GROUP && sub == "route.by.field" {
        return true;
    }
    TRANSFORM_PROPERTIES.iter().any(|d| {
        (d.group == group || d.group == TRANSFORMS_GROUP) && d.name.strip_prefix("transforms.<alias>.") == Some(sub)
    })
}

/// Parses the whole chain, in `transforms` order.
pub(crate) fn parse_transforms(p: &mut Props) -> Vec<TransformConfig> {
    let predicates = transforms_connect::parse_predicates(p);
    let aliases = p.list("transforms");
    let mut seen = std::collections::BTreeSet::new();
    let mut chain = Vec::new();
    for alias in &aliases {
        if !seen.insert(alias.clone()) {
            p.error("transforms", format!("Duplicate alias provided: {alias}"));
            continue;
        }
        let type_key = format!("transforms.{alias}.type");
        let Some(class) = p.get(&type_key) else {
            p.error(&type_key, format!("Missing required configuration \"{type_key}\" which has no default value."));
            continue;
        };
        let prefix = format!("transforms.{alias}.");
        let condition = parse_condition(p, &prefix, &predicates);
        let before = chain.len();
        let class = class.as_str();
        let mut connect_properties: &[&str] = &[];
        let known: Option<(&str, &str)> = if EXTRACT_NEW_RECORD_STATE.contains(&class) {
            chain.push(TransformConfig::ExtractNewRecordState(parse_unwrap(p, &prefix)));
            Some(("ExtractNewRecordState", UNWRAP_GROUP))
        } else if EXTRACT_CHANGED_RECORD_STATE.contains(&class) {
            chain.push(TransformConfig::ExtractChangedRecordState(ChangedOptions {
                header_changed_name: p.get(&format!("{prefix}header.changed.name")),
                header_unchanged_name: p.get(&format!("{prefix}header.unchanged.name")),
            }));
            Some(("ExtractChangedRecordState", CHANGED_GROUP))
        } else if REGEX_ROUTER.contains(&class) {
            if let Some(rewrite) = parse_rewrite(p, &format!("{prefix}regex"), &format!("{prefix}replacement")) {
                chain.push(TransformConfig::RegexRouter(rewrite));
            }
            Some(("RegexRouter", REGEX_ROUTER_GROUP))
        } else if BY_LOGICAL_TABLE_ROUTER.contains(&class) {
            if let Some(opts) = parse_logical_router(p, &prefix) {
                chain.push(TransformConfig::ByLogicalTableRouter(opts));
            }
            Some(("ByLogicalTableRouter", LOGICAL_ROUTER_GROUP))
        } else if EVENT_ROUTER.contains(&class) {
            if let Some(opts) = parse_event_router(p, &prefix) {
                chain.push(TransformConfig::EventRouter(opts));
            }
            Some(("EventRouter", EVENT_ROUTER_GROUP))
        } else if DECODE_MESSAGE.contains(&class) {
            let opts = DecodeMessageOptions { fields_null_include: p.flag(&format!("{prefix}fields.null.include")) };
            chain.push(TransformConfig::DecodeMessage(opts));
            Some(("DecodeLogicalDecodingMessageContent", DECODE_MESSAGE_GROUP))
        } else if HEADER_TO_VALUE.contains(&class) {
            if let Some(opts) = parse_header_to_value(p, &prefix) {
                chain.push(TransformConfig::HeaderToValue(opts));
            }
            Some(("HeaderToValue", HEADER_TO_VALUE_GROUP))
        } else if let Some((name, properties)) = transforms_connect::lookup(class) {
            if let Some(smt) = transforms_connect::parse_smt(p, &prefix, name) {
                chain.push(TransformConfig::Connect(smt));
            }
            connect_properties = properties;
            Some((name, ""))
        } else {
            None
        };
        if let (Some(Some(condition)), true) = (condition, chain.len() > before) {
            if let Some(last) = chain.pop() {
                chain.push(TransformConfig::Conditional(Box::new(last), condition));
            }
        }
        if let Some((transform, group)) = known {
            for key in p.keys_with_prefix(&prefix) {
                let sub = &key[prefix.len()..];
                let known_sub = if group.is_empty() {
                    connect_properties.contains(&sub) || ["type", "predicate", "negate"].contains(&sub)
                } else {
                    is_property_of(group, sub)
                };
                if !known_sub {
                    p.mark_used(&key);
                    p.warn(format!("property {key} is not a property of {transform} and is ignored"));
                }
            }
        } else if let Some((_, why)) = UNSUPPORTED_DEBEZIUM.iter().find(|(c, _)| *c == class) {
            p.error(&type_key, format!("Invalid value {class} for configuration {type_key}: {why}"));
            for key in p.keys_with_prefix(&prefix) {
                p.mark_used(&key);
            }
        } else if SCRIPTING.contains(&class) {
            p.error(
                &type_key,
                format!(
                    "Invalid value {class} for configuration {type_key}: scripting transforms (Groovy, JavaScript) are not supported by pgcdc; \
                     use predicates (TopicNameMatches, HasHeaderKey, RecordIsTombstone) with org.apache.kafka.connect.transforms.Filter, \
                     or RegexRouter / ByLogicalTableRouter to route"
                ),
            );
            for key in p.keys_with_prefix(&prefix) {
                p.mark_used(&key);
            }
        } else {
            p.error(
                &type_key,
                format!(
                    "Invalid value {class} for configuration {type_key}: unsupported transform; supported: {}, {}, {}, {}, {}, {}, {} and Kafka Connect's {}",
                    EXTRACT_NEW_RECORD_STATE[0], EXTRACT_CHANGED_RECORD_STATE[0], REGEX_ROUTER[0], BY_LOGICAL_TABLE_ROUTER[0],
                    EVENT_ROUTER[0], DECODE_MESSAGE[0], HEADER_TO_VALUE[0], transforms_connect::supported_names()
                ),
            );
            for key in p.keys_with_prefix(&prefix) {
                p.mark_used(&key);
            }
        }
    }
    // `transforms.<alias>.*` for an alias not in the chain: Connect ignores them.
    for key in p.keys_with_prefix("transforms.") {
        let alias = key["transforms.".len()..].split('.').next().unwrap_or_default();
        if !aliases.iter().any(|a| a == alias) {
            p.mark_used(&key);
            p.warn(format!("property {key} belongs to transform alias {alias}, which is not listed in transforms; ignored"));
        }
    }
    chain
}

/// HeaderToValue's `headers`, `fields` (same length, flat names) and `operation`.
fn parse_header_to_value(p: &mut Props, prefix: &str) -> Option<HeaderToValueOptions> {
    let (headers_key, fields_key, op_key) = (format!("{prefix}headers"), format!("{prefix}fields"), format!("{prefix}operation"));
    let mut ok = true;
    for key in [&headers_key, &fields_key, &op_key] {
        if !p.contains(key) {
            p.error(key, format!("Missing required configuration \"{key}\" which has no default value."));
            ok = false;
        }
    }
    let headers = p.list(&headers_key);
    let fields = p.list(&fields_key);
    let operation = p.text(&op_key);
    let move_headers = match operation.to_ascii_lowercase().as_str() {
        "move" => true,
        "copy" => false,
        _ if !ok => false,
        _ => {
            p.error(&op_key, format!("Invalid value {operation} for configuration {op_key}: expected move or copy"));
            ok = false;
            false
        }
    };
    for (key, list) in [(&headers_key, &headers), (&fields_key, &fields)] {
        if let Some(bad) = list.iter().find(|n| n.contains(char::is_whitespace)) {
            p.error(key, format!("Invalid value {bad} for configuration {key}: names must not contain spaces"));
            ok = false;
        }
    }
    if let Some(nested) = fields.iter().find(|f| f.contains('.')) {
        p.error(&fields_key, format!("Invalid value {nested} for configuration {fields_key}: nested fields (dot notation) are not supported by pgcdc; use a top-level field name"));
        ok = false;
    }
    if ok && headers.len() != fields.len() {
        p.error(&fields_key, format!("'{fields_key}' config must have the same number of elements as '{headers_key}' config."));
        ok = false;
    }
    ok.then_some(HeaderToValueOptions { headers, fields, move_headers })
}

/// `transforms.<alias>.predicate` / `.negate`: `None` without a predicate,
/// `Some(None)` after an error.
fn parse_condition(p: &mut Props, prefix: &str, predicates: &[(String, Option<Predicate>)]) -> Option<Option<Condition>> {
    let key = format!("{prefix}predicate");
    let negate_key = format!("{prefix}negate");
    let negate = p.flag(&negate_key);
    let Some(name) = p.get(&key) else {
        if p.contains(&negate_key) {
            p.warn(format!("{negate_key} has no effect without {key}"));
        }
        return None;
    };
    match predicates.iter().find(|(n, _)| *n == name) {
        Some((_, Some(predicate))) => Some(Some(Condition { predicate: predicate.clone(), negate })),
        Some((_, None)) => Some(None),
        None => {
            p.error(&key, format!("Invalid value {name} for configuration {key}: no predicate {name} is listed in predicates"));
            Some(None)
        }
    }
}

fn parse_unwrap(p: &mut Props, prefix: &str) -> UnwrapOptions {
    let key = |name: &str| format!("{prefix}{name}");
    let mode_key = key("delete.tombstone.handling.mode");
    let legacy_drop_key = key("drop.tombstones");
    let legacy_mode_key = key("delete.handling.mode");
    let has_legacy = p.contains(&legacy_drop_key) || p.contains(&legacy_mode_key);
    let legacy_drop = p.flag(&legacy_drop_key);
    let legacy_mode = p.choice(
        &legacy_mode_key,
        &[("drop", LegacyDeleteHandling::Drop), ("rewrite", LegacyDeleteHandling::Rewrite), ("none", LegacyDeleteHandling::None)],
    );
    let delete_tombstone_handling = if p.contains(&mode_key) {
        if has_legacy {
            p.warn(format!(
                "{legacy_drop_key} and {legacy_mode_key} are deprecated and ignored because {mode_key} is set"
            ));
        }
        p.choice(&mode_key, DELETE_TOMBSTONE_MODES)
    } else if has_legacy {
        let mapped = map_legacy(legacy_mode, legacy_drop);
        let name = DELETE_TOMBSTONE_MODES.iter().find(|(_, m)| *m == mapped).map(|(n, _)| *n).unwrap_or("tombstone");
        let mut warning = format!(
            "{legacy_drop_key} and {legacy_mode_key} are deprecated (and no longer read by Debezium 3); \
             treated as {mode_key}={name}: set that instead"
        );
        if legacy_mode == LegacyDeleteHandling::None && !legacy_drop {
            warning.push_str(" (delete.handling.mode=none with drop.tombstones=false has no exact equivalent: deletes now produce only the tombstone)");
        }
        p.warn(warning);
        mapped
    } else {
        p.choice(&mode_key, DELETE_TOMBSTONE_MODES)
    };
    let add_fields = parse_added(p, &key("add.fields"));
    let add_headers = parse_added(p, &key("add.headers"));
    UnwrapOptions {
        delete_tombstone_handling,
        add_fields,
        add_headers,
        add_fields_prefix: p.get_raw(&key("add.fields.prefix")).unwrap_or_else(|| p.default_text(&key("add.fields.prefix"))),
        add_headers_prefix: p.get_raw(&key("add.headers.prefix")).unwrap_or_else(|| p.default_text(&key("add.headers.prefix"))),
        drop_fields_header_name: p.get(&key("drop.fields.header.name")),
        drop_fields_from_key: p.flag(&key("drop.fields.from.key")),
        drop_fields_keep_schema_compatible: p.flag(&key("drop.fields.keep.schema.compatible")),
        route_by_field: p.get(&key("route.by.field")),
        replace_null_with_default: p.flag(&key("replace.null.with.default")),
    }
}

fn parse_logical_router(p: &mut Props, prefix: &str) -> Option<LogicalRouterOptions> {
    let key = |name: &str| format!("{prefix}{name}");
    let topic = parse_rewrite(p, &key("topic.regex"), &key("topic.replacement"));
    let key_enforce_uniqueness = p.flag(&key("key.enforce.uniqueness"));
    let key_field_name = p.text(&key("key.field.name"));
    let key_regex = p.get(&key("key.field.regex"));
    let key_field = match key_regex {
        Some(_) if p.get(&key("key.field.replacement")).is_none() => {
            p.error(
                &key("key.field.replacement"),
                format!("{} must be non-empty if {} is set.", key("key.field.replacement"), key("key.field.regex")),
            );
            None
        }
        Some(_) => parse_rewrite(p, &key("key.field.regex"), &key("key.field.replacement")),
        None => None,
    };
    let adjustment = p.choice(
        &key("schema.name.adjustment.mode"),
        &[("none", SchemaNameAdjustment::None), ("avro", SchemaNameAdjustment::Avro), ("avro_unicode", SchemaNameAdjustment::AvroUnicode)],
    );
    // Only a cache size in Debezium; pgcdc's caches are bounded on their own.
    p.int::<i64>(&key("logical.table.cache.size"));
    Some(LogicalRouterOptions { topic: topic?, key_enforce_uniqueness, key_field_name, key_field, adjustment })
}

fn parse_event_router(p: &mut Props, prefix: &str) -> Option<EventRouterOptions> {
    let key = |name: &str| format!("{prefix}{name}");
    let text_or_none = |p: &mut Props, name: &str| p.get(&key(name));
    // Tracing needs OpenTelemetry, which pgcdc has not: accepted, without effect.
    for name in ["table.field.event.type", "tracing.span.context.field", "tracing.operation.name", "tracing.with.context.field.only"] {
        p.get(&key(name));
    }
    let mut additional_fields = Vec::new();
    let placement_key = key("table.fields.additional.placement");
    if let Some(spec) = p.get(&placement_key) {
        for entry in spec.split(',') {
            let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
            let placement = match parts.get(1).map(|p| p.to_ascii_lowercase()).as_deref() {
                Some("header") => Placement::Header,
                Some("envelope") => Placement::Envelope,
                Some("partition") => {
                    p.error(&placement_key, format!("{entry}: the partition placement is not supported by pgcdc (records keep the partition the producer picks)"));
                    continue;
                }
                _ => {
                    p.error(&placement_key, format!("Invalid value {entry} for configuration {placement_key}: expected <column>:header|envelope[:<alias>]"));
                    continue;
                }
            };
            if parts[0].is_empty() || parts.len() > 3 {
                p.error(&placement_key, format!("Invalid value {entry} for configuration {placement_key}: expected <column>:header|envelope[:<alias>]"));
                continue;
            }
            let field = parts[0].to_owned();
            let alias = parts.get(2).map_or_else(|| field.clone(), |a| (*a).to_owned());
            additional_fields.push(AdditionalField { field, placement, alias });
        }
    }
    let regex_key = key("route.topic.regex");
    let replacement_key = key("route.topic.replacement");
    let regex = p.get_raw(&regex_key).unwrap_or_else(|| p.default_text(&regex_key));
    let replacement = p.get_raw(&replacement_key).unwrap_or_else(|| p.default_text(&replacement_key));
    let route_topic = match TopicRewrite::new(&regex, &replacement) {
        Ok(r) => Some(r),
        Err(err) => {
            let bad = if matches!(err, crate::transform::router::RewriteError::Regex(_)) { &regex_key } else { &replacement_key };
            p.error(bad, format!("Invalid value for configuration {bad}: {err}"));
            None
        }
    };
    let opts = EventRouterOptions {
        field_event_id: p.text(&key("table.field.event.id")),
        field_event_key: Some(p.text(&key("table.field.event.key"))),
        field_payload: p.text(&key("table.field.event.payload")),
        field_event_timestamp: text_or_none(p, "table.field.event.timestamp"),
        field_schema_version: text_or_none(p, "table.field.event.schema.version"),
        route_by_field: p.get(&key("route.by.field")).unwrap_or_else(|| DEFAULT_OUTBOX_ROUTE_BY_FIELD.to_owned()),
        route_topic: route_topic?,
        route_tombstone_on_empty_payload: p.flag(&key("route.tombstone.on.empty.payload")),
        additional_fields,
        ignore_missing_additional: p.choice(&key("table.field.additional.missing"), &[("error", false), ("ignore", true)]),
        invalid_operation: p.choice(
            &key("table.op.invalid.behavior"),
            &[("warn", InvalidOperation::Warn), ("error", InvalidOperation::Error), ("fatal", InvalidOperation::Fatal)],
        ),
        expand_json_payload: p.flag(&key("table.expand.json.payload")),
        json_null_as_bytes: p.choice(&key("table.json.payload.null.behavior"), &[("ignore", false), ("optional_bytes", true)]),
    };
    Some(opts)
}

/// A required `regex` + `replacement` pair (RegexRouter, ByLogicalTableRouter's topic rule).
fn parse_rewrite(p: &mut Props, regex_key: &str, replacement_key: &str) -> Option<TopicRewrite> {
    let regex = p.get_raw(regex_key);
    let replacement = p.get_raw(replacement_key);
    let (Some(regex), Some(replacement)) = (regex, replacement) else {
        for key in [regex_key, replacement_key] {
            if !p.contains(key) {
                p.error(key, format!("Missing required configuration \"{key}\" which has no default value."));
            }
        }
        return None;
    };
    match TopicRewrite::new(&regex, &replacement) {
        Ok(r) => Some(r),
        Err(err @ crate::transform::router::RewriteError::Regex(_)) => {
            p.error(regex_key, format!("Invalid value {regex} for configuration {regex_key}: {err}"));
            None
        }
        Err(err) => {
            p.error(replacement_key, format!("Invalid value {replacement} for configuration {replacement_key}: {err}; use $n or ${{name}} for groups and \\$ for a literal $"));
            None
        }
    }
}

/// The legacy pair → the mode with the same records on the topic:
///
/// | delete.handling.mode | drop.tombstones | delete.tombstone.handling.mode |
/// |---|---|---|
/// | drop (default) | true (default) | drop |
/// | drop | false | tombstone |
/// | rewrite | true | rewrite |
/// | rewrite | false | rewrite-with-tombstone |
/// | none | true | delete-to-tombstone |
/// | none | false | tombstone (closest) |
fn map_legacy(mode: LegacyDeleteHandling, drop_tombstones: bool) -> DeleteTombstoneHandling {
    match (mode, drop_tombstones) {
        (LegacyDeleteHandling::Drop, true) => DeleteTombstoneHandling::Drop,
        (LegacyDeleteHandling::Drop, false) => DeleteTombstoneHandling::Tombstone,
        (LegacyDeleteHandling::Rewrite, true) => DeleteTombstoneHandling::Rewrite,
        (LegacyDeleteHandling::Rewrite, false) => DeleteTombstoneHandling::RewriteWithTombstone,
        (LegacyDeleteHandling::None, true) => DeleteTombstoneHandling::DeleteToTombstone,
        (LegacyDeleteHandling::None, false) => DeleteTombstoneHandling::Tombstone,
    }
}

/// `field` or `field:newname` entries; `field` may be `struct.field`.
fn parse_added(p: &mut Props, key: &str) -> Vec<AddedField> {
    let Some(value) = p.get(key) else { return Vec::new() };
    let mut out = Vec::new();
    for entry in split_list(&value) {
        let mut parts = entry.split(':');
        let field = parts.next().unwrap_or_default().trim();
        let rename = parts.next().map(|r| r.trim().to_owned());
        if parts.next().is_some() || field.is_empty() || field.split('.').count() > 2 || rename.as_deref() == Some("") {
            p.error(key, format!("Unexpected field name: {entry} (expected <field>, <struct>.<field> or <field>:<new name>)"));
            continue;
        }
        out.push(AddedField { field: field.to_owned(), rename });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::transform::logical_router::SchemaNameAdjustment;

    fn parse(pairs: &[(&str, &str)]) -> (Vec<TransformConfig>, Props) {
        let raw: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut p = Props::new(&raw);
        let chain = parse_transforms(&mut p);
        (chain, p)
    }

    #[test]
    fn changed_record_state_and_routers_in_chain_order() {
        let (chain, p) = parse(&[
            ("transforms", "changes,unwrap,route,logical"),
            ("transforms.changes.type", "io.debezium.transforms.ExtractChangedRecordState"),
            ("transforms.changes.header.unchanged.name", "Unchanged"),
            ("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState"),
            ("transforms.unwrap.drop.fields.header.name", "Unchanged"),
            ("transforms.unwrap.drop.fields.from.key", "true"),
            ("transforms.route.type", "org.apache.kafka.connect.transforms.RegexRouter"),
            ("transforms.route.regex", "(.*)_[0-9]+"),
            ("transforms.route.replacement", "$1"),
            ("transforms.logical.type", "io.debezium.transforms.ByLogicalTableRouter"),
            ("transforms.logical.topic.regex", "(.*)"),
            ("transforms.logical.topic.replacement", "$1.all"),
            ("transforms.logical.key.field.regex", "(.*)"),
            ("transforms.logical.key.field.replacement", "id_$1"),
            ("transforms.logical.schema.name.adjustment.mode", "avro"),
        ]);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert_eq!(chain.len(), 4);
        let TransformConfig::ExtractChangedRecordState(c) = &chain[0] else { panic!("{:?}", chain[0]) };
        assert_eq!((c.header_changed_name.as_deref(), c.header_unchanged_name.as_deref()), (None, Some("Unchanged")));
        let TransformConfig::ExtractNewRecordState(u) = &chain[1] else { panic!() };
        assert_eq!(u.drop_fields_header_name.as_deref(), Some("Unchanged"));
        assert!(u.drop_fields_from_key && u.drop_fields_keep_schema_compatible);
        let TransformConfig::RegexRouter(r) = &chain[2] else { panic!() };
        assert_eq!(r.apply("t_12").as_deref(), Some("t"));
        let TransformConfig::ByLogicalTableRouter(l) = &chain[3] else { panic!() };
        assert!(l.key_enforce_uniqueness);
        assert_eq!(l.key_field_name, crate::transform::logical_router::DEFAULT_KEY_FIELD_NAME);
        assert_eq!(l.key_field.as_ref().and_then(|k| k.apply("x")).as_deref(), Some("id_x"));
        assert_eq!(l.adjustment, SchemaNameAdjustment::Avro);
    }

    #[test]
    fn router_errors_name_the_property() {
        let (_, p) = parse(&[
            ("transforms", "l"),
            ("transforms.l.type", "io.debezium.transforms.ByLogicalTableRouter"),
            ("transforms.l.topic.regex", "(.*)"),
            ("transforms.l.topic.replacement", "$2"),
            ("transforms.l.key.field.regex", "x"),
        ]);
        let props: Vec<&str> = p.errors.iter().map(|i| i.property.as_str()).collect();
        assert_eq!(props, ["transforms.l.topic.replacement", "transforms.l.key.field.replacement"], "{:?}", p.errors);
        let (_, p) = parse(&[("transforms", "r"), ("transforms.r.type", "RegexRouter"), ("transforms.r.regex", "(?<=a)b"), ("transforms.r.replacement", "x")]);
        assert_eq!(p.errors[0].property, "transforms.r.regex", "look-behind is not supported");
    }

    #[test]
    fn event_router_defaults_and_refused_partition_placement() {
        let (chain, p) = parse(&[("transforms", "outbox"), ("transforms.outbox.type", "io.debezium.transforms.outbox.EventRouter")]);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let TransformConfig::EventRouter(o) = &chain[0] else { panic!("{:?}", chain[0]) };
        assert_eq!((o.field_event_id.as_str(), o.field_event_key.as_deref(), o.field_payload.as_str()), ("id", Some("aggregateid"), "payload"));
        assert_eq!(o.route_by_field, "aggregatetype");
        assert_eq!(o.route_topic.apply("Order").as_deref(), Some("outbox.event.Order"));
        assert!(!o.expand_json_payload && !o.route_tombstone_on_empty_payload && o.additional_fields.is_empty());
        let (_, p) = parse(&[
            ("transforms", "o"),
            ("transforms.o.type", "EventRouter"),
            ("transforms.o.table.fields.additional.placement", "type:header:t, shard:partition"),
        ]);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert!(p.errors[0].message.contains("partition"), "{:?}", p.errors);
        let (_, p) = parse(&[("transforms", "f"), ("transforms.f.type", "io.debezium.transforms.ContentBasedRouter")]);
        assert!(p.errors[0].message.contains("io.debezium.transforms.ContentBasedRouter"), "{:?}", p.errors);
        assert!(p.errors[0].message.contains("predicates"), "names the alternative: {:?}", p.errors);
        let (_, p) = parse(&[("transforms", "f"), ("transforms.f.type", "org.apache.kafka.connect.transforms.ExtractTopic$Value")]);
        assert!(p.errors[0].message.contains("InsertField$Value"), "the message lists Connect's SMTs: {:?}", p.errors);
    }
}
