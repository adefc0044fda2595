//! Single sign-on through an upstream OpenID provider (issue 16), the parts without a browser:
//! the upstream client against a fake provider served in-process on a loopback port (discovery,
//! JWKS and a token endpoint, with keys generated here), the strict validation of its id tokens,
//! and the linking rules against the real stores — first sign-in links by UPN, later ones by
//! the identity; unlinked people are refused unless just-in-time creation is on; disabled users
//! are refused; every outcome is audited.

use std::sync::{Arc, Mutex};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_domain::directory::RequestContext;
use writ_domain::identity::federation::{
    Federation, FederationPolicy, FederationRefusal, LinkBy, SignInPath, UpstreamClaims,
};
use writ_runtime::outbound::OutboundTimeouts;
use writ_runtime::sso::{UpstreamClient, UpstreamConfig, UpstreamError};
use writ_store::Backend;

use crate::harness::{TestApp, app, nickname};

pub(crate) const CLIENT_ID: &str = "writ-at-idp";
const CLIENT_SECRET: &str = "upstream client secret";
const REDIRECT: &str = "https://writ.example/signin/sso/callback";

/// A signing key of the fake provider.
enum Signer {
    Es256(EcdsaKeyPair),
    Rs256(aws_lc_rs::rsa::KeyPair),
}

pub(crate) struct Key {
    kid: String,
    signer: Signer,
}

impl Key {
    pub(crate) fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::Es256(pair),
        }
    }

    fn rs256(kid: &str) -> Self {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        Self {
            kid: kid.into(),
            signer: Signer::Rs256(pair),
        }
    }

    fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            }
            Signer::Rs256(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                })
            }
        }
    }

    /// A compact JWS of `claims`, with this key's `kid` (or `kid` when given).
    pub(crate) fn sign(&self, claims: &Value, kid: Option<&str>) -> String {
        let alg = match self.signer {
            Signer::Es256(_) => "ES256",
            Signer::Rs256(_) => "RS256",
        };
        let header = json!({"alg": alg, "typ": "JWT", "kid": kid.unwrap_or(&self.kid)});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Es256(pair) => pair.sign(&rng, input.as_bytes()).unwrap().as_ref().to_vec(),
            Signer::Rs256(pair) => {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut out,
                )
                .unwrap();
                out
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[derive(Default)]
pub(crate) struct Seen {
    jwks: Vec<Value>,
    pub(crate) next_id_token: String,
    jwks_fetches: usize,
    pub(crate) token_forms: Vec<String>,
    token_auth: Vec<Option<String>>,
}

#[derive(Clone)]
pub(crate) struct Fake {
    pub(crate) issuer: String,
    pub(crate) seen: Arc<Mutex<Seen>>,
}

async fn discovery(State(fake): State<Fake>) -> Json<Value> {
    let i = &fake.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

async fn jwks(State(fake): State<Fake>) -> Json<Value> {
    let mut seen = fake.seen.lock().unwrap();
    seen.jwks_fetches += 1;
    Json(json!({ "keys": seen.jwks }))
}

async fn token(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Json<Value> {
    let mut seen = fake.seen.lock().unwrap();
    seen.token_forms.push(body);
    seen.token_auth.push(
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    );
    Json(json!({
        "access_token": "upstream-access", "token_type": "Bearer", "expires_in": 300,
        "id_token": seen.next_id_token,
    }))
}

/// The fake provider on a loopback port; its keys are published as given.
pub(crate) async fn fake_provider(keys: &[&Key]) -> Fake {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake {
        issuer,
        seen: Arc::new(Mutex::new(Seen {
            jwks: keys.iter().map(|k| k.jwk()).collect(),
            ..Seen::default()
        })),
    };
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    fake
}

pub(crate) fn client(app: &TestApp, fake: &Fake) -> UpstreamClient {
    UpstreamClient::new(
        UpstreamConfig {
            issuer: fake.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: Some(CLIENT_SECRET.into()),
            scopes: vec!["openid".into(), "profile".into(), "email".into()],
            display_name: "Fake IdP".into(),
        },
        &[],
        OutboundTimeouts::default(),
        Arc::new(app.clock.clone()),
    )
    .unwrap()
}

pub(crate) fn policy(fake: &Fake, link_by: LinkBy, create_users: bool) -> FederationPolicy {
    FederationPolicy {
        issuer: fake.issuer.clone(),
        link_by,
        link_claim: link_by.default_claim().into(),
        create_users,
    }
}

/// Good claims for `sub` at the app's current time, with `nonce`.
pub(crate) fn claims(app: &TestApp, fake: &Fake, sub: &str, nonce: &str, extra: Value) -> Value {
    let now = app.clock.now().unix_timestamp();
    let mut claims = json!({
        "iss": fake.issuer, "aud": CLIENT_ID, "sub": sub, "nonce": nonce,
        "iat": now, "exp": now + 300,
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    claims
}

/// One sign-in round trip without the browser: the authorization request, then the callback's
/// exchange and validation with the token the fake will return (made from the request's nonce).
async fn round_trip(
    client: &UpstreamClient,
    fake: &Fake,
    make_token: impl FnOnce(&str) -> String,
) -> Result<UpstreamClaims, UpstreamError> {
    let request = client
        .authorization_request(REDIRECT, Some("hint@example.org"))
        .await
        .unwrap();
    fake.seen.lock().unwrap().next_id_token = make_token(&request.nonce);
    client
        .complete("the-code", REDIRECT, &request.code_verifier, &request.nonce)
        .await
}

async fn sign_in(
    app: &TestApp,
    policy: &FederationPolicy,
    claims: &UpstreamClaims,
) -> Result<writ_domain::identity::federation::FederatedSignIn, FederationRefusal> {
    Federation::of(&app.state.directory, policy)
        .sign_in(&RequestContext::default(), claims)
        .await
        .unwrap()
}

async fn authorization_request_and_code_exchange(backend: Backend) {
    let app = app(backend).await;
    let key = Key::es256("k1");
    let fake = fake_provider(&[&key]).await;
    let client = client(&app, &fake);
    let request = client
        .authorization_request(REDIRECT, Some("ada@example.org"))
        .await
        .unwrap();
    let (endpoint, query) = request.url.split_once('?').unwrap();
    assert_eq!(endpoint, format!("{}/authorize", fake.issuer));
    let query: std::collections::HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(query["response_type"], "code");
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(query["state"], request.state);
    assert_eq!(query["nonce"], request.nonce);
    assert_eq!(query["login_hint"], "ada@example.org");
    assert_eq!(query["code_challenge_method"], "S256");
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, request.code_verifier.as_bytes());
    assert_eq!(
        query["code_challenge"],
        URL_SAFE_NO_PAD.encode(digest.as_ref())
    );
    // Three distinct 256-bit values.
    for value in [&request.state, &request.nonce, &request.code_verifier] {
        assert_eq!(URL_SAFE_NO_PAD.decode(value).unwrap().len(), 32);
    }
    assert_ne!(request.state, request.nonce);

    fake.seen.lock().unwrap().next_id_token = key.sign(
        &claims(&app, &fake, "sub-1", &request.nonce, json!({})),
        None,
    );
    let validated = client
        .complete("code-1", REDIRECT, &request.code_verifier, &request.nonce)
        .await
        .unwrap();
    assert_eq!(validated.subject, "sub-1");
    assert_eq!(validated.issuer, fake.issuer);
    let seen = fake.seen.lock().unwrap();
    let form: std::collections::HashMap<String, String> =
        form_urlencoded::parse(seen.token_forms[0].as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "code-1");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], request.code_verifier);
    assert!(
        !form.contains_key("client_secret"),
        "the secret goes in Basic"
    );
    let basic = seen.token_auth[0].as_deref().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        format!("{CLIENT_ID}:upstream+client+secret")
    );
}

/// Makes the id token the fake returns, from the request's nonce.
type MakeToken<'a> = Box<dyn Fn(&str) -> String + 'a>;

async fn id_tokens_are_validated_strictly(backend: Backend) {
    let app = app(backend).await;
    let key = Key::es256("k1");
    let rsa = Key::rs256("r1");
    let fake = fake_provider(&[&key, &rsa]).await;
    let client = client(&app, &fake);
    let good = |nonce: &str| claims(&app, &fake, "sub-1", nonce, json!({}));
    // Both algorithms verify.
    assert!(
        round_trip(&client, &fake, |n| key.sign(&good(n), None))
            .await
            .is_ok()
    );
    assert!(
        round_trip(&client, &fake, |n| rsa.sign(&good(n), None))
            .await
            .is_ok()
    );

    let now = app.clock.now().unix_timestamp();
    let impostor = Key::es256("k1");
    let cases: Vec<(&str, MakeToken<'_>, UpstreamError)> = vec![
        (
            "wrong nonce",
            Box::new(|_: &str| key.sign(&good("another-nonce"), None)),
            UpstreamError::WrongNonce,
        ),
        (
            "wrong iss",
            Box::new(|n: &str| {
                key.sign(
                    &claims(&app, &fake, "s", n, json!({"iss": "https://evil.example"})),
                    None,
                )
            }),
            UpstreamError::WrongIssuer("https://evil.example".into()),
        ),
        (
            "wrong aud",
            Box::new(|n: &str| {
                key.sign(
                    &claims(&app, &fake, "s", n, json!({"aud": "someone-else"})),
                    None,
                )
            }),
            UpstreamError::WrongAudience,
        ),
        (
            "several audiences without azp",
            Box::new(|n: &str| {
                key.sign(
                    &claims(&app, &fake, "s", n, json!({"aud": [CLIENT_ID, "other"]})),
                    None,
                )
            }),
            UpstreamError::WrongAuthorizedParty,
        ),
        (
            "expired",
            Box::new(|n: &str| {
                key.sign(
                    &claims(
                        &app,
                        &fake,
                        "s",
                        n,
                        json!({"iat": now - 900, "exp": now - 300}),
                    ),
                    None,
                )
            }),
            UpstreamError::Expired,
        ),
        (
            "not yet valid",
            Box::new(|n: &str| {
                key.sign(
                    &claims(&app, &fake, "s", n, json!({"nbf": now + 600})),
                    None,
                )
            }),
            UpstreamError::NotYetValid,
        ),
        (
            "bad signature (another key under the same kid)",
            Box::new(|n: &str| impostor.sign(&good(n), None)),
            UpstreamError::BadSignature,
        ),
        (
            "tampered payload",
            Box::new(|n: &str| {
                let token = key.sign(&good(n), None);
                let parts: Vec<&str> = token.split('.').collect();
                let forged =
                    URL_SAFE_NO_PAD.encode(claims(&app, &fake, "admin", n, json!({})).to_string());
                format!("{}.{forged}.{}", parts[0], parts[2])
            }),
            UpstreamError::BadSignature,
        ),
        (
            "unknown kid",
            Box::new(|n: &str| key.sign(&good(n), Some("never-published"))),
            UpstreamError::UnknownKey,
        ),
        (
            "HMAC",
            Box::new(|n: &str| {
                let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","kid":"k1"}"#);
                let body = URL_SAFE_NO_PAD.encode(good(n).to_string());
                format!("{header}.{body}.c2lnbmF0dXJl")
            }),
            UpstreamError::AlgorithmNotAllowed("HS256".into()),
        ),
        (
            "alg none",
            Box::new(|n: &str| {
                let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
                format!("{header}.{}.", URL_SAFE_NO_PAD.encode(good(n).to_string()))
            }),
            UpstreamError::Malformed(String::new()),
        ),
        (
            "not a JWT",
            Box::new(|_: &str| "garbage".to_owned()),
            UpstreamError::Malformed(String::new()),
        ),
    ];
    for (case, make, expected) in cases {
        let got = round_trip(&client, &fake, make).await.unwrap_err();
        match expected {
            UpstreamError::Malformed(_) => {
                assert!(
                    matches!(got, UpstreamError::Malformed(_)),
                    "{case}: {got:?}"
                )
            }
            expected => assert_eq!(got, expected, "{case}"),
        }
    }

    // An unknown kid refetches the JWKS, at most once a minute; a key the provider then
    // publishes is found.
    let fetches = fake.seen.lock().unwrap().jwks_fetches;
    let rotated = Key::es256("k2");
    fake.seen.lock().unwrap().jwks.push(rotated.jwk());
    let got = round_trip(&client, &fake, |n| rotated.sign(&good(n), None)).await;
    assert_eq!(got.unwrap_err(), UpstreamError::UnknownKey, "rate-limited");
    assert_eq!(fake.seen.lock().unwrap().jwks_fetches, fetches);
    app.clock.advance(Duration::seconds(61));
    let got = round_trip(&client, &fake, |n| rotated.sign(&good(n), None)).await;
    assert!(got.is_ok(), "{got:?}");
    assert_eq!(fake.seen.lock().unwrap().jwks_fetches, fetches + 1);
}

async fn first_sign_in_links_by_upn_then_by_identity(backend: Backend) {
    let app = app(backend).await;
    let key = Key::es256("k1");
    let fake = fake_provider(&[&key]).await;
    let client = client(&app, &fake);
    let policy = policy(&fake, LinkBy::UserPrincipalName, false);
    let user = app.create_user("Ada Linked").await;
    let upn = format!("{}@example.org", nickname("Ada Linked"));
    let token_for = |sub: &'static str, name: String| {
        let (app, fake, key) = (&app, &fake, &key);
        move |n: &str| {
            key.sign(
                &claims(
                    app,
                    fake,
                    sub,
                    n,
                    json!({"preferred_username": name, "name": "Ada"}),
                ),
                None,
            )
        }
    };
    let audits = app.audit_count().await;
    let upstream = round_trip(&client, &fake, token_for("sub-ada", upn.to_uppercase()))
        .await
        .unwrap();
    let first = sign_in(&app, &policy, &upstream).await.unwrap();
    assert_eq!(first.user.id, user);
    assert_eq!(first.path, SignInPath::Linked);
    // The link and the sign-in are audited, and read back through Graph's audit log.
    assert_eq!(app.audit_count().await, audits + 2);
    let records = app
        .get(
            "/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName%20eq%20'Sign%20in%20with%20single%20sign-on'%20or%20activityDisplayName%20eq%20'Link%20federated%20identity'",
            &app.admin,
        )
        .await;
    assert_eq!(records.status, StatusCode::OK, "{}", records.body);
    let records = records.body["value"].as_array().unwrap();
    let named = |activity: &str| {
        records
            .iter()
            .find(|r| r["activityDisplayName"] == activity)
            .unwrap_or_else(|| panic!("no '{activity}' in {records:#?}"))
            .clone()
    };
    let signed_in = named("Sign in with single sign-on");
    assert_eq!(signed_in["category"], "Authentication");
    assert_eq!(signed_in["result"], "success");
    assert_eq!(signed_in["initiatedBy"]["user"]["id"], user.as_str());
    let linked = named("Link federated identity");
    assert_eq!(linked["category"], "UserManagement");
    assert_eq!(linked["targetResources"][0]["id"], user.as_str());
    let read = app.get(&format!("/v1.0/users/{user}"), &app.admin).await;
    assert_eq!(
        read.body["identities"],
        json!([{"signInType": "federated", "issuer": fake.issuer, "issuerAssignedId": "sub-ada"}])
    );

    // Afterwards the identity decides, whatever the name claim says.
    let upstream = round_trip(
        &client,
        &fake,
        token_for("sub-ada", "renamed@example.org".into()),
    )
    .await
    .unwrap();
    let again = sign_in(&app, &policy, &upstream).await.unwrap();
    assert_eq!(
        (again.user.id.as_str(), again.path),
        (user.as_str(), SignInPath::Identity)
    );

    // Another upstream account with the same name does not take the linked user over.
    let upstream = round_trip(&client, &fake, token_for("sub-impostor", upn.clone()))
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, &policy, &upstream).await.unwrap_err(),
        FederationRefusal::AlreadyLinked
    );

    // A disabled user never signs in; the refusal is audited.
    let disabled = app
        .send(
            Method::PATCH,
            &format!("/v1.0/users/{user}"),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT);
    let audits = app.audit_count().await;
    let upstream = round_trip(&client, &fake, token_for("sub-ada", upn.clone()))
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, &policy, &upstream).await.unwrap_err(),
        FederationRefusal::AccountDisabled
    );
    assert_eq!(app.audit_count().await, audits + 1);
    // So is a failure before any claim is trusted (what the callback does with an
    // `UpstreamError`).
    Federation::of(&app.state.directory, &policy)
        .record_failure(
            &RequestContext::default(),
            None,
            &UpstreamError::WrongNonce.to_string(),
        )
        .await
        .unwrap();
    assert_eq!(app.audit_count().await, audits + 2);

    // A disabled user matched by UPN on a first sign-in is refused too, and not linked.
    let other = app.create_user("Bo Disabled").await;
    app.send(
        Method::PATCH,
        &format!("/v1.0/users/{other}"),
        &app.admin,
        json!({"accountEnabled": false}),
    )
    .await;
    let bo = format!("{}@example.org", nickname("Bo Disabled"));
    let upstream = round_trip(&client, &fake, token_for("sub-bo", bo))
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, &policy, &upstream).await.unwrap_err(),
        FederationRefusal::AccountDisabled
    );
    let read = app.get(&format!("/v1.0/users/{other}"), &app.admin).await;
    assert_eq!(read.body["identities"], json!([]));
}

async fn unlinked_people_need_creation(backend: Backend) {
    let app = app(backend).await;
    let key = Key::es256("k1");
    let fake = fake_provider(&[&key]).await;
    let client = client(&app, &fake);
    let person = |sub: &'static str| {
        let (app, fake, key) = (&app, &fake, &key);
        move |n: &str| {
            key.sign(
                &claims(
                    app,
                    fake,
                    sub,
                    n,
                    json!({
                        "preferred_username": "new.person@example.org",
                        "email": "New.Person@Example.org", "email_verified": true,
                        "name": "New Person", "given_name": "New", "family_name": "Person",
                    }),
                ),
                None,
            )
        }
    };
    let upstream = round_trip(&client, &fake, person("sub-new")).await.unwrap();
    let users = app.user_count().await;
    let refused = sign_in(
        &app,
        &policy(&fake, LinkBy::UserPrincipalName, false),
        &upstream,
    )
    .await;
    assert_eq!(refused.unwrap_err(), FederationRefusal::NoAccount);
    let refused = sign_in(&app, &policy(&fake, LinkBy::None, false), &upstream).await;
    assert_eq!(refused.unwrap_err(), FederationRefusal::NoAccount);
    assert_eq!(app.user_count().await, users);

    let audits = app.audit_count().await;
    let creating = policy(&fake, LinkBy::UserPrincipalName, true);
    let created = sign_in(&app, &creating, &upstream).await.unwrap();
    assert_eq!(created.path, SignInPath::Created);
    assert_eq!(app.user_count().await, users + 1);
    // The creation and the sign-in.
    assert_eq!(app.audit_count().await, audits + 2);
    let read = app
        .get(&format!("/v1.0/users/{}", created.user.id), &app.admin)
        .await;
    assert_eq!(read.body["userPrincipalName"], "new.person@example.org");
    assert_eq!(read.body["mail"], "New.Person@Example.org");
    assert_eq!(read.body["displayName"], "New Person");
    assert_eq!(read.body["givenName"], "New");
    assert_eq!(read.body["userType"], "Member");
    assert_eq!(read.body["accountEnabled"], true);
    assert_eq!(read.body["identities"][0]["issuerAssignedId"], "sub-new");
    // No local password: the password grant cannot sign this person in.
    let password = app
        .password_token("new.person@example.org", crate::harness::PASSWORD)
        .await;
    assert_eq!(
        password.status,
        StatusCode::BAD_REQUEST,
        "{}",
        password.body
    );
    let again = sign_in(&app, &creating, &upstream).await.unwrap();
    assert_eq!(
        (again.user.id, again.path),
        (created.user.id, SignInPath::Identity)
    );

    // Linking by mail: case-insensitive, an ambiguous match refused, an unverified address
    // refused.
    let by_mail = policy(&fake, LinkBy::Mail, false);
    for name in ["Mo One", "Mo Two"] {
        let id = app.create_user(name).await;
        app.send(
            Method::PATCH,
            &format!("/v1.0/users/{id}"),
            &app.admin,
            json!({"mail": "shared@example.org"}),
        )
        .await;
    }
    let shared = |sub: &'static str, verified: bool| {
        let (app, fake, key) = (&app, &fake, &key);
        move |n: &str| {
            key.sign(
                &claims(
                    app,
                    fake,
                    sub,
                    n,
                    json!({"email": "SHARED@example.org", "email_verified": verified}),
                ),
                None,
            )
        }
    };
    let upstream = round_trip(&client, &fake, shared("sub-mo", true))
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, &by_mail, &upstream).await.unwrap_err(),
        FederationRefusal::AmbiguousMatch("email address")
    );
    let upstream = round_trip(&client, &fake, shared("sub-mo", false))
        .await
        .unwrap();
    assert_eq!(
        sign_in(&app, &by_mail, &upstream).await.unwrap_err(),
        FederationRefusal::EmailNotVerified
    );
    let solo = app.create_user("Sol Mail").await;
    app.send(
        Method::PATCH,
        &format!("/v1.0/users/{solo}"),
        &app.admin,
        json!({"mail": "sol@example.org"}),
    )
    .await;
    let upstream = round_trip(&client, &fake, |n| {
        key.sign(
            &claims(
                &app,
                &fake,
                "sub-sol",
                n,
                json!({"email": "Sol@Example.org"}),
            ),
            None,
        )
    })
    .await
    .unwrap();
    let linked = sign_in(&app, &by_mail, &upstream).await.unwrap();
    assert_eq!((linked.user.id, linked.path), (solo, SignInPath::Linked));
    // A missing claim is named.
    let upstream = round_trip(&client, &fake, |n| {
        key.sign(&claims(&app, &fake, "sub-anon", n, json!({})), None)
    })
    .await
    .unwrap();
    assert_eq!(
        sign_in(&app, &by_mail, &upstream).await.unwrap_err(),
        FederationRefusal::MissingClaim("email".into())
    );
}

crate::on_both_backends!(
    authorization_request_and_code_exchange,
    id_tokens_are_validated_strictly,
    first_sign_in_links_by_upn_then_by_identity,
    unlinked_people_need_creation
);
