//! Audit records and outbox events: the two things every state change appends inside its own
//! transaction. The shapes follow Graph's `directoryAudit`, so the audit log reads back as Graph.

use crate::authz::Caller;
use crate::model::PrincipalKind;
pub use crate::model::audit::{
    Actor, AuditRecord, AuditScope, AuditTarget, ENTITLEMENT_MANAGEMENT, OutboxEvent, Recipient,
};

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Self {
        if caller.id == crate::authz::SYSTEM_CALLER_ID {
            return Actor::system();
        }
        Self {
            kind: match caller.kind {
                PrincipalKind::User => "user".into(),
                PrincipalKind::ServicePrincipal => "app".into(),
            },
            id: Some(caller.id.clone()),
            display_name: Some(caller.display_name.clone()),
            login_name: Some(caller.login_name.clone()),
        }
    }
}
