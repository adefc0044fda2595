//! `user` (and its `agentUser` cast): the Graph form of a directory user, and the body that
//! creates or updates one. The password never leaves the server; `passwordProfile` is not
//! emitted, as in Graph.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use writ_domain::directory::{
    ObjectIdentity as DomainObjectIdentity, PasswordProfile as DomainPasswordProfile,
    User as DomainUser, UserInput, UserKind,
};

use super::input::{Binds, Field, FieldValue, PROPERTY};

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
    /// The upstream accounts that sign in as this user (`signInType` `federated`); the local
    /// password is not listed.
    pub identities: Vec<ObjectIdentity>,
    /// Agent users only (present, possibly `null`): the parent agent identity's object id.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub identity_parent_id: Option<Option<String>>,
    /// With `$expand=manager`: the manager (typed by `@odata.type`), or `null`.
    #[serde(
        default,
        deserialize_with = "super::present",
        skip_serializing_if = "Option::is_none"
    )]
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
            identities: u.identities.iter().map(ObjectIdentity::from).collect(),
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

/// Graph's `objectIdentity`: an account at an identity provider that signs in as the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = objectIdentity)]
pub struct ObjectIdentity {
    /// `federated`: an account of an upstream OpenID provider.
    pub sign_in_type: String,
    /// The upstream provider's issuer URL.
    pub issuer: String,
    /// The upstream account's `sub`.
    pub issuer_assigned_id: String,
}

impl From<&DomainObjectIdentity> for ObjectIdentity {
    fn from(i: &DomainObjectIdentity) -> Self {
        Self {
            sign_in_type: i.sign_in_type.clone(),
            issuer: i.issuer.clone(),
            issuer_assigned_id: i.issuer_assigned_id.clone(),
        }
    }
}

impl FieldValue for Vec<ObjectIdentity> {
    fn from_json(value: Value) -> Result<Self, String> {
        let Value::Array(items) = value else {
            return Err(format!("property '{PROPERTY}' must be an array"));
        };
        items
            .into_iter()
            .map(|item| {
                let Value::Object(identity) = item else {
                    return Err(format!("property '{PROPERTY}' must hold objects"));
                };
                for key in identity.keys() {
                    if !matches!(
                        key.as_str(),
                        "signInType" | "issuer" | "issuerAssignedId" | "@odata.type"
                    ) {
                        return Err(format!(
                            "Property '{key}' does not exist on type 'microsoft.graph.objectIdentity'."
                        ));
                    }
                }
                let text = |name: &str| match identity.get(name) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    None | Some(Value::Null) => {
                        Err(format!("property '{PROPERTY}.{name}' is required"))
                    }
                    Some(_) => Err(format!("property '{PROPERTY}.{name}' must be a string")),
                };
                Ok(ObjectIdentity {
                    sign_in_type: text("signInType")?,
                    issuer: text("issuer")?,
                    issuer_assigned_id: text("issuerAssignedId")?,
                })
            })
            .collect()
    }
}

/// The `passwordProfile` of a user body. The password is written, never read back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = passwordProfile)]
pub struct PasswordProfile {
    pub password: Option<String>,
    pub force_change_password_next_sign_in: Option<bool>,
    /// Accepted and ignored: Writ has no multi-factor sign-in.
    pub force_change_password_next_sign_in_with_mfa: Option<bool>,
}

impl FieldValue for PasswordProfile {
    fn from_json(value: Value) -> Result<Self, String> {
        let Value::Object(profile) = value else {
            return Err(format!("property '{PROPERTY}' must be an object"));
        };
        for key in profile.keys() {
            if !matches!(
                key.as_str(),
                "password"
                    | "forceChangePasswordNextSignIn"
                    | "forceChangePasswordNextSignInWithMfa"
                    | "@odata.type"
            ) {
                return Err(format!(
                    "Property '{key}' does not exist on type 'microsoft.graph.passwordProfile'."
                ));
            }
        }
        let password = match profile.get("password") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(p.clone()),
            Some(_) => return Err("property 'passwordProfile.password' must be a string".into()),
        };
        let force = match profile.get("forceChangePasswordNextSignIn") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(
                    "property 'passwordProfile.forceChangePasswordNextSignIn' must be a boolean"
                        .into(),
                );
            }
        };
        Ok(Self {
            password,
            force_change_password_next_sign_in: force,
            force_change_password_next_sign_in_with_mfa: None,
        })
    }
}

/// The body creating or updating a user or agent user: `@odata.type` (`#microsoft.graph.user`
/// or `#microsoft.graph.agentUser`) chooses, and the handler refuses properties the type does
/// not have.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = userBody)]
pub struct UserBody {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub display_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_principal_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mail_nickname: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub account_enabled: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<PasswordProfile>)]
    pub password_profile: Field<PasswordProfile>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub given_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub surname: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mail: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub job_title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub department: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub office_location: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub mobile_phone: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub business_phones: Field<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub employee_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub company_name: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub usage_location: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub preferred_language: Field<String>,
    /// `Member` or `Guest`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub user_type: Field<String>,
    /// Agent users only: the parent agent identity's object id.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub identity_parent_id: Field<String>,
    /// Replaces the whole collection on PATCH, as Graph does.
    #[serde(default)]
    #[schema(value_type = Option<Vec<ObjectIdentity>>)]
    pub identities: Field<Vec<ObjectIdentity>>,
    /// Creates only: the sponsors, as directory object URLs.
    #[serde(rename = "sponsors@odata.bind", default)]
    #[schema(value_type = Option<Vec<String>>)]
    pub sponsors: Binds,
}

impl UserBody {
    /// The domain's input; `kind` is what the route and `@odata.type` decided.
    pub fn into_input(self, kind: Option<UserKind>) -> UserInput {
        UserInput {
            display_name: self.display_name.into_patch(),
            user_principal_name: self.user_principal_name.into_patch(),
            mail_nickname: self.mail_nickname.into_patch(),
            account_enabled: self.account_enabled.into_patch(),
            password_profile: self
                .password_profile
                .map(|p| DomainPasswordProfile {
                    password: p.password,
                    force_change_password_next_sign_in: p.force_change_password_next_sign_in,
                })
                .into_patch(),
            given_name: self.given_name.into_patch(),
            surname: self.surname.into_patch(),
            mail: self.mail.into_patch(),
            job_title: self.job_title.into_patch(),
            department: self.department.into_patch(),
            office_location: self.office_location.into_patch(),
            mobile_phone: self.mobile_phone.into_patch(),
            business_phones: self.business_phones.into_patch(),
            employee_id: self.employee_id.into_patch(),
            company_name: self.company_name.into_patch(),
            usage_location: self.usage_location.into_patch(),
            preferred_language: self.preferred_language.into_patch(),
            user_type: self.user_type.into_patch(),
            kind,
            identity_parent_id: self.identity_parent_id.into_patch(),
            sponsor_ids: self.sponsors.0,
            identities: self
                .identities
                .map(|list| {
                    list.into_iter()
                        .map(|i| DomainObjectIdentity {
                            sign_in_type: i.sign_in_type,
                            issuer: i.issuer,
                            issuer_assigned_id: i.issuer_assigned_id,
                        })
                        .collect()
                })
                .into_patch(),
        }
    }
}

/// The answer of `revokeSignInSessions` (Graph's: an `Edm.Boolean` in `value`, always `true`).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = revokeSignInSessionsResponse)]
pub struct RevokeSignInSessionsResponse {
    #[serde(rename = "@odata.context")]
    pub odata_context: String,
    pub value: bool,
}
