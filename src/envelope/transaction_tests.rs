use super::*;
use crate::record::Header;

fn envelope_schema() -> Arc<Schema> {
    let tx = Arc::new(Schema::new(SchemaType::Struct).optional().with_field("id", Arc::new(Schema::new(SchemaType::String))));
    Arc::new(
        Schema::new(SchemaType::Struct)
            .with_field("op", Arc::new(Schema::new(SchemaType::String)))
            .with_field("transaction", tx),
    )
}

fn record(op: &str) -> Record {
    Record {
        topic: "p.public.t".into(),
        key: None,
        value: Some(SchemaAndValue::new(envelope_schema(), Value::Struct(vec![Value::String(op.into()), Value::Null]))),
        headers: Vec::<Header>::new(),
        timestamp_ms: None,
    }
}

fn tombstone() -> Record {
    Record { value: None, ..record("d") }
}

fn block(r: &Record) -> Value {
    match &r.value.as_ref().unwrap().value {
        Value::Struct(f) => f[1].clone(),
        v => panic!("{v:?}"),
    }
}

fn payload(r: &Record) -> Vec<Value> {
    match &r.value.as_ref().unwrap().value {
        Value::Struct(f) => f.clone(),
        v => panic!("{v:?}"),
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn commit(end: u64) -> TxCommit {
    TxCommit { xid: 9, commit_lsn: Lsn(end - 8), end_lsn: Lsn(end), commit_ts_us: 5_000 }
}

fn change<'a>(lsn: u64, table: &'a str) -> TxEvent<'a> {
    TxEvent { xid: 9, lsn: Lsn(lsn), commit_ts_us: 5_000, collection: Some(table) }
}

#[test]
fn java_hash_map_order_matches_debeziums_end_records() {
    // From tests/debezium/golden/identity/txmeta.jsonl: TRUNCATE id_index, nopk_full
    // lists nopk_full first; a txn touching id_default then id_full keeps that order.
    let e = |names: &[&str]| names.iter().map(|n| (n.to_string(), 1)).collect::<Vec<_>>();
    let order = |v: &[(String, i64)]| java_hash_map_order(v).into_iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(order(&e(&["public.id_index", "public.nopk_full"])), ["public.nopk_full", "public.id_index"]);
    assert_eq!(order(&e(&["public.id_default", "public.id_full"])), ["public.id_default", "public.id_full"]);
    // Known Java values: "hello".hashCode(), "polygenelubricants".hashCode() (overflows to MIN).
    assert_eq!(java_string_hash("hello"), 99_162_322);
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    // 13 entries grow the table to 32 buckets: the order is by bucket of the final table.
    let many: Vec<(String, i64)> = (0..13).map(|i| (format!("public.t{i}"), 1)).collect();
    let got = order(&many);
    let bucket = |k: &str| {
        let h = java_string_hash(k) as u32;
        ((h ^ (h >> 16)) & 31) as usize
    };
    assert!(got.windows(2).all(|w| bucket(&w[0]) <= bucket(&w[1])), "{got:?}");
}

#[test]
fn key_change_is_two_events_and_the_tombstone_none() {
    let mut m = TransactionMonitor::new("p");
    let mut out = vec![record("c")];
    m.annotate(change(100, "public.t"), &mut out, 0);
    let start = out.len();
    out.extend([record("d"), tombstone(), record("c")]);
    m.annotate(change(120, "public.t"), &mut out, start);
    m.commit(&commit(200), &mut out);

    assert_eq!(out.len(), 6, "BEGIN, c, d, tombstone, c, END");
    assert_eq!(out[0].topic, "p.transaction");
    assert_eq!(payload(&out[0])[..4], [s("BEGIN"), s("9:100"), Value::Null, Value::Null]);
    assert_eq!(out[0].key.as_ref().unwrap().value, Value::Struct(vec![s("9:100")]));
    assert!(out[0].headers.is_empty());
    let tx = |id: &str, total, order| Value::Struct(vec![s(id), Value::Int64(total), Value::Int64(order)]);
    assert_eq!(block(&out[1]), tx("9:100", 1, 1));
    assert_eq!(block(&out[2]), tx("9:120", 2, 2));
    assert!(out[3].value.is_none());
    assert_eq!(block(&out[4]), tx("9:120", 3, 3));
    let end = payload(&out[5]);
    assert_eq!(end[..3], [s("END"), s("9:200"), Value::Int64(3)]);
    assert_eq!(end[3], Value::Array(vec![Value::Struct(vec![s("public.t"), Value::Int64(3)])]));
    assert_eq!(end[4], Value::Int64(5));
}

#[test]
fn each_message_is_its_own_data_collection() {
    let mut m = TransactionMonitor::new("p");
    let mut out = vec![record("c")];
    m.annotate(change(100, "public.t"), &mut out, 0);
    for lsn in [110, 120] {
        let start = out.len();
        out.push(record("m"));
        m.annotate(TxEvent { collection: None, ..change(lsn, "") }, &mut out, start);
    }
    m.commit(&commit(200), &mut out);
    let orders: Vec<Value> = out[1..4].iter().map(|r| match block(r) {
        Value::Struct(f) => Value::Array(f[1..].to_vec()),
        v => v,
    }).collect();
    let pair = |a, b| Value::Array(vec![Value::Int64(a), Value::Int64(b)]);
    assert_eq!(orders, [pair(1, 1), pair(2, 1), pair(3, 1)]);
    let Value::Array(collections) = &payload(&out[4])[3] else { panic!() };
    assert_eq!(collections.len(), 3);
    let names: Vec<String> = collections
        .iter()
        .map(|c| match c {
            Value::Struct(f) => match &f[0] {
                Value::String(n) => n.clone(),
                v => panic!("{v:?}"),
            },
            v => panic!("{v:?}"),
        })
        .collect();
    assert_eq!(names.iter().filter(|n| n.starts_with(MESSAGE_COLLECTION)).count(), 2);
    assert_ne!(names[0], names[1]);
}

#[test]
fn transaction_without_events_writes_nothing_and_a_new_one_begins_afresh() {
    let mut m = TransactionMonitor::new("p");
    let mut out = Vec::new();
    m.begin(&TxBegin { xid: 9, final_lsn: Lsn(1), commit_ts_us: 0 });
    m.commit(&commit(200), &mut out);
    assert!(out.is_empty());

    // Records without a transaction field (e.g. already unwrapped) are not events.
    let mut plain = Record { value: Some(SchemaAndValue::new(Arc::new(Schema::new(SchemaType::String)), s("x"))), ..record("c") };
    plain.topic = "other".into();
    let mut out = vec![plain];
    m.annotate(change(100, "public.t"), &mut out, 0);
    assert_eq!(out.len(), 1);
    m.commit(&commit(300), &mut out);
    assert_eq!(out.len(), 1);
}
