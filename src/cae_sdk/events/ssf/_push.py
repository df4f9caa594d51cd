"""RFC 8935 push delivery: an ASGI app that receives SETs and answers 202 or 400.

Route it at the exact path the stream pushes to (``app.router.routes.append(push.route(
"/ssf/events"))``, or ``Route("/ssf/events", push)``), or serve it on its own. Not
``Mount("/ssf/events", ...)``: a mount only matches ``/ssf/events/...`` and Starlette answers
the POST to ``/ssf/events`` with a ``307`` redirect, which transmitters do not follow. It
requires the Authorization header configured for the stream (SSF 1.0 section 8.1.1
``authorization_header``), and answers errors as RFC 8935 section 2.3 says: ``400`` with
``{"err", "description"}`` and ``Content-Language``. What is not the SET's fault (store or key
endpoint unreachable) is ``503`` with ``Retry-After``: the transmitter delivers it again.
"""

from __future__ import annotations

import hmac
import logging
import math
from collections.abc import Sequence

from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ...core.errors import (
    ConfigurationError,
    EventSourceError,
    EventValidationError,
    StoreUnavailable,
)
from ...core.secevents import SECEVENT_CONTENT_TYPE
from .._asgi import is_http, read_body, respond, respond_json
from ._receiver import SetReceiver
from ._rules import INVALID_REQUEST

__all__ = ["PushReceiverApp"]

_log = logging.getLogger("cae_sdk.events.ssf")

AUTHENTICATION_FAILED = "authentication_failed"
# RFC 8935 section 2.3: the error response MUST carry Content-Language; our descriptions are
# English.
_ERROR_HEADERS = ((b"content-language", b"en"),)
RETRY_AFTER_SECONDS = 5


class PushReceiverApp:
    """ASGI endpoint for one stream; ``authorization`` is the exact header value(s) accepted."""

    def __init__(
        self,
        receiver: SetReceiver,
        *,
        authorization: str | Sequence[str],
        max_body_bytes: int = 64 * 1024,
    ) -> None:
        accepted = [authorization] if isinstance(authorization, str) else list(authorization)
        if not accepted or not all(accepted):
            raise ConfigurationError("the push endpoint needs a non-empty Authorization value")
        self.receiver = receiver
        self._accepted = [a.encode("latin-1") for a in accepted]
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await is_http(scope, receive, send):
            return
        if scope["method"] != "POST":
            await respond(send, 405, b"", extra=[(b"allow", b"POST")])
            return
        headers = dict(scope["headers"])
        if not self._authorized(headers.get(b"authorization")):
            await _error(send, AUTHENTICATION_FAILED, "missing or wrong Authorization header")
            return
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type != SECEVENT_CONTENT_TYPE.encode():
            await _error(send, INVALID_REQUEST, f"Content-Type must be {SECEVENT_CONTENT_TYPE}")
            return
        body = await read_body(receive, self._max_body)
        if body is None:
            await _error(send, INVALID_REQUEST, "SET exceeds the size limit")
            return
        try:
            token = body.decode("ascii").strip()
            await self.receiver.receive(token)
        except UnicodeDecodeError:
            await _error(send, INVALID_REQUEST, "SET is not ASCII")
        except EventValidationError as exc:
            _log.info("SET refused: %s", exc.err)
            await _error(send, exc.err, exc.description)
        except (StoreUnavailable, EventSourceError) as exc:
            # Store or key endpoint unreachable, not the SET's fault: 503 makes the transmitter
            # deliver it again later (RFC 8935 section 2.3); a 400 would be final.
            _log.warning("SET not applied, asking for redelivery: %s", type(exc).__name__)
            await respond(send, 503, b"", extra=[(b"retry-after", _retry_after(exc))])
        else:
            await respond(send, 202, b"")

    def route(self, path: str) -> Route:
        """A Starlette route serving this endpoint at exactly ``path`` (no redirect)."""
        return Route(path, self, methods=["POST"])

    def _authorized(self, value: bytes | None) -> bool:
        if value is None:
            return False
        matched = False
        for accepted in self._accepted:
            matched |= hmac.compare_digest(value, accepted)
        return matched


def _retry_after(exc: Exception) -> bytes:
    """RFC 9110 section 10.2.3 delay-seconds: when the source said (e.g. a key refresh that may
    run again then), else a few seconds."""
    hint = getattr(exc, "retry_after", None)
    seconds = RETRY_AFTER_SECONDS
    if isinstance(hint, (int, float)) and math.isfinite(hint) and hint > 0:
        seconds = min(math.ceil(hint), 3600)
    return str(seconds).encode()


async def _error(send: Send, err: str, description: str) -> None:
    await respond_json(send, 400, {"err": err, "description": description}, extra=_ERROR_HEADERS)
