//! The reads of the portal's agents pages (issue 17, part A): the agents a person sponsors or
//! owns, and the assignments and requests of a page of them, each one set-wise query so that a
//! sponsor of hundreds of agents costs a few queries, not one per agent.

use sqlx::{AnyPool, Row};
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::entitlement::{Assignment, AssignmentPolicy, AssignmentRequest};
use writ_domain::store::{SponsoredAgent, StoreResult};

use crate::assignments::{ASSIGNMENT_COLUMNS, REQUEST_COLUMNS, assignment, request};
use crate::batch::{id_array, id_set};
use crate::connect::Backend;
use crate::entitlement::{POLICY_COLUMNS, policy};
use crate::error::ResultExt;

/// The states of an open request (as `open_requests_of`).
const OPEN_STATES: &str = "('submitted', 'pendingApproval', 'scheduled', 'delivering')";

pub(crate) async fn sponsored_agents(
    pool: &AnyPool,
    person_id: &str,
    now: OffsetDateTime,
    offset: u32,
    limit: u32,
) -> StoreResult<Vec<SponsoredAgent>> {
    // DESIGN section 5's resolver, read from the sponsor's side (the same rules as
    // `parties::condition` for `TargetSponsorOrOwner`): an agent identity's sponsors and
    // owners, an agent user's sponsors and its parent's sponsors; a sponsor group counts
    // through its members current at `$2`; only an enabled human user sponsors.
    let sql = "WITH sponsored (object_id) AS ( \
             SELECT sp.object_id FROM sponsors sp WHERE sp.sponsor_id = $1 \
             UNION SELECT sp.object_id FROM sponsors sp JOIN group_members gm \
                 ON gm.group_id = sp.sponsor_id WHERE gm.member_id = $1 \
                 AND (gm.ends_at IS NULL OR gm.ends_at > $2) \
         ), agents (id, display_name, kind, blueprint_app, created_at) AS ( \
             SELECT ai.id, ai.display_name, ai.kind, ai.agent_identity_blueprint_id, ai.created_at \
                 FROM service_principals ai WHERE ai.kind = 'agentIdentity' \
                 AND (ai.id IN (SELECT object_id FROM sponsored) \
                 OR ai.id IN (SELECT ow.object_id FROM object_owners ow WHERE ow.owner_id = $1)) \
             UNION ALL SELECT au.id, au.display_name, au.kind, p.agent_identity_blueprint_id, \
                 au.created_at FROM users au LEFT JOIN service_principals p \
                 ON p.id = au.identity_parent_id WHERE au.kind = 'agentUser' \
                 AND (au.id IN (SELECT object_id FROM sponsored) \
                 OR au.identity_parent_id IN (SELECT object_id FROM sponsored)) \
         ) \
         SELECT a.id, a.display_name, a.kind, b.display_name AS blueprint, a.created_at \
         FROM agents a LEFT JOIN applications b ON b.app_id = a.blueprint_app \
         WHERE EXISTS (SELECT 1 FROM users c WHERE c.id = $1 AND c.kind = 'user' \
             AND c.account_enabled = TRUE) \
         ORDER BY a.display_name, a.id LIMIT $3 OFFSET $4";
    let rows = sqlx::query(sql)
        .bind(person_id.to_owned())
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .bind(i64::from(offset))
        .fetch_all(pool)
        .await
        .store()?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind").store()?;
            Ok(SponsoredAgent {
                id: row.try_get("id").store()?,
                display_name: row.try_get("display_name").store()?,
                is_agent_user: kind == "agentUser",
                blueprint: row.try_get("blueprint").store()?,
                created_date_time: from_micros(row.try_get("created_at").store()?),
            })
        })
        .collect()
}

pub(crate) async fn assignments_of_targets(
    pool: &AnyPool,
    backend: Backend,
    ids: &[String],
    live: bool,
    limit: u32,
) -> StoreResult<Vec<Assignment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (state, order) = if live {
        (
            "t.state <> 'expired'",
            "COALESCE(t.end_at, 9223372036854775807), t.id",
        )
    } else {
        (
            "t.state = 'expired'",
            "COALESCE(t.expired_at, t.end_at, t.created_at) DESC, t.id DESC",
        )
    };
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM assignments t WHERE t.target_id IN {} AND {state} \
         ORDER BY {order} LIMIT $2",
        id_set(backend, 1)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id_array(ids)?)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .store()?
        .iter()
        .map(assignment)
        .collect()
}

pub(crate) async fn requests_of_targets(
    pool: &AnyPool,
    backend: Backend,
    ids: &[String],
    open: bool,
    limit: u32,
) -> StoreResult<Vec<AssignmentRequest>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let (state, order) = if open {
        (format!("t.state IN {OPEN_STATES}"), "t.created_at, t.id")
    } else {
        (
            format!("t.state NOT IN {OPEN_STATES}"),
            "COALESCE(t.completed_at, t.created_at) DESC, t.id DESC",
        )
    };
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM assignment_requests t WHERE t.target_id IN {} AND {state} \
         ORDER BY {order} LIMIT $2",
        id_set(backend, 1)
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id_array(ids)?)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .store()?
        .iter()
        .map(request)
        .collect()
}

pub(crate) async fn on_behalf_requestable_policies(
    pool: &AnyPool,
) -> StoreResult<Vec<AssignmentPolicy>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {POLICY_COLUMNS} FROM assignment_policies t \
         WHERE t.settings LIKE '%\"enableOnBehalfRequestorsToAddAccess\":true%' ORDER BY t.id"
    )))
    .fetch_all(pool)
    .await
    .store()?;
    rows.iter().map(policy).collect()
}
