//! Audit records, outbox events and the links of the audit chain, as stored.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::new_object_id;

/// Who initiated a change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Actor {
    /// `user`, `app` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub display_name: Option<String>,
    /// UPN for users, appId for applications.
    pub login_name: Option<String>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            kind: "system".into(),
            id: None,
            display_name: Some("Writ".into()),
            login_name: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditTarget {
    pub id: String,
    /// Graph's `targetResource.type`: `User`, `Group`, `Application`, `ServicePrincipal`, …
    pub kind: String,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    /// Names of the properties the change touched.
    pub modified_properties: Vec<String>,
}

/// One audited change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub activity_date_time: OffsetDateTime,
    /// Graph's `category`: `UserManagement`, `GroupManagement`, `ApplicationManagement`,
    /// `RoleManagement`, `EntitlementManagement`.
    pub category: String,
    pub activity_display_name: String,
    /// `Add`, `Update`, `Delete`, `Assign`, `Unassign`.
    pub operation_type: String,
    pub result: String,
    pub result_reason: Option<String>,
    pub initiated_by: Actor,
    /// The principal acted for, when it differs from the initiator.
    pub on_behalf_of: Option<String>,
    /// The entitlement-management catalog the change belongs to: its owner, managers and
    /// readers may read the record (DESIGN section 9).
    pub catalog_id: Option<String>,
    pub target_resources: Vec<AuditTarget>,
    pub additional_details: Vec<(String, String)>,
    pub request_id: Option<String>,
}

impl AuditRecord {
    /// A successful change by `actor` at `now`.
    pub fn success(
        actor: Actor,
        now: OffsetDateTime,
        category: &str,
        activity: &str,
        operation_type: &str,
        request_id: Option<&str>,
    ) -> Self {
        Self {
            id: new_object_id(),
            activity_date_time: now,
            category: category.into(),
            activity_display_name: activity.into(),
            operation_type: operation_type.into(),
            result: "success".into(),
            result_reason: None,
            initiated_by: actor,
            on_behalf_of: None,
            catalog_id: None,
            target_resources: Vec::new(),
            additional_details: Vec::new(),
            request_id: request_id.map(str::to_owned),
        }
    }

    pub fn target(
        mut self,
        id: &str,
        kind: &str,
        display_name: Option<&str>,
        modified_properties: Vec<String>,
    ) -> Self {
        self.target_resources.push(AuditTarget {
            id: id.into(),
            kind: kind.into(),
            display_name: display_name.map(str::to_owned),
            user_principal_name: None,
            modified_properties,
        });
        self
    }

    /// Files the record under a catalog, for the catalog-scoped readers.
    pub fn in_catalog(mut self, catalog_id: &str) -> Self {
        self.catalog_id = Some(catalog_id.to_owned());
        self
    }

    /// Names the principal acted for (invariant 4): among the targets (added when absent) and
    /// as the `onBehalfOf` detail.
    pub fn on_behalf_of(mut self, id: &str, kind: &str, display_name: Option<&str>) -> Self {
        if !self.target_resources.iter().any(|t| t.id == id) {
            self = self.target(id, kind, display_name, Vec::new());
        }
        if !self
            .additional_details
            .iter()
            .any(|(k, _)| k == "onBehalfOf")
        {
            self = self.detail("onBehalfOf", id);
        }
        self.on_behalf_of = Some(id.to_owned());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.additional_details.push((key.into(), value.into()));
        self
    }
}

/// Which audit records a reader may see (DESIGN section 9), decided by
/// [`Caller::audit_scope`](crate::authz::Caller::audit_scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    /// Every record: Global Administrator, Global Reader.
    All,
    /// Every record of entitlement management (category `EntitlementManagement`): the Identity
    /// Governance Administrator.
    EntitlementManagement,
    /// Records filed under a catalog: under any catalog (`all`, a catalog role held for every
    /// catalog) or under one of `ids`.
    Catalogs { all: bool, ids: Vec<String> },
}

impl AuditScope {
    /// Whether a record falls within the scope.
    pub fn includes(&self, record: &AuditRecord) -> bool {
        match self {
            AuditScope::All => true,
            AuditScope::EntitlementManagement => record.category == ENTITLEMENT_MANAGEMENT,
            AuditScope::Catalogs { all, ids } => record
                .catalog_id
                .as_ref()
                .is_some_and(|c| *all || ids.contains(c)),
        }
    }
}

/// The category of entitlement management's records.
pub const ENTITLEMENT_MANAGEMENT: &str = "EntitlementManagement";

/// A recipient of a notification, resolved when the event is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Recipient {
    pub id: String,
    pub kind: String,
    pub mail: Option<String>,
}

/// A lifecycle event waiting in the outbox for the notifiers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxEvent {
    pub id: String,
    pub event_type: String,
    pub occurred_at: OffsetDateTime,
    pub data: serde_json::Value,
    pub recipients: Vec<Recipient>,
}

impl OutboxEvent {
    pub fn new(
        event_type: &str,
        occurred_at: OffsetDateTime,
        data: serde_json::Value,
        recipients: Vec<Recipient>,
    ) -> Self {
        Self {
            id: new_object_id(),
            event_type: event_type.into(),
            occurred_at,
            data,
            recipients,
        }
    }
}

/// The last linked record: its sequence number and MAC (`0` and empty before the first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: i64,
    pub mac: String,
}

/// The link given to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLink {
    pub id: String,
    pub seq: i64,
    pub mac: String,
}

/// A linked record as stored. `record` is an error when the row no longer reads as a record
/// (its JSON was edited); `mac` is `None` when the MAC was erased.
#[derive(Debug, Clone)]
pub struct ChainedAudit {
    pub id: String,
    pub seq: i64,
    pub mac: Option<String>,
    pub record: Result<AuditRecord, String>,
}
