"""cp1 bearer tokens and CAE claims challenges for ``requests``.

:class:`CAERequestsAuth` is a ``requests.auth.AuthBase`` and :class:`CAESession` a
``requests.Session`` with it preset. Both are thin drivers over the protocol every cae-sdk
adapter shares (:class:`~cae_sdk.client._flow.ChallengeFlow`), so they behave like
:class:`~cae_sdk.client.CAEAuth` does for httpx: the request carries the credential's cp1
token; a ``401`` with a CAE claims challenge gets a token for those claims and the request is
sent once more, body included; a second challenge raises
:class:`~cae_sdk.core.errors.ClaimsChallengeFailed`; a one-shot body (a generator, a stream
that cannot be rewound) raises :class:`~cae_sdk.core.errors.RequestNotReplayable`; a burst of
challenged requests from many threads costs one token request (single flight) and repeated
challenges are cut off by the loop breaker.

The replay happens in a ``response`` hook, the way requests' own ``HTTPDigestAuth`` answers
its challenge (``requests/auth.py``, ``handle_401``): the challenged response is closed, the
prepared request copied (cookies the response set included, a file body rewound to where it
started, as requests does for redirects with ``rewind_body``) and sent through the same
transport adapter; the final response lists the challenged one in ``history``. The token and
the challenge handling belong to the request as sent: requests drops ``Authorization`` when a
redirect leaves the host (``Session.rebuild_auth``) and does not apply this auth again, so a
token never follows a redirect to another origin, and a ``401`` after a redirect is returned to
the caller as it is.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from functools import partial
from typing import Any

import requests
from requests.auth import AuthBase
from requests.cookies import extract_cookies_to_jar
from requests.models import PreparedRequest, Response
from requests.utils import rewind_body

from ..core.errors import ConfigurationError
from ._adapter import FlowAdapter, NativeView
from ._flow import FlowResponse, Step, TokenNeeded
from ._loop_breaker import LoopBreaker
from ._token import AccessToken, TokenCredential

__all__ = ["CAERequestsAuth", "CAESession"]

_Exchange = Generator[Step, AccessToken | FlowResponse, None]


class _Request:
    """A ``PreparedRequest`` as the flow's request; ``native`` becomes the copy on a replay.

    The token is also set on the request the caller made (``root``): requests follows the
    redirects of the final answer from that one (``Session.send`` hands it to
    ``resolve_redirects``), so a replay answered by a redirect must not go on with the token
    the resource just refused.
    """

    __slots__ = ("native", "root")

    def __init__(self, native: PreparedRequest) -> None:
        self.native = native
        self.root = native

    @property
    def method(self) -> str:
        return self.native.method or ""

    @property
    def url(self) -> str:
        return self.native.url or ""

    @property
    def scheme(self) -> str:
        return (self.native.url or "").partition(":")[0].lower()

    def set_authorization(self, value: str) -> None:
        self.native.headers["Authorization"] = value
        if self.root is not self.native:
            self.root.headers["Authorization"] = value

    def replayable(self) -> bool:
        body = self.native.body
        if body is None or isinstance(body, (bytes, str)):
            return True  # data=, json= and files= are encoded in memory by prepare()
        # A file body is replayable when requests recorded where it started (it does so for any
        # body with tell(); requests/models.py, prepare_body): rewind_body seeks back there.
        position = getattr(self.native, "_body_position", None)
        return isinstance(position, int) and callable(getattr(body, "seek", None))


class _Response(NativeView[Response]):
    """A ``requests.Response`` as the flow's response."""

    __slots__ = ()

    @property
    def status_code(self) -> int:
        return self.native.status_code

    @property
    def headers(self) -> Any:
        return self.native.headers

    @property
    def url(self) -> str:
        return self.native.url


class CAERequestsAuth(FlowAdapter, AuthBase):
    """``requests`` authentication with cp1 tokens from ``credential`` for ``scopes``.

    ``requests.get(url, auth=CAERequestsAuth(credential, scopes))``; keep one instance per
    credential and scopes (it holds the token and the single flight). ``loop_breaker``,
    ``accept_invalid_token`` and ``allow_http`` are as for :class:`~cae_sdk.client.CAEAuth`.
    """

    def __call__(self, prepared: PreparedRequest) -> PreparedRequest:
        request = _Request(prepared)
        exchange = self.flow.flow(request)
        step = next(exchange)
        while isinstance(step, TokenNeeded):  # the plain token first
            step = exchange.send(self.flow.token(step))
        hook = partial(self._on_response, exchange, request)
        prepared.register_hook("response", hook)  # type: ignore[no-untyped-call]
        return prepared

    def _on_response(
        self, exchange: _Exchange, request: _Request, response: Response, **send_kwargs: Any
    ) -> Response:
        """Feed each response to the flow; on a challenge get the token and replay once."""
        last = response
        reply: AccessToken | FlowResponse = _Response(response)
        while True:
            try:
                step = exchange.send(reply)
            except StopIteration:
                return last  # the answer for the caller (also when the flow already ended)
            if isinstance(step, TokenNeeded):
                try:
                    reply = self.flow.token(step)
                except BaseException:
                    last.close()
                    raise
                request.native = _replay_copy(last)
                last.close()  # unread: the connection is dropped, never half-reused
                continue
            again = last.connection.send(request.native, **send_kwargs)
            again.history.append(last)
            again.request = request.native
            last = again
            reply = _Response(again)


def _replay_copy(challenged: Response) -> PreparedRequest:
    """The challenged request, ready to send again: cookies the 401 set, body rewound."""
    replay = challenged.request.copy()
    jar = getattr(replay, "_cookies", None)
    if jar is not None:
        extract_cookies_to_jar(jar, challenged.request, challenged.raw)  # type: ignore[no-untyped-call]
        replay.prepare_cookies(jar)
    if replay.body is not None and not isinstance(replay.body, (bytes, str)):
        rewind_body(replay)
    return replay


class CAESession(requests.Session):
    """``requests.Session`` whose requests carry cp1 tokens and survive CAE claims challenges.

    ``CAESession(credential, scopes)``, or ``CAESession(auth)`` with a ready
    :class:`CAERequestsAuth` (to share its token state between sessions). ``loop_breaker=``,
    ``accept_invalid_token=`` and ``allow_http=`` go to :class:`CAERequestsAuth`.
    """

    def __init__(
        self,
        credential: TokenCredential | CAERequestsAuth,
        scopes: Sequence[str] | str | None = None,
        *,
        loop_breaker: LoopBreaker | None = None,
        accept_invalid_token: bool | None = None,
        allow_http: bool | None = None,
    ) -> None:
        super().__init__()
        if isinstance(credential, CAERequestsAuth):
            settings = (scopes, loop_breaker, accept_invalid_token, allow_http)
            if any(setting is not None for setting in settings):
                raise ConfigurationError(
                    "scopes, loop_breaker, accept_invalid_token and allow_http are settings of "
                    "the CAERequestsAuth passed in; give them to it, not to the session"
                )
            self.auth: CAERequestsAuth = credential
        elif scopes is None:
            raise ConfigurationError("scopes are required when passing a credential")
        else:
            self.auth = CAERequestsAuth(
                credential,
                scopes,
                loop_breaker=loop_breaker,
                accept_invalid_token=bool(accept_invalid_token),
                allow_http=bool(allow_http),
            )
