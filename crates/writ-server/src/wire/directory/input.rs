//! Reading a request body into a wire type with Writ's own error messages: a body is first
//! checked as a [`JsonObject`] (JSON, no NUL, an object; unknown properties refused by the
//! handler, whose cast decides which are writable), then deserialised field by field. Each field
//! type turns a wrong value into the message today's clients see ("property 'x' must be a
//! string"), naming the property by its path in the body.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;
use writ_domain::patch::Patch;

use crate::error::{ApiError, ApiResult};
use crate::json_input::{JsonObject, reference_id};

/// Stands for the property's path in a field's error message; the body reader puts the path in.
/// U+0000 cannot occur in a body (refused before parsing), so it never comes from the client.
pub(crate) const PROPERTY: &str = "\0";

/// A value a body property may hold, read from its JSON.
pub trait FieldValue: Sized {
    /// The value, or the message refusing it ([`PROPERTY`] where the property's path goes).
    fn from_json(value: Value) -> Result<Self, String>;
}

fn must_be(expected: &str) -> String {
    format!("property '{PROPERTY}' must be {expected}")
}

impl FieldValue for String {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::String(s) => Ok(s),
            _ => Err(must_be("a string")),
        }
    }
}

impl FieldValue for bool {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Bool(b) => Ok(b),
            _ => Err(must_be("a boolean")),
        }
    }
}

impl FieldValue for Vec<String> {
    fn from_json(value: Value) -> Result<Self, String> {
        match value {
            Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(must_be("an array of strings")),
                })
                .collect(),
            _ => Err(must_be("an array of strings")),
        }
    }
}

/// A property of a create or update body: absent (leave it), `null` (clear it) or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: FieldValue> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(Field::Null),
            value => T::from_json(value)
                .map(Field::Value)
                .map_err(D::Error::custom),
        }
    }
}

impl<T> Field<T> {
    /// The value changed by `f`; absent and `null` stay as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Field<U> {
        match self {
            Field::Absent => Field::Absent,
            Field::Null => Field::Null,
            Field::Value(v) => Field::Value(f(v)),
        }
    }

    /// As the domain's tri-state input.
    pub fn into_patch(self) -> Patch<T> {
        match self {
            Field::Absent => Patch::Absent,
            Field::Null => Patch::Null,
            Field::Value(v) => Patch::Value(v),
        }
    }

    /// The value, if one was given.
    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, or "property '{name}' is required".
    pub fn required(self, name: &str) -> ApiResult<T> {
        self.into_option()
            .ok_or_else(|| ApiError::bad_request(format!("property '{name}' is required")))
    }
}

/// The object ids a `{navigation}@odata.bind` property names (an array of URLs); absent or
/// `null` names none.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Binds(pub Vec<String>);

impl<'de> Deserialize<'de> for Binds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(deserializer)? {
            Value::Null => return Ok(Binds(Vec::new())),
            Value::Array(items) => items,
            _ => return Err(D::Error::custom(must_be("an array of URLs"))),
        };
        items
            .iter()
            .map(|v| {
                let url = v
                    .as_str()
                    .ok_or_else(|| D::Error::custom(must_be("an array of URLs")))?;
                reference_id(url).ok_or_else(|| {
                    D::Error::custom(format!(
                        "'{url}' in {PROPERTY} does not name a directory object"
                    ))
                })
            })
            .collect::<Result<_, _>>()
            .map(Binds)
    }
}

/// Deserialises a body already checked as a JSON object into its wire type.
pub fn read<B: DeserializeOwned>(body: &JsonObject) -> ApiResult<B> {
    let value = Value::Object(body.fields.clone());
    serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if message.contains(PROPERTY) {
            ApiError::bad_request(message.replace(PROPERTY, &path))
        } else {
            ApiError::bad_request(format!("property '{path}' is not valid: {message}"))
        }
    })
}
