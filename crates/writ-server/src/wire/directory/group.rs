//! `group`: the Graph form of a directory group, with its `$expand`-able `members` and `owners`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::Group as DomainGroup;

use super::DirectoryObject;
use crate::wire::instant;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = group)]
pub struct Group {
    /// Present in polymorphic collections only (`#microsoft.graph.group`).
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub mail_nickname: String,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    pub group_types: Vec<String>,
    pub mail: Option<String>,
    /// `Public`, `Private` or `HiddenMembership`.
    pub visibility: Option<String>,
    pub is_assignable_to_role: bool,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    /// With `$expand=members`: the first 20 members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub members: Option<Vec<DirectoryObject>>,
    /// With `$expand=owners`: the first 20 owners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub owners: Option<Vec<DirectoryObject>>,
}

impl From<&DomainGroup> for Group {
    fn from(g: &DomainGroup) -> Self {
        Self {
            odata_type: None,
            id: g.id.clone(),
            display_name: g.display_name.clone(),
            description: g.description.clone(),
            mail_nickname: g.mail_nickname.clone(),
            mail_enabled: g.mail_enabled,
            security_enabled: g.security_enabled,
            group_types: g.group_types.clone(),
            mail: g.mail.clone(),
            visibility: g.visibility.clone(),
            is_assignable_to_role: g.is_assignable_to_role,
            created_date_time: instant(g.created_date_time),
            members: None,
            owners: None,
        }
    }
}
