//! Agent lifecycle governance (DESIGN section 17, Graph's `identityGovernance` lifecycle
//! policies for agent identities): the last token time read as `signInActivity`.

use time::OffsetDateTime;

use super::Directory;
use crate::authz::{Caller, roles};
use crate::error::{DomainError, DomainResult};

/// Who reads sign-in activity: the directory's administrators and readers (Graph asks
/// `AuditLog.Read.All` with a reader role); anyone else gets `403` for the property.
fn may_read_sign_in_activity(caller: &Caller) -> bool {
    caller.is_global_admin()
        || caller.is_global_reader()
        || caller.holds_role(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR)
}

impl Directory {
    /// `signInActivity` of a user or service principal the caller has already read: the
    /// instant of the last token Writ issued to it (`None`: never).
    pub async fn sign_in_activity(
        &self,
        caller: &Caller,
        principal_id: &str,
    ) -> DomainResult<Option<OffsetDateTime>> {
        if !may_read_sign_in_activity(caller) {
            return Err(DomainError::forbidden(
                "reading signInActivity requires the Global Administrator, Global Reader or \
                 Identity Governance Administrator role",
            ));
        }
        Ok(self.store.last_token_issued(principal_id).await?)
    }
}
