//! [`SqlTx`]: the writes of the [`StoreTx`] port, inside one database transaction.

use async_trait::async_trait;
use sqlx::{Any, Row, Transaction};
use time::OffsetDateTime;
use writ_domain::audit::{AuditRecord, OutboxEvent};
use writ_domain::audit_chain::{AuditLink, ChainHead};
use writ_domain::clock::to_micros;
use writ_domain::directory::{
    AppRoleAssignment, Application, ClientSecret, Group, ObjectIdentity, ObjectKind,
    PermissionGrant, RoleAssignment, ServicePrincipal, SponsorHandover, User,
};
use writ_domain::entitlement::{
    ApprovalStageRecord, Assignment, AssignmentRequest, HeldGrant, RequestState,
};
use writ_domain::jobs::{ClaimedJob, NewJob};
use writ_domain::request_waiter::RequestChanges;
use writ_domain::store::{
    AddBlocker, AuditStoreTx, DirectoryStoreTx, EntitlementStoreTx, JobStoreTx, StoreError,
    StoreResult, StoreTx,
};

use writ_domain::entitlement::{
    AccessPackage, AssignmentPolicy, Catalog, CatalogResource, ConnectedOrganization,
    CustomExtension, EmRoleAssignment, PackageRoleScope, ResourceRequest, ResourceRole,
    ResourceScope,
};

use crate::connect::Backend;
use crate::entitlement as em;
use crate::error::ResultExt;
use crate::group::Member;
use crate::store::{
    app_role_assignment_by_id, application_by, group_by_id, linked_ids, object_kind,
    role_assignment_by_id, service_principal_by,
};

pub(crate) struct SqlTx {
    // Field order matters: the transaction (on SQLite, the member's savepoint) must end before
    // the SQLite writer's gate is released.
    pub(crate) tx: Transaction<'static, Any>,
    /// On SQLite, this transaction's place in the group of writes ([`crate::group`]).
    member: Option<Member>,
    backend: Backend,
    /// The requests this transaction updated, whose waiters its commit wakes.
    changed_requests: Vec<String>,
    changes: Option<RequestChanges>,
    /// Tells the other replicas (PostgreSQL) after the commit.
    announcer: Option<crate::listen::Announcer>,
    /// Audit records and outbox events appended by this transaction, and jobs queued "at
    /// commit", written together just before its commit ([`crate::audit::Appends`]). Nothing
    /// in a transaction reads back what it appended except the audit chain's steps, which
    /// write them first; a failing insert fails the commit and so the whole transaction, as it
    /// failed it before.
    appends: crate::audit::Appends,
}

impl SqlTx {
    /// The transaction's connection, for the capabilities written in other files.
    pub(crate) fn conn(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }

    pub(crate) fn new(
        tx: Transaction<'static, Any>,
        member: Option<Member>,
        backend: Backend,
    ) -> Self {
        Self {
            tx,
            member,
            backend,
            changed_requests: Vec::new(),
            changes: None,
            announcer: None,
            appends: crate::audit::Appends::default(),
        }
    }

    /// Writes the appended audit records and events now (before the commit, or before a read
    /// of the audit log in this transaction).
    async fn write_appended(&mut self) -> StoreResult<()> {
        if self.appends.is_empty() {
            return Ok(());
        }
        self.appends.write(&mut self.tx, self.backend).await
    }

    /// This transaction wakes the waiters of the requests it updates when it commits: this
    /// process's through `changes`, other replicas' through `announcer`.
    pub(crate) fn waking(
        mut self,
        changes: RequestChanges,
        announcer: Option<crate::listen::Announcer>,
    ) -> Self {
        self.changes = Some(changes);
        self.announcer = announcer;
        self
    }

    async fn insert_object(
        &mut self,
        id: &str,
        kind: ObjectKind,
        created: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO directory_objects (id, object_type, created_at) VALUES ($1, $2, $3)",
        )
        .bind(id.to_owned())
        .bind(kind.as_str())
        .bind(to_micros(created))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn delete_object_row(&mut self, id: &str) -> StoreResult<()> {
        // The cascade removes the typed row, memberships, ownerships and role assignments; the
        // manager links of reports are set to NULL.
        sqlx::query("DELETE FROM directory_objects WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(())
    }
}

pub(crate) fn json(value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(e.to_string()))
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn lock_bootstrap(&mut self) -> StoreResult<()> {
        if let Some(sql) = self.backend.bootstrap_lock_sql() {
            sqlx::query(sql).execute(&mut *self.tx).await.store()?;
        }
        Ok(())
    }

    async fn init_setting(&mut self, key: &str, value: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key.to_owned())
            .fetch_one(&mut *self.tx)
            .await
            .store()?;
        row.try_get("value").store()
    }

    async fn reserve_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
        body_hash: &str,
        now: OffsetDateTime,
    ) -> StoreResult<()> {
        // An expired reservation of the same key is replaced; a live one makes this fail with
        // a unique violation, which the caller reports as a conflict.
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE principal_id = $1 AND route = $2 \
             AND idempotency_key = $3 AND created_at < $4",
        )
        .bind(principal_id.to_owned())
        .bind(route.to_owned())
        .bind(key.to_owned())
        .bind(to_micros(now.saturating_sub(time::Duration::hours(24))))
        .execute(&mut *self.tx)
        .await
        .store()?;
        sqlx::query(
            "INSERT INTO idempotency_keys (principal_id, route, idempotency_key, body_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(principal_id.to_owned())
        .bind(route.to_owned())
        .bind(key.to_owned())
        .bind(body_hash.to_owned())
        .bind(to_micros(now))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn complete_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
        status: u16,
        response_body: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET status = $4, response_body = $5 \
             WHERE principal_id = $1 AND route = $2 AND idempotency_key = $3",
        )
        .bind(principal_id.to_owned())
        .bind(route.to_owned())
        .bind(key.to_owned())
        .bind(i64::from(status))
        .bind(response_body.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn release_idempotency_key(
        &mut self,
        principal_id: &str,
        route: &str,
        key: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "DELETE FROM idempotency_keys WHERE principal_id = $1 AND route = $2 \
             AND idempotency_key = $3 AND status IS NULL",
        )
        .bind(principal_id.to_owned())
        .bind(route.to_owned())
        .bind(key.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn put_setting(&mut self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = $2",
        )
        .bind(key.to_owned())
        .bind(value.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let mut this = *self;
        this.write_appended().await?;
        // Held until the group's COMMIT (SQLite): if anything fails first, dropping it undoes
        // this member's work alone and lets the group end without it.
        let member = this.member.take();
        if this.changed_requests.is_empty() {
            // On SQLite this releases the savepoint into the group; the work is durable once
            // the member's commit returns.
            this.tx.commit().await.store()?;
            return match member {
                Some(member) => member.commit().await,
                None => Ok(()),
            };
        }
        // A batch may move one request twice (a delivery and its completion).
        this.changed_requests.sort_unstable();
        this.changed_requests.dedup();
        let changed = std::mem::take(&mut this.changed_requests);
        let changes = this.changes.take();
        let announcer = this.announcer.take();
        this.tx.commit().await.store()?;
        if let Some(member) = member {
            member.commit().await?;
        }
        // Waiters read what was committed: woken only once it is durable.
        if let Some(changes) = changes {
            changes.wake_each(changed.iter().map(String::as_str));
        }
        // Other replicas hear of it after the commit, not inside it: see `crate::listen`.
        if let Some(announcer) = announcer {
            announcer.announce(changed);
        }
        Ok(())
    }
}

#[async_trait]
impl DirectoryStoreTx for SqlTx {
    async fn object_kind(&mut self, id: &str) -> StoreResult<Option<ObjectKind>> {
        object_kind(&mut *self.tx, id).await
    }

    async fn user(&mut self, id: &str) -> StoreResult<Option<User>> {
        crate::store::user_with_identities(&mut self.tx, id).await
    }

    async fn replace_user_identities(
        &mut self,
        user_id: &str,
        identities: &[ObjectIdentity],
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM user_identities WHERE user_id = $1")
            .bind(user_id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        for (position, identity) in (0_i64..).zip(identities) {
            sqlx::query(
                "INSERT INTO user_identities (user_id, position, sign_in_type, issuer, \
                 issuer_assigned_id) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user_id.to_owned())
            .bind(position)
            .bind(identity.sign_in_type.clone())
            .bind(identity.issuer.clone())
            .bind(identity.issuer_assigned_id.clone())
            .execute(&mut *self.tx)
            .await
            .store()?;
        }
        Ok(())
    }

    async fn insert_user(&mut self, user: &User) -> StoreResult<()> {
        self.insert_object(&user.id, ObjectKind::User, user.created_date_time)
            .await?;
        sqlx::query(
            "INSERT INTO users (id, display_name, user_principal_name, mail_nickname, \
             account_enabled, given_name, surname, mail, job_title, department, office_location, \
             mobile_phone, business_phones, employee_id, company_name, usage_location, \
             preferred_language, user_type, created_at, manager_id, password_hash, \
             force_change_password, kind, identity_parent_id) VALUES ($1, $2, $3, $4, $5, $6, \
             $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        )
        .bind(user.id.clone())
        .bind(user.display_name.clone())
        .bind(user.user_principal_name.clone())
        .bind(user.mail_nickname.clone())
        .bind(user.account_enabled)
        .bind(user.given_name.clone())
        .bind(user.surname.clone())
        .bind(user.mail.clone())
        .bind(user.job_title.clone())
        .bind(user.department.clone())
        .bind(user.office_location.clone())
        .bind(user.mobile_phone.clone())
        .bind(json(&user.business_phones)?)
        .bind(user.employee_id.clone())
        .bind(user.company_name.clone())
        .bind(user.usage_location.clone())
        .bind(user.preferred_language.clone())
        .bind(user.user_type.clone())
        .bind(to_micros(user.created_date_time))
        .bind(user.manager_id.clone())
        .bind(user.password_hash.clone())
        .bind(user.force_change_password_next_sign_in)
        .bind(user.kind.as_str())
        .bind(user.identity_parent_id.clone())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn update_user(&mut self, user: &User) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET display_name = $2, user_principal_name = $3, mail_nickname = $4, \
             account_enabled = $5, given_name = $6, surname = $7, mail = $8, job_title = $9, \
             department = $10, office_location = $11, mobile_phone = $12, business_phones = $13, \
             employee_id = $14, company_name = $15, usage_location = $16, \
             preferred_language = $17, user_type = $18, manager_id = $19, password_hash = $20, \
             force_change_password = $21 WHERE id = $1",
        )
        .bind(user.id.clone())
        .bind(user.display_name.clone())
        .bind(user.user_principal_name.clone())
        .bind(user.mail_nickname.clone())
        .bind(user.account_enabled)
        .bind(user.given_name.clone())
        .bind(user.surname.clone())
        .bind(user.mail.clone())
        .bind(user.job_title.clone())
        .bind(user.department.clone())
        .bind(user.office_location.clone())
        .bind(user.mobile_phone.clone())
        .bind(json(&user.business_phones)?)
        .bind(user.employee_id.clone())
        .bind(user.company_name.clone())
        .bind(user.usage_location.clone())
        .bind(user.preferred_language.clone())
        .bind(user.user_type.clone())
        .bind(user.manager_id.clone())
        .bind(user.password_hash.clone())
        .bind(user.force_change_password_next_sign_in)
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn delete_user(&mut self, id: &str) -> StoreResult<()> {
        self.delete_object_row(id).await
    }

    async fn group(&mut self, id: &str) -> StoreResult<Option<Group>> {
        group_by_id(&mut *self.tx, id).await
    }

    async fn insert_group(&mut self, group: &Group) -> StoreResult<()> {
        self.insert_object(&group.id, ObjectKind::Group, group.created_date_time)
            .await?;
        sqlx::query(
            "INSERT INTO groups (id, display_name, description, mail_nickname, mail_enabled, \
             security_enabled, is_unified, mail, visibility, is_assignable_to_role, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(group.id.clone())
        .bind(group.display_name.clone())
        .bind(group.description.clone())
        .bind(group.mail_nickname.clone())
        .bind(group.mail_enabled)
        .bind(group.security_enabled)
        .bind(group.group_types.iter().any(|t| t == "Unified"))
        .bind(group.mail.clone())
        .bind(group.visibility.clone())
        .bind(group.is_assignable_to_role)
        .bind(to_micros(group.created_date_time))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn update_group(&mut self, group: &Group) -> StoreResult<()> {
        sqlx::query(
            "UPDATE groups SET display_name = $2, description = $3, mail_nickname = $4, \
             mail_enabled = $5, security_enabled = $6, mail = $7, visibility = $8 WHERE id = $1",
        )
        .bind(group.id.clone())
        .bind(group.display_name.clone())
        .bind(group.description.clone())
        .bind(group.mail_nickname.clone())
        .bind(group.mail_enabled)
        .bind(group.security_enabled)
        .bind(group.mail.clone())
        .bind(group.visibility.clone())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn delete_group(&mut self, id: &str) -> StoreResult<()> {
        self.delete_object_row(id).await
    }

    async fn add_group_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO group_members (group_id, member_id, holder, ends_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (group_id, member_id, holder) DO NOTHING",
        )
        .bind(group_id.to_owned())
        .bind(member_id.to_owned())
        .bind(holder.to_owned())
        .bind(ends_at.map(to_micros))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_group_members(
        &mut self,
        memberships: &[(String, String, String, Option<OffsetDateTime>)],
    ) -> StoreResult<()> {
        crate::delivery_batch::add_group_members(&mut self.tx, self.backend, memberships).await
    }

    async fn remove_group_member(
        &mut self,
        group_id: &str,
        member_id: &str,
        holder: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM group_members WHERE group_id = $1 AND member_id = $2 AND holder = $3",
        )
        .bind(group_id.to_owned())
        .bind(member_id.to_owned())
        .bind(holder.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_group_owner(
        &mut self,
        group_id: &str,
        owner_id: &str,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO group_owners (group_id, owner_id, holder, ends_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (group_id, owner_id, holder) DO NOTHING",
        )
        .bind(group_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(holder.to_owned())
        .bind(ends_at.map(to_micros))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_group_owner(
        &mut self,
        group_id: &str,
        owner_id: &str,
        holder: &str,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM group_owners WHERE group_id = $1 AND owner_id = $2 AND holder = $3",
        )
        .bind(group_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(holder.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn application(&mut self, id: &str) -> StoreResult<Option<Application>> {
        application_by(&mut *self.tx, "id", id).await
    }

    async fn application_by_app_id(&mut self, app_id: &str) -> StoreResult<Option<Application>> {
        application_by(&mut *self.tx, "app_id", app_id).await
    }

    async fn insert_application(&mut self, app: &Application) -> StoreResult<()> {
        self.insert_object(&app.id, ObjectKind::Application, app.created_date_time)
            .await?;
        sqlx::query(
            "INSERT INTO applications (id, app_id, display_name, created_at, kind, description, \
             app_roles, oauth2_permission_scopes, identifier_uris, sign_in_audience, tags, \
             client_settings, is_fallback_public_client) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(app.id.clone())
        .bind(app.app_id.clone())
        .bind(app.display_name.clone())
        .bind(to_micros(app.created_date_time))
        .bind(app.kind.as_str())
        .bind(app.description.clone())
        .bind(json(&app.app_roles)?)
        .bind(json(&app.oauth2_permission_scopes)?)
        .bind(json(&app.identifier_uris)?)
        .bind(app.sign_in_audience.clone())
        .bind(json(&app.tags)?)
        .bind(json(&app.clients)?)
        .bind(app.is_fallback_public_client)
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn update_application(&mut self, app: &Application) -> StoreResult<()> {
        sqlx::query(
            "UPDATE applications SET display_name = $2, description = $3, app_roles = $4, \
             oauth2_permission_scopes = $5, identifier_uris = $6, sign_in_audience = $7, \
             tags = $8, client_settings = $9, is_fallback_public_client = $10 WHERE id = $1",
        )
        .bind(app.id.clone())
        .bind(app.display_name.clone())
        .bind(app.description.clone())
        .bind(json(&app.app_roles)?)
        .bind(json(&app.oauth2_permission_scopes)?)
        .bind(json(&app.identifier_uris)?)
        .bind(app.sign_in_audience.clone())
        .bind(json(&app.tags)?)
        .bind(json(&app.clients)?)
        .bind(app.is_fallback_public_client)
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn service_principal(&mut self, id: &str) -> StoreResult<Option<ServicePrincipal>> {
        service_principal_by(&mut *self.tx, "id", id).await
    }

    async fn service_principal_by_app_id(
        &mut self,
        app_id: &str,
    ) -> StoreResult<Option<ServicePrincipal>> {
        service_principal_by(&mut *self.tx, "app_id", app_id).await
    }

    async fn insert_service_principal(&mut self, sp: &ServicePrincipal) -> StoreResult<()> {
        self.insert_object(&sp.id, ObjectKind::ServicePrincipal, sp.created_date_time)
            .await?;
        sqlx::query(
            "INSERT INTO service_principals (id, app_id, display_name, account_enabled, \
             service_principal_type, created_at, kind, description, agent_identity_blueprint_id, \
             tags) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(sp.id.clone())
        .bind(sp.app_id.clone())
        .bind(sp.display_name.clone())
        .bind(sp.account_enabled)
        .bind(sp.service_principal_type.clone())
        .bind(to_micros(sp.created_date_time))
        .bind(sp.kind.as_str())
        .bind(sp.description.clone())
        .bind(sp.agent_identity_blueprint_id.clone())
        .bind(json(&sp.tags)?)
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn update_service_principal(&mut self, sp: &ServicePrincipal) -> StoreResult<()> {
        sqlx::query(
            "UPDATE service_principals SET display_name = $2, account_enabled = $3, \
             description = $4, tags = $5 WHERE id = $1",
        )
        .bind(sp.id.clone())
        .bind(sp.display_name.clone())
        .bind(sp.account_enabled)
        .bind(sp.description.clone())
        .bind(json(&sp.tags)?)
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn delete_object(&mut self, id: &str) -> StoreResult<()> {
        self.delete_object_row(id).await
    }

    async fn insert_client_secret(&mut self, secret: &ClientSecret) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO password_credentials (key_id, owner_id, secret_hash, hint, display_name, \
             start_at, end_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(secret.key_id.clone())
        .bind(secret.owner_id.clone())
        .bind(secret.secret_hash.clone())
        .bind(secret.hint.clone())
        .bind(secret.display_name.clone())
        .bind(to_micros(secret.start_date_time))
        .bind(to_micros(secret.end_date_time))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(())
    }

    async fn delete_client_secrets(&mut self, owner_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM password_credentials WHERE owner_id = $1")
            .bind(owner_id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(())
    }

    async fn delete_client_secret(&mut self, owner_id: &str, key_id: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM password_credentials WHERE owner_id = $1 AND key_id = $2")
                .bind(owner_id.to_owned())
                .bind(key_id.to_owned())
                .execute(&mut *self.tx)
                .await
                .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn add_sponsor(&mut self, object_id: &str, sponsor_id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO sponsors (object_id, sponsor_id) VALUES ($1, $2) \
             ON CONFLICT (object_id, sponsor_id) DO NOTHING",
        )
        .bind(object_id.to_owned())
        .bind(sponsor_id.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_sponsor(&mut self, object_id: &str, sponsor_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sponsors WHERE object_id = $1 AND sponsor_id = $2")
            .bind(object_id.to_owned())
            .bind(sponsor_id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn sponsor_ids(&mut self, object_id: &str) -> StoreResult<Vec<String>> {
        linked_ids(
            &mut *self.tx,
            "SELECT sponsor_id AS linked FROM sponsors WHERE object_id = $1 ORDER BY sponsor_id",
            object_id,
        )
        .await
    }

    async fn sponsored_by(&mut self, sponsor_id: &str) -> StoreResult<Vec<String>> {
        linked_ids(
            &mut *self.tx,
            "SELECT object_id AS linked FROM sponsors WHERE sponsor_id = $1 ORDER BY object_id",
            sponsor_id,
        )
        .await
    }

    async fn hand_over_sponsorships(
        &mut self,
        from: &str,
        heir: Option<&str>,
    ) -> StoreResult<Vec<SponsorHandover>> {
        // Three statements whatever the number of objects: read what changes, add the heir
        // where it is missing, remove the departing sponsor.
        let rows = sqlx::query(
            "SELECT s.object_id, d.object_type, \
                 COALESCE(sp.display_name, a.display_name, u.display_name, g.display_name) \
                     AS display_name, \
                 (SELECT COUNT(*) FROM sponsors o \
                     WHERE o.object_id = s.object_id AND o.sponsor_id <> $1) AS others, \
                 (SELECT COUNT(*) FROM sponsors h \
                     WHERE h.object_id = s.object_id AND h.sponsor_id = $2) AS heir_present \
             FROM sponsors s JOIN directory_objects d ON d.id = s.object_id \
             LEFT JOIN service_principals sp ON sp.id = s.object_id \
             LEFT JOIN applications a ON a.id = s.object_id \
             LEFT JOIN users u ON u.id = s.object_id \
             LEFT JOIN groups g ON g.id = s.object_id \
             WHERE s.sponsor_id = $1 ORDER BY s.object_id",
        )
        .bind(from.to_owned())
        .bind(heir.unwrap_or("").to_owned())
        .fetch_all(&mut *self.tx)
        .await
        .store()?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let object_id: String = row.try_get("object_id").store()?;
            let kind: String = row.try_get("object_type").store()?;
            let display_name: Option<String> = row.try_get("display_name").store()?;
            let others: i64 = row.try_get("others").store()?;
            let heir_present: i64 = row.try_get("heir_present").store()?;
            let object_kind = ObjectKind::parse(&kind)
                .ok_or_else(|| StoreError::Other(format!("unknown object_type {kind}")))?;
            let heir_added = heir.is_some_and(|h| h != object_id) && heir_present == 0;
            out.push(SponsorHandover {
                object_id,
                object_kind,
                display_name,
                heir_added,
                heir_was_sponsor: heir_present > 0,
                remaining: others + i64::from(heir_added),
            });
        }
        if let Some(heir) = heir {
            sqlx::query(
                "INSERT INTO sponsors (object_id, sponsor_id) \
                 SELECT object_id, $2 FROM sponsors WHERE sponsor_id = $1 AND object_id <> $2 \
                 ON CONFLICT (object_id, sponsor_id) DO NOTHING",
            )
            .bind(from.to_owned())
            .bind(heir.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        }
        sqlx::query("DELETE FROM sponsors WHERE sponsor_id = $1")
            .bind(from.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(out)
    }

    async fn human_sponsors_in_tx(
        &mut self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<(String, writ_domain::audit::Recipient)>> {
        crate::assignments::human_sponsors_of(&mut *self.tx, self.backend, ids, now).await
    }

    async fn add_object_owner(&mut self, object_id: &str, owner_id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO object_owners (object_id, owner_id) VALUES ($1, $2) \
             ON CONFLICT (object_id, owner_id) DO NOTHING",
        )
        .bind(object_id.to_owned())
        .bind(owner_id.to_owned())
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_object_owner(&mut self, object_id: &str, owner_id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM object_owners WHERE object_id = $1 AND owner_id = $2")
            .bind(object_id.to_owned())
            .bind(owner_id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_agent_users_of(&mut self, agent_identity_id: &str) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE identity_parent_id = $1")
            .bind(agent_identity_id.to_owned())
            .fetch_one(&mut *self.tx)
            .await
            .store()?;
        row.try_get("n").store()
    }

    async fn insert_app_role_assignment(&mut self, a: &AppRoleAssignment) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO app_role_assignments (id, app_role_id, principal_id, resource_id, \
             holder, ends_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (principal_id, resource_id, app_role_id, holder) DO NOTHING",
        )
        .bind(a.id.clone())
        .bind(a.app_role_id.clone())
        .bind(a.principal_id.clone())
        .bind(a.resource_id.clone())
        .bind(a.holder.clone())
        .bind(a.ends_at.map(to_micros))
        .bind(to_micros(a.created_date_time))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn app_role_assignment(&mut self, id: &str) -> StoreResult<Option<AppRoleAssignment>> {
        app_role_assignment_by_id(&mut *self.tx, id).await
    }

    async fn delete_app_role_assignment(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM app_role_assignments WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_permission_grant(&mut self, g: &PermissionGrant) -> StoreResult<bool> {
        // Only delivered grants have a unique key (per holder); direct ones never conflict.
        let done = sqlx::query(
            "INSERT INTO oauth2_permission_grants (id, client_id, consent_type, principal_id, \
             resource_id, scope, holder, ends_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(g.id.clone())
        .bind(g.client_id.clone())
        .bind(g.consent_type.clone())
        .bind(g.principal_id.clone())
        .bind(g.resource_id.clone())
        .bind(g.scope.clone())
        .bind(g.holder.clone())
        .bind(g.ends_at.map(to_micros))
        .bind(to_micros(g.created_date_time))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_permission_grant(&mut self, g: &PermissionGrant) -> StoreResult<()> {
        sqlx::query("UPDATE oauth2_permission_grants SET scope = $2 WHERE id = $1")
            .bind(g.id.clone())
            .bind(g.scope.clone())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(())
    }

    async fn delete_permission_grant(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM oauth2_permission_grants WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn role_assignment(&mut self, id: &str) -> StoreResult<Option<RoleAssignment>> {
        role_assignment_by_id(&mut *self.tx, id).await
    }

    async fn delete_role_assignment(&mut self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM role_assignments WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *self.tx)
            .await
            .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn count_role_holders(&mut self, role_template_id: &str) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM role_assignments WHERE role_definition_id = $1 \
             AND directory_scope_id = '/'",
        )
        .bind(role_template_id.to_owned())
        .fetch_one(&mut *self.tx)
        .await
        .store()?;
        row.try_get("n").store()
    }

    async fn count_enabled_role_holders(
        &mut self,
        role_template_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT r.principal_id) AS n FROM role_assignments r \
             LEFT JOIN users u ON u.id = r.principal_id \
             LEFT JOIN service_principals s ON s.id = r.principal_id \
             WHERE r.role_definition_id = $1 AND r.directory_scope_id = '/' \
             AND (r.ends_at IS NULL OR r.ends_at > $2) \
             AND (u.account_enabled = TRUE OR s.account_enabled = TRUE)",
        )
        .bind(role_template_id.to_owned())
        .bind(to_micros(now))
        .fetch_one(&mut *self.tx)
        .await
        .store()?;
        row.try_get("n").store()
    }

    async fn holds_role(
        &mut self,
        principal_id: &str,
        role_template_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM role_assignments WHERE principal_id = $1 \
             AND role_definition_id = $2 AND directory_scope_id = '/' \
             AND (ends_at IS NULL OR ends_at > $3)",
        )
        .bind(principal_id.to_owned())
        .bind(role_template_id.to_owned())
        .bind(to_micros(now))
        .fetch_one(&mut *self.tx)
        .await
        .store()?;
        Ok(row.try_get::<i64, _>("n").store()? > 0)
    }

    async fn assign_directory_role(&mut self, a: &RoleAssignment) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO role_assignments (id, role_definition_id, principal_id, \
             directory_scope_id, holder, created_at, ends_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (role_definition_id, principal_id, directory_scope_id, holder) DO NOTHING",
        )
        .bind(a.id.clone())
        .bind(a.role_definition_id.clone())
        .bind(a.principal_id.clone())
        .bind(a.directory_scope_id.clone())
        .bind(a.holder.clone())
        .bind(to_micros(a.created_date_time))
        .bind(a.ends_at.map(to_micros))
        .execute(&mut *self.tx)
        .await
        .store()?;
        Ok(done.rows_affected() == 1)
    }

    async fn owns(
        &mut self,
        owner_id: &str,
        object_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM group_owners WHERE owner_id = $1 AND group_id = $2 \
             AND (ends_at IS NULL OR ends_at > $3)) \
             + (SELECT COUNT(*) FROM object_owners WHERE owner_id = $1 AND object_id = $2) AS n",
        )
        .bind(owner_id.to_owned())
        .bind(object_id.to_owned())
        .bind(to_micros(now))
        .fetch_one(&mut *self.tx)
        .await
        .store()?;
        Ok(row.try_get::<i64, _>("n").store()? > 0)
    }
}

#[async_trait]
impl EntitlementStoreTx for SqlTx {
    async fn catalog(&mut self, id: &str) -> StoreResult<Option<Catalog>> {
        em::catalog_by_id(&mut *self.tx, id).await
    }

    async fn general_catalog(&mut self) -> StoreResult<Option<Catalog>> {
        em::general_catalog(&mut *self.tx).await
    }

    async fn insert_catalog(&mut self, catalog: &Catalog) -> StoreResult<()> {
        em::insert_catalog(&mut *self.tx, catalog).await
    }

    async fn update_catalog(&mut self, catalog: &Catalog) -> StoreResult<()> {
        em::update_catalog(&mut *self.tx, catalog).await
    }

    async fn delete_catalog(&mut self, id: &str) -> StoreResult<()> {
        // Resources, their roles and scopes, and catalog role assignments cascade.
        em::delete_by(&mut *self.tx, "catalogs", "id", id)
            .await
            .map(|_| ())
    }

    async fn count_packages_in_catalog(&mut self, catalog_id: &str) -> StoreResult<i64> {
        em::count(
            &mut *self.tx,
            "SELECT COUNT(*) AS n FROM access_packages WHERE catalog_id = $1",
            catalog_id,
        )
        .await
    }

    async fn catalog_resource_by_origin(
        &mut self,
        catalog_id: &str,
        origin_system: &str,
        origin_id: &str,
    ) -> StoreResult<Option<CatalogResource>> {
        em::resource_by_origin(&mut *self.tx, catalog_id, origin_system, origin_id).await
    }

    async fn catalog_resources_with_origin(
        &mut self,
        origin_id: &str,
    ) -> StoreResult<Vec<CatalogResource>> {
        em::resources_with_origin(&mut *self.tx, origin_id).await
    }

    async fn insert_catalog_resource(&mut self, resource: &CatalogResource) -> StoreResult<()> {
        em::insert_resource(&mut *self.tx, resource).await
    }

    async fn update_catalog_resource(&mut self, resource: &CatalogResource) -> StoreResult<()> {
        em::update_resource(&mut *self.tx, resource).await
    }

    async fn delete_catalog_resource(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "catalog_resources", "id", id)
            .await
            .map(|_| ())
    }

    async fn resource_roles_of(&mut self, resource_id: &str) -> StoreResult<Vec<ResourceRole>> {
        em::roles_of(&mut *self.tx, resource_id).await
    }

    async fn upsert_resource_role(&mut self, role: &ResourceRole) -> StoreResult<()> {
        em::upsert_role(&mut *self.tx, role).await
    }

    async fn delete_resource_role(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "resource_roles", "id", id)
            .await
            .map(|_| ())
    }

    async fn insert_resource_scope(&mut self, scope: &ResourceScope) -> StoreResult<()> {
        em::insert_scope(&mut *self.tx, scope).await
    }

    async fn resource_in_use(&mut self, resource_id: &str) -> StoreResult<bool> {
        let n = em::count(
            &mut *self.tx,
            "SELECT COUNT(*) AS n FROM package_role_scopes p JOIN resource_roles r \
             ON r.id = p.role_id WHERE r.resource_id = $1",
            resource_id,
        )
        .await?;
        Ok(n > 0)
    }

    async fn role_in_use(&mut self, role_id: &str) -> StoreResult<bool> {
        let n = em::count(
            &mut *self.tx,
            "SELECT COUNT(*) AS n FROM package_role_scopes WHERE role_id = $1",
            role_id,
        )
        .await?;
        Ok(n > 0)
    }

    async fn insert_resource_request(&mut self, request: &ResourceRequest) -> StoreResult<()> {
        em::insert_request(&mut *self.tx, request).await
    }

    async fn access_package(&mut self, id: &str) -> StoreResult<Option<AccessPackage>> {
        em::package_by_id(&mut *self.tx, id).await
    }

    async fn insert_access_package(&mut self, package: &AccessPackage) -> StoreResult<()> {
        em::insert_package(&mut *self.tx, package).await
    }

    async fn update_access_package(&mut self, package: &AccessPackage) -> StoreResult<()> {
        em::update_package(&mut *self.tx, package).await
    }

    async fn delete_access_package(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "access_packages", "id", id)
            .await
            .map(|_| ())
    }

    async fn insert_package_role_scope(
        &mut self,
        role_scope: &PackageRoleScope,
    ) -> StoreResult<bool> {
        em::insert_role_scope(&mut *self.tx, role_scope).await
    }

    async fn delete_package_role_scope(&mut self, package_id: &str, id: &str) -> StoreResult<bool> {
        em::delete_role_scope(&mut *self.tx, package_id, id).await
    }

    async fn insert_em_role_assignment(
        &mut self,
        assignment: &EmRoleAssignment,
    ) -> StoreResult<bool> {
        em::insert_em_role(&mut *self.tx, assignment).await
    }

    async fn em_role_assignment(&mut self, id: &str) -> StoreResult<Option<EmRoleAssignment>> {
        em::em_role_by_id(&mut *self.tx, id).await
    }

    async fn delete_em_role_assignment(&mut self, id: &str) -> StoreResult<bool> {
        em::delete_by(&mut *self.tx, "em_role_assignments", "id", id).await
    }

    async fn save_connected_organization(
        &mut self,
        organization: &ConnectedOrganization,
        insert: bool,
    ) -> StoreResult<()> {
        em::save_organization(&mut self.tx, organization, insert).await
    }

    async fn delete_connected_organization(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "connected_organizations", "id", id)
            .await
            .map(|_| ())
    }

    async fn change_connected_organization_sponsor(
        &mut self,
        id: &str,
        sponsor_id: &str,
        internal: bool,
        add: bool,
    ) -> StoreResult<bool> {
        em::change_organization_sponsor(&mut self.tx, id, sponsor_id, internal, add).await
    }

    async fn save_custom_extension(
        &mut self,
        extension: &CustomExtension,
        insert: bool,
    ) -> StoreResult<()> {
        em::save_extension(&mut self.tx, extension, insert).await
    }

    async fn delete_custom_extension(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "custom_extensions", "id", id)
            .await
            .map(|_| ())
    }

    async fn insert_callout(
        &mut self,
        callout: &writ_domain::entitlement::Callout,
    ) -> StoreResult<()> {
        crate::callouts::insert(&mut self.tx, callout).await
    }

    async fn set_callout_callback(
        &mut self,
        id: &str,
        from: writ_domain::entitlement::CallbackState,
        to: writ_domain::entitlement::CallbackState,
        detail: Option<&str>,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        crate::callouts::set_callback(&mut self.tx, id, from, to, detail, at).await
    }

    async fn referenced_by_policy(&mut self, id: &str) -> StoreResult<bool> {
        let n = em::count(
            &mut *self.tx,
            "SELECT COUNT(*) AS n FROM policy_subjects WHERE object_id = $1",
            id,
        )
        .await?;
        Ok(n > 0)
    }

    async fn change_incompatibility(
        &mut self,
        package_id: &str,
        other_id: &str,
        with_group: bool,
        add: bool,
    ) -> StoreResult<bool> {
        em::change_incompatibility(&mut self.tx, package_id, other_id, with_group, add).await
    }

    async fn insert_policy(
        &mut self,
        policy: &AssignmentPolicy,
        subjects: &[String],
    ) -> StoreResult<()> {
        em::save_policy(&mut self.tx, policy, subjects, true).await
    }

    async fn update_policy(
        &mut self,
        policy: &AssignmentPolicy,
        subjects: &[String],
    ) -> StoreResult<()> {
        em::save_policy(&mut self.tx, policy, subjects, false).await
    }

    async fn delete_policy(&mut self, id: &str) -> StoreResult<()> {
        em::delete_by(&mut *self.tx, "assignment_policies", "id", id)
            .await
            .map(|_| ())
    }

    async fn policies_naming(&mut self, object_id: &str) -> StoreResult<Vec<AssignmentPolicy>> {
        em::policies_naming(&mut *self.tx, object_id).await
    }

    async fn insert_assignment_request(&mut self, request: &AssignmentRequest) -> StoreResult<()> {
        crate::assignments::insert_request(&mut *self.tx, request).await
    }

    async fn update_assignment_request(
        &mut self,
        request: &AssignmentRequest,
        expected: RequestState,
    ) -> StoreResult<bool> {
        let updated = crate::assignments::update_request(&mut *self.tx, request, expected).await?;
        if updated {
            self.changed_requests.push(request.id.clone());
        }
        Ok(updated)
    }

    async fn open_request_for(
        &mut self,
        target_id: &str,
        package_id: &str,
    ) -> StoreResult<Option<String>> {
        crate::assignments::open_request_for(&mut *self.tx, target_id, package_id).await
    }

    async fn insert_assignment(&mut self, assignment: &Assignment) -> StoreResult<()> {
        crate::assignments::insert_assignment(&mut *self.tx, assignment).await
    }

    async fn insert_assignments(&mut self, assignments: &[Assignment]) -> StoreResult<()> {
        crate::delivery_batch::insert_assignments(&mut self.tx, self.backend, assignments).await
    }

    async fn update_assignment_requests(
        &mut self,
        requests: &[(AssignmentRequest, RequestState)],
    ) -> StoreResult<u64> {
        let updated =
            crate::delivery_batch::update_requests(&mut self.tx, self.backend, requests).await?;
        // Which of them changed matters only when all did: otherwise the caller rolls back.
        if updated == requests.len() as u64 {
            self.changed_requests
                .extend(requests.iter().map(|(r, _)| r.id.clone()));
        }
        Ok(updated)
    }

    async fn update_assignment(
        &mut self,
        assignment: &Assignment,
        expected: &Assignment,
    ) -> StoreResult<bool> {
        crate::assignments::update_assignment(&mut *self.tx, assignment, expected).await
    }

    async fn open_update_for(
        &mut self,
        assignment_id: &str,
    ) -> StoreResult<Option<AssignmentRequest>> {
        Ok(
            crate::batch::open_updates_for(&mut self.tx, self.backend, &[assignment_id.to_owned()])
                .await?
                .pop(),
        )
    }

    async fn set_grant_ends(
        &mut self,
        holder: &str,
        ends_at: Option<OffsetDateTime>,
    ) -> StoreResult<u64> {
        crate::assignments::set_grant_ends(&mut self.tx, holder, ends_at).await
    }

    async fn active_assignment_for(
        &mut self,
        target_id: &str,
        package_id: &str,
    ) -> StoreResult<Option<Assignment>> {
        let mut live =
            crate::assignments::live_assignments_of(&mut *self.tx, target_id, Some(package_id))
                .await?;
        Ok(live.pop())
    }

    async fn add_blocker(
        &mut self,
        target_id: &str,
        package_id: &str,
        now: OffsetDateTime,
    ) -> StoreResult<Option<AddBlocker>> {
        crate::assignments::add_blocker(&mut *self.tx, target_id, package_id, to_micros(now)).await
    }

    async fn insert_approval_stage(&mut self, stage: &ApprovalStageRecord) -> StoreResult<()> {
        crate::assignments::insert_stage(&mut *self.tx, stage).await
    }

    async fn update_approval_stage(
        &mut self,
        stage: &ApprovalStageRecord,
        expected_status: &str,
    ) -> StoreResult<bool> {
        crate::assignments::update_stage(&mut *self.tx, stage, expected_status).await
    }

    async fn escalate_approval_stage(
        &mut self,
        stage_id: &str,
        approver_ids: &[String],
        used_fallback: bool,
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        crate::assignments::escalate_stage(&mut *self.tx, stage_id, approver_ids, used_fallback, at)
            .await
    }

    async fn package_in_use(&mut self, package_id: &str) -> StoreResult<bool> {
        crate::assignments::package_in_use(&mut self.tx, package_id).await
    }

    async fn live_assignments_of(&mut self, target_id: &str) -> StoreResult<Vec<Assignment>> {
        crate::assignments::live_assignments_of(&mut *self.tx, target_id, None).await
    }

    async fn open_requests_of(&mut self, target_id: &str) -> StoreResult<Vec<AssignmentRequest>> {
        crate::assignments::open_requests_of(&mut *self.tx, target_id).await
    }

    async fn release_grants(&mut self, holder: &str) -> StoreResult<u64> {
        crate::batch::release_grants_of(&mut self.tx, self.backend, &[holder.to_owned()]).await
    }

    async fn expire_due_assignments(
        &mut self,
        ids: &[String],
        now: OffsetDateTime,
    ) -> StoreResult<Vec<String>> {
        crate::batch::expire_due_assignments(&mut self.tx, self.backend, ids, now).await
    }

    async fn release_grants_of(&mut self, holders: &[String]) -> StoreResult<u64> {
        crate::batch::release_grants_of(&mut self.tx, self.backend, holders).await
    }

    async fn open_updates_for_many(
        &mut self,
        assignment_ids: &[String],
    ) -> StoreResult<Vec<AssignmentRequest>> {
        crate::batch::open_updates_for(&mut self.tx, self.backend, assignment_ids).await
    }

    async fn insert_assignment_requests(
        &mut self,
        requests: &[AssignmentRequest],
    ) -> StoreResult<()> {
        crate::batch::insert_assignment_requests(&mut self.tx, self.backend, requests).await
    }

    async fn grants_held(&mut self, holder: &str) -> StoreResult<Vec<HeldGrant>> {
        crate::assignments::grants_held(&mut self.tx, holder).await
    }

    async fn release_grant(&mut self, holder: &str, grant: &HeldGrant) -> StoreResult<bool> {
        crate::assignments::release_grant(&mut self.tx, holder, grant).await
    }

    async fn live_assignment_ids_of_package(
        &mut self,
        package_id: &str,
    ) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT id FROM assignments WHERE access_package_id = $1 AND state <> 'expired' \
             ORDER BY id",
        )
        .bind(package_id.to_owned())
        .fetch_all(&mut *self.tx)
        .await
        .store()?;
        rows.iter().map(|r| r.try_get("id").store()).collect()
    }
}

#[async_trait]
impl JobStoreTx for SqlTx {
    async fn complete_jobs(&mut self, ids: &[String], worker: &str) -> StoreResult<u64> {
        crate::batch::complete_jobs(&mut self.tx, self.backend, ids, worker).await
    }

    async fn enqueue_job(&mut self, job: &NewJob) -> StoreResult<bool> {
        crate::jobs::enqueue(&mut *self.tx, job).await
    }

    async fn enqueue_jobs(&mut self, jobs: &[NewJob]) -> StoreResult<()> {
        crate::delivery_batch::enqueue_jobs(&mut self.tx, self.backend, jobs).await
    }

    async fn enqueue_job_at_commit(&mut self, job: &NewJob) -> StoreResult<()> {
        self.appends.add_jobs(std::slice::from_ref(job));
        Ok(())
    }

    async fn claim_jobs(
        &mut self,
        worker: &str,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        crate::jobs::claim(&mut *self.tx, self.backend, worker, now, lease_until, limit).await
    }

    async fn complete_job(&mut self, id: &str, worker: &str) -> StoreResult<bool> {
        crate::jobs::complete(&mut *self.tx, id, worker).await
    }

    async fn retry_job(
        &mut self,
        id: &str,
        worker: &str,
        due_at: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool> {
        crate::jobs::retry(&mut *self.tx, id, worker, due_at, error).await
    }

    async fn park_job(
        &mut self,
        id: &str,
        worker: &str,
        now: OffsetDateTime,
        error: &str,
    ) -> StoreResult<bool> {
        crate::jobs::park(&mut *self.tx, id, worker, now, error).await
    }

    async fn unpark_jobs(&mut self, subject_id: &str, now: OffsetDateTime) -> StoreResult<u64> {
        crate::jobs::unpark(&mut *self.tx, subject_id, now).await
    }
}

#[async_trait]
impl AuditStoreTx for SqlTx {
    async fn append_audit(&mut self, record: &AuditRecord) -> StoreResult<()> {
        self.appends.add_audits(std::slice::from_ref(record))
    }

    async fn audit_chain_head(&mut self) -> StoreResult<ChainHead> {
        self.write_appended().await?;
        crate::audit::chain_head_in(&mut self.tx).await
    }

    async fn unchained_audits(&mut self, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.write_appended().await?;
        crate::audit::unchained(&mut self.tx, limit).await
    }

    async fn advance_audit_chain(&mut self, from: &ChainHead, to: &ChainHead) -> StoreResult<bool> {
        self.write_appended().await?;
        crate::audit::advance(&mut self.tx, from, to).await
    }

    async fn seal_audits(&mut self, links: &[AuditLink]) -> StoreResult<()> {
        self.write_appended().await?;
        crate::audit::seal(&mut self.tx, links).await
    }

    async fn enqueue_event(&mut self, event: &OutboxEvent) -> StoreResult<()> {
        self.appends.add_events(std::slice::from_ref(event))
    }

    async fn append_audits(&mut self, records: &[AuditRecord]) -> StoreResult<()> {
        self.appends.add_audits(records)
    }

    async fn enqueue_events(&mut self, events: &[OutboxEvent]) -> StoreResult<()> {
        self.appends.add_events(events)
    }
}
