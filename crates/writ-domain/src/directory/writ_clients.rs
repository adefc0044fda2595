//! Writ's own OAuth clients, created at first start and kept as they should be at every start
//! (DESIGN section 14): the command-line public client and the portal. Their client ids are fixed
//! and documented (`docs/configuration.md`, "Writ's own clients"), so tools can name them without
//! configuration, like Entra's first-party applications.
//!
//! Like Entra's first-party applications they cannot be deleted, changed or given secrets
//! through the API (400: start-up owns them); an administrator reads them, and may disable one
//! through its service principal (`accountEnabled: false`), which start-up leaves alone.

use time::OffsetDateTime;

use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{Actor, AuditRecord};
use crate::store::StoreTx;

use super::{Application, ClientRegistration, ServicePrincipal, WebRegistration};

/// The command-line public client: device code and loopback redirects (`http://localhost`, any
/// port), `isFallbackPublicClient`. Also the client recorded in user tokens of a password grant
/// that names none.
pub const WRIT_PUBLIC_CLIENT_ID: &str = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001";
/// The portal: a confidential web client used by the server itself.
pub const WRIT_PORTAL_CLIENT_ID: &str = "a8d5e6f0-4c3b-4f7a-9d21-77717e000002";
/// The portal's redirect URI, under the server's public URL.
pub const PORTAL_REDIRECT_PATH: &str = "/portal/signin";

const PUBLIC_CLIENT_NAME: &str = "Writ command-line tools";
const PORTAL_NAME: &str = "Writ portal";

/// Whether `app_id` is one of Writ's own clients.
pub fn is_writ_client(app_id: &str) -> bool {
    app_id == WRIT_PUBLIC_CLIENT_ID || app_id == WRIT_PORTAL_CLIENT_ID
}

/// The refusal of a change to one of Writ's own clients.
pub(crate) fn refuse_change(app_id: &str, what: &str) -> DomainResult<()> {
    if is_writ_client(app_id) {
        return Err(DomainError::invalid(format!(
            "application {app_id} is one of Writ's own clients and cannot be {what}: start-up keeps it as documented; disable its service principal (accountEnabled false) to stop its use"
        )));
    }
    Ok(())
}

/// What each of Writ's clients should be; `public_url` without a trailing slash (`None`: the
/// portal's redirect URI is left as stored, e.g. in tests without a server).
fn desired(app_id: &str, public_url: Option<&str>) -> (String, ClientRegistration, bool) {
    if app_id == WRIT_PUBLIC_CLIENT_ID {
        let clients = ClientRegistration {
            public_client_redirect_uris: vec!["http://localhost".into()],
            ..ClientRegistration::default()
        };
        (PUBLIC_CLIENT_NAME.into(), clients, true)
    } else {
        let clients = ClientRegistration {
            web: WebRegistration {
                redirect_uris: public_url
                    .map(|url| vec![format!("{url}{PORTAL_REDIRECT_PATH}")])
                    .unwrap_or_default(),
                home_page_url: public_url.map(|url| format!("{url}/")),
                ..WebRegistration::default()
            },
            ..ClientRegistration::default()
        };
        (PORTAL_NAME.into(), clients, false)
    }
}

fn record(now: OffsetDateTime, activity: &str, operation: &str) -> AuditRecord {
    AuditRecord::success(
        Actor::system(),
        now,
        "ApplicationManagement",
        activity,
        operation,
        None,
    )
}

/// Creates Writ's clients and their service principals if missing, and puts back their
/// settings if they differ (e.g. the public URL changed). Each write is audited; a start that
/// finds them as they should be writes nothing.
pub(crate) async fn ensure_writ_clients(
    tx: &mut dyn StoreTx,
    now: OffsetDateTime,
    public_url: Option<&str>,
) -> DomainResult<()> {
    let public_url = public_url.map(|url| url.trim_end_matches('/'));
    for app_id in [WRIT_PUBLIC_CLIENT_ID, WRIT_PORTAL_CLIENT_ID] {
        let (name, mut clients, fallback) = desired(app_id, public_url);
        let app = match tx.application_by_app_id(app_id).await? {
            None => {
                let mut app = Application::new(new_object_id(), app_id.into(), name, now);
                app.clients = clients;
                app.is_fallback_public_client = fallback;
                tx.insert_application(&app).await?;
                tx.append_audit(
                    &record(now, "Add application", "Add")
                        .target(&app.id, "Application", Some(&app.display_name), Vec::new())
                        .detail("reason", "Writ's own client"),
                )
                .await?;
                app
            }
            Some(mut app) => {
                if public_url.is_none() {
                    clients.web = app.clients.web.clone();
                }
                if app.display_name != name
                    || app.clients != clients
                    || app.is_fallback_public_client != fallback
                {
                    app.display_name = name;
                    app.clients = clients;
                    app.is_fallback_public_client = fallback;
                    tx.update_application(&app).await?;
                    tx.append_audit(
                        &record(now, "Update application", "Update")
                            .target(
                                &app.id,
                                "Application",
                                Some(&app.display_name),
                                vec![
                                    "displayName".into(),
                                    "publicClient".into(),
                                    "web".into(),
                                    "isFallbackPublicClient".into(),
                                ],
                            )
                            .detail("reason", "Writ's own client restored at start-up"),
                    )
                    .await?;
                }
                app
            }
        };
        if tx.service_principal_by_app_id(app_id).await?.is_none() {
            let sp = ServicePrincipal::new(
                new_object_id(),
                app_id.into(),
                app.display_name.clone(),
                now,
            );
            tx.insert_service_principal(&sp).await?;
            tx.append_audit(
                &record(now, "Add service principal", "Add")
                    .target(
                        &sp.id,
                        "ServicePrincipal",
                        Some(&sp.display_name),
                        Vec::new(),
                    )
                    .detail("reason", "Writ's own client"),
            )
            .await?;
        }
    }
    Ok(())
}
