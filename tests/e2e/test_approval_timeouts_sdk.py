"""An approval timeout against a running `writ serve`, driven by the official Microsoft Graph
Python SDK, on SQLite and on PostgreSQL, with a real duration of seconds (DESIGN section 5, issue 6).

Under an "All agents" policy whose one stage is decided by the agent's sponsors within
`durationBeforeAutomaticDenial` PT3S, the agent asks for the package with its own token and nobody
decides. Two seconds after the request was created it is still `pendingApproval`; the server's job
worker (no test hook drives it) then denies it with status `TimedOut` within 2 s of the instant,
never before it (`completedDateTime` is at least 3 s after the request was created, since the stage
starts after that). The stage reads `Expired` / `NotReviewed`, and the sponsor's late approval is a
`409`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime, timedelta, timezone

from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_approval_stage import AccessPackageApprovalStage
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_approval_settings import (
    AccessPackageAssignmentApprovalSettings,
)
from msgraph.generated.models.access_package_assignment_policy import AccessPackageAssignmentPolicy
from msgraph.generated.models.access_package_assignment_request import AccessPackageAssignmentRequest
from msgraph.generated.models.access_package_assignment_requestor_settings import (
    AccessPackageAssignmentRequestorSettings,
)
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.agent_identity import AgentIdentity
from msgraph.generated.models.agent_identity_blueprint import AgentIdentityBlueprint
from msgraph.generated.models.agent_identity_blueprint_principal import AgentIdentityBlueprintPrincipal
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.approval_stage import ApprovalStage
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.target_agent_identity_sponsors_or_owners import TargetAgentIdentitySponsorsOrOwners
from msgraph.generated.service_principals.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)

from graph_sdk import sdk_client, strict_check_exchanges
from test_agents_sdk import GRAPH_SCOPE, new_user, odata_error, sponsor_bind, token_for
from test_catalogs_sdk import password_token

TIMEOUT_S = 3
# How long after the instant the worker may take to record the denial.
WINDOW_S = 2.0


def test_an_undecided_self_request_times_out(writ):
    prefix = "tmo" + secrets.token_hex(3)

    async def scenario():
        admin, admin_recorder = sdk_client(writ)
        em = admin.identity_governance.entitlement_management
        sponsor = await admin.users.post(new_user(prefix, 1))
        blueprint = await admin.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} blueprint", additional_data=sponsor_bind(writ, sponsor.id)))
        await admin.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        agent = await admin.service_principals.post(AgentIdentity(
            display_name=f"{prefix}-agent", agent_identity_blueprint_id=blueprint.app_id,
            additional_data=sponsor_bind(writ, sponsor.id)))
        secret = await admin.service_principals.by_service_principal_id(agent.id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))
        catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
        package = await em.access_packages.post(AccessPackage(
            display_name=f"{prefix} package", catalog=AccessPackageCatalog(id=catalog.id)))
        policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
            display_name="All agents, decide within seconds",
            allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
            expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="P1D"),
            requestor_settings=AccessPackageAssignmentRequestorSettings(
                enable_targets_to_self_add_access=True),
            request_approval_settings=AccessPackageAssignmentApprovalSettings(
                is_approval_required_for_add=True,
                stages=[AccessPackageApprovalStage(
                    duration_before_automatic_denial=f"PT{TIMEOUT_S}S",
                    primary_approvers=[TargetAgentIdentitySponsorsOrOwners()])]),
            access_package=AccessPackage(id=package.id)))

        agent_token = token_for(writ, agent.app_id, secret.secret_text, GRAPH_SCOPE)["access_token"]
        as_agent, agent_recorder = sdk_client(writ, token=agent_token)
        aem = as_agent.identity_governance.entitlement_management
        created = await aem.assignment_requests.post(AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.UserAdd,
            assignment=AccessPackageAssignment(additional_data={
                "accessPackageId": package.id, "assignmentPolicyId": policy.id})))
        created_at = created.created_date_time
        assert isinstance(created_at, datetime), created
        # The stage starts when the worker routes the request, after its creation.
        instant_no_earlier_than = created_at + timedelta(seconds=TIMEOUT_S)
        item = aem.assignment_requests.by_access_package_assignment_request_id(created.id)

        async def read():
            return await item.get()

        # Routed to the sponsor at once; the stage starts no later than we see it pending.
        deadline = time.monotonic() + WINDOW_S
        while (pending := await read()).state != AccessPackageRequestState.PendingApproval:
            assert time.monotonic() < deadline, f"not routed within {WINDOW_S} s: {pending}"
            await asyncio.sleep(0.05)
        instant_no_later_than = datetime.now(timezone.utc) + timedelta(seconds=TIMEOUT_S)

        # Shortly before the instant: still waiting for a decision.
        before = instant_no_earlier_than - timedelta(seconds=1)
        await asyncio.sleep(max(0.0, (before - datetime.now(timezone.utc)).total_seconds()))
        waiting = await read()
        assert waiting.state == AccessPackageRequestState.PendingApproval, waiting
        assert waiting.status == "PendingApproval", waiting

        # After it: denied, TimedOut, within the window and not before the instant.
        while (denied := await read()).state != AccessPackageRequestState.Denied:
            now = datetime.now(timezone.utc)
            assert now < instant_no_later_than + timedelta(seconds=WINDOW_S), (
                f"not denied within {WINDOW_S} s of the timeout: {denied}")
            await asyncio.sleep(0.1)
        observed = datetime.now(timezone.utc)
        assert denied.status == "TimedOut", denied
        assert observed <= instant_no_later_than + timedelta(seconds=WINDOW_S), observed
        completed = denied.completed_date_time
        assert instant_no_earlier_than <= completed, (completed, instant_no_earlier_than)
        assert completed <= instant_no_later_than + timedelta(seconds=WINDOW_S), completed

        # The stage expired unreviewed; the sponsor's late approval is a conflict.
        approval = await em.access_package_assignment_approvals.by_approval_id(created.id).get()
        stage = approval.stages[0]
        assert stage.status == "Expired" and stage.review_result == "NotReviewed", stage
        sponsor_token = password_token(writ, sponsor.user_principal_name, f"a long passphrase 1 {prefix}")
        as_sponsor, sponsor_recorder = sdk_client(writ, token=sponsor_token)
        sem = as_sponsor.identity_governance.entitlement_management
        assert (await sem.assignment_requests.filter_by_current_user_with_on("approver").get()).value == []
        err = await odata_error(
            sem.access_package_assignment_approvals.by_approval_id(created.id).stages
            .by_approval_stage_id(stage.id).patch(ApprovalStage(review_result="Approve")))
        assert err.response_status_code == 409, err

        for recorder in (admin_recorder, agent_recorder, sponsor_recorder):
            strict_check_exchanges(recorder.exchanges)

    asyncio.run(scenario())
