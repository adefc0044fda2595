//! The wire types of the directory entities (users, groups, applications, service principals,
//! grants, role management, audit logs, directory objects).

use super::NamedSchema;

/// The component schemas of the directory wire types.
pub fn schemas() -> Vec<NamedSchema> {
    Vec::new()
}
