"""``CAEMiddleware``: the ASGI adapter over the one request path (:mod:`cae_sdk.resource._path`).

header -> token -> verified claims (cache or key set) -> decision (store, locations, policies)
-> app (with ``scope["user"]``, ``scope["auth"]``, ``scope["state"]["cae_decision"]``) or a
refusal (see :mod:`cae_sdk.resource._responses`). ``on_decision`` hooks see every decision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.decisions import Decision
from ..core.tokens import TokenClaims
from ..events._store import EventStore
from ._access import AccessEvaluator
from ._exchange import Exchange, PathResult
from ._hooks import AccessRecord, DecisionHook
from ._path import RequestPath
from ._responses import Refusal, refusal_for_decision
from ._settings import ENTRA_AUTHORIZATION_URI, CAESettings
from ._validator import TokenValidator

__all__ = ["AccessRecord", "CAEAuthCredentials", "CAEMiddleware", "CAEUser", "DecisionHook"]


class CAEUser(BaseUser):
    """``request.user``: the verified token's identity."""

    def __init__(self, claims: TokenClaims) -> None:
        self.claims = claims

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return str(
            self.claims.get("preferred_username") or self.claims.get("name") or self.identity
        )

    @property
    def identity(self) -> str:
        return self.claims.object_id or self.claims.subject or self.claims.app_id or ""


class CAEAuthCredentials(AuthCredentials):
    """``request.auth``: scopes (``"authenticated"`` as Starlette's ``AuthenticationMiddleware``
    grants it, then ``scp`` and ``roles``, as Starlette's ``requires`` reads them),
    the verified claims, the access decision, and the ``authorization_uri`` route-level
    challenges (FastAPI dependencies) should name. :meth:`refuse` concludes a route's own
    refusal through the request path that allowed the request."""

    # Scopes are computed on first read: most requests never look at them, and splitting
    # ``scp`` on every request shows on the warm path.
    def __init__(
        self,
        claims: TokenClaims,
        decision: Decision,
        authorization_uri: str = "",
        request_path: RequestPath | None = None,
        path: str = "",
        client_ip: str | None = None,
    ) -> None:
        self.claims = claims
        self.decision = decision
        self.authorization_uri = authorization_uri
        self._scopes: list[str] | None = None
        # What a route refusal needs of the request (an Exchange is built only for one). The
        # middleware passes these by position: keyword arguments cost more on the warm path.
        self._request_path = request_path
        self._path = path
        self._client_ip = client_ip

    async def refuse(
        self, scope: Scope, decision: Decision, *, authorization_uri: str | None = None
    ) -> Refusal:
        """The response for a route's own requirement that ``decision`` refuses (a FastAPI
        dependency): :meth:`RequestPath.refuse_route` of the path that allowed this request,
        so the refusal is logged and reaches the ``on_decision`` hooks (and metrics) with the
        reason its body carries. ``authorization_uri`` replaces the middleware's in a
        challenge."""
        request_path = self._request_path
        if request_path is None:  # made by hand, not by CAEMiddleware: the refusal alone
            uri = authorization_uri or self.authorization_uri or ENTRA_AUTHORIZATION_URI
            return refusal_for_decision(decision, self.claims, authorization_uri=uri, realm=None)
        method = scope.get("method", "WEBSOCKET")
        exchange = Exchange(method, self._path, scope.get("headers", ()), self._client_ip)
        result = await request_path.refuse_route(
            exchange, decision, self.claims, authorization_uri=authorization_uri
        )
        assert result.refusal is not None  # refuse_route refuses, or raises
        return result.refusal

    @property
    def scopes(self) -> list[str]:
        if self._scopes is None:
            self._scopes = ["authenticated", *self.claims.scopes, *self.claims.roles]
        return self._scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        self._scopes = list(value)


class CAEMiddleware:
    """Make any ASGI app a CAE resource. Example::

        app = CAEMiddleware(app, validator=TokenValidator.entra(app_id=..., tenant_id=...),
                            store=InMemoryEventStore(), exclude_paths=["/health"])

    Keyword arguments other than ``validator``, ``store``, ``settings`` and ``on_decision`` are
    :class:`CAESettings` fields. ``self.settings`` may be changed or replaced at run time
    (policies, static locations, modes): the next request uses the new values.

    A thin adapter: the decision is :class:`~cae_sdk.resource.RequestPath`'s; this class
    translates an ASGI scope into it and the result back (``scope["user"]``, ``scope["auth"]``,
    ``scope["state"]``, or the refusal; a refused websocket is closed with 1008).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        validator: TokenValidator,
        store: EventStore | None = None,
        settings: CAESettings | None = None,
        on_decision: Iterable[DecisionHook] = (),
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        self.app = app
        self.path = RequestPath(
            validator=validator,
            store=store,
            settings=settings or CAESettings(**options),
            hooks=on_decision,
            clock=clock,
        )

    @property
    def validator(self) -> TokenValidator:
        return self.path.validator

    @property
    def store(self) -> EventStore | None:
        return self.path.store

    @property
    def evaluator(self) -> AccessEvaluator:
        return self.path.evaluator

    @property
    def hooks(self) -> list[DecisionHook]:
        return self.path.hooks

    @property
    def settings(self) -> CAESettings:
        return self.path.settings

    @settings.setter
    def settings(self, value: CAESettings) -> None:
        """Replace the whole configuration; fields of the current one may also be changed in
        place (the next request uses them, see :attr:`CAESettings.revision`)."""
        self.path.settings = value

    def add_hook(self, hook: DecisionHook) -> None:
        self.path.hooks.append(hook)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        request_path = self.path
        # excluded() when the path has exclusions, or its settings moved since it derived them
        # (it re-derives): a method call saved on the requests of an API without exclusions.
        derived = request_path._derived
        if (
            derived.excludes or derived.revision != request_path._settings.revision
        ) and request_path.excluded(path):
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        exchange = request_path.begin(
            scope.get("method", "WEBSOCKET"), path, scope["headers"], client[0] if client else None
        )
        result: PathResult = exchange  # decided, or complete() decides it
        if not exchange.decided or request_path.hooks:  # else nothing to await
            result = await request_path.complete(exchange)
        refusal = result.refusal
        if refusal is not None:
            await _send_refusal(scope, send, refusal)
            return
        claims = result.claims
        assert claims is not None  # an allowed request always has verified claims
        decision = result.decision
        scope["user"] = CAEUser(claims)
        scope["auth"] = CAEAuthCredentials(
            claims,
            decision,
            request_path._settings.authorization_uri,  # not the property: every request
            request_path,
            path,
            result.client_ip,
        )
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["cae_decision"] = decision
        state["cae_claims"] = claims
        await self.app(scope, receive, send)


async def _send_refusal(scope: Scope, send: Send, refusal: Refusal) -> None:
    if scope["type"] == "websocket":
        # RFC 6455 section 7.4.1: 1008 = policy violation.
        await send({"type": "websocket.close", "code": 1008, "reason": refusal.reason})
        return
    await send(
        {"type": "http.response.start", "status": refusal.status, "headers": refusal.headers()}
    )
    await send({"type": "http.response.body", "body": refusal.body()})
