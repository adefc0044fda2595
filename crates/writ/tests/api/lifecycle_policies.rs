//! Lifecycle policies for agent identities (issue 19, part K; DESIGN section 17): the last token
//! time (`signInActivity`), policies, each agent's lifecycle state, `attest`, notices and
//! enforcement through the job queue, with the clock moved by hand.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::Duration;
use writ_domain::clock::Clock;
use writ_store::Backend;

use crate::agents::{create_agent, fleet};
use crate::harness::{TestApp, app};

const GRAPH_SCOPE: &str = "https%3A%2F%2Fgraph.microsoft.com%2F.default";

/// An agent's appId and a new secret of it.
async fn credentials(app: &TestApp, agent: &str) -> (String, String) {
    let secret = app
        .send(
            Method::POST,
            &format!("/v1.0/servicePrincipals/{agent}/addPassword"),
            &app.admin,
            json!({"passwordCredential": {"displayName": "agent key"}}),
        )
        .await;
    assert_eq!(secret.status, StatusCode::OK, "{}", secret.body);
    let read = app
        .get(&format!("/v1.0/servicePrincipals/{agent}"), &app.admin)
        .await;
    (
        read.body["appId"].as_str().unwrap().to_owned(),
        secret.body["secretText"].as_str().unwrap().to_owned(),
    )
}

async fn token_reply(app: &TestApp, (app_id, secret): &(String, String)) -> crate::harness::Reply {
    app.token_request(&format!(
        "grant_type=client_credentials&client_id={app_id}&client_secret={secret}&scope={GRAPH_SCOPE}"
    ))
    .await
}

async fn sign_in_activity(app: &TestApp, path: &str, token: &str) -> crate::harness::Reply {
    app.get(&format!("{path}?$select=id,signInActivity"), token)
        .await
}

/// Whole seconds, so instants read back are the clock's.
fn whole_second(app: &TestApp) {
    app.clock
        .set(app.clock.now().replace_nanosecond(0).unwrap());
}

async fn last_token_time_is_exact_to_the_second(backend: Backend) {
    let app = app(backend).await;
    whole_second(&app);
    let fleet = fleet(&app).await;
    let agent = create_agent(&app, &fleet, "ops-agent", &[&fleet.sponsor])
        .await
        .id();
    let agent_path = format!("/v1.0/servicePrincipals/{agent}");
    let creds = credentials(&app, &agent).await;

    // Not selected: not returned (Graph returns it only when selected).
    let plain = app.get(&agent_path, &app.admin).await;
    assert!(plain.body.get("signInActivity").is_none(), "{}", plain.body);
    let never = sign_in_activity(&app, &agent_path, &app.admin).await;
    assert_eq!(never.status, StatusCode::OK, "{}", never.body);
    assert_eq!(
        never.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        Value::Null
    );
    assert!(never.body.get("displayName").is_none(), "{}", never.body);

    app.clock.advance(Duration::seconds(37));
    let issued_at = app.clock.now();
    let reply = token_reply(&app, &creds).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let read = sign_in_activity(&app, &agent_path, &app.admin).await;
    let expected = writ_server::wire::instant(issued_at);
    for field in [
        "lastSignInDateTime",
        "lastNonInteractiveSignInDateTime",
        "lastSuccessfulSignInDateTime",
    ] {
        assert_eq!(
            read.body["signInActivity"][field],
            expected.as_str(),
            "{field}"
        );
    }

    // A refused token request records nothing.
    app.clock.advance(Duration::seconds(5));
    let refused = token_reply(&app, &(creds.0.clone(), "wrong".into())).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);
    let read = sign_in_activity(&app, &agent_path, &app.admin).await;
    assert_eq!(
        read.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        expected.as_str()
    );

    // A user's password grant is recorded on the user.
    let (user, user_token) = app.user_token("Una User").await;
    let user_read = sign_in_activity(&app, &format!("/v1.0/users/{user}"), &app.admin).await;
    assert_eq!(
        user_read.body["signInActivity"]["lastSuccessfulSignInDateTime"],
        writ_server::wire::instant(app.clock.now()).as_str(),
        "{}",
        user_read.body
    );

    // Someone without a reader role may read the agent but not its sign-in activity.
    let denied = sign_in_activity(&app, &agent_path, &user_token).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.body);
}

crate::on_both_backends!(last_token_time_is_exact_to_the_second);
