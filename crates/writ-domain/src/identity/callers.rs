//! Resolving the caller of an API request from a verified token's claims. The claims name the
//! principal only: whether it still exists, is enabled, and which directory and catalog roles it
//! holds is read from the database on every request, never taken from the token — in one
//! statement, with nothing cached, so a change made on any replica holds at the next request.

use time::OffsetDateTime;

use super::{Identity, IdentityError, IdentityResult, Principal};
use crate::authz::{Caller, PrincipalKind};
use crate::store::PrincipalRecord;

/// What a token's `idtyp` says it was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `idtyp` = `user`: a user (agent users included).
    User,
    /// Anything else (`app`): a service principal.
    App,
}

impl TokenType {
    pub fn from_idtyp(idtyp: &str) -> Self {
        if idtyp == "user" {
            Self::User
        } else {
            Self::App
        }
    }

    fn principal_kind(self) -> PrincipalKind {
        match self {
            Self::User => PrincipalKind::User,
            Self::App => PrincipalKind::ServicePrincipal,
        }
    }
}

/// The principal a token names, if it still exists and is enabled.
pub fn active_principal(
    found: Option<Principal>,
    expected: PrincipalKind,
) -> IdentityResult<Principal> {
    found
        .filter(|p| p.enabled && p.kind == expected)
        .ok_or(IdentityError::PrincipalGone(expected))
}

/// The caller a principal is now: the directory roles it holds at the tenant scope (never a
/// privileged one for an agent) and, for human users only, its catalog roles.
pub fn caller_of(
    principal: Principal,
    directory_role_paths: Vec<(String, Option<OffsetDateTime>)>,
    catalog_roles: Vec<(String, Option<String>)>,
) -> Caller {
    let directory_roles = super::held_directory_roles(principal.is_agent, directory_role_paths)
        .into_iter()
        .map(|(role, _)| role)
        .collect();
    let catalog_roles = if principal.is_human_user() {
        catalog_roles
    } else {
        Vec::new()
    };
    Caller {
        id: principal.id,
        kind: principal.kind,
        display_name: principal.display_name,
        login_name: principal.login_name,
        enabled: principal.enabled,
        is_agent: principal.is_agent,
        directory_roles,
        catalog_roles,
    }
}

impl Identity<'_> {
    /// The caller named by a verified token's `idtyp` and `oid`, as the database describes it
    /// now: one read ([`crate::store::CallerStore::caller_record`]) for the principal, its risk
    /// state and its roles.
    pub async fn resolve_caller(
        &self,
        token_type: TokenType,
        object_id: &str,
    ) -> IdentityResult<Caller> {
        let now = self.clock.now();
        let kind = token_type.principal_kind();
        let record = self.store.caller_record(kind, object_id, now).await?;
        caller_from_record(record, kind)
    }
}

/// The caller a [`PrincipalRecord`] describes: refused if gone, disabled or of another kind than
/// the token says, or an agent confirmed compromised.
pub fn caller_from_record(
    record: Option<PrincipalRecord>,
    expected: PrincipalKind,
) -> IdentityResult<Caller> {
    let Some(record) = record else {
        return Err(IdentityError::PrincipalGone(expected));
    };
    let principal = active_principal(Some(Principal::from(&record)), expected)?;
    refuse_compromised_state(&principal, record.risk_state)?;
    Ok(caller_of(
        principal,
        record.directory_role_paths,
        record.catalog_roles,
    ))
}

/// An agent confirmed compromised is refused; nobody else has a risk state that matters.
pub fn refuse_compromised_state(
    principal: &Principal,
    risk_state: Option<crate::model::RiskState>,
) -> IdentityResult<()> {
    if principal.is_agent && risk_state == Some(crate::model::RiskState::ConfirmedCompromised) {
        return Err(IdentityError::AgentCompromised);
    }
    Ok(())
}

impl Identity<'_> {
    /// Refuses an agent confirmed compromised: read for every request and every token of an
    /// agent (one primary-key read), never for anyone else.
    pub async fn refuse_compromised(&self, principal: &Principal) -> IdentityResult<()> {
        if !principal.is_agent {
            return Ok(());
        }
        refuse_compromised_state(principal, self.store.agent_risk_state(&principal.id).await?)
    }
}
