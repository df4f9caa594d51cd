"""``CAEMiddleware``: pure ASGI, one pass per request.

header -> token -> verified claims (cache or key set) -> decision (store, locations, policies)
-> app (with ``scope["user"]``, ``scope["auth"]``, ``scope["state"]["cae_decision"]``) or a
refusal (see :mod:`cae_sdk.resource.responses`). ``on_decision`` hooks see every decision.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.authentication import AuthCredentials, BaseUser, UnauthenticatedUser
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.claims import nbf_claims
from ..core.decisions import Decision, Outcome, Reason
from ..core.errors import TokenValidationError
from ..core.tokens import TokenClaims
from ..events.store import EventStore
from ..observability.logfields import log_fields
from .access import AccessEvaluator, RequestFacts
from .bearer import extract_bearer
from .client_ip import ClientIPResolver
from .responses import Refusal, refusal_for_decision, refusal_for_token_error
from .settings import CAESettings
from .validator import TokenValidator

__all__ = ["AccessRecord", "CAEAuthCredentials", "CAEMiddleware", "CAEUser", "DecisionHook"]

log = logging.getLogger("cae_sdk.resource")


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
    challenges (FastAPI dependencies) should name."""

    # Scopes are computed on first read: most requests never look at them, and splitting
    # ``scp`` on every request shows on the warm path.
    def __init__(
        self, claims: TokenClaims, decision: Decision, authorization_uri: str = ""
    ) -> None:
        self.claims = claims
        self.decision = decision
        self.authorization_uri = authorization_uri
        self._scopes: list[str] | None = None

    @property
    def scopes(self) -> list[str]:
        if self._scopes is None:
            self._scopes = ["authenticated", *self.claims.scopes, *self.claims.roles]
        return self._scopes

    @scopes.setter
    def scopes(self, value: list[str]) -> None:
        self._scopes = list(value)


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What an ``on_decision`` hook receives. Never holds the token itself."""

    decision: Decision
    claims: TokenClaims | None
    method: str
    path: str
    client_ip: str | None


DecisionHook = Callable[[AccessRecord], "Awaitable[None] | None"]


class CAEMiddleware:
    """Make any ASGI app a CAE resource. Example::

        app = CAEMiddleware(app, validator=TokenValidator.entra(app_id=..., tenant_id=...),
                            store=InMemoryEventStore(), exclude_paths=["/health"])

    Keyword arguments other than ``validator``, ``store``, ``settings`` and ``on_decision`` are
    :class:`CAESettings` fields. ``self.settings`` may be changed or replaced at run time
    (policies, static locations, modes): the next request uses the new values.
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
        self.validator = validator
        self.store = store
        self.hooks = list(on_decision)
        self._clock = clock
        settings = settings or CAESettings(**options)
        # Policies' includeApplications name app ids: the audiences minus "api://" are ours.
        app_ids = {a.removeprefix("api://") for a in validator.audiences}
        self.evaluator = AccessEvaluator(store, settings, default_app_ids=app_ids)
        self.settings = settings

    @property
    def settings(self) -> CAESettings:
        return self._settings

    @settings.setter
    def settings(self, value: CAESettings) -> None:
        """Replace the whole configuration; fields of the current one may also be changed in
        place, except ``exclude_paths`` and ``trusted_proxies`` (read here)."""
        self._settings = value
        self.evaluator.settings = value
        self._ips = ClientIPResolver(value.trusted_proxies)
        self._excluded = frozenset(p for p in value.exclude_paths if not p.endswith("/"))
        self._excluded_prefixes = tuple(p for p in value.exclude_paths if p.endswith("/"))

    def add_hook(self, hook: DecisionHook) -> None:
        self.hooks.append(hook)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path in self._excluded or path.startswith(self._excluded_prefixes or ("\0",)):
            scope["user"] = UnauthenticatedUser()
            scope["auth"] = AuthCredentials()
            await self.app(scope, receive, send)
            return
        headers = scope["headers"]
        claims: TokenClaims | None = None
        try:
            token = extract_bearer(headers)
            if token is None:
                raise TokenValidationError("missing_token", "no bearer token")
            claims = self.validator.cached(token)
            if claims is None:
                claims = await self.validator.validate(token)
        except TokenValidationError as error:
            await self._refuse_token(scope, send, error)
            return
        except Exception:  # a bug or a broken dependency must fail closed, never as a 500
            log.exception("token validation failed unexpectedly")
            await self._refuse_token(
                scope,
                send,
                TokenValidationError("validation_error", "token could not be validated"),
            )
            return
        facts: RequestFacts | None = None
        try:
            # Gathering the facts reads the store too (named locations): inside the guard.
            facts = self._facts(scope, path, headers)
            decision = self.evaluator.evaluate(claims, facts, int(self._clock()))
        except Exception:  # e.g. a store whose read raised: refuse like an unhealthy store
            log.exception("access evaluation failed unexpectedly")
            decision = Decision(
                Outcome.CHALLENGE,
                Reason.STORE_UNAVAILABLE,
                "access could not be evaluated",
                claims=nbf_claims(int(self._clock())),
            )
        if self.hooks:
            client_ip = facts.client_ip if facts is not None else _peer(scope)
            await self._run_hooks(AccessRecord(decision, claims, _method(scope), path, client_ip))
        if decision.outcome is not Outcome.ALLOW:
            refusal = refusal_for_decision(
                decision,
                claims,
                authorization_uri=self._settings.authorization_uri,
                realm=self._settings.realm or None,
            )
            await self._send_refusal(scope, send, refusal, claims)
            return
        scope["user"] = CAEUser(claims)
        scope["auth"] = CAEAuthCredentials(claims, decision, self._settings.authorization_uri)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["cae_decision"] = decision
        state["cae_claims"] = claims
        await self.app(scope, receive, send)

    def _facts(self, scope: Scope, path: str, headers: list[tuple[bytes, bytes]]) -> RequestFacts:
        peer = _peer(scope)
        user_agent = None
        settings = self._settings
        if settings.policies:
            for name, value in headers:
                if name == b"user-agent":
                    user_agent = value.decode("latin-1")
                    break
        needs_ip = (
            settings.policies
            or settings.named_locations
            or (self.store is not None and self.store.named_locations())
        )
        client_ip = self._ips.resolve(peer, headers) if needs_ip else peer
        return RequestFacts(path, client_ip, user_agent)

    async def _refuse_token(self, scope: Scope, send: Send, error: TokenValidationError) -> None:
        refusal = refusal_for_token_error(
            error.reason, error.description, realm=self._settings.realm or None
        )
        if self.hooks:
            reason = (
                Reason.MISSING_TOKEN if error.reason == "missing_token" else Reason.INVALID_TOKEN
            )
            decision = Decision(
                Outcome.DENY, reason, error.description, details={"reason": error.reason}
            )
            await self._run_hooks(
                AccessRecord(decision, None, _method(scope), scope.get("path", ""), _peer(scope))
            )
        await self._send_refusal(scope, send, refusal, None)

    async def _send_refusal(
        self, scope: Scope, send: Send, refusal: Refusal, claims: TokenClaims | None
    ) -> None:
        # Log the reason and who, never the token.
        oid = claims.object_id if claims else None
        tid = claims.tenant_id if claims else None
        log.info(
            "refused %s %s: %d %s (%s) oid=%s tid=%s",
            _method(scope),
            scope.get("path", ""),
            refusal.status,
            refusal.error,
            refusal.reason,
            oid,
            tid,
            extra=log_fields(
                event="refusal",
                method=_method(scope),
                path=scope.get("path", ""),
                status=refusal.status,
                error=refusal.error,
                reason=refusal.reason,
                oid=oid,
                tid=tid,
                azp=claims.app_id if claims else None,
            ),
        )
        if scope["type"] == "websocket":
            # RFC 6455 section 7.4.1: 1008 = policy violation.
            await send({"type": "websocket.close", "code": 1008, "reason": refusal.reason})
            return
        await send(
            {"type": "http.response.start", "status": refusal.status, "headers": refusal.headers()}
        )
        await send({"type": "http.response.body", "body": refusal.body()})

    async def _run_hooks(self, record: AccessRecord) -> None:
        for hook in self.hooks:
            try:
                result = hook(record)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a hook must never break a request
                log.exception("on_decision hook %r failed", hook)


def _method(scope: Scope) -> str:
    return str(scope.get("method", "WEBSOCKET"))


def _peer(scope: Scope) -> str | None:
    """The connection's peer address (before any trusted-proxy resolution)."""
    client = scope.get("client")
    return client[0] if client else None
