//! Tests of [`ConnectorConfig::from_properties`] and [`TableFilter`].

use super::*;
use crate::encode::json::DecimalFormat;
use crate::transform::unwrap::{AddedField, DeleteTombstoneHandling};
use crate::transform::TransformConfig;

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn base() -> BTreeMap<String, String> {
    props(&[
        ("connector.class", POSTGRES_CONNECTOR_CLASS),
        ("database.hostname", "db"),
        ("database.user", "u"),
        ("database.password", "pw"),
        ("database.dbname", "shop"),
        ("plugin.name", "pgoutput"),
    ])
}

fn with(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m = base();
    m.extend(props(extra));
    m
}

fn errors_of(m: &BTreeMap<String, String>) -> ConfigErrors {
    ConnectorConfig::from_properties("c", m).unwrap_err()
}

#[test]
fn example_registration_parses_with_unwrap_adding_op_and_ts_ms() {
    let text = include_str!("../../connectors/postgres-source-connector.json");
    let body: serde_json::Value = serde_json::from_str(text).unwrap();
    let raw: BTreeMap<String, String> = serde_json::from_value(body["config"].clone()).unwrap();
    let (cfg, warnings) = ConnectorConfig::from_properties(body["name"].as_str().unwrap(), &raw).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cfg.topic_prefix(), "ecommerce");
    assert_eq!(cfg.connection.port, 5432);
    assert_eq!(cfg.connection.password.as_ref().map(Secret::expose), Some("postgres"));
    assert_eq!(cfg.table_include_list, ["public.product", "public.stock", "public.sale"]);
    let [TransformConfig::ExtractNewRecordState(unwrap)] = cfg.transforms.as_slice() else {
        panic!("expected one unwrap transform, got {:?}", cfg.transforms);
    };
    let fields: Vec<&str> = unwrap.add_fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["op", "ts_ms"]);
    assert_eq!(unwrap.delete_tombstone_handling, DeleteTombstoneHandling::Tombstone);
    let filter = cfg.table_filter();
    assert!(filter.matches(&TableId::new("public", "stock")));
    assert!(!filter.matches(&TableId::new("public", "stockx")));
}

#[test]
fn defaults_match_debezium() {
    let (cfg, _) = ConnectorConfig::from_properties("c", &base()).unwrap();
    assert_eq!(cfg.slot_name, "debezium");
    assert_eq!(cfg.publication_name, "dbz_publication");
    assert_eq!(cfg.envelope.skipped_operations, vec![Op::Truncate]);
    assert!(cfg.envelope.tombstones_on_delete);
    assert_eq!(cfg.snapshot_mode, SnapshotMode::Initial);
    assert_eq!(cfg.connection.sslmode, SslMode::Prefer);
    assert!(cfg.key_converter.json().unwrap().schemas_enable);
}

#[test]
fn topic_prefix_falls_back_to_server_name_then_dbname() {
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("topic.prefix", "tp"), ("database.server.name", "sn")])).unwrap();
    assert_eq!(cfg.topic_prefix(), "tp");
    let (cfg, warnings) = ConnectorConfig::from_properties("c", &with(&[("database.server.name", "sn")])).unwrap();
    assert_eq!(cfg.topic_prefix(), "sn");
    assert!(warnings.iter().any(|w| w.contains("database.server.name")));
    let (cfg, _) = ConnectorConfig::from_properties("c", &base()).unwrap();
    assert_eq!(cfg.topic_prefix(), "shop");
}

#[test]
fn all_errors_are_collected_and_named() {
    let mut m = with(&[
        ("database.port", "port"),
        ("tombstones.on.delete", "yes"),
        ("decimal.handling.mode", "exact"),
        ("snapshot.mode", "sometimes"),
    ]);
    m.remove("database.hostname");
    let errs = errors_of(&m);
    let named: Vec<&str> = errs.issues().iter().map(|i| i.property.as_str()).collect();
    for p in ["database.hostname", "database.port", "tombstones.on.delete", "decimal.handling.mode", "snapshot.mode"] {
        assert!(named.contains(&p), "{p} missing from {named:?}");
    }
    let decimal = errs.for_property("decimal.handling.mode").next().unwrap();
    assert!(decimal.contains("precise, double, string"), "{decimal}");
    assert!(errs.for_property("database.port").next().unwrap().contains("between 1 and 65535"));
}

#[test]
fn decoderbufs_and_other_classes_are_rejected_clearly() {
    let errs = errors_of(&with(&[("plugin.name", "decoderbufs")]));
    assert!(errs.for_property("plugin.name").next().unwrap().contains("pgoutput"));
    let errs = errors_of(&with(&[("connector.class", "io.debezium.connector.mysql.MySqlConnector")]));
    assert_eq!(errs.issues()[0].property, "connector.class");
    let (_, warnings) = ConnectorConfig::from_properties("c", &with(&[("connector.class", "PostgresConnector")])).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn include_and_exclude_lists_together_are_an_error() {
    let errs = errors_of(&with(&[("table.include.list", "public.a"), ("table.exclude.list", "public.b")]));
    assert_eq!(errs.issues()[0].property, "table.exclude.list");
    let errs = errors_of(&with(&[("schema.include.list", "a"), ("schema.exclude.list", "b")]));
    assert_eq!(errs.issues()[0].property, "schema.exclude.list");
    let errs = errors_of(&with(&[("table.include.list", "public.(")]));
    assert_eq!(errs.issues()[0].property, "table.include.list");
}

#[test]
fn table_filter_has_debezium_semantics() {
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("table.exclude.list", "public\\.audit_.*")])).unwrap();
    let f = cfg.table_filter();
    assert!(f.matches(&TableId::new("public", "orders")));
    assert!(!f.matches(&TableId::new("public", "audit_log")));
    assert!(!f.matches(&TableId::new("pg_catalog", "pg_class")));
    assert!(!f.matches(&TableId::new("information_schema", "tables")));
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("schema.include.list", "inv.*")])).unwrap();
    let f = cfg.table_filter();
    assert!(f.matches(&TableId::new("inventory", "x")));
    assert!(!f.matches(&TableId::new("public", "x")));
    // Anchored: a partial match does not count; case-insensitive like Debezium.
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("table.include.list", "public.ord")])).unwrap();
    assert!(!cfg.table_filter().matches(&TableId::new("public", "orders")));
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("table.include.list", "public.Orders")])).unwrap();
    assert!(cfg.table_filter().matches(&TableId::new("public", "orders")));
}

#[test]
fn snapshot_modes_including_legacy_never() {
    for (v, mode) in [("never", SnapshotMode::NoData), ("no_data", SnapshotMode::NoData), ("initial_only", SnapshotMode::InitialOnly), ("WHEN_NEEDED", SnapshotMode::WhenNeeded)] {
        let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("snapshot.mode", v)])).unwrap();
        assert_eq!(cfg.snapshot_mode, mode, "{v}");
    }
}

#[test]
fn skipped_operations_parse() {
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("skipped.operations", "none")])).unwrap();
    assert!(cfg.envelope.skipped_operations.is_empty());
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("skipped.operations", "c, d")])).unwrap();
    assert_eq!(cfg.envelope.skipped_operations, vec![Op::Create, Op::Delete]);
    let errs = errors_of(&with(&[("skipped.operations", "x")]));
    assert_eq!(errs.issues()[0].property, "skipped.operations");
}

#[test]
fn unknown_properties_warn_and_tuning_knobs_are_reported_without_effect() {
    let (_, warnings) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("tasks.max", "1"),
            ("heartbeat.interval.ms", "1000"),
            ("poll.interval.ms", "500"),
            ("column.propagate.source.type", "x"),
            ("typo.prop", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("typo.prop")));
    assert!(warnings.iter().any(|w| w.contains("column.propagate.source.type")));
    assert!(warnings.iter().any(|w| w.starts_with("poll.interval.ms: accepted, no effect in pgcdc")), "{warnings:?}");
}

#[test]
fn settings_that_would_change_the_output_are_refused_with_the_reason() {
    for (key, value, why) in [
        ("snapshot.select.statement.overrides", "public.t", "cannot be overridden"),
        ("converters", "isbn", "custom converters"),
        ("transaction.boundary", "interval", "whole PostgreSQL transactions"),
    ] {
        let errs = errors_of(&with(&[(key, value)]));
        let issue = errs.issues().iter().find(|i| i.property == key).unwrap_or_else(|| panic!("{key} not refused"));
        assert!(issue.message.contains("not supported by pgcdc") && issue.message.contains(why), "{key}: {}", issue.message);
    }
}

#[test]
fn producer_overrides_reach_the_config_and_unsafe_ones_are_refused() {
    let (cfg, warnings) =
        ConnectorConfig::from_properties("c", &with(&[("producer.override.compression.type", "zstd")])).unwrap();
    assert_eq!(cfg.producer_overrides.0, [("compression.type".to_owned(), "zstd".to_owned())]);
    assert!(warnings.iter().all(|w| !w.contains("producer.override")), "{warnings:?}");
    let errs = errors_of(&with(&[("producer.override.acks", "1")]));
    assert!(errs.for_property("producer.override.acks").any(|m| m.contains("acks=all")), "{errs}");
}

#[test]
fn slot_and_connection_settings_parse() {
    let (cfg, warnings) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("database.initial.statements", "SET a = 1;SET b = ';;'"),
            ("slot.stream.params", "origin=none"),
            ("flush.lsn.source", "false"),
            ("lsn.flush.timeout.ms", "5000"),
            ("lsn.flush.timeout.action", "warn"),
        ]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cfg.connection.initial_statements, vec!["SET a = 1".to_owned(), "SET b = ';'".to_owned()]);
    assert_eq!(cfg.slot.stream_params, vec![("origin".to_owned(), "none".to_owned())]);
    assert!(!cfg.slot.flush_lsn_source);
    assert_eq!(cfg.slot.lsn_flush_timeout, std::time::Duration::from_millis(5000));
    assert_eq!(cfg.slot.lsn_flush_timeout_action, crate::config::slot::LsnFlushTimeoutAction::Warn);
    let errs = errors_of(&with(&[("slot.stream.params", "proto_version=4")]));
    assert_eq!(errs.issues()[0].property, "slot.stream.params");
}

#[test]
fn unwrap_properties_and_legacy_mapping() {
    let unwrap = |extra: &[(&str, &str)]| {
        let mut m = with(&[("transforms", "u"), ("transforms.u.type", "io.debezium.transforms.ExtractNewRecordState")]);
        m.extend(props(extra));
        let (cfg, warnings) = ConnectorConfig::from_properties("c", &m).unwrap();
        let TransformConfig::ExtractNewRecordState(o) = cfg.transforms[0].clone() else { panic!("not an unwrap") };
        (o, warnings)
    };
    let (o, w) = unwrap(&[
        ("transforms.u.delete.tombstone.handling.mode", "rewrite"),
        ("transforms.u.add.fields", "op,source.lsn:pos"),
        ("transforms.u.add.headers", "db"),
        ("transforms.u.add.fields.prefix", "_"),
        ("transforms.u.route.by.field", "kind"),
        ("transforms.u.drop.fields.from.key", "true"),
        ("transforms.u.replace.null.with.default", "false"),
    ]);
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(o.delete_tombstone_handling, DeleteTombstoneHandling::Rewrite);
    assert_eq!(o.add_fields[1], AddedField { field: "source.lsn".into(), rename: Some("pos".into()) });
    assert_eq!(o.add_headers[0].field, "db");
    assert_eq!(o.add_fields_prefix, "_");
    assert_eq!(o.route_by_field.as_deref(), Some("kind"));
    assert!(o.drop_fields_from_key);
    assert!(!o.replace_null_with_default);
    for (mode, drop, expected) in [
        ("drop", "true", DeleteTombstoneHandling::Drop),
        ("drop", "false", DeleteTombstoneHandling::Tombstone),
        ("rewrite", "true", DeleteTombstoneHandling::Rewrite),
        ("rewrite", "false", DeleteTombstoneHandling::RewriteWithTombstone),
        ("none", "true", DeleteTombstoneHandling::DeleteToTombstone),
    ] {
        let (o, w) = unwrap(&[("transforms.u.delete.handling.mode", mode), ("transforms.u.drop.tombstones", drop)]);
        assert_eq!(o.delete_tombstone_handling, expected, "{mode}/{drop}");
        assert!(w.iter().any(|w| w.contains("deprecated")), "{w:?}");
    }
}

#[test]
fn unsupported_transform_type_names_its_property() {
    let errs = errors_of(&with(&[("transforms", "r"), ("transforms.r.type", "io.debezium.transforms.Filter"), ("transforms.r.x", "x")]));
    assert_eq!(errs.issues().len(), 1, "{errs}");
    assert_eq!(errs.issues()[0].property, "transforms.r.type");
    // A RegexRouter without its replacement names the missing property.
    let errs = errors_of(&with(&[("transforms", "r"), ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"), ("transforms.r.regex", "x")]));
    assert_eq!(errs.issues().len(), 1, "{errs}");
    assert_eq!(errs.issues()[0].property, "transforms.r.replacement");
    let errs = errors_of(&with(&[("transforms", "r"), ("transforms.r.type", "RegexRouter"), ("transforms.r.regex", "(x"), ("transforms.r.replacement", "y")]));
    assert_eq!(errs.issues()[0].property, "transforms.r.regex");
    let errs = errors_of(&with(&[("transforms", "r")]));
    assert_eq!(errs.issues()[0].property, "transforms.r.type");
}

#[test]
fn converters_and_topic_creation() {
    let (cfg, _) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("key.converter", JSON_CONVERTER_CLASS),
            ("key.converter.schemas.enable", "false"),
            ("value.converter.decimal.format", "numeric"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.replication.factor", "-1"),
            ("topic.creation.default.cleanup.policy", "compact"),
        ]),
    )
    .unwrap();
    assert!(!cfg.key_converter.json().unwrap().schemas_enable);
    assert_eq!(cfg.value_converter.json().unwrap().decimal_format, DecimalFormat::Numeric);
    assert_eq!(cfg.topic_creation.partitions, 3);
    assert_eq!(cfg.topic_creation.replication_factor, -1);
    assert_eq!(cfg.topic_creation.configs, vec![("cleanup.policy".to_owned(), "compact".to_owned())]);
    let errs = errors_of(&with(&[("value.converter", "io.confluent.connect.avro.AvroConverter"), ("topic.creation.default.partitions", "0")]));
    let named: Vec<&str> = errs.issues().iter().map(|i| i.property.as_str()).collect();
    assert_eq!(named, ["value.converter.schema.registry.url", "topic.creation.default.partitions"]);
}

#[test]
fn password_comes_from_env_provider_and_is_never_printed() {
    std::env::set_var("PGCDC_TEST_CONNECTOR_PW", "from-env");
    let policy = crate::config::providers::ProviderPolicy {
        env: Some(crate::config::providers::EnvProvider { allowed_names: vec!["PGCDC_TEST_*".into()] }),
        file: None,
    };
    let props = with(&[("database.password", "${env:PGCDC_TEST_CONNECTOR_PW}")]);
    let (cfg, _) = ConnectorConfig::with_providers("c", &props, &policy).unwrap();
    let password = cfg.connection.password.clone().unwrap();
    assert_eq!(password.expose(), "from-env");
    assert!(!format!("{cfg:?}").contains("from-env"));
    let unset = with(&[("database.password", "${env:PGCDC_TEST_UNSET_PW_VAR}")]);
    let errs = ConnectorConfig::with_providers("c", &unset, &policy).unwrap_err();
    assert_eq!(errs.issues()[0].property, "database.password");
    // Off by default: the reference is refused, not passed on verbatim.
    let errs = errors_of(&props);
    assert_eq!(errs.issues()[0].property, "database.password");
    assert!(errs.issues()[0].message.contains("[config_providers.env]"), "{errs}");
}

#[test]
fn lifecycle_properties_parse_with_debezium_defaults() {
    let (c, warnings) = ConnectorConfig::from_properties("c", &base()).unwrap();
    assert!(!c.slot_drop_on_stop);
    assert_eq!(c.retry, RetryPolicy::default());
    assert_eq!(c.retry.max_retries, None, "errors.max.retries defaults to -1, no limit");
    let (c, warnings2) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("slot.drop.on.stop", "true"),
            ("errors.max.retries", "3"),
            ("errors.retry.delay.initial.ms", "50"),
            ("errors.retry.delay.max.ms", "400"),
            ("retriable.restart.connector.wait.ms", "2000"),
        ]),
    )
    .unwrap();
    assert_eq!(warnings, warnings2, "no unknown-property warning for the lifecycle properties");
    assert!(c.slot_drop_on_stop);
    assert_eq!(c.retry.max_retries, Some(3));
    assert_eq!(c.retry.delay_initial, std::time::Duration::from_millis(50));
    assert_eq!(c.retry.delay_max, std::time::Duration::from_millis(400));
    assert_eq!(c.retry.restart_wait, std::time::Duration::from_secs(2));
    let e = errors_of(&with(&[("errors.max.retries", "-2"), ("slot.drop.on.stop", "yes")]));
    assert_eq!(e.for_property("errors.max.retries").count(), 1, "{e}");
    assert_eq!(e.for_property("slot.drop.on.stop").count(), 1, "{e}");
    let e = errors_of(&with(&[("errors.retry.delay.initial.ms", "500"), ("errors.retry.delay.max.ms", "100")]));
    assert_eq!(e.for_property("errors.retry.delay.max.ms").count(), 1, "{e}");
}

#[test]
fn tls_files_are_parsed_and_paired() {
    let (cfg, warnings) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("database.sslmode", "verify-full"),
            ("database.sslrootcert", " /etc/pg/root.crt "),
            ("database.sslcert", "/etc/pg/client.crt"),
            ("database.sslkey", "/etc/pg/client.key"),
        ]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(cfg.connection.sslmode, SslMode::VerifyFull);
    assert_eq!(cfg.connection.sslrootcert.as_deref(), Some(std::path::Path::new("/etc/pg/root.crt")));
    assert_eq!(cfg.connection.sslcert.as_deref(), Some(std::path::Path::new("/etc/pg/client.crt")));
    assert_eq!(cfg.connection.sslkey.as_deref(), Some(std::path::Path::new("/etc/pg/client.key")));

    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("database.sslrootcert", "")])).unwrap();
    assert_eq!(cfg.connection.sslrootcert, None, "empty means unset");

    let errors = errors_of(&with(&[("database.sslcert", "/c.crt")]));
    assert_eq!(errors.for_property("database.sslkey").count(), 1, "{errors}");
    let errors = errors_of(&with(&[("database.sslkey", "/c.key")]));
    assert_eq!(errors.for_property("database.sslcert").count(), 1, "{errors}");
}

#[test]
fn tls_password_is_accepted_with_a_warning() {
    let (_, warnings) = ConnectorConfig::from_properties("c", &with(&[("database.sslpassword", "pw")])).unwrap();
    assert!(warnings.iter().any(|w| w.contains("database.sslpassword") && !w.contains("unknown")), "{warnings:?}");
    assert!(definitions::is_secret("database.sslpassword"));
    assert!(definitions::find("database.sslrootcert").is_some());
}

#[test]
fn message_prefix_lists_filter_whole_prefixes() {
    let (cfg, warnings) = ConnectorConfig::from_properties("c", &with(&[("message.prefix.include.list", "audit.*,Ops")])).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let f = cfg.message_filter();
    assert!(f.matches("audit"));
    assert!(f.matches("audit_log"));
    assert!(f.matches("ops"), "case-insensitive like Debezium's filters");
    assert!(!f.matches("xops"), "anchored");
    let (cfg, _) = ConnectorConfig::from_properties("c", &with(&[("message.prefix.exclude.list", "noise")])).unwrap();
    assert!(!cfg.message_filter().matches("noise"));
    assert!(cfg.message_filter().matches("noisy"));
    let (cfg, _) = ConnectorConfig::from_properties("c", &base()).unwrap();
    assert!(cfg.message_filter().matches("anything"));
    let errs = errors_of(&with(&[("message.prefix.include.list", "a"), ("message.prefix.exclude.list", "b")]));
    assert!(errs.0.iter().any(|e| e.property == "message.prefix.exclude.list"), "{errs:?}");
    let errs = errors_of(&with(&[("message.prefix.include.list", "(")]));
    assert!(errs.0.iter().any(|e| e.property == "message.prefix.include.list"), "{errs:?}");
}

#[test]
fn column_options_parse_with_debezium_names() {
    use crate::config::columns::{HashAlgorithm, HashMask};
    let (cfg, warnings) = ConnectorConfig::from_properties(
        "c",
        &with(&[
            ("column.exclude.list", r"public\.t\.secret"),
            ("column.mask.with.5.chars", r"public\.t\.a,public\.t\.b"),
            ("column.truncate.to.12.chars", r"public\.t\.c"),
            ("column.mask.hash.SHA-256.with.salt.s.a.l.t", r"public\.t\.d"),
            ("column.mask.hash.v2.MD5.with.salt.pepper", r"public\.t\.e"),
            ("message.key.columns", "public.orders:region,order_no; (.*).items:sku"),
            ("pgcdc.streaming", "false"),
        ]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "every column option is known: {warnings:?}");
    let c = &cfg.columns;
    assert_eq!(c.exclude_list, vec![r"public\.t\.secret"]);
    assert_eq!(c.mask_with, vec![(5, vec![r"public\.t\.a".to_owned(), r"public\.t\.b".to_owned()])]);
    assert_eq!(c.truncate_to, vec![(12, vec![r"public\.t\.c".to_owned()])]);
    assert!(c.mask_hash.contains(&HashMask {
        algorithm: HashAlgorithm::Sha256,
        salt: "s.a.l.t".into(),
        v2: false,
        columns: vec![r"public\.t\.d".into()]
    }));
    assert!(c.mask_hash.iter().any(|h| h.v2 && h.algorithm == HashAlgorithm::Md5 && h.salt == "pepper"));
    assert_eq!(
        c.message_key_columns,
        vec![
            ("public.orders".to_owned(), vec!["region".to_owned(), "order_no".to_owned()]),
            ("(.*).items".to_owned(), vec!["sku".to_owned()])
        ]
    );
    assert!(!cfg.streaming);
    assert!(ConnectorConfig::from_properties("c", &base()).unwrap().0.streaming, "streaming is on by default");
}

#[test]
fn malformed_column_options_are_errors() {
    for (key, value) in [
        ("column.mask.with.0.chars", "x"),
        ("column.truncate.to.many.chars", "x"),
        ("column.mask.hash.WHIRLPOOL.with.salt.s", "x"),
        ("column.mask.hash.SHA-256", "x"),
        ("message.key.columns", "public.orders"),
        ("column.exclude.list", "(unclosed"),
    ] {
        let errs = errors_of(&with(&[(key, value)]));
        assert!(errs.0.iter().any(|e| e.property == key), "{key}={value}: {errs:?}");
    }
    let errs = errors_of(&with(&[("column.include.list", "a"), ("column.exclude.list", "b")]));
    assert!(errs.0.iter().any(|e| e.property == "column.exclude.list"), "{errs:?}");
}

#[test]
fn slot_publication_and_connector_names_are_checked_at_registration() {
    for bad in ["Bad-Slot", "slot; DROP TABLE victim", "slot\"x", "ünï", &"s".repeat(64)] {
        let errs = errors_of(&with(&[("slot.name", bad)]));
        let msg = errs.for_property("slot.name").next().unwrap_or_else(|| panic!("{bad:?} accepted: {errs}"));
        assert!(msg.contains("lowercase") && msg.contains("63"), "{msg}");
    }
    for good in ["debezium", "slot_1", &"s".repeat(63)] {
        ConnectorConfig::from_properties("c", &with(&[("slot.name", good)])).unwrap();
    }
    // Quoted everywhere: any characters, but PostgreSQL's length limit.
    ConnectorConfig::from_properties("c", &with(&[("publication.name", "Pub-\"x\"")])).unwrap();
    let errs = errors_of(&with(&[("publication.name", &"p".repeat(64))]));
    assert_eq!(errs.for_property("publication.name").count(), 1, "{errs}");

    let long = "n".repeat(MAX_CONNECTOR_NAME_BYTES + 1);
    let errs = ConnectorConfig::from_properties(&long, &base()).unwrap_err();
    assert!(errs.for_property("name").next().unwrap().contains("249"), "{errs}");
    ConnectorConfig::from_properties(&"n".repeat(MAX_CONNECTOR_NAME_BYTES), &base()).unwrap();
}

/// The compose stack's connector files parse as pgcdc reads them, with the
/// password from the secret file the stack mounts (`deploy/compose`).
#[test]
fn compose_stack_connector_files_parse_with_their_secret() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let secrets = tempfile::tempdir().unwrap();
    std::fs::copy(root.join("deploy/compose/postgres_password.properties"), secrets.path().join("postgres_password")).unwrap();
    let policy = crate::config::providers::ProviderPolicy {
        env: None,
        file: Some(crate::config::providers::FileProvider { allowed_paths: vec![secrets.path().to_path_buf()], ..Default::default() }),
    };
    let dir = root.join("deploy/compose/connectors");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace("/run/secrets", &secrets.path().display().to_string());
        let (name, raw) = crate::connect::parse_connector_file(text.as_bytes()).unwrap();
        let (cfg, warnings) = ConnectorConfig::with_providers(&name, &raw, &policy).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        assert_eq!(cfg.connection.password.as_ref().map(Secret::expose), Some("postgres"), "{}", path.display());
        assert_eq!(cfg.connection.host, "postgres");
        names.push((name, cfg.slot_name.clone()));
    }
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_ne!(names[0].1, names[1].1, "each connector has its own slot: {names:?}");
}

/// The Kubernetes example overlay's connector files parse, the password from the secret
/// the pod mounts at /run/secrets/pgcdc.
#[test]
fn kubernetes_overlay_connector_files_parse_with_their_secret() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let secrets = tempfile::tempdir().unwrap();
    std::fs::write(secrets.path().join("db.properties"), "password=from-the-secret\n").unwrap();
    let policy = crate::config::providers::ProviderPolicy {
        env: None,
        file: Some(crate::config::providers::FileProvider { allowed_paths: vec![secrets.path().to_path_buf()], ..Default::default() }),
    };
    let dir = root.join("deploy/kubernetes/overlays/example/connectors");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap().replace("/run/secrets/pgcdc", &secrets.path().display().to_string());
        let (name, raw) = crate::connect::parse_connector_file(text.as_bytes()).unwrap();
        let (cfg, warnings) = ConnectorConfig::with_providers(&name, &raw, &policy).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        assert_eq!(cfg.connection.password.as_ref().map(Secret::expose), Some("from-the-secret"));
        seen += 1;
    }
    assert_eq!(seen, 1);
}

#[test]
fn several_hosts_follow_libpq_and_slot_failover_parses() {
    let (cfg, warnings) = ConnectorConfig::from_properties(
        "c",
        &with(&[("database.hostname", "pg-a, pg-b:5433,[::1]:6000,::1"), ("database.port", "5444"), ("slot.failover", "true")]),
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(cfg.slot.failover);
    let hosts = cfg.connection.endpoints().unwrap();
    let want = [("pg-a", 5444), ("pg-b", 5433), ("::1", 6000), ("::1", 5444)];
    assert_eq!(hosts, want.map(|(h, p)| (h.to_owned(), p)).to_vec());
    assert!(!ConnectorConfig::from_properties("c", &base()).unwrap().0.slot.failover, "off by default");
    for bad in ["a,,b", "a:0", "a:x", "[::1", "[::1]x"] {
        let errs = errors_of(&with(&[("database.hostname", bad)]));
        assert_eq!(errs.issues()[0].property, "database.hostname", "{bad}: {errs}");
    }
}

#[test]
fn field_name_adjustment_mode_and_the_avro_converter_default() {
    use crate::envelope::FieldNameAdjustment as F;
    let mode = |props: &[(&str, &str)]| ConnectorConfig::from_properties("c", &with(props)).unwrap().0.envelope.field_names;
    assert_eq!(mode(&[]), F::None);
    assert_eq!(mode(&[("field.name.adjustment.mode", "avro")]), F::Avro);
    assert_eq!(mode(&[("field.name.adjustment.mode", "AVRO_UNICODE")]), F::AvroUnicode);
    // Debezium's fieldNameAdjuster(): none with Confluent's AvroConverter adjusts as avro.
    let avro = [("value.converter", "io.confluent.connect.avro.AvroConverter"), ("value.converter.schema.registry.url", "http://r:8081")];
    assert_eq!(mode(&avro), F::Avro);
    assert_eq!(mode(&[avro[0], avro[1], ("field.name.adjustment.mode", "avro_unicode")]), F::AvroUnicode);
    // sanitize.field.names is gone from Debezium 3.6.3: accepted without effect.
    assert_eq!(mode(&[("sanitize.field.names", "true")]), F::None);
    assert!(errors_of(&with(&[("field.name.adjustment.mode", "x")])).issues().iter().any(|i| i.property == "field.name.adjustment.mode"));
}
