//! The MCP server at `/mcp` (DESIGN section 16): the Model Context Protocol's streamable HTTP
//! transport, stateless, with JSON responses, and Writ as an OAuth protected resource (RFC 9728
//! metadata at `/.well-known/oauth-protected-resource[/mcp]` naming Writ's own issuer). The tools
//! and what they call are [`tools`].
//!
//! **Why our own transport, not the `rmcp` crate.** `rmcp`'s streamable HTTP server brings 14
//! crates Writ does not have, among them `chrono` (a second date library beside `time`) and
//! `schemars` (a second JSON Schema derive beside `utoipa`), plus its own session manager and SSE
//! machinery; its errors and authentication live outside axum's extractors, so the 401 with
//! `WWW-Authenticate`, the caller resolved from the database and the request id for audit
//! records would all be bridged by hand. What Writ serves is small: one `POST` carrying one
//! JSON-RPC message, answered with one JSON object, no server-initiated stream, no session. That
//! is this file.
//!
//! **What is served.** The handshake revisions of the protocol (`2025-03-26`, `2025-06-18`,
//! `2025-11-25`; `initialize` answers the client's version when it is one of them, else the
//! newest), `ping`, `tools/list` and `tools/call`. Notifications and responses from the client
//! are accepted with `202`. Without a session there is no `Mcp-Session-Id`; `GET` and `DELETE`
//! answer `405` with `Allow: POST`, the router's own answer for a method the path does not
//! serve (no server-initiated stream, nothing to end). A client of the stateless
//! `2026-07-28` revision probes `server/discover` first and, on "method not found", falls back
//! to `initialize`, as that revision's SDKs do.
//!
//! **Errors.** Everything the transport refuses is a JSON-RPC error object (`id` null when the
//! message had none): a body that is not JSON `-32700` (400), not a JSON-RPC message or a batch
//! `-32600` (400), an unknown method `-32601`, bad parameters `-32602`; a wrong content type is
//! 415, an `Accept` without JSON 406, an unsupported `MCP-Protocol-Version` header 400, an
//! `Origin` other than Writ's own 403 (DNS rebinding). A refusal by the domain inside a tool is
//! not a protocol error: it is a tool result with `isError: true` and the domain's message.

pub mod tools;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;

/// The protocol revisions served through the `initialize` handshake, oldest first.
pub const PROTOCOL_VERSIONS: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
/// The revision offered to a client that asks for one not served.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

/// The path of the MCP endpoint.
pub const MCP_PATH: &str = "/mcp";
/// The protected-resource metadata of the MCP endpoint (RFC 9728 section 3.1: the well-known
/// segment inserted before the resource's path).
pub const MCP_RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
/// The protected-resource metadata of Writ's API as a whole.
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

// JSON-RPC 2.0's error codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error response.
fn rpc_error(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

fn rpc_result(id: Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// A transport refusal: this status, with a JSON-RPC error (no id) as its body.
fn refusal(status: StatusCode, code: i64, message: impl Into<String>) -> Response {
    (status, Json(rpc_error(Value::Null, code, message))).into_response()
}

/// Where the MCP endpoint's protected-resource metadata is, for `WWW-Authenticate`.
fn resource_metadata_url(state: &AppState) -> String {
    format!("{}{MCP_RESOURCE_METADATA_PATH}", state.settings.public_url)
}

/// The 401 of the MCP endpoint (RFC 9728 section 5.1, RFC 6750 section 3): `WWW-Authenticate`
/// names the resource metadata, and `error="invalid_token"` when a token was presented but
/// refused (none when there was no token at all).
fn unauthorized(state: &AppState, headers: &HeaderMap, error: ApiError) -> Response {
    if error.status != StatusCode::UNAUTHORIZED {
        // Not a question of the token (the database unavailable while resolving the caller).
        return error.into_response();
    }
    let presented = headers.contains_key(header::AUTHORIZATION);
    let mut value = format!(
        "Bearer resource_metadata=\"{}\"",
        resource_metadata_url(state)
    );
    if presented {
        value.push_str(&format!(
            ", error=\"invalid_token\", error_description=\"{}\"",
            error.message.replace(['"', '\\'], "'")
        ));
    }
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Whether `Origin` (when sent) is Writ's own: browsers send it, and a page of another origin
/// must not reach the endpoint through a rebound DNS name.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let public = &state.settings.public_url;
    // The origin of `public_url`: scheme and authority, without a path.
    let own = match public.find("://") {
        Some(i) => {
            let rest = &public[i + 3..];
            let end = rest.find('/').map_or(public.len(), |j| i + 3 + j);
            &public[..end]
        }
        None => public.as_str(),
    };
    origin.eq_ignore_ascii_case(own)
}

/// Whether the header's media ranges include `application/json` (or a wildcard over it).
fn accepts_json(headers: &HeaderMap) -> bool {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if values.is_empty() {
        return true;
    }
    values.iter().flat_map(|v| v.split(',')).any(|range| {
        let media = range
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        matches!(media.as_str(), "application/json" | "application/*" | "*/*")
    })
}

fn is_json_content(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `POST /mcp`: one JSON-RPC message in, one JSON answer out (or `202` for a notification).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    auth: Result<Authenticated, ApiError>,
    body: Bytes,
) -> Response {
    if !origin_allowed(&state, &headers) {
        return refusal(
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            "the Origin header names another site",
        );
    }
    let auth = match auth {
        Ok(auth) => auth,
        Err(error) => return unauthorized(&state, &headers, error),
    };
    if !is_json_content(&headers) {
        return refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            INVALID_REQUEST,
            "the body must be one JSON-RPC message sent as application/json",
        );
    }
    if !accepts_json(&headers) {
        return refusal(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "this server answers with application/json: the Accept header must allow it",
        );
    }
    if let Some(version) = headers.get("mcp-protocol-version") {
        let version = version.to_str().unwrap_or_default();
        if !PROTOCOL_VERSIONS.contains(&version) {
            return refusal(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                format!(
                    "unsupported MCP-Protocol-Version '{}': this server speaks {}",
                    version.chars().take(64).collect::<String>(),
                    PROTOCOL_VERSIONS.join(", ")
                ),
            );
        }
    }
    let message: Value = match serde_json::from_slice(&body) {
        Ok(message) => message,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                PARSE_ERROR,
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let Value::Object(message) = message else {
        return refusal(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            if message.is_array() {
                "batches are not supported: send one JSON-RPC message per request"
            } else {
                "the body is not a JSON-RPC message object"
            },
        );
    };
    match classify(&message) {
        Err(reason) => {
            let id = message
                .get("id")
                .filter(|id| id.is_string() || id.is_number())
                .cloned()
                .unwrap_or(Value::Null);
            (
                StatusCode::BAD_REQUEST,
                Json(rpc_error(id, INVALID_REQUEST, reason)),
            )
                .into_response()
        }
        // A notification (`notifications/initialized`, `notifications/cancelled`, …) or the
        // client's answer to a request: nothing to say back.
        Ok(Message::Notification | Message::Response) => StatusCode::ACCEPTED.into_response(),
        Ok(Message::Request { id, method }) => {
            let params = message.get("params").cloned().unwrap_or(Value::Null);
            let answer = dispatch(&state, &auth, &method, params).await.map_or_else(
                |(code, text)| rpc_error(id.clone(), code, text),
                |result| rpc_result(id.clone(), result),
            );
            (StatusCode::OK, Json(answer)).into_response()
        }
    }
}

enum Message {
    Request { id: Value, method: String },
    Notification,
    Response,
}

/// What kind of JSON-RPC message `message` is, or why it is none.
fn classify(message: &Map<String, Value>) -> Result<Message, &'static str> {
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err("the message must carry \"jsonrpc\": \"2.0\"");
    }
    match (message.get("method"), message.get("id")) {
        (Some(Value::String(method)), None) if !method.is_empty() => Ok(Message::Notification),
        (Some(Value::String(method)), Some(id)) if !method.is_empty() => {
            if !(id.is_string() || id.is_number()) {
                return Err("a request's id must be a string or a number");
            }
            match message.get("params") {
                None | Some(Value::Object(_)) => Ok(Message::Request {
                    id: id.clone(),
                    method: method.clone(),
                }),
                Some(_) => Err("params must be an object"),
            }
        }
        (Some(_), _) => Err("method must be a non-empty string"),
        (None, Some(_)) if message.contains_key("result") || message.contains_key("error") => {
            Ok(Message::Response)
        }
        (None, _) => Err("the message has no method"),
    }
}

type RpcResult = Result<Value, (i64, String)>;

async fn dispatch(
    state: &AppState,
    auth: &Authenticated,
    method: &str,
    params: Value,
) -> RpcResult {
    match method {
        "initialize" => Ok(initialize(&params)),
        "ping" => Ok(json!({})),
        "tools/list" => Ok(json!({"tools": tools::definitions()})),
        "tools/call" => tools::call(state, auth, &params).await,
        _ => Err((
            METHOD_NOT_FOUND,
            format!(
                "method '{}' is not served: this server offers initialize, ping, tools/list and tools/call",
                method.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// The answer to `initialize`: the client's protocol version when served, else the newest.
fn initialize(params: &Value) -> Value {
    let asked = params.get("protocolVersion").and_then(Value::as_str);
    let version = asked
        .filter(|v| PROTOCOL_VERSIONS.contains(v))
        .unwrap_or(LATEST_PROTOCOL_VERSION);
    json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {
            "name": "writ",
            "title": "Writ entitlement management",
            "version": env!("CARGO_PKG_VERSION"),
        },
        "instructions": "Tools to find, request, wait for, extend and release access packages, acting as the principal whose token is presented (a person may act for an agent it sponsors with agent_id). Start with list_requestable_packages or describe_package; request_access records a request; get_request follows it until it is delivered.",
    })
}

/// The protected-resource metadata (RFC 9728 section 2) of `resource`.
fn resource_metadata(state: &AppState, resource: String) -> Value {
    json!({
        "resource": resource,
        // Writ's own issuer: its OpenID discovery is at `{issuer}/.well-known/openid-configuration`.
        "authorization_servers": [state.tokens.issuer()],
        "scopes_supported": [format!("{}/.default", state.settings.public_url)],
        "bearer_methods_supported": ["header"],
        "resource_signing_alg_values_supported": ["ES256"],
        "resource_name": "Writ",
        "resource_documentation": format!("{}/writ/v1/openapi.json", state.settings.public_url),
    })
}

/// `GET /.well-known/oauth-protected-resource/mcp`: the MCP endpoint as a protected resource.
pub async fn mcp_resource_metadata(State(state): State<AppState>) -> Json<Value> {
    let resource = format!("{}{MCP_PATH}", state.settings.public_url);
    Json(resource_metadata(&state, resource))
}

/// `GET /.well-known/oauth-protected-resource`: Writ's API (the audience of its tokens) as a
/// protected resource.
pub async fn api_resource_metadata(State(state): State<AppState>) -> Json<Value> {
    let resource = state.settings.public_url.clone();
    Json(resource_metadata(&state, resource))
}

/// The MCP endpoint and its metadata (outside the Graph version prefixes).
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::Plain;
    use crate::routes::Method::*;
    r.section("mcp", true)
        .route(
            Post,
            MCP_PATH,
            Plain,
            "MCP server (streamable HTTP): one JSON-RPC message per request",
            post,
        )
        .section("mcp", false)
        .route(
            Get,
            RESOURCE_METADATA_PATH,
            Plain,
            "OAuth protected-resource metadata of the API (RFC 9728)",
            api_resource_metadata,
        )
        .route(
            Get,
            MCP_RESOURCE_METADATA_PATH,
            Plain,
            "OAuth protected-resource metadata of the MCP server (RFC 9728)",
            mcp_resource_metadata,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn messages_are_classified_or_refused_with_a_reason() {
        let request = classify(&message(
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        ));
        assert!(matches!(request, Ok(Message::Request { method, .. }) if method == "ping"));
        assert!(matches!(
            classify(&message(
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
            )),
            Ok(Message::Notification)
        ));
        assert!(matches!(
            classify(&message(json!({"jsonrpc": "2.0", "id": 3, "result": {}}))),
            Ok(Message::Response)
        ));
        for bad in [
            json!({"id": 1, "method": "ping"}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": null, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": {}, "method": "ping"}),
            json!({"jsonrpc": "2.0", "id": 1, "method": 5}),
            json!({"jsonrpc": "2.0", "id": 1, "method": ""}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]}),
            json!({"jsonrpc": "2.0"}),
        ] {
            assert!(classify(&message(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn initialize_answers_a_served_version_or_the_newest() {
        for version in PROTOCOL_VERSIONS {
            assert_eq!(
                initialize(&json!({"protocolVersion": version}))["protocolVersion"],
                version
            );
        }
        for other in [
            json!({"protocolVersion": "2024-11-05"}),
            json!({}),
            json!(null),
        ] {
            assert_eq!(
                initialize(&other)["protocolVersion"],
                LATEST_PROTOCOL_VERSION
            );
        }
    }

    #[test]
    fn accept_must_allow_json_when_sent() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static(value));
            accepts_json(&headers)
        };
        assert!(accepts_json(&HeaderMap::new()));
        assert!(with("application/json, text/event-stream"));
        assert!(with("text/event-stream;q=0.5, application/json;q=1"));
        assert!(with("*/*"));
        assert!(!with("text/event-stream"));
        assert!(!with("text/html"));
    }
}
