//! Set-wise writes of a batch of deliveries (the `processRequest` jobs of one pass, issue 20
//! part Q): the group memberships granted, the assignments, the requests' new states and the
//! jobs they queue, each as one
//! statement for the whole batch instead of one per request, with the rows bound as one JSON
//! value (`batch::json_rows_select`, as the storm's writes do).

use sqlx::{Any, Transaction};
use writ_domain::clock::to_micros;
use writ_domain::entitlement::{Assignment, AssignmentRequest, RequestState};
use writ_domain::jobs::NewJob;
use writ_domain::store::StoreResult;

use crate::batch::{Value, execute_over_rows, insert_rows, json_rows_select, json_rows_select_at};
use crate::connect::Backend;

type Tx = Transaction<'static, Any>;

pub(crate) async fn insert_assignments(
    tx: &mut Tx,
    backend: Backend,
    assignments: &[Assignment],
) -> StoreResult<()> {
    let rows = assignments
        .iter()
        .map(|a| {
            vec![
                Value::Text(a.id.clone()),
                Value::Text(a.state.as_str().to_owned()),
                Value::Text(a.status.clone()),
                Value::Text(a.catalog_id.clone()),
                Value::Text(a.access_package_id.clone()),
                Value::Text(a.policy_id.clone()),
                Value::Text(a.target_id.clone()),
                Value::Text(crate::assignments::kind_name(a.target_kind).to_owned()),
                Value::Int(to_micros(a.start_date_time)),
                Value::OptInt(a.end_date_time.map(to_micros)),
                Value::OptInt(a.expired_date_time.map(to_micros)),
                Value::Int(to_micros(a.created_date_time)),
            ]
        })
        .collect();
    insert_rows(
        tx,
        backend,
        "INSERT INTO assignments (id, state, status, catalog_id, access_package_id, policy_id, \
         target_id, target_type, start_at, end_at, expired_at, created_at)",
        12,
        rows,
    )
    .await
}

/// Stores each request's new state, assignment and completion if it is still in its expected
/// state (the second of each pair); returns how many were stored.
pub(crate) async fn update_requests(
    tx: &mut Tx,
    backend: Backend,
    requests: &[(AssignmentRequest, RequestState)],
) -> StoreResult<u64> {
    let rows: Vec<Vec<Value>> = requests
        .iter()
        .map(|(r, expected)| {
            vec![
                Value::Text(r.id.clone()),
                Value::Text(r.state.as_str().to_owned()),
                Value::Text(r.status.clone()),
                Value::OptText(r.assignment_id.clone()),
                Value::OptInt(r.completed_date_time.map(to_micros)),
                Value::Text(expected.as_str().to_owned()),
            ]
        })
        .collect();
    let kinds = [false, false, false, false, true, false];
    let sql = format!(
        "UPDATE assignment_requests AS t SET state = v.c1, status = v.c2, assignment_id = v.c3, \
         completed_at = v.c4 FROM ({}) AS v WHERE t.id = v.c0 AND t.state = v.c5",
        json_rows_select(backend, &kinds)
    );
    execute_over_rows(tx, &sql, &rows).await
}

/// Queues the jobs, each unless one with its dedupe key is queued already.
pub(crate) async fn enqueue_jobs(
    tx: &mut Tx,
    backend: Backend,
    jobs: &[NewJob],
) -> StoreResult<()> {
    execute_over_rows(tx, &jobs_insert(backend, 1), &job_rows(jobs)).await?;
    Ok(())
}

/// The rows of `jobs` for [`jobs_insert`].
pub(crate) fn job_rows(jobs: &[NewJob]) -> Vec<Vec<Value>> {
    jobs.iter()
        .map(|j| {
            vec![
                Value::Text(j.id.clone()),
                Value::Text(j.kind.as_str().to_owned()),
                Value::Text(j.subject_id.clone()),
                Value::Int(to_micros(j.due_at)),
                Value::Text(j.dedupe_key.clone()),
            ]
        })
        .collect()
}

/// The insert of the [`job_rows`] bound at `$param`, each unless a job with its dedupe key is
/// queued.
pub(crate) fn jobs_insert(backend: Backend, param: usize) -> String {
    // `WHERE true`: SQLite would otherwise read the upsert's `ON` as a join's.
    format!(
        "INSERT INTO jobs (id, kind, subject_id, due_at, scheduled_at, dedupe_key) \
         SELECT v.c0, v.c1, v.c2, v.c3, v.c3, v.c4 FROM ({}) AS v WHERE true \
         ON CONFLICT (dedupe_key) DO NOTHING",
        json_rows_select_at(backend, &[false, false, false, true, false], param)
    )
}

/// Adds the memberships `(group, member, holder, ends_at)`, each unless that holder holds it
/// already.
pub(crate) async fn add_group_members(
    tx: &mut Tx,
    backend: Backend,
    memberships: &[(String, String, String, Option<time::OffsetDateTime>)],
) -> StoreResult<()> {
    let rows: Vec<Vec<Value>> = memberships
        .iter()
        .map(|(group, member, holder, ends_at)| {
            vec![
                Value::Text(group.clone()),
                Value::Text(member.clone()),
                Value::Text(holder.clone()),
                Value::OptInt(ends_at.map(to_micros)),
            ]
        })
        .collect();
    let kinds = [false, false, false, true];
    // `WHERE true`: SQLite would otherwise read the upsert's `ON` as a join's.
    let sql = format!(
        "INSERT INTO group_members (group_id, member_id, holder, ends_at) \
         SELECT v.c0, v.c1, v.c2, v.c3 FROM ({}) AS v WHERE true \
         ON CONFLICT (group_id, member_id, holder) DO NOTHING",
        json_rows_select(backend, &kinds)
    );
    execute_over_rows(tx, &sql, &rows).await?;
    Ok(())
}
