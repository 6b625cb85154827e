//! Catalog queries and the type mapping against a real PostgreSQL.
//!
//! GIVEN a database on the shared cluster with a table of (almost) every mapped type,
//! WHEN its metadata is loaded and each value's text output (`col::text`) is
//! parsed, THEN the metadata is right and the Connect values are Debezium's: every schema
//! and value of the `types` scenario is compared with the Debezium 3.6.3 goldens committed
//! in `tests/debezium/golden/types/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use pgcdc::config::connector::PublicationAutocreateMode;
use pgcdc::event::{ReplicaIdentity, TableId};
use pgcdc::schema::{Schema, SchemaType, Value};
use pgcdc::source::postgres::catalog::{self, CatalogError};
use pgcdc::source::postgres::value::{
    self, BinaryHandlingMode, DecimalHandlingMode, IntervalHandlingMode, TimePrecisionMode, ValueOptions,
};
use serde_json::{json, Value as Json};

use crate::support::{unique_name, PgServer};

/// The committed Debezium 3.6.3 captures of the `types` scenario.
fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/debezium/golden/types")
}

const SETUP: &str = r#"
CREATE EXTENSION hstore; CREATE EXTENSION citext; CREATE EXTENSION ltree;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN price AS numeric(6,2) CHECK (VALUE >= 0);
CREATE TABLE public.all_types (
  id int PRIMARY KEY, c_bool boolean, c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
  c_numeric_10_2 numeric(10,2), c_numeric numeric, c_text text, c_varchar varchar(10), c_char char(5),
  c_date date, c_time time, c_time3 time(3), c_timetz timetz, c_timestamp timestamp, c_timestamp3 timestamp(3),
  c_timestamptz timestamptz, c_interval interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_bytea bytea,
  c_money money, c_bit1 bit(1), c_bit3 bit(3), c_varbit varbit, c_int4_arr int4[], c_text_arr text[],
  c_enum mood, c_inet inet, c_cidr cidr, c_macaddr macaddr, c_xml xml, c_point point, c_int4range int4range,
  c_tsrange tsrange
);
CREATE TABLE public.extras (
  a int NOT NULL DEFAULT 7, b text, dropped int, c_price price, c_hstore hstore, c_citext citext, c_ltree ltree,
  c_lsn pg_lsn, "Weird ""Name""" int NOT NULL, PRIMARY KEY ("Weird ""Name""", a)
);
ALTER TABLE public.extras DROP COLUMN dropped;
ALTER TABLE public.extras REPLICA IDENTITY FULL;
"#;

/// The rows of the Debezium `types` golden scenario (same statements).
const ROWS: &str = r#"
INSERT INTO all_types VALUES (
  1, true, 12345, 123456789, 1234567890123, 3.14, 2.718281828459045, 12345.67, 123.456,
  'hello wörld', 'varchar', 'ab', '2024-02-29', '13:45:30.123456', '13:45:30.123456',
  '13:45:30.5+02', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123456',
  '2024-02-29 13:45:30.123456+02', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [true, null]}', '{"b": [true, null], "a": 1}',
  '\xdeadbeef00', 1234.56, B'1', B'101', B'1101011', '{1,2,NULL,4}', '{"a","b c",NULL,"d\"e"}',
  'happy', '192.168.1.10/24', '10.0.0.0/8', '08:00:2b:01:02:03', '<a x="1">text</a>',
  '(1.5,-2.25)', '[1,10)', '[2024-01-01 00:00,2024-12-31 23:59:59.5)');
INSERT INTO all_types (id) VALUES (2);
INSERT INTO all_types VALUES (
  3, false, -32768, -2147483648, 9223372036854775807, '-Infinity', 'Infinity', -99999999.99,
  '-0.000000000000000000001', '', '', '', 'infinity', '00:00:00', '23:59:59.999',
  '00:00:00+14', 'infinity', '-infinity', 'infinity', '-178000000 years',
  '00000000-0000-0000-0000-000000000000', '[]', '{}', '', -92233720368547758.08, B'0', B'000', B'',
  '{}', '{}', 'sad', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '', '(0,0)', 'empty', '(,)');
INSERT INTO all_types (id, c_date, c_timestamp, c_timestamptz, c_numeric, c_float4, c_float8, c_int8, c_time)
  VALUES (4, '0001-01-01 BC', '4713-01-01 00:00:00 BC', '1970-01-01 00:00:00.000001+00', '1e-30', 'NaN', 'NaN', -9223372036854775808, '24:00:00');
INSERT INTO all_types (id, c_numeric_10_2) VALUES (5, 'NaN');
INSERT INTO all_types (id, c_numeric) VALUES (6, 'NaN');
INSERT INTO all_types (id, c_numeric) VALUES (7, 'Infinity');
INSERT INTO all_types (id, c_text) VALUES (8, 'last row marker');
"#;

async fn relation_id(client: &tokio_postgres::Client, table: &str) -> u32 {
    client.query_one("SELECT $1::text::regclass::oid", &[&table]).await.unwrap().get(0)
}

/// Each row of `table` in PostgreSQL's text output format (what pgoutput
/// sends): the simple query protocol returns exactly the output functions' text.
async fn text_rows(client: &tokio_postgres::Client, cols: &[String], table: &str) -> Vec<Vec<Option<String>>> {
    let select = cols.iter().map(|c| catalog::quote_ident(c)).collect::<Vec<_>>().join(", ");
    let msgs = client.simple_query(&format!("SELECT {select} FROM {table} ORDER BY 1")).await.unwrap();
    msgs.iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some((0..cols.len()).map(|i| r.get(i).map(str::to_owned)).collect()),
            _ => None,
        })
        .collect()
}

/// JsonConverter's rendering of a schema (the parts Debezium sets).
fn schema_json(s: &Schema) -> Json {
    let mut m = serde_json::Map::new();
    m.insert("type".into(), json!(s.kind.json_name()));
    m.insert("optional".into(), json!(s.optional));
    if let Some(n) = &s.name {
        m.insert("name".into(), json!(n));
    }
    if let Some(v) = s.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(d) = &s.doc {
        m.insert("doc".into(), json!(d));
    }
    if !s.parameters.is_empty() {
        let p: serde_json::Map<String, Json> = s.parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        m.insert("parameters".into(), Json::Object(p));
    }
    if s.kind == SchemaType::Struct {
        let fields: Vec<Json> = s
            .fields
            .iter()
            .map(|f| {
                let mut j = schema_json(&f.schema);
                j.as_object_mut().unwrap().insert("field".into(), json!(f.name));
                j
            })
            .collect();
        m.insert("fields".into(), Json::Array(fields));
    }
    if s.kind == SchemaType::Array {
        m.insert("items".into(), schema_json(s.items.as_ref().unwrap()));
    }
    Json::Object(m)
}

/// JsonConverter's rendering of a value.
fn value_json(s: &Schema, v: &Value) -> Json {
    let float = |f: f64| {
        if f.is_nan() {
            json!("NaN")
        } else if f.is_infinite() {
            json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            json!(f)
        }
    };
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int8(i) => json!(i),
        Value::Int16(i) => json!(i),
        Value::Int32(i) => json!(i),
        Value::Int64(i) => json!(i),
        // Jackson prints a Java float by its own shortest digits.
        Value::Float32(f) => if f.is_finite() { json!(f.to_string().parse::<f64>().unwrap()) } else { float(f64::from(*f)) },
        Value::Float64(f) => float(*f),
        Value::String(t) => json!(t),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(|i| value_json(s.items.as_ref().unwrap(), i)).collect()),
        Value::Struct(vals) => {
            Json::Object(s.fields.iter().zip(vals).map(|(f, v)| (f.name.clone(), value_json(&f.schema, v))).collect())
        }
        Value::Map(_) => unimplemented!("no map columns in the goldens"),
    }
}

/// Converts every row of a table with `opts`, as (schemas, rows of JSON values).
async fn convert_table(
    client: &tokio_postgres::Client,
    table: &str,
    opts: &ValueOptions,
) -> (Vec<(String, Arc<Schema>)>, Vec<serde_json::Map<String, Json>>) {
    let cat = catalog::load_table(client, relation_id(client, table).await).await.unwrap();
    let mut schemas = Vec::new();
    let mut names = Vec::new();
    for c in &cat.columns {
        if let Ok(s) = value::column_schema(&c.column_type, !c.not_null, opts) {
            schemas.push((c.name.clone(), s));
            names.push(c.name.clone());
        }
    }
    let mut out = Vec::new();
    for row in text_rows(client, &names, table).await {
        let mut m = serde_json::Map::new();
        for ((name, schema), text) in schemas.iter().zip(row) {
            let col = &cat.column(name).unwrap().column_type;
            let v = match text {
                None => Value::Null,
                Some(t) => value::parse_text(col, schema, &t, opts).unwrap_or_else(|e| panic!("{name}: {e}")),
            };
            m.insert(name.clone(), value_json(schema, &v));
        }
        out.push(m);
    }
    (schemas, out)
}

#[tokio::test]
async fn catalog_metadata_and_every_type_value_match_debezium() {
    // GIVEN the `types` scenario's tables and rows in a fresh database
    let db = PgServer::shared().create_database("catalog_types").await;
    let client = db.client().await;
    client.batch_execute(SETUP).await.unwrap();
    client.batch_execute(ROWS).await.unwrap();
    // A non-UTC session zone: timestamptz/timetz text carries +05:30 offsets.
    client.batch_execute("SET TimeZone = 'Asia/Kolkata'").await.unwrap();

    // WHEN the metadata of the extras table is loaded THEN names, types, keys, defaults are right
    let extras = catalog::load_table(&client, relation_id(&client, "public.extras").await).await.unwrap();
    assert_eq!(extras.id, TableId::new("public", "extras"));
    assert_eq!(extras.replica_identity, ReplicaIdentity::Full);
    let names: Vec<_> = extras.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c_price", "c_hstore", "c_citext", "c_ltree", "c_lsn", "Weird \"Name\""]);
    assert_eq!(extras.primary_key, ["Weird \"Name\"", "a"]);
    let a = extras.column("a").unwrap();
    assert!(a.not_null && a.primary_key_position == Some(1) && a.default_expr.as_deref() == Some("7"));
    assert!(extras.column("b").unwrap().primary_key_position.is_none());
    let price = &extras.column("c_price").unwrap().column_type;
    let base = price.domain_base.as_ref().unwrap();
    assert_eq!((price.type_name.as_str(), base.type_name.as_str(), base.type_modifier), ("price", "numeric", (6 << 16 | 2) + 4));
    let o = ValueOptions::default();
    let s = value::column_schema(price, true, &o).unwrap();
    assert_eq!(s.parameter("scale"), Some("2"));
    assert!(value::column_schema(&extras.column("c_lsn").unwrap().column_type, true, &o).is_err());

    let all = catalog::load_table(&client, relation_id(&client, "public.all_types").await).await.unwrap();
    let en = &all.column("c_enum").unwrap().column_type;
    assert_eq!(en.enum_values.as_deref(), Some(&["sad".to_owned(), "ok".to_owned(), "happy".to_owned()][..]));
    let arr = &all.column("c_text_arr").unwrap().column_type;
    assert_eq!(arr.element.as_ref().unwrap().type_name, "text");

    // WHEN extension types and the domain are converted from real text output THEN Debezium's values
    client
        .batch_execute(r#"INSERT INTO extras VALUES (1, 'x', 12.5, '"k"=>"v", "n"=>NULL', 'MiXed', 'a.b.c', '0/1', 2)"#)
        .await
        .unwrap();
    let (_, rows) = convert_table(&client, "public.extras", &o).await;
    assert_eq!(rows[0]["c_price"], json!("BOI=")); // 1250 unscaled
    assert_eq!(rows[0]["c_hstore"], json!(r#"{"k":"v","n":null}"#));
    assert_eq!(rows[0]["c_citext"], json!("MiXed"));
    assert_eq!(rows[0]["c_ltree"], json!("a.b.c"));
    assert!(!rows[0].contains_key("c_lsn"));

    // WHEN every row of all_types is converted THEN values checked independently of the goldens
    let (_, rows) = convert_table(&client, "public.all_types", &o).await;
    assert_eq!(rows[0]["c_timestamptz"], json!("2024-02-29T11:45:30.123456Z"));
    assert_eq!(rows[0]["c_timetz"], json!("11:45:30.5Z"));
    assert_eq!(rows[0]["c_interval"], json!(37_091_106_789_000i64));
    assert_eq!(rows[2]["c_date"], json!(-2_147_472_692));
    assert_eq!(rows[3]["c_time"], json!(86_400_000_000i64));
    assert_eq!(rows[4]["c_numeric_10_2"], Json::Null);

    // AND every schema and value equals what Debezium 3.6.3 emitted for the same rows
    compare_with_goldens(&client).await;
}

/// Compares every `after` schema field and value with Debezium's output.
async fn compare_with_goldens(client: &tokio_postgres::Client) {
    let dir = golden_dir();
    assert!(dir.is_dir(), "Debezium goldens missing: {} (tests/debezium/golden is committed)", dir.display());
    let variants: Vec<(&str, ValueOptions)> = vec![
        ("envelope", ValueOptions::default()),
        ("decimal_string", ValueOptions { decimal_handling_mode: DecimalHandlingMode::String, ..Default::default() }),
        ("decimal_double", ValueOptions { decimal_handling_mode: DecimalHandlingMode::Double, ..Default::default() }),
        ("time_connect", ValueOptions { time_precision_mode: TimePrecisionMode::Connect, ..Default::default() }),
        ("binary_hex", ValueOptions { binary_handling_mode: BinaryHandlingMode::Hex, ..Default::default() }),
        ("interval_string", ValueOptions { interval_handling_mode: IntervalHandlingMode::String, ..Default::default() }),
    ];
    let mut diffs = Vec::new();
    for (variant, opts) in variants {
        let (schemas, rows) = convert_table(client, "public.all_types", &opts).await;
        for (i, line) in read_lines(&dir.join(format!("{variant}.jsonl"))).iter().enumerate() {
            let rec: Json = serde_json::from_str(line).unwrap();
            let value = &rec["value"];
            let after_schema = value["schema"]["fields"].as_array().unwrap().iter().find(|f| f["field"] == "after").unwrap();
            for gf in after_schema["fields"].as_array().unwrap() {
                let name = gf["field"].as_str().unwrap();
                let Some((_, ours)) = schemas.iter().find(|(n, _)| n == name) else {
                    diffs.push(format!("{variant}: column {name} missing from our schema"));
                    continue;
                };
                let mut mine = schema_json(ours);
                mine.as_object_mut().unwrap().insert("field".into(), json!(name));
                if i == 0 && mine != *gf {
                    diffs.push(format!("{variant}: schema {name}: ours {mine} debezium {gf}"));
                }
            }
            let after = &value["payload"]["after"];
            let id = after["id"].as_i64().unwrap();
            let ours = &rows[usize::try_from(id - 1).unwrap()];
            for (name, theirs) in after.as_object().unwrap() {
                let mine = ours.get(name).cloned().unwrap_or(Json::Null);
                let same = match (&mine, theirs) {
                    (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64() || a == b,
                    _ => mine == *theirs,
                };
                if !same {
                    diffs.push(format!("{variant}: row {id} {name}: ours {mine} debezium {theirs}"));
                }
            }
        }
    }
    assert!(diffs.is_empty(), "{} differences from Debezium:\n{}", diffs.len(), diffs.join("\n"));
}

/// The non-empty lines of a golden file; panics if it is missing or empty.
fn read_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading golden {}: {e}", path.display()));
    let lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
    assert!(!lines.is_empty(), "golden {} has no records", path.display());
    lines
}

#[tokio::test]
async fn table_listing_publication_autocreate_modes_and_slot_info() {
    // GIVEN tables in two schemas, one with a name that needs quoting
    let db = PgServer::shared().create_database("catalog_pubs").await;
    let client = db.client().await;
    client.batch_execute("CREATE TABLE a (id int primary key); CREATE TABLE \"B q\" (id int primary key); CREATE SCHEMA s2; CREATE TABLE s2.c (x int)").await.unwrap();

    // WHEN tables are listed with and without a filter THEN sorted, filtered, quoted names kept
    let all = catalog::list_tables(&client, &|_| true).await.unwrap();
    assert_eq!(all, vec![TableId::new("public", "B q"), TableId::new("public", "a"), TableId::new("s2", "c")]);
    let only_public = catalog::list_tables(&client, &|t| t.schema == "public").await.unwrap();
    assert_eq!(only_public.len(), 2);

    // WHEN the publication is missing and autocreate is disabled THEN an error naming the property
    let err = catalog::ensure_publication(&client, "p1", PublicationAutocreateMode::Disabled, &[]).await.unwrap_err();
    assert!(matches!(err, CatalogError::PublicationMissing { .. }) && err.to_string().contains("publication.autocreate.mode"));

    // WHEN filtered mode runs twice with different tables THEN it creates, then alters the set
    catalog::ensure_publication(&client, "p1", PublicationAutocreateMode::Filtered, &only_public).await.unwrap();
    let published = |name: &'static str| {
        let client = &client;
        async move {
            let rows = client.query("SELECT schemaname::text || '.' || tablename::text FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", &[&name]).await.unwrap();
            rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>()
        }
    };
    assert_eq!(published("p1").await, ["public.B q", "public.a"]);
    catalog::ensure_publication(&client, "p1", PublicationAutocreateMode::Filtered, &[TableId::new("s2", "c")]).await.unwrap();
    assert_eq!(published("p1").await, ["s2.c"]);
    // AND disabled mode accepts an existing publication
    catalog::ensure_publication(&client, "p1", PublicationAutocreateMode::Disabled, &[]).await.unwrap();

    // WHEN all_tables mode runs (a name that needs quoting) THEN a FOR ALL TABLES publication
    catalog::ensure_publication(&client, "p all", PublicationAutocreateMode::AllTables, &[]).await.unwrap();
    let all_tables: bool = client.query_one("SELECT puballtables FROM pg_publication WHERE pubname = 'p all'", &[]).await.unwrap().get(0);
    assert!(all_tables);

    // WHEN slot info is asked for a missing slot THEN none; for a fresh pgoutput slot THEN
    // its plugin, database, inactive, and positions
    assert_eq!(catalog::slot_info(&client, &unique_name("nope")).await.unwrap(), None);
    let slot_name = unique_name("catalog_slot");
    client.execute("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", &[&slot_name]).await.unwrap();
    let slot = catalog::slot_info(&client, &slot_name).await.unwrap().unwrap();
    assert_eq!(slot.plugin.as_deref(), Some("pgoutput"));
    assert_eq!(slot.database.as_deref(), Some(db.name.as_str()));
    assert!(!slot.active);
    assert!(slot.confirmed_flush_lsn.is_some_and(|l| l.0 > 0));
    assert!(slot.restart_lsn.is_some());
    // Slots are cluster-wide: free this one for the other tests on the shared cluster.
    client.execute("SELECT pg_drop_replication_slot($1)", &[&slot_name]).await.unwrap();
}
