//! Storage for Writ: the domain's [`Store`](writ_domain::store::Store) port on SQLite (the embedded
//! default) and PostgreSQL (for replicas).
//!
//! Both backends run through sqlx's `Any` driver with one body of SQL written to the common subset
//! of the two dialects (numbered `$n` parameters, `ON CONFLICT`, `lower()`, `EXISTS`), and a
//! [`Backend`] value chosen once at connection time carries what genuinely differs: connection
//! pragmas, the embedded migration set, the bootstrap lock and SQLite's single writer. Queries never
//! branch on the backend. Dynamic SQL (wrapped in `AssertSqlSafe`) is assembled only from
//! constants and from the OData compiler's output, whose values are always bound parameters.
//! The conformance suite (`tests/conformance.rs`) runs every test on both.

mod assignments;
mod audit;
mod batch;
mod callers;
mod callouts;
mod connect;
mod deliveries;
mod delivery_batch;
mod email;
mod entitlement;
mod error;
mod group;
mod jobs;
mod lifecycle;
mod list;
pub mod listen;
mod parties;
mod portal_agents;
mod risk;
mod rows;
pub mod schema;
mod sessions;
mod store;
mod subjects;
#[cfg(feature = "test-support")]
pub mod testing;
mod tx;
mod user_tokens;
mod webhooks;

pub use connect::{Backend, ConnectOptions, connect, migrate, sqlite_file};
pub use store::SqlStore;
