//! Assignment requests, assignments and the release of the grants an assignment holds. State
//! changes are compare-and-set on the state the caller read, so that two workers (or a worker
//! and an administrator) racing on one request or assignment produce one change.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use writ_domain::audit::Recipient;
use writ_domain::authz::PrincipalKind;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::entitlement::{
    Answer, ApprovalStageRecord, Assignment, AssignmentRequest, AssignmentState, HeldGrant,
    RequestParameters, RequestSchedule, RequestState, RequestType,
};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{AddBlocker, Party, StoreError, StoreResult};
use writ_odata::SqlValue;

use crate::batch::{GRANT_TABLES, id_array, id_set, placeholders};
use crate::connect::Backend;
use crate::entitlement::restriction_of;
use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::decode;
use crate::schema;

pub(crate) const REQUEST_COLUMNS: &str = "t.id, t.request_type, t.state, t.status, t.catalog_id, \
     t.access_package_id, t.policy_id, t.assignment_id, t.target_id, t.target_type, \
     t.requestor_id, t.requestor_type, t.justification, t.schedule, t.answers, t.created_at, \
     t.completed_at, t.parameters";

pub(crate) const ASSIGNMENT_COLUMNS: &str = "t.id, t.state, t.status, t.catalog_id, t.access_package_id, \
     t.policy_id, t.target_id, t.target_type, t.start_at, t.end_at, t.expired_at, t.created_at";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Other(format!(
        "stored {what} '{value}' is not known to this build"
    ))
}

pub(crate) fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::ServicePrincipal => "servicePrincipal",
    }
}

fn kind_of(text: &str) -> StoreResult<PrincipalKind> {
    match text {
        "user" => Ok(PrincipalKind::User),
        "servicePrincipal" => Ok(PrincipalKind::ServicePrincipal),
        other => Err(corrupt("subject type", other)),
    }
}

#[derive(FromRow)]
pub(crate) struct AssignmentRequestRow {
    id: String,
    request_type: String,
    state: String,
    status: String,
    catalog_id: String,
    access_package_id: String,
    policy_id: Option<String>,
    assignment_id: Option<String>,
    target_id: String,
    target_type: String,
    requestor_id: String,
    requestor_type: String,
    justification: Option<String>,
    schedule: String,
    answers: String,
    created_at: i64,
    completed_at: Option<i64>,
    parameters: Option<String>,
}

impl TryFrom<AssignmentRequestRow> for AssignmentRequest {
    type Error = StoreError;

    fn try_from(r: AssignmentRequestRow) -> StoreResult<Self> {
        Ok(AssignmentRequest {
            request_type: RequestType::parse(&r.request_type)
                .ok_or_else(|| corrupt("request type", &r.request_type))?,
            state: RequestState::parse(&r.state)
                .ok_or_else(|| corrupt("request state", &r.state))?,
            target_kind: kind_of(&r.target_type)?,
            requestor_kind: kind_of(&r.requestor_type)?,
            schedule: serde_json::from_str::<RequestSchedule>(&r.schedule)
                .map_err(|e| StoreError::Other(e.to_string()))?,
            answers: serde_json::from_str::<Vec<Answer>>(&r.answers)
                .map_err(|e| StoreError::Other(e.to_string()))?,
            parameters: r
                .parameters
                .as_deref()
                .map(serde_json::from_str::<RequestParameters>)
                .transpose()
                .map_err(|e| StoreError::Other(e.to_string()))?,
            id: r.id,
            status: r.status,
            catalog_id: r.catalog_id,
            access_package_id: r.access_package_id,
            policy_id: r.policy_id,
            assignment_id: r.assignment_id,
            target_id: r.target_id,
            requestor_id: r.requestor_id,
            justification: r.justification,
            created_date_time: from_micros(r.created_at),
            completed_date_time: r.completed_at.map(from_micros),
        })
    }
}

pub(crate) fn request(row: &AnyRow) -> StoreResult<AssignmentRequest> {
    decode::<AssignmentRequestRow, _>(row)
}

#[derive(FromRow)]
pub(crate) struct AssignmentRow {
    id: String,
    state: String,
    status: String,
    catalog_id: String,
    access_package_id: String,
    policy_id: String,
    target_id: String,
    target_type: String,
    start_at: i64,
    end_at: Option<i64>,
    expired_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<AssignmentRow> for Assignment {
    type Error = StoreError;

    fn try_from(r: AssignmentRow) -> StoreResult<Self> {
        Ok(Assignment {
            state: AssignmentState::parse(&r.state)
                .ok_or_else(|| corrupt("assignment state", &r.state))?,
            target_kind: kind_of(&r.target_type)?,
            id: r.id,
            status: r.status,
            catalog_id: r.catalog_id,
            access_package_id: r.access_package_id,
            policy_id: r.policy_id,
            target_id: r.target_id,
            start_date_time: from_micros(r.start_at),
            end_date_time: r.end_at.map(from_micros),
            expired_date_time: r.expired_at.map(from_micros),
            created_date_time: from_micros(r.created_at),
        })
    }
}

pub(crate) fn assignment(row: &AnyRow) -> StoreResult<Assignment> {
    decode::<AssignmentRow, _>(row)
}

pub(crate) async fn request_by_id<'e, E>(
    executor: E,
    id: &str,
) -> StoreResult<Option<AssignmentRequest>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {REQUEST_COLUMNS} FROM assignment_requests t WHERE t.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?
        .as_ref()
        .map(request)
        .transpose()
}

pub(crate) async fn assignment_by_id<'e, E>(
    executor: E,
    id: &str,
) -> StoreResult<Option<Assignment>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!("SELECT {ASSIGNMENT_COLUMNS} FROM assignments t WHERE t.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?
        .as_ref()
        .map(assignment)
        .transpose()
}

/// The base condition of a list: the caller's catalogs, or its side of the object.
fn base_condition(
    visible_to: Option<&str>,
    party: Option<(Party, &str)>,
    requestor_column: &str,
) -> Option<(String, Vec<SqlValue>)> {
    match party {
        Some((party, id)) => Some(crate::parties::condition(party, id, requestor_column)),
        None => restriction_of(visible_to, "t.catalog_id"),
    }
}

pub(crate) async fn list_requests(
    pool: &AnyPool,
    query: &ListQuery,
    visible_to: Option<&str>,
    party: Option<(Party, &str)>,
) -> StoreResult<Page<AssignmentRequest>> {
    let restriction = base_condition(visible_to, party, "t.requestor_id");
    list(
        pool,
        ListSpec {
            schema: &schema::ASSIGNMENT_REQUEST,
            from: "assignment_requests t",
            columns: REQUEST_COLUMNS,
            base_where: restriction,
        },
        query,
        request,
    )
    .await
}

pub(crate) async fn list_assignments(
    pool: &AnyPool,
    query: &ListQuery,
    visible_to: Option<&str>,
    party: Option<(Party, &str)>,
) -> StoreResult<Page<Assignment>> {
    // An assignment's creator is the requestor of the add request that created it.
    let restriction = base_condition(
        visible_to,
        party,
        "(SELECT r.requestor_id FROM assignment_requests r WHERE r.assignment_id = t.id \
         AND r.request_type IN ('userAdd', 'adminAdd'))",
    );
    list(
        pool,
        ListSpec {
            schema: &schema::ASSIGNMENT,
            from: "assignments t",
            columns: ASSIGNMENT_COLUMNS,
            base_where: restriction,
        },
        query,
        assignment,
    )
    .await
}

pub(crate) async fn assignments_by_ids(
    pool: &AnyPool,
    backend: Backend,
    ids: &[String],
) -> StoreResult<Vec<Assignment>> {
    read_by_id_set(pool, backend, &assignments_by_ids_select(), ids, assignment).await
}

/// The read of [`assignments_by_ids`], `{ids}` standing for the bound set.
pub(crate) fn assignments_by_ids_select() -> String {
    format!("SELECT {ASSIGNMENT_COLUMNS} FROM assignments t WHERE t.id IN {{ids}}")
}

/// `select` with its `{ids}` made the set bound at `$1`.
pub(crate) fn with_id_set(backend: Backend, select: &str) -> String {
    select.replace("{ids}", &id_set(backend, 1))
}

/// The rows `select` finds for `ids`, `{ids}` in it standing for the bound set, each read by
/// `read`; no query without ids. The set-wise reads by id share it.
async fn read_by_id_set<T>(
    pool: &AnyPool,
    backend: Backend,
    select: &str,
    ids: &[String],
    read: fn(&AnyRow) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query(sqlx::AssertSqlSafe(with_id_set(backend, select)))
        .bind(id_array(ids)?)
        .fetch_all(pool)
        .await
        .store()?
        .iter()
        .map(read)
        .collect()
}

pub(crate) async fn principal_names(
    pool: &AnyPool,
    backend: Backend,
    ids: &[String],
) -> StoreResult<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = id_set(backend, 1);
    let sql = format!(
        "SELECT id, display_name FROM users WHERE id IN {list} \
         UNION ALL SELECT id, display_name FROM service_principals WHERE id IN {list}"
    );
    // (id, display_name), in the order of the select list.
    sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql))
        .bind(id_array(ids)?)
        .fetch_all(pool)
        .await
        .store()
}

pub(crate) async fn human_sponsors_of<'e, E>(
    executor: E,
    backend: Backend,
    ids: &[String],
    now: OffsetDateTime,
) -> StoreResult<Vec<(String, Recipient)>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // The one bound set of ids serves the three branches: both databases bind a number used
    // several times to one value.
    let objects = id_set(backend, 1);
    let sql = format!(
        "WITH direct (object_id, sponsor_id) AS ( \
             SELECT s.object_id, s.sponsor_id FROM sponsors s WHERE s.object_id IN {objects} \
             UNION SELECT o.object_id, o.owner_id FROM object_owners o \
                 WHERE o.object_id IN {objects} \
             UNION SELECT u.id, s.sponsor_id FROM users u \
                 JOIN sponsors s ON s.object_id = u.identity_parent_id WHERE u.id IN {objects} \
         ), people (object_id, user_id) AS ( \
             SELECT object_id, sponsor_id FROM direct \
             UNION SELECT d.object_id, m.member_id FROM direct d \
                 JOIN group_members m ON m.group_id = d.sponsor_id \
                 WHERE m.ends_at IS NULL OR m.ends_at > $2 \
         ) \
         SELECT DISTINCT p.object_id, u.id, u.mail FROM people p JOIN users u ON u.id = p.user_id \
         WHERE u.account_enabled = TRUE AND u.kind = 'user' ORDER BY p.object_id, u.id"
    );
    let rows: Vec<SponsorRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id_array(ids)?)
        .bind(to_micros(now))
        .fetch_all(executor)
        .await
        .store()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.object_id,
                Recipient {
                    id: r.id,
                    kind: "user".into(),
                    mail: r.mail,
                },
            )
        })
        .collect())
}

/// A human sponsor of one of the objects asked about.
#[derive(FromRow)]
struct SponsorRow {
    object_id: String,
    id: String,
    mail: Option<String>,
}

pub(crate) async fn list_additional_access(
    pool: &AnyPool,
    query: &ListQuery,
    package_id: &str,
    other_package_ids: &[String],
) -> StoreResult<Page<Assignment>> {
    let condition = format!(
        "t.access_package_id = $1 AND t.state <> 'expired' AND EXISTS (SELECT 1 FROM assignments o \
         WHERE o.target_id = t.target_id AND o.state <> 'expired' AND o.access_package_id IN ({}))",
        placeholders(2, other_package_ids.len())
    );
    let mut params = vec![SqlValue::Text(package_id.to_owned())];
    params.extend(other_package_ids.iter().cloned().map(SqlValue::Text));
    list(
        pool,
        ListSpec {
            schema: &schema::ASSIGNMENT,
            from: "assignments t",
            columns: ASSIGNMENT_COLUMNS,
            base_where: Some((condition, params)),
        },
        query,
        assignment,
    )
    .await
}

pub(crate) async fn live_assignments_of<'e, E>(
    executor: E,
    target_id: &str,
    package_id: Option<&str>,
) -> StoreResult<Vec<Assignment>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS} FROM assignments t WHERE t.target_id = $1 \
         AND t.state <> 'expired' AND ($2 IS NULL OR t.access_package_id = $2) ORDER BY t.id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(target_id.to_owned())
        .bind(package_id.map(str::to_owned))
        .fetch_all(executor)
        .await
        .store()?
        .iter()
        .map(assignment)
        .collect()
}

pub(crate) async fn insert_request<'e, E>(
    executor: E,
    request: &AssignmentRequest,
) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let schedule =
        serde_json::to_string(&request.schedule).map_err(|e| StoreError::Other(e.to_string()))?;
    let answers =
        serde_json::to_string(&request.answers).map_err(|e| StoreError::Other(e.to_string()))?;
    let parameters = request
        .parameters
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO assignment_requests (id, request_type, state, status, catalog_id, \
         access_package_id, policy_id, assignment_id, target_id, target_type, requestor_id, \
         requestor_type, justification, schedule, created_at, completed_at, answers, parameters) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(request.id.clone())
    .bind(request.request_type.as_str())
    .bind(request.state.as_str())
    .bind(request.status.clone())
    .bind(request.catalog_id.clone())
    .bind(request.access_package_id.clone())
    .bind(request.policy_id.clone())
    .bind(request.assignment_id.clone())
    .bind(request.target_id.clone())
    .bind(kind_name(request.target_kind))
    .bind(request.requestor_id.clone())
    .bind(kind_name(request.requestor_kind))
    .bind(request.justification.clone())
    .bind(schedule)
    .bind(to_micros(request.created_date_time))
    .bind(request.completed_date_time.map(to_micros))
    .bind(answers)
    .bind(parameters)
    .execute(executor)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn update_request<'e, E>(
    executor: E,
    request: &AssignmentRequest,
    expected: RequestState,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE assignment_requests SET state = $2, status = $3, assignment_id = $4, \
         completed_at = $5 WHERE id = $1 AND state = $6",
    )
    .bind(request.id.clone())
    .bind(request.state.as_str())
    .bind(request.status.clone())
    .bind(request.assignment_id.clone())
    .bind(request.completed_date_time.map(to_micros))
    .bind(expected.as_str())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn open_request_for<'e, E>(
    executor: E,
    target_id: &str,
    package_id: &str,
) -> StoreResult<Option<String>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT id FROM assignment_requests WHERE target_id = $1 AND access_package_id = $2 \
         AND request_type IN ('userAdd', 'adminAdd') \
         AND state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')",
    )
    .bind(target_id.to_owned())
    .bind(package_id.to_owned())
    .fetch_optional(executor)
    .await
    .store()?;
    row.map(|r| r.try_get("id").store()).transpose()
}

/// What stops a new add for this target and package at `now`, in one statement (see
/// [`EntitlementStoreTx::add_blocker`](writ_domain::store::EntitlementStoreTx)), by precedence:
/// a live assignment of a package incompatible either way, the lowest assignment id first; a
/// current membership of an incompatible group, the lowest group id first; an add request in
/// progress; the newest assignment that has not ended (what [`open_request_for`] and
/// [`live_assignments_of`] find). Each branch names what the refusal shows: the display name of
/// an incompatibility, the id of a request or assignment.
pub(crate) async fn add_blocker<'e, E>(
    executor: E,
    target_id: &str,
    package_id: &str,
    now: i64,
) -> StoreResult<Option<AddBlocker>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let row = sqlx::query(
        "SELECT b.precedence, b.shown FROM (\
         SELECT CAST(1 AS BIGINT) AS precedence, a.id AS ord, p.display_name AS shown \
         FROM assignments a JOIN access_packages p ON p.id = a.access_package_id \
         WHERE a.target_id = $1 AND a.state <> 'expired' AND a.access_package_id IN \
         (SELECT i.other_package_id FROM package_incompatible_packages i WHERE i.package_id = $2 \
         UNION SELECT i.package_id FROM package_incompatible_packages i \
         WHERE i.other_package_id = $2) \
         UNION ALL \
         SELECT 2, g.id, g.display_name \
         FROM package_incompatible_groups i JOIN groups g ON g.id = i.group_id \
         WHERE i.package_id = $2 AND EXISTS (SELECT 1 FROM group_members m \
         WHERE m.group_id = i.group_id AND m.member_id = $1 \
         AND (m.ends_at IS NULL OR m.ends_at > $3)) \
         UNION ALL \
         SELECT 3, r.id, r.id FROM assignment_requests r \
         WHERE r.target_id = $1 AND r.access_package_id = $2 \
         AND r.request_type IN ('userAdd', 'adminAdd') \
         AND r.state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering') \
         UNION ALL \
         SELECT 4, a.id, a.id FROM assignments a \
         WHERE a.target_id = $1 AND a.access_package_id = $2 AND a.state <> 'expired' \
         ) b ORDER BY b.precedence, CASE WHEN b.precedence <= 2 THEN b.ord END, b.ord DESC \
         LIMIT 1",
    )
    .bind(target_id.to_owned())
    .bind(package_id.to_owned())
    .bind(now)
    .fetch_optional(executor)
    .await
    .store()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let precedence: i64 = row.try_get("precedence").store()?;
    let shown: String = row.try_get("shown").store()?;
    Ok(Some(match precedence {
        1 => AddBlocker::IncompatiblePackage(shown),
        2 => AddBlocker::IncompatibleGroup(shown),
        3 => AddBlocker::OpenRequest(shown),
        _ => AddBlocker::Assignment(shown),
    }))
}

/// Moves the end of every grant one holder holds, table by table.
pub(crate) async fn set_grant_ends(
    tx: &mut sqlx::Transaction<'static, Any>,
    holder: &str,
    ends_at: Option<OffsetDateTime>,
) -> StoreResult<u64> {
    let mut moved = 0;
    for table in GRANT_TABLES {
        let sql = format!("UPDATE {table} SET ends_at = $2 WHERE holder = $1");
        moved += sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.to_owned())
            .bind(ends_at.map(to_micros))
            .execute(&mut **tx)
            .await
            .store()?
            .rows_affected();
    }
    Ok(moved)
}

pub(crate) async fn open_requests_of<'e, E>(
    executor: E,
    target_id: &str,
) -> StoreResult<Vec<AssignmentRequest>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {REQUEST_COLUMNS} FROM assignment_requests t WHERE t.target_id = $1 \
         AND t.state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering') ORDER BY t.id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(target_id.to_owned())
        .fetch_all(executor)
        .await
        .store()?
        .iter()
        .map(request)
        .collect()
}

pub(crate) async fn insert_assignment<'e, E>(
    executor: E,
    assignment: &Assignment,
) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO assignments (id, state, status, catalog_id, access_package_id, policy_id, \
         target_id, target_type, start_at, end_at, expired_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(assignment.id.clone())
    .bind(assignment.state.as_str())
    .bind(assignment.status.clone())
    .bind(assignment.catalog_id.clone())
    .bind(assignment.access_package_id.clone())
    .bind(assignment.policy_id.clone())
    .bind(assignment.target_id.clone())
    .bind(kind_name(assignment.target_kind))
    .bind(to_micros(assignment.start_date_time))
    .bind(assignment.end_date_time.map(to_micros))
    .bind(assignment.expired_date_time.map(to_micros))
    .bind(to_micros(assignment.created_date_time))
    .execute(executor)
    .await
    .store()?;
    Ok(())
}

pub(crate) async fn update_assignment<'e, E>(
    executor: E,
    assignment: &Assignment,
    expected: &Assignment,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    // `$8` is the expected end, `$9` whether there is none (a typed NULL comparison would need
    // a cast on each backend).
    let done = sqlx::query(
        "UPDATE assignments SET state = $2, status = $3, start_at = $4, end_at = $5, \
         expired_at = $6 WHERE id = $1 AND state = $7 \
         AND ((end_at IS NULL AND $9) OR end_at = $8)",
    )
    .bind(assignment.id.clone())
    .bind(assignment.state.as_str())
    .bind(assignment.status.clone())
    .bind(to_micros(assignment.start_date_time))
    .bind(assignment.end_date_time.map(to_micros))
    .bind(assignment.expired_date_time.map(to_micros))
    .bind(expected.state.as_str())
    .bind(expected.end_date_time.map_or(0, to_micros))
    .bind(expected.end_date_time.is_none())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

/// Every grant one holder holds, in the provider's terms, whatever its end.
pub(crate) async fn grants_held(
    tx: &mut sqlx::Transaction<'static, Any>,
    holder: &str,
) -> StoreResult<Vec<HeldGrant>> {
    // One statement: kind, then up to four key columns, in the order `HeldGrant` names them.
    let rows = sqlx::query(
        "SELECT 'member' AS kind, group_id AS a, member_id AS b, '' AS c, '' AS d \
         FROM group_members WHERE holder = $1 \
         UNION ALL SELECT 'owner', group_id, owner_id, '', '' FROM group_owners WHERE holder = $1 \
         UNION ALL SELECT 'appRole', resource_id, app_role_id, principal_id, '' \
         FROM app_role_assignments WHERE holder = $1 \
         UNION ALL SELECT 'delegated', client_id, resource_id, scope, COALESCE(principal_id, '') \
         FROM oauth2_permission_grants WHERE holder = $1 \
         UNION ALL SELECT 'role', role_definition_id, principal_id, '', '' \
         FROM role_assignments WHERE holder = $1",
    )
    .bind(holder.to_owned())
    .fetch_all(&mut **tx)
    .await
    .store()?;
    let mut held = Vec::with_capacity(rows.len());
    for row in &rows {
        let HeldGrantRow { kind, a, b, c, d } = HeldGrantRow::from_row(row).store()?;
        held.push(match kind.as_str() {
            "member" => HeldGrant::GroupMember {
                group_id: a,
                principal_id: b,
            },
            "owner" => HeldGrant::GroupOwner {
                group_id: a,
                principal_id: b,
            },
            "appRole" => HeldGrant::AppRole {
                resource_id: a,
                app_role_id: b,
                principal_id: c,
            },
            "delegated" => HeldGrant::Delegated {
                client_id: a,
                resource_id: b,
                scope: c,
                principal_id: d,
            },
            _ => HeldGrant::DirectoryRole {
                role_definition_id: a,
                principal_id: b,
            },
        });
    }
    Ok(held)
}

/// One grant a holder holds, as the union of the grant tables reads it: its kind and up to four
/// ids, whose meaning depends on the kind.
#[derive(FromRow)]
struct HeldGrantRow {
    kind: String,
    a: String,
    b: String,
    c: String,
    d: String,
}

/// Deletes the one row of `grant` that `holder` holds.
pub(crate) async fn release_grant(
    tx: &mut sqlx::Transaction<'static, Any>,
    holder: &str,
    grant: &HeldGrant,
) -> StoreResult<bool> {
    let (sql, keys): (&str, Vec<&str>) = match grant {
        HeldGrant::GroupMember {
            group_id,
            principal_id,
        } => (
            "DELETE FROM group_members WHERE holder = $1 AND group_id = $2 AND member_id = $3",
            vec![group_id, principal_id],
        ),
        HeldGrant::GroupOwner {
            group_id,
            principal_id,
        } => (
            "DELETE FROM group_owners WHERE holder = $1 AND group_id = $2 AND owner_id = $3",
            vec![group_id, principal_id],
        ),
        HeldGrant::AppRole {
            resource_id,
            app_role_id,
            principal_id,
        } => (
            "DELETE FROM app_role_assignments WHERE holder = $1 AND resource_id = $2 \
             AND app_role_id = $3 AND principal_id = $4",
            vec![resource_id, app_role_id, principal_id],
        ),
        HeldGrant::Delegated {
            client_id,
            resource_id,
            scope,
            principal_id,
        } => (
            "DELETE FROM oauth2_permission_grants WHERE holder = $1 AND client_id = $2 \
             AND resource_id = $3 AND scope = $4 AND principal_id = $5",
            vec![client_id, resource_id, scope, principal_id],
        ),
        HeldGrant::DirectoryRole {
            role_definition_id,
            principal_id,
        } => (
            "DELETE FROM role_assignments WHERE holder = $1 AND role_definition_id = $2 \
             AND principal_id = $3",
            vec![role_definition_id, principal_id],
        ),
    };
    let mut query = sqlx::query(sql).bind(holder.to_owned());
    for key in keys {
        query = query.bind(key.to_owned());
    }
    let done = query.execute(&mut **tx).await.store()?;
    Ok(done.rows_affected() > 0)
}

pub(crate) async fn package_in_use(
    tx: &mut sqlx::Transaction<'static, Any>,
    package_id: &str,
) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM assignments WHERE access_package_id = $1 \
         AND state <> 'expired') + (SELECT COUNT(*) FROM assignment_requests \
         WHERE access_package_id = $1 AND request_type IN ('userAdd', 'adminAdd') \
         AND state IN ('submitted', 'pendingApproval', 'scheduled', 'delivering')) AS n",
    )
    .bind(package_id.to_owned())
    .fetch_one(&mut **tx)
    .await
    .store()?;
    Ok(row.try_get::<i64, _>("n").store()? > 0)
}

const STAGE_COLUMNS: &str = "id, request_id, stage_index, status, review_result, approver_ids, \
     used_fallback, started_at, reviewed_by, reviewed_by_name, reviewed_at, justification, \
     escalation_approver_ids, escalation_used_fallback, escalated_at";

fn id_list(ids: &[String]) -> StoreResult<String> {
    serde_json::to_string(ids).map_err(|e| StoreError::Other(e.to_string()))
}

#[derive(FromRow)]
pub(crate) struct ApprovalStageRow {
    id: String,
    request_id: String,
    stage_index: i64,
    status: String,
    review_result: String,
    approver_ids: String,
    used_fallback: i64,
    started_at: Option<i64>,
    escalation_approver_ids: String,
    escalation_used_fallback: i64,
    escalated_at: Option<i64>,
    reviewed_by: Option<String>,
    reviewed_by_name: Option<String>,
    reviewed_at: Option<i64>,
    justification: Option<String>,
}

impl TryFrom<ApprovalStageRow> for ApprovalStageRecord {
    type Error = StoreError;

    fn try_from(r: ApprovalStageRow) -> StoreResult<Self> {
        Ok(ApprovalStageRecord {
            stage_index: u32::try_from(r.stage_index).unwrap_or(u32::MAX),
            approver_ids: serde_json::from_str(&r.approver_ids)
                .map_err(|e| StoreError::Other(e.to_string()))?,
            escalation_approver_ids: serde_json::from_str(&r.escalation_approver_ids)
                .map_err(|e| StoreError::Other(e.to_string()))?,
            id: r.id,
            request_id: r.request_id,
            status: r.status,
            review_result: r.review_result,
            used_fallback: r.used_fallback != 0,
            started_date_time: r.started_at.map(from_micros),
            escalation_used_fallback: r.escalation_used_fallback != 0,
            escalated_date_time: r.escalated_at.map(from_micros),
            reviewed_by: r
                .reviewed_by
                .map(|id| (id, r.reviewed_by_name.unwrap_or_default())),
            reviewed_date_time: r.reviewed_at.map(from_micros),
            justification: r.justification,
        })
    }
}

fn stage(row: &AnyRow) -> StoreResult<ApprovalStageRecord> {
    decode::<ApprovalStageRow, _>(row)
}

pub(crate) async fn stages_of<'e, E>(
    executor: E,
    request_id: &str,
) -> StoreResult<Vec<ApprovalStageRecord>>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let sql = format!(
        "SELECT {STAGE_COLUMNS} FROM approval_stages WHERE request_id = $1 ORDER BY stage_index"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(request_id.to_owned())
        .fetch_all(executor)
        .await
        .store()?
        .iter()
        .map(stage)
        .collect()
}

pub(crate) async fn insert_stage<'e, E>(executor: E, s: &ApprovalStageRecord) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let approvers = id_list(&s.approver_ids)?;
    sqlx::query(
        "INSERT INTO approval_stages (id, request_id, stage_index, status, review_result, \
         approver_ids, used_fallback, started_at, reviewed_by, reviewed_by_name, reviewed_at, \
         justification, escalation_approver_ids, escalation_used_fallback, escalated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(s.id.clone())
    .bind(s.request_id.clone())
    .bind(i64::from(s.stage_index))
    .bind(s.status.clone())
    .bind(s.review_result.clone())
    .bind(approvers)
    .bind(i64::from(s.used_fallback))
    .bind(s.started_date_time.map(to_micros))
    .bind(s.reviewed_by.as_ref().map(|r| r.0.clone()))
    .bind(s.reviewed_by.as_ref().map(|r| r.1.clone()))
    .bind(s.reviewed_date_time.map(to_micros))
    .bind(s.justification.clone())
    .bind(id_list(&s.escalation_approver_ids)?)
    .bind(i64::from(s.escalation_used_fallback))
    .bind(s.escalated_date_time.map(to_micros))
    .execute(executor)
    .await
    .store()?;
    Ok(())
}

/// Stores a stage's decision or start if its status is still `expected_status`. The escalation
/// columns are left alone: only [`escalate_stage`] writes them, so a decision read before an
/// escalation committed does not undo it.
pub(crate) async fn update_stage<'e, E>(
    executor: E,
    s: &ApprovalStageRecord,
    expected_status: &str,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let approvers = id_list(&s.approver_ids)?;
    let done = sqlx::query(
        "UPDATE approval_stages SET status = $2, review_result = $3, approver_ids = $4, \
         used_fallback = $5, started_at = $6, reviewed_by = $7, reviewed_by_name = $8, \
         reviewed_at = $9, justification = $10 WHERE id = $1 AND status = $11",
    )
    .bind(s.id.clone())
    .bind(s.status.clone())
    .bind(s.review_result.clone())
    .bind(approvers)
    .bind(i64::from(s.used_fallback))
    .bind(s.started_date_time.map(to_micros))
    .bind(s.reviewed_by.as_ref().map(|r| r.0.clone()))
    .bind(s.reviewed_by.as_ref().map(|r| r.1.clone()))
    .bind(s.reviewed_date_time.map(to_micros))
    .bind(s.justification.clone())
    .bind(expected_status.to_owned())
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

/// Records that stage `stage_id` escalated at `at` to `approver_ids`, if it is still in progress
/// and has not escalated before.
pub(crate) async fn escalate_stage<'e, E>(
    executor: E,
    stage_id: &str,
    approver_ids: &[String],
    used_fallback: bool,
    at: OffsetDateTime,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let done = sqlx::query(
        "UPDATE approval_stages SET escalation_approver_ids = $2, escalation_used_fallback = $3, \
         escalated_at = $4 WHERE id = $1 AND status = 'InProgress' AND escalated_at IS NULL",
    )
    .bind(stage_id.to_owned())
    .bind(id_list(approver_ids)?)
    .bind(i64::from(used_fallback))
    .bind(to_micros(at))
    .execute(executor)
    .await
    .store()?;
    Ok(done.rows_affected() == 1)
}

// Reads of the portal's approvals pages (issue 17, part B): set-wise, so a page of a hundred
// rows is a few queries, not a few per row.

/// The assignment requests with these ids (those that exist), for the approvals pages.
pub(crate) async fn requests_by_ids(
    pool: &AnyPool,
    backend: Backend,
    ids: &[String],
) -> StoreResult<Vec<AssignmentRequest>> {
    let select =
        format!("SELECT {REQUEST_COLUMNS} FROM assignment_requests t WHERE t.id IN {{ids}}");
    read_by_id_set(pool, backend, &select, ids, request).await
}

/// The approval stages of these requests, by request and in stage order (the approvals inbox).
pub(crate) async fn stages_of_requests(
    pool: &AnyPool,
    backend: Backend,
    request_ids: &[String],
) -> StoreResult<Vec<ApprovalStageRecord>> {
    let select = format!(
        "SELECT {STAGE_COLUMNS} FROM approval_stages WHERE request_id IN {{ids}} \
         ORDER BY request_id, stage_index"
    );
    read_by_id_set(pool, backend, &select, request_ids, stage).await
}

/// At most `top` stages decided by `reviewer_id`, newest decision first (then by id), after
/// `before` (the decision instant and id of the last stage of the previous page).
pub(crate) async fn stages_decided_by(
    pool: &AnyPool,
    reviewer_id: &str,
    top: u32,
    before: Option<(OffsetDateTime, String)>,
) -> StoreResult<Vec<ApprovalStageRecord>> {
    let after = if before.is_some() {
        " AND (reviewed_at < $2 OR (reviewed_at = $2 AND id < $3))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {STAGE_COLUMNS} FROM approval_stages WHERE reviewed_by = $1 \
         AND reviewed_at IS NOT NULL{after} ORDER BY reviewed_at DESC, id DESC LIMIT {top}"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(reviewer_id.to_owned());
    if let Some((at, id)) = before {
        query = query.bind(to_micros(at)).bind(id);
    }
    query
        .fetch_all(pool)
        .await
        .store()?
        .iter()
        .map(stage)
        .collect()
}
