"""Revocation for tokens without a usable ``tid`` (issue 10, item 2): a generic OpenID Connect
issuer's users, clients, sessions and the whole issuer can be revoked - through the Python API
and the admin API - and a ``tid`` that is present but not a non-empty string is malformed."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from cae_sdk.core import find_claims_challenge
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import AdminApp, InMemoryEventStore, RevocationEvent
from cae_sdk.events._model import event_to_dict
from cae_sdk.resource import CAEMiddleware, TokenValidator

from ._asgi import call, ok_app
from .helpers import APP_ID, SigningKeys, claims, sign

ISSUER = "https://keycloak.example/realms/acme"
ADMIN_KEY = "an-admin-key-of-sufficient-length"


def _generic(**overrides: Any) -> dict[str, Any]:
    """A Keycloak-style access token: no tid, no oid; ``scope``, ``sub``, ``sid``, ``azp``."""
    base = claims(ISSUER, tid=None, oid=None, scp=None, ver=None, sub="f:1b2c:alice")
    merged = {**base, "scope": "openid api", "sid": "sess-9", "azp": "web-app", **overrides}
    return {name: value for name, value in merged.items() if value is not None}


def _middleware(keys: SigningKeys, store: InMemoryEventStore) -> CAEMiddleware:
    validator = TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    return CAEMiddleware(
        ok_app,
        validator=validator,
        store=store,
        authorization_uri=f"{ISSUER}/protocol/openid-connect/auth",
    )


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


@pytest.mark.parametrize(
    ("revoke", "other_user"),
    [
        (lambda store, at: store.revoke_user(ISSUER, "f:1b2c:alice", at=at), 200),
        (lambda store, at: store.revoke_tenant(ISSUER, at=at), 401),
        (lambda store, at: store.revoke_session(ISSUER, "sess-9", at=at), 200),
    ],
    ids=["user", "issuer", "session"],
)
async def test_a_revoked_generic_oidc_subject_is_refused(
    keys: SigningKeys, revoke: Any, other_user: int
) -> None:
    store = InMemoryEventStore()
    middleware = _middleware(keys, store)
    token = sign(keys, _generic())
    assert (await call(middleware, _bearer(token))).status == 200
    watermark = int(time.time()) + 5
    await revoke(store, watermark)
    refused = await call(middleware, _bearer(token))
    assert refused.status == 401 and not refused.reached_app
    challenge = find_claims_challenge(refused.header(b"www-authenticate") or b"")
    assert challenge is not None
    assert challenge.claims_dict["access_token"]["nbf"]["value"] == str(watermark)
    assert challenge.authorization_uri == f"{ISSUER}/protocol/openid-connect/auth"
    # Another user of the same issuer: refused only when the whole issuer was revoked.
    other = await call(middleware, _bearer(sign(keys, _generic(sub="bob", sid="sess-1"))))
    assert other.status == other_user


async def test_a_revoked_generic_oidc_client_is_refused(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    middleware = _middleware(keys, store)
    # RFC 9068 section 2.2: a client-credentials token; the client is client_id.
    app_token = sign(
        keys, _generic(sub="svc-1", client_id="svc-1", azp=None, sid=None, idtyp="app")
    )
    assert (await call(middleware, _bearer(app_token))).status == 200
    await store.revoke_service_principal(ISSUER, "svc-1", at=int(time.time()) + 5)
    assert (await call(middleware, _bearer(app_token))).status == 401


async def test_the_admin_api_names_generic_oidc_subjects(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    middleware = _middleware(keys, store)
    token = sign(keys, _generic())
    subject = SubjectKey.user(ISSUER, "f:1b2c:alice")
    event = RevocationEvent(subject, int(time.time()) + 5, "sessions_revoked", "admin")
    admin = AdminApp(store, enabled=True, static_key=ADMIN_KEY)
    transport = httpx.ASGITransport(app=admin)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
        posted = await client.post("/events", json=event_to_dict(event), headers=auth)
        assert posted.status_code == 202, posted.text
        listing = (await client.get("/watermarks", headers=auth)).json()["watermarks"]
    assert [SubjectKey.parse(w["subject"]) for w in listing] == [subject]
    assert json.dumps(listing).count("https%3A//keycloak.example") == 1
    assert (await call(middleware, _bearer(token))).status == 401


@pytest.mark.parametrize("tid", [7, "", None, ["t"], {"id": "t"}, True, 1.5])
async def test_a_tid_that_is_not_a_non_empty_string_is_malformed(
    keys: SigningKeys, tid: Any
) -> None:
    store = InMemoryEventStore()
    middleware = _middleware(keys, store)
    payload = {**_generic(), "tid": tid}  # present, even as JSON null
    answer = await call(middleware, _bearer(sign(keys, payload)))
    assert answer.status == 401 and not answer.reached_app
    body = json.loads(answer.body)
    assert body["error"] == "invalid_token" and body["reason"] == "malformed_token"
    assert "tid" in body["error_description"]


async def test_a_generic_oidc_user_is_revoked_by_the_address_shared_signals_name(
    keys: SigningKeys,
) -> None:
    # An RFC 9068 user token carries "scope", not "scp": it reads as app-only, and its
    # addresses must still name it (Okta's Shared Signals name users by email).
    store = InMemoryEventStore()
    middleware = _middleware(keys, store)
    token = sign(keys, _generic(email="Alice@Example.com"))
    assert (await call(middleware, _bearer(token))).status == 200
    subject = SubjectKey.email(ISSUER, "alice@example.com")
    await store.apply(RevocationEvent(subject, int(time.time()) + 5, "credential-change"))
    refused = await call(middleware, _bearer(token))
    assert refused.status == 401 and not refused.reached_app
