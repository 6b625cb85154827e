//! HeaderToValue against Debezium 3.6.3's class (`golden/headertovalue_*.json`,
//! made by `golden/SmtGolden.java` over the same records).

use crate::transform::smt_tests::{check_one, envelopes, errors_of, one, stock};

const CLASS: &str = "io.debezium.transforms.HeaderToValue";

#[test]
fn copy_context_headers_into_unwrapped_rows() {
    let props = [
        ("headers", "__debezium.context.connectorLogicalName,__debezium.context.taskId,absent"),
        ("fields", "logical,task,none"),
        ("operation", "copy"),
    ];
    check_one("headertovalue_copy", stock(), CLASS, &props, &[]);
}

#[test]
fn move_into_envelopes_with_the_schema_cached_per_value_schema() {
    let props = [("headers", "__debezium.context.runId,__debezium.oldkey"), ("fields", "run,oldkey"), ("operation", "move")];
    check_one("headertovalue_move_envelope", envelopes(), CLASS, &props, &[]);
}

#[test]
fn nested_fields_unequal_lists_and_bad_operations_are_refused_by_name() {
    let refused = |props: &[(&str, &str)]| -> Vec<String> {
        let all = one(CLASS, props);
        let refs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        errors_of(&refs).into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(refused(&[("headers", "h"), ("fields", "a.b"), ("operation", "copy")]), ["transforms.t.fields"]);
    assert_eq!(refused(&[("headers", "h,i"), ("fields", "a"), ("operation", "copy")]), ["transforms.t.fields"]);
    assert_eq!(refused(&[("headers", "h"), ("fields", "a"), ("operation", "swap")]), ["transforms.t.operation"]);
    assert_eq!(refused(&[("headers", "h"), ("fields", "a")]), ["transforms.t.operation"]);
    let tz = one("io.debezium.transforms.TimezoneConverter", &[("converted.timezone", "UTC")]);
    let refs: Vec<(&str, &str)> = tz.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(errors_of(&refs).into_iter().map(|(k, _)| k).collect::<Vec<_>>(), ["transforms.t.type"]);
}
