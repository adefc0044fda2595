//! Answers to a policy's questions: a requestor answers every required one (a text matching the
//! question's pattern, a choice among its choices), each refusal names the question, the request
//! keeps the answers in Graph's `accessPackageAnswerString` shape, an administrator's direct
//! assignment may leave them out, and a policy with a pattern that does not compile is refused.

use axum::http::StatusCode;
use serde_json::{Value, json};
use writ_store::Backend;

use crate::agents::{agent_token, create_agent};
use crate::assignments::{post, post_request, run_jobs, setup};
use crate::harness::app;

const EM: &str = "/v1.0/identityGovernance/entitlementManagement";

async fn required_questions_are_answered(backend: Backend) {
    let app = app(backend).await;
    let s = setup(&app).await;
    let policy = post(&app, "/assignmentPolicies", json!({
        "displayName": "Agents, with a ticket",
        "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": "PT2H"},
        "requestorSettings": {"enableTargetsToSelfAddAccess": true},
        "questions": [
            {"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Incident number?",
             "isRequired": true, "sequence": 1, "isSingleLineQuestion": true, "regexPattern": "INC[0-9]+"},
            {"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "Region?",
             "isRequired": true, "sequence": 2, "isMultipleSelectionAllowed": false,
             "choices": [{"actualValue": "eu", "text": "Europe"}, {"actualValue": "us", "text": "United States"}]},
        ],
        "accessPackage": {"id": s.package},
    }))
    .await;
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    let question = |n: usize| policy["questions"][n]["id"].as_str().unwrap().to_owned();
    let (text_q, choice_q) = (question(0), question(1));
    let text_type = "#microsoft.graph.accessPackageTextInputQuestion";
    let choice_type = "#microsoft.graph.accessPackageMultipleChoiceQuestion";
    let request = |answers: Value| {
        json!({
            "requestType": "userAdd",
            "assignment": {"accessPackageId": s.package, "assignmentPolicyId": policy_id},
            "answers": answers,
        })
    };
    let answer = |question: &str, kind: &str, value: &str| {
        json!({"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": value,
               "answeredQuestion": {"@odata.type": kind, "id": question}})
    };
    let (agent, _) = agent_token(&app, &s.agent, "https://graph.microsoft.com/.default").await;

    let refusals = [
        (
            request(json!([answer(&choice_q, choice_type, "eu")])),
            "'Incident number?' requires an answer",
        ),
        (
            request(json!([
                answer(&text_q, text_type, "incident 42"),
                answer(&choice_q, choice_type, "eu")
            ])),
            "does not match its pattern",
        ),
        (
            request(json!([
                answer(&text_q, text_type, "INC42"),
                answer(&choice_q, choice_type, "asia")
            ])),
            "'asia' is not a choice of question 'Region?'",
        ),
        (
            request(json!([
                answer(&text_q, text_type, "INC42"),
                answer(&choice_q, choice_type, "eu"),
                answer(&choice_q, choice_type, "us")
            ])),
            "answered twice",
        ),
        (
            request(json!([answer(
                "00000000-0000-0000-0000-000000000000",
                text_type,
                "x"
            )])),
            "not a question of the policy",
        ),
        (request(json!([{"value": "INC42"}])), "answeredQuestion.id"),
    ];
    for (body, needle) in refusals {
        let reply = post_request(&app, &agent, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{needle}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "invalidRequest");
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle}: {message}");
    }

    let created = post_request(
        &app,
        &agent,
        request(json!([
            answer(&text_q, text_type, "INC42"),
            answer(&choice_q, choice_type, "eu")
        ])),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let answers = created.body["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["value"], "INC42");
    assert_eq!(answers[0]["answeredQuestion"]["id"], text_q.as_str());
    assert_eq!(answers[0]["answeredQuestion"]["@odata.type"], text_type);
    assert_eq!(answers[1]["value"], "eu");
    assert_eq!(answers[1]["displayValue"], "Europe");
    assert_eq!(answers[1]["answeredQuestion"]["@odata.type"], choice_type);
    // Kept with the request, and delivered like any other.
    run_jobs(&app).await;
    let read = app
        .get(
            &format!(
                "{EM}/assignmentRequests/{}",
                created.body["id"].as_str().unwrap()
            ),
            &app.admin,
        )
        .await;
    assert_eq!(read.body["state"], "delivered", "{}", read.body);
    assert_eq!(read.body["answers"], Value::Array(answers.clone()));

    // An administrator's direct assignment may leave the questions unanswered.
    let other = create_agent(&app, &s.fleet, "support-agent-11", &[&s.sponsor]).await;
    let direct = post_request(&app, &app.admin, json!({
        "requestType": "adminAdd",
        "assignment": {"targetId": other.body["id"], "accessPackageId": s.package, "assignmentPolicyId": policy_id},
    }))
    .await;
    assert_eq!(direct.status, StatusCode::CREATED, "{}", direct.body);
    assert_eq!(direct.body["answers"], json!([]));

    // A pattern that never compiles is refused when the policy is written.
    let broken = app
        .send(axum::http::Method::POST, &format!("{EM}/assignmentPolicies"), &app.admin, json!({
            "displayName": "Broken pattern", "allowedTargetScope": "allDirectoryAgentIdentities",
            "expiration": {"type": "afterDuration", "duration": "PT2H"},
            "questions": [{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Code?",
                "isRequired": true, "sequence": 1, "regexPattern": "INC[0-9"}],
            "accessPackage": {"id": s.package},
        }))
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.body);
    assert!(
        broken.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("regexPattern 'INC[0-9' is not a valid pattern")
    );
}

crate::on_both_backends!(required_questions_are_answered);
