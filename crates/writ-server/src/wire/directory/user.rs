//! `user` (and its `agentUser` cast): the Graph form of a directory user. The password never
//! leaves the server; `passwordProfile` is not emitted, as in Graph.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use writ_domain::directory::{User as DomainUser, UserKind};

use crate::wire::instant;

/// A user or agent user. `@odata.type` is `#microsoft.graph.agentUser` for agent users and
/// absent for plain users outside polymorphic collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = user)]
pub struct User {
    #[serde(
        rename = "@odata.type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub odata_type: Option<String>,
    pub id: String,
    pub display_name: String,
    pub user_principal_name: String,
    pub mail_nickname: String,
    pub account_enabled: bool,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub office_location: Option<String>,
    pub mobile_phone: Option<String>,
    pub business_phones: Vec<String>,
    pub employee_id: Option<String>,
    pub company_name: Option<String>,
    pub usage_location: Option<String>,
    pub preferred_language: Option<String>,
    /// `Member` or `Guest`.
    pub user_type: String,
    #[schema(format = DateTime)]
    pub created_date_time: String,
    /// Agent users only (present, possibly `null`): the parent agent identity's object id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub identity_parent_id: Option<Option<String>>,
    /// With `$expand=manager`: the manager (typed by `@odata.type`), or `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<User>, no_recursion)]
    pub manager: Option<Option<Box<User>>>,
}

/// `user` or `agentUser`.
pub fn type_name(u: &DomainUser) -> &'static str {
    match u.kind {
        UserKind::User => "user",
        UserKind::AgentUser => "agentUser",
    }
}

impl From<&DomainUser> for User {
    fn from(u: &DomainUser) -> Self {
        let agent = u.kind == UserKind::AgentUser;
        Self {
            odata_type: agent.then(|| "#microsoft.graph.agentUser".to_owned()),
            id: u.id.clone(),
            display_name: u.display_name.clone(),
            user_principal_name: u.user_principal_name.clone(),
            mail_nickname: u.mail_nickname.clone(),
            account_enabled: u.account_enabled,
            given_name: u.given_name.clone(),
            surname: u.surname.clone(),
            mail: u.mail.clone(),
            job_title: u.job_title.clone(),
            department: u.department.clone(),
            office_location: u.office_location.clone(),
            mobile_phone: u.mobile_phone.clone(),
            business_phones: u.business_phones.clone(),
            employee_id: u.employee_id.clone(),
            company_name: u.company_name.clone(),
            usage_location: u.usage_location.clone(),
            preferred_language: u.preferred_language.clone(),
            user_type: u.user_type.clone(),
            created_date_time: instant(u.created_date_time),
            identity_parent_id: agent.then(|| u.identity_parent_id.clone()),
            manager: None,
        }
    }
}

impl User {
    /// The user in a polymorphic collection or navigation: `@odata.type` always present.
    pub fn typed(u: &DomainUser) -> Self {
        Self {
            odata_type: Some(format!("#microsoft.graph.{}", type_name(u))),
            ..Self::from(u)
        }
    }
}
