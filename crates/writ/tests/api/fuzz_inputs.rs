//! Property tests over HTTP, on both backends: assignment policy and assignment request bodies
//! with arbitrary JSON (and out-of-range durations and instants) in every field, token
//! endpoint forms, and bearer strings (arbitrary text, JWT-shaped text, real tokens damaged,
//! and tokens validly signed by the server over arbitrary claims). Nothing may answer 5xx; a
//! refusal is a 4xx in Graph's envelope (OAuth's on the token endpoint), and no bearer string
//! that is not a real token authenticates.
//!
//! The case counts are small by default so `cargo test` stays quick; `PROPTEST_CASES` raises them
//! (`scripts/fuzz.sh`).

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use writ_domain::clock::Clock;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::harness::{Reply, TestApp, app};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

/// `cases` unless `PROPTEST_CASES` says otherwise. The bounded run of `cargo test` uses a fixed
/// seed, so it tests the same cases every time; a long run (`PROPTEST_CASES` set) draws a new
/// seed unless `PROPTEST_RNG_SEED` gives one. Failures are reported, not persisted.
fn config(cases: u32) -> Config {
    let long = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok());
    let default = Config::default();
    Config {
        cases: long.unwrap_or(cases),
        rng_seed: match (long, std::env::var_os("PROPTEST_RNG_SEED")) {
            (None, None) => proptest::test_runner::RngSeed::Fixed(0x5EED),
            _ => default.rng_seed,
        },
        failure_persistence: None,
        ..default
    }
}

/// Runs `check` on `cases` values of `strategy` (with shrinking), from inside the async test.
fn run<S: Strategy>(cases: u32, strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    let result = tokio::task::block_in_place(|| runner.run(&strategy, check));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Blocks on `future` inside a [`run`] check.
fn block<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(future)
}

/// Sends `request` to the app from inside a [`run`] check.
fn call(app: &TestApp, request: Request<Body>) -> Reply {
    block(crate::harness::call(&app.router, request))
}

fn no_server_error(answer: &Reply, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        !answer.status.is_server_error(),
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    Ok(())
}

/// No 5xx; a 4xx carries Graph's envelope with this response's request id.
fn graph_answer(answer: &Reply, what: &str) -> Result<(), TestCaseError> {
    no_server_error(answer, what)?;
    if answer.status.is_client_error() {
        let error = &answer.body["error"];
        prop_assert!(
            error["code"].is_string() && error["message"].is_string(),
            "{what}: {}",
            answer.body
        );
        prop_assert_eq!(
            error["innerError"]["request-id"].as_str(),
            answer
                .headers
                .get("request-id")
                .and_then(|v| v.to_str().ok())
        );
    }
    Ok(())
}

/// Numbers at the boundaries where durations overflow (seconds, minutes, hours and days of
/// `i64` nanoseconds, seconds and milliseconds), at Graph's limits, and anywhere else.
fn amount() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..1000,
        any::<u64>(),
        select(vec![
            9_223_372_036_854_775_807,
            9_223_372_036_854_775_808,
            153_722_867_280_912_930,
            2_562_047_788_015_215,
            106_751_991_167_300,
            106_751_991_167_301,
            10_675_199,
            10_675_200,
            9_999_999_999,
            4_294_967_295,
            2_147_483_647,
            3_652_059,
            365,
            366,
            14,
            15,
        ]),
    ]
}

/// ISO 8601 durations, well-formed or nearly, up to far beyond anything representable.
fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (amount(), select(vec!["D", "W", "Y", "M"])).prop_map(|(n, u)| format!("P{n}{u}")),
        (amount(), select(vec!["H", "M", "S"])).prop_map(|(n, u)| format!("PT{n}{u}")),
        (amount(), amount()).prop_map(|(d, h)| format!("P{d}DT{h}H")),
        amount().prop_map(|n| format!("-P{n}D")),
        "PT[0-9]{1,3}\\.[0-9]{1,12}S",
        "[Pp][0-9DTHMSWY.,-]{0,12}",
    ]
}

/// RFC 3339 instants from year 0000 to 10000, with offsets; and near misses.
fn instant() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            prop_oneof![0u32..=3, 1969u32..=2100, 9990u32..=10000],
            1u32..=13,
            1u32..=31,
            0u32..=24,
            0u32..=60,
            select(vec!["Z", "+14:00", "-14:00", "+00:00", ".9999999Z", ""]),
        )
            .prop_map(|(y, mo, d, h, mi, zone)| format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:59{zone}"
            )),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        "[0-9T:.Z+-]{0,25}",
    ]
}

/// Any JSON value, with the strings a Graph body holds (durations, instants, enumeration
/// members, ids) mixed in with arbitrary ones.
fn any_json(words: Vec<String>) -> impl Strategy<Value = Value> {
    let words = if words.is_empty() {
        vec!["x".to_owned()]
    } else {
        words
    };
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        duration().prop_map(Value::from),
        instant().prop_map(Value::from),
        select(words).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z@.#]{0,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer inside `value` (the root excluded), each below `at`.
pub(crate) fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, &p, out);
            }
        }
        _ => {}
    }
}

/// A value for the place of `current`: mostly of the same kind (a duration for a duration, an
/// instant for an instant, a number for a number), so the damage gets past the type checks to
/// the rules behind them; otherwise anything.
fn like(current: &Value, words: Vec<String>) -> BoxedStrategy<Value> {
    let same: BoxedStrategy<Value> = match current {
        Value::String(s) if s.starts_with('P') => duration().prop_map(Value::from).boxed(),
        Value::String(s) if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') => {
            instant().prop_map(Value::from).boxed()
        }
        Value::String(_) => prop_oneof![
            any::<String>().prop_map(Value::from),
            select(words.clone()).prop_map(Value::from),
        ]
        .boxed(),
        Value::Number(_) => prop_oneof![
            any::<i64>().prop_map(Value::from),
            amount().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
        ]
        .boxed(),
        Value::Bool(_) => any::<bool>().prop_map(Value::from).boxed(),
        _ => any_json(words.clone()).boxed(),
    };
    prop_oneof![3 => same, 1 => any_json(words)].boxed()
}

/// One to three places of `seed` (at any depth) and what to put there.
fn faults(seed: &Value, words: Vec<String>) -> BoxedStrategy<Vec<(String, Value)>> {
    let mut places = Vec::new();
    pointers(seed, "", &mut places);
    let places: Vec<(String, Value)> = places
        .into_iter()
        .map(|p| {
            let current = seed.pointer(&p).cloned().unwrap_or_default();
            (p, current)
        })
        .collect();
    let one = select(places)
        .prop_flat_map(move |(at, current)| (Just(at), like(&current, words.clone())));
    proptest::collection::vec(one, 1..4).boxed()
}

/// `seed` with the faults applied (a place under one already replaced is skipped).
fn damaged(seed: &Value, faults: &[(String, Value)]) -> Value {
    let mut body = seed.clone();
    for (at, value) in faults {
        if let Some(target) = body.pointer_mut(at) {
            *target = value.clone();
        }
    }
    body
}

struct Setup {
    package: String,
    admin_policy: String,
    agent_policy: String,
    target: String,
    assignment: String,
    agent_token: String,
    agent: String,
    words: Vec<String>,
}

/// A catalog with a group resource, a package and two policies (one for administrators' direct
/// assignments, one agents request under), a human target and an agent with a token.
async fn setup(app: &TestApp) -> Setup {
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Fuzz"}),
        )
        .await;
    let group = app.create_group("Fuzz Group").await;
    app.onboard_group(&app.admin, &catalog, &group).await;
    let package = app
        .member_package(&app.admin, &catalog, &group, "Fuzz")
        .await;
    let admin_policy = app.admin_policy(&app.admin, &package).await;
    let fleet = fleet(app).await;
    let sponsor = fleet.sponsor.clone();
    let agent_policy = app
        .created(
            &app.admin,
            &format!("{EM}/assignmentPolicies"),
            policy_seed(&package, &sponsor),
        )
        .await;
    let target = app.create_user("Fuzz Target").await;
    let assigned = app.create_user("Fuzz Assigned").await;
    let request = app.created(&app.admin, &format!("{EM}/assignmentRequests"), json!({"requestType": "adminAdd", "assignment": {"targetId": assigned, "assignmentPolicyId": admin_policy, "accessPackageId": package}})).await;
    let assignments = app.get(&format!("{EM}/assignments"), &app.admin).await;
    let assignment = assignments.body["value"][0]["id"]
        .as_str()
        .map_or(request, str::to_owned);
    let agent_id = create_agent(app, &fleet, "fuzz agent", &[&sponsor])
        .await
        .id();
    let (agent_token, _) =
        agent_token(app, &agent_id, "https://graph.microsoft.com/.default").await;
    let words: Vec<String> = [
        "adminAdd",
        "userAdd",
        "userUpdate",
        "userRemove",
        "adminUpdate",
        "adminRemove",
        "afterDuration",
        "afterDateTime",
        "noExpiration",
        "notSpecified",
        "allDirectoryAgentIdentities",
        "specificDirectoryUsers",
        "allDirectoryUsers",
        "#microsoft.graph.singleUser",
        "#microsoft.graph.groupMembers",
        "#microsoft.graph.targetAgentIdentitySponsorsOrOwners",
        "#microsoft.graph.accessPackageApprovalStage",
        "#microsoft.graph.requestorManager",
        "#microsoft.graph.accessPackageTextInputQuestion",
        "Approve",
        "Deny",
    ]
    .iter()
    .map(|w| (*w).to_owned())
    .chain([
        package.clone(),
        admin_policy.clone(),
        agent_policy.clone(),
        target.clone(),
        sponsor.clone(),
        agent_id.clone(),
        group,
        catalog,
    ])
    .collect();
    Setup {
        package,
        admin_policy,
        agent_policy,
        target,
        assignment,
        agent_token,
        agent: agent_id,
        words,
    }
}

fn policy_seed(package: &str, approver: &str) -> Value {
    json!({
        "displayName": "Fuzz agents", "description": "d",
        "allowedTargetScope": "allDirectoryAgentIdentities", "specificAllowedTargets": [],
        "expiration": {"type": "afterDuration", "duration": "P30D", "endDateTime": null},
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": true,
            "enableTargetsToSelfRemoveAccess": true, "allowCustomAssignmentSchedule": true,
            "enableOnBehalfRequestorsToAddAccess": false, "enableOnBehalfRequestorsToUpdateAccess": false,
            "enableOnBehalfRequestorsToRemoveAccess": false, "onBehalfRequestors": []
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": true,
            "isRequestorJustificationRequired": false,
            "stages": [{
                "durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": false,
                "isEscalationEnabled": true, "durationBeforeEscalation": "P2D",
                "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}],
                "fallbackPrimaryApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}],
                "escalationApprovers": [{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}],
                "fallbackEscalationApprovers": []
            }]
        },
        "questions": [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "sequence": 1, "isRequired": false, "text": "Why?", "localizations": []}],
        "accessPackage": {"id": package}
    })
}

/// A policy body with arbitrary values anywhere: created, put and patched.
async fn policy_bodies_never_fail_the_server(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let seed = policy_seed(&s.package, &s.target);
    run(
        48,
        (faults(&seed, s.words.clone()), 0u8..3),
        |(faults, how)| {
            let body = damaged(&seed, &faults);
            let (method, path) = match how {
                0 => (Method::POST, format!("{EM}/assignmentPolicies")),
                1 => (
                    Method::PUT,
                    format!("{EM}/assignmentPolicies/{}", s.agent_policy),
                ),
                _ => (
                    Method::PATCH,
                    format!("{EM}/assignmentPolicies/{}", s.agent_policy),
                ),
            };
            let request = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header("authorization", format!("Bearer {}", app.admin))
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            let answer = call(&app, request);
            graph_answer(&answer, &format!("{method} {path} {body}"))
        },
    );
}

/// Request bodies of every type with arbitrary values anywhere, by an administrator and by an
/// agent for itself.
async fn request_bodies_never_fail_the_server(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let schedule = json!({"startDateTime": "2030-01-01T00:00:00Z", "expiration": {"type": "afterDuration", "duration": "PT12H", "endDateTime": null}});
    let seeds = vec![
        json!({"requestType": "adminAdd", "justification": "j", "schedule": schedule, "assignment": {"targetId": s.target, "assignmentPolicyId": s.admin_policy, "accessPackageId": s.package}}),
        json!({"requestType": "userAdd", "justification": "j", "schedule": schedule, "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "x", "answeredQuestion": {"id": "q"}}], "assignment": {"accessPackageId": s.package, "assignmentPolicyId": s.agent_policy, "targetId": s.agent}}),
        json!({"requestType": "userUpdate", "schedule": schedule, "assignment": {"id": s.assignment}}),
        json!({"requestType": "adminUpdate", "schedule": {"expiration": {"type": "afterDateTime", "endDateTime": "2030-02-01T00:00:00Z"}}, "assignment": {"id": s.assignment}}),
        json!({"requestType": "adminRemove", "assignment": {"id": s.assignment}}),
    ];
    let words = s.words.clone();
    let seeds_for_strategy = seeds.clone();
    let cases = (0..seeds.len(), any::<bool>()).prop_flat_map(move |(which, as_agent)| {
        (
            Just(which),
            Just(as_agent),
            faults(&seeds_for_strategy[which], words.clone()),
        )
    });
    run(64, cases, |(which, as_agent, faults)| {
        let body = damaged(&seeds[which], &faults);
        let token = if as_agent { &s.agent_token } else { &app.admin };
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{EM}/assignmentRequests"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let answer = call(&app, request);
        graph_answer(&answer, &body.to_string())
    });
}

/// Token requests: the real parameter names and arbitrary ones, good, bad and hostile values,
/// any content type and Basic credentials.
async fn token_forms_never_fail_the_server(backend: Backend) {
    let app = app(backend).await;
    let names = select(vec![
        "grant_type",
        "client_id",
        "client_secret",
        "scope",
        "username",
        "password",
        "refresh_token",
        "code",
        "assertion",
    ])
    .prop_map(str::to_owned);
    let values = prop_oneof![
        select(vec![
            "client_credentials".to_owned(),
            "password".to_owned(),
            crate::harness::ADMIN_CLIENT_ID.to_owned(),
            crate::harness::ADMIN_SECRET.to_owned(),
            "https://graph.microsoft.com/.default".to_owned(),
            "api://x/.default".to_owned(),
            "openid profile".to_owned(),
        ]),
        any::<String>(),
        "[a-z@.]{0,20}",
    ];
    let pair = (prop_oneof![names, any::<String>()], values);
    let form = proptest::collection::vec(pair, 0..7);
    let content_type = select(vec![
        Some("application/x-www-form-urlencoded"),
        Some("application/x-www-form-urlencoded; charset=utf-8"),
        Some("application/json"),
        Some("text/plain"),
        None,
    ]);
    let basic = proptest::option::of(any::<String>());
    run(
        64,
        (form, content_type, basic, any::<bool>()),
        |(form, content_type, basic, tenant)| {
            let mut encoded = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &form {
                encoded.append_pair(k, v);
            }
            let path = if tenant {
                format!("/{}/oauth2/v2.0/token", app.state.settings.tenant_id)
            } else {
                "/oauth2/v2.0/token".to_owned()
            };
            let mut builder = Request::builder().method(Method::POST).uri(&path);
            if let Some(ct) = content_type {
                builder = builder.header("content-type", ct);
            }
            if let Some(basic) = &basic
                && let Ok(value) = HeaderValue::from_str(&format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(basic)
                ))
            {
                builder = builder.header("authorization", value);
            }
            let request = builder.body(Body::from(encoded.finish())).unwrap();
            let answer = call(&app, request);
            no_server_error(&answer, &format!("{form:?}"))?;
            if answer.status.is_client_error() {
                prop_assert!(
                    answer.body["error"].is_string()
                        && answer.body["error_description"].is_string(),
                    "{}",
                    answer.body
                );
            }
            Ok(())
        },
    );
}

/// What a bearer token may look like: arbitrary text, a JWT of arbitrary JSON, a real token
/// damaged at one place, or a token signed by this very server over arbitrary claims.
#[derive(Debug, Clone)]
enum Bearer {
    Text(String),
    Jwt(Value, Value, Vec<u8>),
    Damaged(Index, char),
    Signed(Box<ForgedClaims>),
}

#[derive(Debug, Clone)]
struct ForgedClaims {
    oid: String,
    tid: bool,
    iss: bool,
    aud: bool,
    idtyp: String,
    exp: i64,
    nbf: i64,
}

fn bearer() -> impl Strategy<Value = Bearer> {
    let claims = (
        prop_oneof![any::<String>(), "[0-9a-f-]{36}", Just(String::new())],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            Just("user".to_owned()),
            Just("app".to_owned()),
            any::<String>()
        ],
        prop_oneof![
            any::<i64>(),
            Just(i64::MAX),
            Just(i64::MIN),
            0i64..4_102_444_800
        ],
        prop_oneof![
            any::<i64>(),
            Just(i64::MAX),
            Just(i64::MIN),
            0i64..4_102_444_800
        ],
    )
        .prop_map(|(oid, tid, iss, aud, idtyp, exp, nbf)| ForgedClaims {
            oid,
            tid,
            iss,
            aud,
            idtyp,
            exp,
            nbf,
        });
    let header = prop_oneof![
        Just(json!({"alg": "ES256", "typ": "JWT"})),
        Just(json!({"alg": "none"})),
        Just(json!({"alg": "HS256", "typ": "JWT"})),
        Just(json!({"alg": "RS256", "kid": "x"})),
        any_json(Vec::new()),
    ];
    prop_oneof![
        any::<String>().prop_map(Bearer::Text),
        "[A-Za-z0-9_.-]{0,300}".prop_map(Bearer::Text),
        (
            header,
            any_json(Vec::new()),
            proptest::collection::vec(any::<u8>(), 0..80)
        )
            .prop_map(|(h, p, s)| Bearer::Jwt(h, p, s)),
        (any::<Index>(), any::<char>()).prop_map(|(i, c)| Bearer::Damaged(i, c)),
        claims.prop_map(|c| Bearer::Signed(Box::new(c))),
    ]
}

/// Every bearer string that is not a real, current token is 401 in Graph's envelope.
async fn bearer_strings_never_authenticate(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let real = app
        .state
        .tokens
        .verify(&app.admin, app.clock.now())
        .unwrap();
    run(128, (bearer(), any::<bool>()), |(bearer, agent_route)| {
        let token = match &bearer {
            Bearer::Text(t) => t.clone(),
            Bearer::Jwt(h, p, sig) => format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(p.to_string()),
                URL_SAFE_NO_PAD.encode(sig)
            ),
            Bearer::Damaged(index, c) => {
                let mut chars: Vec<char> = s.agent_token.chars().collect();
                let i = index.index(chars.len());
                if chars[i] == *c {
                    return Ok(());
                }
                chars[i] = *c;
                chars.into_iter().collect()
            }
            Bearer::Signed(c) => {
                let mut claims = real.clone();
                claims.oid = c.oid.clone();
                claims.sub = c.oid.clone();
                if !c.tid {
                    claims.tid = "00000000-0000-0000-0000-000000000000".into();
                }
                if !c.iss {
                    claims.iss = "https://elsewhere.example/".into();
                }
                if !c.aud {
                    claims.aud = "api://elsewhere".into();
                }
                claims.idtyp = c.idtyp.clone();
                claims.exp = c.exp;
                claims.nbf = c.nbf;
                app.state.tokens.sign(&claims).unwrap()
            }
        };
        // Any bytes a header may carry, text that is not UTF-8 included.
        let Ok(value) = HeaderValue::from_bytes(format!("Bearer {token}").as_bytes()) else {
            return Ok(());
        };
        let path = if agent_route {
            format!("{EM}/accessPackages")
        } else {
            "/v1.0/me".to_owned()
        };
        let request = Request::builder()
            .uri(&path)
            .header("authorization", value)
            .body(Body::empty())
            .unwrap();
        let answer = call(&app, request);
        graph_answer(&answer, &format!("{bearer:?}"))?;
        prop_assert_eq!(
            answer.status,
            StatusCode::UNAUTHORIZED,
            "{:?}: {}",
            bearer,
            answer.body
        );
        Ok(())
    });
}

crate::on_both_backends!(
    policy_bodies_never_fail_the_server,
    request_bodies_never_fail_the_server,
    token_forms_never_fail_the_server,
    bearer_strings_never_authenticate,
);
