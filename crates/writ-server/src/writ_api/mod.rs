//! Writ's own API under `/writ/v1`: what Graph has no shape for (the OpenAPI description is
//! served from the route table in `lib.rs`). Same authentication, error envelope and paging as
//! the Graph routes.

pub mod break_glass;
pub mod email_deliveries;
pub mod jobs;
pub mod sponsorless_agents;
pub mod webhook_deliveries;

/// Writ's own routes under `/writ/v1`.
pub fn routes(r: crate::routes::Routes) -> crate::routes::Routes {
    use crate::routes::Kind::{Collection, Entity, NoContent};
    use crate::routes::Method::{Get, Patch};
    r.route(
        Get,
        "/writ/v1/webhookDeliveries",
        Collection,
        "List webhook deliveries and their state (administrators)",
        webhook_deliveries::list,
    )
    .returns("webhookDelivery")
    .route(
        Get,
        "/writ/v1/emailDeliveries",
        Collection,
        "List notification email deliveries and their state (administrators)",
        email_deliveries::list,
    )
    .returns("emailDelivery")
    .route(
        Get,
        "/writ/v1/emailDeliveries/{id}",
        Entity,
        "One notification email delivery (administrators)",
        email_deliveries::get,
    )
    .returns("emailDelivery")
    .route(
        Get,
        "/writ/v1/jobs",
        Collection,
        "List the job queue: queued, leased and parked jobs with their errors (administrators)",
        jobs::list,
    )
    .returns("job")
    .route(
        Get,
        "/writ/v1/jobs/{id}",
        Entity,
        "One job of the queue (administrators)",
        jobs::get,
    )
    .returns("job")
    // Issue 19, break-glass: a policy's Writ-only setting.
    .route(
        Get,
        "/writ/v1/assignmentPolicies/{id}/breakGlass",
        Entity,
        "Whether an assignment policy accepts parameters.bypassApproval (break-glass)",
        break_glass::get,
    )
    .returns("assignmentPolicyBreakGlass")
    .route(
        Patch,
        "/writ/v1/assignmentPolicies/{id}/breakGlass",
        NoContent,
        "Allow or forbid parameters.bypassApproval under an assignment policy",
        break_glass::update,
    )
    .body("assignmentPolicyBreakGlass")
    // Issue 19, sponsor succession: what it left without a sponsor.
    .route(
        Get,
        "/writ/v1/agentsWithoutSponsors",
        Collection,
        "List agent identities, blueprints and agent users that have no sponsor (directory readers)",
        sponsorless_agents::list,
    )
    .returns("directoryObject")
}
