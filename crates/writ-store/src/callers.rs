//! The [`CallerStore`] part of [`SqlStore`]: what authenticating a request or a
//! `client_credentials` client needs — the principal, its risk state, its directory role paths
//! (and a user's catalog roles; a client's secrets) — in one prepared statement each, where the
//! identity rules used to make four or five round trips. Each statement returns one row per role
//! path, catalog role or secret (`row_kind` `d`, `c`, `s`), every row carrying the principal's
//! columns, or one row with a NULL `row_kind` when there is none; nothing is cached, so a change
//! committed by any replica holds at the next call.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::model::{ClientSecret, PrincipalKind, RiskState, ServicePrincipalKind, UserKind};
use writ_domain::store::{CallerStore, ClientRecord, PrincipalRecord, StoreError, StoreResult};

use crate::error::ResultExt;
use crate::rows::DbBool;
use crate::store::SqlStore;

/// The directory role paths of principal `$1` at `$2` (the same rows as
/// `effective_directory_roles`), in the columns every statement here shares.
macro_rules! directory_role_paths {
    ($principal:literal) => {
        concat!(
            "SELECT 'd' AS row_kind, r.role_definition_id AS name, CAST(NULL AS TEXT) AS extra, \
             CAST(NULL AS TEXT) AS hint, CAST(NULL AS TEXT) AS label, r.ends_at AS t1, \
             CAST(NULL AS BIGINT) AS t2 \
             FROM role_assignments r WHERE r.principal_id = ",
            $principal,
            " AND r.directory_scope_id = '/' AND (r.ends_at IS NULL OR r.ends_at > $2) \
             UNION ALL SELECT 'd', r.role_definition_id, NULL, NULL, NULL, r.ends_at, m.ends_at \
             FROM role_assignments r JOIN group_members m ON m.group_id = r.principal_id \
             JOIN groups g ON g.id = r.principal_id \
             WHERE m.member_id = ",
            $principal,
            " AND g.is_assignable_to_role = TRUE \
             AND r.directory_scope_id = '/' AND (r.ends_at IS NULL OR r.ends_at > $2) \
             AND (m.ends_at IS NULL OR m.ends_at > $2)"
        )
    };
}

/// A service principal by object id (`$1`) at `$2`.
const SERVICE_PRINCIPAL_CALLER: &str = concat!(
    "SELECT p.id, p.app_id AS login_name, p.display_name, p.account_enabled, p.kind, \
     k.risk_state, x.row_kind, x.name, x.extra, x.hint, x.label, x.t1, x.t2 \
     FROM service_principals p LEFT JOIN risky_agents k ON k.id = p.id \
     LEFT JOIN (",
    directory_role_paths!("$1"),
    ") x ON TRUE WHERE p.id = $1 ORDER BY x.row_kind, x.name, x.extra"
);

/// A user by object id (`$1`) at `$2`, with its catalog roles (`extra`: the catalog).
const USER_CALLER: &str = concat!(
    "SELECT p.id, p.user_principal_name AS login_name, p.display_name, p.account_enabled, \
     p.kind, k.risk_state, x.row_kind, x.name, x.extra, x.hint, x.label, x.t1, x.t2 \
     FROM users p LEFT JOIN risky_agents k ON k.id = p.id \
     LEFT JOIN (",
    directory_role_paths!("$1"),
    " UNION ALL SELECT 'c', e.role_definition_id, e.catalog_id, NULL, NULL, NULL, NULL \
     FROM em_role_assignments e WHERE e.principal_id = $1\
     ) x ON TRUE WHERE p.id = $1 ORDER BY x.row_kind, x.name, x.extra"
);

/// The `appId` `$1` at `$2`: the application's id, the service principal, and the owner's
/// secrets (`name` the key id, `extra` the hash, `t1`/`t2` the validity).
const CLIENT: &str = concat!(
    "WITH a AS (SELECT id FROM applications WHERE app_id = $1), \
     p AS (SELECT id, app_id, display_name, account_enabled, kind FROM service_principals \
     WHERE app_id = $1) \
     SELECT (SELECT id FROM a) AS application_id, p.id, p.app_id AS login_name, p.display_name, \
     p.account_enabled, p.kind, k.risk_state, x.row_kind, x.name, x.extra, x.hint, x.label, \
     x.t1, x.t2 \
     FROM (SELECT 1 AS one) o LEFT JOIN p ON TRUE LEFT JOIN risky_agents k ON k.id = p.id \
     LEFT JOIN (SELECT 's' AS row_kind, c.key_id AS name, c.secret_hash AS extra, c.hint, \
     c.display_name AS label, c.start_at AS t1, c.end_at AS t2 FROM password_credentials c \
     WHERE c.owner_id = COALESCE((SELECT id FROM a), (SELECT id FROM p)) UNION ALL ",
    directory_role_paths!("(SELECT id FROM p)"),
    ") x ON TRUE ORDER BY x.row_kind, x.name, x.extra"
);

/// The principal of the rows (the same on each), or `None` when the statement found none.
fn principal(rows: &[AnyRow], kind: PrincipalKind) -> StoreResult<Option<PrincipalRecord>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let Some(id) = first.try_get::<Option<String>, _>("id").store()? else {
        return Ok(None);
    };
    let kind_text: String = first.try_get("kind").store()?;
    let is_agent = match kind {
        PrincipalKind::User => UserKind::parse(&kind_text)
            .map(|k| k == UserKind::AgentUser)
            .ok_or_else(|| StoreError::Other(format!("unknown user kind {kind_text:?}")))?,
        PrincipalKind::ServicePrincipal => ServicePrincipalKind::parse(&kind_text)
            .map(|k| k == ServicePrincipalKind::AgentIdentity)
            .ok_or_else(|| {
                StoreError::Other(format!("unknown service principal kind {kind_text:?}"))
            })?,
    };
    let risk_state = first
        .try_get::<Option<String>, _>("risk_state")
        .store()?
        .map(|s| {
            RiskState::parse(&s)
                .ok_or_else(|| StoreError::Other(format!("unknown risk state {s:?}")))
        })
        .transpose()?;
    let mut record = PrincipalRecord {
        id,
        kind,
        is_agent,
        display_name: first.try_get("display_name").store()?,
        login_name: first.try_get("login_name").store()?,
        enabled: first.try_get::<DbBool, _>("account_enabled").store()?.0,
        risk_state,
        directory_role_paths: Vec::new(),
        catalog_roles: Vec::new(),
    };
    for row in rows {
        match row
            .try_get::<Option<String>, _>("row_kind")
            .store()?
            .as_deref()
        {
            Some("d") => {
                let grant_end: Option<i64> = row.try_get("t1").store()?;
                let member_end: Option<i64> = row.try_get("t2").store()?;
                let end = match (grant_end, member_end) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, None) => a,
                    (None, b) => b,
                };
                record
                    .directory_role_paths
                    .push((row.try_get("name").store()?, end.map(from_micros)));
            }
            Some("c") => record
                .catalog_roles
                .push((row.try_get("name").store()?, row.try_get("extra").store()?)),
            _ => {}
        }
    }
    Ok(Some(record))
}

#[async_trait]
impl CallerStore for SqlStore {
    async fn caller_record(
        &self,
        kind: PrincipalKind,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<PrincipalRecord>> {
        let sql = match kind {
            PrincipalKind::User => USER_CALLER,
            PrincipalKind::ServicePrincipal => SERVICE_PRINCIPAL_CALLER,
        };
        let rows = sqlx::query(sql)
            .bind(id.to_owned())
            .bind(to_micros(now))
            .fetch_all(self.pool())
            .await
            .store()?;
        principal(&rows, kind)
    }

    async fn client_record(&self, app_id: &str, now: OffsetDateTime) -> StoreResult<ClientRecord> {
        let rows = sqlx::query(CLIENT)
            .bind(app_id.to_owned())
            .bind(to_micros(now))
            .fetch_all(self.pool())
            .await
            .store()?;
        let application_id = match rows.first() {
            Some(row) => row.try_get("application_id").store()?,
            None => None,
        };
        let principal = principal(&rows, PrincipalKind::ServicePrincipal)?;
        // The secrets' owner: the application, else the service principal (an agent identity).
        let owner = application_id
            .clone()
            .or_else(|| principal.as_ref().map(|p| p.id.clone()))
            .unwrap_or_default();
        let mut secrets = Vec::new();
        for row in &rows {
            if row
                .try_get::<Option<String>, _>("row_kind")
                .store()?
                .as_deref()
                == Some("s")
            {
                secrets.push(ClientSecret {
                    key_id: row.try_get("name").store()?,
                    owner_id: owner.clone(),
                    secret_hash: row.try_get("extra").store()?,
                    hint: row.try_get("hint").store()?,
                    display_name: row.try_get("label").store()?,
                    start_date_time: from_micros(row.try_get("t1").store()?),
                    end_date_time: from_micros(row.try_get("t2").store()?),
                });
            }
        }
        Ok(ClientRecord {
            application_id,
            principal,
            secrets,
        })
    }
}
