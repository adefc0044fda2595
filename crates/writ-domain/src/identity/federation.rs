//! Single sign-on through an upstream OpenID provider (DESIGN section 14, "Where people
//! authenticate"): the settings that say where people sign in and how an upstream account finds
//! its Writ user, and the linking rules. The id token itself is fetched and validated outside
//! the domain (`writ-runtime`'s `sso` module); what arrives here is its validated claims.
//!
//! An upstream account (issuer + `sub`) reaches a user by, in order: an existing link in
//! `user.identities`; a match of one claim against `userPrincipalName` or `mail`
//! (`WRIT_SSO_LINK_BY`), after which the link is written; a member user created from the claims
//! (`WRIT_SSO_CREATE_USERS`). Otherwise, and for a disabled or agent user, it is refused with a
//! [`FederationRefusal`] the sign-in page can explain. Every outcome is an audit record.

use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::directory::users::{
    FEDERATED, MAX_IDENTITIES, check_length, check_mail_nickname, check_user_principal_name,
    duplicate_identity,
};
use crate::directory::{Directory, ObjectIdentity, RequestContext, User, UserKind};
use crate::error::{DomainError, DomainResult};
use crate::ids::new_object_id;
use crate::model::{Actor, AuditRecord};
use crate::store::{Store, StoreError};

/// Why a step with the upstream provider failed. Each is one thing the sign-in page can say;
/// none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("the identity provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the identity provider answered with an error: {0}")]
    ProviderError(String),
    #[error("the identity provider's {0} is not valid: {1}")]
    BadDocument(&'static str, String),
    #[error("the identity provider returned no id token")]
    NoIdToken,
    #[error("the id token is malformed: {0}")]
    Malformed(String),
    #[error("the id token is signed with '{0}', which Writ does not accept")]
    AlgorithmNotAllowed(String),
    #[error("the id token is signed with a key the identity provider does not publish")]
    UnknownKey,
    #[error("the id token's signature is not valid")]
    BadSignature,
    #[error("the id token was issued by '{0}', not the configured identity provider")]
    WrongIssuer(String),
    #[error("the id token is not meant for Writ (audience)")]
    WrongAudience,
    #[error("the id token names another client as its authorized party (azp)")]
    WrongAuthorizedParty,
    #[error("the id token has expired")]
    Expired,
    #[error("the id token is not valid yet")]
    NotYetValid,
    #[error("the id token was issued in the future")]
    IssuedInFuture,
    #[error("the id token does not answer this sign-in (nonce)")]
    WrongNonce,
    #[error("the id token lacks the '{0}' claim")]
    MissingClaim(&'static str),
}

/// What the caller keeps between sending the person to the provider and the callback: `state`
/// (checked against the callback's), `nonce` (checked in the id token) and the PKCE verifier
/// (sent with the code). All three are 256-bit random values; keep them server-side.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// Where to send the browser.
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

impl std::fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("url", &"…")
            .finish_non_exhaustive()
    }
}

/// The upstream OpenID provider as the sign-in handlers use it: implemented by
/// `writ_runtime::sso::UpstreamClient` (outbound HTTP lives there), handed to the server as
/// `Arc<dyn UpstreamProvider>` so that neither crate depends on the other.
#[async_trait::async_trait]
pub trait UpstreamProvider: Send + Sync + std::fmt::Debug {
    /// The name in the button's "Sign in with …".
    fn display_name(&self) -> &str;

    /// Where to send the browser, and the `state`, `nonce` and PKCE verifier to keep in the
    /// server-side session until the callback.
    async fn authorization_request(
        &self,
        redirect_uri: &str,
        login_hint: Option<&str>,
    ) -> Result<AuthorizationRequest, UpstreamError>;

    /// The callback's work, after its `state` matched the session's: the code exchanged and
    /// the id token validated against the session's `nonce`.
    async fn complete(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<UpstreamClaims, UpstreamError>;
}

/// The audit category of sign-ins (directory changes a sign-in makes are `UserManagement`).
pub const SIGN_IN_CATEGORY: &str = super::SIGN_IN_AUDIT_CATEGORY;
const USER_CATEGORY: &str = "UserManagement";

/// `WRIT_SIGN_IN`: which ways of signing in the sign-in page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMode {
    Local,
    Sso,
    Both,
}

impl SignInMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "local" => Some(Self::Local),
            "sso" => Some(Self::Sso),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Sso => "sso",
            Self::Both => "both",
        }
    }

    /// Whether the local password sign-in (page, password grant) is offered.
    pub fn allows_local(self) -> bool {
        matches!(self, Self::Local | Self::Both)
    }

    /// Whether "Sign in with …" through the upstream provider is offered.
    pub fn allows_sso(self) -> bool {
        matches!(self, Self::Sso | Self::Both)
    }
}

/// `WRIT_SSO_LINK_BY`: which user property a first sign-in is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkBy {
    UserPrincipalName,
    Mail,
    None,
}

impl LinkBy {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "userPrincipalName" => Some(Self::UserPrincipalName),
            "mail" => Some(Self::Mail),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserPrincipalName => "userPrincipalName",
            Self::Mail => "mail",
            Self::None => "none",
        }
    }

    /// The upstream claim compared when `WRIT_SSO_LINK_CLAIM` is not set.
    pub fn default_claim(self) -> &'static str {
        match self {
            Self::UserPrincipalName | Self::None => "preferred_username",
            Self::Mail => "email",
        }
    }
}

/// How upstream accounts find their Writ users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationPolicy {
    /// The upstream issuer, exactly as its id tokens' `iss` (and `identities.issuer`).
    pub issuer: String,
    pub link_by: LinkBy,
    /// The claim compared with `userPrincipalName` or `mail`; with [`LinkBy::None`], the claim a
    /// created user's `userPrincipalName` comes from.
    pub link_claim: String,
    pub create_users: bool,
}

/// The claims of an upstream id token that passed validation (signature, `iss`, `aud`, times,
/// `nonce`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamClaims {
    pub issuer: String,
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl UpstreamClaims {
    /// A string claim, trimmed; `None` when absent, not a string or blank.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// `false` only when the provider says the address is not verified.
    fn email_unverified(&self) -> bool {
        matches!(self.claims.get("email_verified"), Some(Value::Bool(false)))
            || self
                .claims
                .get("email_verified")
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case("false"))
    }
}

/// Why an upstream account did not sign in. Each says what the person (or an administrator)
/// can do; none is a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationRefusal {
    #[error(
        "There is no Writ account for this person. Ask an administrator to create one or to link it to your sign-in."
    )]
    NoAccount,
    #[error(
        "Several Writ accounts match this person's {0}; an administrator must link the right one."
    )]
    AmbiguousMatch(&'static str),
    #[error("The Writ account is disabled.")]
    AccountDisabled,
    #[error("Agent users cannot sign in interactively.")]
    AgentUser,
    #[error(
        "The matching Writ account is already linked to another account of this provider; an administrator must change the link."
    )]
    AlreadyLinked,
    #[error("The matching Writ account has as many linked sign-ins as it may hold.")]
    TooManyIdentities,
    #[error("The identity provider did not send the '{0}' claim needed to find the Writ account.")]
    MissingClaim(String),
    #[error("The identity provider says the email address is not verified.")]
    EmailNotVerified,
    #[error("A Writ account cannot be created from this sign-in: {0}")]
    CannotCreate(String),
}

/// How the user was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInPath {
    /// Through an existing link in `identities`.
    Identity,
    /// Matched by `WRIT_SSO_LINK_BY`, and the link written now.
    Linked,
    /// Created just in time, with the link.
    Created,
}

impl SignInPath {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Linked => "linked",
            Self::Created => "created",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FederatedSignIn {
    pub user: User,
    pub path: SignInPath,
}

/// The linking rules over the directory's store and clock.
#[derive(Clone, Copy)]
pub struct Federation<'a> {
    store: &'a dyn Store,
    clock: &'a dyn Clock,
    policy: &'a FederationPolicy,
}

/// What a match by the configured claim found.
enum Match {
    Found(Box<User>),
    Refused(FederationRefusal),
    Nobody,
}

impl<'a> Federation<'a> {
    pub fn of(directory: &'a Directory, policy: &'a FederationPolicy) -> Self {
        Self {
            store: directory.port(),
            clock: directory.clock().as_ref(),
            policy,
        }
    }

    /// Signs in the person these validated claims describe: the Writ user, or why not. Every
    /// outcome is audited; a refusal is `Ok(Err(_))` (committed with its audit record), a
    /// store failure `Err(_)`.
    pub async fn sign_in(
        &self,
        ctx: &RequestContext,
        claims: &UpstreamClaims,
    ) -> DomainResult<Result<FederatedSignIn, FederationRefusal>> {
        if claims.issuer != self.policy.issuer {
            // The validator checks `iss` already; a mismatch here is a wiring mistake.
            return Err(DomainError::Internal(
                "upstream claims from an issuer other than the configured one".into(),
            ));
        }
        let outcome = match self
            .store
            .user_by_identity(&claims.issuer, &claims.subject)
            .await?
        {
            Some(user) => self.existing(ctx, claims, user).await?,
            None => match self.find_by_claim(claims).await? {
                Match::Found(user) => self.link(ctx, claims, *user).await?,
                Match::Refused(refusal) => Err(refusal),
                Match::Nobody if self.policy.create_users => self.create(ctx, claims).await?,
                Match::Nobody => Err(FederationRefusal::NoAccount),
            },
        };
        if let Err(refusal) = &outcome {
            self.record_failure(ctx, Some(claims), &refusal.to_string())
                .await?;
        }
        Ok(outcome)
    }

    /// Audits a sign-in that failed before any claim could be trusted (an upstream error, an
    /// id token refused by validation): `reason` is the validator's message.
    pub async fn record_failure(
        &self,
        ctx: &RequestContext,
        claims: Option<&UpstreamClaims>,
        reason: &str,
    ) -> DomainResult<()> {
        let now = self.clock.now();
        let mut record = sign_in_record(ctx, now, None, claims);
        record.result = "failure".into();
        record.result_reason = Some(reason.to_owned());
        let mut tx = self.store.begin().await?;
        tx.append_audit(&record).await?;
        tx.commit().await?;
        Ok(())
    }

    fn refusal_for(user: &User) -> Option<FederationRefusal> {
        if user.kind == UserKind::AgentUser {
            Some(FederationRefusal::AgentUser)
        } else if !user.account_enabled {
            Some(FederationRefusal::AccountDisabled)
        } else {
            None
        }
    }

    async fn existing(
        &self,
        ctx: &RequestContext,
        claims: &UpstreamClaims,
        user: User,
    ) -> DomainResult<Result<FederatedSignIn, FederationRefusal>> {
        if let Some(refusal) = Self::refusal_for(&user) {
            return Ok(Err(refusal));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        tx.append_audit(
            &sign_in_record(ctx, now, Some(&user), Some(claims)).detail("path", "identity"),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(FederatedSignIn {
            user,
            path: SignInPath::Identity,
        }))
    }

    async fn find_by_claim(&self, claims: &UpstreamClaims) -> DomainResult<Match> {
        let claim = self.policy.link_claim.as_str();
        if self.policy.link_by == LinkBy::None {
            return Ok(Match::Nobody);
        }
        let Some(value) = claims.text(claim) else {
            return Ok(Match::Refused(FederationRefusal::MissingClaim(
                claim.to_owned(),
            )));
        };
        if claim == "email" && claims.email_unverified() {
            return Ok(Match::Refused(FederationRefusal::EmailNotVerified));
        }
        Ok(match self.policy.link_by {
            LinkBy::UserPrincipalName => match self.store.user_by_principal_name(value).await? {
                Some(user) => Match::Found(Box::new(user)),
                None => Match::Nobody,
            },
            LinkBy::Mail => {
                let mut found = self.store.users_by_mail(value, 2).await?;
                match (found.pop(), found.is_empty()) {
                    (Some(user), true) => Match::Found(Box::new(user)),
                    (Some(_), false) => {
                        Match::Refused(FederationRefusal::AmbiguousMatch("email address"))
                    }
                    (None, _) => Match::Nobody,
                }
            }
            LinkBy::None => Match::Nobody,
        })
    }

    fn identity(&self, claims: &UpstreamClaims) -> ObjectIdentity {
        ObjectIdentity {
            sign_in_type: FEDERATED.to_owned(),
            issuer: claims.issuer.clone(),
            issuer_assigned_id: claims.subject.clone(),
        }
    }

    async fn link(
        &self,
        ctx: &RequestContext,
        claims: &UpstreamClaims,
        user: User,
    ) -> DomainResult<Result<FederatedSignIn, FederationRefusal>> {
        let mut tx = self.store.begin().await?;
        // Re-read in the transaction: the user may have changed since the match.
        let Some(mut user) = tx.user(&user.id).await? else {
            return Ok(Err(FederationRefusal::NoAccount));
        };
        if let Some(refusal) = Self::refusal_for(&user) {
            return Ok(Err(refusal));
        }
        // A different account of the same provider already signs in as this user: a new
        // upstream account with the same name (a recycled name) must not take it over.
        if user.identities.iter().any(|i| i.issuer == claims.issuer) {
            return Ok(Err(FederationRefusal::AlreadyLinked));
        }
        if user.identities.len() >= MAX_IDENTITIES {
            return Ok(Err(FederationRefusal::TooManyIdentities));
        }
        user.identities.push(self.identity(claims));
        tx.replace_user_identities(&user.id, &user.identities)
            .await
            .map_err(unique_as_duplicate)?;
        let now = self.clock.now();
        tx.append_audit(
            &user_change(now, ctx, "Link federated identity", "Update", &user)
                .detail("issuer", claims.issuer.clone())
                .detail("issuerAssignedId", claims.subject.clone())
                .detail("linkedBy", self.policy.link_by.as_str()),
        )
        .await?;
        tx.append_audit(
            &sign_in_record(ctx, now, Some(&user), Some(claims)).detail("path", "linked"),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(FederatedSignIn {
            user,
            path: SignInPath::Linked,
        }))
    }

    /// The created user's `userPrincipalName`: the link claim when links are by UPN (or none),
    /// else `preferred_username`; `email` when that is missing.
    fn new_upn<'c>(&self, claims: &'c UpstreamClaims) -> Option<&'c str> {
        let first = match self.policy.link_by {
            LinkBy::UserPrincipalName | LinkBy::None => self.policy.link_claim.as_str(),
            LinkBy::Mail => "preferred_username",
        };
        claims
            .text(first)
            .filter(|v| v.contains('@'))
            .or_else(|| claims.text("email"))
    }

    async fn create(
        &self,
        ctx: &RequestContext,
        claims: &UpstreamClaims,
    ) -> DomainResult<Result<FederatedSignIn, FederationRefusal>> {
        let cannot = |why: String| Ok(Err(FederationRefusal::CannotCreate(why)));
        let Some(upn) = self.new_upn(claims) else {
            return cannot(
                "the identity provider sent no user name of the form name@domain".into(),
            );
        };
        if let Err(e) = check_user_principal_name(upn) {
            return cannot(e.to_string());
        }
        let mail = claims.text("email").filter(|_| !claims.email_unverified());
        let display_name = claims
            .text("name")
            .map(str::to_owned)
            .or_else(
                || match (claims.text("given_name"), claims.text("family_name")) {
                    (Some(g), Some(f)) => Some(format!("{g} {f}")),
                    (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
                    (None, None) => None,
                },
            )
            .unwrap_or_else(|| upn.to_owned());
        let nickname = mail_nickname_from(upn);
        let now = self.clock.now();
        let user = User {
            id: new_object_id(),
            kind: UserKind::User,
            identity_parent_id: None,
            display_name,
            user_principal_name: upn.to_owned(),
            mail_nickname: nickname,
            account_enabled: true,
            given_name: claims.text("given_name").map(str::to_owned),
            surname: claims.text("family_name").map(str::to_owned),
            mail: mail.map(str::to_owned),
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
            created_date_time: now,
            manager_id: None,
            // No local password: this person signs in through the provider only.
            password_hash: None,
            force_change_password_next_sign_in: false,
            identities: vec![self.identity(claims)],
        };
        for (value, name, max) in [
            (Some(user.display_name.as_str()), "displayName", 256),
            (user.given_name.as_deref(), "givenName", 64),
            (user.surname.as_deref(), "surname", 64),
            (user.mail.as_deref(), "mail", 256),
        ] {
            if let Some(value) = value
                && let Err(e) = check_length(value, name, max)
            {
                return cannot(e.to_string());
            }
        }
        if let Err(e) = check_mail_nickname(&user.mail_nickname) {
            return cannot(e.to_string());
        }
        if self.store.user_by_principal_name(upn).await?.is_some() {
            // Only reachable when links are not by userPrincipalName: an account that exists
            // but was not matched is not taken over by creating its twin.
            return cannot(format!(
                "the user name {upn} is taken by another Writ account"
            ));
        }
        let mut tx = self.store.begin().await?;
        match tx.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Unique(_)) => {
                return cannot(format!(
                    "the user name {upn} is taken by another Writ account"
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tx.replace_user_identities(&user.id, &user.identities)
            .await
            .map_err(unique_as_duplicate)?;
        let mut created = user_change(now, ctx, "Add user", "Add", &user)
            .detail("issuer", claims.issuer.clone())
            .detail("issuerAssignedId", claims.subject.clone())
            .detail("createdBy", "singleSignOn");
        created.initiated_by = Actor::system();
        tx.append_audit(&created).await?;
        tx.append_audit(
            &sign_in_record(ctx, now, Some(&user), Some(claims)).detail("path", "created"),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(FederatedSignIn {
            user,
            path: SignInPath::Created,
        }))
    }
}

fn unique_as_duplicate(e: StoreError) -> DomainError {
    match e {
        StoreError::Unique(_) => duplicate_identity(),
        other => other.into(),
    }
}

/// A `mailNickname` from the UPN's alias: the characters Entra allows, at most 64.
fn mail_nickname_from(upn: &str) -> String {
    let alias = upn.split('@').next().unwrap_or(upn);
    let nickname: String = alias
        .chars()
        .filter(|c| c.is_ascii() && !c.is_whitespace() && !"@()\\[]\";:<>,".contains(*c))
        .take(64)
        .collect();
    if nickname.is_empty() {
        "user".to_owned()
    } else {
        nickname
    }
}

fn user_change(
    now: time::OffsetDateTime,
    ctx: &RequestContext,
    activity: &str,
    operation: &str,
    user: &User,
) -> AuditRecord {
    let mut record = AuditRecord::success(
        user_actor(user),
        now,
        USER_CATEGORY,
        activity,
        operation,
        ctx.request_id.as_deref(),
    )
    .target(
        &user.id,
        "User",
        Some(&user.display_name),
        vec!["identities".to_owned()],
    );
    if let Some(target) = record.target_resources.last_mut() {
        target.user_principal_name = Some(user.user_principal_name.clone());
    }
    record
}

fn user_actor(user: &User) -> Actor {
    Actor {
        kind: "user".into(),
        id: Some(user.id.clone()),
        display_name: Some(user.display_name.clone()),
        login_name: Some(user.user_principal_name.clone()),
    }
}

/// The record of one sign-in through the upstream provider: the user when known, and the
/// upstream account (issuer, `sub`) when its claims were trusted.
fn sign_in_record(
    ctx: &RequestContext,
    now: time::OffsetDateTime,
    user: Option<&User>,
    claims: Option<&UpstreamClaims>,
) -> AuditRecord {
    let actor = match user {
        Some(user) => user_actor(user),
        None => Actor {
            kind: "user".into(),
            id: None,
            display_name: claims.and_then(|c| c.text("name")).map(str::to_owned),
            login_name: claims
                .and_then(|c| c.text("preferred_username").or_else(|| c.text("email")))
                .map(str::to_owned),
        },
    };
    let mut record = AuditRecord::success(
        actor,
        now,
        SIGN_IN_CATEGORY,
        "Sign in with single sign-on",
        "SignIn",
        ctx.request_id.as_deref(),
    );
    if let Some(user) = user {
        record = record.target(&user.id, "User", Some(&user.display_name), Vec::new());
        if let Some(target) = record.target_resources.last_mut() {
            target.user_principal_name = Some(user.user_principal_name.clone());
        }
    }
    if let Some(claims) = claims {
        record = record
            .detail("issuer", claims.issuer.clone())
            .detail("issuerAssignedId", claims.subject.clone());
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, Value)]) -> UpstreamClaims {
        UpstreamClaims {
            issuer: "https://idp.example".into(),
            subject: "s".into(),
            claims: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn settings_parse_their_documented_values_only() {
        for mode in ["local", "sso", "both"] {
            assert_eq!(SignInMode::parse(mode).map(SignInMode::as_str), Some(mode));
        }
        assert_eq!(SignInMode::parse("Both"), None);
        assert!(SignInMode::Both.allows_local() && SignInMode::Both.allows_sso());
        assert!(!SignInMode::Sso.allows_local() && !SignInMode::Local.allows_sso());
        for by in ["userPrincipalName", "mail", "none"] {
            assert_eq!(LinkBy::parse(by).map(LinkBy::as_str), Some(by));
        }
        assert_eq!(LinkBy::parse("upn"), None);
        assert_eq!(LinkBy::Mail.default_claim(), "email");
        assert_eq!(
            LinkBy::UserPrincipalName.default_claim(),
            "preferred_username"
        );
    }

    #[test]
    fn claims_are_read_as_trimmed_text_and_unverified_email_is_seen() {
        let c = claims(&[
            ("email", Value::from(" a@b.example ")),
            ("blank", Value::from("  ")),
            ("number", Value::from(3)),
            ("email_verified", Value::Bool(false)),
        ]);
        assert_eq!(c.text("email"), Some("a@b.example"));
        assert_eq!(c.text("blank"), None);
        assert_eq!(c.text("number"), None);
        assert!(c.email_unverified());
        assert!(!claims(&[("email_verified", Value::from("true"))]).email_unverified());
        assert!(claims(&[("email_verified", Value::from("False"))]).email_unverified());
        assert!(!claims(&[]).email_unverified());
    }

    #[test]
    fn nicknames_keep_the_allowed_characters_of_the_alias() {
        assert_eq!(mail_nickname_from("ada.l@example.org"), "ada.l");
        assert_eq!(mail_nickname_from("é(x)@example.org"), "x");
        assert_eq!(mail_nickname_from("()@example.org"), "user");
        assert_eq!(
            mail_nickname_from(&format!("{}@e", "a".repeat(80))).len(),
            64
        );
    }
}
