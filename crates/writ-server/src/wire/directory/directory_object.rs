//! `directoryObject`: any object of the directory in a polymorphic collection (members, owners,
//! sponsors, `directoryObjects/{id}`), always typed by `@odata.type`; and the `$ref` body naming
//! one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::DirectoryObject as DomainDirectoryObject;

use super::{Application, Group, ServicePrincipal, User};

/// One of the directory's object types; `@odata.type` names which. Read back, the variants are
/// told apart by their required properties (a user's `userPrincipalName`, a group's
/// `securityEnabled`, a service principal's `servicePrincipalType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = directoryObject)]
pub enum DirectoryObject {
    User(Box<User>),
    Group(Group),
    ServicePrincipal(ServicePrincipal),
    Application(Application),
}

impl From<&DomainDirectoryObject> for DirectoryObject {
    fn from(object: &DomainDirectoryObject) -> Self {
        match object {
            DomainDirectoryObject::User(u) => Self::User(Box::new(User::typed(u))),
            DomainDirectoryObject::Group(g) => Self::Group(Group {
                odata_type: Some("#microsoft.graph.group".into()),
                ..Group::from(g)
            }),
            DomainDirectoryObject::ServicePrincipal(sp) => {
                Self::ServicePrincipal(ServicePrincipal::typed(sp))
            }
            DomainDirectoryObject::Application(app) => Self::Application(Application::typed(app)),
        }
    }
}

impl DirectoryObject {
    /// The object's id, whatever its type.
    pub fn id(&self) -> &str {
        match self {
            Self::User(u) => &u.id,
            Self::Group(g) => &g.id,
            Self::ServicePrincipal(sp) => &sp.id,
            Self::Application(app) => &app.id,
        }
    }

    /// Its `@odata.type`, e.g. `#microsoft.graph.agentUser`.
    pub fn odata_type(&self) -> Option<&str> {
        match self {
            Self::User(u) => u.odata_type.as_deref(),
            Self::Group(g) => g.odata_type.as_deref(),
            Self::ServicePrincipal(sp) => sp.odata_type.as_deref(),
            Self::Application(app) => app.odata_type.as_deref(),
        }
    }
}

/// The body of a `$ref` change (`…/members/$ref`, `…/owners/$ref`, `…/manager/$ref`,
/// `…/sponsors/$ref`): the URL of the directory object, on any host. Read by
/// `JsonObject::reference`, which every `$ref` route shares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = referenceBody)]
pub struct ReferenceBody {
    /// e.g. `https://graph.microsoft.com/v1.0/directoryObjects/{id}`.
    #[serde(rename = "@odata.id")]
    pub odata_id: String,
}
