//! The declarations, the parser, the REST API and the README agree: every
//! property the parser reads is declared (the getters panic otherwise) and
//! every declaration is read; defaults are the stages' own; the validate
//! endpoint lists every declaration with its default; the README's table is
//! the rendering of the declarations.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::connector::{ConnectorConfig, POSTGRES_CONNECTOR_CLASS};
use crate::config::definitions::{self, Check, DefaultValue, PATTERNS, PROPERTIES, TRANSFORM_PROPERTIES};
use crate::config::properties::Props;
use crate::config::providers::ProviderPolicy;

fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn base() -> Vec<(&'static str, &'static str)> {
    vec![
        ("name", "c"),
        ("connector.class", POSTGRES_CONNECTOR_CLASS),
        ("database.hostname", "db"),
        ("database.user", "u"),
        ("database.dbname", "shop"),
        ("plugin.name", "pgoutput"),
    ]
}

/// Configurations that take every branch of the parser that reads a property.
fn exercising_configs() -> Vec<BTreeMap<String, String>> {
    let mut json = base();
    json.extend([
        ("transforms", "u,c,r,l,o"),
        ("transforms.o.type", "io.debezium.transforms.outbox.EventRouter"),
        ("transforms.o.table.fields.additional.placement", "type:header:eventType"),
        ("transforms.u.type", "io.debezium.transforms.ExtractNewRecordState"),
        ("transforms.c.type", "io.debezium.transforms.ExtractChangedRecordState"),
        ("transforms.r.type", "org.apache.kafka.connect.transforms.RegexRouter"),
        ("transforms.r.regex", "(.*)"),
        ("transforms.r.replacement", "$1"),
        ("transforms.l.type", "io.debezium.transforms.ByLogicalTableRouter"),
        ("transforms.l.topic.regex", "(.*)"),
        ("transforms.l.topic.replacement", "$1"),
        ("transforms.l.key.field.regex", "(.*)"),
        ("transforms.l.key.field.replacement", "$1"),
        ("column.mask.with.3.chars", "public.t.c"),
        ("column.truncate.to.3.chars", "public.t.c"),
        ("column.mask.hash.SHA-256.with.salt.s", "public.t.c"),
        ("column.mask.hash.v2.MD5.with.salt.s", "public.t.c"),
        ("topic.creation.default.cleanup.policy", "compact"),
        ("database.sslcert", "c.pem"),
    ]);
    let mut legacy = base();
    legacy.extend([
        ("transforms", "u"),
        ("transforms.u.type", "ExtractNewRecordState"),
        ("transforms.u.drop.tombstones", "false"),
        ("transforms.u.delete.tombstone.handling.mode", "drop"),
        ("topic.prefix", "p"),
    ]);
    let mut avro = base();
    avro.extend([
        ("key.converter", "io.confluent.connect.avro.AvroConverter"),
        ("value.converter", "io.confluent.connect.avro.AvroConverter"),
        ("key.converter.schema.registry.url", "http://r:8081"),
        ("value.converter.schema.registry.url", "http://r:8081"),
        ("key.converter.basic.auth.credentials.source", "USER_INFO"),
        ("value.converter.basic.auth.credentials.source", "USER_INFO"),
        ("signal.enabled.channels", "source"),
        ("producer.override.linger.ms", "10"),
    ]);
    let mut cloud_events = base();
    cloud_events.extend([
        ("value.converter", "io.debezium.converters.CloudEventsConverter"),
        ("transforms", "d,h"),
        ("transforms.d.type", "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent"),
        ("transforms.h.type", "io.debezium.transforms.HeaderToValue"),
        ("transforms.h.headers", "a"),
        ("transforms.h.fields", "b"),
        ("transforms.h.operation", "copy"),
    ]);
    [json, legacy, avro, cloud_events].iter().map(|c| props(c)).collect()
}

/// The names the parser asks for (through [`Props`]) on `config`.
fn asked(config: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut p = Props::with_providers(config, &ProviderPolicy::default());
    crate::config::connector::parse_into(&mut p, "c", &Default::default());
    p.asked().clone()
}

/// The declaration a name was read under, by its declared name.
fn declared_name(name: &str) -> &'static str {
    definitions::lookup(name).map(|d| d.name).unwrap_or_else(|| panic!("{name} is read but not declared"))
}

#[test]
fn every_property_the_parser_reads_is_declared_and_every_declaration_is_read() {
    let mut read = BTreeSet::new();
    for config in exercising_configs() {
        for name in asked(&config) {
            read.insert(declared_name(&name));
        }
    }
    let unread: Vec<&str> = PROPERTIES
        .iter()
        .chain(PATTERNS)
        .chain(TRANSFORM_PROPERTIES)
        .filter(|d| d.check != Check::NoEffect && !read.contains(d.name))
        .map(|d| d.name)
        .collect();
    assert!(unread.is_empty(), "declared but never read by the parser (remove the declaration or read it): {unread:?}");
}

#[test]
#[should_panic(expected = "has no declaration")]
fn reading_an_undeclared_property_panics_in_tests() {
    let mut p = Props::with_providers(&BTreeMap::new(), &ProviderPolicy::default());
    let _ = p.get("database.undeclared.thing");
}

#[test]
#[should_panic(expected = "is read as a boolean")]
fn reading_a_property_otherwise_than_declared_panics_in_tests() {
    let mut p = Props::with_providers(&BTreeMap::new(), &ProviderPolicy::default());
    let _ = p.flag("database.port");
}

#[test]
fn declarations_are_unique_and_well_formed() {
    let mut names = BTreeSet::new();
    for d in PROPERTIES.iter().chain(PATTERNS).chain(TRANSFORM_PROPERTIES) {
        assert!(names.insert(d.name), "{} declared twice", d.name);
        assert!(!d.documentation.is_empty(), "{} has no documentation", d.name);
        assert!(!(d.required && d.default != DefaultValue::None), "{} is required and has a default", d.name);
        match (d.check, d.default) {
            (Check::Int { min, max }, DefaultValue::Int(n)) => assert!((min..=max).contains(&n), "{}: default {n} out of bounds", d.name),
            (Check::Int { .. }, _) => panic!("{}: an integer needs an integer default", d.name),
            (Check::Bool, DefaultValue::Bool(_)) => {}
            (Check::Bool, _) => panic!("{}: a boolean needs a boolean default", d.name),
            (Check::Choice(c), DefaultValue::Str(s)) => assert!(c.contains(&s), "{}: default {s} not among {c:?}", d.name),
            (Check::Choice(_), _) => panic!("{}: a choice needs a default", d.name),
            _ => {}
        }
        if let Some(pattern) = d.name.find('<') {
            assert!(PROPERTIES.iter().all(|p| p.name != d.name), "{}", d.name);
            assert!(pattern > 0);
        }
    }
}

#[test]
fn parsed_defaults_are_the_stages_own_defaults() {
    use crate::encode::json::JsonOptions;
    use crate::encode::ConverterConfig;
    let mut raw = base();
    raw.extend([("transforms", "u"), ("transforms.u.type", "ExtractNewRecordState")]);
    let (cfg, _) = ConnectorConfig::from_properties("c", &props(&raw)).unwrap();
    assert_eq!(cfg.values, crate::config::values::ValueOptions::default());
    assert_eq!(cfg.heartbeat, crate::heartbeat::HeartbeatConfig::default());
    assert_eq!(cfg.retry, crate::config::connector::RetryPolicy::default());
    assert_eq!(cfg.topic_creation, crate::config::connector::TopicCreation::default());
    assert_eq!(cfg.key_converter, ConverterConfig::Json(JsonOptions::default()));
    assert_eq!(cfg.value_converter, ConverterConfig::Json(JsonOptions::default()));
    let envelope = crate::envelope::EnvelopeOptions::new("shop", "shop");
    assert_eq!(cfg.envelope, envelope);
    assert_eq!(cfg.connection.sslmode, Default::default());
    assert_eq!(cfg.snapshot_mode, Default::default());
    assert_eq!(cfg.publication_autocreate_mode, Default::default());
    let [crate::transform::TransformConfig::ExtractNewRecordState(unwrap)] = cfg.transforms.as_slice() else { panic!() };
    assert_eq!(*unwrap, crate::transform::unwrap::UnwrapOptions::default());
}

#[test]
fn validate_and_the_definitions_list_every_declaration_with_its_default() {
    let defs = crate::connect::validate::definitions();
    let listed: Vec<&str> = defs.as_array().unwrap().iter().filter_map(|d| d["name"].as_str()).collect();
    let declared: Vec<&str> = PROPERTIES.iter().map(|d| d.name).collect();
    assert_eq!(listed, declared);
    let config: BTreeMap<String, String> = props(&base());
    let v = crate::connect::validate::validate(POSTGRES_CONNECTOR_CLASS, config, &ProviderPolicy::default(), &Default::default()).unwrap();
    let configs = v["configs"].as_array().unwrap();
    for d in PROPERTIES {
        let c = configs.iter().find(|c| c["definition"]["name"] == d.name).unwrap_or_else(|| panic!("{} missing", d.name));
        assert_eq!(c["definition"]["default_value"].as_str().map(str::to_owned), d.default.render(), "{}", d.name);
        assert_eq!(c["definition"]["group"], d.group, "{}", d.name);
        assert_eq!(c["definition"]["type"], d.kind.name(), "{}", d.name);
    }
    let slot = configs.iter().find(|c| c["definition"]["name"] == "slot.name").unwrap();
    assert_eq!(slot["value"]["value"], crate::config::connector::DEFAULT_SLOT_NAME);
}

const README_BEGIN: &str = "<!-- BEGIN connector properties: generated by `PGCDC_BLESS=1 cargo test --lib readme_property_table` -->\n";
const README_END: &str = "<!-- END connector properties -->";

#[test]
fn readme_property_table_is_generated_from_the_declarations() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(README_BEGIN).expect("README.md has no BEGIN connector properties marker") + README_BEGIN.len();
    let end = readme[start..].find(README_END).expect("README.md has no END connector properties marker") + start;
    let table = definitions::markdown();
    if readme[start..end] != table {
        if std::env::var_os("PGCDC_BLESS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
            return;
        }
        panic!(
            "the connector property table in README.md is stale: regenerate it from src/config/declarations.rs with \
             `PGCDC_BLESS=1 cargo test --lib readme_property_table`"
        );
    }
}

const FOREIGN_BEGIN: &str = "<!-- BEGIN foreign properties: generated by `PGCDC_BLESS=1 cargo test --lib readme_foreign_table` -->\n";
const FOREIGN_END: &str = "<!-- END foreign properties -->";

#[test]
fn readme_foreign_table_is_generated_from_the_list() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme.find(FOREIGN_BEGIN).expect("README.md has no BEGIN foreign properties marker") + FOREIGN_BEGIN.len();
    let end = readme[start..].find(FOREIGN_END).expect("README.md has no END foreign properties marker") + start;
    let table = definitions::foreign_markdown();
    if readme[start..end] != table {
        if std::env::var_os("PGCDC_BLESS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..start], &readme[end..])).unwrap();
            return;
        }
        panic!("the table of properties pgcdc does not implement in README.md is stale: `PGCDC_BLESS=1 cargo test --lib readme_foreign_table`");
    }
}

#[test]
fn no_declared_property_is_also_foreign() {
    for d in definitions::PROPERTIES {
        if let Some(f) = definitions::foreign(d.name) {
            // A family may cover declared names (they are read, so never reach the list).
            assert!(f.prefix, "{} is declared and listed as foreign", d.name);
        }
    }
}
