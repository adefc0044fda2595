//! The MCP server at `/mcp` (issue 18, part H) through the in-process router: the handshake and
//! the tool list with their schemas, each tool's happy path and a refusal as an `isError`
//! result, the 401 with `WWW-Authenticate` naming the RFC 9728 metadata, the metadata itself,
//! bad JSON-RPC answered with JSON-RPC errors, an agent refused another agent's objects exactly
//! as missing ones, a person acting for an agent it sponsors, and the `via: mcp` audit marks.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use writ_domain::store::AuditStore;
use writ_store::Backend;

use crate::agents::{agent_token, create_agent, fleet};
use crate::assignments::run_jobs;
use crate::harness::{PASSWORD, PUBLIC_URL, Reply, TestApp, app, id, nickname};

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";
const APPROVALS: &str =
    "/v1.0/identityGovernance/entitlementManagement/accessPackageAssignmentApprovals";
const METADATA: &str = "/.well-known/oauth-protected-resource/mcp";
const MISSING: &str = "0190f0f0-0000-7000-8000-000000000000";

/// Posts `body` (raw text) to `/mcp` with `token` and the headers a streamable HTTP client sends.
async fn post_raw(
    app: &TestApp,
    token: Option<&str>,
    body: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];
    for (k, v) in headers {
        all.retain(|(name, _)| !name.eq_ignore_ascii_case(k));
        all.push((k, v));
    }
    app.request(
        Method::POST,
        "/mcp",
        token,
        Some(Body::from(body.to_owned())),
        &all,
    )
    .await
}

/// A JSON-RPC request `method` with `params`; the whole reply.
async fn rpc(app: &TestApp, token: &str, method: &str, params: Value) -> Reply {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let reply = post_raw(app, Some(token), &body.to_string(), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.body);
    assert_eq!(reply.body["jsonrpc"], "2.0");
    assert_eq!(reply.body["id"], 7);
    reply
}

/// `tools/call` of `name`: the tool's result (`isError` false or true).
async fn call(app: &TestApp, token: &str, name: &str, arguments: Value) -> Value {
    let reply = rpc(
        app,
        token,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await;
    let result = reply.body["result"].clone();
    assert!(result.is_object(), "{name}: {}", reply.body);
    result
}

/// The structured content of a successful call, checked against its text twin.
async fn ok(app: &TestApp, token: &str, name: &str, arguments: Value) -> Value {
    let result = call(app, token, name, arguments).await;
    assert_eq!(result["isError"], false, "{name}: {result}");
    let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        text, result["structuredContent"],
        "the text content repeats the structure"
    );
    result["structuredContent"].clone()
}

/// The message of a refused call (`isError: true`).
async fn refused(app: &TestApp, token: &str, name: &str, arguments: Value) -> String {
    let result = call(app, token, name, arguments).await;
    assert_eq!(
        result["isError"], true,
        "{name} should be refused: {result}"
    );
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

async fn person_token(app: &TestApp, name: &str) -> String {
    let reply = app
        .password_token(&format!("{}@example.org", nickname(name)), PASSWORD)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["access_token"].as_str().unwrap().to_owned()
}

/// Sam sponsors agents "mcp-agent" (with Cora) and "quiet-agent", Tina "tina-agent"; package "Ticket
/// tools" grants membership of a group under one policy: agents ask for themselves or their
/// sponsors for them, a sponsor approves, a justification and a ticket number are required,
/// eight hours at most, a shorter duration allowed, extensions without approval.
struct World {
    agent: String,
    agent_token: String,
    other_agent: String,
    other_agent_token: String,
    quiet_agent: String,
    sam_token: String,
    cora_token: String,
    tina_token: String,
    package: String,
    policy: String,
    question: String,
    group: String,
}

async fn world(app: &TestApp) -> World {
    let fleet = fleet(app).await;
    let tina = app.create_user("Tina Othersponsor").await;
    let cora = app.create_user("Cora Cosponsor").await;
    let agent = id(
        &create_agent(app, &fleet, "mcp-agent", &[&fleet.sponsor, &cora])
            .await
            .body,
    );
    let quiet_agent = id(&create_agent(app, &fleet, "quiet-agent", &[&fleet.sponsor])
        .await
        .body);
    let other_agent = id(&create_agent(app, &fleet, "tina-agent", &[&tina]).await.body);
    let catalog = app
        .created(
            &app.admin,
            &format!("{EM}/catalogs"),
            json!({"displayName": "Support"}),
        )
        .await;
    let group = app.create_group("Ticket Tools").await;
    app.onboard_group(&app.admin, &catalog, &group).await;
    let package = app
        .member_package(&app.admin, &catalog, &group, "Ticket tools")
        .await;
    let policy = app
        .send(Method::POST, &format!("{EM}/assignmentPolicies"), &app.admin, json!({
            "displayName": "Agents, approved by a sponsor",
            "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT8H"},
            "requestorSettings": {
                "enableTargetsToSelfAddAccess": true,
                "enableTargetsToSelfUpdateAccess": true,
                "enableTargetsToSelfRemoveAccess": true,
                "allowCustomAssignmentSchedule": true,
                "enableOnBehalfRequestorsToAddAccess": true,
                "enableOnBehalfRequestorsToRemoveAccess": true,
                "onBehalfRequestors": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
            },
            "requestApprovalSettings": {
                "isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
                "isRequestorJustificationRequired": true,
                "stages": [{
                    "durationBeforeAutomaticDenial": "P7D",
                    "primaryApprovers": [{"@odata.type": "#microsoft.graph.targetAgentIdentitySponsorsOrOwners"}]
                }]
            },
            "questions": [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
                           "text": "Which ticket asks for it?", "isRequired": true, "sequence": 1,
                           "isSingleLineQuestion": true, "regexPattern": "SUP-[0-9]+"}],
            "accessPackage": {"id": package},
        }))
        .await;
    assert_eq!(policy.status, StatusCode::CREATED, "{}", policy.body);
    let question = policy.body["questions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let graph = "https://graph.microsoft.com/.default";
    let (other_agent_token, _) = agent_token(app, &other_agent, graph).await;
    let (agent_token, _) = agent_token(app, &agent, graph).await;
    World {
        agent,
        agent_token,
        other_agent,
        other_agent_token,
        quiet_agent,
        sam_token: person_token(app, "Sam Sponsor").await,
        cora_token: person_token(app, "Cora Cosponsor").await,
        tina_token: person_token(app, "Tina Othersponsor").await,
        package,
        policy: id(&policy.body),
        question,
        group,
    }
}

/// Approves the first stage of `request` as the holder of `token`.
async fn approve(app: &TestApp, token: &str, request: &str) {
    let stages = app
        .get(&format!("{APPROVALS}/{request}/stages"), token)
        .await;
    let stage = stages.body["value"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", stages.body))
        .to_owned();
    let reply = app
        .send(
            Method::PATCH,
            &format!("{APPROVALS}/{request}/stages/{stage}"),
            token,
            json!({"reviewResult": "Approve", "justification": "fine"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
}

async fn members(app: &TestApp, group: &str) -> Vec<String> {
    crate::assignments::member_ids(app, group).await
}

async fn initialize_and_list_tools(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let token = &w.agent_token;
    let init = rpc(
        &app,
        token,
        "initialize",
        json!({
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }),
    )
    .await;
    let result = &init.body["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert_eq!(result["serverInfo"]["name"], "writ");
    assert!(result["capabilities"]["tools"].is_object());
    assert!(init.headers.get("mcp-session-id").is_none(), "stateless");
    // A version not served is answered with the newest served.
    let newer = rpc(&app, token, "initialize", json!({"protocolVersion": "2031-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}})).await;
    assert_eq!(newer.body["result"]["protocolVersion"], "2025-11-25");
    // The notification that follows, with the negotiated version's header: 202, no body.
    let note = post_raw(
        &app,
        Some(token),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &[("mcp-protocol-version", "2025-06-18")],
    )
    .await;
    assert_eq!(note.status, StatusCode::ACCEPTED);
    assert_eq!(note.body, Value::Null);
    assert_eq!(
        rpc(&app, token, "ping", json!({})).await.body["result"],
        json!({})
    );

    let listed = rpc(&app, token, "tools/list", json!({})).await;
    let tools = listed.body["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "check_access",
            "list_requestable_packages",
            "describe_package",
            "request_access",
            "get_request",
            "list_my_access",
            "extend_access",
            "release_access"
        ]
    );
    for tool in tools {
        let name = &tool["name"];
        assert!(
            tool["description"].as_str().is_some_and(|d| d.len() > 20),
            "{name}"
        );
        for schema in ["inputSchema", "outputSchema"] {
            assert_eq!(tool[schema]["type"], "object", "{name} {schema}");
            assert!(tool[schema]["properties"].is_object(), "{name} {schema}");
        }
    }
    let request = tools
        .iter()
        .find(|t| t["name"] == "request_access")
        .unwrap();
    assert_eq!(request["inputSchema"]["required"], json!(["package_id"]));
    assert_eq!(
        request["inputSchema"]["properties"]["justification"]["type"],
        "string"
    );
    let get = tools.iter().find(|t| t["name"] == "get_request").unwrap();
    assert_eq!(
        get["inputSchema"]["properties"]["wait_seconds"]["maximum"],
        60
    );
}

async fn unauthenticated_calls_are_told_where_the_metadata_is(backend: Backend) {
    let app = app(backend).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let expected = format!("Bearer resource_metadata=\"{PUBLIC_URL}{METADATA}\"");
    let none = post_raw(&app, None, body, &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    let challenge = none.headers["www-authenticate"].to_str().unwrap();
    assert_eq!(
        challenge, expected,
        "no error code without a token (RFC 6750 3.1)"
    );
    for bad in ["not-a-jwt", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"] {
        let reply = post_raw(&app, Some(bad), body, &[]).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with(&expected), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert_eq!(reply.error_code(), "InvalidAuthenticationToken");
    }

    // The metadata (RFC 9728): the resource, and Writ's issuer as its authorization server,
    // whose OpenID discovery document is where the issuer says.
    let issuer = {
        let discovery = app
            .request(
                Method::GET,
                "/common/v2.0/.well-known/openid-configuration",
                None,
                None,
                &[],
            )
            .await;
        discovery.body["issuer"].as_str().unwrap().to_owned()
    };
    for (path, resource) in [
        (METADATA.to_owned(), format!("{PUBLIC_URL}/mcp")),
        (
            "/.well-known/oauth-protected-resource".to_owned(),
            PUBLIC_URL.to_owned(),
        ),
    ] {
        let reply = app.request(Method::GET, &path, None, None, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(reply.body["resource"], resource, "{path}");
        assert_eq!(
            reply.body["authorization_servers"],
            json!([issuer]),
            "{path}"
        );
        assert_eq!(reply.body["bearer_methods_supported"], json!(["header"]));
        assert_eq!(
            reply.body["scopes_supported"],
            json!([format!("{PUBLIC_URL}/.default")])
        );
    }
    let discovery_path = format!(
        "{}/.well-known/openid-configuration",
        issuer.strip_prefix(PUBLIC_URL).unwrap()
    );
    let discovered = app
        .request(Method::GET, &discovery_path, None, None, &[])
        .await;
    assert_eq!(discovered.status, StatusCode::OK, "{discovery_path}");
    assert_eq!(discovered.body["issuer"], issuer);
}

async fn bad_json_rpc_is_answered_with_json_rpc_errors(backend: Backend) {
    let app = app(backend).await;
    let token = app.admin.clone();
    let error_of = |reply: &Reply| {
        reply.body["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{}", reply.body))
    };
    for (body, status, code) in [
        ("{not json", StatusCode::BAD_REQUEST, -32700),
        ("", StatusCode::BAD_REQUEST, -32700),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (r#""ping""#, StatusCode::BAD_REQUEST, -32600),
        (
            r#"{"id":1,"method":"ping"}"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
            StatusCode::BAD_REQUEST,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#,
            StatusCode::OK,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#,
            StatusCode::OK,
            -32601,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm_rf"}}"#,
            StatusCode::OK,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            StatusCode::OK,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_my_access","arguments":[]}}"#,
            StatusCode::OK,
            -32602,
        ),
    ] {
        let reply = post_raw(&app, Some(&token), body, &[]).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.body["jsonrpc"], "2.0", "{body}");
        assert_eq!(error_of(&reply), code, "{body}");
        assert!(reply.body["error"]["message"].is_string());
    }
    let ping = r#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#;
    for (headers, status) in [
        (
            vec![("content-type", "text/plain")],
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (vec![("accept", "text/html")], StatusCode::NOT_ACCEPTABLE),
        (
            vec![("mcp-protocol-version", "1999-01-01")],
            StatusCode::BAD_REQUEST,
        ),
        (
            vec![("origin", "http://evil.example")],
            StatusCode::FORBIDDEN,
        ),
    ] {
        let reply = post_raw(&app, Some(&token), ping, &headers).await;
        assert_eq!(reply.status, status, "{headers:?}: {}", reply.body);
        assert_eq!(error_of(&reply), -32600, "{headers:?}");
    }
    // Writ's own origin and a served version are fine; so is a response sent by the client.
    let fine = post_raw(
        &app,
        Some(&token),
        ping,
        &[
            ("origin", PUBLIC_URL),
            ("mcp-protocol-version", "2025-11-25"),
        ],
    )
    .await;
    assert_eq!(fine.status, StatusCode::OK);
    assert_eq!(fine.body["id"], "a");
    let answer = post_raw(
        &app,
        Some(&token),
        r#"{"jsonrpc":"2.0","id":5,"result":{}}"#,
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    // No server-initiated stream, no session to end.
    for method in [Method::GET, Method::DELETE] {
        let reply = app
            .request(
                method.clone(),
                "/mcp",
                Some(&token),
                None,
                &[("accept", "text/event-stream")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.headers["allow"], "POST");
    }
}

async fn an_agent_asks_waits_extends_and_releases(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let token = &w.agent_token;

    let listed = ok(&app, token, "list_requestable_packages", json!({})).await;
    assert_eq!(listed["actingFor"]["id"], w.agent);
    assert_eq!(listed["actingFor"]["isAgent"], true);
    let packages = listed["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{listed}");
    assert_eq!(packages[0]["id"], w.package);

    let described = ok(
        &app,
        token,
        "describe_package",
        json!({"package_id": w.package}),
    )
    .await;
    let policy = &described["package"]["policies"][0];
    assert_eq!(policy["policyId"], w.policy);
    assert_eq!(policy["approvalRequired"], true);
    assert_eq!(policy["justificationRequired"], true);
    assert_eq!(policy["maximumDuration"], "PT8H");
    assert_eq!(policy["customDurationAllowed"], true);
    assert_eq!(policy["questions"][0]["id"], w.question);
    assert_eq!(policy["questions"][0]["required"], true);
    assert_eq!(policy["questions"][0]["pattern"], "SUP-[0-9]+");
    assert_eq!(described["grants"], json!(["Member"]));
    let unknown = refused(
        &app,
        token,
        "describe_package",
        json!({"package_id": MISSING}),
    )
    .await;
    assert!(unknown.contains(MISSING), "{unknown}");

    // Access evaluation: not a member, and the denial names the package that grants it.
    let check = ok(
        &app,
        token,
        "check_access",
        json!({"resource": {"type": "group", "id": w.group}, "action": {"name": "member"}}),
    )
    .await;
    assert_eq!(check["decision"], false, "{check}");
    let offered = &check["context"]["requestable"][0];
    assert_eq!(offered["accessPackageId"], w.package, "{check}");
    assert_eq!(offered["isApprovalRequired"], true, "{check}");
    assert_eq!(offered["isRequestorJustificationRequired"], true, "{check}");
    let elsewhere = refused(
        &app,
        token,
        "check_access",
        json!({"resource": {"type": "group", "id": w.group}, "action": {"name": "assigned"}}),
    )
    .await;
    assert!(elsewhere.contains("action"), "{elsewhere}");

    // The domain's refusals come back as tool errors with its message.
    let answers = json!({w.question.clone(): "SUP-42"});
    let no_reason = refused(
        &app,
        token,
        "request_access",
        json!({"package_id": w.package, "answers": answers}),
    )
    .await;
    assert!(no_reason.contains("justification"), "{no_reason}");
    let bad_answer = refused(&app, token, "request_access", json!({"package_id": w.package, "justification": "triage", "answers": {w.question.clone(): "none"}})).await;
    assert!(bad_answer.contains("pattern"), "{bad_answer}");
    let too_long = refused(&app, token, "request_access", json!({"package_id": w.package, "justification": "triage", "answers": answers, "duration": "P2D"})).await;
    assert!(
        too_long.contains("PT8H") || too_long.contains("maximum") || too_long.contains("longer"),
        "{too_long}"
    );

    let asked = ok(&app, token, "request_access", json!({
        "package_id": w.package, "justification": "triage rota", "answers": answers, "duration": "PT4H",
    }))
    .await;
    let request = &asked["request"];
    assert_eq!(request["requestType"], "userAdd");
    assert_eq!(request["state"], "submitted");
    assert_eq!(request["targetId"], w.agent);
    assert_eq!(request["final"], false);
    let request_id = request["id"].as_str().unwrap().to_owned();
    assert_eq!(
        request["url"],
        format!("{PUBLIC_URL}{EM}/assignmentRequests/{request_id}")
    );
    // The same request through Graph.
    let graph = app
        .get(&format!("{EM}/assignmentRequests/{request_id}"), token)
        .await;
    assert_eq!(graph.status, StatusCode::OK);
    assert_eq!(graph.body["justification"], "triage rota");

    run_jobs(&app).await;
    let pending = ok(
        &app,
        token,
        "get_request",
        json!({"request_id": request_id, "wait_seconds": 0}),
    )
    .await;
    assert_eq!(pending["request"]["state"], "pendingApproval");
    let too_long_wait = refused(
        &app,
        token,
        "get_request",
        json!({"request_id": request_id, "wait_seconds": 61}),
    )
    .await;
    assert!(too_long_wait.contains("60"), "{too_long_wait}");
    let open = ok(&app, token, "list_my_access", json!({})).await;
    assert_eq!(open["assignments"], json!([]));
    assert_eq!(open["openRequests"][0]["id"], request_id.as_str());

    // The approval leaves the request `delivering`: the agent's wait runs through that state
    // and answers when the worker has delivered it, not at the end of its five seconds.
    approve(&app, &w.sam_token, &request_id).await;
    let asked = std::time::Instant::now();
    let (delivered, delivered_at) = tokio::join!(
        ok(
            &app,
            token,
            "get_request",
            json!({"request_id": request_id, "wait_seconds": 5}),
        ),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            run_jobs(&app).await;
            asked.elapsed()
        }
    );
    let answered = asked.elapsed();
    assert_eq!(delivered["request"]["state"], "delivered", "{delivered}");
    assert!(
        answered >= delivered_at && answered < delivered_at + std::time::Duration::from_secs(1),
        "answered {answered:?}, delivered at {delivered_at:?}"
    );
    assert_eq!(delivered["request"]["final"], true);
    assert!(members(&app, &w.group).await.contains(&w.agent));
    let check = ok(
        &app,
        token,
        "check_access",
        json!({"resource": {"type": "group", "id": w.group}, "action": {"name": "member"}}),
    )
    .await;
    assert_eq!(check, json!({"decision": true}));

    let held = ok(&app, token, "list_my_access", json!({})).await;
    let assignments = held["assignments"].as_array().unwrap();
    assert_eq!(assignments.len(), 1, "{held}");
    assert_eq!(assignments[0]["accessPackageId"], w.package);
    assert_eq!(assignments[0]["state"], "delivered");
    assert!(assignments[0]["endDateTime"].is_string());
    assert_eq!(held["openRequests"], json!([]));
    let assignment = assignments[0]["id"].as_str().unwrap().to_owned();

    // Extending needs no approval under this policy: delivered by the worker.
    let extension = ok(
        &app,
        token,
        "extend_access",
        json!({"assignment_id": assignment, "justification": "rota goes on", "duration": "PT6H"}),
    )
    .await;
    assert_eq!(extension["request"]["requestType"], "userUpdate");
    run_jobs(&app).await;
    let extended = ok(
        &app,
        token,
        "get_request",
        json!({"request_id": extension["request"]["id"]}),
    )
    .await;
    assert_eq!(extended["request"]["state"], "delivered", "{extended}");

    let released = ok(
        &app,
        token,
        "release_access",
        json!({"assignment_id": assignment, "justification": "done"}),
    )
    .await;
    assert_eq!(released["request"]["requestType"], "userRemove");
    assert_eq!(released["request"]["state"], "delivered");
    assert!(
        !members(&app, &w.group).await.contains(&w.agent),
        "access ends at once"
    );
    let after = ok(&app, token, "list_my_access", json!({})).await;
    assert_eq!(after["assignments"], json!([]));
    let again = refused(
        &app,
        token,
        "release_access",
        json!({"assignment_id": assignment}),
    )
    .await;
    assert!(!again.is_empty());

    // Released: denied again at once, with the package to ask for again.
    let check = ok(
        &app,
        token,
        "check_access",
        json!({"resource": {"type": "group", "id": w.group}, "action": {"name": "member"}}),
    )
    .await;
    assert_eq!(check["decision"], false, "{check}");
    assert_eq!(
        check["context"]["requestable"][0]["accessPackageId"],
        w.package
    );

    // Each change made through the tools says so in its audit record; Graph's do not.
    let records = app.store.audit_records(10_000).await.unwrap();
    let marked: Vec<(String, String)> = records
        .iter()
        .filter(|r| {
            r.additional_details
                .iter()
                .any(|(k, v)| k == "via" && v == "mcp")
        })
        .map(|r| {
            let tool = r
                .additional_details
                .iter()
                .find(|(k, _)| k == "mcpTool")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (r.activity_display_name.clone(), tool)
        })
        .collect();
    assert_eq!(
        marked,
        [
            (
                "Create access package assignment request".to_owned(),
                "request_access".to_owned()
            ),
            (
                "Create access package assignment request".to_owned(),
                "extend_access".to_owned()
            ),
            (
                "Remove access package assignment".to_owned(),
                "release_access".to_owned()
            ),
        ],
        "one marked record per change, none for the approval or the deliveries"
    );
    let graph_made = app
        .send(Method::POST, &format!("{EM}/assignmentRequests"), token, json!({
            "requestType": "userAdd", "justification": "through Graph",
            "assignment": {"accessPackageId": w.package, "assignmentPolicyId": w.policy, "targetId": w.agent},
            "answers": [{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "SUP-7",
                         "answeredQuestion": {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": w.question}}],
        }))
        .await;
    assert_eq!(
        graph_made.status,
        StatusCode::CREATED,
        "{}",
        graph_made.body
    );
    let graph_id = id(&graph_made.body);
    let records = app.store.audit_records(10_000).await.unwrap();
    let graph_record = records
        .iter()
        .find(|r| r.target_resources.iter().any(|t| t.id == graph_id))
        .unwrap();
    assert!(
        !graph_record
            .additional_details
            .iter()
            .any(|(k, _)| k == "via"),
        "{:?}",
        graph_record.additional_details
    );

    // The caller is read on every request: a disabled agent's token is refused at once.
    let disabled = app
        .send(
            Method::PATCH,
            &format!("/v1.0/servicePrincipals/{}", w.agent),
            &app.admin,
            json!({"accountEnabled": false}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::NO_CONTENT, "{}", disabled.body);
    let refused = post_raw(
        &app,
        Some(token),
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
        &[],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let challenge = refused.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("resource_metadata=") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

async fn an_agent_cannot_act_for_another(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    // Tina's agent holds a request and an assignment of its own.
    let answers = json!({w.question.clone(): "SUP-1"});
    let theirs = ok(
        &app,
        &w.other_agent_token,
        "request_access",
        json!({"package_id": w.package, "justification": "mine", "answers": answers}),
    )
    .await;
    let their_request = theirs["request"]["id"].as_str().unwrap().to_owned();
    run_jobs(&app).await;
    approve(&app, &w.tina_token, &their_request).await;
    run_jobs(&app).await;
    let their_access = ok(&app, &w.other_agent_token, "list_my_access", json!({})).await;
    let their_assignment = their_access["assignments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Naming it answers exactly as naming nothing at all.
    let token = &w.agent_token;
    let same = |real: String, missing: String, id: &str| {
        assert_eq!(
            real.replace(id, "ID"),
            missing.replace(MISSING, "ID"),
            "no existence leak"
        );
    };
    for tool in ["list_requestable_packages", "list_my_access"] {
        let real = refused(&app, token, tool, json!({"agent_id": w.other_agent})).await;
        let missing = refused(&app, token, tool, json!({"agent_id": MISSING})).await;
        same(real, missing, &w.other_agent);
        // Not even an agent the same person sponsors.
        let sibling = refused(&app, token, tool, json!({"agent_id": w.quiet_agent})).await;
        assert!(sibling.contains(&w.quiet_agent));
    }
    // Nor whether another agent holds something.
    let check = |agent: &str| json!({"resource": {"type": "group", "id": w.group}, "action": {"name": "member"}, "agent_id": agent});
    let real = refused(&app, token, "check_access", check(&w.other_agent)).await;
    let missing = refused(&app, token, "check_access", check(MISSING)).await;
    same(real, missing, &w.other_agent);
    let real = refused(&app, token, "request_access", json!({"package_id": w.package, "justification": "x", "answers": answers, "agent_id": w.other_agent})).await;
    let missing = refused(&app, token, "request_access", json!({"package_id": w.package, "justification": "x", "answers": answers, "agent_id": MISSING})).await;
    same(real, missing, &w.other_agent);
    let real = refused(
        &app,
        token,
        "get_request",
        json!({"request_id": their_request}),
    )
    .await;
    let missing = refused(&app, token, "get_request", json!({"request_id": MISSING})).await;
    same(real, missing, &their_request);
    for tool in ["release_access", "extend_access"] {
        let real = refused(
            &app,
            token,
            tool,
            json!({"assignment_id": their_assignment, "justification": "x"}),
        )
        .await;
        let missing = refused(
            &app,
            token,
            tool,
            json!({"assignment_id": MISSING, "justification": "x"}),
        )
        .await;
        same(real, missing, &their_assignment);
    }
    // Its own id is itself.
    let own = ok(&app, token, "list_my_access", json!({"agent_id": w.agent})).await;
    assert_eq!(own["actingFor"]["id"], w.agent);
    // And Tina's agent still holds its access.
    let still = ok(&app, &w.other_agent_token, "list_my_access", json!({})).await;
    assert_eq!(still["assignments"][0]["id"], their_assignment.as_str());
}

async fn a_person_acts_for_an_agent_it_sponsors(backend: Backend) {
    let app = app(backend).await;
    let w = world(&app).await;
    let sam = &w.sam_token;
    let acting = json!({"agent_id": w.agent});
    let listed = ok(&app, sam, "list_requestable_packages", acting.clone()).await;
    assert_eq!(listed["actingFor"]["id"], w.agent);
    assert_eq!(listed["packages"][0]["id"], w.package);
    // For himself, Sam (a person outside the agents' policy) may request nothing.
    let own = ok(&app, sam, "list_requestable_packages", json!({})).await;
    assert_eq!(own["actingFor"]["isAgent"], false);
    assert_eq!(own["packages"], json!([]));

    let answers = json!({w.question.clone(): "SUP-9"});
    let asked = ok(&app, sam, "request_access", json!({"package_id": w.package, "justification": "for my agent", "answers": answers, "agent_id": w.agent})).await;
    let request_id = asked["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(asked["request"]["targetId"], w.agent);
    let sam_id = oid_of(sam);
    let graph = app
        .get(
            &format!("{EM}/assignmentRequests/{request_id}?$expand=requestor"),
            &app.admin,
        )
        .await;
    assert_eq!(
        graph.body["requestor"]["id"],
        sam_id.as_str(),
        "{}",
        graph.body
    );
    let open = ok(&app, sam, "list_my_access", acting.clone()).await;
    assert_eq!(open["openRequests"][0]["id"], request_id.as_str());
    // The agent sees the request made for it too.
    let theirs = ok(
        &app,
        &w.agent_token,
        "get_request",
        json!({"request_id": request_id}),
    )
    .await;
    assert_eq!(theirs["request"]["targetId"], w.agent);

    // Tina does not sponsor it: refused as if it did not exist.
    let tina = refused(&app, &w.tina_token, "list_my_access", acting.clone()).await;
    let missing = refused(
        &app,
        &w.tina_token,
        "list_my_access",
        json!({"agent_id": MISSING}),
    )
    .await;
    assert_eq!(tina.replace(&w.agent, "ID"), missing.replace(MISSING, "ID"));
    let tina_asks = refused(&app, &w.tina_token, "request_access", json!({"package_id": w.package, "justification": "x", "answers": answers, "agent_id": w.agent})).await;
    assert!(tina_asks.contains(&w.agent), "{tina_asks}");

    // Sam's request is approved by Cora, the other sponsor (a requestor never approves its own
    // request), and delivered; Sam releases it for the agent.
    run_jobs(&app).await;
    approve(&app, &w.cora_token, &request_id).await;
    run_jobs(&app).await;
    let held = ok(&app, sam, "list_my_access", acting.clone()).await;
    let assignment = held["assignments"][0]["id"].as_str().unwrap().to_owned();
    let released = ok(
        &app,
        sam,
        "release_access",
        json!({"assignment_id": assignment}),
    )
    .await;
    assert_eq!(released["request"]["requestType"], "userRemove");
    assert!(!members(&app, &w.group).await.contains(&w.agent));
    let records = app.store.audit_records(10_000).await.unwrap();
    let removal = records
        .iter()
        .find(|r| r.activity_display_name == "Remove access package assignment")
        .unwrap();
    assert!(
        removal
            .additional_details
            .contains(&("mcpTool".to_owned(), "release_access".to_owned()))
    );
    assert_eq!(removal.initiated_by.id.as_deref(), Some(sam_id.as_str()));
}

/// The object id a token names.
fn oid_of(token: &str) -> String {
    crate::harness::claims_of(token)["oid"]
        .as_str()
        .unwrap()
        .to_owned()
}

crate::on_both_backends!(
    initialize_and_list_tools,
    unauthenticated_calls_are_told_where_the_metadata_is,
    bad_json_rpc_is_answered_with_json_rpc_errors,
    an_agent_asks_waits_extends_and_releases,
    an_agent_cannot_act_for_another,
    a_person_acts_for_an_agent_it_sponsors,
);
