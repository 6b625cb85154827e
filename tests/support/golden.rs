//! Comparison with Debezium 3.6.3 itself: the golden captures in
//! `tests/debezium/golden/<scenario>/<variant>.jsonl` (see that directory's README).
//!
//! ```text
//!   scenarios/<s>/setup.sql ─▶ fresh database ─▶ pgcdc connector (variant's properties)
//!   scenarios/<s>/changes.sql ─▶ PostgreSQL ─▶ pgcdc ─▶ Kafka ─▶ consume every golden topic
//!                                                     normalize + rename ─▶ compare per topic
//! ```
//!
//! Only what legitimately differs between two runs is blanked out before comparing:
//! times, the connector version, the database name and the topic prefix; WAL positions
//! (LSN, txId, `sequence`, the `<txId>:<lsn>` transaction ids) are renamed by order of
//! appearance so their relations still count (see [`Positions`]). Everything else — keys,
//! values, schemas, headers, record counts and order within a topic, `total_order` and
//! `data_collection_order` — must be identical.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::{connector_config, unique_name, Broker, Consumed, PgServer, TestDatabase, Worker};


const TASK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the records Debezium wrote on one topic.
const RECORDS_TIMEOUT: Duration = Duration::from_secs(30);
/// How long to wait, once they are there, for one record too many.
const EXTRA_TIMEOUT: Duration = Duration::from_secs(3);

/// `tests/debezium`.
pub fn debezium_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/debezium")
}

/// The variants of `scenario` from `scenarios/<scenario>/variants`: lines
/// `name|prop=v;prop=v` (`#` comments), in file order.
pub fn variants(scenario: &str) -> Vec<(String, Vec<(String, String)>)> {
    let path = debezium_dir().join(format!("scenarios/{scenario}/variants"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (name, props) = line.split_once('|').unwrap_or((line, ""));
            let props = props
                .split(';')
                .filter(|p| !p.trim().is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or_else(|| panic!("{}: bad property {p:?}", path.display()));
                    (k.trim().to_owned(), v.trim().to_owned())
                })
                .collect();
            (name.trim().to_owned(), props)
        })
        .collect()
}

/// The properties of one variant; panics if the variants file does not list it.
pub fn variant_properties(scenario: &str, variant: &str) -> Vec<(String, String)> {
    variants(scenario)
        .into_iter()
        .find(|(name, _)| name == variant)
        .unwrap_or_else(|| panic!("scenarios/{scenario}/variants has no variant {variant:?}"))
        .1
}

/// Debezium's records of one variant, grouped by topic, in emission order.
pub fn golden(scenario: &str, variant: &str) -> BTreeMap<String, Vec<Value>> {
    let path = debezium_dir().join(format!("golden/{scenario}/{variant}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut by_topic: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("golden line is JSON");
        by_topic.entry(v["topic"].as_str().unwrap_or_default().to_owned()).or_default().push(v);
    }
    by_topic
}

/// `"<digits>:<digits>"`: a transaction id as Debezium writes it (`<txId>:<lsn>`).
fn is_tx_id(s: &str) -> bool {
    s.split_once(':').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
    })
}

/// WAL positions renamed by order of first appearance, one namespace per
/// topic and side. Two runs of the same SQL have different LSNs and txIds but
/// the same relations between them: which events share a WAL record (a key
/// change's delete and create), that a transaction id's LSN is its event's,
/// which events share a transaction. Commit positions (`sequence`'s first
/// half, an END record's id) are only checked for null-ness: whether one
/// equals the next change's LSN depends on what else reached the WAL in
/// between (e.g. a background `RUNNING_XACTS` record), not on the SQL.
#[derive(Debug, Default)]
pub struct Positions {
    lsns: std::collections::HashMap<String, usize>,
    txids: std::collections::HashMap<String, usize>,
    /// Normalizing an END record: its id's LSN is the commit's end.
    in_end_record: bool,
}

impl Positions {
    fn label(map: &mut std::collections::HashMap<String, usize>, kind: &str, raw: String) -> String {
        let next = map.len() + 1;
        format!("<{kind}{}>", map.entry(raw).or_insert(next))
    }

    fn lsn(&mut self, raw: impl ToString) -> String {
        Self::label(&mut self.lsns, "lsn", raw.to_string())
    }

    fn txid(&mut self, raw: impl ToString) -> String {
        Self::label(&mut self.txids, "tx", raw.to_string())
    }

    /// `sequence`: a JSON array (as a string) `[lastCommitLsn, lsn]` of
    /// decimal LSN strings or nulls.
    fn sequence(&mut self, raw: &str) -> String {
        match serde_json::from_str::<Vec<Option<String>>>(raw).as_deref() {
            Ok([commit, lsn]) => {
                let commit = if commit.is_some() { "<commit>" } else { "null" };
                let lsn = lsn.as_ref().map_or_else(|| "null".to_owned(), |l| self.lsn(l));
                format!("[{commit},{lsn}]")
            }
            _ => format!("<bad sequence {raw}>"),
        }
    }

    /// `"<txId>:<lsn>"`.
    fn tx_id(&mut self, raw: &str) -> String {
        let (tx, lsn) = raw.split_once(':').unwrap_or_default();
        let lsn = if self.in_end_record { "<commit>".to_owned() } else { self.lsn(lsn) };
        format!("{}:{lsn}", self.txid(tx))
    }
}

/// One consumed or golden record (`{"topic","key","value","headers"}`),
/// normalized with its topic's [`Positions`].
pub fn normalize_record(v: &mut Value, p: &mut Positions) {
    p.in_end_record = v["value"]["payload"]["status"] == "END";
    normalize_with(v, p);
    p.in_end_record = false;
}

/// [`normalize_with`] with positions of its own (for a single record).
pub fn normalize(v: &mut Value) {
    normalize_with(v, &mut Positions::default());
}

/// Blank out what legitimately differs between two runs: times, versions,
/// the database name and the run id; rename WAL positions (LSN, txId,
/// sequence, `<txId>:<lsn>` ids) by order of appearance (see [`Positions`]).
pub fn normalize_with(v: &mut Value, p: &mut Positions) {
    match v {
        Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                // Also the copies ExtractNewRecordState adds (`__ts_ms`, `__source_ts_ms`, `__lsn`).
                let is_time = ["ts_ms", "ts_us", "ts_ns"].iter().any(|t| k.ends_with(t));
                match (k.as_str(), &*x) {
                    (_, t) if is_time && !t.is_object() => *x = Value::from("<ts>"),
                    ("version", Value::String(_)) => *x = Value::from("<version>"),
                    (name, Value::Number(n)) if name.ends_with("lsn") => *x = Value::from(p.lsn(n)),
                    // The unwrap's `__lsn` header (a string; a snapshot's is each slot's own).
                    (name, Value::String(s)) if name.ends_with("lsn") && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                        *x = Value::from(p.lsn(s))
                    }
                    // Also the unwrap's `__txId` (a snapshot's is each connector's own transaction).
                    (name, Value::Number(n)) if name == "txId" || name.ends_with("_txId") => *x = Value::from(p.txid(n)),
                    ("sequence", Value::String(s)) => *x = Value::from(p.sequence(s)),
                    ("id", Value::String(s)) if is_tx_id(s) => *x = Value::from(p.tx_id(s)),
                    ("db", Value::String(_)) => *x = Value::from("<db>"),
                    ("__debezium.context.runId", _) => *x = Value::from("<run>"),
                    ("data_collections", _) => normalize_collections(x),
                    _ => normalize_with(x, p),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| normalize_with(i, p)),
        _ => {}
    }
}

/// A transactional logical message is a data collection of its own in an
/// END record, named after a Java object's identity hash
/// (`…LogicalDecodingMessageMonitor$LogicalDecodingMessageId@2ad29a27`): a
/// random number, which also decides its place in the (HashMap-ordered) list.
/// Such entries become `<message>` and move to the end; the tables keep their
/// order, which is compared exactly.
fn normalize_collections(v: &mut Value) {
    const MESSAGE_ID: &str = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@";
    let Value::Array(items) = v else { return };
    let is_message = |c: &Value| c["data_collection"].as_str().is_some_and(|n| n.starts_with(MESSAGE_ID));
    let (mut tables, mut messages): (Vec<Value>, Vec<Value>) = items.drain(..).partition(|c| !is_message(c));
    messages.iter_mut().for_each(|m| m["data_collection"] = Value::from("<message>"));
    tables.append(&mut messages);
    *items = tables;
}

/// One consumed record in the golden files' shape, with our prefix renamed to
/// `golden_prefix` (in topic names, schema names, `source.name` and headers).
pub fn as_golden(r: &Consumed, prefix: &str, golden_prefix: &str) -> Value {
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.as_ref().map_or(Value::Null, |b| Value::from(String::from_utf8_lossy(b)))))
        .collect();
    let v = serde_json::json!({
        "topic": r.topic, "key": r.key_json(), "value": r.value_json(), "headers": headers,
    });
    // Our unique prefix has a `_`, which schema.name.adjustment.mode=avro_unicode
    // escapes in schema names (the golden prefix has none).
    let escaped = prefix.replace('_', "_u005f");
    rename(&rename(&v, prefix, golden_prefix), &escaped, golden_prefix)
}

/// `v` with every string equal to `from` replaced by `to`.
pub fn rename_exact(v: &Value, from: &str, to: &str) -> Value {
    match v {
        Value::String(s) if s == from => Value::from(to),
        Value::Array(items) => Value::Array(items.iter().map(|x| rename_exact(x, from, to)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, x)| (k.clone(), rename_exact(x, from, to))).collect()),
        _ => v.clone(),
    }
}

/// `v` with every string that is `prefix` or starts with `prefix.` rewritten to `to`.
fn rename(v: &Value, prefix: &str, to: &str) -> Value {
    match v {
        Value::String(s) if s == prefix => Value::from(to),
        Value::String(s) => match s.strip_prefix(prefix).and_then(|rest| rest.strip_prefix('.')) {
            Some(rest) => Value::from(format!("{to}.{rest}")),
            None => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|x| rename(x, prefix, to)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, x)| (k.clone(), rename(x, prefix, to))).collect()),
        _ => v.clone(),
    }
}

/// Runs `sql` one statement at a time on one connection, as `psql -f` did
/// when the goldens were captured: each statement outside BEGIN/COMMIT is its
/// own transaction (one multi-statement query would be a single one).
pub async fn run_like_psql(db: &TestDatabase, sql: &str) {
    let client = db.client().await;
    for statement in split_statements(sql) {
        if let Err(e) = client.batch_execute(&statement).await {
            let detail = e.as_db_error().map(|d| format!("{d}")).unwrap_or_else(|| e.to_string());
            panic!("SQL failed in database {}: {detail}\n--- statement\n{statement}", db.name);
        }
    }
}

/// `sql` split at top-level semicolons: not inside quotes ('…', "…"),
/// dollar quotes ($tag$…$tag$) or comments. Comment-only pieces are dropped.
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    let mut has_code = false;
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(b.len(), |n| i + n);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |n| i + 2 + n + 2);
                continue;
            }
            q @ (b'\'' | b'"') => {
                has_code = true;
                i += 1;
                while i < b.len() {
                    if b[i] == q && b.get(i + 1) == Some(&q) {
                        i += 2;
                    } else if b[i] == q {
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'$' => {
                has_code = true;
                let tag_end = sql[i + 1..].find(|c: char| !(c.is_alphanumeric() || c == '_')).map(|n| i + 1 + n);
                if let Some(end) = tag_end.filter(|&e| b[e] == b'$') {
                    let tag = &sql[i..=end];
                    i = sql[end + 1..].find(tag).map_or(b.len(), |n| end + 1 + n + tag.len());
                    continue;
                }
            }
            b';' => {
                if has_code {
                    out.push(sql[start..=i].trim().to_owned());
                }
                start = i + 1;
                has_code = false;
            }
            c if !c.is_ascii_whitespace() => has_code = true,
            _ => {}
        }
        i += 1;
    }
    if has_code {
        out.push(sql[start..].trim().to_owned());
    }
    out
}

/// GIVEN `scenarios/<scenario>/setup.sql` in a fresh database and a pgcdc
/// connector with the variant's properties (plus `extra`), WHEN changes.sql
/// runs, THEN every topic Debezium wrote holds exactly Debezium's records.
/// Returns the differences (empty when pgcdc matches), one per line.
pub async fn run_scenario(scenario: &str, variant: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let db = PgServer::shared().create_database(scenario).await;
    let broker = Broker::shared();
    let dir = debezium_dir().join(format!("scenarios/{scenario}"));
    db.execute(&std::fs::read_to_string(dir.join("setup.sql")).expect("setup.sql")).await;

    // As captured: snapshot.mode=no_data unless the variant says otherwise.
    let mut props = vec![("snapshot.mode".to_owned(), "no_data".to_owned())];
    props.extend(variant_properties(scenario, variant));
    props.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    // A snapshot variant was captured on a slot created after the changes.
    let snapshot_first = props.iter().rev().find(|(k, _)| k == "snapshot.mode").is_some_and(|(_, v)| v != "no_data");
    let props: Vec<(&str, &str)> = props.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let changes = std::fs::read_to_string(dir.join("changes.sql")).expect("changes.sql");
    if snapshot_first {
        run_like_psql(&db, &changes).await;
    }

    let worker = Worker::start(broker).await;
    let prefix = unique_name(scenario);
    let name = format!("{scenario}-{variant}");
    let config = connector_config(&db, &prefix, &unique_name("slot"), &props);
    let (code, body) = worker.register(&name, config).await;
    assert_eq!(code, 201, "{body}");
    worker.wait_task_state(&name, "RUNNING", TASK_TIMEOUT).await;

    if !snapshot_first {
        run_like_psql(&db, &changes).await;
    }

    let expected = golden(scenario, variant);
    let mut mismatches = compare_topics(broker, &prefix, scenario, &db.name, &expected).await;
    if !mismatches.is_empty() {
        let log = worker.log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        mismatches.push(format!("--- last worker log lines ---\n{}", tail.join("\n")));
    }
    mismatches
}

/// Reads, for every topic of `expected` (Debezium's records, topics named
/// after `golden_prefix`), pgcdc's topic under `prefix` and compares them
/// record by record after normalisation; also checks that pgcdc wrote no
/// topic Debezium did not. Returns the differences, one per entry.
pub async fn compare_topics(
    broker: &Broker,
    prefix: &str,
    golden_prefix: &str,
    db_name: &str,
    expected: &BTreeMap<String, Vec<Value>>,
) -> Vec<String> {
    let reads = expected.iter().map(|(topic, want)| {
        let ours = format!("{prefix}{}", topic.strip_prefix(golden_prefix).unwrap_or(topic));
        let n = want.len();
        async move {
            let got = broker.consume(&ours, n, RECORDS_TIMEOUT).await;
            if got.len() < n {
                return got;
            }
            // Ask for one more than expected so an extra record shows up.
            broker.consume(&ours, n + 1, EXTRA_TIMEOUT).await
        }
    });
    let consumed = futures::future::join_all(reads).await;

    let mut mismatches = Vec::new();
    for ((topic, want), got) in expected.iter().zip(consumed) {
        let mut got: Vec<Value> = got.iter().map(|r| as_golden(r, prefix, golden_prefix)).collect();
        // The database name appears verbatim where the transform copies
        // `source.db` (add.fields / add.headers); Debezium's was the scenario's.
        got.iter_mut().for_each(|v| *v = rename_exact(v, db_name, golden_prefix));
        let mut want = want.clone();
        // float32 values compare as float32: Debezium's JVM (17) prints some with
        // more digits than the shortest form (-3.25e10 as -3.25000008E10).
        got.iter_mut().chain(want.iter_mut()).for_each(round_float32_record);
        let (mut ours, mut theirs) = (Positions::default(), Positions::default());
        got.iter_mut().for_each(|v| normalize_record(v, &mut ours));
        want.iter_mut().for_each(|v| normalize_record(v, &mut theirs));
        if got.len() != want.len() {
            mismatches.push(format!("{topic}: {} records, Debezium wrote {}", got.len(), want.len()));
        }
        for (i, (g, w)) in got.iter_mut().zip(&want).enumerate() {
            // Schemaless float32 values: no schema says which numbers are float32.
            reconcile_float32(g, w);
            if g != w {
                let mut paths = Vec::new();
                diff(g, w, String::new(), &mut paths);
                mismatches.push(format!("{topic} record {i}: {}\n  pgcdc:    {g}\n  debezium: {w}", paths.join("; ")));
            }
        }
    }
    // A topic Debezium did not write must hold nothing (e.g. a table the filters exclude).
    let ours: Vec<String> =
        expected.keys().map(|t| format!("{prefix}{}", t.strip_prefix(golden_prefix).unwrap_or(t))).collect();
    for topic in broker.topics().await {
        if topic.starts_with(&format!("{prefix}.")) && !ours.contains(&topic) {
            let extra = broker.consume(&topic, 1, EXTRA_TIMEOUT).await;
            if !extra.is_empty() {
                mismatches.push(format!("{topic}: {} records, Debezium wrote none", extra.len()));
            }
        }
    }
    mismatches
}

/// Where `got` and `want` hold different floating-point numbers that are
/// the same float32, `got` takes `want`'s: schemaless records, whose
/// float32 values Debezium's JVM may print with extra digits.
fn reconcile_float32(got: &mut Value, want: &Value) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, gv) in g.iter_mut() {
                if let Some(wv) = w.get(k) {
                    reconcile_float32(gv, wv);
                }
            }
        }
        (Value::Array(g), Value::Array(w)) => g.iter_mut().zip(w).for_each(|(gv, wv)| reconcile_float32(gv, wv)),
        (Value::Number(g), Value::Number(w)) if g.is_f64() && w.is_f64() => {
            if let (Some(a), Some(b)) = (g.as_f64(), w.as_f64()) {
                if a != b && (a as f32) == (b as f32) {
                    *g = w.clone();
                }
            }
        }
        _ => {}
    }
}

/// [`round_float32`] on a record's key and value (`{"schema", "payload"}`).
fn round_float32_record(r: &mut Value) {
    for part in ["key", "value"] {
        let Some(Value::Object(kv)) = r.get_mut(part) else { continue };
        let Some(schema) = kv.get("schema").cloned() else { continue };
        if let Some(payload) = kv.get_mut("payload") {
            round_float32(&schema, payload);
        }
    }
}

/// Every number whose Connect schema is `float` rounded to the nearest f32.
fn round_float32(schema: &Value, v: &mut Value) {
    match (schema["type"].as_str(), &mut *v) {
        (Some("float"), Value::Number(n)) => {
            if let Some(x) = n.as_f64() {
                *v = Value::from(f64::from(x as f32));
            }
        }
        (Some("struct"), Value::Object(map)) => {
            for f in schema["fields"].as_array().into_iter().flatten() {
                if let Some(x) = f["field"].as_str().and_then(|name| map.get_mut(name)) {
                    round_float32(f, x);
                }
            }
        }
        (Some("array"), Value::Array(items)) => items.iter_mut().for_each(|x| round_float32(&schema["items"], x)),
        _ => {}
    }
}

/// Where `got` and `want` differ, as `path: got != want` lines.
fn diff(got: &Value, want: &Value, path: String, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => diff(gv, wv, format!("{path}/{k}"), out),
                    None => out.push(format!("{path}/{k}: missing")),
                }
            }
            out.extend(g.keys().filter(|k| !w.contains_key(*k)).map(|k| format!("{path}/{k}: unexpected")));
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(gv, wv, format!("{path}/{i}"), out);
            }
        }
        _ if got != want => out.push(format!("{path}: {got} != {want}")),
        _ => {}
    }
}

/// [`run_scenario`], failing the test with every difference.
pub async fn assert_matches_debezium(scenario: &str, variant: &str, extra: &[(&str, &str)]) {
    let mismatches = run_scenario(scenario, variant, extra).await;
    assert!(
        mismatches.is_empty(),
        "{scenario}/{variant}: {} differences from Debezium 3.6.3:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn variants_file_parses_names_and_properties() {
    let v = variants("identity");
    let txmeta = &v.iter().find(|(n, _)| n == "txmeta").expect("txmeta variant").1;
    assert_eq!(
        txmeta,
        &[
            ("provide.transaction.metadata".to_owned(), "true".to_owned()),
            ("skipped.operations".to_owned(), "none".to_owned())
        ]
    );
    assert!(v.iter().any(|(n, p)| n == "envelope" && p.is_empty()));
}

#[test]
fn normalize_blanks_positions_but_keeps_orders() {
    let mut v = serde_json::json!({"transaction": {"id": "806:39942480", "total_order": 2, "data_collection_order": 1},
        "after": {"id": 5}, "key": {"id": "abc:1"}});
    normalize(&mut v);
    assert_eq!(v["transaction"]["id"], "<tx1>:<lsn1>");
    assert_eq!(v["transaction"]["total_order"], 2);
    assert_eq!(v["after"]["id"], 5);
    assert_eq!(v["key"]["id"], "abc:1");
}

#[test]
fn positions_keep_their_relations_across_records() {
    let mut p = Positions::default();
    let mut a = serde_json::json!({"value": {"payload": {"source": {"txId": 806, "lsn": 300, "sequence": "[null,\"300\"]"},
        "transaction": {"id": "806:300"}}}});
    let mut b = serde_json::json!({"value": {"payload": {"source": {"txId": 807, "lsn": 450, "sequence": "[\"450\",\"450\"]"}}}});
    let mut end = serde_json::json!({"key": {"payload": {"id": "807:500"}}, "value": {"payload": {"status": "END", "id": "807:500"}}});
    normalize_record(&mut a, &mut p);
    normalize_record(&mut b, &mut p);
    normalize_record(&mut end, &mut p);
    assert_eq!(a["value"]["payload"]["source"], serde_json::json!({"txId": "<tx1>", "lsn": "<lsn1>", "sequence": "[null,<lsn1>]"}));
    assert_eq!(a["value"]["payload"]["transaction"]["id"], "<tx1>:<lsn1>");
    assert_eq!(b["value"]["payload"]["source"], serde_json::json!({"txId": "<tx2>", "lsn": "<lsn2>", "sequence": "[<commit>,<lsn2>]"}));
    assert_eq!(end["key"]["payload"]["id"], "<tx2>:<commit>");
    assert_eq!(end["value"]["payload"]["id"], "<tx2>:<commit>");
}

#[test]
fn message_collections_move_to_the_end_tables_keep_their_order() {
    let m = "io.debezium.connector.postgresql.LogicalDecodingMessageMonitor$LogicalDecodingMessageId@2ad29a27";
    let mut v = serde_json::json!({"data_collections": [
        {"data_collection": m, "event_count": 1}, {"data_collection": "public.b", "event_count": 2},
        {"data_collection": "public.a", "event_count": 1}]});
    normalize(&mut v);
    assert_eq!(v["data_collections"], serde_json::json!([
        {"data_collection": "public.b", "event_count": 2}, {"data_collection": "public.a", "event_count": 1},
        {"data_collection": "<message>", "event_count": 1}]));
}

#[test]
fn rename_rewrites_prefix_in_topics_schema_names_and_headers() {
    let v = serde_json::json!({"topic": "identity_3.transaction", "n": "identity_3.public.t.Value",
        "h": "identity_3", "other": "identity_30.x", "s": "xidentity_3"});
    let r = rename(&v, "identity_3", "identity");
    assert_eq!(r["topic"], "identity.transaction");
    assert_eq!(r["n"], "identity.public.t.Value");
    assert_eq!(r["h"], "identity");
    assert_eq!(r["other"], "identity_30.x");
    assert_eq!(r["s"], "xidentity_3");
}

#[test]
fn statements_split_like_psql() {
    let sql = "-- c; x\nINSERT INTO t VALUES ('a;b', 'it''s');\nDO $$ BEGIN UPDATE t SET v = 'x'; END $$;\n\
               SELECT pg_logical_emit_message(true, 'p', '\\x00ff10'::bytea); /* ; */ BEGIN;\n  -- only a comment;\n";
    assert_eq!(
        split_statements(sql),
        [
            "-- c; x\nINSERT INTO t VALUES ('a;b', 'it''s');",
            "DO $$ BEGIN UPDATE t SET v = 'x'; END $$;",
            "SELECT pg_logical_emit_message(true, 'p', '\\x00ff10'::bytea);",
            "/* ; */ BEGIN;",
        ]
    );
}
