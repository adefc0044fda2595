//! The one integration-test binary (docs/architecture.md, "Test harnesses"). At the root, the
//! HTTP API, called in-process through the router, on SQLite and on PostgreSQL: what a client
//! observes (status, headers, Graph JSON) and what the database holds afterwards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation is a failed test"
)]

#[path = "api/harness.rs"]
mod harness;

#[path = "api/additional_access.rs"]
mod additional_access;
#[path = "api/agents.rs"]
mod agents;
#[path = "api/answers.rs"]
mod answers;
#[path = "api/app_clients.rs"]
mod app_clients;
#[path = "api/approval_timeouts.rs"]
mod approval_timeouts;
#[path = "api/assignments.rs"]
mod assignments;
#[path = "api/audit.rs"]
mod audit;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/authorization.rs"]
mod authorization;
#[path = "api/authorize.rs"]
mod authorize;
#[path = "api/authzen.rs"]
mod authzen;
#[path = "api/bounds.rs"]
mod bounds;
#[path = "api/break_glass.rs"]
mod break_glass;
#[path = "api/browser_sign_in.rs"]
mod browser_sign_in;
#[path = "api/caller_path.rs"]
mod caller_path;
#[path = "api/callouts.rs"]
mod callouts;
#[path = "api/catalogs.rs"]
mod catalogs;
#[path = "api/conventions.rs"]
mod conventions;
#[path = "api/crash_reruns.rs"]
mod crash_reruns;
#[path = "api/current_user.rs"]
mod current_user;
#[path = "api/delivery.rs"]
mod delivery;
#[path = "api/delivery_path.rs"]
mod delivery_path;
#[path = "api/directory.rs"]
mod directory;
#[path = "api/edges.rs"]
mod edges;
#[path = "api/email.rs"]
mod email;
#[path = "api/escalation.rs"]
mod escalation;
#[path = "api/extensions.rs"]
mod extensions;
#[path = "api/fuzz_inputs.rs"]
mod fuzz_inputs;
#[path = "api/group_commit.rs"]
mod group_commit;
#[path = "api/input_edges.rs"]
mod input_edges;
#[path = "api/lifecycle_policies.rs"]
mod lifecycle_policies;
#[path = "api/mcp.rs"]
mod mcp;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/parked_jobs.rs"]
mod parked_jobs;
#[path = "api/policies.rs"]
mod policies;
#[path = "api/portal_agents.rs"]
mod portal_agents;
#[path = "api/portal_approvals.rs"]
mod portal_approvals;
#[path = "api/portal_requests.rs"]
mod portal_requests;
#[path = "api/request_path.rs"]
mod request_path;
#[path = "api/request_wait.rs"]
mod request_wait;
#[path = "api/risky_agents.rs"]
mod risky_agents;
#[path = "api/route_sweep.rs"]
mod route_sweep;
#[path = "api/sponsor_succession.rs"]
mod sponsor_succession;
#[path = "api/sso.rs"]
mod sso;
#[path = "api/sso_browser.rs"]
mod sso_browser;
#[path = "api/statements.rs"]
mod statements;
#[path = "api/subjects.rs"]
mod subjects;
#[path = "api/transport.rs"]
mod transport;
#[path = "api/user_identities.rs"]
mod user_identities;
#[path = "api/user_tokens.rs"]
mod user_tokens;
#[path = "api/webhooks.rs"]
mod webhooks;
#[path = "api/wire_directory.rs"]
mod wire_directory;
#[path = "api/wire_types.rs"]
mod wire_types;

#[macro_use]
mod conformance;
mod harnesses;
mod job_worker;
mod lifecycle;
mod start_up;
mod store_units;
mod time_properties;

/// The binary's unit tests, so that it needs no harness (`audit` uses `crate::config`).
#[allow(dead_code, reason = "only the unit tests of these modules run here")]
#[path = "../src"]
mod writ_bin {
    mod audit;
    pub(crate) mod config;
    mod files;
}
use writ_bin::config;
