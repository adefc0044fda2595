//! Request bodies: JSON parsed into an object with our own error messages (malformed JSON, a
//! body that is not an object, NUL characters, unknown properties are `400`, naming the
//! property), its `@odata.type`, and the `$ref` URLs that name directory objects. The bodies'
//! properties are read into wire types (`crate::wire::body`, `crate::wire::directory::input`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Largest body accepted; Graph objects are small and anything larger is refused before parsing.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON object body, with the raw bytes kept for idempotency hashing.
#[derive(Debug, Clone)]
pub struct JsonObject {
    pub fields: Map<String, Value>,
    pub raw: Bytes,
}

impl FromRequest<AppState> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
            let is_json = content_type
                .to_str()
                .map(|ct| {
                    let ct = ct.to_ascii_lowercase();
                    ct.starts_with("application/json") || ct.contains("+json")
                })
                .unwrap_or(false);
            if !is_json {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupportedMediaType",
                    "the request body must be application/json",
                ));
            }
        }
        let raw = Bytes::from_request(request, state).await.map_err(|e| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "requestEntityTooLarge",
                format!("the request body could not be read: {e}"),
            )
        })?;
        let value: Value = serde_json::from_slice(&raw).map_err(|e| {
            ApiError::bad_request(format!("the request body is not valid JSON: {e}"))
        })?;
        if let Some(path) = nul_in(&value, String::new()) {
            // No database stores U+0000 in text (PostgreSQL refuses it), so it is refused here,
            // the same way on both backends, naming where it was.
            return Err(ApiError::bad_request(format!(
                "property '{path}' contains the NUL character (U+0000)"
            )));
        }
        match value {
            Value::Object(fields) => Ok(JsonObject { fields, raw }),
            _ => Err(ApiError::bad_request(
                "the request body must be a JSON object",
            )),
        }
    }
}

/// The path (`a/b/0`) of the first key or string value in `value` that holds U+0000.
fn nul_in(value: &Value, at: String) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}/{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, join(&i.to_string()))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\u0000")))
            } else {
                nul_in(v, join(k))
            }
        }),
        _ => None,
    }
}

impl JsonObject {
    /// The `@odata.type` annotation without its `#microsoft.graph.` prefix, if present.
    pub fn odata_type(&self) -> ApiResult<Option<String>> {
        match self.fields.get("@odata.type") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(t)) => {
                let short = t.trim_start_matches('#');
                let short = short.strip_prefix("microsoft.graph.").ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "@odata.type '{t}' is not a microsoft.graph type"
                    ))
                })?;
                Ok(Some(short.to_owned()))
            }
            Some(_) => Err(ApiError::bad_request("@odata.type must be a string")),
        }
    }

    /// Refuses properties the entity does not have. `@odata.type`, when present, must name the
    /// entity type; `*@odata.bind` annotations are allowed only where listed.
    pub fn check_properties(&self, type_name: &str, allowed: &[&str]) -> ApiResult<()> {
        for key in self.fields.keys() {
            if key == "@odata.type" {
                let expected = format!("#microsoft.graph.{type_name}");
                let given = self.fields.get(key).and_then(Value::as_str).unwrap_or("");
                if !given.eq_ignore_ascii_case(&expected)
                    && !given.eq_ignore_ascii_case(&expected[1..])
                {
                    return Err(ApiError::bad_request(format!(
                        "@odata.type '{given}' does not match this collection (expected '{expected}')"
                    )));
                }
                continue;
            }
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "Property '{key}' does not exist on type 'microsoft.graph.{type_name}' or cannot be written."
                )));
            }
        }
        Ok(())
    }

    /// The object named by a `$ref` body: `{"@odata.id": "<url>"}`.
    pub fn reference(&self) -> ApiResult<String> {
        if self.fields.keys().any(|k| k != "@odata.id") {
            return Err(ApiError::bad_request(
                "a $ref body holds exactly one property, '@odata.id'",
            ));
        }
        let url = self
            .fields
            .get("@odata.id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("property '@odata.id' (a URL) is required"))?;
        reference_id(url).ok_or_else(|| {
            ApiError::bad_request(format!("'{url}' does not name a directory object"))
        })
    }
}

/// Any URL whose path ends in `/(users|groups|servicePrincipals|applications|directoryObjects)/{id}`
/// names that object, whatever its host.
pub fn reference_id(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let id = segments.next()?;
    let collection = segments.next()?;
    const COLLECTIONS: &[&str] = &[
        "users",
        "groups",
        "servicePrincipals",
        "applications",
        "directoryObjects",
    ];
    if !COLLECTIONS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(collection))
    {
        return None;
    }
    let id = id.trim_start_matches("('").trim_end_matches("')");
    writ_domain::ids::parse_guid(id)
}

#[cfg(test)]
mod tests {
    use super::reference_id;

    #[test]
    fn reference_urls_name_objects_on_any_host() {
        let id = "6f0c9a1e-7c1b-4d2e-9a4b-1c2d3e4f5a6b";
        for url in [
            format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}"),
            format!("http://127.0.0.1:8080/v1.0/users/{id}"),
            format!("https://example.org/beta/groups/{id}/"),
            format!("/servicePrincipals/{id}"),
        ] {
            assert_eq!(reference_id(&url).as_deref(), Some(id), "{url}");
        }
        assert_eq!(reference_id(&format!("https://x/v1.0/catalogs/{id}")), None);
        assert_eq!(reference_id("https://x/v1.0/users/not-a-guid"), None);
        assert_eq!(reference_id("nonsense"), None);
    }
}
