//! The settings of an assignment policy: they live in the model layer ([`crate::model::policy`]);
//! this path is kept for the crates that name them here.

pub use crate::model::policy::*;
