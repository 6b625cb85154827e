//! Debezium's ExtractNewRecordState (`io.debezium.transforms.ExtractNewRecordState`).

/// `delete.tombstone.handling.mode`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeleteTombstoneHandling {
    /// Keep only the tombstone of a delete.
    #[default]
    Tombstone,
    /// Drop the delete and its tombstone.
    Drop,
    /// Rewrite the delete as the `before` row with `__deleted=true`; drop the tombstone.
    Rewrite,
    /// Like `Rewrite`, keeping the tombstone.
    RewriteWithTombstone,
    /// Turn the delete into a tombstone; drop Debezium's own tombstone.
    DeleteToTombstone,
}

/// One entry of `add.fields` / `add.headers`: `field` or `field:newname`,
/// where `field` may be `source.<name>` or `transaction.<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedField {
    pub field: String,
    pub rename: Option<String>,
}

/// Default of `add.fields.prefix` and `add.headers.prefix`.
pub const DEFAULT_ADDED_PREFIX: &str = "__";

/// The transform's properties (`transforms.<alias>.*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnwrapOptions {
    pub delete_tombstone_handling: DeleteTombstoneHandling,
    pub add_fields: Vec<AddedField>,
    pub add_headers: Vec<AddedField>,
    pub add_fields_prefix: String,
    pub add_headers_prefix: String,
    /// `drop.fields.header.name`
    pub drop_fields_header_name: Option<String>,
    /// `drop.fields.from.key` (default false)
    pub drop_fields_from_key: bool,
    /// `drop.fields.keep.schema.compatible` (default true)
    pub drop_fields_keep_schema_compatible: bool,
    /// `route.by.field`
    pub route_by_field: Option<String>,
    /// `replace.null.with.default` (default true)
    pub replace_null_with_default: bool,
}

impl Default for UnwrapOptions {
    fn default() -> Self {
        UnwrapOptions {
            delete_tombstone_handling: DeleteTombstoneHandling::default(),
            add_fields: Vec::new(),
            add_headers: Vec::new(),
            add_fields_prefix: DEFAULT_ADDED_PREFIX.to_owned(),
            add_headers_prefix: DEFAULT_ADDED_PREFIX.to_owned(),
            drop_fields_header_name: None,
            drop_fields_from_key: false,
            drop_fields_keep_schema_compatible: true,
            route_by_field: None,
            replace_null_with_default: true,
        }
    }
}

use std::collections::HashMap;
use std::sync::Arc;

use crate::record::{Header, Record, SchemaAndValue};
use crate::schema::{Schema, SchemaType, Value};

/// The field `rewrite` modes add to every record (not affected by `add.fields.prefix`).
pub const DELETED_FIELD: &str = "__deleted";

/// Where an added field's value lives in the envelope.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// A top-level envelope field (`op`, `ts_ms`, …).
    Top(usize),
    /// A field of a top-level struct (`source.*`, `transaction.*`).
    Nested(usize, usize),
}

/// What the transform needs to know about one envelope schema, built once.
#[derive(Debug)]
struct Plan {
    /// Keeps the pointer key of the cache valid.
    _envelope: Arc<Schema>,
    before: usize,
    after: usize,
    op: usize,
    /// The `before`/`after` field schema (optional `<…>.Value`).
    row_schema: Arc<Schema>,
    /// The output value schema: the row fields, then `__deleted`, then added fields.
    out_schema: Arc<Schema>,
    fields: Vec<Loc>,
    headers: Vec<(String, Loc, Arc<Schema>)>,
}

/// Debezium's ExtractNewRecordState (3.6.3 semantics).
#[derive(Debug)]
pub struct Unwrap {
    opts: UnwrapOptions,
    plans: HashMap<*const Schema, Plan>,
    /// Struct schemas without dropped fields, by original schema and kept-field mask.
    dropped: DroppedCache,
    /// Topic, key and `add.headers` of the last delete, for its tombstone.
    last_delete_headers: Option<(String, Option<SchemaAndValue>, Vec<Header>)>,
}

/// Struct schemas without dropped fields, keyed by the original schema's
/// address and the kept-field mask; each entry holds the original alive.
type DroppedCache = HashMap<(*const Schema, Vec<bool>), (Arc<Schema>, Arc<Schema>)>;

// The raw pointers are only compared; each plan holds the `Arc` it points to.
unsafe impl Send for Unwrap {}

/// Cached plans kept before the cache is reset.
const PLAN_CACHE_CAPACITY: usize = 4096;

impl Unwrap {
    pub fn new(opts: UnwrapOptions) -> Self {
        Unwrap { opts, plans: HashMap::new(), dropped: HashMap::new(), last_delete_headers: None }
    }

    /// Transform one record into 0..n records appended to `out`.
    pub fn apply(&mut self, mut record: Record, out: &mut Vec<Record>) {
        use DeleteTombstoneHandling as M;
        let mode = self.opts.delete_tombstone_handling;
        let Some(value) = record.value.take() else {
            // Debezium's own tombstones survive only rewrite-with-tombstone.
            // A tombstone shares its delete's Headers object in Debezium, so
            // it carries the `add.headers` added to the delete.
            if let Some((topic, key, added)) = self.last_delete_headers.take() {
                if topic == record.topic && key == record.key {
                    record.headers.extend(added);
                }
            }
            if mode == M::RewriteWithTombstone {
                out.push(record);
            }
            return;
        };
        self.last_delete_headers = None;
        let replace_null = self.opts.replace_null_with_default;
        let route_by = self.opts.route_by_field.clone();
        let Some(plan) = Self::plan(&mut self.plans, &self.opts, &value.schema) else {
            // Not a change-event envelope (messages, heartbeats): unchanged.
            record.value = Some(value);
            out.push(record);
            return;
        };
        let Value::Struct(env) = &value.value else {
            record.value = Some(value);
            out.push(record);
            return;
        };
        let get = |loc: Loc| -> Value {
            match loc {
                Loc::Top(i) => env.get(i).cloned().unwrap_or(Value::Null),
                Loc::Nested(i, j) => match env.get(i) {
                    Some(Value::Struct(inner)) => inner.get(j).cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                },
            }
        };
        let op = match env.get(plan.op) {
            Some(Value::String(s)) => s.as_str(),
            _ => "",
        };
        if op == "t" {
            return;
        }
        let first_added = record.headers.len();
        for (name, loc, schema) in &plan.headers {
            let v = get(*loc);
            let value = (!v.is_null()).then(|| SchemaAndValue::new(Arc::clone(schema), v));
            record.headers.push(Header { key: name.clone(), value });
        }
        let deleted = op == "d";
        let remember = deleted && first_added < record.headers.len();
        self.last_delete_headers =
            remember.then(|| (record.topic.clone(), record.key.clone(), record.headers[first_added..].to_vec()));
        let rewrite = matches!(mode, M::Rewrite | M::RewriteWithTombstone);
        if deleted {
            match mode {
                M::Drop => return,
                M::DeleteToTombstone => {
                    self.drop_fields(&mut record);
                    out.push(record);
                    return;
                }
                M::Tombstone => {
                    record.value = Some(SchemaAndValue::new(Arc::clone(&plan.row_schema), Value::Null));
                    self.drop_fields(&mut record);
                    out.push(record);
                    return;
                }
                M::Rewrite | M::RewriteWithTombstone => {}
            }
        }
        let row = if deleted { env.get(plan.before) } else { env.get(plan.after) };
        let Some(Value::Struct(row)) = row else {
            record.value = Some(SchemaAndValue::new(Arc::clone(&plan.row_schema), Value::Null));
            out.push(record);
            return;
        };
        let mut fields = Vec::with_capacity(plan.out_schema.fields.len());
        for (v, f) in row.iter().zip(&plan.row_schema.fields) {
            match (&f.schema.default, v.is_null() && replace_null) {
                (Some(d), true) => fields.push(d.clone()),
                _ => fields.push(v.clone()),
            }
        }
        if rewrite {
            fields.push(Value::String(if deleted { "true" } else { "false" }.to_owned()));
        }
        fields.extend(plan.fields.iter().map(|l| get(*l)));
        if let Some(route) = &route_by {
            if let Some(Value::String(topic)) = plan.row_schema.field_index(route).and_then(|i| fields.get(i)) {
                record.topic = topic.clone();
            }
        }
        record.value = Some(SchemaAndValue::new(Arc::clone(&plan.out_schema), Value::Struct(fields)));
        self.drop_fields(&mut record);
        out.push(record);
    }

    /// `drop.fields.header.name`: the first header of that name lists field
    /// names (an array of strings, as ExtractChangedRecordState writes it);
    /// they leave the value and, with `drop.fields.from.key`, the key — only
    /// the optional ones when `drop.fields.keep.schema.compatible` (Kafka's
    /// ReplaceField `exclude`: the struct keeps name, version, doc and
    /// parameters and becomes required). Debezium applies it after
    /// `add.fields`. A missing or null header, or one that is not an array,
    /// drops nothing.
    fn drop_fields(&mut self, record: &mut Record) {
        let Some(name) = self.opts.drop_fields_header_name.as_deref().filter(|n| !n.trim().is_empty()) else {
            return;
        };
        let Some(header) = record.headers.iter().find(|h| h.key == name) else { return };
        let Some(Value::Array(items)) = header.value.as_ref().map(|v| &v.value) else { return };
        let names: Vec<&str> = items.iter().filter_map(|v| if let Value::String(s) = v { Some(s.as_str()) } else { None }).collect();
        if names.is_empty() {
            return;
        }
        let compatible = self.opts.drop_fields_keep_schema_compatible;
        if self.opts.drop_fields_from_key {
            if let Some(key) = record.key.as_mut() {
                drop_struct_fields(&mut self.dropped, key, &names, compatible);
            }
        }
        if let Some(value) = record.value.as_mut() {
            drop_struct_fields(&mut self.dropped, value, &names, compatible);
        }
    }

    /// The cached plan of an envelope schema (borrowing only the plan cache,
    /// so the other fields stay usable while it is held).
    fn plan<'a>(
        plans: &'a mut HashMap<*const Schema, Plan>,
        opts: &UnwrapOptions,
        schema: &Arc<Schema>,
    ) -> Option<&'a Plan> {
        let key = Arc::as_ptr(schema);
        if !plans.contains_key(&key) {
            let plan = build_plan(opts, schema)?;
            if plans.len() >= PLAN_CACHE_CAPACITY {
                plans.clear();
            }
            plans.insert(key, plan);
        }
        plans.get(&key)
    }
}

fn build_plan(opts: &UnwrapOptions, env: &Arc<Schema>) -> Option<Plan> {
    if env.kind != SchemaType::Struct || !env.name.as_deref().is_some_and(|n| n.ends_with(".Envelope")) {
        return None;
    }
    let before = env.field_index("before")?;
    let after = env.field_index("after")?;
    let op = env.field_index("op")?;
    let row_schema = Arc::clone(&env.fields[after].schema);
    let mut out = (*row_schema).clone();
    out.optional = false;
    if matches!(opts.delete_tombstone_handling, DeleteTombstoneHandling::Rewrite | DeleteTombstoneHandling::RewriteWithTombstone) {
        out = out.with_field(
            DELETED_FIELD,
            Arc::new(Schema::new(SchemaType::String).optional()),
        );
    }
    let mut fields = Vec::new();
    for a in &opts.add_fields {
        if let Some((loc, schema)) = locate(env, &a.field) {
            out = out.with_field(added_name(&opts.add_fields_prefix, a), Arc::new(optional_copy(&schema)));
            fields.push(loc);
        }
    }
    let headers = opts
        .add_headers
        .iter()
        .filter_map(|a| locate(env, &a.field).map(|(loc, s)| (added_name(&opts.add_headers_prefix, a), loc, s)))
        .collect();
    Some(Plan { _envelope: Arc::clone(env), before, after, op, row_schema, out_schema: Arc::new(out), fields, headers })
}

/// Kafka's `ReplaceField` with `exclude`: the fields named in `names` (only
/// optional ones when `compatible`) leave a struct's schema and value.
fn drop_struct_fields(
    cache: &mut DroppedCache,
    sv: &mut SchemaAndValue,
    names: &[&str],
    compatible: bool,
) {
    if sv.schema.kind != SchemaType::Struct {
        return;
    }
    let Value::Struct(values) = &mut sv.value else { return };
    let keep: Vec<bool> =
        sv.schema.fields.iter().map(|f| !(names.contains(&f.name.as_str()) && (!compatible || f.schema.optional))).collect();
    if keep.iter().all(|k| *k) {
        return;
    }
    if cache.len() >= PLAN_CACHE_CAPACITY {
        cache.clear();
    }
    let original = Arc::clone(&sv.schema);
    let (_, schema) = cache.entry((Arc::as_ptr(&original), keep.clone())).or_insert_with(|| {
        let mut s = Schema::new(SchemaType::Struct);
        s.name = original.name.clone();
        s.version = original.version;
        s.doc = original.doc.clone();
        s.parameters = original.parameters.clone();
        s.fields = original.fields.iter().zip(&keep).filter(|(_, k)| **k).map(|(f, _)| f.clone()).collect();
        (Arc::clone(&original), Arc::new(s))
    });
    let mut flags = keep.iter();
    values.retain(|_| flags.next().copied().unwrap_or(true));
    sv.schema = Arc::clone(schema);
}

/// `source.x` / `transaction.x` explicitly; a bare name is a top-level
/// envelope field when one exists (`op`, `ts_ms`), else a `source` field.
fn locate(env: &Schema, field: &str) -> Option<(Loc, Arc<Schema>)> {
    let nested = |parent: &str, name: &str| {
        let i = env.field_index(parent)?;
        let inner = &env.fields[i].schema;
        let j = inner.field_index(name)?;
        Some((Loc::Nested(i, j), Arc::clone(&inner.fields[j].schema)))
    };
    if let Some((parent, name)) = field.split_once('.') {
        return nested(parent, name);
    }
    match env.field_index(field) {
        Some(i) if env.fields[i].schema.kind != SchemaType::Struct => {
            Some((Loc::Top(i), Arc::clone(&env.fields[i].schema)))
        }
        _ => nested("source", field).or_else(|| nested("transaction", field)),
    }
}

fn added_name(prefix: &str, a: &AddedField) -> String {
    match &a.rename {
        Some(r) => format!("{prefix}{r}"),
        None => format!("{prefix}{}", a.field.replace('.', "_")),
    }
}

/// An added field's schema: the source field's type, name and parameters, optional, no default.
fn optional_copy(s: &Schema) -> Schema {
    let mut c = s.clone();
    c.optional = true;
    c.default = None;
    c
}

#[cfg(test)]
#[path = "unwrap_tests.rs"]
mod tests;
