//! Reading a request body into its wire type. The body's properties are checked against the
//! type's derived schema first, so the messages stay Graph-style and name the property: an
//! unknown property is refused as not existing on the Graph type, and a value of the wrong JSON
//! type as `property '…' must be a string` (a boolean, an array of strings, an object), except
//! for the properties a body leaves to its conversion into the domain's input
//! ([`WireBody::UNCHECKED`]). Fields of a body are tri-state ([`Patch`]): absent, `null` or a
//! value.

use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::json_input::JsonObject;

/// A request body of a Graph type.
pub trait WireBody: DeserializeOwned + ToSchema {
    /// The Graph type the body writes (`accessPackageCatalog`), for messages.
    const GRAPH_TYPE: &'static str;
    /// Properties whose JSON type [`read`] leaves unchecked: the conversion into the domain's
    /// input reads them (through the domain's serde model, or by a rule that accepts more than
    /// the schema names), so what they accept and their messages stay that conversion's.
    const UNCHECKED: &'static [&'static str] = &[];
}

/// The JSON type a property's schema asks for, as messages name it; `None`: any.
fn expected(property: &Value) -> Option<&'static str> {
    if property.get("$ref").is_some() || property.get("oneOf").is_some() {
        return Some("an object");
    }
    let types: Vec<&str> = match property.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"string") {
        Some("a string")
    } else if types.contains(&"boolean") {
        Some("a boolean")
    } else if types.contains(&"integer") {
        Some("an integer")
    } else if types.contains(&"array") {
        // Arrays of objects are the domain's to read (their messages name the item).
        let items = property.get("items").and_then(|i| i.get("type"));
        (items == Some(&Value::from("string"))).then_some("an array of strings")
    } else if types.contains(&"object") {
        Some("an object")
    } else {
        None
    }
}

fn matches(value: &Value, expected: &str) -> bool {
    match expected {
        "a string" => value.is_string(),
        "a boolean" => value.is_boolean(),
        "an integer" => value.is_i64(),
        "an array of strings" => value
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string)),
        "an object" => value.is_object(),
        _ => true,
    }
}

/// `body` as the wire type `T`.
pub fn read<T: WireBody>(body: &JsonObject) -> ApiResult<T> {
    read_as::<T>(body, T::GRAPH_TYPE)
}

/// `body` as the wire type `T`, for a body whose Graph type is `graph_type` (a derived type
/// its `@odata.type` names) rather than `T::GRAPH_TYPE`.
pub fn read_as<T: WireBody>(body: &JsonObject, graph_type: &str) -> ApiResult<T> {
    let schema = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let writable: Vec<&str> = properties.keys().map(String::as_str).collect();
    body.check_properties(graph_type, &writable)?;
    for (name, property) in &properties {
        if T::UNCHECKED.contains(&name.as_str()) {
            continue;
        }
        if let Some(value) = body.fields.get(name).filter(|v| !v.is_null())
            && let Some(expected) = expected(property)
            && !matches(value, expected)
        {
            return Err(ApiError::bad_request(format!(
                "property '{name}' must be {expected}"
            )));
        }
    }
    let mut fields = body.fields.clone();
    fields.remove("@odata.type");
    serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use writ_domain::patch::Patch;

    use super::*;
    use crate::wire::entitlement::catalogs::CatalogBody;

    fn body(value: Value) -> JsonObject {
        JsonObject {
            fields: value.as_object().cloned().unwrap_or_default(),
            raw: Default::default(),
        }
    }

    fn message(value: Value) -> String {
        match read::<CatalogBody>(&body(value)) {
            Ok(b) => format!("read: {b:?}"),
            Err(e) => {
                assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
                e.message
            }
        }
    }

    #[test]
    fn fields_are_absent_null_or_a_value() {
        let read = read::<CatalogBody>(&body(json!({
            "@odata.type": "#microsoft.graph.accessPackageCatalog",
            "displayName": "Support", "description": null,
        })))
        .unwrap();
        assert_eq!(read.display_name, Patch::Value("Support".to_owned()));
        assert_eq!(read.description, Patch::Null);
        assert_eq!(read.is_externally_visible, Patch::Absent);
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            json!({"displayName": "Support", "description": null})
        );
    }

    #[test]
    fn refusals_name_the_property_and_the_graph_type() {
        assert_eq!(
            message(json!({"owner": "x"})),
            "Property 'owner' does not exist on type 'microsoft.graph.accessPackageCatalog' or cannot be written."
        );
        assert_eq!(
            message(json!({"displayName": 5})),
            "property 'displayName' must be a string"
        );
        assert_eq!(
            message(json!({"isExternallyVisible": "yes"})),
            "property 'isExternallyVisible' must be a boolean"
        );
    }
}
