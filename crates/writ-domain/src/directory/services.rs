//! What the HTTP crate reaches through the [`Directory`] beyond the directory's own entities:
//! readiness, Writ's own lists (jobs, webhook and email deliveries), and look-ups by another key
//! than the object id. Each goes through a domain rule; the store itself is never handed out (the
//! identity and idempotency-key services are made from a `Directory` by `Identity::of` and
//! `Idempotency::of`, so that the directory does not depend on them).

use super::{Application, Directory, ServicePrincipal, User};
use crate::authz::Caller;
use crate::email::EmailDelivery;
use crate::error::{DomainError, DomainResult};
use crate::jobs::QueuedJob;
use crate::query::{ListQuery, Page};
use crate::webhooks::WebhookDelivery;

/// Whether the database answers and its schema is current, for `/readyz`.
#[derive(Debug)]
pub struct Readiness {
    /// The backend's name (`sqlite`, `postgres`).
    pub database: &'static str,
    /// `Err`: why it is not ready (for the log, not the client).
    pub ready: Result<(), String>,
}

impl Directory {
    /// `GET /readyz`.
    pub async fn health(&self) -> Readiness {
        Readiness {
            database: self.store.backend(),
            ready: self.store.ready().await.map_err(|e| e.to_string()),
        }
    }

    /// `GET /writ/v1/jobs`.
    pub async fn jobs(&self, caller: &Caller, query: &ListQuery) -> DomainResult<Page<QueuedJob>> {
        crate::jobs::list_jobs(self.store.as_ref(), caller, query).await
    }

    /// `GET /writ/v1/jobs/{id}`.
    pub async fn job(&self, caller: &Caller, id: &str) -> DomainResult<QueuedJob> {
        crate::jobs::get_job(self.store.as_ref(), caller, id).await
    }

    /// `GET /writ/v1/webhookDeliveries`.
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<WebhookDelivery>> {
        crate::webhooks::list_deliveries(self.store.webhooks(), caller, query).await
    }

    /// `GET /writ/v1/emailDeliveries`.
    pub async fn email_deliveries(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<EmailDelivery>> {
        crate::email::list_deliveries(self.store.email(), caller, query).await
    }

    /// `GET /writ/v1/emailDeliveries/{id}`.
    pub async fn email_delivery(&self, caller: &Caller, id: &str) -> DomainResult<EmailDelivery> {
        crate::email::get_delivery(self.store.email(), caller, id).await
    }

    /// `/users/{userPrincipalName}`: a user the caller may not see is not found, as by id.
    pub async fn get_user_by_principal_name(
        &self,
        caller: &Caller,
        user_principal_name: &str,
    ) -> DomainResult<User> {
        match self
            .store
            .user_by_principal_name(user_principal_name)
            .await?
        {
            Some(user) if caller.can_see_object(&user.id) => Ok(user),
            _ => Err(DomainError::not_found("user", user_principal_name)),
        }
    }

    /// `GET /applications(appId='…')`: `None` when no application has this `appId`; one the
    /// caller may not see is not found, as by id.
    pub async fn find_application_by_app_id(
        &self,
        caller: &Caller,
        app_id: &str,
    ) -> DomainResult<Option<Application>> {
        match self.store.application_by_app_id(app_id).await? {
            Some(app) => self.get_application(caller, &app.id).await.map(Some),
            None => Ok(None),
        }
    }

    /// The application a service principal stands for, shown beside it (a service principal of
    /// an application registered elsewhere, or an agent identity, has none). The caller has
    /// already been allowed to see the service principal.
    pub async fn application_of(&self, sp: &ServicePrincipal) -> DomainResult<Option<Application>> {
        Ok(self.store.application_by_app_id(&sp.app_id).await?)
    }
}
