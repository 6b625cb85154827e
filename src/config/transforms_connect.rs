//! Properties of Kafka Connect's SMTs (`org.apache.kafka.connect.transforms.*`)
//! and predicates, as Connect 4.3's ConfigDefs read them: strings trimmed,
//! lists comma-separated, `replace.null.with.default` true by default. A
//! value pgcdc cannot honour is refused naming the property.

use crate::config::properties::{split_list, Props};
use crate::transform::cast::{CastSpec, CAST_TYPES};
use crate::transform::fields::{InsertFieldOptions, MaskFieldOptions, ReplaceFieldOptions, ValueToKeyOptions};
use crate::transform::headers::{parse_literal, HeaderFromOptions, InsertHeaderOptions};
use crate::transform::predicate::Predicate;
use crate::transform::reshape::{ExtractFieldOptions, SchemaMetadata};
use crate::transform::smt::{insertion_spec, Side, SmtConfig};
use crate::transform::timestamp::{JavaDateFormat, TimestampConverterOptions, TimestampRouterOptions, TimestampType, UnixPrecision};

const PACKAGE: &str = "org.apache.kafka.connect.transforms.";

/// Connect's SMTs by class name (after the package), with their properties.
const SMTS: &[(&str, &[&str])] = &[
    ("InsertField$Key", INSERT_FIELD),
    ("InsertField$Value", INSERT_FIELD),
    ("ReplaceField$Key", REPLACE_FIELD),
    ("ReplaceField$Value", REPLACE_FIELD),
    ("MaskField$Key", MASK_FIELD),
    ("MaskField$Value", MASK_FIELD),
    ("ValueToKey", &["fields", "replace.null.with.default"]),
    ("ExtractField$Key", EXTRACT_FIELD),
    ("ExtractField$Value", EXTRACT_FIELD),
    ("HoistField$Key", &["field"]),
    ("HoistField$Value", &["field"]),
    ("Flatten$Key", &["delimiter"]),
    ("Flatten$Value", &["delimiter"]),
    ("Cast$Key", CAST),
    ("Cast$Value", CAST),
    ("TimestampConverter$Key", TIMESTAMP_CONVERTER),
    ("TimestampConverter$Value", TIMESTAMP_CONVERTER),
    ("SetSchemaMetadata$Key", SET_SCHEMA_METADATA),
    ("SetSchemaMetadata$Value", SET_SCHEMA_METADATA),
    ("Filter", &[]),
    ("InsertHeader", &["header", "value.literal"]),
    ("DropHeaders", &["headers"]),
    ("HeaderFrom$Key", HEADER_FROM),
    ("HeaderFrom$Value", HEADER_FROM),
    ("TimestampRouter", &["topic.format", "timestamp.format"]),
];

const INSERT_FIELD: &[&str] =
    &["topic.field", "partition.field", "offset.field", "timestamp.field", "static.field", "static.value", "replace.null.with.default"];
const REPLACE_FIELD: &[&str] = &["exclude", "include", "renames", "replace.null.with.default"];
const MASK_FIELD: &[&str] = &["fields", "replacement", "replace.null.with.default"];
const EXTRACT_FIELD: &[&str] = &["field", "field.syntax.version", "replace.null.with.default"];
const CAST: &[&str] = &["spec", "replace.null.with.default"];
const TIMESTAMP_CONVERTER: &[&str] = &["field", "target.type", "format", "unix.precision", "replace.null.with.default"];
const SET_SCHEMA_METADATA: &[&str] = &["schema.name", "schema.version", "replace.null.with.default"];
const HEADER_FROM: &[&str] = &["fields", "headers", "operation", "replace.null.with.default"];

/// Supported class names, for error messages.
pub(crate) fn supported_names() -> String {
    SMTS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
}

/// Full class names of the Connect SMTs and predicates, with their plugin
/// type (`transformation`, `predicate`), for `GET /connector-plugins`.
pub(crate) fn plugin_classes() -> Vec<(String, &'static str)> {
    let smts = SMTS.iter().map(|(name, _)| (format!("{PACKAGE}{name}"), "transformation"));
    let predicates = PREDICATES.iter().map(|name| (format!("{PACKAGE}predicates.{name}"), "predicate"));
    smts.chain(predicates).collect()
}

/// The Connect SMT a `type` names (full or short class name) and its properties.
pub(crate) fn lookup(class: &str) -> Option<(&'static str, &'static [&'static str])> {
    let short = class.strip_prefix(PACKAGE).unwrap_or(class);
    SMTS.iter().find(|(name, _)| *name == short).copied()
}

/// Reads `<prefix><name>` properties (no declarations: their names are the SMTs').
struct Reader<'a> {
    p: &'a mut Props,
    prefix: &'a str,
}

impl Reader<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn get(&mut self, name: &str) -> Option<String> {
        let key = self.key(name);
        self.p.mark_used(&key);
        self.p.undeclared(&key).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    fn error(&mut self, name: &str, message: impl Into<String>) {
        let key = self.key(name);
        self.p.error(&key, message);
    }

    fn required(&mut self, name: &str) -> Option<String> {
        let value = self.get(name);
        if value.is_none() {
            let key = self.key(name);
            self.error(name, format!("Missing required configuration \"{key}\" which has no default value."));
        }
        value
    }

    fn list(&mut self, name: &str) -> Vec<String> {
        self.get(name).map(|v| split_list(&v)).unwrap_or_default()
    }

    fn required_list(&mut self, name: &str) -> Vec<String> {
        let list = self.list(name);
        if list.is_empty() {
            let key = self.key(name);
            self.error(name, format!("Missing required configuration \"{key}\" which has no default value (a non-empty list)."));
        }
        list
    }

    fn flag(&mut self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                let key = self.key(name);
                self.error(name, format!("Invalid value {v} for configuration {key}: Expected value to be either true or false"));
                default
            }
        }
    }

    fn replace_null(&mut self) -> bool {
        self.flag("replace.null.with.default", true)
    }

    fn format(&mut self, name: &str, pattern: &str) -> Option<JavaDateFormat> {
        match JavaDateFormat::new(pattern) {
            Ok(f) => Some(f),
            Err(why) => {
                let key = self.key(name);
                self.error(name, format!("Invalid value {pattern} for configuration {key}: unsupported date format pattern: {why}"));
                None
            }
        }
    }
}

/// Parses the Connect SMT `class` (as [`lookup`] found it) under `prefix`;
/// `None` after an error.
pub(crate) fn parse_smt(p: &mut Props, prefix: &str, class: &str) -> Option<SmtConfig> {
    let side = if class.ends_with("$Key") { Side::Key } else { Side::Value };
    let family = class.split('$').next().unwrap_or(class);
    let errors = p.errors.len();
    let mut r = Reader { p, prefix };
    let config = match family {
        "InsertField" => {
            if r.get("offset.field").is_some() {
                r.error("offset.field", "offset.field needs a sink record's Kafka offset: Kafka Connect fails every source record with it; remove it");
            }
            let spec = |r: &mut Reader<'_>, name: &str| r.get(name).map(|s| insertion_spec(&s));
            SmtConfig::InsertField(
                side,
                InsertFieldOptions {
                    topic: spec(&mut r, "topic.field"),
                    partition: spec(&mut r, "partition.field"),
                    timestamp: spec(&mut r, "timestamp.field"),
                    static_field: spec(&mut r, "static.field"),
                    static_value: r.get("static.value"),
                    replace_null_with_default: r.replace_null(),
                },
            )
        }
        "ReplaceField" => {
            let mut renames = Vec::new();
            for entry in r.list("renames") {
                match entry.split(':').collect::<Vec<_>>().as_slice() {
                    [from, to] if !from.is_empty() && !to.is_empty() => renames.push(((*from).to_owned(), (*to).to_owned())),
                    _ => {
                        let key = r.key("renames");
                        r.error("renames", format!("Invalid value {entry} for configuration {key}: Invalid rename mapping (expected <old>:<new>)"));
                    }
                }
            }
            SmtConfig::ReplaceField(
                side,
                ReplaceFieldOptions { exclude: r.list("exclude"), include: r.list("include"), renames, replace_null_with_default: r.replace_null() },
            )
        }
        "MaskField" => SmtConfig::MaskField(
            side,
            MaskFieldOptions { fields: r.required_list("fields"), replacement: r.get("replacement"), replace_null_with_default: r.replace_null() },
        ),
        "ValueToKey" => SmtConfig::ValueToKey(ValueToKeyOptions { fields: r.required_list("fields"), replace_null_with_default: r.replace_null() }),
        "ExtractField" => {
            let field = r.required("field").unwrap_or_default();
            match r.get("field.syntax.version").map(|v| v.to_ascii_uppercase()).as_deref() {
                None | Some("V1") => {}
                Some("V2") if !field.contains(['.', '`']) => {}
                Some("V2") => r.error(
                    "field.syntax.version",
                    "field.syntax.version=V2 with a nested path is not supported by pgcdc: name a top-level field (or use V1)",
                ),
                Some(other) => {
                    let key = r.key("field.syntax.version");
                    r.error("field.syntax.version", format!("Invalid value {other} for configuration {key}: String must be one of (case insensitive): V1, V2"));
                }
            }
            SmtConfig::ExtractField(side, ExtractFieldOptions { field, replace_null_with_default: r.replace_null() })
        }
        "HoistField" => SmtConfig::HoistField(side, r.required("field").unwrap_or_default()),
        "Flatten" => {
            // Connect's ConfigDef does not trim a delimiter: taken as written.
            let key = r.key("delimiter");
            r.p.mark_used(&key);
            SmtConfig::Flatten(side, r.p.undeclared(&key).unwrap_or(".").to_owned())
        }
        "Cast" => {
            let spec = parse_cast_spec(&mut r);
            let replace_null_with_default = r.replace_null();
            SmtConfig::Cast(side, spec?, replace_null_with_default)
        }
        "TimestampConverter" => SmtConfig::TimestampConverter(side, parse_timestamp_converter(&mut r)?),
        "SetSchemaMetadata" => {
            let version = r.get("schema.version").map(|v| match v.parse::<i32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    let key = r.key("schema.version");
                    r.error("schema.version", format!("Invalid value {v} for configuration {key}: Not a number of type INT"));
                    None
                }
            });
            let name = r.get("schema.name");
            let replace_null_with_default = r.replace_null();
            SmtConfig::SetSchemaMetadata(side, SchemaMetadata { name, version: version.flatten(), replace_null_with_default })
        }
        "Filter" => SmtConfig::Filter,
        "InsertHeader" => {
            let header = r.required("header").unwrap_or_default();
            let key = r.key("value.literal");
            r.p.mark_used(&key);
            let literal = match r.p.undeclared(&key) {
                Some(v) => v.trim().to_owned(),
                None => {
                    r.error("value.literal", format!("Missing required configuration \"{key}\" which has no default value."));
                    String::new()
                }
            };
            if let Err(what) = parse_literal(&literal) {
                r.error("value.literal", format!("Invalid value {literal} for configuration {key}: Kafka Connect would parse it as {what}, which pgcdc does not write; use text, an integer or a boolean"));
            }
            SmtConfig::InsertHeader(InsertHeaderOptions { header, literal })
        }
        "DropHeaders" => SmtConfig::DropHeaders(r.required_list("headers")),
        "HeaderFrom" => {
            let fields = r.required_list("fields");
            let headers = r.required_list("headers");
            if fields.len() != headers.len() {
                r.error("headers", "'fields' config must have the same number of elements as 'headers' config.");
            }
            let move_fields = match r.required("operation").as_deref() {
                Some("move") => true,
                Some("copy") | None => false,
                Some(other) => {
                    let key = r.key("operation");
                    r.error("operation", format!("Invalid value {other} for configuration {key}: String must be one of: move, copy"));
                    false
                }
            };
            SmtConfig::HeaderFrom(side, HeaderFromOptions { fields, headers, move_fields, replace_null_with_default: r.replace_null() })
        }
        "TimestampRouter" => {
            let topic_format = r.get("topic.format").unwrap_or_else(|| "${topic}-${timestamp}".to_owned());
            let pattern = r.get("timestamp.format").unwrap_or_else(|| "yyyyMMdd".to_owned());
            SmtConfig::TimestampRouter(TimestampRouterOptions { topic_format, timestamp_format: r.format("timestamp.format", &pattern)? })
        }
        _ => return None,
    };
    (p.errors.len() == errors).then_some(config)
}

fn parse_cast_spec(r: &mut Reader<'_>) -> Option<CastSpec> {
    let entries = r.required_list("spec");
    let key = r.key("spec");
    let type_of = |r: &mut Reader<'_>, name: &str| {
        let lower = name.trim().to_ascii_lowercase();
        let found = CAST_TYPES.iter().find(|(n, _)| *n == lower).map(|(_, t)| *t);
        if found.is_none() {
            let names: Vec<&str> = CAST_TYPES.iter().map(|(n, _)| *n).collect();
            r.error("spec", format!("Invalid type found in casting spec: {} (supported: {})", name.trim(), names.join(", ")));
        }
        found
    };
    let mut fields = Vec::new();
    let mut whole = None;
    for entry in &entries {
        match entry.split(':').collect::<Vec<_>>().as_slice() {
            [ty] => whole = type_of(r, ty),
            [field, ty] => fields.push((field.trim().to_owned(), type_of(r, ty)?)),
            _ => {
                r.error("spec", format!("Invalid value {entry} for configuration {key}: Invalid rename mapping: {entry}"));
                return None;
            }
        }
    }
    match whole {
        Some(_) if entries.len() > 1 => {
            r.error("spec", "Cast transformations that specify a type to cast the entire value to may ony specify a single cast in their spec");
            None
        }
        Some(ty) => Some(CastSpec::Whole(ty)),
        None if fields.is_empty() => None,
        None => Some(CastSpec::Fields(fields)),
    }
}

fn parse_timestamp_converter(r: &mut Reader<'_>) -> Option<TimestampConverterOptions> {
    const TARGETS: &[(&str, TimestampType)] = &[
        ("string", TimestampType::String),
        ("unix", TimestampType::Unix),
        ("Date", TimestampType::Date),
        ("Time", TimestampType::Time),
        ("Timestamp", TimestampType::Timestamp),
    ];
    const PRECISIONS: &[(&str, UnixPrecision)] = &[
        ("nanoseconds", UnixPrecision::Nanoseconds),
        ("microseconds", UnixPrecision::Microseconds),
        ("milliseconds", UnixPrecision::Milliseconds),
        ("seconds", UnixPrecision::Seconds),
    ];
    let target_name = r.required("target.type")?;
    let Some(target) = TARGETS.iter().find(|(n, _)| *n == target_name).map(|(_, t)| *t) else {
        let key = r.key("target.type");
        r.error("target.type", format!("Invalid value {target_name} for configuration {key}: String must be one of: string, unix, Date, Time, Timestamp"));
        return None;
    };
    let precision_name = r.get("unix.precision").unwrap_or_else(|| "milliseconds".to_owned());
    let Some(unix_precision) = PRECISIONS.iter().find(|(n, _)| *n == precision_name).map(|(_, p)| *p) else {
        let key = r.key("unix.precision");
        r.error("unix.precision", format!("Invalid value {precision_name} for configuration {key}: String must be one of: nanoseconds, microseconds, milliseconds, seconds"));
        return None;
    };
    let format = match r.get("format") {
        Some(pattern) => Some(r.format("format", &pattern)?),
        None if target == TimestampType::String => {
            r.error("format", "TimestampConverter requires format option to be specified when using string timestamps");
            return None;
        }
        None => None,
    };
    Some(TimestampConverterOptions { field: r.get("field").unwrap_or_default(), target, format, unix_precision, replace_null_with_default: r.replace_null() })
}

/// Predicate class names (after `org.apache.kafka.connect.transforms.predicates.`).
const PREDICATES: &[&str] = &["TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"];

/// `predicates=<name>,...` and each `predicates.<name>.*`: name → predicate
/// (`None` after an error, reported).
pub(crate) fn parse_predicates(p: &mut Props) -> Vec<(String, Option<Predicate>)> {
    p.mark_used("predicates");
    let names = p.undeclared("predicates").map(split_list).unwrap_or_default();
    let mut out: Vec<(String, Option<Predicate>)> = Vec::new();
    for name in names {
        if out.iter().any(|(n, _)| *n == name) {
            p.error("predicates", format!("Duplicate predicate name provided: {name}"));
            continue;
        }
        let prefix = format!("predicates.{name}.");
        let mut r = Reader { p, prefix: &prefix };
        let predicate = match r.required("type") {
            None => None,
            Some(class) => {
                let short = class.strip_prefix("org.apache.kafka.connect.transforms.predicates.").unwrap_or(&class);
                match short {
                    "TopicNameMatches" => r.required("pattern").and_then(|pattern| match Predicate::topic_name_matches(&pattern) {
                        Ok(p) => Some(p),
                        Err(e) => {
                            let key = r.key("pattern");
                            r.error("pattern", format!("Invalid value {pattern} for configuration {key}: Invalid regex: {e}"));
                            None
                        }
                    }),
                    "HasHeaderKey" => r.required("name").map(Predicate::HasHeaderKey),
                    "RecordIsTombstone" => Some(Predicate::RecordIsTombstone),
                    _ => {
                        let key = r.key("type");
                        r.error(
                            "type",
                            format!("Invalid value {class} for configuration {key}: unsupported predicate; supported: {}", PREDICATES.join(", ")),
                        );
                        None
                    }
                }
            }
        };
        let known: &[&str] = match &predicate {
            Some(Predicate::TopicNameMatches(_)) => &["type", "pattern"],
            Some(Predicate::HasHeaderKey(_)) => &["type", "name"],
            _ => &["type"],
        };
        for key in p.keys_with_prefix(&prefix) {
            if !known.contains(&&key[prefix.len()..]) && !p.errors.iter().any(|e| e.property == key) {
                p.mark_used(&key);
                p.warn(format!("property {key} is not a property of this predicate and is ignored"));
            }
        }
        out.push((name, predicate));
    }
    for key in p.keys_with_prefix("predicates.") {
        let name = key["predicates.".len()..].split('.').next().unwrap_or_default();
        if !out.iter().any(|(n, _)| n == name) {
            p.mark_used(&key);
            p.warn(format!("property {key} belongs to predicate {name}, which is not listed in predicates; ignored"));
        }
    }
    out
}
