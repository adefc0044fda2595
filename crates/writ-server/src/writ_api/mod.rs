//! Writ's own API under `/writ/v1`: what Graph has no shape for (the OpenAPI description is
//! served from the route table in `lib.rs`). Same authentication, error envelope and paging as
//! the Graph routes.

pub mod email_deliveries;
pub mod jobs;
pub mod webhook_deliveries;
