//! The portal's requests pages (see `crate::portal`).

/// The requests pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    r
}
