//! A Confluent-compatible Schema Registry for the tests, in-process (axum on
//! 127.0.0.1, a free port), implementing the subset of the REST API the
//! AvroConverter and Confluent's clients use:
//!
//! ```text
//!   POST /subjects/{s}/versions          register → {"id"}; same schema again → same id; 409 incompatible; 422/42201 invalid
//!   POST /subjects/{s}                   lookup   → {"subject","id","version","schema"}; 40401 / 40403
//!   GET  /subjects, /subjects/{s}/versions, /subjects/{s}/versions/{v|latest}, /schemas/ids/{id}
//!   GET|PUT /config, /config/{s}         compatibility level (default BACKWARD, as Confluent's)
//!   errors                               {"error_code": N, "message": "…"} with Confluent's codes
//! ```
//!
//! Ids are global and one per distinct schema (the same schema under two
//! subjects has one id), as in Confluent's registry. Compatibility is checked
//! on the records the two schemas define (by full name): BACKWARD refuses a
//! field added without a default or a field whose type changed beyond Avro's
//! promotions; FORWARD the mirror; FULL both; `*_TRANSITIVE` against every
//! version; NONE nothing. That is a subset of Avro schema resolution, enough
//! for table schema changes. Optional basic auth answers 401 like Confluent.
//! Its behaviour is checked against Confluent's own Python client
//! (`avro_client.py check-registry`, `e2e_avro::test_registry_speaks_confluents_api`).
// Handlers answer early with a ready `Response` as their error: the size is no concern in a test server.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};

/// A running test registry; stops with the test's runtime.
pub struct Registry {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    state: Arc<Mutex<Store>>,
}

#[derive(Default)]
struct Store {
    /// Distinct schemas; id = index + 1.
    schemas: Vec<(String, Value)>,
    /// subject → ids of its versions, in order.
    subjects: BTreeMap<String, Vec<u32>>,
    global_level: Option<String>,
    levels: BTreeMap<String, String>,
    /// `user:password` required when set.
    credentials: Option<String>,
    /// Registrations answered so far.
    registrations: usize,
    /// When false every request gets 503 / 50003, as a registry that lost its leader.
    unavailable: bool,
}

const DEFAULT_LEVEL: &str = "BACKWARD";
const LEVELS: &[&str] = &["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"];

impl Registry {
    /// Start a registry on a free port of 127.0.0.1.
    pub async fn start() -> Registry {
        Self::start_with(None).await
    }

    /// Start a registry that requires basic auth `user:password`.
    pub async fn start_with(credentials: Option<&str>) -> Registry {
        let state = Arc::new(Mutex::new(Store { credentials: credentials.map(str::to_owned), ..Store::default() }));
        let app = router(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind registry");
        let url = format!("http://{}", listener.local_addr().expect("registry address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Registry { url, state }
    }

    /// The registry's API over this registry's store, to serve on another
    /// listener (`support::registry_tls` puts TLS and a bearer check in front).
    pub fn app(&self) -> Router {
        router(Arc::clone(&self.state))
    }

    /// The subjects and, for each, the ids of its versions in order.
    pub fn subjects(&self) -> BTreeMap<String, Vec<u32>> {
        self.state.lock().unwrap().subjects.clone()
    }

    /// The schema registered under `id`.
    pub fn schema(&self, id: u32) -> Option<Value> {
        self.state.lock().unwrap().schemas.get(id as usize - 1).map(|(_, v)| v.clone())
    }

    /// Answer every request with 503 (error 50003) while `down`.
    pub fn set_unavailable(&self, down: bool) {
        self.state.lock().unwrap().unavailable = down;
    }

    /// How many registrations (POST /subjects/{s}/versions) were answered.
    pub fn registrations(&self) -> usize {
        self.state.lock().unwrap().registrations
    }
}

type Shared = State<Arc<Mutex<Store>>>;

fn router(state: Arc<Mutex<Store>>) -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup))
        .route("/subjects/{subject}/versions", post(register).get(versions))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/config", get(get_global).put(put_global))
        .route("/config/{subject}", get(get_level).put(put_level))
        .with_state(state)
}

fn error(status: StatusCode, code: u32, message: impl Into<String>) -> Response {
    (status, Json(json!({"error_code": code, "message": message.into()}))).into_response()
}

fn authorized(store: &Store, headers: &HeaderMap) -> Result<(), Response> {
    if store.unavailable {
        return Err(error(StatusCode::SERVICE_UNAVAILABLE, 50003, "Error while forwarding the request to the leader"));
    }
    let Some(want) = &store.credentials else { return Ok(()) };
    let given = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    if given.as_deref() == Some(want.as_str()) {
        Ok(())
    } else {
        Err(error(StatusCode::UNAUTHORIZED, 401, "Unauthorized"))
    }
}

/// The schema of a request body, parsed; 42201 when it is not an Avro schema.
fn parse_schema(body: &Value) -> Result<(String, Value), Response> {
    if body.get("schemaType").and_then(Value::as_str).is_some_and(|t| t != "AVRO") {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Invalid schema: only AVRO is supported here"));
    }
    let Some(text) = body.get("schema").and_then(Value::as_str) else {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42201, "Invalid schema: no \"schema\" field"));
    };
    let parsed: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema {text}: {e}"))),
    };
    if !valid_avro(&parsed) {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42201, format!("Invalid schema {text}")));
    }
    Ok((text.to_owned(), parsed))
}

/// A structural check: every schema is a known primitive, a name, a union
/// array, or an object with a known `type` and its parts.
fn valid_avro(v: &Value) -> bool {
    match v {
        Value::String(_) => true,
        Value::Array(branches) => !branches.is_empty() && branches.iter().all(valid_avro),
        Value::Object(m) => match m.get("type") {
            Some(Value::String(t)) => match t.as_str() {
                "record" | "error" => {
                    m.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty())
                        && m.get("fields").and_then(Value::as_array).is_some_and(|fs| {
                            fs.iter().all(|f| f.get("name").and_then(Value::as_str).is_some() && f.get("type").is_some_and(valid_avro))
                        })
                }
                "array" => m.get("items").is_some_and(valid_avro),
                "map" => m.get("values").is_some_and(valid_avro),
                "enum" => m.get("symbols").is_some_and(Value::is_array),
                "fixed" => m.get("size").is_some_and(Value::is_u64),
                _ => true,
            },
            Some(other) => valid_avro(other),
            None => false,
        },
        _ => false,
    }
}

async fn register(State(state): Shared, Path(subject): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    let (text, parsed) = match parse_schema(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    store.registrations += 1;
    let versions = store.subjects.get(&subject).cloned().unwrap_or_default();
    if let Some(id) = versions.iter().find(|id| store.schemas[**id as usize - 1].1 == parsed) {
        return Json(json!({"id": id})).into_response();
    }
    let level = store.levels.get(&subject).or(store.global_level.as_ref()).cloned().unwrap_or_else(|| DEFAULT_LEVEL.to_owned());
    let against: Vec<&Value> = match level.as_str() {
        "NONE" => Vec::new(),
        l if l.ends_with("_TRANSITIVE") => versions.iter().map(|id| &store.schemas[*id as usize - 1].1).collect(),
        _ => versions.last().map(|id| &store.schemas[*id as usize - 1].1).into_iter().collect(),
    };
    for old in against {
        let mut problems = Vec::new();
        if level.starts_with("BACKWARD") || level.starts_with("FULL") {
            problems.extend(compatibility_problems(&parsed, old, "reader"));
        }
        if level.starts_with("FORWARD") || level.starts_with("FULL") {
            problems.extend(compatibility_problems(old, &parsed, "writer"));
        }
        if !problems.is_empty() {
            return error(
                StatusCode::CONFLICT,
                409,
                format!(
                    "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                    problems.join(", ")
                ),
            );
        }
    }
    let id = match store.schemas.iter().position(|(_, v)| *v == parsed) {
        Some(i) => i as u32 + 1,
        None => {
            store.schemas.push((text, parsed));
            store.schemas.len() as u32
        }
    };
    store.subjects.entry(subject).or_default().push(id);
    Json(json!({"id": id})).into_response()
}

async fn lookup(State(state): Shared, Path(subject): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    let (_, parsed) = match parse_schema(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(versions) = store.subjects.get(&subject) else {
        return error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."));
    };
    match versions.iter().position(|id| store.schemas[*id as usize - 1].1 == parsed) {
        Some(i) => {
            let id = versions[i];
            Json(json!({"subject": subject, "id": id, "version": i + 1, "schema": store.schemas[id as usize - 1].0})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn list_subjects(State(state): Shared, headers: HeaderMap) -> Response {
    let store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    Json(store.subjects.keys().cloned().collect::<Vec<_>>()).into_response()
}

async fn versions(State(state): Shared, Path(subject): Path<String>, headers: HeaderMap) -> Response {
    let store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    match store.subjects.get(&subject) {
        Some(v) => Json((1..=v.len()).collect::<Vec<_>>()).into_response(),
        None => error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found.")),
    }
}

async fn version(State(state): Shared, Path((subject, version)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    let Some(versions) = store.subjects.get(&subject) else {
        return error(StatusCode::NOT_FOUND, 40401, format!("Subject '{subject}' not found."));
    };
    let n = match version.as_str() {
        "latest" | "-1" => versions.len(),
        v => match v.parse::<usize>() {
            Ok(n) if (1..=versions.len()).contains(&n) => n,
            Ok(_) => return error(StatusCode::NOT_FOUND, 40402, format!("Version {v} not found.")),
            Err(_) => {
                return error(StatusCode::UNPROCESSABLE_ENTITY, 42202, format!("The specified version '{v}' is not a valid version id."))
            }
        },
    };
    let id = versions[n - 1];
    Json(json!({"subject": subject, "version": n, "id": id, "schema": store.schemas[id as usize - 1].0})).into_response()
}

async fn schema_by_id(State(state): Shared, Path(id): Path<u32>, headers: HeaderMap) -> Response {
    let store = state.lock().unwrap();
    if let Err(r) = authorized(&store, &headers) {
        return r;
    }
    match store.schemas.get((id as usize).wrapping_sub(1)) {
        Some((text, _)) => Json(json!({"schema": text})).into_response(),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

fn level_body(body: &Value) -> Result<String, Response> {
    match body.get("compatibility").and_then(Value::as_str) {
        Some(l) if LEVELS.contains(&l) => Ok(l.to_owned()),
        _ => Err(error(StatusCode::UNPROCESSABLE_ENTITY, 42203, "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")),
    }
}

async fn get_global(State(state): Shared) -> Response {
    let store = state.lock().unwrap();
    Json(json!({"compatibilityLevel": store.global_level.clone().unwrap_or_else(|| DEFAULT_LEVEL.to_owned())})).into_response()
}

async fn put_global(State(state): Shared, Json(body): Json<Value>) -> Response {
    match level_body(&body) {
        Ok(l) => {
            state.lock().unwrap().global_level = Some(l.clone());
            Json(json!({"compatibility": l})).into_response()
        }
        Err(r) => r,
    }
}

async fn get_level(State(state): Shared, Path(subject): Path<String>) -> Response {
    match state.lock().unwrap().levels.get(&subject) {
        Some(l) => Json(json!({"compatibilityLevel": l})).into_response(),
        None => error(StatusCode::NOT_FOUND, 40408, format!("Subject '{subject}' does not have subject-level compatibility configured")),
    }
}

async fn put_level(State(state): Shared, Path(subject): Path<String>, Json(body): Json<Value>) -> Response {
    match level_body(&body) {
        Ok(l) => {
            state.lock().unwrap().levels.insert(subject, l.clone());
            Json(json!({"compatibility": l})).into_response()
        }
        Err(r) => r,
    }
}

/// Why a `reader` schema cannot read what `writer` wrote (empty: it can),
/// compared record by record (records matched by full name).
fn compatibility_problems(reader: &Value, writer: &Value, _role: &str) -> Vec<String> {
    let (mut r, mut w) = (BTreeMap::new(), BTreeMap::new());
    collect_records(reader, None, &mut r);
    collect_records(writer, None, &mut w);
    let mut problems = Vec::new();
    for (name, (r_fields, r_ns)) in &r {
        let Some((w_fields, w_ns)) = w.get(name) else { continue };
        for rf in r_fields {
            let fname = rf["name"].as_str().unwrap_or_default();
            match w_fields.iter().find(|wf| wf["name"] == rf["name"]) {
                None if rf.get("default").is_none() => {
                    problems.push(format!("{{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field '{fname}' at path '/{name}' in the new schema has no default value and is missing in the old schema'}}"))
                }
                None => {}
                Some(wf) => {
                    let rt = signature(&rf["type"], r_ns.as_deref());
                    let wt = signature(&wf["type"], w_ns.as_deref());
                    if !readable(&rt, &wt) {
                        problems.push(format!("{{errorType:'TYPE_MISMATCH', description:'The type (path '/{name}/{fname}') of a field in the new schema does not match with the old schema: reader {rt} writer {wt}'}}"));
                    }
                }
            }
        }
    }
    problems
}

/// Every record definition of `v` by full name: its fields and namespace.
fn collect_records(v: &Value, space: Option<&str>, out: &mut BTreeMap<String, (Vec<Value>, Option<String>)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_records(i, space, out)),
        Value::Object(m) => {
            let ty = m.get("type");
            if matches!(ty.and_then(Value::as_str), Some("record" | "error")) {
                let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
                let ns = match (name.rfind('.'), m.get("namespace").and_then(Value::as_str)) {
                    (Some(i), _) => Some(name[..i].to_owned()),
                    (None, Some("")) => None,
                    (None, Some(ns)) => Some(ns.to_owned()),
                    (None, None) => space.map(str::to_owned),
                };
                let full = full_name(name, ns.as_deref());
                let fields = m.get("fields").and_then(Value::as_array).cloned().unwrap_or_default();
                for f in &fields {
                    collect_records(&f["type"], ns.as_deref(), out);
                }
                out.entry(full).or_insert((fields, ns));
            } else {
                for key in ["items", "values"] {
                    if let Some(x) = m.get(key) {
                        collect_records(x, space, out);
                    }
                }
                if let Some(t @ (Value::Object(_) | Value::Array(_))) = ty {
                    collect_records(t, space, out);
                }
            }
        }
        _ => {}
    }
}

fn full_name(name: &str, space: Option<&str>) -> String {
    match space {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

/// A type reduced to what resolution depends on: primitives and names
/// (records by full name), unions as sorted branch lists.
fn signature(v: &Value, space: Option<&str>) -> String {
    const PRIMITIVES: &[&str] = &["null", "boolean", "int", "long", "float", "double", "bytes", "string"];
    match v {
        Value::String(s) if PRIMITIVES.contains(&s.as_str()) => s.clone(),
        Value::String(s) => full_name(s, space),
        Value::Array(items) => {
            let mut b: Vec<String> = items.iter().map(|i| signature(i, space)).collect();
            b.sort();
            format!("[{}]", b.join(","))
        }
        Value::Object(m) => match m.get("type") {
            Some(Value::String(t)) if t == "record" || t == "error" || t == "enum" || t == "fixed" => {
                let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
                let ns = m.get("namespace").and_then(Value::as_str).or(space);
                full_name(name, ns)
            }
            Some(Value::String(t)) if t == "array" => format!("array<{}>", signature(&m["items"], space)),
            Some(Value::String(t)) if t == "map" => format!("map<{}>", signature(&m["values"], space)),
            Some(t) => signature(t, space),
            None => "?".into(),
        },
        _ => "?".into(),
    }
}

/// Whether a reader of type `r` reads a writer's `w` (Avro's promotions).
fn readable(r: &str, w: &str) -> bool {
    if r == w {
        return true;
    }
    let promotable = |from: &str, to: &str| {
        matches!(
            (from, to),
            ("int", "long" | "float" | "double") | ("long", "float" | "double") | ("float", "double") | ("string", "bytes") | ("bytes", "string")
        )
    };
    if promotable(w, r) {
        return true;
    }
    let branches = |s: &str| -> Vec<String> {
        match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(inner) => split_top(inner),
            None => vec![s.to_owned()],
        }
    };
    let (rb, wb) = (branches(r), branches(w));
    if rb.len() == 1 && wb.len() == 1 {
        return false;
    }
    wb.iter().all(|w| rb.iter().any(|r| r == w || promotable(w, r)))
}

/// Split a union signature's branches at top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut depth, mut cur) = (Vec::new(), 0i32, String::new());
    for c in s.chars() {
        match c {
            '[' | '<' => depth += 1,
            ']' | '>' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}
