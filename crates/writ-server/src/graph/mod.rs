//! Graph-shaped handlers, one file per resource, and the wire form of each entity: domain types
//! to Graph JSON (property names, enum spellings, `@odata.type`) in one direction, JSON bodies to
//! domain inputs in the other.

pub mod directory_objects;
pub mod groups;
pub mod users;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use writ_domain::directory::{Application, DirectoryObject, ServicePrincipal};

pub(crate) fn datetime(t: OffsetDateTime) -> Value {
    // Graph writes instants in UTC with a `Z`; whole seconds keep them stable across backends.
    let t = t.replace_nanosecond(0).unwrap_or(t);
    Value::from(t.format(&Rfc3339).unwrap_or_default())
}

pub(crate) fn opt(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::from)
}

pub(crate) fn service_principal_json(sp: &ServicePrincipal) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(sp.id.clone()));
    m.insert("appId".into(), Value::from(sp.app_id.clone()));
    m.insert("displayName".into(), Value::from(sp.display_name.clone()));
    m.insert("accountEnabled".into(), Value::from(sp.account_enabled));
    m.insert(
        "servicePrincipalType".into(),
        Value::from(sp.service_principal_type.clone()),
    );
    m
}

pub(crate) fn application_json(app: &Application) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), Value::from(app.id.clone()));
    m.insert("appId".into(), Value::from(app.app_id.clone()));
    m.insert("displayName".into(), Value::from(app.display_name.clone()));
    m.insert("createdDateTime".into(), datetime(app.created_date_time));
    m
}

/// A directory object in a polymorphic collection: its own properties plus `@odata.type`.
pub(crate) fn directory_object_json(object: &DirectoryObject) -> Map<String, Value> {
    let (type_name, mut m) = match object {
        DirectoryObject::User(u) => ("user", users::user_json(u)),
        DirectoryObject::Group(g) => ("group", groups::group_json(g)),
        DirectoryObject::ServicePrincipal(sp) => ("servicePrincipal", service_principal_json(sp)),
        DirectoryObject::Application(app) => ("application", application_json(app)),
    };
    m.insert(
        "@odata.type".into(),
        Value::from(format!("#microsoft.graph.{type_name}")),
    );
    m
}
