//! The portal's views (DESIGN section 15, issue 17): what a portal page shows, combined from
//! several reads, with every right checked by the same rule the Graph route uses. No HTTP: the
//! server's `portal` module renders these.

pub mod agents;
