//! [`SqlStore`]: the reads of the [`Store`] port, and the way into a write transaction.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{AnyPool, FromRow, Row};
use time::OffsetDateTime;
use writ_domain::audit::{AuditRecord, AuditScope, OutboxEvent, Recipient};
use writ_domain::audit_chain::{ChainHead, ChainedAudit};
use writ_domain::clock::{from_micros, to_micros};
use writ_domain::directory::{
    AppRoleAssignment, Application, ApplicationKind, ClientSecret, DirectoryObject, Group,
    ObjectIdentity, ObjectKind, PermissionGrant, RoleAssignment, ServicePrincipal,
    ServicePrincipalKind, User, UserKind,
};
use writ_domain::entitlement::{ApprovalStageRecord, Assignment, AssignmentRequest, Subject};
use writ_domain::jobs::QueuedJob;
use writ_domain::query::{ListQuery, Page};
use writ_domain::request_waiter::RequestChanges;
use writ_domain::store::{
    AuditStore, DirectoryStore, EntitlementStore, IdempotentResponse, JobStore, Party, Store,
    StoreError, StoreResult, StoreTx,
};

use writ_odata::SqlValue;

use writ_domain::entitlement::{
    AccessPackage, AssignmentPolicy, Catalog, CatalogResource, ConnectedOrganization,
    CustomExtension, EmRoleAssignment, PackageRoleScope, ResourceRequest, ResourceRole,
    ResourceScope,
};

use crate::connect::Backend;
use crate::entitlement as em;
use crate::error::ResultExt;
use crate::group::Writer;
use crate::list::{ListSpec, list};
use crate::rows;
use crate::schema;
use crate::tx::SqlTx;

/// A transaction with SQLite's writer lock; the transaction ends before the lock is released
/// (fields drop in order). It runs on a connection of its own, outside any group of writes
/// ([`crate::group`]), and commits alone.
pub(crate) struct RawTx {
    pub(crate) tx: sqlx::Transaction<'static, sqlx::Any>,
    _writer: Option<tokio::sync::OwnedMutexGuard<crate::group::Group>>,
}

/// The SQL implementation of the store, on whichever backend it was connected to.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; its gate queues writers in the process instead of
    /// letting them fail with `SQLITE_BUSY`, and its group carries their transactions in one
    /// (group commit, [`crate::group`]). `None` on PostgreSQL.
    writer: Option<Arc<Writer>>,
    /// This process's waiters on requests, woken after each commit that updated one (and, on
    /// PostgreSQL, by the listener of [`crate::listen`] for other replicas' commits).
    changes: RequestChanges,
    /// On PostgreSQL, tells the other replicas which requests a commit changed.
    announcer: Option<crate::listen::Announcer>,
}

impl SqlStore {
    pub(crate) fn new(pool: AnyPool, backend: Backend, writer: Option<Arc<Writer>>) -> Self {
        let announcer =
            (backend == Backend::Postgres).then(|| crate::listen::Announcer::start(pool.clone()));
        Self {
            pool,
            backend,
            writer,
            changes: RequestChanges::default(),
            announcer,
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend_kind(&self) -> Backend {
        self.backend
    }

    /// A write transaction outside the [`StoreTx`] port (the webhook store's own), holding
    /// SQLite's writer lock like [`Store::begin`] does.
    ///
    /// On SQLite it begins `IMMEDIATE`: the database's write lock is taken at `BEGIN`, where the
    /// busy timeout applies, rather than at the first write of a transaction that has already
    /// read, which SQLite refuses at once (`SQLITE_BUSY`, "database is locked") whenever another
    /// connection still holds the lock, e.g. one whose dropped transaction is still rolling back.
    pub(crate) async fn begin_raw(&self) -> StoreResult<RawTx> {
        match &self.writer {
            Some(writer) => {
                let guard = writer.exclusive().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.store()?;
                Ok(RawTx {
                    tx,
                    _writer: Some(guard),
                })
            }
            None => Ok(RawTx {
                tx: self.pool.begin().await.store()?,
                _writer: None,
            }),
        }
    }

    /// SQLite's writer lock with no group of writes open, for a single write statement made
    /// outside a transaction (it commits alone); `None` on PostgreSQL, whose writers do not
    /// queue.
    pub(crate) async fn single_writer(
        &self,
    ) -> Option<tokio::sync::OwnedMutexGuard<crate::group::Group>> {
        match &self.writer {
            Some(writer) => Some(writer.exclusive().await),
            None => None,
        }
    }

    /// Closes the pool, waiting for connections in use to come back (on SQLite, after the
    /// open group of writes, if any, has committed).
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.pool.close().await;
    }

    /// (groups committed, write transactions they carried) on SQLite since the store was
    /// opened; `None` on PostgreSQL, which has no group commit.
    pub async fn group_commit_statistics(&self) -> Option<(u64, u64)> {
        match &self.writer {
            Some(writer) => Some(writer.statistics().await),
            None => None,
        }
    }

    /// Makes the next group `COMMIT` on SQLite fail, as SQLite refuses it (a deferred foreign
    /// key violated): a test's way to see each member of the group get the error.
    #[cfg(feature = "test-support")]
    pub fn fail_next_group_commit(&self) {
        if let Some(writer) = &self.writer {
            writer.fail_next_commit();
        }
    }

    /// How many writers wait for SQLite's writer gate (0 on PostgreSQL): lets a test line up
    /// writers behind one that holds it.
    #[cfg(feature = "test-support")]
    pub fn writers_waiting(&self) -> usize {
        self.writer.as_ref().map_or(0, |writer| writer.arriving())
    }

    /// A page of the objects linked to a parent (members or owners of a group), ordered by id.
    async fn page_of_links(
        &self,
        link: Link,
        parent_id: &str,
        now: OffsetDateTime,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        if query.filter.is_some() || query.orderby.is_some() {
            return Err(StoreError::InvalidQuery(
                "$filter and $orderby are not supported on this collection".into(),
            ));
        }
        let after = match query.skiptoken.as_deref() {
            Some(token) => crate::list::decode_id_token(token)?,
            None => String::new(),
        };
        let (table, column, current) = match link {
            Link::Members => (
                "group_members",
                "member_id",
                "(x.ends_at IS NULL OR x.ends_at > $2)",
            ),
            Link::Owners => (
                "group_owners",
                "owner_id",
                "(x.ends_at IS NULL OR x.ends_at > $2)",
            ),
        };
        let sql = format!(
            "SELECT DISTINCT x.{column} AS object_id FROM {table} x WHERE x.group_id = $1 \
             AND {current} AND x.{column} > $3 ORDER BY x.{column} LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(parent_id.to_owned())
            .bind(to_micros(now))
            .bind(after)
            .bind(i64::from(query.top) + 1)
            .fetch_all(&self.pool)
            .await
            .store()?;
        let mut items = Vec::new();
        let mut next_skiptoken = None;
        for (index, row) in rows.iter().enumerate() {
            if index == query.top as usize {
                next_skiptoken = items
                    .last()
                    .map(|o: &DirectoryObject| crate::list::encode_id_token(o.id()));
                break;
            }
            let id: String = row.try_get("object_id").store()?;
            if let Some(object) = self.directory_object(&id).await? {
                items.push(object);
            }
        }
        let count = if query.count {
            let sql = format!(
                "SELECT COUNT(DISTINCT x.{column}) AS n FROM {table} x WHERE x.group_id = $1 AND {current}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(parent_id.to_owned())
                .bind(to_micros(now))
                .fetch_one(&self.pool)
                .await
                .store()?;
            Some(row.try_get::<i64, _>("n").store()?)
        } else {
            None
        };
        Ok(Page {
            items,
            next_skiptoken,
            count,
        })
    }
}

impl SqlStore {
    /// Whether `count_sql` (a `COUNT(*) AS n` over a membership-like table, its parameters the
    /// group, the principal and `now`) finds a row that has not ended at `now`.
    async fn holds_live_row(
        &self,
        count_sql: &'static str,
        group_id: &str,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let row = sqlx::query(count_sql)
            .bind(group_id.to_owned())
            .bind(principal_id.to_owned())
            .bind(to_micros(now))
            .fetch_one(&self.pool)
            .await
            .store()?;
        Ok(row.try_get::<i64, _>("n").store()? > 0)
    }

    /// The objects with these ids, in the same order, skipping any deleted meanwhile.
    async fn objects(&self, ids: Vec<String>) -> StoreResult<Vec<DirectoryObject>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(object) = self.directory_object(&id).await? {
                out.push(object);
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, Copy)]
enum Link {
    Members,
    Owners,
}

/// A list's condition for grants that have not ended at `now` (invariant 2).
fn in_force(now: OffsetDateTime) -> (String, Vec<SqlValue>) {
    (
        "t.ends_at IS NULL OR t.ends_at > $1".into(),
        vec![SqlValue::I64(to_micros(now))],
    )
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        self.backend.name()
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let (tx, member) = match &self.writer {
            // A savepoint in SQLite's group of writes (group commit).
            Some(writer) => {
                let (tx, member) = writer.join().await?;
                (tx, Some(member))
            }
            None => (self.pool.begin().await.store()?, None),
        };
        Ok(Box::new(
            SqlTx::new(tx, member, self.backend)
                .waking(self.changes.clone(), self.announcer.clone()),
        ))
    }

    fn request_changes(&self) -> RequestChanges {
        self.changes.clone()
    }

    async fn ready(&self) -> StoreResult<()> {
        let expected = self
            .backend
            .migrator()
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let row =
            sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await
                .store()?;
        let applied: Option<i64> = row.try_get("v").store()?;
        if applied == Some(expected) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "schema version {applied:?}, this build expects {expected}"
            )))
        }
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key.to_owned())
            .fetch_optional(&self.pool)
            .await
            .store()?;
        row.map(|r| r.try_get("value").store()).transpose()
    }

    async fn idempotent_response(
        &self,
        principal_id: &str,
        route: &str,
        key: &str,
        not_before: OffsetDateTime,
    ) -> StoreResult<Option<IdempotentResponse>> {
        let row = sqlx::query(
            "SELECT body_hash, status, response_body FROM idempotency_keys \
             WHERE principal_id = $1 AND route = $2 AND idempotency_key = $3 AND created_at >= $4",
        )
        .bind(principal_id.to_owned())
        .bind(route.to_owned())
        .bind(key.to_owned())
        .bind(to_micros(not_before))
        .fetch_optional(&self.pool)
        .await
        .store()?;
        row.map(|r| {
            let r = IdempotencyRow::from_row(&r).store()?;
            Ok(IdempotentResponse {
                body_hash: r.body_hash,
                status: r.status.and_then(|s| u16::try_from(s).ok()),
                response_body: r.response_body,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl DirectoryStore for SqlStore {
    async fn object_kind(&self, id: &str) -> StoreResult<Option<ObjectKind>> {
        object_kind(&self.pool, id).await
    }

    async fn directory_object(&self, id: &str) -> StoreResult<Option<DirectoryObject>> {
        Ok(match self.object_kind(id).await? {
            Some(ObjectKind::User) => self.user(id).await?.map(DirectoryObject::User),
            Some(ObjectKind::Group) => self.group(id).await?.map(DirectoryObject::Group),
            Some(ObjectKind::ServicePrincipal) => self
                .service_principal(id)
                .await?
                .map(DirectoryObject::ServicePrincipal),
            Some(ObjectKind::Application) => self
                .application(id)
                .await?
                .map(DirectoryObject::Application),
            None => None,
        })
    }

    async fn user(&self, id: &str) -> StoreResult<Option<User>> {
        let mut conn = self.pool.acquire().await.store()?;
        user_with_identities(&mut conn, id).await
    }

    async fn user_by_identity(
        &self,
        issuer: &str,
        issuer_assigned_id: &str,
    ) -> StoreResult<Option<User>> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT user_id FROM user_identities WHERE issuer = $1 AND issuer_assigned_id = $2",
        )
        .bind(issuer.to_owned())
        .bind(issuer_assigned_id.to_owned())
        .fetch_optional(&self.pool)
        .await
        .store()?;
        match id {
            Some(id) => self.user(&id).await,
            None => Ok(None),
        }
    }

    async fn users_by_mail(&self, mail: &str, limit: u32) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {} FROM users t WHERE lower(t.mail) = lower($1) ORDER BY t.id LIMIT {}",
            rows::USER_COLUMNS,
            limit.min(100)
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(mail.to_owned())
            .fetch_all(&self.pool)
            .await
            .store()?;
        let mut users = rows
            .iter()
            .map(rows::user)
            .collect::<StoreResult<Vec<_>>>()?;
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let found = identities_of(&self.pool, &ids).await?;
        attach_identities(&mut users, found);
        Ok(users)
    }

    async fn user_by_principal_name(&self, upn: &str) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {} FROM users t WHERE lower(t.user_principal_name) = lower($1)",
            rows::USER_COLUMNS
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(upn.to_owned())
            .fetch_optional(&self.pool)
            .await
            .store()?;
        let Some(mut user) = row.map(|r| rows::user(&r)).transpose()? else {
            return Ok(None);
        };
        let found = identities_of(&self.pool, &[user.id.as_str()]).await?;
        attach_identities(std::slice::from_mut(&mut user), found);
        Ok(Some(user))
    }

    async fn list_users(
        &self,
        query: &ListQuery,
        kind: Option<UserKind>,
    ) -> StoreResult<Page<User>> {
        let mut page = list(
            &self.pool,
            ListSpec {
                schema: &schema::USER,
                from: "users t",
                columns: rows::USER_COLUMNS,
                base_where: kind.map(|k| {
                    (
                        "t.kind = $1".to_owned(),
                        vec![SqlValue::Text(k.as_str().into())],
                    )
                }),
            },
            query,
            rows::user,
        )
        .await?;
        let ids: Vec<&str> = page.items.iter().map(|u| u.id.as_str()).collect();
        let found = identities_of(&self.pool, &ids).await?;
        attach_identities(&mut page.items, found);
        Ok(page)
    }

    async fn group(&self, id: &str) -> StoreResult<Option<Group>> {
        group_by_id(&self.pool, id).await
    }

    async fn list_groups(&self, query: &ListQuery) -> StoreResult<Page<Group>> {
        list(
            &self.pool,
            ListSpec {
                schema: &schema::GROUP,
                from: "groups t",
                columns: rows::GROUP_COLUMNS,
                base_where: None,
            },
            query,
            rows::group,
        )
        .await
    }

    async fn list_group_members(
        &self,
        group_id: &str,
        now: OffsetDateTime,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        self.page_of_links(Link::Members, group_id, now, query)
            .await
    }

    async fn list_group_owners(
        &self,
        group_id: &str,
        now: OffsetDateTime,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        self.page_of_links(Link::Owners, group_id, now, query).await
    }

    async fn application_by_app_id(&self, app_id: &str) -> StoreResult<Option<Application>> {
        application_by(&self.pool, "app_id", app_id).await
    }

    async fn application_by_identifier_uri(&self, uri: &str) -> StoreResult<Option<Application>> {
        // The URIs are a JSON array; the LIKE narrows the candidates on the JSON text (with
        // LIKE's wildcards escaped), and the exact comparison decides.
        let escaped: String = uri
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM applications t WHERE lower(t.identifier_uris) LIKE $1 ESCAPE '\\' \
             ORDER BY t.id LIMIT 100",
            rows::APPLICATION_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(format!("%{escaped}%"))
            .fetch_all(&self.pool)
            .await
            .store()?;
        for row in &found {
            let app = rows::application(row)?;
            if app
                .identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/').eq_ignore_ascii_case(uri))
            {
                return Ok(Some(app));
            }
        }
        Ok(None)
    }

    async fn service_principal(&self, id: &str) -> StoreResult<Option<ServicePrincipal>> {
        service_principal_by(&self.pool, "id", id).await
    }

    async fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> StoreResult<Option<ServicePrincipal>> {
        service_principal_by(&self.pool, "app_id", app_id).await
    }

    async fn password_credentials(&self, owner_id: &str) -> StoreResult<Vec<ClientSecret>> {
        let found = sqlx::query(
            "SELECT key_id, owner_id, secret_hash, hint, display_name, start_at, end_at \
             FROM password_credentials WHERE owner_id = $1 ORDER BY start_at, key_id",
        )
        .bind(owner_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .store()?;
        found.iter().map(rows::client_secret).collect()
    }

    async fn application(&self, id: &str) -> StoreResult<Option<Application>> {
        application_by(&self.pool, "id", id).await
    }

    async fn list_applications(
        &self,
        query: &ListQuery,
        kind: Option<ApplicationKind>,
    ) -> StoreResult<Page<Application>> {
        list(
            &self.pool,
            ListSpec {
                schema: &schema::APPLICATION,
                from: "applications t",
                columns: rows::APPLICATION_COLUMNS,
                base_where: kind.map(|k| {
                    (
                        "t.kind = $1".to_owned(),
                        vec![SqlValue::Text(k.as_str().into())],
                    )
                }),
            },
            query,
            rows::application,
        )
        .await
    }

    async fn list_service_principals(
        &self,
        query: &ListQuery,
        kind: Option<ServicePrincipalKind>,
    ) -> StoreResult<Page<ServicePrincipal>> {
        list(
            &self.pool,
            ListSpec {
                schema: &schema::SERVICE_PRINCIPAL,
                from: "service_principals t",
                columns: rows::SERVICE_PRINCIPAL_COLUMNS,
                base_where: kind.map(|k| {
                    (
                        "t.kind = $1".to_owned(),
                        vec![SqlValue::Text(k.as_str().into())],
                    )
                }),
            },
            query,
            rows::service_principal,
        )
        .await
    }

    async fn sponsors(&self, object_id: &str) -> StoreResult<Vec<DirectoryObject>> {
        let ids = linked_ids(
            &self.pool,
            "SELECT sponsor_id AS linked FROM sponsors WHERE object_id = $1 ORDER BY sponsor_id",
            object_id,
        )
        .await?;
        self.objects(ids).await
    }

    async fn object_owners(&self, object_id: &str) -> StoreResult<Vec<DirectoryObject>> {
        let ids = linked_ids(
            &self.pool,
            "SELECT owner_id AS linked FROM object_owners WHERE object_id = $1 ORDER BY owner_id",
            object_id,
        )
        .await?;
        self.objects(ids).await
    }

    async fn app_role_assignments_of(
        &self,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>> {
        let sql = format!(
            "{} WHERE a.principal_id = $1 AND (a.ends_at IS NULL OR a.ends_at > $2) ORDER BY a.id",
            rows::APP_ROLE_ASSIGNMENT_SELECT
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(principal_id.to_owned())
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await
            .store()?;
        found.iter().map(rows::app_role_assignment).collect()
    }

    async fn app_role_assignments_to(
        &self,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<AppRoleAssignment>> {
        let sql = format!(
            "{} WHERE a.resource_id = $1 AND (a.ends_at IS NULL OR a.ends_at > $2) ORDER BY a.id",
            rows::APP_ROLE_ASSIGNMENT_SELECT
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(resource_id.to_owned())
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await
            .store()?;
        found.iter().map(rows::app_role_assignment).collect()
    }

    async fn permission_grants(
        &self,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> StoreResult<Page<PermissionGrant>> {
        list(
            &self.pool,
            ListSpec {
                schema: &schema::PERMISSION_GRANT,
                from: "oauth2_permission_grants t",
                columns: rows::PERMISSION_GRANT_COLUMNS,
                base_where: Some(in_force(now)),
            },
            query,
            rows::permission_grant,
        )
        .await
    }

    async fn permission_grant(&self, id: &str) -> StoreResult<Option<PermissionGrant>> {
        permission_grant_by_id(&self.pool, id).await
    }

    async fn role_assignments(
        &self,
        query: &ListQuery,
        now: OffsetDateTime,
    ) -> StoreResult<Page<RoleAssignment>> {
        list(
            &self.pool,
            ListSpec {
                schema: &schema::ROLE_ASSIGNMENT,
                from: "role_assignments t",
                columns: rows::ROLE_ASSIGNMENT_COLUMNS,
                base_where: Some(in_force(now)),
            },
            query,
            rows::role_assignment,
        )
        .await
    }

    async fn role_assignment(&self, id: &str) -> StoreResult<Option<RoleAssignment>> {
        role_assignment_by_id(&self.pool, id).await
    }

    async fn effective_app_roles(
        &self,
        principal_id: &str,
        resource_id: &str,
        now: OffsetDateTime,
        through_groups: bool,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>> {
        let direct = "SELECT a.app_role_id AS role, a.ends_at AS grant_end, NULL AS member_end \
             FROM app_role_assignments a WHERE a.principal_id = $1 AND a.resource_id = $2 \
             AND (a.ends_at IS NULL OR a.ends_at > $3)";
        let via_groups = " UNION ALL SELECT a.app_role_id, a.ends_at, m.ends_at \
             FROM app_role_assignments a JOIN group_members m ON m.group_id = a.principal_id \
             WHERE m.member_id = $1 AND a.resource_id = $2 \
             AND (a.ends_at IS NULL OR a.ends_at > $3) AND (m.ends_at IS NULL OR m.ends_at > $3)";
        let sql = if through_groups {
            format!("{direct}{via_groups}")
        } else {
            direct.to_owned()
        };
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(principal_id.to_owned())
            .bind(resource_id.to_owned())
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await
            .store()?;
        found.iter().map(role_with_end).collect()
    }

    async fn effective_directory_roles(
        &self,
        principal_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Option<OffsetDateTime>)>> {
        let found = sqlx::query(
            "SELECT r.role_definition_id AS role, r.ends_at AS grant_end, NULL AS member_end \
             FROM role_assignments r WHERE r.principal_id = $1 AND r.directory_scope_id = '/' \
             AND (r.ends_at IS NULL OR r.ends_at > $2) \
             UNION ALL SELECT r.role_definition_id, r.ends_at, m.ends_at \
             FROM role_assignments r JOIN group_members m ON m.group_id = r.principal_id \
             JOIN groups g ON g.id = r.principal_id \
             WHERE m.member_id = $1 AND g.is_assignable_to_role = TRUE \
             AND r.directory_scope_id = '/' AND (r.ends_at IS NULL OR r.ends_at > $2) \
             AND (m.ends_at IS NULL OR m.ends_at > $2)",
        )
        .bind(principal_id.to_owned())
        .bind(to_micros(now))
        .fetch_all(&self.pool)
        .await
        .store()?;
        found.iter().map(role_with_end).collect()
    }

    async fn is_group_member(
        &self,
        group_id: &str,
        member_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.holds_live_row(
            "SELECT COUNT(*) AS n FROM group_members WHERE group_id = $1 AND member_id = $2 \
             AND (ends_at IS NULL OR ends_at > $3)",
            group_id,
            member_id,
            now,
        )
        .await
    }

    async fn principal_names(&self, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
        crate::assignments::principal_names(&self.pool, self.backend, ids).await
    }

    async fn is_group_owner(
        &self,
        group_id: &str,
        owner_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        self.holds_live_row(
            "SELECT COUNT(*) AS n FROM group_owners WHERE group_id = $1 AND owner_id = $2 \
             AND (ends_at IS NULL OR ends_at > $3)",
            group_id,
            owner_id,
            now,
        )
        .await
    }

    async fn permission_grants_reaching(
        &self,
        principal_id: &str,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Vec<PermissionGrant>> {
        // Two indexed branches (the principal's own grants, the tenant-wide ones) rather than
        // an `OR` the planner would answer with a scan.
        let sql = format!(
            "SELECT {cols} FROM oauth2_permission_grants t WHERE t.principal_id = $1 \
             AND t.resource_id = $2 AND t.consent_type = 'Principal' \
             AND (t.ends_at IS NULL OR t.ends_at > $3) \
             UNION ALL SELECT {cols} FROM oauth2_permission_grants t WHERE t.resource_id = $2 \
             AND t.consent_type = 'AllPrincipals' AND (t.ends_at IS NULL OR t.ends_at > $3)",
            cols = rows::PERMISSION_GRANT_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(principal_id.to_owned())
            .bind(resource_id.to_owned())
            .bind(to_micros(now))
            .fetch_all(&self.pool)
            .await
            .store()?;
        found.iter().map(rows::permission_grant).collect()
    }

    async fn human_sponsors_of(
        &self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, Recipient)>> {
        crate::assignments::human_sponsors_of(&self.pool, self.backend, ids, now).await
    }

    async fn agents_without_sponsors(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<DirectoryObject>> {
        // Sponsorless agents are few (succession reports each one), so a page reads its ids
        // in one statement and its objects one by one.
        const AGENTS: &str = "SELECT id FROM service_principals WHERE kind = 'agentIdentity' \
             UNION ALL SELECT id FROM applications WHERE kind = 'agentIdentityBlueprint' \
             UNION ALL SELECT id FROM users WHERE kind = 'agentUser'";
        let after = query.skiptoken.clone().unwrap_or_default();
        let sql = format!(
            "SELECT a.id AS linked FROM ({AGENTS}) a \
             WHERE NOT EXISTS (SELECT 1 FROM sponsors s WHERE s.object_id = a.id) AND a.id > $1 \
             ORDER BY a.id LIMIT {}",
            u64::from(query.top) + 1
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(after)
            .fetch_all(&self.pool)
            .await
            .store()?;
        let mut ids = found
            .iter()
            .map(|r| r.try_get::<String, _>("linked").store())
            .collect::<StoreResult<Vec<String>>>()?;
        let more = ids.len() > query.top as usize;
        ids.truncate(query.top as usize);
        let next_skiptoken = if more { ids.last().cloned() } else { None };
        let count = if query.count {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM ({AGENTS}) a \
                 WHERE NOT EXISTS (SELECT 1 FROM sponsors s WHERE s.object_id = a.id)"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&self.pool)
                .await
                .store()?;
            Some(row.try_get::<i64, _>("n").store()?)
        } else {
            None
        };
        Ok(Page {
            items: self.objects(ids).await?,
            next_skiptoken,
            count,
        })
    }
}

#[async_trait]
impl EntitlementStore for SqlStore {
    async fn catalog(&self, id: &str) -> StoreResult<Option<Catalog>> {
        em::catalog_by_id(&self.pool, id).await
    }

    async fn list_catalogs(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<Catalog>> {
        em::list_catalogs(&self.pool, query, visible_to).await
    }

    async fn catalog_resource(&self, id: &str) -> StoreResult<Option<CatalogResource>> {
        em::resource_by_id(&self.pool, id).await
    }

    async fn list_catalog_resources(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<CatalogResource>> {
        em::list_in_catalog(
            &self.pool,
            catalog_id,
            query,
            (
                &schema::CATALOG_RESOURCE,
                "catalog_resources t",
                em::RESOURCE_COLUMNS,
            ),
            em::resource,
        )
        .await
    }

    async fn resource_roles_of(&self, resource_id: &str) -> StoreResult<Vec<ResourceRole>> {
        em::roles_of(&self.pool, resource_id).await
    }

    async fn resource_scopes_of(&self, resource_id: &str) -> StoreResult<Vec<ResourceScope>> {
        em::scopes_of(&self.pool, resource_id).await
    }

    async fn resource_role(&self, id: &str) -> StoreResult<Option<ResourceRole>> {
        em::role_by_id(&self.pool, id).await
    }

    async fn resource_scope(&self, id: &str) -> StoreResult<Option<ResourceScope>> {
        em::scope_by_id(&self.pool, id).await
    }

    async fn list_resource_roles(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<ResourceRole>> {
        em::list_in_catalog(
            &self.pool,
            catalog_id,
            query,
            (&schema::RESOURCE_ROLE, "resource_roles t", em::ROLE_COLUMNS),
            em::role,
        )
        .await
    }

    async fn list_resource_scopes(
        &self,
        catalog_id: &str,
        query: &ListQuery,
    ) -> StoreResult<Page<ResourceScope>> {
        em::list_in_catalog(
            &self.pool,
            catalog_id,
            query,
            (
                &schema::RESOURCE_SCOPE,
                "resource_scopes t",
                em::SCOPE_COLUMNS,
            ),
            em::scope,
        )
        .await
    }

    async fn list_resource_requests(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<ResourceRequest>> {
        em::list_requests(&self.pool, query, visible_to).await
    }

    async fn access_package(&self, id: &str) -> StoreResult<Option<AccessPackage>> {
        em::package_by_id(&self.pool, id).await
    }

    async fn list_access_packages(
        &self,
        query: &ListQuery,
        catalog_id: Option<&str>,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<AccessPackage>> {
        em::list_packages(&self.pool, query, catalog_id, visible_to).await
    }

    async fn package_role_scopes(&self, package_id: &str) -> StoreResult<Vec<PackageRoleScope>> {
        em::role_scopes_of(&self.pool, package_id).await
    }

    async fn em_role_assignment(&self, id: &str) -> StoreResult<Option<EmRoleAssignment>> {
        em::em_role_by_id(&self.pool, id).await
    }

    async fn assignment_policy(&self, id: &str) -> StoreResult<Option<AssignmentPolicy>> {
        em::policy_by_id(&self.pool, id).await
    }

    async fn connected_organization(&self, id: &str) -> StoreResult<Option<ConnectedOrganization>> {
        em::organization_by_id(&self.pool, id).await
    }

    async fn list_connected_organizations(
        &self,
        query: &ListQuery,
    ) -> StoreResult<Page<ConnectedOrganization>> {
        em::list_organizations(&self.pool, query).await
    }

    async fn connected_organization_sponsors(
        &self,
        id: &str,
        internal: bool,
    ) -> StoreResult<Vec<DirectoryObject>> {
        let ids = em::organization_sponsor_ids(&self.pool, id, internal).await?;
        self.objects(ids).await
    }

    async fn custom_extension(&self, id: &str) -> StoreResult<Option<CustomExtension>> {
        em::extension_by_id(&self.pool, id).await
    }

    async fn custom_extensions_of(&self, catalog_id: &str) -> StoreResult<Vec<CustomExtension>> {
        em::extensions_of(&self.pool, catalog_id).await
    }

    async fn callout(&self, id: &str) -> StoreResult<Option<writ_domain::entitlement::Callout>> {
        self.callout_by_id(id).await
    }

    async fn callouts_of(
        &self,
        holder_ids: &[String],
    ) -> StoreResult<Vec<writ_domain::entitlement::Callout>> {
        self.callouts_of_holders(holder_ids).await
    }

    async fn self_requestable_policies(&self) -> StoreResult<Vec<AssignmentPolicy>> {
        em::self_requestable_policies(&self.pool).await
    }

    async fn packages_granting(
        &self,
        origin_system: &str,
        resource_origin_id: &str,
        role_origin_id: &str,
    ) -> StoreResult<Vec<(AccessPackage, Vec<AssignmentPolicy>)>> {
        em::packages_granting(
            &self.pool,
            origin_system,
            resource_origin_id,
            role_origin_id,
        )
        .await
    }

    async fn incompatible_packages(
        &self,
        package_id: &str,
        outgoing: bool,
    ) -> StoreResult<Vec<AccessPackage>> {
        em::incompatible_packages(&self.pool, package_id, outgoing).await
    }

    async fn incompatible_groups(&self, package_id: &str) -> StoreResult<Vec<Group>> {
        let sql = format!(
            "SELECT {} FROM groups t WHERE t.id IN (SELECT i.group_id FROM \
             package_incompatible_groups i WHERE i.package_id = $1) ORDER BY t.id",
            rows::GROUP_COLUMNS
        );
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(package_id.to_owned())
            .fetch_all(&self.pool)
            .await
            .store()?;
        found.iter().map(rows::group).collect()
    }

    async fn policies_of_package(&self, package_id: &str) -> StoreResult<Vec<AssignmentPolicy>> {
        em::policies_of_package(&self.pool, package_id).await
    }

    async fn package_with_policies(
        &self,
        id: &str,
    ) -> StoreResult<Option<(AccessPackage, Vec<AssignmentPolicy>)>> {
        em::package_with_policies(&self.pool, id).await
    }

    async fn list_policies(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
    ) -> StoreResult<Page<AssignmentPolicy>> {
        em::list_policies(&self.pool, query, visible_to).await
    }

    async fn list_em_role_assignments(
        &self,
        query: &ListQuery,
        catalogs_of: Option<&str>,
    ) -> StoreResult<Page<EmRoleAssignment>> {
        em::list_em_roles(&self.pool, query, catalogs_of).await
    }

    async fn em_roles_of(&self, principal_id: &str) -> StoreResult<Vec<(String, Option<String>)>> {
        em::em_roles_of(&self.pool, principal_id).await
    }

    async fn assignment_request(&self, id: &str) -> StoreResult<Option<AssignmentRequest>> {
        crate::assignments::request_by_id(&self.pool, id).await
    }

    async fn list_assignment_requests(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
        party: Option<(Party, &str)>,
    ) -> StoreResult<Page<AssignmentRequest>> {
        crate::assignments::list_requests(&self.pool, query, visible_to, party).await
    }

    async fn assignment(&self, id: &str) -> StoreResult<Option<Assignment>> {
        crate::assignments::assignment_by_id(&self.pool, id).await
    }

    async fn list_assignments(
        &self,
        query: &ListQuery,
        visible_to: Option<&str>,
        party: Option<(Party, &str)>,
    ) -> StoreResult<Page<Assignment>> {
        crate::assignments::list_assignments(&self.pool, query, visible_to, party).await
    }

    async fn assignments_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Assignment>> {
        crate::assignments::assignments_by_ids(&self.pool, self.backend, ids).await
    }

    async fn list_additional_access(
        &self,
        query: &ListQuery,
        package_id: &str,
        other_package_ids: &[String],
    ) -> StoreResult<Page<Assignment>> {
        crate::assignments::list_additional_access(&self.pool, query, package_id, other_package_ids)
            .await
    }

    async fn approval_stages(&self, request_id: &str) -> StoreResult<Vec<ApprovalStageRecord>> {
        crate::assignments::stages_of(&self.pool, request_id).await
    }

    async fn list_approvals(
        &self,
        query: &ListQuery,
        party: (Party, &str),
    ) -> StoreResult<Page<AssignmentRequest>> {
        crate::parties::list_approvals(&self.pool, query, party).await
    }

    async fn list_subjects(&self, query: &ListQuery) -> StoreResult<Page<Subject>> {
        crate::subjects::list_subjects(&self.pool, query).await
    }

    async fn subject(&self, id: &str) -> StoreResult<Option<Subject>> {
        crate::subjects::subject_by_id(&self.pool, id).await
    }

    async fn principal_subject(
        &self,
        id: &str,
    ) -> StoreResult<Option<(Subject, Option<writ_domain::model::RiskState>)>> {
        crate::subjects::principal_subject(&self.pool, id).await
    }

    async fn principal_subjects(&self, ids: &[String]) -> StoreResult<Vec<Subject>> {
        crate::subjects::principal_subjects(&self.pool, self.backend, ids).await
    }

    async fn active_assignments_of(&self, target_id: &str) -> StoreResult<Vec<Assignment>> {
        crate::assignments::live_assignments_of(&self.pool, target_id, None).await
    }

    // The portal's agents pages (part A of issue 17).

    async fn sponsored_agents(
        &self,
        person_id: &str,
        now: OffsetDateTime,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<writ_domain::store::SponsoredAgent>> {
        crate::portal_agents::sponsored_agents(&self.pool, person_id, now, offset, limit).await
    }

    async fn assignments_of_targets(
        &self,
        ids: &[String],
        live: bool,
        limit: u32,
    ) -> StoreResult<Vec<Assignment>> {
        crate::portal_agents::assignments_of_targets(&self.pool, self.backend, ids, live, limit)
            .await
    }

    async fn requests_of_targets(
        &self,
        ids: &[String],
        open: bool,
        limit: u32,
    ) -> StoreResult<Vec<AssignmentRequest>> {
        crate::portal_agents::requests_of_targets(&self.pool, self.backend, ids, open, limit).await
    }

    async fn on_behalf_requestable_policies(&self) -> StoreResult<Vec<AssignmentPolicy>> {
        crate::portal_agents::on_behalf_requestable_policies(&self.pool).await
    }

    async fn assignment_requests_by_ids(
        &self,
        ids: &[String],
    ) -> StoreResult<Vec<AssignmentRequest>> {
        crate::assignments::requests_by_ids(&self.pool, self.backend, ids).await
    }

    async fn approval_stages_of_requests(
        &self,
        request_ids: &[String],
    ) -> StoreResult<Vec<ApprovalStageRecord>> {
        crate::assignments::stages_of_requests(&self.pool, self.backend, request_ids).await
    }

    async fn stages_decided_by(
        &self,
        reviewer_id: &str,
        top: u32,
        before: Option<(OffsetDateTime, String)>,
    ) -> StoreResult<Vec<ApprovalStageRecord>> {
        crate::assignments::stages_decided_by(&self.pool, reviewer_id, top, before).await
    }
}

#[async_trait]
impl JobStore for SqlStore {
    fn webhooks(&self) -> &dyn writ_domain::webhooks::WebhookStore {
        self
    }

    fn callout_queue(&self) -> &dyn writ_domain::entitlement::CalloutQueueStore {
        self
    }

    fn email(&self) -> &dyn writ_domain::email::EmailStore {
        self
    }

    async fn next_job_due(&self) -> StoreResult<Option<OffsetDateTime>> {
        crate::jobs::next_due(&self.pool).await
    }

    async fn jobs_about(&self, subject_id: &str) -> StoreResult<Vec<QueuedJob>> {
        crate::jobs::about(&self.pool, subject_id).await
    }

    async fn list_jobs(&self, query: &ListQuery) -> StoreResult<Page<QueuedJob>> {
        crate::jobs::list_queued(&self.pool, query).await
    }

    async fn job(&self, id: &str) -> StoreResult<Option<QueuedJob>> {
        crate::jobs::by_id(&self.pool, id).await
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn audit_records(&self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        crate::audit::all(&self.pool, limit).await
    }

    async fn audit_record(&self, id: &str) -> StoreResult<Option<AuditRecord>> {
        crate::audit::by_id(&self.pool, id).await
    }

    async fn list_audit_records(
        &self,
        query: &ListQuery,
        scope: &AuditScope,
    ) -> StoreResult<Page<AuditRecord>> {
        crate::audit::list_records(&self.pool, query, scope).await
    }

    async fn audit_chain_head(&self) -> StoreResult<ChainHead> {
        crate::audit::chain_head(&self.pool).await
    }

    async fn chained_audits(
        &self,
        after: Option<&(i64, String)>,
        limit: u32,
    ) -> StoreResult<Vec<ChainedAudit>> {
        crate::audit::chained(&self.pool, after, limit).await
    }

    async fn unchained_audit_count(&self) -> StoreResult<i64> {
        crate::audit::unchained_count(&self.pool).await
    }

    async fn outbox_events(&self, limit: u32) -> StoreResult<Vec<OutboxEvent>> {
        let found = sqlx::query(
            "SELECT id, event_type, occurred_at, data, recipients FROM outbox_events \
             ORDER BY occurred_at, id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .store()?;
        found.iter().map(crate::deliveries::event_row).collect()
    }
}

pub(crate) async fn object_kind<'e, E>(executor: E, id: &str) -> StoreResult<Option<ObjectKind>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT object_type FROM directory_objects WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    match row {
        Some(r) => {
            let text: String = r.try_get("object_type").store()?;
            ObjectKind::parse(&text)
                .map(Some)
                .ok_or_else(|| StoreError::Other(format!("unknown object_type {text}")))
        }
        None => Ok(None),
    }
}

pub(crate) async fn user_by_id<'e, E>(executor: E, id: &str) -> StoreResult<Option<User>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {} FROM users t WHERE t.id = $1", rows::USER_COLUMNS);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::user(&r)).transpose()
}

/// The `identities` of these users, in the order each collection was written, as
/// (user id, identity). One query for a whole page of users.
pub(crate) async fn identities_of<'e, E>(
    executor: E,
    user_ids: &[&str],
) -> StoreResult<Vec<(String, ObjectIdentity)>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    if user_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=user_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT user_id, sign_in_type, issuer, issuer_assigned_id FROM user_identities \
         WHERE user_id IN ({}) ORDER BY user_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in user_ids {
        query = query.bind((*id).to_owned());
    }
    let rows = query.fetch_all(executor).await.store()?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>(0).store()?,
                ObjectIdentity {
                    sign_in_type: r.try_get(1).store()?,
                    issuer: r.try_get(2).store()?,
                    issuer_assigned_id: r.try_get(3).store()?,
                },
            ))
        })
        .collect()
}

/// Fills each user's `identities` from the rows [`identities_of`] read.
pub(crate) fn attach_identities(users: &mut [User], mut found: Vec<(String, ObjectIdentity)>) {
    for user in users.iter_mut() {
        let (mine, rest): (Vec<_>, Vec<_>) = found.into_iter().partition(|(id, _)| *id == user.id);
        user.identities = mine.into_iter().map(|(_, identity)| identity).collect();
        found = rest;
    }
}

/// One user with its `identities`.
pub(crate) async fn user_with_identities(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> StoreResult<Option<User>> {
    let Some(mut user) = user_by_id(&mut *conn, id).await? else {
        return Ok(None);
    };
    let found = identities_of(&mut *conn, &[user.id.as_str()]).await?;
    attach_identities(std::slice::from_mut(&mut user), found);
    Ok(Some(user))
}

pub(crate) async fn group_by_id<'e, E>(executor: E, id: &str) -> StoreResult<Option<Group>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM groups t WHERE t.id = $1",
        rows::GROUP_COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::group(&r)).transpose()
}

/// Ids from a one-column query with one text parameter (the statement is a constant).
pub(crate) async fn linked_ids<'e, E>(
    executor: E,
    sql: &'static str,
    id: &str,
) -> StoreResult<Vec<String>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let found = sqlx::query(sql)
        .bind(id.to_owned())
        .fetch_all(executor)
        .await
        .store()?;
    found.iter().map(|r| r.try_get("linked").store()).collect()
}

/// `column` is one of the constant names passed by this crate, never input.
pub(crate) async fn application_by<'e, E>(
    executor: E,
    column: &'static str,
    value: &str,
) -> StoreResult<Option<Application>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM applications t WHERE t.{column} = $1",
        rows::APPLICATION_COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::application(&r)).transpose()
}

pub(crate) async fn service_principal_by<'e, E>(
    executor: E,
    column: &'static str,
    value: &str,
) -> StoreResult<Option<ServicePrincipal>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM service_principals t WHERE t.{column} = $1",
        rows::SERVICE_PRINCIPAL_COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::service_principal(&r)).transpose()
}

pub(crate) async fn permission_grant_by_id<'e, E>(
    executor: E,
    id: &str,
) -> StoreResult<Option<PermissionGrant>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM oauth2_permission_grants t WHERE t.id = $1",
        rows::PERMISSION_GRANT_COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::permission_grant(&r)).transpose()
}

pub(crate) async fn role_assignment_by_id<'e, E>(
    executor: E,
    id: &str,
) -> StoreResult<Option<RoleAssignment>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {} FROM role_assignments t WHERE t.id = $1",
        rows::ROLE_ASSIGNMENT_COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::role_assignment(&r)).transpose()
}

pub(crate) async fn app_role_assignment_by_id<'e, E>(
    executor: E,
    id: &str,
) -> StoreResult<Option<AppRoleAssignment>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("{} WHERE a.id = $1", rows::APP_ROLE_ASSIGNMENT_SELECT);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(executor)
        .await
        .store()?;
    row.map(|r| rows::app_role_assignment(&r)).transpose()
}

/// A role reached through one path, ending at the earlier of the grant's and the membership's end.
fn role_with_end(row: &sqlx::any::AnyRow) -> StoreResult<(String, Option<OffsetDateTime>)> {
    let RoleEndRow {
        role,
        grant_end,
        member_end,
    } = RoleEndRow::from_row(row).store()?;
    let end = match (grant_end, member_end) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    };
    Ok((role, end.map(from_micros)))
}

/// A role held through one path, with the ends of the grant and of the membership it goes
/// through (none for a direct grant).
#[derive(sqlx::FromRow)]
struct RoleEndRow {
    role: String,
    grant_end: Option<i64>,
    member_end: Option<i64>,
}

/// A remembered `Idempotency-Key`.
#[derive(sqlx::FromRow)]
struct IdempotencyRow {
    body_hash: String,
    status: Option<i64>,
    response_body: Option<String>,
}
