"""respx-backed fakes of an Entra-like token endpoint and a CAE resource, for unit tests."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from cae_sdk import build_claims_challenge
from cae_sdk.client import AccessToken

AUTHORITY_HOST = "https://login.test"
TENANT = "72f988bf-0000-0000-0000-000000000001"
AUTHORITY = f"{AUTHORITY_HOST}/{TENANT}"
TOKEN_URL = f"{AUTHORITY}/oauth2/v2.0/token"
DEVICE_URL = f"{AUTHORITY}/oauth2/v2.0/devicecode"
API = "https://api.test"
SCOPE = "api://resource/.default"
NBF_CLAIMS = {"access_token": {"nbf": {"essential": True, "value": "1700000000"}}}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def id_token(oid: str = "user-oid") -> str:
    payload = {
        "iss": f"{AUTHORITY}/v2.0",
        "aud": "public-client",
        "oid": oid,
        "sub": oid,
        "tid": TENANT,
        "preferred_username": "ada@contoso.test",
        "iat": 1,
        "exp": 4_000_000_000,
    }
    return f"{_b64({'alg': 'none'})}.{_b64(payload)}."


class FakeIdentityProvider:
    """Token endpoint that records every form it receives and issues ``token-N`` values."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.requests: list[dict[str, str]] = []
        self.errors: list[dict[str, Any]] = []
        self.expires_in = 3600
        self.refresh_in: int | None = None
        self._lock = threading.Lock()
        router.get(f"{AUTHORITY}/v2.0/.well-known/openid-configuration").respond(
            json={
                "issuer": f"{AUTHORITY}/v2.0",
                "authorization_endpoint": f"{AUTHORITY}/oauth2/v2.0/authorize",
                "token_endpoint": TOKEN_URL,
                "device_authorization_endpoint": DEVICE_URL,
            }
        )
        router.post(TOKEN_URL).mock(side_effect=self._token)
        router.post(DEVICE_URL).respond(
            json={
                "device_code": "dev-code",
                "user_code": "ABCD-EFGH",
                "verification_uri": f"{AUTHORITY_HOST}/devicelogin",
                "expires_in": 900,
                "interval": 0,
                "message": "To sign in, enter ABCD-EFGH at https://login.test/devicelogin",
            }
        )

    @property
    def count(self) -> int:
        return len(self.requests)

    def claims_sent(self, index: int = -1) -> dict[str, Any] | None:
        raw = self.requests[index].get("claims")
        return json.loads(raw) if raw else None

    def _token(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        with self._lock:
            self.requests.append(form)
            number = len(self.requests)
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            return httpx.Response(400, json=error)
        body: dict[str, Any] = {
            "access_token": f"token-{number}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if self.refresh_in is not None:
            body["refresh_in"] = self.refresh_in
        if form.get("grant_type") != "client_credentials":
            client_info = {"uid": "user-oid", "utid": TENANT}
            body |= {
                "refresh_token": f"refresh-{number}",
                "id_token": id_token(),
                "client_info": _b64(client_info),
                "scope": form.get("scope", SCOPE),
            }
        return httpx.Response(200, json=body)


class FakeResource:
    """An API that challenges tokens in ``revoked`` (or every token, with ``always``)."""

    def __init__(self, router: respx.MockRouter, claims: dict[str, Any] | None = None) -> None:
        self.revoked: set[str] = set()
        self.always = False
        self.claims = claims or NBF_CLAIMS
        self.seen: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.route = router.route(host="api.test").mock(side_effect=self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = request.read()
        with self._lock:
            self.seen.append((token, body))
        if self.always or token in self.revoked:
            challenge = build_claims_challenge(
                self.claims, authorization_uri=f"{AUTHORITY}/oauth2/authorize"
            )
            return httpx.Response(
                401, headers={"WWW-Authenticate": challenge}, json={"error": "revoked"}
            )
        return httpx.Response(
            200,
            content=body,
            headers={"content-type": request.headers.get("content-type", "")},
        )


class CountingCredential:
    """A TokenCredential double that issues ``tok-N`` and records its calls."""

    def __init__(
        self,
        *,
        expires_in: float = 3600,
        refresh_in: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.calls: list[tuple[tuple[str, ...], str | None, str | None]] = []
        self.expires_in = expires_in
        self.refresh_in = refresh_in
        self.fail: Exception | None = None
        self.clock = clock
        self._lock = threading.Lock()

    def get_token(
        self, scopes: Any, *, claims: str | None = None, challenged_token: str | None = None
    ) -> AccessToken:
        with self._lock:
            self.calls.append((tuple(scopes), claims, challenged_token))
            number = len(self.calls)
        if self.fail is not None:
            raise self.fail
        now = self.clock()
        result: dict[str, Any] = {"access_token": f"tok-{number}", "expires_in": self.expires_in}
        if self.refresh_in is not None:
            result["refresh_in"] = self.refresh_in
        return AccessToken.from_result(result, now=now, claims=claims)
