//! Test databases on either backend (feature `test-support`, enabled by the test suite's
//! dev-dependency only). PostgreSQL tests need `WRIT_TEST_POSTGRES_URL` (a server URL whose user
//! may create databases; `scripts/test.sh` starts one and sets it). Without it they fail with a
//! message saying so, rather than skip: every storage test must run on both backends.
//!
//! Migrating a database per test cost more than most tests, and the databases were never
//! dropped. Now each backend has one migrated template per migration set, named after the set's
//! hash so that runs of different code never share one: on PostgreSQL a database built under an
//! advisory lock (several test processes may start at once) and copied per test with
//! `CREATE DATABASE … TEMPLATE`; on SQLite a file copied per test. A test's database is dropped
//! when the last handle on its store is gone, whether the test passed or failed (on PostgreSQL by
//! a background thread, since a drop waits for a checkpoint); leftovers (the name carries its
//! creation time and process) are dropped at the first use in a process once their process has
//! ended, or once they are an hour old where the system cannot tell. Migration tests take an [`empty_database`] instead.
//!
//! Also forged `$skiptoken`s, for tests of what the store does with keys a client made up, and
//! the skiptoken codec itself for its property tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::OnceCell;
use writ_domain::store::StoreError;

use crate::connect::{Backend, ConnectOptions, connect, connect_holding, migrate};
use crate::error::ResultExt;
use crate::store::SqlStore;

pub const POSTGRES_ENV: &str = "WRIT_TEST_POSTGRES_URL";

/// What every test database's name starts with, followed by its creation time (Unix seconds),
/// the creating process's id and a random part. Names from before templates (`writ_test_` and 32 hex digits) carry no
/// time; on PostgreSQL their age is read from the server instead.
const PREFIX: &str = "writ_test_";
/// Leftovers younger than this may belong to a run still going.
const LEFTOVER_AGE: Duration = Duration::from_secs(3600);
/// The session advisory lock key under which a template is built ("wrtt" in ASCII); distinct
/// from the store's bootstrap lock.
const TEMPLATE_LOCK: i64 = 2_003_989_620;

/// A test database, dropped (PostgreSQL) or deleted with its `-wal` and `-shm` files (SQLite)
/// when this is dropped.
pub struct TestDatabase {
    url: String,
    place: Place,
}

enum Place {
    Postgres { server: String, name: String },
    Sqlite(PathBuf),
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.place {
            Place::Sqlite(path) => remove_sqlite_files(path),
            Place::Postgres { server, name } => {
                // A drop waits for a checkpoint: done in line it cost the suite a third of its
                // PostgreSQL time, so it is queued to one background thread. What a process's
                // exit cuts short is dropped by the next process's sweep (the name says whose).
                postgres_dropper().send(server.clone(), name.clone());
            }
        }
    }
}

/// A connected, migrated store on a database of its own (a copy of the template), dropped when
/// the last handle on the store is gone.
pub async fn fresh_store(backend: Backend) -> Result<SqlStore, StoreError> {
    let database = copy_of_template(backend).await?;
    let options = ConnectOptions::new(database.url.clone());
    connect_holding(&options, Some(Arc::new(database))).await
}

/// The plan the backend makes for the store's set-wise read of assignments by id (the read of an
/// expiry batch, through `batch::id_set`), one line per step: for the test that guards it
/// against a scan of the whole table, which a planner's guess of the set's size once caused on
/// PostgreSQL (issue 20 part R: 8.7 ms instead of 0.05 ms for 5 ids among 5,000 rows).
pub async fn plan_of_assignments_by_ids(
    store: &SqlStore,
    ids: &[String],
) -> Result<String, StoreError> {
    use sqlx::Row;
    let backend = store.backend_kind();
    let explain = match backend {
        Backend::Postgres => "EXPLAIN",
        Backend::Sqlite => "EXPLAIN QUERY PLAN",
    };
    let read =
        crate::assignments::with_id_set(backend, &crate::assignments::assignments_by_ids_select());
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{explain} {read}")))
        .bind(crate::batch::id_array(ids)?)
        .fetch_all(store.pool())
        .await
        .store()?;
    // PostgreSQL: one text column; SQLite: (id, parent, notused, detail).
    let column = match backend {
        Backend::Postgres => 0,
        Backend::Sqlite => 3,
    };
    let lines: Result<Vec<String>, _> = rows.iter().map(|r| r.try_get(column)).collect();
    Ok(lines.store()?.join("\n"))
}

/// A new database with nothing in it, not even migrations (for tests of migrating), dropped
/// when the returned value is.
pub async fn empty_database(backend: Backend) -> Result<TestDatabase, StoreError> {
    let name = new_name();
    match backend {
        Backend::Sqlite => {
            let path = sqlite_dir()?.join(format!("{name}.db"));
            Ok(TestDatabase {
                url: format!("sqlite://{}", path.display()),
                place: Place::Sqlite(path),
            })
        }
        Backend::Postgres => {
            let server = postgres_server()?;
            prepare_postgres(&server).await?;
            create_postgres_database(&server, &name, None).await?;
            Ok(postgres_database(server, name))
        }
    }
}

async fn copy_of_template(backend: Backend) -> Result<TestDatabase, StoreError> {
    let name = new_name();
    match backend {
        Backend::Sqlite => {
            let template = sqlite_template().await?;
            let path = template.with_file_name(format!("{name}.db"));
            // The copy keeps the template's mode (0600, as `connect` creates database files).
            std::fs::copy(&template, &path).map_err(|e| other("copying the template", e))?;
            Ok(TestDatabase {
                url: format!("sqlite://{}", path.display()),
                place: Place::Sqlite(path),
            })
        }
        Backend::Postgres => {
            let server = postgres_server()?;
            let template = postgres_template(&server).await?;
            create_postgres_database(&server, &name, Some(template)).await?;
            Ok(postgres_database(server, name))
        }
    }
}

fn other(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("test database: {what}: {e}"))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn new_name() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{PREFIX}{}_{}_{}_{}",
        unix_now(),
        host_tag(),
        std::process::id(),
        &random[..12]
    )
}

/// Eight hex digits naming this machine (FNV-1a of its host name), so that a process id is only
/// ever judged on the machine it belongs to when several share one PostgreSQL server.
fn host_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut hash: u32 = 0x811c_9dc5;
    for byte in host.trim().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// When a test database of this name was created, if the name says.
fn created_at(name: &str) -> Option<u64> {
    let (secs, _) = name.strip_prefix(PREFIX)?.split_once('_')?;
    secs.parse().ok()
}

/// The machine and process that created a test database of this name, if the name says.
fn creator(name: &str) -> Option<(&str, u32)> {
    let mut parts = name.strip_prefix(PREFIX)?.split('_');
    let _created = parts.next()?;
    let host = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((host, pid))
}

/// Whether the creating process, on this machine, has ended, where the system can tell
/// (`/proc`): its databases are leftovers whatever their age.
fn creator_ended(name: &str) -> bool {
    let Some((host, pid)) = creator(name) else {
        return false;
    };
    host == host_tag()
        && Path::new("/proc/self").exists()
        && !Path::new(&format!("/proc/{pid}")).exists()
}

/// The template's name: the backend's migration set (versions and checksums) hashed with
/// FNV-1a, which, unlike `std`'s hasher, is the same in every build.
fn template_name(backend: Backend) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in backend.migrator().iter() {
        let version = migration.version.to_le_bytes();
        for byte in version.iter().chain(migration.checksum.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("writ_template_{}_{hash:016x}", backend.name())
}

// ----- SQLite -----

fn sqlite_dir() -> Result<PathBuf, StoreError> {
    let dir = std::env::temp_dir().join("writ-tests");
    std::fs::create_dir_all(&dir).map_err(|e| other("creating the directory", e))?;
    Ok(dir)
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(file));
    }
}

/// The migrated template file, made once per process (the first test to need it makes it;
/// the others wait).
async fn sqlite_template() -> Result<PathBuf, StoreError> {
    static TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();
    TEMPLATE
        .get_or_try_init(|| async {
            let dir = sqlite_dir()?;
            sweep_sqlite(&dir);
            let template = dir.join(format!("{}.db", template_name(Backend::Sqlite)));
            if template.exists() {
                return Ok(template);
            }
            // Built under a name of its own and renamed into place, so another process never
            // copies a half-migrated file; two processes building at once both rename an
            // identical file.
            let building = dir.join(format!("{}.building.db", new_name()));
            let url = format!("sqlite://{}", building.display());
            let store = connect(&ConnectOptions::new(url)).await?;
            let built = async {
                migrate(&store).await?;
                // Everything into the main file: the copies are of that file alone.
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(store.pool())
                    .await
                    .map_err(|e| other("checkpointing the template", e))?;
                Ok::<(), StoreError>(())
            }
            .await;
            store.close().await;
            let renamed = built.and_then(|()| {
                std::fs::rename(&building, &template).map_err(|e| other("renaming", e))
            });
            remove_sqlite_files(&building);
            renamed.map(|()| template)
        })
        .await
        .cloned()
}

/// Deletes test database files an hour old or more, from runs that crashed.
fn sweep_sqlite(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age >= LEFTOVER_AGE);
        if old && entry.file_name().to_string_lossy().starts_with(PREFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// ----- PostgreSQL -----

fn postgres_server() -> Result<String, StoreError> {
    std::env::var(POSTGRES_ENV).map_err(|_| {
        StoreError::Other(format!(
            "{POSTGRES_ENV} is not set: run the tests with scripts/test.sh, which starts \
             PostgreSQL, or point {POSTGRES_ENV} at a server (postgres://user@host:port/db)"
        ))
    })
}

/// The URL of database `name` on the server `server` points at.
fn postgres_url(server: &str, name: &str) -> String {
    let base = match server.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &server[..slash],
        _ => server,
    };
    let query = server.find('?').map(|q| &server[q..]).unwrap_or("");
    format!("{base}/{name}{query}")
}

fn postgres_database(server: String, name: String) -> TestDatabase {
    TestDatabase {
        url: postgres_url(&server, &name),
        place: Place::Postgres { server, name },
    }
}

async fn admin_connection(server: &str) -> Result<PgConnection, StoreError> {
    PgConnection::connect(server)
        .await
        .map_err(|e| StoreError::Other(format!("{POSTGRES_ENV}: {e}")))
}

/// Runs `sql`, built only from generated names (never from input).
async fn run(connection: &mut PgConnection, sql: String) -> Result<(), StoreError> {
    connection
        .execute(sqlx::AssertSqlSafe(sql))
        .await
        .map(|_| ())
        .map_err(|e| other("statement", e))
}

async fn create_postgres_database(
    server: &str,
    name: &str,
    template: Option<&str>,
) -> Result<(), StoreError> {
    let mut admin = admin_connection(server).await?;
    let sql = match template {
        Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
        None => format!("CREATE DATABASE {name}"),
    };
    let created = run(&mut admin, sql).await;
    let _ = admin.close().await;
    created
}

async fn drop_postgres_database(server: &str, name: &str) -> Result<(), String> {
    let mut admin = admin_connection(server).await.map_err(|e| e.to_string())?;
    let dropped = run(
        &mut admin,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    let _ = admin.close().await;
    dropped.map_err(|e| e.to_string())
}

/// The one thread that drops this process's PostgreSQL test databases, in the order their tests
/// end, on a runtime of its own (a `Drop` may not block on async work).
struct PostgresDropper(std::sync::Mutex<std::sync::mpsc::Sender<(String, String)>>);

impl PostgresDropper {
    fn send(&self, server: String, name: String) {
        let sent = match self.0.lock() {
            Ok(sender) => sender.send((server, name.clone())).is_ok(),
            Err(_) => false,
        };
        if !sent {
            eprintln!(
                "test database {name} not dropped: the dropper is gone (the next run drops it)"
            );
        }
    }
}

fn postgres_dropper() -> &'static PostgresDropper {
    static DROPPER: std::sync::OnceLock<PostgresDropper> = std::sync::OnceLock::new();
    DROPPER.get_or_init(|| {
        let (sender, receiver) = std::sync::mpsc::channel::<(String, String)>();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            for (server, name) in receiver {
                if let Err(e) = runtime.block_on(drop_postgres_database(&server, &name)) {
                    eprintln!("test database {name} not dropped: {e}");
                }
            }
        });
        PostgresDropper(std::sync::Mutex::new(sender))
    })
}

/// Once per process: the leftover sweep.
async fn prepare_postgres(server: &str) -> Result<(), StoreError> {
    static SWEPT: OnceCell<()> = OnceCell::const_new();
    SWEPT
        .get_or_try_init(|| async {
            let mut admin = admin_connection(server).await?;
            sweep_postgres(&mut admin).await;
            let _ = admin.close().await;
            Ok(())
        })
        .await
        .copied()
}

/// The migrated template, built once per migration set: the first process to take the
/// advisory lock builds it under a temporary name and renames it, so no process ever copies a
/// half-migrated template; the others find it made.
async fn postgres_template(server: &str) -> Result<&'static str, StoreError> {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    prepare_postgres(server).await?;
    TEMPLATE
        .get_or_try_init(|| async {
            let template = template_name(Backend::Postgres);
            let mut admin = admin_connection(server).await?;
            let built = build_postgres_template(&mut admin, server, &template).await;
            // Closing the session releases the advisory lock, whatever happened.
            let _ = admin.close().await;
            built.map(|()| template)
        })
        .await
        .map(String::as_str)
}

async fn build_postgres_template(
    admin: &mut PgConnection,
    server: &str,
    template: &str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK)
        .execute(&mut *admin)
        .await
        .map_err(|e| other("taking the template lock", e))?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(template)
        .fetch_optional(&mut *admin)
        .await
        .map_err(|e| other("looking for the template", e))?;
    if exists.is_some() {
        return Ok(());
    }
    let building = format!("{template}_building");
    run(
        admin,
        format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
    )
    .await?;
    run(admin, format!("CREATE DATABASE {building}")).await?;
    let store = connect(&ConnectOptions::new(postgres_url(server, &building))).await?;
    let migrated = migrate(&store).await;
    store.close().await;
    migrated?;
    // PostgreSQL waits a few seconds for the closed sessions to end before refusing this.
    run(
        admin,
        format!("ALTER DATABASE {building} RENAME TO {template}"),
    )
    .await
}

/// Drops test databases an hour old or more, from runs that crashed. Best effort: a database
/// another process drops first, or an age the server will not tell, is left alone.
async fn sweep_postgres(admin: &mut PgConnection) {
    // The age of databases named before names carried it: their first file's modification
    // time (superusers and `pg_read_server_files` only; others get no age).
    let with_age = "SELECT datname, floor(extract(epoch FROM now() - \
                    (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification))::bigint \
                    FROM pg_database WHERE datname LIKE 'writ\\_test\\_%'";
    let without_age =
        "SELECT datname, NULL::bigint FROM pg_database WHERE datname LIKE 'writ\\_test\\_%'";
    let mut rows: Vec<(String, Option<i64>)> =
        match sqlx::query_as(with_age).fetch_all(&mut *admin).await {
            Ok(rows) => rows,
            Err(_) => sqlx::query_as(without_age)
                .fetch_all(&mut *admin)
                .await
                .unwrap_or_default(),
        };
    let now = unix_now();
    let limit = LEFTOVER_AGE.as_secs();
    rows.retain(|(name, file_age)| match created_at(name) {
        Some(created) => creator_ended(name) || now.saturating_sub(created) >= limit,
        None => file_age.is_some_and(|age| age >= limit as i64),
    });
    for (name, _) in rows {
        // Names come from the server's catalog; quoted, so any name is one identifier.
        let quoted = name.replace('"', "\"\"");
        let _ = run(
            admin,
            format!("DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"),
        )
        .await;
    }
}

// ----- skiptokens -----

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

/// The skiptoken codec of `list.rs`, for its property tests in the test suite.
pub mod skiptoken {
    use writ_domain::store::StoreError;
    use writ_odata::SqlValue;

    pub fn encode_token(fp: &str, keys: &[SqlValue]) -> String {
        crate::list::encode_token(fp, keys)
    }

    pub fn decode_token(
        token: &str,
        fp: &str,
        expected_keys: usize,
    ) -> Result<Vec<SqlValue>, StoreError> {
        crate::list::decode_token(token, fp, expected_keys)
    }

    pub fn decode_id_token(token: &str) -> Result<String, StoreError> {
        crate::list::decode_id_token(token)
    }
}
