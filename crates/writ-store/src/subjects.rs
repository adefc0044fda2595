//! `accessPackageSubject`s, derived rather than stored: the users and service principals of the
//! directory that are the target or the requestor of at least one assignment request. One derived
//! table (alias `t`) serves the list, with `$filter`, `$orderby`, paging and `$count` in SQL, and
//! the read of one subject; a principal deleted from the directory drops out of it.

use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow, Row};
use writ_domain::authz::PrincipalKind;
use writ_domain::entitlement::Subject;
use writ_domain::model::RiskState;
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{StoreError, StoreResult};

use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::decode;
use crate::schema;

/// Every subject, one row each: `id`, `display_name`, `principal_name` (a user's
/// userPrincipalName, a service principal's appId), `mail`, `subject_type` (Graph's
/// `accessPackageSubjectType`) and `kind` (the directory kind, which tells agents apart).
const SUBJECTS: &str = "(SELECT u.id AS id, u.display_name AS display_name, \
     u.user_principal_name AS principal_name, u.mail AS mail, 'user' AS subject_type, \
     u.kind AS kind, u.identity_parent_id AS identity_parent_id FROM users u \
     WHERE EXISTS (SELECT 1 FROM assignment_requests r WHERE r.target_id = u.id) \
     OR EXISTS (SELECT 1 FROM assignment_requests r WHERE r.requestor_id = u.id) \
     UNION ALL \
     SELECT s.id, s.display_name, s.app_id, NULL, 'servicePrincipal', s.kind, NULL \
     FROM service_principals s \
     WHERE EXISTS (SELECT 1 FROM assignment_requests r WHERE r.target_id = s.id) \
     OR EXISTS (SELECT 1 FROM assignment_requests r WHERE r.requestor_id = s.id)) t";

const SUBJECT_COLUMNS: &str = "t.id, t.display_name, t.principal_name, t.mail, t.subject_type, t.kind, \
     t.identity_parent_id";

#[derive(FromRow)]
struct SubjectRow {
    id: String,
    display_name: String,
    principal_name: Option<String>,
    mail: Option<String>,
    subject_type: String,
    kind: String,
    identity_parent_id: Option<String>,
}

impl TryFrom<SubjectRow> for Subject {
    type Error = StoreError;

    fn try_from(r: SubjectRow) -> StoreResult<Self> {
        Ok(Subject {
            kind: match r.subject_type.as_str() {
                "user" => PrincipalKind::User,
                "servicePrincipal" => PrincipalKind::ServicePrincipal,
                other => {
                    return Err(StoreError::Other(format!("subject type '{other}'")));
                }
            },
            is_agent: matches!(r.kind.as_str(), "agentUser" | "agentIdentity"),
            id: r.id,
            display_name: r.display_name,
            principal_name: r.principal_name,
            mail: r.mail,
            identity_parent_id: r.identity_parent_id,
        })
    }
}

fn subject(row: &AnyRow) -> StoreResult<Subject> {
    decode::<SubjectRow, _>(row)
}

pub(crate) async fn list_subjects(pool: &AnyPool, query: &ListQuery) -> StoreResult<Page<Subject>> {
    list(
        pool,
        ListSpec {
            schema: &schema::SUBJECT,
            from: SUBJECTS,
            columns: SUBJECT_COLUMNS,
            base_where: None,
        },
        query,
        subject,
    )
    .await
}

pub(crate) async fn subject_by_id(pool: &AnyPool, id: &str) -> StoreResult<Option<Subject>> {
    let sql = format!("SELECT {SUBJECT_COLUMNS} FROM {SUBJECTS} WHERE t.id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(pool)
        .await
        .store()?
        .as_ref()
        .map(subject)
        .transpose()
}

/// A user (first) or service principal as a subject, with its risk state, in one statement
/// (see `EntitlementStore::principal_subject`).
pub(crate) async fn principal_subject(
    pool: &AnyPool,
    id: &str,
) -> StoreResult<Option<(Subject, Option<RiskState>)>> {
    let row = sqlx::query(
        "SELECT t.id, t.display_name, t.principal_name, t.mail, t.subject_type, t.kind, \
         t.identity_parent_id, k.risk_state FROM (SELECT u.id AS id, \
         u.display_name AS display_name, u.user_principal_name AS principal_name, u.mail AS mail, \
         'user' AS subject_type, u.kind AS kind, u.identity_parent_id AS identity_parent_id \
         FROM users u WHERE u.id = $1 \
         UNION ALL \
         SELECT s.id, s.display_name, s.app_id, NULL, 'servicePrincipal', s.kind, NULL \
         FROM service_principals s WHERE s.id = $1) t \
         LEFT JOIN risky_agents k ON k.id = t.id ORDER BY t.subject_type DESC LIMIT 1",
    )
    .bind(id.to_owned())
    .fetch_optional(pool)
    .await
    .store()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let risk: Option<String> = row.try_get("risk_state").store()?;
    Ok(Some((
        subject(&row)?,
        risk.as_deref().and_then(RiskState::parse),
    )))
}

/// [`principal_subject`]'s subjects (a user first) for many ids in one statement, without
/// their risk states: a batch of deliveries' targets.
pub(crate) async fn principal_subjects(
    pool: &AnyPool,
    backend: crate::connect::Backend,
    ids: &[String],
) -> StoreResult<Vec<Subject>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let set = crate::batch::id_set(backend, 1);
    let sql = format!(
        "SELECT t.id, t.display_name, t.principal_name, t.mail, t.subject_type, t.kind, \
         t.identity_parent_id FROM (SELECT u.id AS id, u.display_name AS display_name, \
         u.user_principal_name AS principal_name, u.mail AS mail, 'user' AS subject_type, \
         u.kind AS kind, u.identity_parent_id AS identity_parent_id FROM users u \
         WHERE u.id IN {set} \
         UNION ALL \
         SELECT s.id, s.display_name, s.app_id, NULL, 'servicePrincipal', s.kind, NULL \
         FROM service_principals s WHERE s.id IN {set}) t \
         ORDER BY t.id, t.subject_type DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(crate::batch::id_array(ids)?)
        .fetch_all(pool)
        .await
        .store()?;
    let mut out: Vec<Subject> = Vec::with_capacity(rows.len());
    for row in &rows {
        let found = subject(row)?;
        // A user and a service principal of one id: the user, as `principal_subject` answers.
        if out.last().is_none_or(|last| last.id != found.id) {
            out.push(found);
        }
    }
    Ok(out)
}
