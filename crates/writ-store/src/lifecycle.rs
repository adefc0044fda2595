//! Agent lifecycle governance (DESIGN section 17): the [`LifecycleStore`] part of [`SqlStore`].
//! The last token time is a column of `directory_objects` (every principal has that row), so the
//! token endpoint's write is one `UPDATE` by primary key.

use async_trait::async_trait;
use time::OffsetDateTime;
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::store::{LifecycleStore, StoreResult};

use crate::error::ResultExt;
use crate::store::SqlStore;

#[async_trait]
impl LifecycleStore for SqlStore {
    async fn record_token_issued(&self, principal_id: &str, at: OffsetDateTime) -> StoreResult<()> {
        let _writer = self.single_writer().await;
        sqlx::query(
            "UPDATE directory_objects SET last_token_at = $1 \
             WHERE id = $2 AND (last_token_at IS NULL OR last_token_at < $1)",
        )
        .bind(to_micros(at))
        .bind(principal_id.to_owned())
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
}
