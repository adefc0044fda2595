//! The audit capability of the storage port: the audit log, its hash chain and the outbox.

// The port's imports are `store.rs`'s, one list for every capability.
use super::*;

/// The audit log, its chain and the outbox, read.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Every audit record, oldest first (for tests and the audit issue's readers).
    async fn audit_records(&self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    async fn audit_record(&self, id: &str) -> StoreResult<Option<AuditRecord>>;
    /// `auditLogs/directoryAudits`: a page of the records within `scope`.
    async fn list_audit_records(
        &self,
        query: &ListQuery,
        scope: &AuditScope,
    ) -> StoreResult<Page<AuditRecord>>;
    /// The audit chain's head row.
    async fn audit_chain_head(&self) -> StoreResult<ChainHead>;
    /// Linked records in chain order (sequence number, then id), after `(seq, id)`.
    async fn chained_audits(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<ChainedAudit>>;
    /// How many records are not linked yet.
    async fn unchained_audit_count(&self) -> StoreResult<i64>;
    async fn outbox_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>>;
}

/// Appending audit records and outbox events in the transaction of the change they record,
/// and linking the chain.
#[async_trait]
pub trait AuditStoreTx: Send {
    async fn append_audit(&mut self, record: &AuditRecord) -> StoreResult<()>;
    /// The audit chain's head row, as this transaction sees it.
    async fn audit_chain_head(&mut self) -> StoreResult<ChainHead>;
    /// The oldest committed records not linked yet (by activity time, then id).
    async fn unchained_audits(&mut self, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// Moves the chain head from `from` to `to` if it is still at `from` (compare-and-set);
    /// `false` when another chainer moved it first.
    async fn advance_audit_chain(&mut self, from: &ChainHead, to: &ChainHead) -> StoreResult<bool>;
    /// Writes the links of records that have none.
    async fn seal_audits(&mut self, links: &[AuditLink]) -> StoreResult<()>;
    async fn enqueue_event(&mut self, event: &OutboxEvent) -> StoreResult<()>;
    async fn append_audits(&mut self, records: &[AuditRecord]) -> StoreResult<()>;
    async fn enqueue_events(&mut self, events: &[OutboxEvent]) -> StoreResult<()>;
}
