//! Writ's domain: what the directory holds, who may do what to it, and the records every change
//! leaves behind (audit and outbox). No HTTP and no SQL live here: the HTTP server adapts requests
//! into calls on [`directory::Directory`], and storage implements the [`store::Store`] port.

pub mod audit;
pub mod audit_chain;
pub mod authz;
pub mod clock;
pub mod directory;
pub mod dispatch;
pub mod duration;
pub mod email;
pub mod entitlement;
pub mod error;
pub mod evaluation;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod instant;
pub mod job_waker;
pub mod jobs;
pub mod model;
#[cfg(test)]
mod module_graph;
pub mod patch;
pub mod portal;
pub mod query;
pub mod redact;
pub mod request_waiter;
pub mod secrets;
pub mod store;
pub mod text;
pub mod webhooks;

pub use error::{DomainError, DomainResult};
