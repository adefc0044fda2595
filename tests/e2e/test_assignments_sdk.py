"""The administrator's assignment pathway against a running `writ serve`, driven by the official
Microsoft Graph Python SDK, on SQLite and on PostgreSQL, with short real durations.

An agent identity (sponsored by a user) is assigned an access package directly (`adminAdd`)
under an "All agents" policy whose assignments last 6 seconds. The request is `submitted` when
created; the server's job worker delivers it (no test hook drives it): the request becomes
`delivered`, the assignment's schedule runs exactly the policy's 6 seconds, and the agent is a
member of the package's group. When the end instant passes, the membership is gone and the
worker records the assignment as `expired` with a `systemRemove` request. A second agent is
assigned and removed with `adminRemove`: the membership goes at once.

A second scenario drives the approval pathway of DESIGN section 5: under an "All agents" policy
whose one stage is decided by the agent's sponsors (a fallback user behind them), the agent,
with its own token, requests the package for itself; the sponsor finds it with
`filterByCurrentUser(on='approver')`, reads the approval and its stage (`assignedToMe`), and
approves it with a `PATCH` on the stage; the worker delivers it: the agent is a member of the
package's group and its token for the Orders API carries the app role. The sponsor then asks on
behalf of a second agent: it is the requestor, so only the fallback approver is asked, and
approves. `adminRemove` takes the first agent's membership and app role away at once.

A third scenario times the end of access: two agents are assigned, for 6 seconds, a package
granting a group membership and an app role of the Orders API; the first agent also holds the same
group through a standing assignment of another package. Shortly before the end each agent is a
member and its token carries the role, expiring no later than the assignment; right after each
end instant a new token carries no role, the agent with only the brief assignment is no longer a
member while the other keeps its membership, and each brief assignment is recorded `expired`
within 2 seconds of its end.

Every JSON body the server returns passes the strict model check (`graph_sdk.py` route table).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime, timedelta

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.identity_governance.entitlement_management.assignment_requests.assignment_requests_request_builder import (
    AssignmentRequestsRequestBuilder,
)
from msgraph.generated.identity_governance.entitlement_management.assignments.assignments_request_builder import (
    AssignmentsRequestBuilder,
)
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_approval_settings import (
    AccessPackageAssignmentApprovalSettings,
)
from msgraph.generated.models.access_package_assignment_policy import AccessPackageAssignmentPolicy
from msgraph.generated.models.access_package_assignment_request import AccessPackageAssignmentRequest
from msgraph.generated.models.access_package_assignment_state import AccessPackageAssignmentState
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import AccessPackageResourceRequest
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import AccessPackageResourceRoleScope
from msgraph.generated.models.agent_identity import AgentIdentity
from msgraph.generated.models.agent_identity_blueprint import AgentIdentityBlueprint
from msgraph.generated.models.agent_identity_blueprint_principal import AgentIdentityBlueprintPrincipal
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.access_package_approval_stage import AccessPackageApprovalStage
from msgraph.generated.models.access_package_assignment_requestor_settings import (
    AccessPackageAssignmentRequestorSettings,
)
from msgraph.generated.models.approval_stage import ApprovalStage
from msgraph.generated.models.app_role import AppRole
from msgraph.generated.models.application import Application
from msgraph.generated.models.group import Group
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.single_user import SingleUser
from msgraph.generated.service_principals.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.models.target_agent_identity_sponsors_or_owners import TargetAgentIdentitySponsorsOrOwners

from graph_sdk import sdk_client, strict_check_exchanges
from test_agents_sdk import GRAPH_SCOPE, ORDERS_ROLE_ID, ORDERS_ROLE_VALUE, new_user, sponsor_bind, token_for
from test_catalogs_sdk import password_token

LIFETIME_S = 6
DEADLINE_S = 15.0


async def poll(fetch, done, what: str):
    """Calls `fetch` until `done(result)`, for at most DEADLINE_S seconds of real time."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = await fetch()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {DEADLINE_S} s: {result}"
        await asyncio.sleep(0.2)


def test_admin_assignment_is_delivered_expires_and_is_removed(writ):
    prefix = "asg" + secrets.token_hex(3)

    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management

        sponsor = await client.users.post(new_user(prefix, 1))
        blueprint = await client.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} blueprint", additional_data=sponsor_bind(writ, sponsor.id)))
        await client.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        agents = []
        for n in (1, 2):
            agent = await client.service_principals.post(AgentIdentity(
                display_name=f"{prefix}-agent-{n}", agent_identity_blueprint_id=blueprint.app_id,
                additional_data=sponsor_bind(writ, sponsor.id)))
            agents.append(agent.id)

        group = await client.groups.post(Group(
            display_name=f"{prefix} tools", mail_enabled=False, mail_nickname=f"{prefix}tools",
            security_enabled=True))
        catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
        await em.resource_requests.post(AccessPackageResourceRequest(
            request_type=AccessPackageRequestType.AdminAdd,
            resource=AccessPackageResource(origin_id=group.id, origin_system="AadGroup"),
            catalog=AccessPackageCatalog(id=catalog.id)))
        roles = await em.catalogs.by_access_package_catalog_id(catalog.id).resource_roles.get()
        member = next(r for r in roles.value if r.display_name == "Member")
        package = await em.access_packages.post(AccessPackage(
            display_name=f"{prefix} package", catalog=AccessPackageCatalog(id=catalog.id)))
        await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
            AccessPackageResourceRoleScope(role=AccessPackageResourceRole(id=member.id)))
        policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
            display_name="All agents, briefly",
            allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
            expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration,
                                         duration=f"PT{LIFETIME_S}S"),
            request_approval_settings=AccessPackageAssignmentApprovalSettings(
                is_approval_required_for_add=False, stages=[]),
            access_package=AccessPackage(id=package.id)))

        def admin_add(target: str) -> AccessPackageAssignmentRequest:
            return AccessPackageAssignmentRequest(
                request_type=AccessPackageRequestType.AdminAdd,
                assignment=AccessPackageAssignment(additional_data={
                    "targetId": target, "assignmentPolicyId": policy.id,
                    "accessPackageId": package.id}))

        async def members() -> list[str]:
            page = await client.groups.by_group_id(group.id).members.get()
            return [m.id for m in page.value]

        # Delivered by the server's own worker.
        created = await em.assignment_requests.post(admin_add(agents[0]))
        assert created.state == AccessPackageRequestState.Submitted, created
        assert created.status == "Accepted"
        request_item = em.assignment_requests.by_access_package_assignment_request_id(created.id)
        delivered = await poll(
            lambda: request_item.get(request_configuration=RequestConfiguration(
                query_parameters=AssignmentRequestsRequestBuilder.AssignmentRequestsRequestBuilderGetQueryParameters(
                    expand=["assignment"]))),
            lambda r: r.state == AccessPackageRequestState.Delivered, "delivery")
        assert delivered.status == "Delivered"
        assignment = delivered.assignment
        assert assignment.state == AccessPackageAssignmentState.Delivered
        start = assignment.schedule.start_date_time
        end = assignment.schedule.expiration.end_date_time
        assert isinstance(start, datetime) and end - start == timedelta(seconds=LIFETIME_S)
        assert agents[0] in await members()

        # Removed by the administrator: the membership goes at once.
        second = await em.assignment_requests.post(admin_add(agents[1]))
        await poll(lambda: em.assignment_requests.by_access_package_assignment_request_id(second.id).get(),
                   lambda r: r.state == AccessPackageRequestState.Delivered, "second delivery")
        assert agents[1] in await members()
        listed = await em.assignments.get(request_configuration=RequestConfiguration(
            query_parameters=AssignmentsRequestBuilder.AssignmentsRequestBuilderGetQueryParameters(
                filter=f"target/objectId eq '{agents[1]}'", expand=["target"])))
        assert len(listed.value) == 1 and listed.value[0].target.object_id == agents[1]
        removal = await em.assignment_requests.post(AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.AdminRemove,
            assignment=AccessPackageAssignment(id=listed.value[0].id)))
        assert removal.request_type == AccessPackageRequestType.AdminRemove
        assert agents[1] not in await members()

        # Expiry: the first assignment's access ends at its end instant; the worker records it.
        expired = await poll(
            lambda: em.assignments.by_access_package_assignment_id(assignment.id).get(),
            lambda a: a.state == AccessPackageAssignmentState.Expired, "expiry")
        assert expired.status == "Expired"
        assert agents[0] not in await members()
        removals = await em.assignment_requests.get(request_configuration=RequestConfiguration(
            query_parameters=AssignmentRequestsRequestBuilder.AssignmentRequestsRequestBuilderGetQueryParameters(
                filter="requestType eq 'systemRemove'")))
        assert len(removals.value) == 1

        assert strict_check_exchanges(recorder.exchanges) >= 20

    asyncio.run(scenario())


def test_agent_requests_and_its_sponsor_approves(writ):
    prefix = "apr" + secrets.token_hex(3)

    async def scenario():
        admin, admin_recorder = sdk_client(writ)
        em = admin.identity_governance.entitlement_management
        sponsor = await admin.users.post(new_user(prefix, 1))
        fallback = await admin.users.post(new_user(prefix, 2))
        blueprint = await admin.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} blueprint", additional_data=sponsor_bind(writ, sponsor.id)))
        await admin.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        agent = await admin.service_principals.post(AgentIdentity(
            display_name=f"{prefix}-agent", agent_identity_blueprint_id=blueprint.app_id,
            additional_data=sponsor_bind(writ, sponsor.id)))
        secret = await admin.service_principals.by_service_principal_id(agent.id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))

        group = await admin.groups.post(Group(
            display_name=f"{prefix} tools", mail_enabled=False, mail_nickname=f"{prefix}tools",
            security_enabled=True))
        catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
        await em.resource_requests.post(AccessPackageResourceRequest(
            request_type=AccessPackageRequestType.AdminAdd,
            resource=AccessPackageResource(origin_id=group.id, origin_system="AadGroup"),
            catalog=AccessPackageCatalog(id=catalog.id)))
        orders = await admin.applications.post(Application(
            display_name=f"{prefix} Orders API",
            app_roles=[AppRole(
                id=ORDERS_ROLE_ID, allowed_member_types=["Application"], value=ORDERS_ROLE_VALUE,
                display_name="Read orders", description="Read all orders", is_enabled=True)]))
        orders_sp = await admin.service_principals.post(ServicePrincipal(app_id=orders.app_id))
        await em.resource_requests.post(AccessPackageResourceRequest(
            request_type=AccessPackageRequestType.AdminAdd,
            resource=AccessPackageResource(origin_id=orders_sp.id, origin_system="AadApplication"),
            catalog=AccessPackageCatalog(id=catalog.id)))
        roles = await em.catalogs.by_access_package_catalog_id(catalog.id).resource_roles.get()
        member = next(r for r in roles.value if r.display_name == "Member")
        read_orders = next(r for r in roles.value if r.origin_id == str(ORDERS_ROLE_ID))
        package = await em.access_packages.post(AccessPackage(
            display_name=f"{prefix} package", catalog=AccessPackageCatalog(id=catalog.id)))
        for role in (member, read_orders):
            await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
                AccessPackageResourceRoleScope(role=AccessPackageResourceRole(id=role.id)))
        policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
            display_name="All agents, sponsors approve",
            allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
            expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="P30D"),
            requestor_settings=AccessPackageAssignmentRequestorSettings(
                enable_targets_to_self_add_access=True,
                enable_on_behalf_requestors_to_add_access=True,
                on_behalf_requestors=[TargetAgentIdentitySponsorsOrOwners()]),
            request_approval_settings=AccessPackageAssignmentApprovalSettings(
                is_approval_required_for_add=True,
                stages=[AccessPackageApprovalStage(
                    duration_before_automatic_denial="P7D",
                    primary_approvers=[TargetAgentIdentitySponsorsOrOwners()],
                    fallback_primary_approvers=[SingleUser(user_id=fallback.id)])]),
            access_package=AccessPackage(id=package.id)))

        # The agent, with its own token, asks for the package.
        agent_token = token_for(writ, agent.app_id, secret.secret_text, GRAPH_SCOPE)["access_token"]
        as_agent, agent_recorder = sdk_client(writ, token=agent_token)
        created = await as_agent.identity_governance.entitlement_management.assignment_requests.post(
            AccessPackageAssignmentRequest(
                request_type=AccessPackageRequestType.UserAdd,
                assignment=AccessPackageAssignment(additional_data={
                    "accessPackageId": package.id, "assignmentPolicyId": policy.id})))
        assert created.state == AccessPackageRequestState.Submitted, created

        # Its sponsor finds it awaiting a decision and approves it.
        sponsor_token = password_token(writ, sponsor.user_principal_name, f"a long passphrase 1 {prefix}")
        as_sponsor, sponsor_recorder = sdk_client(writ, token=sponsor_token)
        sem = as_sponsor.identity_governance.entitlement_management
        awaiting = await poll(
            lambda: sem.assignment_requests.filter_by_current_user_with_on("approver").get(),
            lambda r: len(r.value) == 1, "approval routing")
        assert awaiting.value[0].id == created.id
        assert awaiting.value[0].state == AccessPackageRequestState.PendingApproval
        approval = await sem.access_package_assignment_approvals.by_approval_id(created.id).get()
        assert approval.id == created.id and len(approval.stages) == 1
        stage = approval.stages[0]
        assert stage.assigned_to_me is True and stage.status == "InProgress", stage
        await sem.access_package_assignment_approvals.by_approval_id(created.id).stages.by_approval_stage_id(
            stage.id).patch(ApprovalStage(review_result="Approve", justification="queue 7 is short-staffed"))
        stages = await sem.access_package_assignment_approvals.by_approval_id(created.id).stages.get()
        assert stages.value[0].review_result == "Approved"
        assert stages.value[0].reviewed_by.id == sponsor.id

        # The worker delivers it; the agent reads its request as delivered.
        delivered = await poll(
            lambda: as_agent.identity_governance.entitlement_management.assignment_requests
            .by_access_package_assignment_request_id(created.id).get(),
            lambda r: r.state == AccessPackageRequestState.Delivered, "delivery after approval")
        assert delivered.status == "Delivered"
        page = await admin.groups.by_group_id(group.id).members.get()
        assert agent.id in [m.id for m in page.value]
        orders_scope = f"api://{orders.app_id}/.default"
        claims = token_for(writ, agent.app_id, secret.secret_text, orders_scope)["claims"]
        assert claims.get("roles") == [ORDERS_ROLE_VALUE], claims

        # The sponsor asks on behalf of a second agent: being the requestor, it cannot approve;
        # the fallback approver does.
        second = await admin.service_principals.post(AgentIdentity(
            display_name=f"{prefix}-agent-2", agent_identity_blueprint_id=blueprint.app_id,
            additional_data=sponsor_bind(writ, sponsor.id)))
        on_behalf = await sem.assignment_requests.post(AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.UserAdd,
            assignment=AccessPackageAssignment(additional_data={
                "accessPackageId": package.id, "assignmentPolicyId": policy.id,
                "targetId": second.id})))
        fallback_token = password_token(writ, fallback.user_principal_name, f"a long passphrase 2 {prefix}")
        as_fallback, fallback_recorder = sdk_client(writ, token=fallback_token)
        fem = as_fallback.identity_governance.entitlement_management
        awaiting = await poll(
            lambda: fem.assignment_requests.filter_by_current_user_with_on("approver").get(),
            lambda r: len(r.value) == 1, "routing to the fallback approver")
        assert awaiting.value[0].id == on_behalf.id
        stage = (await fem.access_package_assignment_approvals.by_approval_id(on_behalf.id).get()).stages[0]
        assert stage.assigned_to_me is True
        assert (await sem.assignment_requests.filter_by_current_user_with_on("approver").get()).value == []
        await fem.access_package_assignment_approvals.by_approval_id(on_behalf.id).stages.by_approval_stage_id(
            stage.id).patch(ApprovalStage(review_result="Approve", justification="for the sponsor"))
        await poll(
            lambda: em.assignment_requests.by_access_package_assignment_request_id(on_behalf.id).get(),
            lambda r: r.state == AccessPackageRequestState.Delivered, "on-behalf delivery")

        # adminRemove takes the first agent's membership and role away at once.
        listed = await em.assignments.get(request_configuration=RequestConfiguration(
            query_parameters=AssignmentsRequestBuilder.AssignmentsRequestBuilderGetQueryParameters(
                filter=f"target/objectId eq '{agent.id}' and state eq 'delivered'")))
        await em.assignment_requests.post(AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.AdminRemove,
            assignment=AccessPackageAssignment(id=listed.value[0].id)))
        page = await admin.groups.by_group_id(group.id).members.get()
        members = [m.id for m in page.value]
        assert agent.id not in members and second.id in members
        claims = token_for(writ, agent.app_id, secret.secret_text, orders_scope)["claims"]
        assert claims.get("roles", []) == [], claims

        for recorder in (admin_recorder, agent_recorder, sponsor_recorder, fallback_recorder):
            strict_check_exchanges(recorder.exchanges)

    asyncio.run(scenario())


RECORDING_WINDOW_S = 2.0


def test_access_ends_at_the_instant_and_a_shared_group_stays(writ):
    prefix = "end" + secrets.token_hex(3)

    async def scenario():
        client, recorder = sdk_client(writ)
        em = client.identity_governance.entitlement_management
        sponsor = await client.users.post(new_user(prefix, 1))
        blueprint = await client.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} blueprint", additional_data=sponsor_bind(writ, sponsor.id)))
        await client.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        agents, secrets_ = [], []
        for n in (1, 2):
            agent = await client.service_principals.post(AgentIdentity(
                display_name=f"{prefix}-agent-{n}", agent_identity_blueprint_id=blueprint.app_id,
                additional_data=sponsor_bind(writ, sponsor.id)))
            secret = await client.service_principals.by_service_principal_id(agent.id).add_password.post(
                AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))
            agents.append(agent)
            secrets_.append(secret.secret_text)

        group = await client.groups.post(Group(
            display_name=f"{prefix} tools", mail_enabled=False, mail_nickname=f"{prefix}tools",
            security_enabled=True))
        orders = await client.applications.post(Application(
            display_name=f"{prefix} Orders API",
            app_roles=[AppRole(
                id=ORDERS_ROLE_ID, allowed_member_types=["Application"], value=ORDERS_ROLE_VALUE,
                display_name="Read orders", description="Read all orders", is_enabled=True)]))
        orders_sp = await client.service_principals.post(ServicePrincipal(app_id=orders.app_id))
        catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
        for origin_id, system in ((group.id, "AadGroup"), (orders_sp.id, "AadApplication")):
            await em.resource_requests.post(AccessPackageResourceRequest(
                request_type=AccessPackageRequestType.AdminAdd,
                resource=AccessPackageResource(origin_id=origin_id, origin_system=system),
                catalog=AccessPackageCatalog(id=catalog.id)))
        roles = await em.catalogs.by_access_package_catalog_id(catalog.id).resource_roles.get()
        member = next(r for r in roles.value if r.display_name == "Member")
        read_orders = next(r for r in roles.value if r.origin_id == str(ORDERS_ROLE_ID))

        async def package_with(name: str, roles_: list, duration: str) -> tuple[str, str]:
            package = await em.access_packages.post(AccessPackage(
                display_name=f"{prefix} {name}", catalog=AccessPackageCatalog(id=catalog.id)))
            for role in roles_:
                await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
                    AccessPackageResourceRoleScope(role=AccessPackageResourceRole(id=role.id)))
            policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
                display_name=f"All agents, {duration}",
                allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
                expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration=duration),
                request_approval_settings=AccessPackageAssignmentApprovalSettings(
                    is_approval_required_for_add=False, stages=[]),
                access_package=AccessPackage(id=package.id)))
            return package.id, policy.id

        brief = await package_with("brief", [member, read_orders], f"PT{LIFETIME_S}S")
        standing = await package_with("standing", [member], "P1D")

        async def assign(agent, package_policy) -> AccessPackageAssignment:
            package_id, policy_id = package_policy
            created = await em.assignment_requests.post(AccessPackageAssignmentRequest(
                request_type=AccessPackageRequestType.AdminAdd,
                assignment=AccessPackageAssignment(additional_data={
                    "targetId": agent.id, "assignmentPolicyId": policy_id, "accessPackageId": package_id})))
            delivered = await poll(
                lambda: em.assignment_requests.by_access_package_assignment_request_id(created.id).get(
                    request_configuration=RequestConfiguration(
                        query_parameters=AssignmentRequestsRequestBuilder
                        .AssignmentRequestsRequestBuilderGetQueryParameters(expand=["assignment"]))),
                lambda r: r.state == AccessPackageRequestState.Delivered, "delivery")
            return delivered.assignment

        async def members() -> set[str]:
            page = await client.groups.by_group_id(group.id).members.get()
            return {m.id for m in page.value}

        orders_scope = f"api://{orders.app_id}/.default"

        def token_claims(n: int) -> dict:
            return token_for(writ, agents[n].app_id, secrets_[n], orders_scope)["claims"]

        # The first agent also holds the group through a standing assignment of another package.
        kept = await assign(agents[0], standing)
        brief_assignments = [await assign(agent, brief) for agent in agents]
        ends = [a.schedule.expiration.end_date_time for a in brief_assignments]
        for a in brief_assignments:
            assert a.schedule.expiration.end_date_time - a.schedule.start_date_time == timedelta(
                seconds=LIFETIME_S)

        # Shortly before the end: access, and a token that lasts no longer than the assignment.
        assert datetime.now(ends[0].tzinfo) < min(ends) - timedelta(seconds=1), "delivery was too slow"
        assert {a.id for a in agents} <= await members()
        for n, end in enumerate(ends):
            claims = token_claims(n)
            assert claims.get("roles") == [ORDERS_ROLE_VALUE], claims
            assert claims["exp"] <= end.timestamp(), (claims["exp"], end)

        # Right after each end instant the role is gone from a new token and the brief-only agent
        # from the group; the agent with the standing assignment keeps its membership.
        for n in sorted(range(len(agents)), key=lambda n: ends[n]):
            await asyncio.sleep(max(0.0, (ends[n] - datetime.now(ends[n].tzinfo)).total_seconds()))
            claims = token_claims(n)
            current = await members()
            late = (datetime.now(ends[n].tzinfo) - ends[n]).total_seconds()
            assert claims.get("roles", []) == [], f"{late:.3f} s after the end: {claims}"
            if n == 0:
                assert agents[0].id in current, "the standing assignment keeps the membership"
            else:
                assert agents[n].id not in current, f"still a member {late:.3f} s after the end"

        # Each brief assignment is recorded expired within 2 s of its end.
        for assignment, end in zip(brief_assignments, ends):
            item = em.assignments.by_access_package_assignment_id(assignment.id)
            while (recorded := await item.get()).state != AccessPackageAssignmentState.Expired:
                late = (datetime.now(end.tzinfo) - end).total_seconds()
                assert late < RECORDING_WINDOW_S, f"not recorded expired {late:.2f} s after the end"
                await asyncio.sleep(0.05)
            assert recorded.status == "Expired"
        still = await em.assignments.by_access_package_assignment_id(kept.id).get()
        assert still.state == AccessPackageAssignmentState.Delivered
        assert await members() == {agents[0].id}

        strict_check_exchanges(recorder.exchanges)

    asyncio.run(scenario())


EXTENSION_LIFETIME_S = 8


def test_an_approved_extension_keeps_access_and_an_unanswered_one_does_not(writ):
    """Two agents assigned for a few seconds each ask to extend (userUpdate, approval by their
    sponsor required for updates): the approved one keeps its membership and role past the
    original end, on the same assignment; the unanswered one loses them at the original end and
    its extension reads denied, status AssignmentExpired."""
    prefix = "ext" + secrets.token_hex(3)

    async def scenario():
        admin, admin_recorder = sdk_client(writ)
        em = admin.identity_governance.entitlement_management
        sponsor = await admin.users.post(new_user(prefix, 1))
        fallback = await admin.users.post(new_user(prefix, 2))
        blueprint = await admin.applications.post(AgentIdentityBlueprint(
            display_name=f"{prefix} blueprint", additional_data=sponsor_bind(writ, sponsor.id)))
        await admin.service_principals.post(AgentIdentityBlueprintPrincipal(app_id=blueprint.app_id))
        agents, secrets_ = [], []
        for n in (1, 2):
            agent = await admin.service_principals.post(AgentIdentity(
                display_name=f"{prefix}-agent-{n}", agent_identity_blueprint_id=blueprint.app_id,
                additional_data=sponsor_bind(writ, sponsor.id)))
            secret = await admin.service_principals.by_service_principal_id(agent.id).add_password.post(
                AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="e2e")))
            agents.append(agent)
            secrets_.append(secret.secret_text)
        group = await admin.groups.post(Group(
            display_name=f"{prefix} tools", mail_enabled=False, mail_nickname=f"{prefix}tools",
            security_enabled=True))
        orders = await admin.applications.post(Application(
            display_name=f"{prefix} Orders API",
            app_roles=[AppRole(
                id=ORDERS_ROLE_ID, allowed_member_types=["Application"], value=ORDERS_ROLE_VALUE,
                display_name="Read orders", description="Read all orders", is_enabled=True)]))
        orders_sp = await admin.service_principals.post(ServicePrincipal(app_id=orders.app_id))
        catalog = await em.catalogs.post(AccessPackageCatalog(display_name=f"{prefix} catalog"))
        for origin_id, system in ((group.id, "AadGroup"), (orders_sp.id, "AadApplication")):
            await em.resource_requests.post(AccessPackageResourceRequest(
                request_type=AccessPackageRequestType.AdminAdd,
                resource=AccessPackageResource(origin_id=origin_id, origin_system=system),
                catalog=AccessPackageCatalog(id=catalog.id)))
        roles = await em.catalogs.by_access_package_catalog_id(catalog.id).resource_roles.get()
        package = await em.access_packages.post(AccessPackage(
            display_name=f"{prefix} package", catalog=AccessPackageCatalog(id=catalog.id)))
        for role in roles.value:
            if role.display_name == "Member" or role.origin_id == str(ORDERS_ROLE_ID):
                await em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
                    AccessPackageResourceRoleScope(role=AccessPackageResourceRole(id=role.id)))
        policy = await em.assignment_policies.post(AccessPackageAssignmentPolicy(
            display_name="All agents, extensions approved by sponsors",
            allowed_target_scope=AllowedTargetScope.AllDirectoryAgentIdentities,
            expiration=ExpirationPattern(
                type=ExpirationPatternType.AfterDuration, duration=f"PT{EXTENSION_LIFETIME_S}S"),
            requestor_settings=AccessPackageAssignmentRequestorSettings(
                enable_targets_to_self_update_access=True),
            request_approval_settings=AccessPackageAssignmentApprovalSettings(
                is_approval_required_for_add=False, is_approval_required_for_update=True,
                stages=[AccessPackageApprovalStage(
                    duration_before_automatic_denial="P7D",
                    primary_approvers=[TargetAgentIdentitySponsorsOrOwners()],
                    fallback_primary_approvers=[SingleUser(user_id=fallback.id)])]),
            access_package=AccessPackage(id=package.id)))

        assignments = []
        for agent in agents:
            created = await em.assignment_requests.post(AccessPackageAssignmentRequest(
                request_type=AccessPackageRequestType.AdminAdd,
                assignment=AccessPackageAssignment(additional_data={
                    "targetId": agent.id, "assignmentPolicyId": policy.id, "accessPackageId": package.id})))
            delivered = await poll(
                lambda: em.assignment_requests.by_access_package_assignment_request_id(created.id).get(
                    request_configuration=RequestConfiguration(
                        query_parameters=AssignmentRequestsRequestBuilder
                        .AssignmentRequestsRequestBuilderGetQueryParameters(expand=["assignment"]))),
                lambda r: r.state == AccessPackageRequestState.Delivered, "delivery")
            assignments.append(delivered.assignment)
        original_ends = [a.schedule.expiration.end_date_time for a in assignments]

        # Each agent asks, with its own token, to extend its assignment.
        extensions = []
        for agent, secret, assignment in zip(agents, secrets_, assignments):
            token = token_for(writ, agent.app_id, secret, GRAPH_SCOPE)["access_token"]
            as_agent, _ = sdk_client(writ, token=token)
            extension = await as_agent.identity_governance.entitlement_management.assignment_requests.post(
                AccessPackageAssignmentRequest(
                    request_type=AccessPackageRequestType.UserUpdate,
                    assignment=AccessPackageAssignment(id=assignment.id)))
            assert extension.state == AccessPackageRequestState.Submitted, extension
            extensions.append(extension)

        # The sponsor approves the first; nobody answers the second.
        sponsor_token = password_token(writ, sponsor.user_principal_name, f"a long passphrase 1 {prefix}")
        as_sponsor, sponsor_recorder = sdk_client(writ, token=sponsor_token)
        sem = as_sponsor.identity_governance.entitlement_management
        await poll(
            lambda: sem.assignment_requests.filter_by_current_user_with_on("approver").get(),
            lambda r: len(r.value) == 2, "routing both extensions to the sponsor")
        approval = await sem.access_package_assignment_approvals.by_approval_id(extensions[0].id).get()
        stage = approval.stages[0]
        assert stage.assigned_to_me is True, stage
        # The new end counts from the approval: waiting a little makes it tell from the old one
        # (ends are whole seconds).
        await asyncio.sleep(1.5)
        await sem.access_package_assignment_approvals.by_approval_id(extensions[0].id).stages.by_approval_stage_id(
            stage.id).patch(ApprovalStage(review_result="Approve", justification="still on the rota"))
        extended = await poll(
            lambda: em.assignment_requests.by_access_package_assignment_request_id(extensions[0].id).get(),
            lambda r: r.state == AccessPackageRequestState.Delivered, "the approved extension")
        assert extended.status == "Delivered"
        moved = await em.assignments.by_access_package_assignment_id(assignments[0].id).get()
        new_end = moved.schedule.expiration.end_date_time
        assert new_end > original_ends[0], (new_end, original_ends[0])
        assert datetime.now(new_end.tzinfo) < min(original_ends), "the extension came too late to tell"

        # Past the original ends: the extended agent keeps access; the other lost it at its end.
        latest = max(original_ends)
        await asyncio.sleep(max(0.0, (latest - datetime.now(latest.tzinfo)).total_seconds()) + 0.2)
        assert datetime.now(latest.tzinfo) < new_end, "the new end came before the check"
        page = await admin.groups.by_group_id(group.id).members.get()
        members = {m.id for m in page.value}
        assert agents[0].id in members and agents[1].id not in members, members
        orders_scope = f"api://{orders.app_id}/.default"
        assert token_for(writ, agents[0].app_id, secrets_[0], orders_scope)["claims"].get(
            "roles") == [ORDERS_ROLE_VALUE]
        assert token_for(writ, agents[1].app_id, secrets_[1], orders_scope)["claims"].get(
            "roles", []) == []
        closed = await poll(
            lambda: em.assignment_requests.by_access_package_assignment_request_id(extensions[1].id).get(),
            lambda r: r.state == AccessPackageRequestState.Denied, "the unanswered extension's end")
        assert closed.status == "AssignmentExpired"
        still = await em.assignments.by_access_package_assignment_id(assignments[0].id).get()
        assert still.state == AccessPackageAssignmentState.Delivered
        ended = await poll(
            lambda: em.assignments.by_access_package_assignment_id(assignments[1].id).get(),
            lambda a: a.state == AccessPackageAssignmentState.Expired, "the unextended expiry")
        assert ended.status == "Expired"

        for recorder in (admin_recorder, sponsor_recorder):
            strict_check_exchanges(recorder.exchanges)

    asyncio.run(scenario())
