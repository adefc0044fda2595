//! `group`: the Graph form of a directory group, with its `$expand`-able `members` and `owners`,
//! and the body that creates or updates one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{Group as DomainGroup, GroupInput};

use super::DirectoryObject;
use super::input::{Binds, Field};
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

/// The body creating or updating a group (members and owners bound on create only).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = groupBody)]
pub struct GroupBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mail_nickname: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub mail_enabled: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub security_enabled: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub group_types: Field<Vec<String>>,
    /// `Public`, `Private` or `HiddenMembership`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub visibility: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub is_assignable_to_role: Field<bool>,
    /// Directory object URLs.
    #[serde(rename = "members@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub members: Binds,
    /// Directory object URLs.
    #[serde(rename = "owners@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub owners: Binds,
}

impl From<GroupBody> for GroupInput {
    fn from(body: GroupBody) -> Self {
        Self {
            display_name: body.display_name.into_patch(),
            description: body.description.into_patch(),
            mail_nickname: body.mail_nickname.into_patch(),
            mail_enabled: body.mail_enabled.into_patch(),
            security_enabled: body.security_enabled.into_patch(),
            group_types: body.group_types.into_patch(),
            visibility: body.visibility.into_patch(),
            is_assignable_to_role: body.is_assignable_to_role.into_patch(),
            member_ids: body.members.0,
            owner_ids: body.owners.0,
        }
    }
}
