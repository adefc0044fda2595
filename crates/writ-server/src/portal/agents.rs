//! The portal's agents pages (see `crate::portal`).

/// The agents pages' routes.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    r
}
