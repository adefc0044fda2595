//! The two kinds of principal that act and are acted on.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
}

impl PrincipalKind {
    /// Graph's type name of the principal: audit records' `targetResources[].type`, an app role
    /// assignment's `principalType`.
    pub fn type_name(self) -> &'static str {
        match self {
            PrincipalKind::User => "User",
            PrincipalKind::ServicePrincipal => "ServicePrincipal",
        }
    }
}
