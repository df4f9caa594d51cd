"""One request on its way through :class:`~cae_sdk.resource.RequestPath`, and its outcome.

An :class:`Exchange` carries what the path read of the request (method, path, headers, client
address, the ``Authorization`` value and the token) and, once decided, is its own
:class:`PathResult`: the warm path builds one object per request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from ..core.decisions import Decision
from ..core.tokens import TokenClaims
from ._responses import Refusal

__all__ = ["Exchange", "Headers", "PathResult"]

Headers = Sequence[tuple[bytes, bytes]]
"""Request headers as (lower-case name, value) byte pairs, in order (ASGI's form)."""


class PathResult:
    """The outcome of one request (read-only by convention; a plain slots class because the
    warm path builds one per request and a frozen dataclass's ``__init__`` costs more)."""

    __slots__ = ("claims", "client_ip", "decision", "refusal")

    def __init__(
        self,
        decision: Decision,
        claims: TokenClaims | None,
        client_ip: str | None,
        refusal: Refusal | None,
    ) -> None:
        self.decision = decision
        self.claims = claims
        """The verified claims; None when the request or its token was refused as such."""
        self.client_ip = client_ip
        self.refusal = refusal
        """The response to send; None when the request is allowed."""

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def __repr__(self) -> str:
        status = self.refusal.status if self.refusal is not None else 200
        return f"PathResult({self.decision.reason.value}, status={status})"


_UNREAD = object()  # an Exchange's User-Agent before it was looked up


class Exchange(PathResult):
    """One request between :meth:`RequestPath.begin` and :meth:`RequestPath.finish`. It is
    also the facts the access evaluation reads (path, client address, User-Agent) and, once
    decided, the request's :class:`PathResult` itself: the warm path builds one object per
    request, not three."""

    __slots__ = ("_agent", "credentials", "decided", "headers", "method", "path", "token")

    def __init__(self, method: str, path: str, headers: Headers, client_ip: str | None) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.client_ip = client_ip
        self._agent: object = _UNREAD
        self.token = ""
        """The bearer token to validate (when ``result`` is None)."""
        self.credentials = b""
        """The ``Authorization`` header's value as received: the validated-token cache's key."""
        self.claims = None
        self.refusal = None
        self.decided = False
        """Whether ``decision`` (and ``claims``, ``refusal``) hold the request's outcome."""

    @property
    def user_agent(self) -> str | None:
        """The request's User-Agent, read from the headers when first asked (by policies with
        a platform condition, whatever settings object is current: nothing decides ahead
        whether it will be needed)."""
        agent = self._agent
        if agent is _UNREAD:
            agent = self._agent = _user_agent(self.headers)
        return cast("str | None", agent)

    @property
    def result(self) -> PathResult | None:
        """The request's outcome (this exchange) once decided, else None: set by
        :meth:`RequestPath.begin` for a request decided without verifying a token (refused
        before, or its token was verified before)."""
        return self if self.decided else None

    @property
    def allowed(self) -> bool:
        """Whether the request is allowed: never before it was decided."""
        return self.decided and self.refusal is None

    def __repr__(self) -> str:
        if not self.decided:
            return f"Exchange({self.method} {self.path!r}, undecided)"
        return super().__repr__()


def _user_agent(headers: Headers) -> str | None:
    for name, value in headers:
        if name == b"user-agent":
            return value.decode("latin-1")
    return None
