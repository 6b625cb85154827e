//! ExtractNewRecordState against Debezium 3.6.3's own output (`src/envelope/golden/`).

use super::*;
use crate::envelope::debezium::tests::{assert_golden, measure_records, stock_records};

fn added(spec: &str) -> Vec<AddedField> {
    spec.split(',')
        .map(|s| match s.split_once(':') {
            Some((f, r)) => AddedField { field: f.into(), rename: Some(r.into()) },
            None => AddedField { field: s.into(), rename: None },
        })
        .collect()
}

fn run(opts: UnwrapOptions, records: Vec<Record>) -> Vec<Record> {
    let mut t = Unwrap::new(opts);
    let mut out = Vec::new();
    for r in records {
        t.apply(r, &mut out);
    }
    out
}

#[test]
fn default_mode_turns_deletes_into_null_payloads() {
    assert_eq!(UnwrapOptions::default().delete_tombstone_handling, DeleteTombstoneHandling::Tombstone);
    assert_golden("stock_unwrap_default", &run(UnwrapOptions::default(), stock_records()), true, false);
}

#[test]
fn rewrite_adds_deleted_fields_and_headers() {
    let opts = UnwrapOptions {
        delete_tombstone_handling: DeleteTombstoneHandling::Rewrite,
        add_fields: added("op,table,lsn,source.ts_ms,ts_ms,db:database"),
        add_headers: added("op,source.ts_ms,db,txId:tx"),
        ..UnwrapOptions::default()
    };
    assert_golden("stock_unwrap_rewrite", &run(opts, stock_records()), true, false);
}

#[test]
fn rewrite_with_tombstone_keeps_tombstones_and_custom_prefix() {
    let opts = UnwrapOptions {
        delete_tombstone_handling: DeleteTombstoneHandling::RewriteWithTombstone,
        add_fields: added("name,sequence"),
        add_fields_prefix: "meta_".into(),
        ..UnwrapOptions::default()
    };
    assert_golden("stock_unwrap_rewrite_tombstone", &run(opts, stock_records()), false, false);
}

#[test]
fn drop_mode_drops_deletes_and_tombstones() {
    let opts = UnwrapOptions { delete_tombstone_handling: DeleteTombstoneHandling::Drop, ..UnwrapOptions::default() };
    assert_golden("stock_unwrap_drop", &run(opts, stock_records()), false, false);
}

#[test]
fn delete_to_tombstone_mode() {
    let opts = UnwrapOptions {
        delete_tombstone_handling: DeleteTombstoneHandling::DeleteToTombstone,
        ..UnwrapOptions::default()
    };
    assert_golden("stock_unwrap_delete_to_tombstone", &run(opts, stock_records()), false, false);
}

#[test]
fn all_types_unwrapped_with_added_fields() {
    let opts = UnwrapOptions { add_fields: added("op,source.ts_ms"), ..UnwrapOptions::default() };
    assert_golden("measure_unwrap_schemas", &run(opts, measure_records()), true, false);
}

#[test]
fn route_by_field_uses_the_row_value() {
    let mut recs = measure_records();
    recs.truncate(2);
    let opts = UnwrapOptions { route_by_field: Some("taken_tz".into()), ..UnwrapOptions::default() };
    let out = run(opts, recs);
    assert_eq!(out[0].topic, "ecommerce.public.measure");
    assert_eq!(out[1].topic, "2023-11-14T22:13:20.123456Z");
}

/// The stock update that carries both rows, with ExtractChangedRecordState's
/// `Unchanged` header (tests/debezium/golden/identity/unwrap_drop_unchanged*).
fn update_with_unchanged_header() -> Record {
    use crate::transform::changed::{ChangedOptions, ExtractChanged};
    let mut changed = ExtractChanged::new(&ChangedOptions { header_changed_name: None, header_unchanged_name: Some("Unchanged".into()) });
    let mut out = Vec::new();
    for r in stock_records() {
        changed.apply(r, &mut out);
    }
    out.into_iter()
        .find(|r| {
            r.headers.iter().any(|h| h.key == "Unchanged" && matches!(&h.value, Some(v) if v.value != Value::Array(Vec::new())))
        })
        .map(|mut r| {
            // List every row field as unchanged, so optional and required ones are both named.
            let after = &r.value.as_ref().unwrap().schema.fields[1].schema;
            let all = Value::Array(after.fields.iter().map(|f| Value::String(f.name.clone())).collect());
            let h = r.headers.iter_mut().find(|h| h.key == "Unchanged").unwrap();
            h.value.as_mut().unwrap().value = all;
            r
        })
        .expect("a stock update with both rows")
}

fn field_names(sv: &SchemaAndValue) -> Vec<&str> {
    sv.schema.fields.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn drop_fields_header_drops_only_optional_unchanged_fields_by_default() {
    let record = update_with_unchanged_header();
    let before = run(UnwrapOptions::default(), vec![record.clone()]);
    let opts = UnwrapOptions { drop_fields_header_name: Some("Unchanged".into()), ..UnwrapOptions::default() };
    let out = run(opts, vec![record]);
    let (kept, all) = (out[0].value.as_ref().unwrap(), before[0].value.as_ref().unwrap());
    let Value::Array(unchanged) = &out[0].headers.iter().find(|h| h.key == "Unchanged").unwrap().value.as_ref().unwrap().value else {
        panic!()
    };
    for f in &all.schema.fields {
        let listed = unchanged.contains(&Value::String(f.name.clone()));
        assert_eq!(kept.schema.field_index(&f.name).is_none(), listed && f.schema.optional, "field {}", f.name);
    }
    assert!(field_names(kept).len() < field_names(all).len(), "the fixture has an optional unchanged field");
    let Value::Struct(values) = &kept.value else { panic!() };
    assert_eq!(values.len(), kept.schema.fields.len());
    assert_eq!((kept.schema.name.as_deref(), kept.schema.optional), (all.schema.name.as_deref(), false));
    assert_eq!(out[0].key, before[0].key, "the key is untouched without drop.fields.from.key");
}

#[test]
fn drop_fields_from_key_and_not_schema_compatible_drop_required_fields_too() {
    let record = update_with_unchanged_header();
    let opts = UnwrapOptions {
        drop_fields_header_name: Some("Unchanged".into()),
        drop_fields_from_key: true,
        drop_fields_keep_schema_compatible: false,
        ..UnwrapOptions::default()
    };
    let out = run(opts, vec![record.clone()]);
    let Value::Array(unchanged) = &out[0].headers.iter().find(|h| h.key == "Unchanged").unwrap().value.as_ref().unwrap().value else {
        panic!()
    };
    let value = out[0].value.as_ref().unwrap();
    let key = out[0].key.as_ref().unwrap();
    for name in unchanged.iter().map(|v| if let Value::String(s) = v { s.as_str() } else { panic!() }) {
        assert!(value.schema.field_index(name).is_none() && key.schema.field_index(name).is_none(), "{name} dropped");
    }
    assert_eq!(key.schema.name, record.key.as_ref().unwrap().schema.name);
    // No header (or another name): nothing dropped.
    let opts = UnwrapOptions { drop_fields_header_name: Some("Other".into()), drop_fields_from_key: true, ..UnwrapOptions::default() };
    let out = run(opts, vec![record.clone()]);
    assert_eq!(out[0].key, record.key);
}

/// Debezium builds a delete's tombstone on the delete's own Headers object,
/// so the tombstone kept by rewrite-with-tombstone carries the delete's
/// `add.headers` (tests/debezium/golden/identity/unwrap_tombstone_headers).
#[test]
fn a_kept_tombstone_carries_its_deletes_added_headers() {
    let opts = UnwrapOptions {
        delete_tombstone_handling: DeleteTombstoneHandling::RewriteWithTombstone,
        add_headers: added("op,db"),
        ..UnwrapOptions::default()
    };
    let input = stock_records();
    let out = run(opts, input.clone());
    let tombstones: Vec<&Record> = out.iter().filter(|r| r.value.is_none()).collect();
    assert!(!tombstones.is_empty());
    for t in tombstones {
        let names: Vec<&str> = t.headers.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(&names[names.len() - 2..], ["__op", "__db"], "{names:?}");
        let op = t.headers.iter().find(|h| h.key == "__op").and_then(|h| h.value.as_ref()).map(|v| v.value.clone());
        assert_eq!(op, Some(Value::String("d".into())));
    }
    // Without add.headers the tombstone keeps exactly its own headers.
    let plain = run(UnwrapOptions { delete_tombstone_handling: DeleteTombstoneHandling::RewriteWithTombstone, ..UnwrapOptions::default() }, input.clone());
    let own: Vec<&Record> = input.iter().filter(|r| r.value.is_none()).collect();
    let kept: Vec<&Record> = plain.iter().filter(|r| r.value.is_none()).collect();
    assert_eq!(own, kept);
}
