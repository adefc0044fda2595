//! What the portal's pages (DESIGN section 15) read beyond a single domain call: views that
//! combine several reads of the entitlement service, each made with the person's own
//! [`crate::authz::Caller`] exactly as the Graph route makes it, so a page shows what the API would
//! let that person read. One file per area of the portal.

pub mod agents;
pub mod approvals;
pub mod requests;
