//! Opening a database: URL parsing, per-backend connection settings, embedded migrations, and
//! a new SQLite database file created private to its owner (0600).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Executor};
use writ_domain::store::StoreError;

use crate::error::ResultExt;
use crate::store::SqlStore;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// The database engine behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Other(
                "database_url must start with sqlite:// or postgres://".into(),
            ))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// How many passes the job worker runs side by side on this backend
    /// (`WorkerConfig::parallel_passes`). PostgreSQL runs their transactions at once: three
    /// recorded a storm of 100,000 expiries 1.6× as fast as one on two cores. SQLite's one
    /// writer gains little (4 %) from a second pass, so one pass stays; that pass overlaps
    /// a batch's reads with the previous batch's write itself (the worker's pipeline).
    pub fn job_passes(self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres => 3,
        }
    }

    pub(crate) fn migrator(self) -> &'static Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The statement that serializes first-start work across replicas, run inside the
    /// bootstrap transaction. SQLite's single writer already serializes, so it has none.
    pub(crate) fn bootstrap_lock_sql(self) -> Option<&'static str> {
        match self {
            Backend::Sqlite => None,
            // An arbitrary constant key ("writ" in ASCII), released at commit.
            Backend::Postgres => Some("SELECT pg_advisory_xact_lock(2003398516)"),
        }
    }
}

/// A pooled connection idle for longer than this is checked (one round trip) before it is handed
/// out; one used more recently is handed out as it is. sqlx checks every connection at every
/// acquire by default, which made each one-statement read two round trips — on PostgreSQL, half
/// the cost of every API call's caller read (`docs/benchmarks.md`, "Profile: the caller path").
/// A connection that broke while idle for less than this (the database restarted) fails its
/// next statement once, a 503 the client may retry, and is checked again before later use.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// `sqlite://writ.db` must create the file if missing; sqlx wants that said with `mode=rwc`.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") || url.contains(":memory:") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

/// The file a SQLite URL opens and creates when missing (what `connect` opens with `mode=rwc`,
/// the default), as sqlx reads it; `None` for other backends, in-memory databases and URLs that
/// open an existing file only (`mode=ro`, `mode=rw`).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    if Backend::from_url(url).ok()? != Backend::Sqlite {
        return None;
    }
    let url = sqlite_url(url);
    if !url.contains("mode=rwc") {
        return None;
    }
    let options = SqliteConnectOptions::from_str(&url).ok()?;
    let file = options.get_filename();
    (!file.as_os_str().is_empty()).then(|| file.to_path_buf())
}

/// Creates the SQLite database file, empty and readable by its owner only (0600), if it does
/// not exist. It holds the token signing key (unless `tokens.signing_key_file` is set); SQLite
/// gives the `-wal` and `-shm` files it makes beside it the same permissions, whereas a file
/// SQLite created itself would be 0644 under the usual umask.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Other(format!(
            "cannot create the database file {}: {e}",
            path.display()
        ))),
    }
}

/// Opens a pool (without migrating). A SQLite database file that does not exist yet is created
/// first, private to the owner.
pub async fn connect(options: &ConnectOptions) -> Result<SqlStore, StoreError> {
    connect_holding(options, None).await
}

/// [`connect`], the pool holding `held` until its last handle is gone: a test database's guard,
/// which drops the database when the store using it is dropped, however the test ends.
pub(crate) async fn connect_holding(
    options: &ConnectOptions,
    held: Option<Arc<dyn std::any::Any + Send + Sync>>,
) -> Result<SqlStore, StoreError> {
    install_default_drivers();
    let backend = Backend::from_url(&options.url)?;
    if let Some(file) = sqlite_file(&options.url) {
        create_private(&file)?;
    }
    let (url, max_connections) = match backend {
        Backend::Sqlite => (sqlite_url(&options.url), options.max_connections.max(2)),
        Backend::Postgres => (options.url.clone(), options.max_connections),
    };
    let pool = open_pool(&url, backend, max_connections, options, held.clone(), false).await?;
    // SQLite's writer has a connection of its own, its group of writes' transaction open on it
    // across its members (group commit, `crate::group`): a pool of one, never recycled while
    // a group may be open on it.
    let writer = match backend {
        Backend::Sqlite => Some(crate::group::Writer::new(
            open_pool(&url, backend, 1, options, held, true).await?,
        )),
        Backend::Postgres => None,
    };
    Ok(SqlStore::new(pool, backend, writer))
}

/// A pool on `url`; `writer`: SQLite's writer connection, never closed for its age or idleness
/// (that would roll back a group's transaction open on it).
async fn open_pool(
    url: &str,
    backend: Backend,
    max_connections: u32,
    options: &ConnectOptions,
    held: Option<Arc<dyn std::any::Any + Send + Sync>>,
    writer: bool,
) -> Result<sqlx::AnyPool, StoreError> {
    let mut pool_options = AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(options.acquire_timeout)
        .test_before_acquire(false);
    if writer {
        pool_options = pool_options.max_lifetime(None).idle_timeout(None);
    }
    pool_options
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            // The pool keeps this closure, and with it `held`, for as long as it lives.
            let _held = &held;
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer; FULL makes every commit durable;
                    // foreign keys are off by default in SQLite.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .store()
}

/// Applies the embedded migrations of the store's backend. Safe to run from several processes
/// at once: sqlx holds a database lock while migrating.
pub async fn migrate(store: &SqlStore) -> Result<(), StoreError> {
    store
        .backend_kind()
        .migrator()
        .run(store.pool())
        .await
        .map_err(|e| StoreError::Other(format!("migration failed: {e}")))
}

impl FromStr for Backend {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" => Ok(Backend::Postgres),
            other => Err(StoreError::Other(format!("unknown backend '{other}'"))),
        }
    }
}
