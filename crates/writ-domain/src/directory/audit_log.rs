//! Reading the audit log (`auditLogs/directoryAudits`): who may read which records, decided by
//! [`Caller::audit_scope`]; the scope is applied inside the query, never after paging.

use crate::authz::Caller;
use crate::error::{DomainError, DomainResult};
use crate::model::AuditRecord;
use crate::query::{ListQuery, Page};

use super::Directory;

impl Directory {
    /// `GET /auditLogs/directoryAudits`: `403` for a caller that may read no record at all.
    pub async fn list_directory_audits(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<AuditRecord>> {
        let scope = caller
            .audit_scope()
            .ok_or_else(|| DomainError::forbidden("the caller may not read the audit log"))?;
        Ok(self.store.list_audit_records(query, &scope).await?)
    }

    /// `GET /auditLogs/directoryAudits/{id}`: `403` for a caller that may read no record,
    /// `404` for a record outside its scope.
    pub async fn get_directory_audit(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<AuditRecord> {
        let scope = caller
            .audit_scope()
            .ok_or_else(|| DomainError::forbidden("the caller may not read the audit log"))?;
        self.store
            .audit_record(id)
            .await?
            .filter(|record| scope.includes(record))
            .ok_or_else(|| DomainError::not_found("directoryAudit", id))
    }
}
