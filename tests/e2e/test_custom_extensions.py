"""Custom extensions end to end (DESIGN section 8, issue 7 item 4), on SQLite and PostgreSQL: a
real `writ serve` calling an extension this test runs on loopback, and the extension calling
back with the official Microsoft Graph SDK (`assignment_requests.by_…_id(id).resume.post`).

1. `test_each_configured_stage_calls_the_extension`: a policy with fire-and-forget extensions at
   request created, granted and removed, and an assignment extension at both expiration stages
   (lead times `PT8S,PT4S`, assignment of 12 s): one callout per stage arrives, in Graph's shape,
   with a bearer token signed by Writ (verified against its JWKS) for the extension's audience
   and carrying no roles.
2. `test_launch_and_wait_is_resumed_by_the_extension_only`: an extension with a callback holds a
   self-request at `WaitingForCallback`; the agent's own resume is refused (403); the
   extension's principal resumes it and the access is delivered; another request resumed with
   `state: Denied` ends denied with nothing delivered.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from msgraph.generated.identity_governance.entitlement_management.assignment_requests.item.resume.resume_post_request_body import (  # noqa: E501
    ResumePostRequestBody,
)
from msgraph.generated.models.access_package_assignment_request_callback_data import (
    AccessPackageAssignmentRequestCallbackData,
)
from msgraph.generated.models.access_package_custom_extension_stage import (
    AccessPackageCustomExtensionStage,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from graph_sdk import sdk_client
from test_replicas import EM, Fleet, created, poll
from test_webhooks import backend, start  # noqa: F401 (backend is a fixture)
from writ_harness import http

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class Extension:
    """A custom extension endpoint: records every POST and answers 202, as a Logic App does."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[dict, dict]] = []
        extension = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with extension.lock:
                    extension.calls.append((headers, json.loads(body)))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def about(self, value: str) -> list[tuple[dict, dict]]:
        """The callouts that name `value` (an agent, a request id) anywhere in their body."""
        with self.lock:
            return [(h, b) for h, b in self.calls if value in json.dumps(b)]

    def close(self) -> None:
        self.server.shutdown()


def client_token(server, client_id: str, secret: str) -> str:
    reply = http("POST", server.url + "/oauth2/v2.0/token", form={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": GRAPH_SCOPE})
    assert reply.status == 200, repr(reply)
    return reply.json()["access_token"]


def extension_principal(server, prefix: str) -> tuple[str, str]:
    """An application with its service principal and a secret: the extension's identity.
    Returns (appId, token)."""
    application = created(server, "applications", {"displayName": f"{prefix} ticket system"})
    created(server, "servicePrincipals", {"appId": application["appId"]})
    secret = server.api("POST", f"applications/{application['id']}/addPassword",
                        {"passwordCredential": {"displayName": "callback"}})
    assert secret.status == 200, repr(secret)
    return application["appId"], client_token(server, application["appId"], secret.json()["secretText"])


def agent_token(server, agent: str) -> str:
    secret = server.api("POST", f"servicePrincipals/{agent}/addPassword",
                        {"passwordCredential": {"displayName": "agent key"}})
    assert secret.status == 200, repr(secret)
    app_id = server.get_json(f"servicePrincipals/{agent}")["appId"]
    return client_token(server, app_id, secret.json()["secretText"])


def extension(server, catalog: str, kind: str, url: str, audience: str,
              callback: str | None = None) -> str:
    body = {
        "@odata.type": f"#microsoft.graph.{kind}",
        "displayName": f"{kind} at {url}",
        "endpointConfiguration": {"@odata.type": "#microsoft.graph.httpRequestEndpoint",
                                  "targetUrl": url},
        "authenticationConfiguration": {"@odata.type": "#microsoft.graph.azureAdTokenAuthentication",
                                        "resourceId": audience},
    }
    if callback:
        body["callbackConfiguration"] = {
            "@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration",
            "timeoutDuration": callback}
    return created(server, f"{EM}/catalogs/{catalog}/customWorkflowExtensions", body)["id"]


def policy(server, fleet: Fleet, name: str, duration: str, stages: list[tuple[str, str]]) -> str:
    return created(server, f"{EM}/assignmentPolicies", {
        "displayName": name, "allowedTargetScope": "allDirectoryAgentIdentities",
        "expiration": {"type": "afterDuration", "duration": duration},
        "requestorSettings": {"enableTargetsToSelfAddAccess": True},
        "requestApprovalSettings": {"isApprovalRequiredForAdd": False,
                                    "isApprovalRequiredForUpdate": False, "stages": []},
        "customExtensionStageSettings": [
            {"stage": stage, "customExtension": {"id": ext}} for stage, ext in stages],
        "accessPackage": {"id": fleet.package}})["id"]


def verified_claims(server, headers: dict, audience: str) -> dict:
    """The callout token, its ES256 signature checked against Writ's published keys."""
    token = headers["authorization"].removeprefix("Bearer ")
    tenant = jwt.decode(token, options={"verify_signature": False})["tid"]
    keys = http("GET", f"{server.url}/{tenant}/discovery/v2.0/keys").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in keys if k["kid"] == kid]
    key = jwt.PyJWK(jwk).key
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience)


def test_each_configured_stage_calls_the_extension(backend, tmp_path):
    endpoint = Extension()
    server = start(backend, tmp_path, {
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_EXPIRY_NOTICE_LEAD_TIMES": "PT8S,PT4S",
    })
    try:
        fleet = Fleet(server, "stages")
        audience, _ = extension_principal(server, "stages")
        on_request = extension(server, fleet.catalog,
                               "accessPackageAssignmentRequestWorkflowExtension",
                               endpoint.url, audience)
        on_assignment = extension(server, fleet.catalog,
                                  "accessPackageAssignmentWorkflowExtension", endpoint.url, audience)
        stages = policy(server, fleet, "stages", "PT12S", [
            ("assignmentRequestCreated", on_request),
            ("assignmentRequestGranted", on_request),
            ("assignmentRequestRemoved", on_request),
            ("assignmentFourteenDaysBeforeExpiration", on_assignment),
            ("assignmentOneDayBeforeExpiration", on_assignment),
        ])
        [agent] = fleet.agents([server], 1)
        [request] = fleet.assign([server], stages, [agent])

        expected = ["assignmentRequestCreated", "assignmentRequestGranted",
                    "assignmentFourteenDaysBeforeExpiration", "assignmentOneDayBeforeExpiration",
                    "assignmentRequestRemoved"]
        calls = poll("a callout per stage",
                     lambda: endpoint.about(agent) if len(endpoint.about(agent)) >= 5 else None, 30)
        assert sorted(b["data"]["stage"] for _, b in calls) == sorted(expected), calls
        time.sleep(2)
        assert len(endpoint.about(agent)) == 5, "a stage was called twice"
        by_stage = {b["data"]["stage"]: (h, b) for h, b in calls}
        created_call = by_stage["assignmentRequestCreated"][1]
        assert created_call["type"] == \
            "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated"
        assert created_call["data"]["@odata.type"] == \
            "#microsoft.graph.accessPackageAssignmentRequestCalloutData"
        assert created_call["data"]["accessPackageAssignmentRequestId"] == request
        assert created_call["data"]["accessPackage"]["id"] == fleet.package
        assert created_call["data"]["accessPackageCatalog"]["id"] == fleet.catalog
        assert created_call["data"]["assignment"]["target"]["objectId"] == agent
        reminder = by_stage["assignmentOneDayBeforeExpiration"][1]["data"]
        assert reminder["@odata.type"] == "#microsoft.graph.accessPackageAssignmentCalloutData"
        removed = by_stage["assignmentRequestRemoved"][1]["data"]
        assert removed["requestType"] == "systemRemove"
        assert removed["assignment"]["state"] == "expired"
        for headers, _ in calls:
            claims = verified_claims(server, headers, audience)
            assert "roles" not in claims and "wids" not in claims, claims
        instances = server.get_json(f"{EM}/assignmentRequests/{request}")[
            "customExtensionCalloutInstances"]
        assert {i["status"] for i in instances} == {"calloutSent"}, instances
        assert len(instances) == 2, instances
    finally:
        server.stop()
        endpoint.close()


def resume_body(call: dict, state: str | None = None) -> ResumePostRequestBody:
    data = call["data"]
    return ResumePostRequestBody(
        source="TicketSystem",
        type=call["type"],
        data=AccessPackageAssignmentRequestCallbackData(
            stage=AccessPackageCustomExtensionStage(data["stage"]),
            custom_extension_stage_instance_id=data["customExtensionStageInstanceId"],
            custom_extension_stage_instance_detail="checked by the ticket system",
            state=state,
        ),
    )


def resume(server, token: str, request: str, body: ResumePostRequestBody) -> int:
    """Resumes through the SDK; the HTTP status Writ answered."""
    client, _ = sdk_client(server, token)
    requests = client.identity_governance.entitlement_management.assignment_requests
    try:
        asyncio.run(requests.by_access_package_assignment_request_id(request).resume.post(body))
        return 204
    except ODataError as error:
        return error.response_status_code


def test_launch_and_wait_is_resumed_by_the_extension_only(backend, tmp_path):
    endpoint = Extension()
    server = start(backend, tmp_path, {"WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1"})
    try:
        fleet = Fleet(server, "wait")
        audience, extension_token = extension_principal(server, "wait")
        waiting = extension(server, fleet.catalog, "accessPackageAssignmentRequestWorkflowExtension",
                            endpoint.url, audience, callback="PT1H")
        held = policy(server, fleet, "wait", "P1D", [("assignmentRequestCreated", waiting)])
        agents = fleet.agents([server], 2)
        outcomes = {}
        for agent, answer in zip(agents, (None, "Denied")):
            token = agent_token(server, agent)
            reply = http("POST", f"{server.graph}/{EM}/assignmentRequests", token=token, json_body={
                "requestType": "userAdd",
                "assignment": {"targetId": agent, "assignmentPolicyId": held,
                               "accessPackageId": fleet.package}})
            assert reply.status == 201, repr(reply)
            request = reply.json()["id"]
            assert reply.json()["status"] == "WaitingForCallback"
            [(_, call)] = poll("the callout", lambda: endpoint.about(request) or None, 15)
            assert call["data"]["callbackUriPath"] == \
                f"/identityGovernance/entitlementManagement/assignmentRequests/{request}/resume"
            time.sleep(1)
            assert server.get_json(f"{EM}/assignmentRequests/{request}")["status"] == \
                "WaitingForCallback"
            assert resume(server, token, request, resume_body(call)) == 403
            assert resume(server, extension_token, request, resume_body(call, answer)) == 204
            assert resume(server, extension_token, request, resume_body(call)) == 409
            outcomes[agent] = (request, answer)

        def state_of(request):
            return server.get_json(f"{EM}/assignmentRequests/{request}")["state"]

        proceeded, _ = outcomes[agents[0]]
        poll("delivered after resume", lambda: state_of(proceeded) == "delivered" or None, 15)
        assert agents[0] in fleet.members(server)
        denied, _ = outcomes[agents[1]]
        assert state_of(denied) == "denied"
        assert agents[1] not in fleet.members(server)
        shown = server.get_json(f"{EM}/assignmentRequests/{proceeded}")
        assert shown["customExtensionCalloutInstances"][0]["status"] == "callbackReceived"
    finally:
        server.stop()
        endpoint.close()

