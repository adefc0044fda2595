//! Deciding what a token says: its audience (Writ's own API or a resource application, from the
//! requested `scope`), the `wids` (directory roles) and `roles` (app role values on the resource)
//! the principal holds now, and its lifetime, never beyond the end of a grant it carries. The
//! HTTP crate turns a [`TokenContent`] into signed JWT claims.

use time::{Duration, OffsetDateTime};

use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::authz::PrincipalKind;
use crate::directory::{AppRole, ServicePrincipal};

/// What a token is requested for.
#[derive(Debug, Clone, PartialEq)]
pub enum Audience {
    /// Writ's own API.
    Writ,
    /// A resource application registered in Writ: its service principal.
    Resource(ServicePrincipal),
}

/// A requested scope, before the resource it names is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeTarget {
    Writ,
    /// The scope's resource without `/.default`: an `appId`, `api://{appId}` or an identifier
    /// URI.
    Resource(String),
}

/// The configured lifetimes (`tokens.api_lifetime`, `tokens.resource_lifetime`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenLifetimes {
    pub api: Duration,
    pub resource: Duration,
}

/// What a token is issued for and carries.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenContent {
    pub object_id: String,
    pub is_user: bool,
    /// The client the token was requested with (the principal's appId for apps).
    pub client_id: String,
    pub upn: Option<String>,
    pub display_name: String,
    pub wids: Vec<String>,
    /// `None`: a token for Writ's own API; `Some(appId)`: for that resource application.
    pub audience: Option<String>,
    pub roles: Vec<String>,
    pub lifetime: Duration,
    /// The token never outlives this instant (the end of a grant it carries).
    pub not_after: Option<OffsetDateTime>,
    /// The delegated scopes of a person's token (`scp`), set by the user grant
    /// (`user_tokens`); `None` for applications' tokens.
    pub scp: Option<String>,
}

/// Reads `scope`: Writ's API (`https://graph.microsoft.com/.default`, `{public_url}/.default`)
/// or a resource (`api://{appId}/.default`, `{appId}/.default`, `{identifierUri}/.default`).
/// OpenID scopes are ignored; exactly one `/.default` resource scope is needed when `required`.
pub fn parse_scope(
    scope: Option<&str>,
    required: bool,
    public_url: &str,
) -> IdentityResult<ScopeTarget> {
    let Some(scope) = scope else {
        return if required {
            Err(IdentityError::InvalidRequest(
                "parameter 'scope' is required: use https://graph.microsoft.com/.default, {public_url}/.default or api://{appId}/.default".into(),
            ))
        } else {
            Ok(ScopeTarget::Writ)
        };
    };
    let resources: Vec<&str> = scope
        .split_whitespace()
        .filter(|s| !matches!(*s, "openid" | "profile" | "offline_access" | "email"))
        .collect();
    let resource = match resources.as_slice() {
        [] if !required => return Ok(ScopeTarget::Writ),
        [one] => *one,
        _ => {
            return Err(IdentityError::InvalidScope(
                "exactly one resource '/.default' scope is required".into(),
            ));
        }
    };
    let lowered = resource.to_ascii_lowercase();
    let Some(base_len) = lowered.strip_suffix("/.default").map(str::len) else {
        return Err(IdentityError::InvalidScope(format!(
            "The scope '{resource}' is not valid: client credentials and this server use '<resource>/.default'"
        )));
    };
    let base = resource
        .get(..base_len)
        .unwrap_or_default()
        .trim_end_matches('/');
    if base.eq_ignore_ascii_case("https://graph.microsoft.com")
        || base.eq_ignore_ascii_case(public_url)
    {
        return Ok(ScopeTarget::Writ);
    }
    Ok(ScopeTarget::Resource(base.to_owned()))
}

/// The app role values held, from the paths by which `principal` holds role ids on a resource
/// and the roles its application defines, with the instant the first of them ends (each role
/// lasts until the latest path that grants it; `None` = no end). Ids without an enabled, valued
/// role are not claims.
pub fn held_app_roles(
    paths: Vec<(String, Option<OffsetDateTime>)>,
    defined: &[AppRole],
) -> (Vec<String>, Option<OffsetDateTime>) {
    let valued: Vec<(String, Option<OffsetDateTime>)> = paths
        .into_iter()
        .filter_map(|(id, end)| {
            defined
                .iter()
                .find(|r| r.id == id && r.is_enabled)
                .and_then(|r| r.value.clone())
                .map(|value| (value, end))
        })
        .collect();
    let folded = crate::authz::fold_role_paths(valued);
    let cap = folded.iter().filter_map(|(_, end)| *end).min();
    (folded.into_iter().map(|(v, _)| v).collect(), cap)
}

/// The token for `principal` requested through `client_id` for `audience`: its `wids` from the
/// directory role paths it holds now, its `roles` (resource tokens only, already read with
/// [`held_app_roles`]), the configured lifetime, and the end of the first grant it carries.
pub fn decide(
    principal: &Principal,
    client_id: String,
    audience: &Audience,
    directory_role_paths: Vec<(String, Option<OffsetDateTime>)>,
    app_roles: (Vec<String>, Option<OffsetDateTime>),
    lifetimes: TokenLifetimes,
) -> TokenContent {
    let held = super::held_directory_roles(principal.is_agent, directory_role_paths);
    let wids_end = held.iter().filter_map(|(_, end)| *end).min();
    let wids = held.into_iter().map(|(role, _)| role).collect();
    let (audience, roles, roles_end, lifetime) = match audience {
        Audience::Writ => (None, Vec::new(), None, lifetimes.api),
        Audience::Resource(resource) => {
            let (roles, end) = app_roles;
            (
                Some(resource.app_id.clone()),
                roles,
                end,
                lifetimes.resource,
            )
        }
    };
    let is_user = principal.kind == PrincipalKind::User;
    TokenContent {
        object_id: principal.id.clone(),
        is_user,
        client_id,
        upn: is_user.then(|| principal.login_name.clone()),
        display_name: principal.display_name.clone(),
        wids,
        audience,
        roles,
        lifetime,
        not_after: earliest(wids_end, roles_end),
        scp: None,
    }
}

fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Identity<'_> {
    /// The audience `scope` asks for. Resolved only for an authenticated client, so that
    /// resource names cannot be probed anonymously.
    pub async fn resolve_audience(
        &self,
        scope: Option<&str>,
        required: bool,
        public_url: &str,
    ) -> IdentityResult<Audience> {
        let base = match parse_scope(scope, required, public_url)? {
            ScopeTarget::Writ => return Ok(Audience::Writ),
            ScopeTarget::Resource(base) => base,
        };
        let app_id = base.strip_prefix("api://").unwrap_or(&base);
        let mut principal = match crate::ids::parse_guid(app_id) {
            Some(app_id) => self.store.service_principal_by_app_id(&app_id).await?,
            None => None,
        };
        if principal.is_none() {
            // An identifier URI of an application (e.g. api://orders).
            if let Some(app) = self.store.application_by_identifier_uri(&base).await? {
                principal = self.store.service_principal_by_app_id(&app.app_id).await?;
            }
        }
        match principal {
            Some(p) if !p.account_enabled => Err(IdentityError::InvalidScope(format!(
                "The resource '{base}' is disabled in this tenant."
            ))),
            Some(p) => Ok(Audience::Resource(p)),
            None => Err(IdentityError::InvalidScope(format!(
                "The resource '{base}' was not found in this tenant: register the application and its service principal first."
            ))),
        }
    }

    /// What the token for `principal`, requested through `client_id` for `audience`, carries
    /// now.
    pub async fn token_content(
        &self,
        principal: &Principal,
        client_id: String,
        audience: &Audience,
        lifetimes: TokenLifetimes,
    ) -> IdentityResult<TokenContent> {
        self.refuse_compromised(principal).await?;
        let now = self.clock.now();
        let directory_paths = self
            .store
            .effective_directory_roles(&principal.id, now)
            .await?;
        self.content_with(principal, client_id, audience, directory_paths, lifetimes)
            .await
    }

    /// What the token of a client authenticated by
    /// [`Self::authenticate_client_for_token`] carries, from what that read found (its risk
    /// state and directory roles at authentication); only a resource token reads more (the
    /// resource's roles).
    pub async fn client_token_content(
        &self,
        client: &super::clients::AuthenticatedClient,
        audience: &Audience,
        lifetimes: TokenLifetimes,
    ) -> IdentityResult<TokenContent> {
        super::callers::refuse_compromised_state(&client.principal, client.risk_state)?;
        self.content_with(
            &client.principal,
            client.principal.login_name.clone(),
            audience,
            client.directory_role_paths.clone(),
            lifetimes,
        )
        .await
    }

    /// The token's content once the principal's directory role paths are known: reads the app
    /// roles of a resource token.
    async fn content_with(
        &self,
        principal: &Principal,
        client_id: String,
        audience: &Audience,
        directory_paths: Vec<(String, Option<OffsetDateTime>)>,
        lifetimes: TokenLifetimes,
    ) -> IdentityResult<TokenContent> {
        let now = self.clock.now();
        let app_roles = match audience {
            Audience::Writ => (Vec::new(), None),
            Audience::Resource(resource) => {
                let defined = self
                    .store
                    .application_by_app_id(&resource.app_id)
                    .await?
                    .map(|a| a.app_roles)
                    .unwrap_or_default();
                // Only human users hold the roles assigned to their groups.
                let paths = self
                    .store
                    .effective_app_roles(
                        &principal.id,
                        &resource.id,
                        now,
                        principal.is_human_user(),
                    )
                    .await?;
                held_app_roles(paths, &defined)
            }
        };
        Ok(decide(
            principal,
            client_id,
            audience,
            directory_paths,
            app_roles,
            lifetimes,
        ))
    }
}

impl Identity<'_> {
    /// Records the instant a token was issued to `principal` (every grant calls it once the
    /// token is signed): the inactivity rule of lifecycle policies and `signInActivity` read it.
    /// One `UPDATE` by primary key, outside any transaction.
    pub async fn record_token_issued(
        &self,
        principal_id: &str,
        at: OffsetDateTime,
    ) -> IdentityResult<()> {
        Ok(self.store.record_token_issued(principal_id, at).await?)
    }
}
