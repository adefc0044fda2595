//! The sessions capability in SQL, the same statements on both backends: browser sessions and
//! device authorizations (`browser_sessions`, `device_codes`, schema 20261207000020),
//! authorization codes (`authorization_codes`, 20261207000040) and pending single sign-on
//! round trips (`sso_requests`, 20261207000050). Rows are found by the SHA-256 hashes of their
//! secrets only.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::model::{
    AuthorizationCode, BrowserSession, DeviceCode, DeviceCodeState, SsoRequest,
};
use writ_domain::store::{SessionStore, SessionStoreTx, StoreError, StoreResult};

use crate::error::ResultExt;
use crate::store::SqlStore;
use crate::tx::SqlTx;

// The column lists, as macros so that every statement stays a literal (sqlx refuses built SQL).
macro_rules! session_columns {
    () => {
        "id_hash, user_id, auth_time, created_at, last_seen_at, code_failures"
    };
}
macro_rules! device_columns {
    () => {
        "device_code_hash, user_code_hash, client_id, scope, created_at, expires_at, \
         interval_secs, last_polled_at, state, user_id, auth_time, decided_at"
    };
}

macro_rules! code_columns {
    () => {
        "code_hash, client_id, redirect_uri, user_id, scope, nonce, code_challenge, auth_time, \
         session_hash, created_at, expires_at, redeemed_at, token_family"
    };
}

fn code_row(row: &AnyRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: row.try_get("code_hash").store()?,
        client_id: row.try_get("client_id").store()?,
        redirect_uri: row.try_get("redirect_uri").store()?,
        user_id: row.try_get("user_id").store()?,
        scope: row.try_get("scope").store()?,
        nonce: row.try_get("nonce").store()?,
        code_challenge: row.try_get("code_challenge").store()?,
        auth_time: from_micros(row.try_get("auth_time").store()?),
        session_hash: row.try_get("session_hash").store()?,
        created_at: from_micros(row.try_get("created_at").store()?),
        expires_at: from_micros(row.try_get("expires_at").store()?),
        redeemed_at: row
            .try_get::<Option<i64>, _>("redeemed_at")
            .store()?
            .map(from_micros),
        token_family: row.try_get("token_family").store()?,
    })
}

fn session_row(row: &AnyRow) -> StoreResult<BrowserSession> {
    Ok(BrowserSession {
        id_hash: row.try_get("id_hash").store()?,
        user_id: row.try_get("user_id").store()?,
        auth_time: from_micros(row.try_get("auth_time").store()?),
        created_at: from_micros(row.try_get("created_at").store()?),
        last_seen_at: from_micros(row.try_get("last_seen_at").store()?),
        code_failures: row.try_get("code_failures").store()?,
    })
}

fn device_row(row: &AnyRow) -> StoreResult<DeviceCode> {
    let state: String = row.try_get("state").store()?;
    let optional_instant = |name: &str| -> StoreResult<Option<OffsetDateTime>> {
        Ok(row
            .try_get::<Option<i64>, _>(name)
            .store()?
            .map(from_micros))
    };
    Ok(DeviceCode {
        device_code_hash: row.try_get("device_code_hash").store()?,
        user_code_hash: row.try_get("user_code_hash").store()?,
        client_id: row.try_get("client_id").store()?,
        scope: row.try_get("scope").store()?,
        created_at: from_micros(row.try_get("created_at").store()?),
        expires_at: from_micros(row.try_get("expires_at").store()?),
        interval_secs: row.try_get("interval_secs").store()?,
        last_polled_at: optional_instant("last_polled_at")?,
        state: DeviceCodeState::parse(&state)
            .ok_or_else(|| StoreError::Other(format!("unknown device code state '{state}'")))?,
        user_id: row.try_get("user_id").store()?,
        auth_time: optional_instant("auth_time")?,
        decided_at: optional_instant("decided_at")?,
    })
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn browser_session(&self, id_hash: &str) -> StoreResult<Option<BrowserSession>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM browser_sessions WHERE id_hash = $1"
        ))
        .bind(id_hash.to_owned())
        .fetch_optional(self.pool())
        .await
        .store()?;
        row.as_ref().map(session_row).transpose()
    }

    async fn device_code(&self, device_code_hash: &str) -> StoreResult<Option<DeviceCode>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM device_codes WHERE device_code_hash = $1"
        ))
        .bind(device_code_hash.to_owned())
        .fetch_optional(self.pool())
        .await
        .store()?;
        row.as_ref().map(device_row).transpose()
    }

    async fn device_code_by_user_code(
        &self,
        user_code_hash: &str,
    ) -> StoreResult<Option<DeviceCode>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_columns!(),
            " FROM device_codes WHERE user_code_hash = $1"
        ))
        .bind(user_code_hash.to_owned())
        .fetch_optional(self.pool())
        .await
        .store()?;
        row.as_ref().map(device_row).transpose()
    }

    async fn authorization_code(&self, code_hash: &str) -> StoreResult<Option<AuthorizationCode>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            code_columns!(),
            " FROM authorization_codes WHERE code_hash = $1"
        ))
        .bind(code_hash.to_owned())
        .fetch_optional(self.pool())
        .await
        .store()?;
        row.as_ref().map(code_row).transpose()
    }
}

#[async_trait]
impl SessionStoreTx for SqlTx {
    async fn insert_browser_session(&mut self, session: &BrowserSession) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO browser_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(session.id_hash.clone())
        .bind(session.user_id.clone())
        .bind(to_micros(session.auth_time))
        .bind(to_micros(session.created_at))
        .bind(to_micros(session.last_seen_at))
        .bind(session.code_failures)
        .execute(self.conn())
        .await
        .store()?;
        Ok(())
    }

    async fn touch_browser_session(
        &mut self,
        id_hash: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE browser_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(to_micros(at))
            .bind(id_hash.to_owned())
            .execute(self.conn())
            .await
            .store()?;
        Ok(())
    }

    async fn count_code_failure(&mut self, id_hash: &str) -> StoreResult<i64> {
        sqlx::query(
            "UPDATE browser_sessions SET code_failures = code_failures + 1 WHERE id_hash = $1",
        )
        .bind(id_hash.to_owned())
        .execute(self.conn())
        .await
        .store()?;
        let row = sqlx::query("SELECT code_failures FROM browser_sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .fetch_optional(self.conn())
            .await
            .store()?;
        // A session deleted meanwhile has no tries left.
        match row {
            Some(row) => row.try_get("code_failures").store(),
            None => Ok(i64::MAX),
        }
    }

    async fn delete_browser_session(&mut self, id_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM browser_sessions WHERE id_hash = $1")
            .bind(id_hash.to_owned())
            .execute(self.conn())
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user_browser_sessions(&mut self, user_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM browser_sessions WHERE user_id = $1")
            .bind(user_id.to_owned())
            .execute(self.conn())
            .await
            .store()?;
        Ok(done.rows_affected())
    }

    async fn delete_stale_browser_sessions(
        &mut self,
        idle_before: OffsetDateTime,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM browser_sessions WHERE last_seen_at < $1 OR created_at < $2")
                .bind(to_micros(idle_before))
                .bind(to_micros(created_before))
                .execute(self.conn())
                .await
                .store()?;
        Ok(done.rows_affected())
    }

    async fn insert_device_code(&mut self, code: &DeviceCode) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO device_codes (",
            device_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(code.device_code_hash.clone())
        .bind(code.user_code_hash.clone())
        .bind(code.client_id.clone())
        .bind(code.scope.clone())
        .bind(to_micros(code.created_at))
        .bind(to_micros(code.expires_at))
        .bind(code.interval_secs)
        .bind(code.last_polled_at.map(to_micros))
        .bind(code.state.as_str())
        .bind(code.user_id.clone())
        .bind(code.auth_time.map(to_micros))
        .bind(code.decided_at.map(to_micros))
        .execute(self.conn())
        .await
        .store()?;
        Ok(())
    }

    async fn move_device_code(
        &mut self,
        device_code_hash: &str,
        from: DeviceCodeState,
        to: DeviceCodeState,
        decided: Option<(&str, OffsetDateTime, OffsetDateTime)>,
    ) -> StoreResult<bool> {
        let done = match decided {
            Some((user_id, auth_time, at)) => sqlx::query(
                "UPDATE device_codes SET state = $1, user_id = $2, auth_time = $3, decided_at = $4 \
                 WHERE device_code_hash = $5 AND state = $6",
            )
            .bind(to.as_str())
            .bind(user_id.to_owned())
            .bind(to_micros(auth_time))
            .bind(to_micros(at))
            .bind(device_code_hash.to_owned())
            .bind(from.as_str())
            .execute(self.conn())
            .await
            .store()?,
            None => sqlx::query(
                "UPDATE device_codes SET state = $1 WHERE device_code_hash = $2 AND state = $3",
            )
            .bind(to.as_str())
            .bind(device_code_hash.to_owned())
            .bind(from.as_str())
            .execute(self.conn())
            .await
            .store()?,
        };
        Ok(done.rows_affected() == 1)
    }

    async fn record_device_poll(
        &mut self,
        device_code_hash: &str,
        at: OffsetDateTime,
        interval_secs: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE device_codes SET last_polled_at = $1, interval_secs = $2 \
             WHERE device_code_hash = $3",
        )
        .bind(to_micros(at))
        .bind(interval_secs)
        .bind(device_code_hash.to_owned())
        .execute(self.conn())
        .await
        .store()?;
        Ok(())
    }

    async fn delete_expired_device_codes(&mut self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM device_codes WHERE expires_at < $1")
            .bind(to_micros(before))
            .execute(self.conn())
            .await
            .store()?;
        Ok(done.rows_affected())
    }

    async fn insert_authorization_code(&mut self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(code.code_hash.clone())
        .bind(code.client_id.clone())
        .bind(code.redirect_uri.clone())
        .bind(code.user_id.clone())
        .bind(code.scope.clone())
        .bind(code.nonce.clone())
        .bind(code.code_challenge.clone())
        .bind(to_micros(code.auth_time))
        .bind(code.session_hash.clone())
        .bind(to_micros(code.created_at))
        .bind(to_micros(code.expires_at))
        .bind(code.redeemed_at.map(to_micros))
        .bind(code.token_family.clone())
        .execute(self.conn())
        .await
        .store()?;
        Ok(())
    }

    async fn spend_authorization_code(
        &mut self,
        code_hash: &str,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE authorization_codes SET redeemed_at = $1 \
             WHERE code_hash = $2 AND redeemed_at IS NULL",
        )
        .bind(to_micros(at))
        .bind(code_hash.to_owned())
        .execute(self.conn())
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_authorization_code_family(
        &mut self,
        code_hash: &str,
        token_family: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE authorization_codes SET token_family = $1 WHERE code_hash = $2")
            .bind(token_family.to_owned())
            .bind(code_hash.to_owned())
            .execute(self.conn())
            .await
            .store()?;
        Ok(())
    }

    async fn delete_expired_authorization_codes(
        &mut self,
        before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(to_micros(before))
            .execute(self.conn())
            .await
            .store()?;
        Ok(done.rows_affected())
    }

    async fn insert_sso_request(&mut self, request: &SsoRequest) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sso_requests (id_hash, sealed, return_to, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(request.id_hash.clone())
        .bind(request.sealed.clone())
        .bind(request.return_to.clone())
        .bind(to_micros(request.created_at))
        .bind(to_micros(request.expires_at))
        .execute(self.conn())
        .await
        .store()?;
        Ok(())
    }

    async fn take_sso_request(&mut self, id_hash: &str) -> StoreResult<Option<SsoRequest>> {
        // One statement: of two callbacks racing with the same cookie, one gets the row.
        let row = sqlx::query(
            "DELETE FROM sso_requests WHERE id_hash = $1 \
             RETURNING id_hash, sealed, return_to, created_at, expires_at",
        )
        .bind(id_hash.to_owned())
        .fetch_optional(self.conn())
        .await
        .store()?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SsoRequest {
            id_hash: row.try_get("id_hash").store()?,
            sealed: row.try_get("sealed").store()?,
            return_to: row.try_get("return_to").store()?,
            created_at: from_micros(row.try_get("created_at").store()?),
            expires_at: from_micros(row.try_get("expires_at").store()?),
        }))
    }

    async fn delete_expired_sso_requests(&mut self, before: OffsetDateTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sso_requests WHERE expires_at < $1")
            .bind(to_micros(before))
            .execute(self.conn())
            .await
            .store()?;
        Ok(done.rows_affected())
    }
}
