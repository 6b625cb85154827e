//! The Kafka Connect-compatible REST API (the shapes of Connect 3.x/4.x).
//!
//! Errors are `{"error_code": <http status>, "message": "..."}`. A body that is
//! not JSON is a 400 naming the problem, a body of another content type a 415;
//! the API never answers 500 for bad input.
//!
//! With `[rest.auth]` set, every endpoint but `GET /` (the health check)
//! needs the configured basic credentials or bearer token (401 otherwise);
//! the probes (`/health`, `/ready`, `/metrics`) need none.
//! The API's OpenAPI document is `docs/openapi.yaml`, served at `GET /openapi.yaml`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use crate::config::worker::RestAuth;
use crate::connect::herder::{Herder, HerderError, Readiness};
use crate::connect::runtime::RuntimeError;
use crate::connect::store::TargetState;
use crate::connect::validate;

/// An error response in Connect's shape.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error_code": self.status.as_u16(), "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> ApiError {
        match &e {
            HerderError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
            HerderError::AlreadyExists(_) | HerderError::Rebalancing => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            HerderError::InvalidConfig(errors) => {
                let mut message = format!(
                    "Connector configuration is invalid and contains the following {} error(s):",
                    errors.issues().len()
                );
                for issue in errors.issues() {
                    message.push_str(&format!("\n{}: {}", issue.property, issue.message));
                }
                message.push_str(
                    "\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`",
                );
                ApiError::bad_request(message)
            }
            HerderError::BadRequest(m) => ApiError::bad_request(m.clone()),
            // As Connect, which answers 400 for a connector that does not support altering its offsets.
            HerderError::NotStopped(_)
            | HerderError::Runtime(RuntimeError::Invalid(_))
            | HerderError::Runtime(RuntimeError::Unsupported(_)) => ApiError::bad_request(e.to_string()),
            HerderError::Runtime(RuntimeError::Failed { .. }) => {
                tracing::error!(error = %crate::error::chain(&e), "connector runtime operation failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, crate::error::chain(&e))
            }
            HerderError::Store(_) | HerderError::ConnectorFile { .. } => {
                tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "herder operation failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The OpenAPI document of this API (`docs/openapi.yaml`).
pub const OPENAPI_YAML: &str = include_str!("../../docs/openapi.yaml");

/// How long `/health` waits for the connector states before calling the
/// worker wedged (the herder's lock held that long means it is stuck).
const HEALTH_STATES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /health` (liveness): 200 while the worker's runtime schedules work
/// and its herder answers, with each connector's state; `status` is
/// `DEGRADED` when a connector FAILED (a failed connector is no reason to
/// restart the worker). 503 `{"status": "WEDGED", "message"}` when the
/// runtime's heartbeat stalled or the connector states do not come within
/// [`HEALTH_STATES_TIMEOUT`].
async fn health(State(h): State<Arc<Herder>>) -> Response {
    let wedged = |message: String| {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "WEDGED", "message": message }))).into_response()
    };
    if let Err(e) = h.liveness() {
        return wedged(e.to_string());
    }
    let Ok(states) = tokio::time::timeout(HEALTH_STATES_TIMEOUT, h.connector_states()).await else {
        return wedged(format!(
            "the connector registry did not answer within {} ms: the worker is stuck",
            HEALTH_STATES_TIMEOUT.as_millis()
        ));
    };
    let degraded = states.values().any(|s| s == "FAILED");
    let connectors: Map<String, Value> = states.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let status = if degraded { "DEGRADED" } else { "UP" };
    Json(json!({ "status": status, "connectors": connectors })).into_response()
}

/// `GET /ready`: 200 `{"status": "READY"}` when the worker should receive
/// traffic; 503 `{"status": "REBALANCING" | "SHUTTING_DOWN", "message"}`
/// while it has no stable assignment (distributed mode) or once shutdown has
/// begun. Before the stored connectors are restored the port is not open yet.
async fn ready(State(h): State<Arc<Herder>>) -> Response {
    let (status, message) = match h.readiness() {
        Readiness::Ready => return Json(json!({ "status": "READY" })).into_response(),
        Readiness::Rebalancing => ("REBALANCING", "the worker is joining its group or rebalancing: it has no stable assignment"),
        Readiness::ShuttingDown => ("SHUTTING_DOWN", "the worker is shutting down: its connectors are being stopped"),
    };
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": status, "message": message }))).into_response()
}

/// Once shutdown has begun only reads are served: a change could start a
/// connector after its tasks were collected for stopping.
async fn refuse_changes_when_stopping(State(h): State<Arc<Herder>>, req: Request, next: Next) -> Response {
    if h.is_stopping() && !matches!(*req.method(), Method::GET | Method::HEAD) {
        return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the worker is shutting down: retry on another worker or after its restart")
            .into_response();
    }
    next.run(req).await
}

/// `GET /metrics`: Prometheus text exposition.
async fn metrics() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        crate::metrics::Registry::global().render(),
    )
        .into_response()
}

/// The routes of the API over `herder`, behind the herder's `[rest.auth]` if set.
pub fn router(herder: Arc<Herder>) -> Router {
    let auth = herder.rest_auth().cloned();
    Router::new()
        .route("/", get(root))
        .route("/openapi.yaml", get(openapi))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/connectors", get(list_connectors).post(create_connector))
        .route("/connectors/{name}", get(get_connector).delete(delete_connector))
        .route("/connectors/{name}/config", get(get_config).put(put_config).patch(patch_config))
        .route("/connectors/{name}/offsets", get(get_offsets).patch(alter_offsets).delete(reset_offsets))
        .route("/connectors/{name}/status", get(get_status))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/restart", post(restart))
        .route("/connectors/{name}/tasks", get(get_tasks))
        .route("/connectors/{name}/tasks/{task}/status", get(get_task_status))
        .route("/connectors/{name}/tasks/{task}/restart", post(restart_task))
        .route("/connector-plugins", get(list_plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate_config))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found") })
        .method_not_allowed_fallback(|| async { ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed") })
        .layer(axum::middleware::from_fn_with_state(herder.clone(), refuse_changes_when_stopping))
        .layer(axum::middleware::from_fn(move |req: Request, next: Next| {
            let auth = auth.clone();
            async move { authenticate(auth.as_ref(), req, next).await }
        }))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(herder)
}

/// Longest request target answered (Jetty's, hence Connect's, default
/// request header size); longer ones get a 414.
const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest error body of another content type read to carry its message over.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// Every error in Connect's JSON shape: the 400, 413, 415... axum's
/// extractors answer as text become `{"error_code", "message"}`.
async fn json_errors(req: Request, next: Next) -> Response {
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            format!("HTTP 414 URI Too Long: the request target is {uri_len} bytes, at most {MAX_URI_BYTES} are accepted"),
        )
        .into_response();
    }
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        essence == "application/json" || essence.ends_with("+json")
    });
    if status.as_u16() < 400 || is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let reason = status.canonical_reason().unwrap_or("Error");
    let message = match text.trim() {
        "" => format!("HTTP {} {reason}", status.as_u16()),
        t => format!("HTTP {} {reason}: {t}", status.as_u16()),
    };
    let mut out = ApiError::new(status, message).into_response();
    // Keep headers such as Allow or WWW-Authenticate; the body's own are replaced.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().append(name.clone(), value.clone());
        }
    }
    out
}

/// `name` as one URI path segment: everything but RFC 3986's unreserved
/// characters percent-encoded (UTF-8), so `/`, `?`, `#`, `%` and spaces cannot
/// change what the `Location` points at.
fn encode_path_segment(name: &str) -> String {
    if name == "." || name == ".." {
        return name.replace('.', "%2E");
    }
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Lets a request through when `auth` is unset, when it is one of the
/// probes (`GET /`, `/health`, `/ready`, `/metrics`: no secrets there), or when it
/// carries the configured credentials.
async fn authenticate(auth: Option<&RestAuth>, req: Request, next: Next) -> Response {
    let Some(auth) = auth else { return next.run(req).await };
    if matches!(req.uri().path(), "/" | "/health" | "/ready" | "/metrics") && req.method() == Method::GET {
        return next.run(req).await;
    }
    let given = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let (ok, challenge) = match auth {
        RestAuth::Basic { user, password } => {
            let expected = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", password.expose()));
            (scheme_value(given, "basic").is_some_and(|v| constant_time_eq(v, &expected)), "Basic realm=\"pgcdc\"")
        }
        RestAuth::Bearer { token } => {
            (scheme_value(given, "bearer").is_some_and(|v| constant_time_eq(v, token.expose())), "Bearer realm=\"pgcdc\"")
        }
    };
    if ok {
        return next.run(req).await;
    }
    tracing::warn!(method = %req.method(), path = %req.uri().path(), "rest request rejected: missing or wrong credentials");
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized: missing or wrong credentials").into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    resp
}

/// The value after `scheme ` in an Authorization header (scheme case-insensitive).
fn scheme_value<'a>(header: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, v) = header.trim().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| v.trim())
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML).into_response()
}

/// Parses a JSON body; rejects a declared non-JSON content type (415) and malformed JSON (400).
fn json_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or_default().trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("HTTP 415 Unsupported Media Type: expected application/json, got {essence}"),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))
}

/// A JSON object of config values → string properties (numbers and booleans
/// are accepted and written as strings, as Connect's JSON mapper does).
fn config_map(value: &Value, what: &str) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(obj) = value else { return Err(format!("{what} must be a JSON object of string values")) };
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => return Err(format!("{what}: the value of {k} must not be null")),
            _ => return Err(format!("{what}: the value of {k} must be a string")),
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// `{"name": ..., "config": {...}}` (a registration body or a connector file).
pub fn parse_create_request(body: &[u8]) -> Result<(String, BTreeMap<String, String>), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    create_request(&value)
}

/// A connector file for `pgcdc check`: the registration as
/// POSTed (`{"name", "config"}`), or a bare config map with its `name`.
pub fn parse_connector_file(body: &[u8]) -> Result<(String, BTreeMap<String, String>), String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    if value.get("config").is_some() {
        return create_request(&value);
    }
    let name = value
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a connector file is {\"name\": …, \"config\": {…}} or a config map with \"name\"")?
        .to_owned();
    create_request(&json!({ "name": name, "config": value }))
}

fn create_request(value: &Value) -> Result<(String, BTreeMap<String, String>), String> {
    let config = value.get("config").ok_or("request must contain a \"config\" object")?;
    let config = config_map(config, "config")?;
    let name = match value.get("name") {
        Some(Value::String(n)) => n.clone(),
        Some(_) => return Err("\"name\" must be a string".to_owned()),
        None => config.get("name").cloned().ok_or("request must contain a \"name\"")?,
    };
    if let Some(inner) = config.get("name") {
        if *inner != name {
            return Err(format!("Connector name configuration ({inner}) doesn't match connector name ({name})"));
        }
    }
    Ok((name, config))
}

async fn root(State(h): State<Arc<Herder>>) -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "commit": option_env!("PGCDC_GIT_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": h.kafka_cluster_id(),
    }))
}

async fn list_connectors(State(h): State<Arc<Herder>>, RawQuery(query): RawQuery) -> ApiResult<Json<Value>> {
    let expand: Vec<String> = query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "expand")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    let names = h.connectors().await;
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = Map::new();
    for name in names {
        let mut item = Map::new();
        // A connector deleted between listing and reading is left out.
        if expand.iter().any(|e| e == "status") {
            let Ok(status) = h.status(&name).await else { continue };
            item.insert("status".into(), json!(status));
        }
        if expand.iter().any(|e| e == "info") {
            let Ok(info) = h.info(&name).await else { continue };
            item.insert("info".into(), json!(info));
        }
        out.insert(name, Value::Object(item));
    }
    Ok(Json(Value::Object(out)))
}

async fn create_connector(State(h): State<Arc<Herder>>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let value = json_body(&headers, &body)?;
    let (name, config) = create_request(&value).map_err(ApiError::bad_request)?;
    let initial = match value.get("initial_state") {
        None | Some(Value::Null) => TargetState::Started,
        Some(Value::String(s)) => match s.to_ascii_uppercase().as_str() {
            "RUNNING" => TargetState::Started,
            "PAUSED" => TargetState::Paused,
            "STOPPED" => TargetState::Stopped,
            _ => return Err(ApiError::bad_request(format!("Invalid initial state {s}: must be RUNNING, PAUSED or STOPPED"))),
        },
        Some(_) => return Err(ApiError::bad_request("initial_state must be a string: RUNNING, PAUSED or STOPPED")),
    };
    let info = h.create_with_state(&name, config, initial).await?;
    let location = format!("/connectors/{}", encode_path_segment(&name));
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(info)).into_response())
}

async fn get_connector(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(h.info(&name).await?).into_response())
}

async fn get_config(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(h.info(&name).await?.config).into_response())
}

async fn put_config(
    State(h): State<Arc<Herder>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let value = json_body(&headers, &body)?;
    let config = config_map(&value, "config").map_err(ApiError::bad_request)?;
    let (info, created) = h.put_config(&name, config).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(info)).into_response())
}

/// `PATCH /connectors/{name}/config`: values replace, `null` removes (Connect 3.8+).
async fn patch_config(
    State(h): State<Arc<Herder>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let value = json_body(&headers, &body)?;
    let Value::Object(obj) = value else { return Err(ApiError::bad_request("config patch must be a JSON object")) };
    let mut patch = BTreeMap::new();
    for (k, v) in obj {
        let v = match v {
            Value::Null => None,
            other => {
                let one = Value::Object(Map::from_iter([(k.clone(), other)]));
                config_map(&one, "config patch").map_err(ApiError::bad_request)?.remove(&k)
            }
        };
        patch.insert(k, v);
    }
    Ok(Json(h.patch_config(&name, patch).await?).into_response())
}

async fn get_offsets(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(h.offsets(&name).await?).into_response())
}

/// `PATCH /connectors/{name}/offsets` with `{"offsets": [{"partition": {..}, "offset": {..} | null}]}`.
async fn alter_offsets(
    State(h): State<Arc<Herder>>,
    Path(name): Path<String>,
    fwd: Forwardable,
) -> ApiResult<Response> {
    let (headers, body) = (fwd.headers.clone(), fwd.body.clone());
    let value = json_body(&headers, &body)?;
    let offsets = value.get("offsets").cloned().unwrap_or(Value::Null);
    let Value::Array(items) = &offsets else {
        return Err(ApiError::bad_request("request body must contain an \"offsets\" array"));
    };
    if items.is_empty() {
        return Err(ApiError::bad_request("the \"offsets\" array must not be empty"));
    }
    for item in items {
        if !item.get("partition").is_some_and(Value::is_object) || !item.get("offset").is_some_and(|o| o.is_object() || o.is_null()) {
            return Err(ApiError::bad_request(
                "every entry of \"offsets\" needs a \"partition\" object and an \"offset\" object or null",
            ));
        }
    }
    if let Some(resp) = fwd.to_owner(&h, &name).await? {
        return Ok(resp);
    }
    h.alter_offsets(&name, offsets).await?;
    Ok(Json(json!({"message": "The offsets for this connector have been altered successfully"})).into_response())
}

async fn reset_offsets(State(h): State<Arc<Herder>>, Path(name): Path<String>, fwd: Forwardable) -> ApiResult<Response> {
    if let Some(resp) = fwd.to_owner(&h, &name).await? {
        return Ok(resp);
    }
    h.reset_offsets(&name).await?;
    Ok(Json(json!({"message": "The offsets for this connector have been reset successfully"})).into_response())
}

async fn get_status(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<Response> {
    Ok(Json(h.status(&name).await?).into_response())
}

async fn delete_connector(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    h.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pause(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    h.set_target(&name, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    h.set_target(&name, TargetState::Started).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    h.set_target(&name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /connectors/{name}/restart[?includeTasks=&onlyFailed=]`: 204 for a plain
/// restart, 202 with the status when either flag is given (Connect 3.0+).
async fn restart(
    State(h): State<Arc<Herder>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    fwd: Forwardable,
) -> ApiResult<Response> {
    if let Some(resp) = fwd.to_owner(&h, &name).await? {
        return Ok(resp);
    }
    let flag = |flag: &str| {
        q.as_deref().unwrap_or_default().split('&').any(|kv| kv.eq_ignore_ascii_case(&format!("{flag}=true")))
    };
    let (include_tasks, only_failed) = (flag("includeTasks"), flag("onlyFailed"));
    h.restart(&name, only_failed).await?;
    if include_tasks || only_failed {
        Ok((StatusCode::ACCEPTED, Json(h.status(&name).await?)).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

async fn get_tasks(State(h): State<Arc<Herder>>, Path(name): Path<String>) -> ApiResult<Response> {
    let tasks = h.tasks(&name).await?;
    let body: Vec<Value> = tasks.into_iter().map(|(id, config)| json!({ "id": id, "config": config })).collect();
    Ok(Json(body).into_response())
}

fn task_zero(name: &str, task: &str) -> ApiResult<()> {
    if task == "0" {
        Ok(())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, format!("Task {name}-{task} not found")))
    }
}

async fn get_task_status(State(h): State<Arc<Herder>>, Path((name, task)): Path<(String, String)>) -> ApiResult<Response> {
    let status = h.status(&name).await?;
    task_zero(&name, &task)?;
    let task = status.tasks.into_iter().next().ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("Task {name}-0 not found")))?;
    Ok(Json(task).into_response())
}

async fn restart_task(
    State(h): State<Arc<Herder>>,
    Path((name, task)): Path<(String, String)>,
    fwd: Forwardable,
) -> ApiResult<Response> {
    h.info(&name).await?;
    task_zero(&name, &task)?;
    if let Some(resp) = fwd.to_owner(&h, &name).await? {
        return Ok(resp);
    }
    h.restart(&name, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Header marking a request forwarded by another worker (never forwarded again).
const FORWARDED_HEADER: &str = "x-pgcdc-forwarded-by";
/// How long a forwarded request may take.
const FORWARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

/// A request that distributed mode may forward to the worker running the
/// connector, as Connect forwards restarts and offset changes.
struct Forwardable {
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for Forwardable {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = req.method().clone();
        let uri = req.extensions().get::<OriginalUri>().map_or_else(|| req.uri().clone(), |u| u.0.clone());
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        Ok(Forwardable { method, uri, headers, body })
    }
}

impl Forwardable {
    /// `None` when this worker handles the request itself (standalone, or it
    /// runs the connector); else the owner's answer.
    async fn to_owner(&self, h: &Herder, name: &str) -> ApiResult<Option<Response>> {
        let Some(cluster) = h.cluster() else { return Ok(None) };
        h.info(name).await?;
        if cluster.owns(name) {
            return Ok(None);
        }
        if self.headers.contains_key(FORWARDED_HEADER) {
            // The sender thought we own it: the assignment is changing.
            return Err(HerderError::Rebalancing.into());
        }
        let Some(owner) = cluster.owner_url(name) else { return Err(HerderError::Rebalancing.into()) };
        let path = self.uri.path_and_query().map_or(self.uri.path(), |p| p.as_str());
        let url = format!("{owner}{path}");
        tracing::debug!(connector = %name, url = %url, "forwarding request to the connector's owner");
        let mut req = reqwest::Client::new()
            .request(self.method.clone(), &url)
            .timeout(FORWARD_TIMEOUT)
            .header(FORWARDED_HEADER, h.worker_id())
            .body(self.body.clone());
        for key in [header::CONTENT_TYPE, header::AUTHORIZATION] {
            if let Some(v) = self.headers.get(&key) {
                req = req.header(key, v.clone());
            }
        }
        let resp = req.send().await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot forward the request to {owner}: {e}"))
        })?;
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
        let body = resp.bytes().await.map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the answer of {owner}: {e}"))
        })?;
        let mut out = (status, body).into_response();
        if let Some(ct) = content_type {
            out.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        Ok(Some(out))
    }
}

async fn list_plugins(RawQuery(q): RawQuery) -> Json<Value> {
    let all = q.as_deref().unwrap_or_default().split('&').any(|kv| kv.eq_ignore_ascii_case("connectorsOnly=false"));
    Json(Value::Array(validate::plugins(all)))
}

async fn plugin_config(Path(plugin): Path<String>) -> ApiResult<Json<Value>> {
    validate::check_plugin(&plugin).map_err(|m| ApiError::new(StatusCode::NOT_FOUND, m))?;
    Ok(Json(validate::definitions()))
}

async fn validate_config(
    State(h): State<Arc<Herder>>,
    Path(plugin): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let value = json_body(&headers, &body)?;
    let config = config_map(&value, "config").map_err(ApiError::bad_request)?;
    h.validate_live(&plugin, config).await.map(Json).map_err(ApiError::bad_request)
}
