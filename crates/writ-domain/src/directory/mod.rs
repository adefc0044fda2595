//! The directory: users, groups and the applications/service principals that authenticate, and
//! the [`Directory`] service that applies the directory's rules (authorization, references, deletion) to changes.

mod apps;
mod assignments;
mod audit_log;
mod bootstrap;
pub mod client_uris;
mod deletion;
pub mod groups;
pub mod lifecycle_policies;
pub mod risky_agents;
mod services;
pub mod succession;
pub(crate) mod users;
pub mod writ_clients;

pub use crate::model::directory::*;
pub use apps::{
    ApplicationInput, ClientRegistrationInput, MAX_SPONSOR_GROUPS, MAX_SPONSORS, NewSecret,
    PasswordCredentialInput, ServicePrincipalInput,
};
pub use assignments::{AppRoleAssignmentInput, PermissionGrantInput, RoleAssignmentInput};
pub use bootstrap::{BootstrapConfig, BootstrapOutcome, bootstrap};
pub use groups::GroupInput;
pub use services::Readiness;
pub use users::{FEDERATED, MAX_IDENTITIES, PasswordProfile, UserInput, check_identities};

use std::sync::Arc;

use crate::authz::Caller;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::store::Store;

/// Per-request context carried into every change, for the audit record.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: Option<String>,
    /// The interface the change came through when it is not the Graph API (the MCP server's
    /// tools): the request and assignment changes it makes say so in their audit records.
    pub via: Option<Via>,
}

/// An interface other than the Graph API that changes are made through, and which of its
/// operations made this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `mcp`: the MCP server at `/mcp`.
    pub interface: &'static str,
    /// The operation within it (the MCP tool's name).
    pub operation: String,
}

impl RequestContext {
    /// `record` with this context's `via` marks in its `additionalDetails` (`via` and, for MCP,
    /// `mcpTool`), so an audit reader can tell a change an agent made through its tools from one
    /// made through Graph. A Graph request's records are left as they are.
    pub fn mark(&self, record: crate::model::AuditRecord) -> crate::model::AuditRecord {
        match &self.via {
            Some(via) => record
                .detail("via", via.interface)
                .detail(&format!("{}Tool", via.interface), via.operation.clone()),
            None => record,
        }
    }
}

/// The directory's operations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// How long a lifecycle policy's day is (`lifecycle.day_length`): one day but in tests.
    lifecycle_day: time::Duration,
}

impl Directory {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            lifecycle_day: time::Duration::DAY,
        }
    }

    /// Sets the length of a lifecycle policy's day (`lifecycle.day_length`, at least a second).
    pub fn with_lifecycle_day_length(mut self, day: time::Duration) -> Self {
        self.lifecycle_day = day.max(time::Duration::SECOND);
        self
    }

    /// The store, for the domain's services built on a directory (identity, idempotency keys);
    /// never handed out of the crate.
    pub(crate) fn port(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// `GET /directoryObjects/{id}`.
    pub async fn get_directory_object(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<DirectoryObject> {
        caller.require_visible("directoryObject", id)?;
        self.store
            .directory_object(id)
            .await?
            .ok_or_else(|| DomainError::not_found("directoryObject", id))
    }
}
