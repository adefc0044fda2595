//! A Writ app on a fresh database, a manual clock, and helpers to call it like a client would:
//! requests and the checks of their answers, and the set-up most tests share (users with a
//! password, a catalog's group resource, a package granting its membership, an administrators'
//! policy).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;
use writ_domain::clock::{Clock, ManualClock, SystemClock};
use writ_server::state::AppState;
use writ_store::{Backend, SqlStore};

pub const ADMIN_CLIENT_ID: &str = "0d1b7a3e-9a4e-4c1f-8a61-3f2b8c9d0e11";
pub const ADMIN_SECRET: &str = "admin-secret-for-tests-only";
pub const PUBLIC_URL: &str = "http://writ.test";
/// The password of every user [`TestApp::create_user`] makes.
pub const PASSWORD: &str = "a long passphrase 1";
const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub store: SqlStore,
    pub clock: ManualClock,
    pub admin: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The Graph error code, checking the whole envelope on the way.
    pub fn error_code(&self) -> &str {
        let inner = &self.body["error"]["innerError"];
        assert!(
            inner["request-id"].is_string() && inner["date"].is_string(),
            "error envelope without request-id/date: {}",
            self.body
        );
        assert_eq!(
            inner["request-id"].as_str(),
            self.headers.get("request-id").and_then(|v| v.to_str().ok()),
            "the envelope and the header carry the same request-id"
        );
        assert!(self.body["error"]["message"].is_string());
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `id` of the object in the body.
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {} ({})", self.body, self.status))
            .to_owned()
    }

    /// Asserts a `400 invalidRequest` in Graph's envelope whose message contains `expected` (the
    /// field and the limit, say); `case` names the attempt in a failure.
    pub fn assert_invalid_request(&self, expected: &str, case: &str) {
        assert_eq!(
            self.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            self.body
        );
        assert_eq!(self.error_code(), "invalidRequest", "{case}");
        let message = self.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(expected),
            "{case}: the message names '{expected}': {message}"
        );
    }

    /// Asserts an OAuth error (RFC 6749 section 5.2, the token endpoint's format): this status
    /// and `error`, and an `error_description` that contains `description`.
    pub fn assert_oauth_error(&self, status: StatusCode, error: &str, description: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
        let text = self.body["error_description"].as_str().unwrap_or_default();
        assert!(
            self.body["error_description"].is_string() && text.contains(description),
            "the description names '{description}': {}",
            self.body
        );
    }
}

/// Sends `request` through `router` as a client would: the answer's status, headers and body.
pub async fn exchange(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

/// [`exchange`], the body read as JSON (its text as a JSON string when it is not JSON, `null`
/// when it is empty).
pub async fn call(router: &Router, request: Request<Body>) -> Reply {
    let (status, headers, bytes) = exchange(router, request).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The claims of a JWT, read without checking anything.
/// What [`TestApp::admin_assigns_membership`] made: the ids of the group, its package and policy.
pub struct AssignedMembership {
    pub group: String,
    pub package: String,
    pub policy: String,
}

/// The `id` of an object the API answered with.
pub fn id(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_owned()
}

/// Posts `body` to `path` as `token`, asserts `201 Created` and returns the new object.
pub async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let reply = app.send(Method::POST, path, token, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
    reply.body
}

pub fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The mail nickname (and sign-in name before `@example.org`) of a user
/// [`TestApp::create_user`] made from `name`.
pub fn nickname(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The body of a resource request for the group `group` in `catalog` (`adminAdd`,
/// `adminUpdate`, ...).
pub fn group_resource(request_type: &str, catalog: &str, group: &str) -> Value {
    json!({"requestType": request_type, "catalog": {"id": catalog}, "resource": {"originId": group, "originSystem": "AadGroup"}})
}

pub fn now() -> OffsetDateTime {
    SystemClock.now()
}

pub async fn app(backend: Backend) -> TestApp {
    let store = writ_store::testing::fresh_store(backend)
        .await
        .expect("fresh test database");
    let clock = ManualClock::new(now());
    let started = writ_server::start(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        writ_server::ServerConfig {
            public_url: PUBLIC_URL.into(),
            tenant_id: None,
            bootstrap_client_id: Some(ADMIN_CLIENT_ID.into()),
            bootstrap_client_secret: Some(ADMIN_SECRET.into()),
            signing_key_pem: None,
            token_lifetime: time::Duration::hours(1),
            resource_token_lifetime: time::Duration::minutes(10),
            metrics: None,
            expiry_notice_lead_times: None,
            max_agent_access: None,
            ..Default::default()
        },
    )
    .await
    .expect("start");
    let router = writ_server::router(started.state.clone());
    let mut app = TestApp {
        router,
        state: started.state,
        store,
        clock,
        admin: String::new(),
    };
    app.admin = app.client_token(ADMIN_CLIENT_ID, ADMIN_SECRET).await;
    app
}

impl TestApp {
    /// A new administrator token, for when the test clock has moved past the old one's life.
    pub async fn refresh_admin(&mut self) {
        self.admin = self.client_token(ADMIN_CLIENT_ID, ADMIN_SECRET).await;
    }

    pub async fn request(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(body.unwrap_or_else(Body::empty)).unwrap();
        call(&self.router, request).await
    }

    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.request(Method::GET, uri, Some(token), None, &[]).await
    }

    pub async fn delete(&self, uri: &str, token: &str) -> Reply {
        self.request(Method::DELETE, uri, Some(token), None, &[])
            .await
    }

    pub async fn send(&self, method: Method, uri: &str, token: &str, body: Value) -> Reply {
        self.request(
            method,
            uri,
            Some(token),
            Some(Body::from(body.to_string())),
            &[("content-type", "application/json")],
        )
        .await
    }

    pub async fn raw(&self, method: Method, uri: &str, token: &str, body: &str) -> Reply {
        self.request(
            method,
            uri,
            Some(token),
            Some(Body::from(body.to_owned())),
            &[("content-type", "application/json")],
        )
        .await
    }

    pub async fn token_request(&self, form: &str) -> Reply {
        self.request(
            Method::POST,
            "/oauth2/v2.0/token",
            None,
            Some(Body::from(form.to_owned())),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await
    }

    pub async fn client_token(&self, client_id: &str, secret: &str) -> String {
        let reply = self
            .token_request(&format!(
                "grant_type=client_credentials&client_id={client_id}&client_secret={secret}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn password_token(&self, upn: &str, password: &str) -> Reply {
        self.token_request(&format!(
            "grant_type=password&username={}&password={}",
            upn.replace('@', "%40"),
            password.replace(' ', "+")
        ))
        .await
    }

    /// Creates a user with a password ([`PASSWORD`]) and returns its id.
    pub async fn create_user(&self, name: &str) -> String {
        let nickname = nickname(name);
        let reply = self
            .send(
                Method::POST,
                "/v1.0/users",
                &self.admin,
                json!({
                    "displayName": name,
                    "userPrincipalName": format!("{nickname}@example.org"),
                    "mailNickname": nickname,
                    "accountEnabled": true,
                    "passwordProfile": {"password": PASSWORD},
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a user with a password and signs it in: its id and its token.
    pub async fn user_token(&self, name: &str) -> (String, String) {
        let id = self.create_user(name).await;
        let reply = self
            .password_token(&format!("{}@example.org", nickname(name)), PASSWORD)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        (id, reply.body["access_token"].as_str().unwrap().to_owned())
    }

    pub async fn create_group(&self, name: &str) -> String {
        let reply = self
            .send(
                Method::POST,
                "/v1.0/groups",
                &self.admin,
                json!({
                    "displayName": name,
                    "mailNickname": name.to_lowercase().replace(' ', "-"),
                    "mailEnabled": false,
                    "securityEnabled": true,
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Tries to create a group with `token`; returns the status.
    pub async fn create_group_as(&self, token: &str, name: &str) -> StatusCode {
        self.send(
            Method::POST,
            "/v1.0/groups",
            token,
            json!({
                "displayName": name,
                "mailNickname": name.to_lowercase().replace(' ', "-"),
                "mailEnabled": false,
                "securityEnabled": true,
            }),
        )
        .await
        .status
    }

    /// Posts `body` to `path` as `token`, asserts `201 Created` and returns the new object's id.
    pub async fn created(&self, token: &str, path: &str, body: Value) -> String {
        let reply = self.send(Method::POST, path, token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{path}: {}", reply.body);
        reply.id()
    }

    /// Adds the group `group` to `catalog` as a resource, as `token` (an `adminAdd` resource
    /// request, which must be accepted).
    pub async fn onboard_group(&self, token: &str, catalog: &str, group: &str) {
        self.created(
            token,
            &format!("{EM}/resourceRequests"),
            group_resource("adminAdd", catalog, group),
        )
        .await;
    }

    /// The id of the `Member` role of the group resource `group` in `catalog`, read by `token`.
    pub async fn member_role(&self, token: &str, catalog: &str, group: &str) -> String {
        let roles = self
            .get(&format!("{EM}/catalogs/{catalog}/resourceRoles"), token)
            .await;
        roles.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["originId"] == format!("Member_{group}"))
            .and_then(|r| r["id"].as_str())
            .unwrap_or_else(|| panic!("no Member role of {group} in {}", roles.body))
            .to_owned()
    }

    /// A package named `name` in `catalog` that grants the `Member` role of the group resource
    /// `group`, made by `token`; its id.
    pub async fn member_package(
        &self,
        token: &str,
        catalog: &str,
        group: &str,
        name: &str,
    ) -> String {
        let package = self
            .created(
                token,
                &format!("{EM}/accessPackages"),
                json!({"displayName": name, "catalog": {"id": catalog}}),
            )
            .await;
        let member = self.member_role(token, catalog, group).await;
        self.created(
            token,
            &format!("{EM}/accessPackages/{package}/resourceRoleScopes"),
            json!({"role": {"id": member}}),
        )
        .await;
        package
    }

    /// One pass of the job worker over every job due at the clock's instant.
    pub async fn run_jobs(&self) -> writ_domain::jobs::PassReport {
        writ_domain::jobs::run_due_jobs(
            &self.store,
            &self.state.entitlement,
            &writ_domain::jobs::WorkerConfig::default(),
            self.clock.now(),
        )
        .await
        .unwrap()
    }

    /// [`Self::run_jobs`], where no job may fail: how many it completed.
    pub async fn run_jobs_cleanly(&self) -> u32 {
        let report = self.run_jobs().await;
        assert_eq!((report.retried, report.parked), (0, 0));
        report.completed
    }

    /// A new secret of the service principal `id`, added by the administrator; its text.
    pub async fn add_secret(&self, id: &str) -> String {
        let secret = self
            .send(
                Method::POST,
                &format!("/v1.0/servicePrincipals/{id}/addPassword"),
                &self.admin,
                serde_json::json!({"passwordCredential": {"displayName": "agent key"}}),
            )
            .await;
        assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
        secret.body["secretText"].as_str().unwrap().to_owned()
    }

    /// A new group and a package of its membership in a new catalog (`label` names both), with
    /// an administrators-only policy, and an `adminAdd` of it for `target` accepted (its
    /// delivery is left to the caller's job run).
    pub async fn admin_assigns_membership(&self, target: &str, label: &str) -> AssignedMembership {
        let group = self.create_group(&format!("{label} on call")).await;
        let catalog = self
            .created(
                &self.admin,
                &format!("{EM}/catalogs"),
                serde_json::json!({"displayName": label}),
            )
            .await;
        self.onboard_group(&self.admin, &catalog, &group).await;
        let package = self
            .member_package(&self.admin, &catalog, &group, "On call")
            .await;
        let policy = self.admin_policy(&self.admin, &package).await;
        let request = self
            .send(
                Method::POST,
                &format!("{EM}/assignmentRequests"),
                &self.admin,
                serde_json::json!({
                    "requestType": "adminAdd",
                    "assignment": {"targetId": target, "assignmentPolicyId": policy, "accessPackageId": package},
                }),
            )
            .await;
        assert_eq!(request.status, StatusCode::CREATED, "{}", request.body);
        AssignedMembership {
            group,
            package,
            policy,
        }
    }

    /// An administrators-only policy on `package` (any target, a day), made by `token`; its id.
    pub async fn admin_policy(&self, token: &str, package: &str) -> String {
        self.created(
            token,
            &format!("{EM}/assignmentPolicies"),
            json!({
                "displayName": "Administrators assign", "allowedTargetScope": "notSpecified",
                "expiration": {"type": "afterDuration", "duration": "P1D"},
                "accessPackage": {"id": package},
            }),
        )
        .await
    }

    /// The number of users, read straight from the store.
    pub async fn user_count(&self) -> i64 {
        use writ_domain::store::DirectoryStore;
        self.store
            .list_users(
                &writ_domain::query::ListQuery {
                    top: 1,
                    count: true,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap()
            .count
            .unwrap()
    }

    pub async fn group_count(&self) -> i64 {
        use writ_domain::store::DirectoryStore;
        self.store
            .list_groups(&writ_domain::query::ListQuery {
                top: 1,
                count: true,
                ..Default::default()
            })
            .await
            .unwrap()
            .count
            .unwrap()
    }

    pub async fn audit_count(&self) -> usize {
        use writ_domain::store::AuditStore;
        self.store.audit_records(10_000).await.unwrap().len()
    }
}

/// Runs each named test on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(writ_store::Backend::Postgres).await }
            )*
        }
    };
}
