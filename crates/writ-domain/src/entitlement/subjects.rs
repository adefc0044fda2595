//! `…/entitlementManagement/subjects`: Graph's `accessPackageSubject`, the principals entitlement
//! management has dealt with. Entra creates a subject implicitly when a principal first becomes
//! the target or the requestor of an assignment request; Writ derives the same set from the
//! requests and the directory instead of storing it, so a subject's id is its directory object
//! id, its properties are the principal's as they are now, and a deleted principal's subject is
//! gone with it (its requests, kept for the retention period, still name its id).
//!
//! Subjects span every catalog, so only callers that read every catalog (EM Admins, Global
//! Reader, holders of a readable catalog role at `/`) may read them; anyone else is `403`.

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::Subject;
use crate::query::{ListQuery, Page};

use super::Entitlement;

fn require_reader(caller: &Caller) -> DomainResult<()> {
    if caller.reads_all_catalogs() {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "reading subjects needs a role that reads every catalog (Identity Governance \
             Administrator, Global Reader, or a catalog role at '/')",
        ))
    }
}

impl Entitlement {
    /// `GET …/subjects`.
    pub async fn list_subjects(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<Subject>> {
        require_reader(caller)?;
        Ok(self.store.list_subjects(query).await?)
    }

    /// `GET …/subjects/{id}`: `403` for a caller that may not read subjects at all (whether or
    /// not the subject exists), `404` for a principal that is not (or no longer) a subject.
    pub async fn get_subject(&self, caller: &Caller, id: &str) -> DomainResult<Subject> {
        require_reader(caller)?;
        self.store
            .subject(id)
            .await?
            .ok_or_else(|| DomainError::not_found("accessPackageSubject", id))
    }
}
