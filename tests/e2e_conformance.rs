//! The conformance suite: every variant of every scenario Debezium 3.6.3 was
//! captured on (tests/debezium/golden), run through pgcdc and compared record
//! by record — keys, values, headers — after blanking only times, versions,
//! WAL positions and the database/prefix names (see `support::golden`).
//!
//! The skeleton's variants (streaming and the initial snapshot) are in `e2e_skeleton`.

use crate::support::golden::{assert_matches_debezium, variants};

macro_rules! conformance {
    ($scenario:literal: $($variant:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $variant() {
                assert_matches_debezium($scenario, stringify!($variant), &[]).await;
            }
        )+
    };
}

mod types {
    use super::*;
    conformance!("types": envelope, decimal_string, decimal_double, time_connect, time_adaptive, binary_hex, interval_string,
        time_adaptive_us, binary_base64, binary_base64_url, money_digits);
}

mod identity {
    use super::*;
    conformance!("identity": envelope, all_ops, txmeta, unwrap, unwrap_rewrite, unwrap_drop, unwrap_rewrite_tombstone,
        unwrap_delete_to_tombstone, unwrap_fields_headers, skip_cu, skip_d, unwrap_drop_unchanged, unwrap_drop_unchanged_key,
        changed_headers, unwrap_tombstone_headers);
}

mod naming {
    use super::*;
    conformance!("naming": envelope, tables_included, schemas_excluded);
}

mod fieldnames {
    use super::*;
    // Column and table names Avro refuses, under field.name.adjustment.mode (and the ignored
    // sanitize.field.names) and schema.name.adjustment.mode.
    conformance!("fieldnames": envelope, avro, avro_unicode, sanitize, schema_avro, schema_avro_unicode);
}

mod streaming {
    use super::*;
    conformance!("streaming": envelope, no_tombstones, messages_filtered, txmeta_unwrap);
}

mod columns {
    use super::*;
    conformance!("columns": include, exclude, mask, truncate, hash, hash_v2, key_columns, key_columns_nullable);
}

mod keys {
    use super::*;
    conformance!("keys": mask_pk, truncate_pk, hash_pk, regex_router, unwrap_regex_router, logical_router,
        logical_router_key_field, logical_router_no_uniqueness);
}

mod geo {
    use super::*;
    conformance!("geo": envelope, hstore_map);
}

mod differential {
    use super::*;
    // What the randomized differential test found, shrunk (tests/e2e_differential.rs).
    conformance!("differential": envelope, unwrap_rewrite);
}

mod origin {
    use super::*;
    // A transaction replayed under a replication origin: source.origin/origin_lsn.
    conformance!("origin": envelope);
}

/// Every variant of every scenario has a test here or in `e2e_skeleton`: a
/// variant added to a `variants` file without a test fails this.
#[test]
fn every_variant_has_a_test() {
    let covered: &[(&str, &[&str])] = &[
        ("skeleton", &["envelope", "unwrap", "schemaless", "snapshot_initial"]),
        ("types", &["envelope", "decimal_string", "decimal_double", "time_connect", "time_adaptive", "binary_hex", "interval_string",
            "time_adaptive_us", "binary_base64", "binary_base64_url", "money_digits"]),
        ("identity", &["envelope", "all_ops", "txmeta", "unwrap", "unwrap_rewrite", "unwrap_drop", "unwrap_rewrite_tombstone",
            "unwrap_delete_to_tombstone", "unwrap_fields_headers", "skip_cu", "skip_d", "unwrap_drop_unchanged",
            "unwrap_drop_unchanged_key", "changed_headers", "unwrap_tombstone_headers"]),
        ("naming", &["envelope", "tables_included", "schemas_excluded"]),
        ("fieldnames", &["envelope", "avro", "avro_unicode", "sanitize", "schema_avro", "schema_avro_unicode"]),
        ("streaming", &["envelope", "no_tombstones", "messages_filtered", "txmeta_unwrap"]),
        ("columns", &["include", "exclude", "mask", "truncate", "hash", "hash_v2", "key_columns", "key_columns_nullable"]),
        ("keys", &["mask_pk", "truncate_pk", "hash_pk", "regex_router", "unwrap_regex_router", "logical_router",
            "logical_router_key_field", "logical_router_no_uniqueness"]),
        ("geo", &["envelope", "hstore_map"]),
        ("origin", &["envelope"]),
        ("differential", &["envelope", "unwrap_rewrite"]),
    ];
    for (scenario, tested) in covered {
        for (name, _) in variants(scenario) {
            assert!(tested.contains(&name.as_str()), "{scenario}/{name} has no conformance test");
        }
    }
}
