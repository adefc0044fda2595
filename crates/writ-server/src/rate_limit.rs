//! The sign-in limiter of the password grant, a rule of the domain's identity module
//! (`writ_domain::identity::sign_in`), re-exported at its old path. `oauth.rs` asks it with the
//! client address it resolved, sleeps the delay it answers and renders its refusals.

pub use writ_domain::identity::sign_in::*;
