//! First start and every start: the tenant id, the signing key and the bootstrap administrator,
//! established under a database lock so that replicas starting together agree.

use crate::authz::roles;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_app_id, new_object_id, parse_guid};
use crate::model::{Actor, AuditRecord};
use crate::secrets;
use crate::store::Store;

use super::{Application, ClientSecret, ServicePrincipal};

pub const SETTING_TENANT_ID: &str = "tenant_id";

/// What the configuration says about first start.
#[derive(Debug, Clone, Default)]
pub struct BootstrapConfig {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Settings to store if absent (e.g. a freshly generated signing key); the stored values win.
    pub initial_settings: Vec<(String, String)>,
    /// The server's public URL, under which the portal client's redirect URI is registered
    /// (`None`: left as stored).
    pub public_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct BootstrapOutcome {
    pub tenant_id: String,
    /// The values of `initial_settings` as stored (the first start's, on later starts).
    pub settings: Vec<(String, String)>,
    /// Set when credentials were generated: print once, never again.
    pub generated_admin: Option<(String, String)>,
}

/// Runs the start-up checks and first-start writes in one transaction under the bootstrap lock.
pub async fn bootstrap(
    store: &dyn Store,
    clock: &dyn Clock,
    config: &BootstrapConfig,
) -> DomainResult<BootstrapOutcome> {
    let now = clock.now();
    let mut tx = store.begin().await?;
    tx.lock_bootstrap().await?;

    let candidate_tenant = match &config.tenant_id {
        Some(t) => parse_guid(t)
            .ok_or_else(|| DomainError::invalid(format!("tenant_id '{t}' is not a GUID")))?,
        None => new_app_id(),
    };
    let tenant_id = tx
        .init_setting(SETTING_TENANT_ID, &candidate_tenant)
        .await?;
    if config.tenant_id.is_some() && tenant_id != candidate_tenant {
        return Err(DomainError::invalid(format!(
            "tenant_id {candidate_tenant} in the configuration differs from the tenant id {tenant_id} stored in the database"
        )));
    }
    let mut settings = Vec::new();
    for (key, value) in &config.initial_settings {
        let stored = tx.init_setting(key, value).await?;
        settings.push((key.clone(), stored));
    }

    crate::entitlement::ensure_general_catalog(tx.as_mut(), now).await?;
    super::writ_clients::ensure_writ_clients(tx.as_mut(), now, config.public_url.as_deref())
        .await?;

    let mut generated_admin = None;
    let credentials = match (&config.client_id, &config.client_secret) {
        (Some(id), Some(secret)) => {
            let id = parse_guid(id).ok_or_else(|| {
                DomainError::invalid(format!("bootstrap.client_id '{id}' is not a GUID"))
            })?;
            if super::writ_clients::is_writ_client(&id) {
                return Err(DomainError::invalid(format!(
                    "bootstrap.client_id {id} is the client id of one of Writ's own clients; choose another"
                )));
            }
            Some((id, secret.clone(), false))
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(DomainError::invalid(
                "bootstrap.client_id and bootstrap.client_secret must be set together",
            ));
        }
        (None, None) => {
            if tx.count_role_holders(roles::GLOBAL_ADMINISTRATOR).await? == 0 {
                Some((new_app_id(), secrets::generate_client_secret()?, true))
            } else {
                None
            }
        }
    };

    if let Some((app_id, secret, generated)) = credentials {
        if secret.len() < 16 {
            return Err(DomainError::invalid(
                "bootstrap.client_secret must be at least 16 characters",
            ));
        }
        if let Some(existing) = tx.service_principal_by_app_id(&app_id).await?
            && existing.kind != super::ServicePrincipalKind::ServicePrincipal
        {
            return Err(DomainError::invalid(format!(
                "bootstrap.client_id {app_id} is the appId of an agent identity or blueprint, not of an administrator application"
            )));
        }
        let application = match tx.application_by_app_id(&app_id).await? {
            Some(app) => app,
            None => {
                let app = Application::new(
                    new_object_id(),
                    app_id.clone(),
                    "Writ bootstrap administrator".into(),
                    now,
                );
                tx.insert_application(&app).await?;
                tx.append_audit(
                    &AuditRecord::success(
                        Actor::system(),
                        now,
                        "ApplicationManagement",
                        "Add application",
                        "Add",
                        None,
                    )
                    .target(&app.id, "Application", Some(&app.display_name), Vec::new())
                    .detail("reason", "bootstrap administrator"),
                )
                .await?;
                app
            }
        };
        let principal = match tx.service_principal_by_app_id(&app_id).await? {
            Some(sp) => sp,
            None => {
                let sp = ServicePrincipal::new(
                    new_object_id(),
                    app_id.clone(),
                    application.display_name.clone(),
                    now,
                );
                tx.insert_service_principal(&sp).await?;
                tx.append_audit(
                    &AuditRecord::success(
                        Actor::system(),
                        now,
                        "ApplicationManagement",
                        "Add service principal",
                        "Add",
                        None,
                    )
                    .target(
                        &sp.id,
                        "ServicePrincipal",
                        Some(&sp.display_name),
                        Vec::new(),
                    )
                    .detail("reason", "bootstrap administrator"),
                )
                .await?;
                sp
            }
        };
        // The configured administrator is usable after every start: a disabled one is enabled.
        let principal = if principal.account_enabled {
            principal
        } else {
            let mut enabled = principal;
            enabled.account_enabled = true;
            tx.update_service_principal(&enabled).await?;
            tx.append_audit(
                &AuditRecord::success(
                    Actor::system(),
                    now,
                    "ApplicationManagement",
                    "Update service principal",
                    "Update",
                    None,
                )
                .target(
                    &enabled.id,
                    "ServicePrincipal",
                    Some(&enabled.display_name),
                    vec!["accountEnabled".into()],
                )
                .detail(
                    "reason",
                    "bootstrap administrator re-enabled by configuration",
                ),
            )
            .await?;
            enabled
        };
        // The configured secret is the bootstrap application's only secret: rotating it in the
        // configuration revokes the previous one at the next start.
        let secret_hash = secrets::hash_client_secret(&secret);
        let current: Vec<_> = store
            .password_credentials(&application.id)
            .await?
            .into_iter()
            .filter(|s| s.start_date_time <= now && s.end_date_time > now)
            .collect();
        if !(current.len() == 1 && current.iter().all(|s| s.secret_hash == secret_hash)) {
            tx.delete_client_secrets(&application.id).await?;
            tx.append_audit(
                &AuditRecord::success(
                    Actor::system(),
                    now,
                    "ApplicationManagement",
                    "Add password credential",
                    "Update",
                    None,
                )
                .target(
                    &application.id,
                    "Application",
                    Some(&application.display_name),
                    vec!["passwordCredentials".into()],
                )
                .detail(
                    "reason",
                    "bootstrap administrator secret set from configuration",
                ),
            )
            .await?;
            tx.insert_client_secret(&ClientSecret {
                key_id: new_app_id(),
                owner_id: application.id.clone(),
                secret_hash,
                hint: secrets::secret_hint(&secret),
                display_name: Some("bootstrap".into()),
                start_date_time: now,
                end_date_time: now.saturating_add(time::Duration::days(365 * 100)),
            })
            .await?;
        }
        let assigned = tx
            .assign_directory_role(&super::RoleAssignment {
                id: new_object_id(),
                role_definition_id: roles::GLOBAL_ADMINISTRATOR.into(),
                principal_id: principal.id.clone(),
                directory_scope_id: "/".into(),
                holder: super::assignments::DIRECT_HOLDER.into(),
                created_date_time: now,
                ends_at: None,
            })
            .await?;
        if assigned {
            let record = AuditRecord::success(
                Actor::system(),
                now,
                "RoleManagement",
                "Add member to role",
                "Assign",
                None,
            )
            .target(
                &principal.id,
                "ServicePrincipal",
                Some(&principal.display_name),
                vec!["roleDefinitionId".into()],
            )
            .detail("roleDefinitionId", roles::GLOBAL_ADMINISTRATOR)
            .detail("reason", "bootstrap administrator");
            tx.append_audit(&record).await?;
        }
        if generated {
            generated_admin = Some((app_id, secret));
        }
    }
    tx.commit().await?;
    Ok(BootstrapOutcome {
        tenant_id,
        settings,
        generated_admin,
    })
}
