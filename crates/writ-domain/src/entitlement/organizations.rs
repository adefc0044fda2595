//! Connected organizations (with their internal and external sponsors), the tenant's
//! entitlement-management settings, and catalogs' custom workflow extensions. They are stored
//! and validated here; external users and callouts act on them in later parts.

use crate::authz::Caller;
use crate::directory::{DirectoryObject, RequestContext, UserKind};
use crate::error::{DomainError, DomainResult};
use crate::ids::{new_object_id, parse_guid};
use crate::model::{
    ASSIGNMENT_EXTENSION, AuthenticationConfiguration, CallbackConfiguration,
    ConnectedOrganization, CustomExtension, EmSettings, EndpointConfiguration, ExtensionSettings,
    IdentitySource, REQUEST_EXTENSION,
};
use crate::patch::Patch;
use crate::query::{ListQuery, Page};

use super::catalogs::audit;
use super::{Entitlement, require};

#[derive(Debug, Clone, Default)]
pub struct ConnectedOrganizationInput {
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub state: Patch<String>,
    pub identity_sources: Option<Vec<IdentitySource>>,
}

pub const SETTINGS_KEY: &str = "entitlement_management_settings";

#[derive(Debug, Clone)]
pub struct CustomExtensionInput {
    pub kind: Option<String>,
    pub display_name: Patch<String>,
    pub description: Patch<String>,
    pub settings: Option<ExtensionSettings>,
}

fn check_url(url: &str, name: &str) -> DomainResult<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() > "https://".len()
        && !url.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(format!(
            "{name} '{url}' must be an http(s) URL"
        )))
    }
}

fn check_identity_sources(sources: &[IdentitySource]) -> DomainResult<()> {
    if sources.is_empty() {
        return Err(DomainError::invalid(
            "a connected organization needs at least one identitySources entry",
        ));
    }
    for source in sources {
        match source {
            IdentitySource::AzureActiveDirectoryTenant { tenant_id, .. } => {
                parse_guid(tenant_id).ok_or_else(|| {
                    DomainError::invalid(format!(
                        "identitySources: tenantId '{tenant_id}' is not a GUID"
                    ))
                })?;
            }
            IdentitySource::DomainIdentitySource { domain_name, .. }
            | IdentitySource::ExternalDomainFederation { domain_name, .. } => {
                if domain_name.is_empty()
                    || !domain_name.contains('.')
                    || domain_name.chars().any(char::is_whitespace)
                {
                    return Err(DomainError::invalid(format!(
                        "identitySources: '{domain_name}' is not a domain name"
                    )));
                }
            }
        }
    }
    Ok(())
}

impl Entitlement {
    fn require_em_admin(caller: &Caller) -> DomainResult<()> {
        if caller.is_em_admin() {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "this requires Global Administrator or Identity Governance Administrator",
            ))
        }
    }

    fn require_em_reader(caller: &Caller) -> DomainResult<()> {
        if caller.reads_all_catalogs() {
            Ok(())
        } else {
            Err(DomainError::forbidden(
                "reading this requires an entitlement-management administrator or reader",
            ))
        }
    }

    pub async fn create_connected_organization(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        mut input: ConnectedOrganizationInput,
    ) -> DomainResult<ConnectedOrganization> {
        Self::require_em_admin(caller)?;
        let display_name = match std::mem::take(&mut input.display_name) {
            Patch::Value(n) => {
                crate::text::check_display_name(&n, "displayName")?;
                n
            }
            _ => return Err(DomainError::invalid("property 'displayName' is required")),
        };
        let sources = input.identity_sources.take().unwrap_or_default();
        check_identity_sources(&sources)?;
        let state = match std::mem::take(&mut input.state) {
            Patch::Value(s) => canonical_state(&s)?,
            _ => "configured".into(),
        };
        let now = self.clock.now();
        let org = ConnectedOrganization {
            id: new_object_id(),
            display_name,
            description: input.description.into_option(),
            state,
            identity_sources: sources,
            created_date_time: now,
            modified_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.save_connected_organization(&org, true).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Create connected organization", "Add"),
            ("ConnectedOrganization", &org.id, &org.display_name),
        ))
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    pub async fn get_connected_organization(
        &self,
        caller: &Caller,
        id: &str,
    ) -> DomainResult<ConnectedOrganization> {
        if !caller.reads_all_catalogs() {
            return Err(DomainError::not_found("connectedOrganization", id));
        }
        self.store
            .connected_organization(id)
            .await?
            .ok_or_else(|| DomainError::not_found("connectedOrganization", id))
    }

    pub async fn list_connected_organizations(
        &self,
        caller: &Caller,
        query: &ListQuery,
    ) -> DomainResult<Page<ConnectedOrganization>> {
        Self::require_em_reader(caller)?;
        Ok(self.store.list_connected_organizations(query).await?)
    }

    pub async fn update_connected_organization(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        mut input: ConnectedOrganizationInput,
    ) -> DomainResult<()> {
        let mut org = self.get_connected_organization(caller, id).await?;
        Self::require_em_admin(caller)?;
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Value(n) => {
                crate::text::check_display_name(&n, "displayName")?;
                org.display_name = n
            }
            Patch::Null => {
                return Err(DomainError::invalid(
                    "property 'displayName' must be 1 to 256 characters",
                ));
            }
        }
        let description = std::mem::take(&mut input.description);
        if !description.is_absent() {
            description.apply_to(&mut org.description);
        }
        match std::mem::take(&mut input.state) {
            Patch::Absent => {}
            Patch::Value(s) => org.state = canonical_state(&s)?,
            Patch::Null => return Err(DomainError::invalid("property 'state' cannot be null")),
        }
        if let Some(sources) = input.identity_sources.take() {
            check_identity_sources(&sources)?;
            org.identity_sources = sources;
        }
        let now = self.clock.now();
        org.modified_date_time = now;
        let mut tx = self.store.begin().await?;
        tx.save_connected_organization(&org, false).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Update connected organization", "Update"),
            ("ConnectedOrganization", &org.id, &org.display_name),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_connected_organization(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
    ) -> DomainResult<()> {
        let org = self.get_connected_organization(caller, id).await?;
        Self::require_em_admin(caller)?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx.referenced_by_policy(id).await? {
            return Err(DomainError::Conflict(
                "an assignment policy names this connected organization".into(),
            ));
        }
        tx.delete_connected_organization(id).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Delete connected organization", "Delete"),
            ("ConnectedOrganization", &org.id, &org.display_name),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn connected_organization_sponsors(
        &self,
        caller: &Caller,
        id: &str,
        internal: bool,
    ) -> DomainResult<Vec<DirectoryObject>> {
        self.get_connected_organization(caller, id).await?;
        Ok(self
            .store
            .connected_organization_sponsors(id, internal)
            .await?)
    }

    pub async fn change_connected_organization_sponsor(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        id: &str,
        sponsor_id: &str,
        internal: bool,
        add: bool,
    ) -> DomainResult<()> {
        let org = self.get_connected_organization(caller, id).await?;
        Self::require_em_admin(caller)?;
        if add {
            match self.store.directory_object(sponsor_id).await? {
                Some(DirectoryObject::User(u)) if u.kind == UserKind::User => {}
                Some(DirectoryObject::Group(_)) => {}
                Some(_) => {
                    return Err(DomainError::invalid(
                        "connected organization sponsors are users or groups",
                    ));
                }
                None => {
                    return Err(DomainError::invalid(format!(
                        "the referenced object '{sponsor_id}' does not exist"
                    )));
                }
            }
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let changed = tx
            .change_connected_organization_sponsor(id, sponsor_id, internal, add)
            .await?;
        match (changed, add) {
            (false, true) => {
                return Err(DomainError::invalid(
                    "One or more added object references already exist for the following modified properties: 'sponsors'.",
                ));
            }
            (false, false) => return Err(DomainError::not_found("sponsor", sponsor_id)),
            _ => {}
        }
        let activity = if add {
            "Add connected organization sponsor"
        } else {
            "Remove connected organization sponsor"
        };
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                (activity, if add { "Assign" } else { "Unassign" }),
                ("ConnectedOrganization", &org.id, &org.display_name),
            )
            .detail(
                if internal {
                    "internalSponsor"
                } else {
                    "externalSponsor"
                },
                sponsor_id,
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn settings(&self, caller: &Caller) -> DomainResult<EmSettings> {
        Self::require_em_reader(caller)?;
        Ok(match self.store.setting(SETTINGS_KEY).await? {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| DomainError::Internal(format!("stored settings: {e}")))?,
            None => EmSettings::default(),
        })
    }

    pub async fn update_settings(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        duration: Option<String>,
        action: Option<String>,
    ) -> DomainResult<()> {
        Self::require_em_admin(caller)?;
        let mut settings = self.settings(caller).await?;
        if let Some(d) = duration {
            super::bounds::duration_within(
                &d,
                "durationUntilExternalUserDeletedAfterBlocked",
                true,
                super::bounds::MAX_EXTERNAL_USER_DELETION,
            )?;
            settings.duration_until_external_user_deleted_after_blocked = d;
        }
        if let Some(a) = action {
            settings.external_user_lifecycle_action = ["none", "blockSignIn", "blockSignInAndDelete"]
                .iter()
                .find(|x| x.eq_ignore_ascii_case(&a))
                .map(|x| (*x).to_owned())
                .ok_or_else(|| DomainError::invalid(format!("'{a}' is not a valid externalUserLifecycleAction (none, blockSignIn, blockSignInAndDelete)")))?;
        }
        let now = self.clock.now();
        let text =
            serde_json::to_string(&settings).map_err(|e| DomainError::Internal(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        tx.put_setting(SETTINGS_KEY, &text).await?;
        tx.append_audit(&audit(
            caller,
            ctx,
            now,
            ("Update entitlement management settings", "Update"),
            ("EntitlementManagementSettings", "settings", "settings"),
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    // ----- custom workflow extensions -----

    pub async fn create_custom_extension(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        catalog_id: &str,
        mut input: CustomExtensionInput,
    ) -> DomainResult<CustomExtension> {
        let (_, rights) = self.catalog_with_rights(caller, catalog_id).await?;
        require(rights.manage_catalog, "managing its custom extensions")?;
        let kind = match input.kind.as_deref() {
            Some(REQUEST_EXTENSION) => REQUEST_EXTENSION,
            Some(ASSIGNMENT_EXTENSION) => ASSIGNMENT_EXTENSION,
            _ => {
                return Err(DomainError::invalid(format!(
                    "@odata.type must be #microsoft.graph.{REQUEST_EXTENSION} or #microsoft.graph.{ASSIGNMENT_EXTENSION}"
                )));
            }
        };
        let display_name = match std::mem::take(&mut input.display_name) {
            Patch::Value(n) if !n.trim().is_empty() => {
                crate::text::check_display_name(&n, "displayName")?;
                n
            }
            _ => return Err(DomainError::invalid("property 'displayName' is required")),
        };
        let settings = input
            .settings
            .take()
            .ok_or_else(|| DomainError::invalid("property 'endpointConfiguration' is required"))?;
        check_extension(&settings)?;
        let now = self.clock.now();
        let extension = CustomExtension {
            id: new_object_id(),
            catalog_id: catalog_id.to_owned(),
            kind: kind.to_owned(),
            display_name,
            description: input.description.into_option(),
            settings,
            created_by: Some(caller.login_name.clone()),
            created_date_time: now,
            modified_by: Some(caller.login_name.clone()),
            modified_date_time: now,
        };
        let mut tx = self.store.begin().await?;
        tx.save_custom_extension(&extension, true).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Create custom extension", "Add"),
                (
                    "CustomCalloutExtension",
                    &extension.id,
                    &extension.display_name,
                ),
            )
            .in_catalog(catalog_id)
            .detail("catalogId", catalog_id),
        )
        .await?;
        tx.commit().await?;
        Ok(extension)
    }

    pub async fn get_custom_extension(
        &self,
        caller: &Caller,
        catalog_id: &str,
        id: &str,
    ) -> DomainResult<CustomExtension> {
        self.catalog_with_rights(caller, catalog_id).await?;
        self.store
            .custom_extension(id)
            .await?
            .filter(|e| e.catalog_id == catalog_id)
            .ok_or_else(|| DomainError::not_found("customCalloutExtension", id))
    }

    pub async fn list_custom_extensions(
        &self,
        caller: &Caller,
        catalog_id: &str,
    ) -> DomainResult<Vec<CustomExtension>> {
        self.catalog_with_rights(caller, catalog_id).await?;
        Ok(self.store.custom_extensions_of(catalog_id).await?)
    }

    pub async fn update_custom_extension(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        catalog_id: &str,
        id: &str,
        mut input: CustomExtensionInput,
    ) -> DomainResult<()> {
        let (_, rights) = self.catalog_with_rights(caller, catalog_id).await?;
        let mut extension = self.get_custom_extension(caller, catalog_id, id).await?;
        require(rights.manage_catalog, "managing its custom extensions")?;
        if let Some(kind) = &input.kind
            && kind != &extension.kind
        {
            return Err(DomainError::invalid(
                "the type of a custom extension cannot change",
            ));
        }
        match std::mem::take(&mut input.display_name) {
            Patch::Absent => {}
            Patch::Value(n) if !n.trim().is_empty() => {
                crate::text::check_display_name(&n, "displayName")?;
                extension.display_name = n
            }
            _ => {
                return Err(DomainError::invalid(
                    "property 'displayName' cannot be empty",
                ));
            }
        }
        let description = std::mem::take(&mut input.description);
        if !description.is_absent() {
            description.apply_to(&mut extension.description);
        }
        if let Some(settings) = input.settings.take() {
            check_extension(&settings)?;
            extension.settings = settings;
        }
        let now = self.clock.now();
        extension.modified_date_time = now;
        extension.modified_by = Some(caller.login_name.clone());
        let mut tx = self.store.begin().await?;
        tx.save_custom_extension(&extension, false).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Update custom extension", "Update"),
                (
                    "CustomCalloutExtension",
                    &extension.id,
                    &extension.display_name,
                ),
            )
            .in_catalog(catalog_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_custom_extension(
        &self,
        caller: &Caller,
        ctx: &RequestContext,
        catalog_id: &str,
        id: &str,
    ) -> DomainResult<()> {
        let (_, rights) = self.catalog_with_rights(caller, catalog_id).await?;
        let extension = self.get_custom_extension(caller, catalog_id, id).await?;
        require(rights.manage_catalog, "managing its custom extensions")?;
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        if tx.referenced_by_policy(id).await? {
            return Err(DomainError::Conflict(
                "an assignment policy uses this custom extension".into(),
            ));
        }
        tx.delete_custom_extension(id).await?;
        tx.append_audit(
            &audit(
                caller,
                ctx,
                now,
                ("Delete custom extension", "Delete"),
                (
                    "CustomCalloutExtension",
                    &extension.id,
                    &extension.display_name,
                ),
            )
            .in_catalog(catalog_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

fn canonical_state(state: &str) -> DomainResult<String> {
    ["configured", "proposed"]
        .iter()
        .find(|s| s.eq_ignore_ascii_case(state))
        .map(|s| (*s).to_owned())
        .ok_or_else(|| {
            DomainError::invalid(format!(
                "'{state}' is not a valid connected organization state (configured, proposed)"
            ))
        })
}

fn check_extension(settings: &ExtensionSettings) -> DomainResult<()> {
    match &settings.endpoint_configuration {
        EndpointConfiguration::HttpRequestEndpoint { target_url } => {
            check_url(target_url, "endpointConfiguration.targetUrl")?
        }
        EndpointConfiguration::LogicAppTrigger { url, .. } => {
            check_url(url, "endpointConfiguration.url")?
        }
    }
    if let Some(AuthenticationConfiguration::AzureAdToken { resource_id }) =
        &settings.authentication_configuration
        && resource_id.trim().is_empty()
    {
        return Err(DomainError::invalid(
            "authenticationConfiguration.resourceId cannot be empty",
        ));
    }
    if let Some(client) = &settings.client_configuration {
        if client
            .maximum_retries
            .is_some_and(|r| !(0..=5).contains(&r))
        {
            return Err(DomainError::invalid(
                "clientConfiguration.maximumRetries must be 0 to 5",
            ));
        }
        if client
            .timeout_in_milliseconds
            .is_some_and(|t| !(1000..=60_000).contains(&t))
        {
            return Err(DomainError::invalid(
                "clientConfiguration.timeoutInMilliseconds must be 1000 to 60000",
            ));
        }
    }
    if let Some(CallbackConfiguration {
        timeout_duration: Some(d),
    }) = &settings.callback_configuration
    {
        let parsed = super::bounds::duration_within(
            d,
            "callbackConfiguration.timeoutDuration",
            true,
            super::bounds::MAX_CALLBACK_TIMEOUT,
        )?;
        if parsed < super::bounds::MIN_CALLBACK_TIMEOUT {
            return Err(DomainError::invalid(format!(
                "callbackConfiguration.timeoutDuration must be at least {} (5 minutes)",
                crate::duration::format(super::bounds::MIN_CALLBACK_TIMEOUT)
            )));
        }
    }
    Ok(())
}
