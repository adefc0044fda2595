"""Tokens for people as Microsoft's own library reads them: a real `writ serve` answers a password
grant, and MSAL Python's `TokenCache` (offline: MSAL refuses a plain-HTTP authority, so the
response is fed to the cache as MSAL's `acquire_token_*` would) builds its account from the
`client_info` and `id_token` Writ returns, and keeps the access, id and refresh tokens under it.
azure-identity builds its `AuthenticationRecord` from the same answer. The refresh token MSAL
cached is then redeemed at the token endpoint, as `acquire_token_silent`
would, and the rotated one replaces it.
"""

from __future__ import annotations

import base64
import json
import secrets

import msal

from writ_harness import http

PUBLIC_CLIENT = "a8d5e6f0-4c3b-4f7a-9d21-77717e000001"
SCOPES = ["https://graph.microsoft.com/.default"]
PASSWORD = "a long passphrase 1"


def test_msal_token_cache_builds_the_account_from_writ_answer(writ):
    nick = "msal" + secrets.token_hex(4)
    upn = f"{nick}@example.org"
    created = writ.api("POST", "users", {
        "displayName": "Mia Msal", "userPrincipalName": upn, "mailNickname": nick,
        "accountEnabled": True, "passwordProfile": {"password": PASSWORD},
    })
    assert created.status == 201, created
    oid = created.json()["id"]
    endpoint = f"{writ.url}/oauth2/v2.0/token"
    # What MSAL sends for a user grant: its scopes plus the reserved OpenID ones, client_info=1.
    form = {
        "grant_type": "password", "client_id": PUBLIC_CLIENT, "username": upn,
        "password": PASSWORD, "client_info": "1",
        "scope": " ".join(SCOPES + ["openid", "profile", "offline_access"]),
    }
    resp = http("POST", endpoint, form=form)
    assert resp.status == 200, resp
    body = resp.json()
    for key in ("access_token", "id_token", "refresh_token", "client_info"):
        assert body.get(key), f"{key} missing from {sorted(body)}"
    payload = body["id_token"].split(".")[1]
    tenant = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["tid"]

    cache = msal.SerializableTokenCache()
    environment = writ.url.split("://", 1)[1]
    # The cache only parses the endpoint (host, tenant) and refuses http: name it as MSAL would
    # over TLS, the tenant path included.
    cached_endpoint = f"https://{environment}/{tenant}/oauth2/v2.0/token"
    cache.add({
        "client_id": PUBLIC_CLIENT, "scope": SCOPES, "token_endpoint": cached_endpoint,
        "environment": environment, "response": body, "data": {"username": upn},
        "grant_type": "password",
    })
    accounts = list(cache.search(msal.TokenCache.CredentialType.ACCOUNT))
    assert len(accounts) == 1, accounts
    account = accounts[0]
    assert account["home_account_id"] == f"{oid}.{tenant}"
    assert account["local_account_id"] == oid
    assert account["username"] == upn
    assert account["account_source"] == "password"
    assert account["realm"] == tenant
    for kind in ("ACCESS_TOKEN", "ID_TOKEN", "REFRESH_TOKEN"):
        found = list(cache.search(getattr(msal.TokenCache.CredentialType, kind),
                           query={"home_account_id": account["home_account_id"]}))
        assert len(found) == 1, f"{kind}: {found}"
    cached_rt = list(cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))[0]["secret"]

    # azure-identity's UsernamePasswordCredential builds its AuthenticationRecord from the same
    # answer (MSAL adds the decoded claims as id_token_claims); it used to fail here ("Failed to
    # build AuthenticationRecord from unexpected identity token").
    from azure.identity._internal.interactive import _build_auth_record

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    record = _build_auth_record(dict(body, id_token_claims=claims))
    assert record.home_account_id == f"{oid}.{tenant}"
    assert record.tenant_id == tenant
    assert record.username == upn
    assert record.client_id == PUBLIC_CLIENT

    # acquire_token_silent's refresh, by hand: the cached refresh token is redeemed, rotated.
    refreshed = http("POST", endpoint, form={
        "grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "client_info": "1",
        "refresh_token": cached_rt,
        "scope": " ".join(SCOPES + ["openid", "profile", "offline_access"]),
    })
    assert refreshed.status == 200, refreshed
    rotated = refreshed.json()
    assert rotated["refresh_token"] != cached_rt
    cache.add({
        "client_id": PUBLIC_CLIENT, "scope": SCOPES, "token_endpoint": cached_endpoint,
        "environment": environment, "response": rotated, "data": {},
        "grant_type": "refresh_token",
    })
    assert len(list(cache.search(msal.TokenCache.CredentialType.ACCOUNT))) == 1
    rts = list(cache.search(msal.TokenCache.CredentialType.REFRESH_TOKEN))
    assert [rt["secret"] for rt in rts] == [rotated["refresh_token"]]
    # The spent one presented again: the family is revoked, the rotated one with it.
    again = http("POST", endpoint, form={
        "grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, "refresh_token": cached_rt,
    })
    assert again.status == 400 and again.json()["error"] == "invalid_grant", again
    dead = http("POST", endpoint, form={
        "grant_type": "refresh_token", "client_id": PUBLIC_CLIENT,
        "refresh_token": rotated["refresh_token"],
    })
    assert dead.status == 400 and dead.json()["error"] == "invalid_grant", dead
    # userinfo with the access token: the same person.
    info = http("GET", f"{writ.url}/oidc/userinfo", token=rotated["access_token"])
    assert info.status == 200, info
    assert info.json()["oid"] == oid
