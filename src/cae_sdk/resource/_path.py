"""The one framework-free request path of the resource side.

Header bytes, method, path and client address in; a :class:`PathResult` (the
:class:`~cae_sdk.core.decisions.Decision`, the verified claims, the client IP and, for a refusal,
the :class:`~cae_sdk.resource.Refusal` with its status, headers and body) out::

    header -> token -> verified claims (cache or key set) -> decision (store, locations,
    policies) -> refusal or allow

Every refusal - a missing or malformed ``Authorization`` header, an unreadable forwarding header,
a bad token, a revoked one - is a ``Decision`` with one :class:`~cae_sdk.core.decisions.Reason`,
turned into a response by the one function :func:`~cae_sdk.resource.refusal_for_decision`
and logged here, once: the body, the log record, the ``on_decision`` hooks and a metrics label
all carry the same reason string.

The path has three steps so that any caller can drive it: :meth:`RequestPath.begin` and
:meth:`RequestPath.finish` are synchronous and pure of I/O; between them the caller validates
``exchange.token`` (which may fetch signing keys). :meth:`RequestPath.decide` is the async driver
(ASGI, an authorization service); :class:`~cae_sdk.resource.BlockingRequestPath` is the
documented driver for synchronous callers (WSGI). Adapters translate their framework's request
into ``decide`` and the result back, nothing more.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from ..core.claims import nbf_claims
from ..core.decisions import ALLOW, Decision, Outcome, Reason, token_refusal
from ..core.errors import TokenFormatError, TokenValidationError
from ..core.tokens import TokenClaims
from ..events._store import EventStore
from ..observability._logfields import log_fields
from ._access import AccessEvaluator
from ._bearer import authorization_value, credentials_of, is_b64token
from ._client_ip import ForwardingHeaderError
from ._exchange import Exchange, Headers, PathResult
from ._hooks import AccessRecord, DecisionHook, await_hooks, call_hooks
from ._responses import Refusal, fallback_refusal, refusal_for_decision
from ._retention import check_retention
from ._settings import CAESettings, SettingsView
from ._urlpath import is_plain
from ._validator import TokenValidator

__all__ = ["Exchange", "PathResult", "RequestPath"]

log = logging.getLogger("cae_sdk.resource")


_VALIDATION_ERROR = token_refusal("validation_error", "token could not be validated")


class RequestPath:
    """Decide requests for one API: ``validator``, ``store`` and ``settings`` as for
    :class:`~cae_sdk.resource.CAEMiddleware` (which is a thin ASGI adapter over this class)."""

    def __init__(
        self,
        *,
        validator: TokenValidator,
        store: EventStore | None = None,
        settings: CAESettings | None = None,
        hooks: Iterable[DecisionHook] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if store is not None:
            check_retention(validator, store)
        self.validator = validator
        self.store = store
        self.hooks = list(hooks)
        self._clock = clock
        settings = settings or CAESettings()
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
        place (``CAESettings.revision`` moves, and the next request rebuilds what is derived
        from them here)."""
        self._settings = value
        self.evaluator.settings = value
        self._derived = SettingsView(value)

    def _current(self) -> SettingsView:
        """What is derived from the settings, re-derived when a field was set in place since.
        One object published by one assignment: a thread reads a consistent whole, and its
        revision was read before the fields it was built from (a change that lands meanwhile
        leaves an older revision behind, so the next request derives again)."""
        derived = self._derived
        settings = self._settings
        if derived.revision != settings.revision:
            derived = self._derived = SettingsView(settings)
        return derived

    @property
    def excludes(self) -> bool:
        """Whether any path is served without a token (as of the last request or change)."""
        return self._derived.excludes

    def excluded(self, path: str) -> bool:
        """Whether ``path`` is served without a token (``exclude_paths``).

        Only a path written plainly is (:func:`~cae_sdk.resource._urlpath.is_plain`): one with a
        dot segment, ``//``, a backslash, a ``%`` left after the server's decoding, a ``;`` or a
        control character needs a token even under an excluded prefix. Whatever sits behind the
        middleware - a router, a proxy, a file server, an HTTP client that removes dot segments
        (RFC 3986 section 5.2.4) - could read ``/public/../admin`` as ``/admin``."""
        derived = self._current()
        if not derived.excludes:
            return False
        prefixes = derived.excluded_prefixes
        if not ((bool(prefixes) and path.startswith(prefixes)) or path in derived.excluded):
            return False
        return is_plain(path)

    # -- the three steps ------------------------------------------------------------------------

    def begin(self, method: str, path: str, headers: Headers, peer: str | None) -> Exchange:
        """Read the client address and the bearer token, and decide at once about a token
        verified before (the validated-token cache, looked up here, once per request: no await
        on the warm path). ``exchange.result`` is set when the request is decided already;
        else validate ``exchange.token`` and call :meth:`settle`."""
        client_ip = peer
        derived = self._derived
        if derived.revision != self._settings.revision:  # a field was set in place
            derived = self._current()
        ips = derived.ips
        try:
            if ips.trusted:
                client_ip = ips.resolve(peer, headers)
            credentials = authorization_value(headers)
        except ForwardingHeaderError as error:
            exchange = Exchange(method, path, headers, peer)
            return self._decided(exchange, token_refusal("bad_forwarding_header", str(error)))
        except TokenValidationError as error:
            exchange = Exchange(method, path, headers, client_ip)
            return self._decided(exchange, token_refusal(error.reason, error.description))
        exchange = Exchange(method, path, headers, client_ip)
        if credentials is None:
            return self._decided(exchange, token_refusal("missing_token", "no bearer token"))
        exchange.credentials = credentials
        validator = self.validator
        # Else a validator with its own validate() or cached(), or not a TokenValidator at all
        # (duck-typed): asked through validate() in _verification().
        if getattr(validator, "_fast_path", False):
            # The cache is keyed by the header's value as received: only a value verified
            # before finds an entry, with nothing decoded. One clock read per request when the
            # validator keeps the path's time (the default).
            clock = self._clock
            now = clock() if validator._clock is clock else None
            try:
                claims = validator.cached(credentials, now)
            except Exception:  # a lookup racing another thread (blocking driver): a miss
                log.debug("validated-token cache lookup failed", exc_info=True)
                claims = None
            if claims is not None:
                self.finish(exchange, claims, now)  # decides the exchange
                return exchange
        try:
            # The b64token check waits for a failed validation: a token the validator accepts
            # is base64url and dots, so it is never paid for a good token.
            exchange.token = credentials_of(credentials)
        except TokenValidationError as error:
            return self._decided(exchange, token_refusal(error.reason, error.description))
        return exchange

    def finish(
        self, exchange: Exchange, claims: TokenClaims, now: float | None = None
    ) -> PathResult:
        """Decide about verified ``claims``: revocation, risk, location, authentication context,
        policies, scopes; and build the refusal if there is one. ``now`` is the path's clock
        read by the caller, else it is read here."""
        if claims._subject_keys is None:  # named once per token (a cached one was before)
            try:
                claims.subject_keys()  # a subject that cannot be named refuses the token
            except TokenFormatError as error:
                return self.refuse(exchange, token_refusal("malformed_token", str(error)))
        now = int(self._clock() if now is None else now)
        try:
            decision = self.evaluator.evaluate(claims, exchange, now)
        except Exception:  # e.g. a store whose read raised: refuse like an unhealthy store
            log.exception("access evaluation failed unexpectedly")
            decision = Decision(
                Outcome.CHALLENGE,
                Reason.STORE_UNAVAILABLE,
                "access could not be evaluated",
                claims=nbf_claims(now),
            )
        if decision is ALLOW:  # the warm path: nothing to build
            exchange.decision = decision
            exchange.claims = claims
            exchange.refusal = None  # an exchange decided again holds the last outcome only
            exchange.decided = True
            return exchange
        return self._conclude(exchange, decision, claims)

    def refuse(self, exchange: Exchange, decision: Decision) -> PathResult:
        """The result for a request or token refused before any claims were verified."""
        return self._conclude(exchange, decision, None)

    async def refuse_route(
        self,
        exchange: Exchange,
        decision: Decision,
        claims: TokenClaims,
        *,
        authorization_uri: str | None = None,
    ) -> PathResult:
        """Conclude a refusal that a route decides after the path allowed the request (a
        FastAPI dependency's missing scope or step-up; any framework's route guard): built by
        the one refusal builder, logged and given to the hooks like the path's own, so that the
        body, the log record, the hooks and the metrics carry one reason. The hooks see two
        records for such a request: the path's allow, then this refusal. ``authorization_uri``
        (may hold ``{tenantid}``) replaces the settings' in a challenge."""
        return await self._hooked(
            exchange, self._route_refusal(exchange, decision, claims, authorization_uri)
        )

    def settle(
        self,
        exchange: Exchange,
        claims: TokenClaims | None = None,
        error: BaseException | None = None,
    ) -> PathResult:
        """The result once ``exchange.token`` was validated: :meth:`finish` with the verified
        ``claims``, or the refusal for the ``error`` validation raised - the validator's reason
        (``invalid_request`` when the credentials are not even an RFC 6750 ``b64token``), or,
        for anything unexpected (a bug, a broken dependency), a logged ``validation_error``:
        refused, never served, never a 500."""
        if error is None and claims is not None:
            return self.finish(exchange, claims)
        if not isinstance(error, TokenValidationError):
            log.error("token validation failed unexpectedly", exc_info=error)
            return self.refuse(exchange, _VALIDATION_ERROR)
        if not is_b64token(exchange.token):
            return self.refuse(exchange, token_refusal("invalid_request", "malformed bearer token"))
        decision = token_refusal(
            error.reason, error.description, retry_after=getattr(error, "retry_after", None)
        )
        return self.refuse(exchange, decision)

    # -- the async driver -----------------------------------------------------------------------

    async def decide(
        self, method: str, path: str, headers: Headers, peer: str | None
    ) -> PathResult:
        """Decide one request: :meth:`begin`, then :meth:`complete`."""
        return await self.complete(self.begin(method, path, headers, peer))

    async def complete(self, exchange: Exchange) -> PathResult:
        """The rest of :meth:`decide` after :meth:`begin`: verify a new token and
        :meth:`finish`, then run the hooks. Nothing is left to do (an adapter may skip the
        call) when ``exchange.result`` is set and there are no hooks: the warm path of a token
        verified before never waits."""
        result = exchange.result
        if result is None:
            try:
                claims = await self._verification(exchange)
            except Exception as error:  # noqa: BLE001 - settle() logs and refuses it
                result = self.settle(exchange, error=error)
            else:
                result = self.finish(exchange, claims)
        return await self._hooked(exchange, result)

    async def _hooked(self, exchange: Exchange, result: PathResult) -> PathResult:
        """``result`` once the hooks have seen it (the async drivers' one hook step)."""
        if self.hooks:
            pending = self.run_hooks(exchange, result)
            if pending:
                await self.await_hooks(pending)
        return result

    def _verification(self, exchange: Exchange) -> Coroutine[Any, Any, TokenClaims]:
        """Validating the token :meth:`begin` left undecided: ``_verify`` after its cache miss
        (cached under the header's value, :meth:`begin`'s key), or a subclass's own
        ``validate`` (asked on every request: ``_fast_path``)."""
        validator = self.validator
        token = exchange.token
        if getattr(validator, "_fast_path", False):
            credentials = exchange.credentials
            # Keyed by the header's value only as "<scheme> <token>" (RFC 9110 11.1): else each
            # padding of one valid token would be an entry (evicting others'); it is cached under
            # the token instead, which begin() never finds (verified each time).
            key = credentials if len(credentials) == len(token) + 7 else None
            return validator._verify(token, key)
        return validator.validate(token)

    def run_hooks(self, exchange: Exchange, result: PathResult) -> list[Awaitable[None]]:
        """Call every hook with the request's :class:`AccessRecord`; returns the awaitables the
        async hooks returned, for :meth:`await_hooks` (a hook that raises is logged, never
        breaks the request)."""
        record = AccessRecord(
            result.decision, result.claims, exchange.method, exchange.path, result.client_ip
        )
        return call_hooks(self.hooks, record)

    async def await_hooks(self, pending: list[Awaitable[None]]) -> None:
        """Run what :meth:`run_hooks` returned, together, within ``settings.hook_timeout``
        (see :func:`~cae_sdk.resource._hooks.await_hooks`)."""
        await await_hooks(pending, self._settings.hook_timeout)

    # -- internals ------------------------------------------------------------------------------

    def _route_refusal(
        self,
        exchange: Exchange,
        decision: Decision,
        claims: TokenClaims,
        authorization_uri: str | None,
    ) -> PathResult:
        """A route's refusal built and logged, before the hooks (every driver's refuse_route)."""
        if decision.allowed:
            raise ValueError("refuse_route needs a decision that refuses the request")
        return self._conclude(exchange, decision, claims, authorization_uri)

    def _decided(self, exchange: Exchange, decision: Decision) -> Exchange:
        self.refuse(exchange, decision)  # decides the exchange
        return exchange

    def _conclude(
        self,
        exchange: Exchange,
        decision: Decision,
        claims: TokenClaims | None,
        authorization_uri: str | None = None,
    ) -> PathResult:
        exchange.decision = decision
        exchange.claims = claims
        exchange.decided = True
        if decision is ALLOW or decision.outcome is Outcome.ALLOW:
            exchange.refusal = None
            return exchange
        settings = self._settings
        try:
            # Inside the guard: no claim value may break a refusal (never a 500).
            refusal = refusal_for_decision(
                decision,
                claims,
                authorization_uri=authorization_uri or settings.authorization_uri,
                realm=settings.realm or None,
            )
        except Exception:
            log.exception("building the refusal failed unexpectedly")
            refusal = fallback_refusal(decision)
        # Set before the log record: a logging filter that raises leaves a refused exchange,
        # never the refusing decision beside an earlier allow's empty refusal (``allowed``).
        exchange.refusal = refusal
        self._log_refusal(exchange, refusal, claims)
        return exchange

    def _log_refusal(
        self, exchange: Exchange, refusal: Refusal, claims: TokenClaims | None
    ) -> None:
        # The reason and who, never the token. Claim values are printed with repr: a value
        # with a line break cannot forge a second log line.
        oid = claims.object_id if claims else None
        tid = claims.tenant_id if claims else None
        log.info(
            "refused %s %r: %d %s (%s) oid=%r tid=%r",
            exchange.method,
            exchange.path,
            refusal.status,
            refusal.error,
            refusal.reason,
            oid,
            tid,
            extra=log_fields(
                event="refusal",
                method=exchange.method,
                path=exchange.path,
                status=refusal.status,
                error=refusal.error,
                reason=refusal.reason,
                oid=oid,
                tid=tid,
                azp=claims.app_id if claims else None,
                client_ip=exchange.client_ip,
            ),
        )
