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
