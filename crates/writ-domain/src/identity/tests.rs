//! The identity rules without HTTP or a database: which claims a token carries for an agent, a
//! user and a Global Administrator, who is refused, and the caller each principal becomes.

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::callers::{TokenType, active_principal, caller_of};
use super::claims::{Audience, ScopeTarget, TokenLifetimes, decide, held_app_roles, parse_scope};
use super::clients::{enabled_client, password_outcome, secret_matches};
use super::{IdentityError, Principal};
use crate::authz::{PrincipalKind, roles};
use crate::directory::{
    AppRole, ClientSecret, ServicePrincipal, ServicePrincipalKind, User, UserKind,
};
use crate::secrets;

const NOW: OffsetDateTime = datetime!(2030-01-01 0:00 UTC);
const LIFETIMES: TokenLifetimes = TokenLifetimes {
    api: Duration::hours(1),
    resource: Duration::minutes(30),
};
const RESOURCE_APP_ID: &str = "00000000-0000-0000-0000-0000000000aa";

fn user(kind: UserKind, enabled: bool, password_hash: Option<String>) -> User {
    User {
        id: "u1".into(),
        kind,
        identity_parent_id: None,
        display_name: "Ada".into(),
        user_principal_name: "ada@example.com".into(),
        mail_nickname: "ada".into(),
        account_enabled: enabled,
        given_name: None,
        surname: None,
        mail: None,
        job_title: None,
        department: None,
        office_location: None,
        mobile_phone: None,
        business_phones: Vec::new(),
        employee_id: None,
        company_name: None,
        usage_location: None,
        preferred_language: None,
        user_type: "Member".into(),
        created_date_time: NOW,
        manager_id: None,
        password_hash,
        force_change_password_next_sign_in: false,
        identities: Vec::new(),
    }
}

fn human() -> Principal {
    Principal::from(user(UserKind::User, true, None))
}

fn agent() -> Principal {
    let mut sp = ServicePrincipal::new(
        "sp-agent".into(),
        "00000000-0000-0000-0000-000000000001".into(),
        "Agent".into(),
        NOW,
    );
    sp.kind = ServicePrincipalKind::AgentIdentity;
    Principal::from(sp)
}

fn resource() -> Audience {
    Audience::Resource(ServicePrincipal::new(
        "sp-orders".into(),
        RESOURCE_APP_ID.into(),
        "Orders".into(),
        NOW,
    ))
}

fn role(id: &str, value: Option<&str>, enabled: bool) -> AppRole {
    AppRole {
        id: id.into(),
        allowed_member_types: vec!["Application".into(), "User".into()],
        description: None,
        display_name: None,
        is_enabled: enabled,
        value: value.map(str::to_owned),
    }
}

#[test]
fn an_agent_token_carries_its_roles_but_never_a_privileged_directory_role() {
    let ends = NOW + Duration::minutes(10);
    let app_roles = held_app_roles(
        vec![
            ("r-read".into(), Some(ends)),
            ("r-read".into(), None),
            ("r-write".into(), Some(ends)),
            ("r-disabled".into(), None),
            ("r-valueless".into(), None),
            ("r-unknown".into(), None),
        ],
        &[
            role("r-read", Some("Orders.Read"), true),
            role("r-write", Some("Orders.Write"), true),
            role("r-disabled", Some("Orders.Admin"), false),
            role("r-valueless", None, true),
        ],
    );
    let content = decide(
        &agent(),
        "00000000-0000-0000-0000-000000000001".into(),
        &resource(),
        vec![
            (roles::GLOBAL_ADMINISTRATOR.into(), None),
            (roles::DIRECTORY_READERS.into(), None),
        ],
        app_roles,
        LIFETIMES,
    );
    assert!(!content.is_user);
    assert_eq!(content.upn, None);
    assert_eq!(content.object_id, "sp-agent");
    assert_eq!(content.client_id, "00000000-0000-0000-0000-000000000001");
    assert_eq!(content.wids, vec![roles::DIRECTORY_READERS.to_owned()]);
    assert_eq!(content.audience.as_deref(), Some(RESOURCE_APP_ID));
    // One path of Orders.Read has no end: the role does not cap the token; Orders.Write does.
    assert_eq!(content.roles, vec!["Orders.Read", "Orders.Write"]);
    assert_eq!(content.lifetime, LIFETIMES.resource);
    assert_eq!(content.not_after, Some(ends));
}

#[test]
fn a_user_token_for_writ_names_the_user_and_carries_no_app_roles() {
    let content = decide(
        &human(),
        super::WRIT_PUBLIC_CLIENT_ID.into(),
        &Audience::Writ,
        Vec::new(),
        (vec!["ignored".into()], Some(NOW)),
        LIFETIMES,
    );
    assert!(content.is_user);
    assert_eq!(content.upn.as_deref(), Some("ada@example.com"));
    assert_eq!(content.display_name, "Ada");
    assert_eq!(content.client_id, super::WRIT_PUBLIC_CLIENT_ID);
    assert_eq!(content.audience, None);
    assert!(content.roles.is_empty());
    assert!(content.wids.is_empty());
    assert_eq!(content.lifetime, LIFETIMES.api);
    assert_eq!(content.not_after, None);
}

#[test]
fn a_global_administrator_carries_its_role_until_its_last_path_ends() {
    let first = NOW + Duration::minutes(5);
    let last = NOW + Duration::minutes(20);
    let content = decide(
        &human(),
        super::WRIT_PUBLIC_CLIENT_ID.into(),
        &Audience::Writ,
        vec![
            (roles::GLOBAL_ADMINISTRATOR.into(), Some(first)),
            (roles::GLOBAL_ADMINISTRATOR.into(), Some(last)),
        ],
        (Vec::new(), None),
        LIFETIMES,
    );
    assert_eq!(content.wids, vec![roles::GLOBAL_ADMINISTRATOR.to_owned()]);
    assert_eq!(content.not_after, Some(last));

    let caller = caller_of(
        human(),
        vec![(roles::GLOBAL_ADMINISTRATOR.into(), None)],
        vec![("catalog-owner".into(), Some("c1".into()))],
    );
    assert!(caller.is_global_admin());
    assert_eq!(caller.kind, PrincipalKind::User);
    assert_eq!(caller.login_name, "ada@example.com");
    assert_eq!(caller.catalog_roles.len(), 1);
}

#[test]
fn an_agent_caller_holds_no_privileged_role_and_no_catalog_role() {
    let caller = caller_of(
        agent(),
        vec![
            (roles::GLOBAL_ADMINISTRATOR.into(), None),
            (roles::DIRECTORY_READERS.into(), None),
        ],
        vec![("catalog-owner".into(), None)],
    );
    assert!(caller.is_agent);
    assert!(!caller.is_global_admin());
    assert_eq!(caller.directory_roles, vec![roles::DIRECTORY_READERS]);
    assert!(caller.catalog_roles.is_empty());
    assert_eq!(caller.kind, PrincipalKind::ServicePrincipal);

    let agent_user = caller_of(
        Principal::from(user(UserKind::AgentUser, true, None)),
        vec![(roles::GLOBAL_READER.into(), None)],
        vec![("catalog-reader".into(), None)],
    );
    assert!(agent_user.is_agent);
    assert!(agent_user.directory_roles.is_empty());
    assert!(agent_user.catalog_roles.is_empty());
}

#[test]
fn a_disabled_or_missing_principal_is_refused() {
    let mut disabled = human();
    disabled.enabled = false;
    assert!(matches!(
        active_principal(Some(disabled), PrincipalKind::User),
        Err(IdentityError::PrincipalGone(PrincipalKind::User))
    ));
    let gone = active_principal(None, PrincipalKind::ServicePrincipal).unwrap_err();
    assert_eq!(
        gone.to_string(),
        "The service principal of this token no longer exists or is disabled."
    );
    assert_eq!(
        active_principal(Some(human()), PrincipalKind::User).unwrap(),
        human()
    );
    assert_eq!(TokenType::from_idtyp("user"), TokenType::User);
    assert_eq!(TokenType::from_idtyp("app"), TokenType::App);

    let mut sp = ServicePrincipal::new("sp".into(), "app".into(), "App".into(), NOW);
    sp.account_enabled = false;
    assert!(matches!(
        enabled_client(Some(sp.clone())),
        Err(IdentityError::UnauthorizedClient)
    ));
    assert!(matches!(
        enabled_client(None),
        Err(IdentityError::UnauthorizedClient)
    ));
    sp.account_enabled = true;
    assert_eq!(enabled_client(Some(sp)).unwrap().login_name, "app");
}

#[test]
fn the_password_grant_refuses_wrong_passwords_and_disabled_accounts_differently() {
    let hash = Some("argon2-hash".to_owned());
    // Wrong password, unknown user, no local password: one refusal, counted as a failure.
    for (found, verified) in [
        (Some(user(UserKind::User, true, hash.clone())), false),
        (None, true),
        (Some(user(UserKind::User, true, None)), true),
    ] {
        assert!(matches!(
            password_outcome(found, verified),
            Err(IdentityError::WrongPassword)
        ));
    }
    assert!(matches!(
        password_outcome(Some(user(UserKind::User, false, hash.clone())), true),
        Err(IdentityError::AccountDisabled)
    ));
    let principal = password_outcome(Some(user(UserKind::AgentUser, true, hash)), true).unwrap();
    assert!(principal.is_agent);
    assert!(!principal.is_human_user());
}

#[test]
fn only_a_secret_valid_now_authenticates() {
    let secret = "s3cret-value";
    let credential = |start: OffsetDateTime, end: OffsetDateTime| ClientSecret {
        key_id: "k".into(),
        owner_id: "app".into(),
        secret_hash: secrets::hash_client_secret(secret),
        hint: "s3c".into(),
        display_name: None,
        start_date_time: start,
        end_date_time: end,
    };
    let hour = Duration::hours(1);
    assert!(secret_matches(
        secret,
        &[credential(NOW - hour, NOW + hour)],
        NOW
    ));
    assert!(!secret_matches(
        "another",
        &[credential(NOW - hour, NOW + hour)],
        NOW
    ));
    assert!(!secret_matches(secret, &[credential(NOW - hour, NOW)], NOW));
    assert!(!secret_matches(
        secret,
        &[credential(NOW + hour, NOW + hour + hour)],
        NOW
    ));
}

#[test]
fn scopes_name_writ_or_one_resource() {
    let public = "https://writ.example";
    assert_eq!(parse_scope(None, false, public).unwrap(), ScopeTarget::Writ);
    assert!(matches!(
        parse_scope(None, true, public),
        Err(IdentityError::InvalidRequest(_))
    ));
    assert_eq!(
        parse_scope(Some("openid profile"), false, public).unwrap(),
        ScopeTarget::Writ
    );
    for writ in [
        "https://graph.microsoft.com/.default",
        "https://WRIT.example/.default",
    ] {
        assert_eq!(
            parse_scope(Some(writ), true, public).unwrap(),
            ScopeTarget::Writ
        );
    }
    assert_eq!(
        parse_scope(Some("openid api://orders/.DEFAULT"), true, public).unwrap(),
        ScopeTarget::Resource("api://orders".into())
    );
    for bad in ["api://a/.default api://b/.default", "api://orders/read"] {
        assert!(matches!(
            parse_scope(Some(bad), true, public),
            Err(IdentityError::InvalidScope(_))
        ));
    }
    assert!(matches!(
        parse_scope(Some("openid"), true, public),
        Err(IdentityError::InvalidScope(_))
    ));
}

fn record(kind: PrincipalKind, is_agent: bool, enabled: bool) -> crate::store::PrincipalRecord {
    crate::store::PrincipalRecord {
        id: "p1".into(),
        kind,
        is_agent,
        display_name: "P".into(),
        login_name: "p-app".into(),
        enabled,
        risk_state: None,
        directory_role_paths: vec![(roles::GLOBAL_ADMINISTRATOR.into(), None)],
        catalog_roles: vec![("catalog-owner".into(), Some("c1".into()))],
    }
}

#[test]
fn the_caller_read_in_one_record_keeps_every_refusal() {
    use super::callers::caller_from_record;
    use crate::model::RiskState;
    assert!(matches!(
        caller_from_record(None, PrincipalKind::User),
        Err(IdentityError::PrincipalGone(PrincipalKind::User))
    ));
    let disabled = record(PrincipalKind::User, false, false);
    assert!(matches!(
        caller_from_record(Some(disabled), PrincipalKind::User),
        Err(IdentityError::PrincipalGone(_))
    ));
    // A record of the other kind than the token says is no caller.
    let sp = record(PrincipalKind::ServicePrincipal, false, true);
    assert!(matches!(
        caller_from_record(Some(sp), PrincipalKind::User),
        Err(IdentityError::PrincipalGone(_))
    ));
    let mut agent = record(PrincipalKind::ServicePrincipal, true, true);
    agent.risk_state = Some(RiskState::ConfirmedCompromised);
    assert!(matches!(
        caller_from_record(Some(agent.clone()), PrincipalKind::ServicePrincipal),
        Err(IdentityError::AgentCompromised)
    ));
    // Confirmed safe again: the agent calls, without the privileged role a group gave it.
    agent.risk_state = Some(RiskState::ConfirmedSafe);
    let caller = caller_from_record(Some(agent), PrincipalKind::ServicePrincipal).unwrap();
    assert!(caller.directory_roles.is_empty());
    assert!(caller.catalog_roles.is_empty());
    // A person's risk state never refuses; a person keeps roles and catalog roles.
    let mut person = record(PrincipalKind::User, false, true);
    person.risk_state = Some(RiskState::ConfirmedCompromised);
    let caller = caller_from_record(Some(person), PrincipalKind::User).unwrap();
    assert_eq!(caller.directory_roles, vec![roles::GLOBAL_ADMINISTRATOR]);
    assert_eq!(caller.catalog_roles.len(), 1);
}

#[test]
fn client_credentials_in_one_record_check_the_secret_before_anything_else() {
    use super::clients::authenticated_client;
    use crate::store::ClientRecord;
    let secret = "a-client-secret";
    let valid = ClientSecret {
        key_id: "k1".into(),
        owner_id: "a1".into(),
        secret_hash: secrets::hash_client_secret(secret),
        hint: "a-c".into(),
        display_name: None,
        start_date_time: NOW - Duration::days(1),
        end_date_time: NOW + Duration::days(1),
    };
    let application = |principal| ClientRecord {
        application_id: Some("a1".into()),
        principal,
        secrets: vec![valid.clone()],
    };
    let enabled_sp = record(PrincipalKind::ServicePrincipal, false, true);
    let client = authenticated_client(application(Some(enabled_sp.clone())), secret, NOW).unwrap();
    assert_eq!(client.principal.id, "p1");
    assert_eq!(client.directory_role_paths.len(), 1);
    // A wrong or expired secret is an unknown client, whatever else is true of it.
    assert!(matches!(
        authenticated_client(application(None), "wrong", NOW),
        Err(IdentityError::InvalidClient)
    ));
    assert!(matches!(
        authenticated_client(
            application(Some(enabled_sp.clone())),
            secret,
            NOW + Duration::days(2)
        ),
        Err(IdentityError::InvalidClient)
    ));
    // The right secret without an enabled service principal: unauthorized.
    for principal in [
        None,
        Some(record(PrincipalKind::ServicePrincipal, false, false)),
    ] {
        assert!(matches!(
            authenticated_client(application(principal), secret, NOW),
            Err(IdentityError::UnauthorizedClient)
        ));
    }
    // Without an application the appId must be an agent identity's.
    let own = |principal| ClientRecord {
        application_id: None,
        principal: Some(principal),
        secrets: vec![valid.clone()],
    };
    assert!(matches!(
        authenticated_client(own(enabled_sp), secret, NOW),
        Err(IdentityError::InvalidClient)
    ));
    let agent = record(PrincipalKind::ServicePrincipal, true, true);
    assert!(
        authenticated_client(own(agent), secret, NOW)
            .unwrap()
            .principal
            .is_agent
    );
    assert!(matches!(
        authenticated_client(ClientRecord::default(), secret, NOW),
        Err(IdentityError::InvalidClient)
    ));
}
