//! The token service as the callout sender's [`CalloutTokenIssuer`]: what a custom extension
//! callout's bearer token says. The background runtime signs callouts through this port, so it
//! needs no part of the HTTP server.

use time::OffsetDateTime;
use writ_domain::entitlement::CalloutTokenIssuer;

use crate::tokens::{Subject, TokenService};

/// The `appid` of callout tokens: Writ's entitlement management calling out, not any principal
/// of the directory.
pub const CALLOUT_CLIENT_ID: &str = "writ-entitlement-management";

/// How long a callout's token is valid: long enough for one attempt, no more.
const CALLOUT_TOKEN_LIFETIME: time::Duration = time::Duration::minutes(5);

impl CalloutTokenIssuer for TokenService {
    /// A token for the extension's audience: issued by Writ, for the callout (`sub`/`oid` the
    /// stage-instance id), with no roles and no directory roles, so it grants nothing at Writ or
    /// anywhere else that checks roles.
    fn callout_token(
        &self,
        callout_id: &str,
        audience: &str,
        now: OffsetDateTime,
    ) -> Result<String, String> {
        let subject = Subject {
            object_id: callout_id.to_owned(),
            is_user: false,
            client_id: CALLOUT_CLIENT_ID.into(),
            upn: None,
            display_name: "Writ entitlement management".into(),
            wids: Vec::new(),
            audience: Some(audience.to_owned()),
            roles: Vec::new(),
            lifetime: CALLOUT_TOKEN_LIFETIME,
            not_after: None,
            scp: None,
        };
        self.issue(&subject, now)
            .map(|(token, _)| token)
            .map_err(|e| e.to_string())
    }
}
