//! Subjects: the principals an assignment can target.

use super::principal::PrincipalKind;

/// A principal that can be the target of an assignment.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: String,
    pub kind: PrincipalKind,
    pub is_agent: bool,
    pub display_name: String,
    pub principal_name: Option<String>,
    pub mail: Option<String>,
    /// For an agent user, the agent identity it acts through.
    pub identity_parent_id: Option<String>,
}

impl Subject {
    /// Graph's `accessPackageSubject.subjectType`.
    pub fn subject_type(kind: PrincipalKind) -> &'static str {
        match kind {
            PrincipalKind::User => "user",
            PrincipalKind::ServicePrincipal => "servicePrincipal",
        }
    }
}
