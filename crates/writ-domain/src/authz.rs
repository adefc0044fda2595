//! Who the caller is and what the directory lets it do. The caller is resolved from the database
//! on every request (never from token claims), and each operation asks this module, so the rules
//! of Writ's authorization model live in one place (docs/architecture.md).

use crate::error::{DomainError, DomainResult};
use crate::model::AuditScope;
pub use crate::model::PrincipalKind;

/// Built-in directory role template ids (Entra's, so scripts that name them work unchanged).
pub mod roles {
    pub const GLOBAL_ADMINISTRATOR: &str = "62e90394-69f5-4237-9190-012177145e10";
    pub const IDENTITY_GOVERNANCE_ADMINISTRATOR: &str = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e";
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    pub const DIRECTORY_READERS: &str = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";

    /// (template id, display name, description, isPrivileged)
    pub const BUILT_IN: &[(&str, &str, &str, bool)] = &[
        (
            GLOBAL_ADMINISTRATOR,
            "Global Administrator",
            "Can manage all aspects of Writ.",
            true,
        ),
        (
            IDENTITY_GOVERNANCE_ADMINISTRATOR,
            "Identity Governance Administrator",
            "Manage access using entitlement management.",
            true,
        ),
        (
            GLOBAL_READER,
            "Global Reader",
            "Can read everything that a Global Administrator can, but not update anything.",
            true,
        ),
        (
            DIRECTORY_READERS,
            "Directory Readers",
            "Can read basic directory information.",
            false,
        ),
    ];

    /// The built-in definition with this id (template id).
    pub fn definition(id: &str) -> Option<(&'static str, &'static str, &'static str, bool)> {
        BUILT_IN
            .iter()
            .copied()
            .find(|(template, ..)| template.eq_ignore_ascii_case(id))
    }
}

/// The authenticated principal of a request, as the database describes it now.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub kind: PrincipalKind,
    pub display_name: String,
    /// `userPrincipalName` for users, `appId` for service principals.
    pub login_name: String,
    pub enabled: bool,
    /// An agent identity or agent user: never a sponsor, approver or administrator.
    pub is_agent: bool,
    /// Directory role template ids held at the tenant scope.
    pub directory_roles: Vec<String>,
    /// Entitlement-management roles: (role definition id, catalog id or `None` for every
    /// catalog). Only enabled human users hold them; empty for everyone else.
    pub catalog_roles: Vec<(String, Option<String>)>,
}

/// The id Writ acts under when it changes something itself through a caller's path (a
/// lifecycle policy deleting an agent): audited as the system, never a principal's id.
pub const SYSTEM_CALLER_ID: &str = "00000000-0000-0000-0000-000000000000";

impl Caller {
    /// Writ itself, with the rights of a Global Administrator, for the system's own changes
    /// made through an operation that takes a caller; its audit records name the system.
    pub fn system() -> Self {
        Self {
            id: SYSTEM_CALLER_ID.to_owned(),
            kind: PrincipalKind::ServicePrincipal,
            display_name: "Writ".to_owned(),
            login_name: String::new(),
            enabled: true,
            is_agent: false,
            directory_roles: vec![roles::GLOBAL_ADMINISTRATOR.to_owned()],
            catalog_roles: Vec::new(),
        }
    }

    fn holds(&self, role: &str) -> bool {
        self.enabled && self.directory_roles.iter().any(|r| r == role)
    }

    /// Holds this directory role (template id) now.
    pub fn holds_role(&self, role: &str) -> bool {
        self.holds(role)
    }

    pub fn is_global_admin(&self) -> bool {
        self.holds(roles::GLOBAL_ADMINISTRATOR)
    }

    /// Global Reader: reads everything a Global Administrator can.
    pub fn is_global_reader(&self) -> bool {
        self.holds(roles::GLOBAL_READER)
    }

    pub fn is_human_user(&self) -> bool {
        self.kind == PrincipalKind::User && !self.is_agent
    }

    /// Users and groups may be read by administrators, readers and any enabled human user
    /// (Entra's default member permissions).
    pub fn can_read_directory(&self) -> bool {
        self.is_global_admin()
            || self.holds(roles::GLOBAL_READER)
            || self.holds(roles::DIRECTORY_READERS)
            || self.holds(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR)
            || (self.enabled && self.is_human_user())
    }

    /// Whether the caller may see this particular directory object.
    pub fn can_see_object(&self, object_id: &str) -> bool {
        self.can_read_directory() || self.id == object_id
    }

    /// A single object: `404` if invisible, so its existence does not leak.
    pub fn require_visible(&self, entity: &'static str, object_id: &str) -> DomainResult<()> {
        if self.can_see_object(object_id) {
            Ok(())
        } else {
            Err(DomainError::not_found(entity, object_id))
        }
    }

    /// A collection: `403` when the caller may not list it at all.
    pub fn require_directory_list(&self, collection: &str) -> DomainResult<()> {
        if self.can_read_directory() {
            Ok(())
        } else {
            Err(DomainError::forbidden(format!(
                "the caller may not list {collection}"
            )))
        }
    }

    /// Directory writes need Global Administrator.
    pub fn require_directory_write(&self) -> DomainResult<()> {
        if self.is_global_admin() {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "directory writes require the Global Administrator role",
            ))
        }
    }
}

/// Entitlement-management role definitions (`roleManagement/entitlementManagement`), Entra's ids.
pub mod em_roles {
    pub const CATALOG_CREATOR: &str = "ba92d953-d8e0-4e39-a797-0cbedb0a89e8";
    pub const CATALOG_OWNER: &str = "ae79f266-94d4-4dab-b730-feca7e132178";
    pub const CATALOG_READER: &str = "44272f93-9762-48e8-af59-1b5351b1d6b3";
    pub const PACKAGE_MANAGER: &str = "7f480852-ebdc-47d4-87de-0d8498384a83";
    pub const ASSIGNMENT_MANAGER: &str = "e2182095-804a-4656-ae11-64734e9b7ae5";

    /// (id, display name, description, tenant-wide only)
    pub const BUILT_IN: &[(&str, &str, &str, bool)] = &[
        (
            CATALOG_CREATOR,
            "Catalog creator",
            "Create and manage catalogs; becomes owner of the catalogs it creates.",
            true,
        ),
        (
            CATALOG_OWNER,
            "Catalog owner",
            "Manage everything in a catalog.",
            false,
        ),
        (
            CATALOG_READER,
            "Catalog reader",
            "Read everything in a catalog.",
            false,
        ),
        (
            PACKAGE_MANAGER,
            "Access package manager",
            "Manage access packages and their policies in a catalog.",
            false,
        ),
        (
            ASSIGNMENT_MANAGER,
            "Access package assignment manager",
            "Manage access package assignments in a catalog.",
            false,
        ),
    ];

    pub fn definition(id: &str) -> Option<(&'static str, &'static str, &'static str, bool)> {
        BUILT_IN
            .iter()
            .copied()
            .find(|(d, ..)| d.eq_ignore_ascii_case(id))
    }
}

/// What a caller may do in one catalog.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogRights {
    pub read: bool,
    /// Update and delete the catalog itself.
    pub manage_catalog: bool,
    /// Onboard and remove resources (those it may onboard).
    pub manage_resources: bool,
    /// Create, update, delete packages and policies.
    pub manage_packages: bool,
    /// Admin add/update/remove assignments.
    pub manage_assignments: bool,
    pub read_role_assignments: bool,
    pub manage_role_assignments: bool,
}

impl CatalogRights {
    pub const ALL: CatalogRights = CatalogRights {
        read: true,
        manage_catalog: true,
        manage_resources: true,
        manage_packages: true,
        manage_assignments: true,
        read_role_assignments: true,
        manage_role_assignments: true,
    };

    fn union(self, other: CatalogRights) -> CatalogRights {
        CatalogRights {
            read: self.read || other.read,
            manage_catalog: self.manage_catalog || other.manage_catalog,
            manage_resources: self.manage_resources || other.manage_resources,
            manage_packages: self.manage_packages || other.manage_packages,
            manage_assignments: self.manage_assignments || other.manage_assignments,
            read_role_assignments: self.read_role_assignments || other.read_role_assignments,
            manage_role_assignments: self.manage_role_assignments || other.manage_role_assignments,
        }
    }

    fn of_role(role: &str) -> CatalogRights {
        let read = CatalogRights {
            read: true,
            ..CatalogRights::default()
        };
        match role {
            em_roles::CATALOG_OWNER => CatalogRights::ALL,
            em_roles::PACKAGE_MANAGER => CatalogRights {
                manage_packages: true,
                manage_assignments: true,
                read_role_assignments: true,
                ..read
            },
            em_roles::ASSIGNMENT_MANAGER => CatalogRights {
                manage_assignments: true,
                ..read
            },
            em_roles::CATALOG_READER => CatalogRights {
                read_role_assignments: true,
                ..read
            },
            _ => CatalogRights::default(),
        }
    }
}

impl Caller {
    /// Global Administrator or Identity Governance Administrator: all of entitlement management.
    pub fn is_em_admin(&self) -> bool {
        self.is_global_admin() || self.holds(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR)
    }

    /// Reads every catalog: the administrators and Global Reader.
    pub fn reads_all_catalogs(&self) -> bool {
        self.is_em_admin()
            || self.holds(roles::GLOBAL_READER)
            || self
                .catalog_roles
                .iter()
                .any(|(role, scope)| scope.is_none() && CatalogRights::of_role(role).read)
    }

    /// Reads every catalog's role assignments: administrators, Global Reader, and tenant-wide
    /// roles that read role assignments.
    pub fn reads_all_role_assignments(&self) -> bool {
        self.is_em_admin()
            || self.holds(roles::GLOBAL_READER)
            || self.catalog_roles.iter().any(|(role, scope)| {
                scope.is_none() && CatalogRights::of_role(role).read_role_assignments
            })
    }

    /// The caller's rights in one catalog.
    pub fn catalog_rights(&self, catalog_id: &str) -> CatalogRights {
        if !self.enabled {
            return CatalogRights::default();
        }
        if self.is_em_admin() {
            return CatalogRights::ALL;
        }
        let mut rights = if self.holds(roles::GLOBAL_READER) {
            CatalogRights {
                read: true,
                read_role_assignments: true,
                ..CatalogRights::default()
            }
        } else {
            CatalogRights::default()
        };
        for (role, scope) in &self.catalog_roles {
            if scope.as_deref().is_none_or(|s| s == catalog_id) {
                rights = rights.union(CatalogRights::of_role(role));
            }
        }
        rights
    }

    /// Creates catalogs: administrators and catalog creators.
    pub fn can_create_catalogs(&self) -> bool {
        self.is_em_admin()
            || self
                .catalog_roles
                .iter()
                .any(|(role, _)| role == em_roles::CATALOG_CREATOR)
    }

    /// Which audit records the caller may read (DESIGN section 9): everything for Global
    /// Administrator and Global Reader, entitlement management's records for the Identity
    /// Governance Administrator, its catalogs' records for a catalog-scoped role; `None` (`403`)
    /// for everyone else, agents and ordinary users included.
    pub fn audit_scope(&self) -> Option<crate::model::AuditScope> {
        if !self.enabled {
            return None;
        }
        if self.is_global_admin() || self.holds(roles::GLOBAL_READER) {
            return Some(AuditScope::All);
        }
        if self.holds(roles::IDENTITY_GOVERNANCE_ADMINISTRATOR) {
            return Some(AuditScope::EntitlementManagement);
        }
        let readable = self
            .catalog_roles
            .iter()
            .filter(|(role, _)| CatalogRights::of_role(role).read);
        let mut all = false;
        let mut ids = Vec::new();
        for (_, scope) in readable {
            match scope {
                None => all = true,
                Some(id) => ids.push(id.clone()),
            }
        }
        (all || !ids.is_empty()).then_some(AuditScope::Catalogs { all, ids })
    }

    /// Whether the caller may list entitlement-management collections at all (the lists are
    /// then filtered to its catalogs).
    pub fn may_list_catalogs(&self) -> bool {
        self.reads_all_catalogs() || (self.enabled && self.is_human_user())
    }
}

/// Folds the paths by which a principal holds roles into one entry per role, lasting until the
/// latest path ends (`None`: some path has no end). Sorted by role id.
pub fn fold_role_paths(
    paths: Vec<(String, Option<time::OffsetDateTime>)>,
) -> Vec<(String, Option<time::OffsetDateTime>)> {
    let mut folded: Vec<(String, Option<time::OffsetDateTime>)> = Vec::new();
    for (role, end) in paths {
        match folded.iter_mut().find(|(r, _)| *r == role) {
            Some((_, current)) => {
                *current = match (*current, end) {
                    (None, _) | (_, None) => None,
                    (Some(a), Some(b)) => Some(a.max(b)),
                };
            }
            None => folded.push((role, end)),
        }
    }
    folded.sort_by(|a, b| a.0.cmp(&b.0));
    folded
}

/// Directory roles an agent may hold: never a privileged one, whatever path granted it.
pub fn allowed_for_agent(role_template_id: &str) -> bool {
    roles::definition(role_template_id).is_none_or(|(_, _, _, privileged)| !privileged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn role_paths_fold_to_the_latest_end() {
        let t1 = datetime!(2030-01-01 0:00 UTC);
        let t2 = datetime!(2030-06-01 0:00 UTC);
        let folded = fold_role_paths(vec![
            ("b".into(), Some(t1)),
            ("a".into(), Some(t2)),
            ("b".into(), Some(t2)),
            ("c".into(), Some(t1)),
            ("c".into(), None),
        ]);
        assert_eq!(
            folded,
            vec![
                ("a".into(), Some(t2)),
                ("b".into(), Some(t2)),
                ("c".into(), None)
            ]
        );
        assert!(!allowed_for_agent(roles::GLOBAL_ADMINISTRATOR));
        assert!(allowed_for_agent(roles::DIRECTORY_READERS));
    }
}
