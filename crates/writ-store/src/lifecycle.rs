//! Agent lifecycle governance (DESIGN section 17): the [`LifecycleStore`] part of [`SqlStore`]
//! and the [`LifecycleStoreTx`] part of [`SqlTx`]. The last token time is a column of
//! `directory_objects` (every principal has that row), so the token endpoint's write is one
//! `UPDATE` by primary key. Policies are one JSON document each (`lifecycle_policies`); each
//! agent identity's record is a row of `agent_lifecycles`, written by compare-and-set on its
//! version. The sweep reads agents a page at a time with their sponsor counts and records in one
//! query.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::model::{
    AgentLifecycleRecord, GovernedAgent, LifecyclePolicy, LifecyclePolicyDocument,
};
use writ_domain::store::{LifecycleStore, LifecycleStoreTx, StoreError, StoreResult};

use crate::batch::{id_array, id_set};
use crate::error::ResultExt;
use crate::rows::DbBool;
use crate::store::SqlStore;
use crate::tx::SqlTx;

const POLICY_COLUMNS: &str = "id, document, created_at, modified_at";

fn policy(row: &AnyRow) -> StoreResult<LifecyclePolicy> {
    let document: String = row.try_get("document").store()?;
    let document: LifecyclePolicyDocument = serde_json::from_str(&document)
        .map_err(|e| StoreError::Other(format!("stored lifecycle policy: {e}")))?;
    Ok(LifecyclePolicy {
        id: row.try_get("id").store()?,
        document,
        created_date_time: from_micros(row.try_get::<i64, _>("created_at").store()?),
        last_modified_date_time: from_micros(row.try_get::<i64, _>("modified_at").store()?),
    })
}

fn micros(row: &AnyRow, column: &str) -> StoreResult<Option<OffsetDateTime>> {
    Ok(row
        .try_get::<Option<i64>, _>(column)
        .store()?
        .map(from_micros))
}

fn governed(row: &AnyRow) -> StoreResult<GovernedAgent> {
    let id: String = row.try_get("id").store()?;
    let version: Option<i64> = row.try_get("version").store()?;
    let record = match version {
        Some(version) => Some(AgentLifecycleRecord {
            agent_id: id.clone(),
            last_attested_at: micros(row, "last_attested_at")?,
            non_compliant_since: micros(row, "non_compliant_since")?,
            notices_sent: row
                .try_get::<Option<i64>, _>("notices_sent")
                .store()?
                .and_then(|n| i32::try_from(n).ok())
                .unwrap_or(0),
            disabled_at: micros(row, "disabled_at")?,
            next_check_at: micros(row, "next_check_at")?,
            version,
        }),
        None => None,
    };
    Ok(GovernedAgent {
        id,
        display_name: row.try_get("display_name").store()?,
        account_enabled: row.try_get::<DbBool, _>("account_enabled").store()?.0,
        created_at: from_micros(row.try_get::<i64, _>("created_at").store()?),
        last_token_at: micros(row, "last_token_at")?,
        sponsor_count: row.try_get("sponsor_count").store()?,
        record,
    })
}

#[async_trait]
impl LifecycleStore for SqlStore {
    async fn record_token_issued(&self, principal_id: &str, at: OffsetDateTime) -> StoreResult<()> {
        // Written once per principal and second: a token in a second already recorded changes
        // no row, so a busy agent costs one real write a second (no WAL frame, no fsync, for
        // the others), and the instant stays exact to the second.
        let micros = to_micros(at);
        let second_start = micros - micros.rem_euclid(1_000_000);
        let _writer = self.single_writer().await;
        sqlx::query(
            "UPDATE directory_objects SET last_token_at = $1 \
             WHERE id = $2 AND (last_token_at IS NULL OR last_token_at < $3)",
        )
        .bind(micros)
        .bind(principal_id.to_owned())
        .bind(second_start)
        .execute(self.pool())
        .await
        .store()?;
        Ok(())
    }

    async fn last_token_issued(&self, principal_id: &str) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT last_token_at FROM directory_objects WHERE id = $1")
                .bind(principal_id.to_owned())
                .fetch_optional(self.pool())
                .await
                .store()?;
        Ok(at.flatten().map(from_micros))
    }

    async fn lifecycle_policies(&self) -> StoreResult<Vec<LifecyclePolicy>> {
        let sql = format!(
            "SELECT {POLICY_COLUMNS} FROM lifecycle_policies ORDER BY priority, created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
            .store()?;
        rows.iter().map(policy).collect()
    }

    async fn lifecycle_policy(&self, id: &str) -> StoreResult<Option<LifecyclePolicy>> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM lifecycle_policies WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_owned())
            .fetch_optional(self.pool())
            .await
            .store()?;
        row.as_ref().map(policy).transpose()
    }

    async fn governed_agents(
        &self,
        ids: Option<&[String]>,
        due_by: Option<OffsetDateTime>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<GovernedAgent>> {
        let only = match ids {
            Some(_) => format!("AND sp.id IN {}", id_set(self.backend_kind(), 4)),
            None => String::new(),
        };
        let due = if due_by.is_some() {
            "AND (l.agent_id IS NULL OR l.next_check_at <= $3)"
        } else {
            "AND $3 = $3"
        };
        let sql = format!(
            "SELECT sp.id, sp.display_name, sp.account_enabled, o.created_at, o.last_token_at, \
             (SELECT COUNT(*) FROM sponsors s WHERE s.object_id = sp.id) AS sponsor_count, \
             l.last_attested_at, l.non_compliant_since, l.notices_sent, l.disabled_at, \
             l.next_check_at, l.version \
             FROM service_principals sp \
             JOIN directory_objects o ON o.id = sp.id \
             LEFT JOIN agent_lifecycles l ON l.agent_id = sp.id \
             WHERE sp.kind = 'agentIdentity' AND sp.id > $1 {due} {only} \
             ORDER BY sp.id LIMIT $2"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after.unwrap_or("").to_owned())
            .bind(i64::from(limit))
            .bind(due_by.map_or(0, to_micros));
        if let Some(ids) = ids {
            query = query.bind(id_array(ids)?);
        }
        let rows = query.fetch_all(self.pool()).await.store()?;
        rows.iter().map(governed).collect()
    }

    async fn next_lifecycle_check(&self) -> StoreResult<Option<OffsetDateTime>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT MIN(next_check_at) FROM agent_lifecycles")
            .fetch_one(self.pool())
            .await
            .store()?;
        Ok(at.map(from_micros))
    }
}

#[async_trait]
impl LifecycleStoreTx for SqlTx {
    async fn recheck_all_agent_lifecycles(&mut self, at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE agent_lifecycles SET next_check_at = $1")
            .bind(to_micros(at))
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(())
    }

    async fn recheck_agent_lifecycle(
        &mut self,
        agent_id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE agent_lifecycles SET next_check_at = $1 WHERE agent_id = $2")
            .bind(to_micros(at))
            .bind(agent_id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(())
    }

    async fn count_lifecycle_policies(&mut self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM lifecycle_policies")
            .fetch_one(&mut *self.tx)
            .await
            .store()
    }

    async fn insert_lifecycle_policy(&mut self, policy: &LifecyclePolicy) -> StoreResult<()> {
        let document = serde_json::to_string(&policy.document)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        sqlx::query(
            "INSERT INTO lifecycle_policies (id, display_name, priority, is_enabled, document, \
             created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(policy.id.clone())
        .bind(policy.document.display_name.clone())
        .bind(policy.document.priority)
        .bind(policy.document.is_enabled)
        .bind(document)
        .bind(to_micros(policy.created_date_time))
        .bind(to_micros(policy.last_modified_date_time))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn update_lifecycle_policy(
        &mut self,
        policy: &LifecyclePolicy,
        previous: OffsetDateTime,
    ) -> StoreResult<bool> {
        let document = serde_json::to_string(&policy.document)
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let done = sqlx::query(
            "UPDATE lifecycle_policies SET display_name = $2, priority = $3, is_enabled = $4, \
             document = $5, modified_at = $6 WHERE id = $1 AND modified_at = $7",
        )
        .bind(policy.id.clone())
        .bind(policy.document.display_name.clone())
        .bind(policy.document.priority)
        .bind(policy.document.is_enabled)
        .bind(document)
        .bind(to_micros(policy.last_modified_date_time))
        .bind(to_micros(previous))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_lifecycle_policy(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM lifecycle_policies WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn put_agent_lifecycle(
        &mut self,
        record: &AgentLifecycleRecord,
        previous_version: Option<i64>,
    ) -> StoreResult<bool> {
        let query = match previous_version {
            None => sqlx::query(
                "INSERT INTO agent_lifecycles (agent_id, last_attested_at, non_compliant_since, \
                 notices_sent, disabled_at, next_check_at, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (agent_id) DO NOTHING",
            ),
            Some(_) => sqlx::query(
                "UPDATE agent_lifecycles SET last_attested_at = $2, non_compliant_since = $3, \
                 notices_sent = $4, disabled_at = $5, next_check_at = $6, version = $7 \
                 WHERE agent_id = $1 AND version = $8",
            ),
        };
        let next_version = previous_version.map_or(1, |v| v.saturating_add(1));
        let mut query = query
            .bind(record.agent_id.clone())
            .bind(record.last_attested_at.map(to_micros))
            .bind(record.non_compliant_since.map(to_micros))
            .bind(record.notices_sent)
            .bind(record.disabled_at.map(to_micros))
            .bind(record.next_check_at.map(to_micros))
            .bind(next_version);
        if let Some(previous) = previous_version {
            query = query.bind(previous);
        }
        let done = query.execute(&mut *self.tx).await.store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn disable_agent_identity(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE service_principals SET account_enabled = FALSE \
             WHERE id = $1 AND kind = 'agentIdentity' AND account_enabled = TRUE",
        )
        .bind(id.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }
}
