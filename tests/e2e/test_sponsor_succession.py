"""Sponsor succession end to end (DESIGN section 17, issue 19 part L), on SQLite and PostgreSQL:
a real `writ serve` posting its events to a webhook receiver and mailing them to an SMTP server
(aiosmtpd), both run by this test on loopback.

An agent has a sponsor (with a manager) and a co-sponsor, each person with a mailbox. The
sponsor is disabled over Graph (`PATCH /users/{id}` with `accountEnabled: false`): the manager
is the agent's sponsor at once, the departed one is not; one signed `agent.sponsorChanged`
webhook names the change; the manager gets an email saying they now sponsor the agent, with the
link to the agent's portal page, and the co-sponsor one saying its sponsors changed. The agent is
not listed among the agents without sponsors.
"""

from __future__ import annotations

from mail_sink import MailSink
from test_replicas import Fleet, created, poll
from test_webhooks import SECRET, Receiver, backend, start  # noqa: F401 (backend is a fixture)


def person(server, prefix: str, name: str) -> tuple[str, str]:
    """A user with a mailbox: (id, mailbox)."""
    mailbox = f"{prefix}-{name}@example.org"
    user = created(server, "users", {
        "displayName": f"{prefix} {name}", "userPrincipalName": mailbox,
        "mailNickname": f"{prefix}-{name}", "mail": mailbox, "accountEnabled": True,
        "passwordProfile": {"password": f"a long passphrase {name}"}})
    return user["id"], mailbox


def test_disabling_a_sponsor_mails_the_manager_who_now_sponsors_the_agent(backend, tmp_path):
    sink = Receiver(flaky=False)
    relay = MailSink()
    server = start(backend, tmp_path, {
        "WRIT_WEBHOOK_URL": sink.url,
        "WRIT_WEBHOOK_SECRET": SECRET,
        "WRIT_OUTBOUND_ALLOW_HOSTS": "127.0.0.1",
        "WRIT_SMTP_URL": relay.url,
        "WRIT_SMTP_FROM": "Writ Notices <writ@example.org>",
    })
    try:
        fleet = Fleet(server, "succ")
        sponsor = fleet.sponsor_bind[0].rsplit("/", 1)[1]
        manager, manager_mailbox = person(server, "succ", "manager")
        cosponsor, cosponsor_mailbox = person(server, "succ", "cosponsor")
        [agent] = fleet.agents([server], 1)
        agent_name = server.get_json(f"servicePrincipals/{agent}")["displayName"]
        reply = server.api("PUT", f"{server.graph}/users/{sponsor}/manager/$ref",
                           {"@odata.id": f"{server.graph}/users/{manager}"})
        assert reply.status == 204, repr(reply)
        reply = server.api("POST", f"{server.graph}/servicePrincipals/{agent}/sponsors/$ref",
                           {"@odata.id": f"{server.graph}/users/{cosponsor}"})
        assert reply.status == 204, repr(reply)

        reply = server.api("PATCH", f"{server.graph}/users/{sponsor}", {"accountEnabled": False})
        assert reply.status == 204, repr(reply)

        # The manager is a sponsor at once; the departed sponsor is not.
        sponsors = sorted(s["id"] for s in server.get_json(f"servicePrincipals/{agent}/sponsors")["value"])
        assert sponsors == sorted([manager, cosponsor]), sponsors

        # One signed webhook names the change.
        [(event, _)] = poll("the agent.sponsorChanged webhook",
                            lambda: sink.events("agent.sponsorChanged", "targetId", agent), 15)
        assert event["data"]["previousSponsorId"] == sponsor, event
        assert event["data"]["newSponsorId"] == manager, event
        assert event["data"]["succession"] == "sponsorDisabled", event
        assert sorted(r["id"] for r in event["recipients"]) == sorted([manager, cosponsor]), event

        # The manager's email says they now sponsor the agent and links to its page; the
        # co-sponsor's says what changed.
        mails = poll("the two emails",
                     lambda: relay.about(event["id"]) if len(relay.about(event["id"])) >= 2 else None,
                     15)
        by_rcpt = {m.rcpt: m for m in mails}
        assert sorted(by_rcpt) == sorted([manager_mailbox, cosponsor_mailbox]), list(by_rcpt)
        page = f"{server.url}/portal/agents/{agent}"
        to_manager = by_rcpt[manager_mailbox]
        assert to_manager.message["Subject"] == f"You now sponsor {agent_name}", to_manager.message["Subject"]
        assert f"See the agent: {page}\n" in to_manager.text, to_manager.text
        assert f'<a href="{page}">See the agent</a>' in to_manager.html, to_manager.html
        assert "Previous sponsor: succ sponsor" in to_manager.text, to_manager.text
        assert "(account disabled)" in to_manager.text, to_manager.text
        to_cosponsor = by_rcpt[cosponsor_mailbox]
        assert to_cosponsor.message["Subject"] == f"The sponsors of {agent_name} changed"
        assert "New sponsor: succ manager" in to_cosponsor.text, to_cosponsor.text

        # Nothing was left without a sponsor.
        listed = server.api("GET", f"{server.url}/writ/v1/agentsWithoutSponsors")
        assert listed.status == 200, repr(listed)
        assert listed.json()["value"] == [], listed.json()
    finally:
        server.stop()
        sink.close()
        relay.close()
