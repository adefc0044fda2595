//! Graph's wire form: one serde type per entity Writ returns and per request body it reads, with
//! Graph's property names and enum spellings. Each derives its OpenAPI schema (`utoipa`), so the
//! served description (`routes::openapi`) names the same shapes the handlers produce. Responses
//! are built from domain types (`From<&Domain>` or a function taking extra context) and
//! serialised to a JSON object, on which `$select`/`$expand` then apply as for any entity.

pub mod body;
pub mod directory;
pub mod entitlement;
pub mod writ;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

/// A named component schema of the OpenAPI description.
pub type NamedSchema = (String, RefOr<Schema>);

/// Every component schema: the entitlement, directory and Writ's own wire types and what they
/// reference.
pub fn all_schemas() -> Vec<NamedSchema> {
    let mut schemas = entitlement::schemas();
    schemas.extend(directory::schemas());
    schemas.extend(writ::schemas());
    schemas.extend(crate::authzen::schemas());
    // A type referenced from several others is collected once per reference.
    let mut seen = std::collections::HashSet::new();
    schemas.retain(|(name, _)| seen.insert(name.clone()));
    schemas
}

/// Adds `T`'s schema under its Graph name, and the schemas it references.
pub fn collect<T: ToSchema>(schemas: &mut Vec<NamedSchema>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// A wire value as the JSON object `$select`/`$expand` and the envelope work on.
pub fn object<T: Serialize>(value: &T) -> Map<String, Value> {
    // The wire types are structs of strings, numbers, booleans and nested structs: they always
    // serialise to an object.
    match serde_json::to_value(value) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// An instant as Graph writes it: UTC with a `Z`, whole seconds (stable across backends).
pub fn instant(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// A domain value that already has Graph's shape (a polymorphic setting the domain parses with
/// serde), as JSON.
pub fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// An optional instant, `null` when absent.
pub fn optional_instant(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(instant)
}
