//! The filterable and orderable properties of each entity: the allow-lists of `$filter` and
//! `$orderby`, with the column each maps to. `docs/api-coverage.md` lists the same; anything not
//! here is refused with `400`, never filtered in memory.

use writ_odata::{EntitySchema, FieldDef, FieldType};

pub const USER_TYPES: &[&str] = &["Member", "Guest"];
pub const GROUP_VISIBILITIES: &[&str] = &["Public", "Private", "HiddenMembership"];

const fn text(sql: &'static str, orderable: bool) -> FieldDef {
    FieldDef::Scalar {
        sql,
        ty: FieldType::Text,
        orderable,
    }
}

const fn id(sql: &'static str) -> FieldDef {
    FieldDef::Scalar {
        sql,
        ty: FieldType::Id,
        orderable: false,
    }
}

const fn boolean(sql: &'static str) -> FieldDef {
    FieldDef::Scalar {
        sql,
        ty: FieldType::Bool,
        orderable: false,
    }
}

const fn datetime(sql: &'static str) -> FieldDef {
    FieldDef::Scalar {
        sql,
        ty: FieldType::DateTime,
        orderable: true,
    }
}

pub static USER: EntitySchema = EntitySchema {
    entity: "user",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("userPrincipalName", text("{t}.user_principal_name", true)),
        ("mail", text("{t}.mail", false)),
        ("mailNickname", text("{t}.mail_nickname", false)),
        ("givenName", text("{t}.given_name", false)),
        ("surname", text("{t}.surname", false)),
        ("jobTitle", text("{t}.job_title", false)),
        ("department", text("{t}.department", false)),
        ("employeeId", text("{t}.employee_id", false)),
        ("companyName", text("{t}.company_name", false)),
        ("usageLocation", text("{t}.usage_location", false)),
        ("accountEnabled", boolean("{t}.account_enabled")),
        (
            "userType",
            FieldDef::Scalar {
                sql: "{t}.user_type",
                ty: FieldType::Enum(USER_TYPES),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
        ("manager/id", id("{t}.manager_id")),
        ("identityParentId", id("{t}.identity_parent_id")),
    ],
};

static UNIFIED_ELEMENT: EntitySchema = EntitySchema {
    entity: "groupTypes",
    fields: &[("$it", text("{t}.v", false))],
};

pub static GROUP: EntitySchema = EntitySchema {
    entity: "group",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("description", text("{t}.description", false)),
        ("mailNickname", text("{t}.mail_nickname", false)),
        ("mail", text("{t}.mail", false)),
        ("mailEnabled", boolean("{t}.mail_enabled")),
        ("securityEnabled", boolean("{t}.security_enabled")),
        ("isAssignableToRole", boolean("{t}.is_assignable_to_role")),
        (
            "visibility",
            FieldDef::Scalar {
                sql: "{t}.visibility",
                ty: FieldType::Enum(GROUP_VISIBILITIES),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
        // groupTypes is stored as a flag (Unified is the only type Writ knows); the lambda ranges
        // over a one-row derived table present only for unified groups.
        (
            "groupTypes",
            FieldDef::Collection {
                from: "(SELECT 'Unified' AS v) {a} WHERE {t}.is_unified = TRUE",
                element: &UNIFIED_ELEMENT,
            },
        ),
    ],
};

pub static APPLICATION: EntitySchema = EntitySchema {
    entity: "application",
    fields: &[
        ("id", id("{t}.id")),
        ("appId", id("{t}.app_id")),
        ("displayName", text("{t}.display_name", true)),
        ("createdDateTime", datetime("{t}.created_at")),
    ],
};

pub const SERVICE_PRINCIPAL_TYPES: &[&str] = &[
    "Application",
    "ServiceIdentity",
    "ManagedIdentity",
    "Legacy",
    "SocialIdp",
];

pub static SERVICE_PRINCIPAL: EntitySchema = EntitySchema {
    entity: "servicePrincipal",
    fields: &[
        ("id", id("{t}.id")),
        ("appId", id("{t}.app_id")),
        ("displayName", text("{t}.display_name", true)),
        ("accountEnabled", boolean("{t}.account_enabled")),
        (
            "servicePrincipalType",
            FieldDef::Scalar {
                sql: "{t}.service_principal_type",
                ty: FieldType::Enum(SERVICE_PRINCIPAL_TYPES),
                orderable: false,
            },
        ),
        (
            "agentIdentityBlueprintId",
            id("{t}.agent_identity_blueprint_id"),
        ),
        ("createdDateTime", datetime("{t}.created_at")),
    ],
};

pub const CONSENT_TYPES: &[&str] = &["AllPrincipals", "Principal"];

pub static PERMISSION_GRANT: EntitySchema = EntitySchema {
    entity: "oAuth2PermissionGrant",
    fields: &[
        ("id", id("{t}.id")),
        ("clientId", id("{t}.client_id")),
        ("resourceId", id("{t}.resource_id")),
        ("principalId", id("{t}.principal_id")),
        (
            "consentType",
            FieldDef::Scalar {
                sql: "{t}.consent_type",
                ty: FieldType::Enum(CONSENT_TYPES),
                orderable: false,
            },
        ),
    ],
};

pub static ROLE_ASSIGNMENT: EntitySchema = EntitySchema {
    entity: "unifiedRoleAssignment",
    fields: &[
        ("id", id("{t}.id")),
        ("principalId", id("{t}.principal_id")),
        ("roleDefinitionId", id("{t}.role_definition_id")),
        ("directoryScopeId", id("{t}.directory_scope_id")),
    ],
};

pub static CATALOG: EntitySchema = EntitySchema {
    entity: "accessPackageCatalog",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("description", text("{t}.description", false)),
        ("isExternallyVisible", boolean("{t}.is_externally_visible")),
        (
            "state",
            FieldDef::Scalar {
                sql: "{t}.state",
                ty: FieldType::Enum(&["unpublished", "published"]),
                orderable: false,
            },
        ),
        (
            "catalogType",
            FieldDef::Scalar {
                sql: "{t}.catalog_type",
                ty: FieldType::Enum(&["userManaged", "serviceDefault", "serviceManaged"]),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
        ("modifiedDateTime", datetime("{t}.modified_at")),
    ],
};

const ORIGIN_SYSTEMS: &[&str] = &["AadGroup", "AadApplication", "DirectoryRole"];

pub static CATALOG_RESOURCE: EntitySchema = EntitySchema {
    entity: "accessPackageResource",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("originId", id("{t}.origin_id")),
        (
            "originSystem",
            FieldDef::Scalar {
                sql: "{t}.origin_system",
                ty: FieldType::Enum(ORIGIN_SYSTEMS),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
    ],
};

pub static RESOURCE_ROLE: EntitySchema = EntitySchema {
    entity: "accessPackageResourceRole",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("originId", text("{t}.origin_id", false)),
        (
            "originSystem",
            FieldDef::Scalar {
                sql: "{t}.origin_system",
                ty: FieldType::Enum(ORIGIN_SYSTEMS),
                orderable: false,
            },
        ),
        ("resource/id", id("{t}.resource_id")),
        (
            "resource/originId",
            id("(SELECT r.origin_id FROM catalog_resources r WHERE r.id = {t}.resource_id)"),
        ),
    ],
};

pub static RESOURCE_SCOPE: EntitySchema = EntitySchema {
    entity: "accessPackageResourceScope",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("originId", text("{t}.origin_id", false)),
        (
            "originSystem",
            FieldDef::Scalar {
                sql: "{t}.origin_system",
                ty: FieldType::Enum(ORIGIN_SYSTEMS),
                orderable: false,
            },
        ),
        ("isRootScope", boolean("{t}.is_root_scope")),
        ("resource/id", id("{t}.resource_id")),
    ],
};

pub static RESOURCE_REQUEST: EntitySchema = EntitySchema {
    entity: "accessPackageResourceRequest",
    fields: &[
        ("id", id("{t}.id")),
        ("catalog/id", id("{t}.catalog_id")),
        ("resource/id", id("{t}.resource_id")),
        (
            "requestType",
            FieldDef::Scalar {
                sql: "{t}.request_type",
                ty: FieldType::Enum(&["adminAdd", "adminUpdate", "adminRemove"]),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
    ],
};

pub static ACCESS_PACKAGE: EntitySchema = EntitySchema {
    entity: "accessPackage",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("description", text("{t}.description", false)),
        ("isHidden", boolean("{t}.is_hidden")),
        ("catalog/id", id("{t}.catalog_id")),
        ("createdDateTime", datetime("{t}.created_at")),
        ("modifiedDateTime", datetime("{t}.modified_at")),
    ],
};

pub static EM_ROLE_ASSIGNMENT: EntitySchema = EntitySchema {
    entity: "unifiedRoleAssignment",
    fields: &[
        ("id", id("{t}.id")),
        ("principalId", id("{t}.principal_id")),
        ("roleDefinitionId", id("{t}.role_definition_id")),
        ("appScopeId", text("{t}.app_scope_id", false)),
    ],
};

pub static ASSIGNMENT_POLICY: EntitySchema = EntitySchema {
    entity: "accessPackageAssignmentPolicy",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        ("description", text("{t}.description", false)),
        ("accessPackage/id", id("{t}.access_package_id")),
        ("catalog/id", id("{t}.catalog_id")),
        (
            "allowedTargetScope",
            FieldDef::Scalar {
                sql: "{t}.allowed_target_scope",
                ty: FieldType::Enum(writ_domain::entitlement::TARGET_SCOPES),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
        ("modifiedDateTime", datetime("{t}.modified_at")),
    ],
};

pub static CONNECTED_ORGANIZATION: EntitySchema = EntitySchema {
    entity: "connectedOrganization",
    fields: &[
        ("id", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        (
            "state",
            FieldDef::Scalar {
                sql: "{t}.state",
                ty: FieldType::Enum(&["configured", "proposed"]),
                orderable: false,
            },
        ),
        ("createdDateTime", datetime("{t}.created_at")),
    ],
};

pub static ASSIGNMENT_REQUEST: EntitySchema = EntitySchema {
    entity: "accessPackageAssignmentRequest",
    fields: &[
        ("id", id("{t}.id")),
        (
            "state",
            FieldDef::Scalar {
                sql: "{t}.state",
                ty: FieldType::Enum(writ_domain::entitlement::RequestState::NAMES),
                orderable: false,
            },
        ),
        (
            "requestType",
            FieldDef::Scalar {
                sql: "{t}.request_type",
                ty: FieldType::Enum(&[
                    "userAdd",
                    "userUpdate",
                    "userRemove",
                    "adminAdd",
                    "adminUpdate",
                    "adminRemove",
                    "systemRemove",
                ]),
                orderable: false,
            },
        ),
        ("accessPackage/id", id("{t}.access_package_id")),
        ("requestor/objectId", id("{t}.requestor_id")),
        ("target/objectId", id("{t}.target_id")),
        ("createdDateTime", datetime("{t}.created_at")),
        ("completedDateTime", datetime("{t}.completed_at")),
    ],
};

pub static ASSIGNMENT: EntitySchema = EntitySchema {
    entity: "accessPackageAssignment",
    fields: &[
        ("id", id("{t}.id")),
        (
            "state",
            FieldDef::Scalar {
                sql: "{t}.state",
                ty: FieldType::Enum(writ_domain::entitlement::AssignmentState::NAMES),
                orderable: false,
            },
        ),
        ("accessPackage/id", id("{t}.access_package_id")),
        ("assignmentPolicy/id", id("{t}.policy_id")),
        ("target/objectId", id("{t}.target_id")),
        ("expiredDateTime", datetime("{t}.expired_at")),
    ],
};

/// `accessPackageAssignmentApprovals/filterByCurrentUser`: an approval has only its id (the
/// request's) and its stages, which are not filterable.
pub static APPROVAL: EntitySchema = EntitySchema {
    entity: "approval",
    fields: &[("id", id("{t}.id"))],
};

/// Graph's `accessPackageSubjectType` (`notSpecified` and `unknownFutureValue` match nothing).
pub const SUBJECT_TYPES: &[&str] = &[
    "notSpecified",
    "user",
    "servicePrincipal",
    "unknownFutureValue",
];

/// `…/subjects`, over the derived table of `crate::subjects` (`id` and `objectId` are both the
/// directory object id).
pub static SUBJECT: EntitySchema = EntitySchema {
    entity: "accessPackageSubject",
    fields: &[
        ("id", id("{t}.id")),
        ("objectId", id("{t}.id")),
        ("displayName", text("{t}.display_name", true)),
        (
            "subjectType",
            FieldDef::Scalar {
                sql: "{t}.subject_type",
                ty: FieldType::Enum(SUBJECT_TYPES),
                orderable: false,
            },
        ),
    ],
};

/// The `state` of a webhook or email delivery.
const DELIVERY_STATE: FieldDef = FieldDef::Scalar {
    sql: "{t}.state",
    ty: FieldType::Enum(writ_domain::webhooks::DeliveryState::NAMES),
    orderable: false,
};

/// `/writ/v1/webhookDeliveries` (Writ's own API, not Graph).
pub static WEBHOOK_DELIVERY: EntitySchema = EntitySchema {
    entity: "webhookDelivery",
    fields: &[
        ("id", id("{t}.id")),
        ("state", DELIVERY_STATE),
        ("eventId", id("{t}.event_id")),
        ("eventType", text("{t}.event_type", true)),
        ("endpointUrl", text("{t}.endpoint_url", true)),
        ("createdDateTime", datetime("{t}.created_at")),
        ("lastAttemptDateTime", datetime("{t}.last_attempt_at")),
        ("nextAttemptDateTime", datetime("{t}.next_attempt_at")),
    ],
};

/// `/writ/v1/emailDeliveries` (Writ's own API, not Graph).
pub static EMAIL_DELIVERY: EntitySchema = EntitySchema {
    entity: "emailDelivery",
    fields: &[
        ("id", id("{t}.id")),
        ("state", DELIVERY_STATE),
        ("eventId", id("{t}.event_id")),
        ("eventType", text("{t}.event_type", true)),
        ("recipientId", id("{t}.recipient_id")),
        ("createdDateTime", datetime("{t}.created_at")),
        ("lastAttemptDateTime", datetime("{t}.last_attempt_at")),
        ("nextAttemptDateTime", datetime("{t}.next_attempt_at")),
    ],
};

/// `/writ/v1/jobs` (Writ's own API, not Graph). `state` is derived from the row as
/// `QueuedJob::state` derives it; the filter scans the queue, which is fine for an
/// administrator's occasional read (the queue holds one row per pending piece of work).
pub static JOB: EntitySchema = EntitySchema {
    entity: "job",
    fields: &[
        ("id", id("{t}.id")),
        (
            "state",
            FieldDef::Scalar {
                sql: "(CASE WHEN {t}.parked_at IS NOT NULL THEN 'parked' \
                      WHEN {t}.lease_owner IS NOT NULL THEN 'leased' ELSE 'queued' END)",
                ty: FieldType::Enum(writ_domain::jobs::JobState::NAMES),
                orderable: false,
            },
        ),
        (
            "kind",
            FieldDef::Scalar {
                sql: "{t}.kind",
                ty: FieldType::Enum(writ_domain::jobs::JobKind::NAMES),
                orderable: true,
            },
        ),
        ("subjectId", id("{t}.subject_id")),
        (
            "attempts",
            FieldDef::Scalar {
                sql: "{t}.attempts",
                ty: FieldType::Int,
                orderable: true,
            },
        ),
        ("leaseOwner", id("{t}.lease_owner")),
        ("dueDateTime", datetime("{t}.due_at")),
        ("leaseExpiresDateTime", datetime("{t}.lease_until")),
        ("parkedDateTime", datetime("{t}.parked_at")),
    ],
};

pub const AUDIT_RESULTS: &[&str] = &["success", "failure", "timeout"];

static AUDIT_TARGET: EntitySchema = EntitySchema {
    entity: "targetResource",
    fields: &[("id", id("{t}.target_id"))],
};

/// `auditLogs/directoryAudits`. The initiator's id by kind and the target ids are columns and
/// rows derived when the record is appended (migration 15), so these filters are indexed.
pub static DIRECTORY_AUDIT: EntitySchema = EntitySchema {
    entity: "directoryAudit",
    fields: &[
        ("id", id("{t}.id")),
        ("activityDateTime", datetime("{t}.activity_at")),
        ("category", text("{t}.category", false)),
        ("activityDisplayName", text("{t}.activity", false)),
        ("operationType", text("{t}.operation_type", false)),
        (
            "result",
            FieldDef::Scalar {
                sql: "{t}.result",
                ty: FieldType::Enum(AUDIT_RESULTS),
                orderable: false,
            },
        ),
        ("correlationId", id("{t}.request_id")),
        ("initiatedBy/user/id", id("{t}.initiated_by_user_id")),
        (
            "initiatedBy/app/servicePrincipalId",
            id("{t}.initiated_by_app_id"),
        ),
        (
            "targetResources",
            FieldDef::Collection {
                from: "audit_log_targets {a} WHERE {a}.audit_id = {t}.id",
                element: &AUDIT_TARGET,
            },
        ),
    ],
};

/// Graph's `riskyAgent` (`/identityProtection/riskyAgents`): `id`, `agentDisplayName` (`eq`,
/// `startsWith`), `identityType`, `riskLevel`, `riskState`, `riskDetail` (`eq`) as Graph's, plus
/// `riskLastUpdatedDateTime` and `isEnabled`.
pub static RISKY_AGENT: EntitySchema = EntitySchema {
    entity: "riskyAgent",
    fields: &[
        ("id", id("{t}.id")),
        ("agentDisplayName", text("{t}.agent_display_name", true)),
        (
            "identityType",
            FieldDef::Scalar {
                sql: "{t}.identity_type",
                ty: FieldType::Enum(writ_domain::model::AGENT_IDENTITY_TYPES),
                orderable: false,
            },
        ),
        (
            "riskLevel",
            FieldDef::Scalar {
                sql: "{t}.risk_level",
                ty: FieldType::Enum(writ_domain::model::RISK_LEVELS),
                orderable: false,
            },
        ),
        (
            "riskState",
            FieldDef::Scalar {
                sql: "{t}.risk_state",
                ty: FieldType::Enum(writ_domain::model::RISK_STATES),
                orderable: false,
            },
        ),
        (
            "riskDetail",
            FieldDef::Scalar {
                sql: "{t}.risk_detail",
                ty: FieldType::Enum(writ_domain::model::RISK_DETAILS),
                orderable: false,
            },
        ),
        (
            "riskLastUpdatedDateTime",
            datetime("{t}.risk_last_updated_at"),
        ),
        ("isEnabled", boolean("{t}.is_enabled")),
    ],
};
