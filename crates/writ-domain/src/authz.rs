//! Who the caller is and what the directory lets it do. The caller is resolved from the database
//! on every request (never from token claims), and each operation asks this module, so the rules
//! of DESIGN section 3 live in one place.

use crate::error::{DomainError, DomainResult};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
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
}

impl Caller {
    fn holds(&self, role: &str) -> bool {
        self.enabled && self.directory_roles.iter().any(|r| r == role)
    }

    pub fn is_global_admin(&self) -> bool {
        self.holds(roles::GLOBAL_ADMINISTRATOR)
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
