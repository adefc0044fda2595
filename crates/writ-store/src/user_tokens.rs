//! People's refresh tokens (`refresh_tokens`): the [`UserTokenStoreTx`] part of [`SqlTx`]. The
//! rotation's guard is one conditional `UPDATE`, so two concurrent redemptions of one token
//! cannot both succeed on either backend.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::model::RefreshToken;
use writ_domain::store::{StoreResult, UserTokenStoreTx};

use crate::error::ResultExt;
use crate::tx::SqlTx;

const COLUMNS: &str = "id, token_hash, family_id, client_id, user_id, scope, auth_time, \
     created_at, last_used_at, expires_at, family_expires_at, used_at, revoked_at";

fn token_from_row(row: &AnyRow) -> StoreResult<RefreshToken> {
    let instant = |name: &str| -> StoreResult<OffsetDateTime> {
        Ok(from_micros(row.try_get::<i64, _>(name).store()?))
    };
    let optional = |name: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(row
            .try_get::<Option<i64>, _>(name)
            .store()?
            .map(from_micros))
    };
    Ok(RefreshToken {
        id: row.try_get("id").store()?,
        token_hash: row.try_get("token_hash").store()?,
        family_id: row.try_get("family_id").store()?,
        client_id: row.try_get("client_id").store()?,
        user_id: row.try_get("user_id").store()?,
        scope: row.try_get("scope").store()?,
        auth_time: instant("auth_time")?,
        created_at: instant("created_at")?,
        last_used_at: optional("last_used_at")?,
        expires_at: instant("expires_at")?,
        family_expires_at: instant("family_expires_at")?,
        used_at: optional("used_at")?,
        revoked_at: optional("revoked_at")?,
    })
}

#[async_trait]
impl UserTokenStoreTx for SqlTx {
    async fn insert_refresh_token(&mut self, token: &RefreshToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, client_id, user_id, scope, \
             auth_time, created_at, last_used_at, expires_at, family_expires_at, used_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(token.id.clone())
        .bind(token.token_hash.clone())
        .bind(token.family_id.clone())
        .bind(token.client_id.clone())
        .bind(token.user_id.clone())
        .bind(token.scope.clone())
        .bind(to_micros(token.auth_time))
        .bind(to_micros(token.created_at))
        .bind(token.last_used_at.map(to_micros))
        .bind(to_micros(token.expires_at))
        .bind(to_micros(token.family_expires_at))
        .bind(token.used_at.map(to_micros))
        .bind(token.revoked_at.map(to_micros))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn refresh_token_by_hash(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<RefreshToken>> {
        let sql = format!("SELECT {COLUMNS} FROM refresh_tokens WHERE token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(token_hash.to_owned())
            .fetch_optional(&mut *self.tx)
            .await
            .store()?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn mark_refresh_token_used(
        &mut self,
        id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $2, last_used_at = $2 \
             WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL",
        )
        .bind(id.to_owned())
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_refresh_family(
        &mut self,
        family_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 \
             WHERE family_id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id.to_owned())
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected())
    }

    async fn revoke_user_refresh_tokens(
        &mut self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id.to_owned())
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected())
    }

    async fn sweep_refresh_tokens(&mut self, now: OffsetDateTime, limit: u32) -> StoreResult<u64> {
        // A used token is kept until it expires, so that its reuse is still recognised.
        let done = sqlx::query(
            "DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens \
             WHERE expires_at <= $1 OR revoked_at IS NOT NULL LIMIT $2)",
        )
        .bind(to_micros(now))
        .bind(i64::from(limit))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected())
    }
}
