//! The portal's approvals pages (see `crate::portal`).

/// The approvals pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    r
}
