//! The model layer: the entities Writ holds and the enums they are made of, as plain data.
//! Nothing here reads a store, a clock or a caller: these modules depend on `time`, `serde`,
//! `uuid` (through [`crate::ids`]), [`crate::error`] (for parsing at the edge) and each other
//! only, so the storage port and every service can import them without importing each other.
//! The module-graph test (`module_graph.rs`) holds them to that.

pub mod answer;
pub mod approval;
pub mod assignment;
pub mod audit;
pub mod callout;
pub mod catalog;
pub mod delivery;
pub mod directory;
pub mod job;
pub mod organization;
pub mod policy;
pub mod principal;
pub mod request;
pub mod subject;

pub use answer::*;
pub use approval::*;
pub use assignment::*;
pub use audit::*;
pub use callout::*;
pub use catalog::*;
pub use delivery::*;
pub use directory::*;
pub use job::*;
pub use organization::*;
pub use policy::*;
pub use principal::*;
pub use request::*;
pub use subject::*;

use crate::error::{DomainError, DomainResult};

/// The value of `field` among `names`, in any case (as for every Graph enum), or a `400` naming
/// the field and the values it takes.
pub(crate) fn parse_enum_field<T: Copy>(
    all: &[T],
    as_str: fn(T) -> &'static str,
    value: &str,
    field: &str,
) -> DomainResult<T> {
    all.iter()
        .copied()
        .find(|v| as_str(*v).eq_ignore_ascii_case(value))
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
            DomainError::invalid(format!(
                "'{value}' is not a valid value for '{field}' ({})",
                names.join(", ")
            ))
        })
}
