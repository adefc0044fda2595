//! Agents' risk (`risky_agents`, Graph's `riskyAgent`): the [`RiskStore`] part of [`SqlStore`]
//! and the [`RiskStoreTx`] part of [`SqlTx`]. Reads join the agent (a service principal or a
//! user) for its current name and `isEnabled`; a row whose agent is gone reads `isDeleted`.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::model::{RiskState, RiskyAgent};
use writ_domain::query::{ListQuery, Page};
use writ_domain::store::{RiskStore, RiskStoreTx, StoreError, StoreResult};
use writ_odata::SqlValue;

use crate::error::ResultExt;
use crate::list::{ListSpec, list};
use crate::rows::DbBool;
use crate::schema;
use crate::store::SqlStore;
use crate::tx::SqlTx;

/// The rows with their agents, aliased `t` for the list reader and its `$filter`.
const JOINED: &str = "(SELECT r.id, r.identity_type, \
     COALESCE(sp.display_name, u.display_name, r.agent_display_name) AS agent_display_name, \
     r.risk_level, r.risk_state, r.risk_detail, r.risk_last_updated_at, \
     CASE WHEN sp.id IS NOT NULL THEN sp.account_enabled \
          WHEN u.id IS NOT NULL THEN u.account_enabled ELSE FALSE END AS is_enabled, \
     CASE WHEN sp.id IS NULL AND u.id IS NULL THEN TRUE ELSE FALSE END AS is_deleted \
     FROM risky_agents r \
     LEFT JOIN service_principals sp ON sp.id = r.id \
     LEFT JOIN users u ON u.id = r.id) t";

const COLUMNS: &str = "t.id, t.identity_type, t.agent_display_name, t.risk_level, t.risk_state, \
     t.risk_detail, t.risk_last_updated_at, t.is_enabled, t.is_deleted";

fn risky_agent(row: &AnyRow) -> StoreResult<RiskyAgent> {
    let state: String = row.try_get("risk_state").store()?;
    let risk_state = RiskState::parse(&state)
        .ok_or_else(|| StoreError::Other(format!("unknown risk state '{state}'")))?;
    Ok(RiskyAgent {
        id: row.try_get("id").store()?,
        identity_type: row.try_get("identity_type").store()?,
        agent_display_name: row.try_get("agent_display_name").store()?,
        risk_level: row.try_get("risk_level").store()?,
        risk_state,
        risk_detail: row.try_get("risk_detail").store()?,
        risk_last_updated_date_time: from_micros(
            row.try_get::<i64, _>("risk_last_updated_at").store()?,
        ),
        is_enabled: row.try_get::<DbBool, _>("is_enabled").store()?.0,
        is_deleted: row.try_get::<DbBool, _>("is_deleted").store()?.0,
    })
}

#[async_trait]
impl RiskStore for SqlStore {
    async fn risky_agent(&self, id: &str) -> StoreResult<Option<RiskyAgent>> {
        let sql = format!("SELECT {COLUMNS} FROM {JOINED} WHERE t.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await
            .store()?;
        row.as_ref().map(risky_agent).transpose()
    }

    async fn list_risky_agents(&self, query: &ListQuery) -> StoreResult<Page<RiskyAgent>> {
        list(
            self.pool(),
            ListSpec {
                schema: &schema::RISKY_AGENT,
                from: JOINED,
                columns: COLUMNS,
                base_where: None::<(String, Vec<SqlValue>)>,
            },
            query,
            risky_agent,
        )
        .await
    }

    async fn agent_risk_state(&self, id: &str) -> StoreResult<Option<RiskState>> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT risk_state FROM risky_agents WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(self.pool())
                .await
                .store()?;
        Ok(state.as_deref().and_then(RiskState::parse))
    }
}

#[async_trait]
impl RiskStoreTx for SqlTx {
    async fn put_agent_risk(
        &mut self,
        risk: &RiskyAgent,
        previous: Option<RiskState>,
    ) -> StoreResult<bool> {
        let query = match previous {
            None => sqlx::query(
                "INSERT INTO risky_agents (id, identity_type, agent_display_name, risk_level, \
                 risk_state, risk_detail, risk_last_updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE risky_agents SET identity_type = $2, agent_display_name = $3, \
                 risk_level = $4, risk_state = $5, risk_detail = $6, risk_last_updated_at = $7 \
                 WHERE id = $1 AND risk_state = $8",
            ),
        };
        let mut query = query
            .bind(risk.id.clone())
            .bind(risk.identity_type.clone())
            .bind(risk.agent_display_name.clone())
            .bind(risk.risk_level.clone())
            .bind(risk.risk_state.as_str())
            .bind(risk.risk_detail.clone())
            .bind(to_micros(risk.risk_last_updated_date_time));
        if let Some(previous) = previous {
            query = query.bind(previous.as_str());
        }
        let done = query.execute(&mut *self.tx).await.store()?;
        Ok(done.rows_affected() == 1)
    }
}
