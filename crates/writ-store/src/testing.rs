//! Fresh, migrated databases for tests, on either backend. PostgreSQL tests need
//! `WRIT_TEST_POSTGRES_URL` (a server URL whose user may create databases; `scripts/test.sh`
//! starts one and sets it). Without it they fail with a message saying so, rather than skip:
//! every storage test must run on both backends.
//!
//! Also forged `$skiptoken`s, for tests of what the store does with keys a client made up.

use std::path::PathBuf;

use sqlx::any::AnyPoolOptions;
use writ_domain::store::StoreError;

use crate::connect::{Backend, ConnectOptions, connect, migrate};
use crate::store::SqlStore;

pub const POSTGRES_ENV: &str = "WRIT_TEST_POSTGRES_URL";

/// A database URL for a new, empty database on `backend`.
pub async fn fresh_database_url(backend: Backend) -> Result<String, StoreError> {
    let name = format!("writ_test_{}", uuid::Uuid::new_v4().simple());
    match backend {
        Backend::Sqlite => {
            let dir: PathBuf = std::env::temp_dir().join("writ-tests");
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Other(e.to_string()))?;
            Ok(format!(
                "sqlite://{}",
                dir.join(format!("{name}.db")).display()
            ))
        }
        Backend::Postgres => {
            let server = std::env::var(POSTGRES_ENV).map_err(|_| {
                StoreError::Other(format!(
                    "{POSTGRES_ENV} is not set: run the tests with scripts/test.sh, which starts \
                     PostgreSQL, or point {POSTGRES_ENV} at a server (postgres://user@host:port/db)"
                ))
            })?;
            sqlx::any::install_default_drivers();
            let admin = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&server)
                .await
                .map_err(|e| StoreError::Other(format!("{POSTGRES_ENV}: {e}")))?;
            // `name` is generated above from a UUID, never from input.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin)
                .await
                .map_err(|e| StoreError::Other(e.to_string()))?;
            admin.close().await;
            let base = match server.rfind('/') {
                Some(slash) if slash > "postgres://".len() => &server[..slash],
                _ => server.as_str(),
            };
            let query = server.find('?').map(|q| &server[q..]).unwrap_or("");
            Ok(format!("{base}/{name}{query}"))
        }
    }
}

/// A connected, migrated store on a new database.
pub async fn fresh_store(backend: Backend) -> Result<SqlStore, StoreError> {
    let url = fresh_database_url(backend).await?;
    let store = connect(&ConnectOptions::new(url)).await?;
    migrate(&store).await?;
    Ok(store)
}

/// A `$skiptoken` for a read of `entity` (the schema's name, e.g. `"user"`) with this `$filter`
/// and `$orderby` (empty when absent), carrying `keys` as they are: it passes the "made for this
/// query" check, so keys of the wrong type or number reach the checks behind it.
pub fn forged_skiptoken(
    entity: &str,
    filter: &str,
    orderby: &str,
    keys: serde_json::Value,
) -> String {
    crate::list::token_text(&crate::list::fingerprint(&[entity, filter, orderby]), keys)
}
