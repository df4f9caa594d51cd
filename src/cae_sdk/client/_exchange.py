"""One token acquisition's time budget, and what its HTTP calls met on the way.

MSAL calls back into :class:`~cae_sdk.client.MsalHttpClient` with no way to pass our state
through it, so the acquisition in progress travels in a :class:`~contextvars.ContextVar` (one
per thread and per asyncio task; ``asyncio.to_thread`` copies it into the worker).

* :func:`acquisition` opens an :class:`Exchange` around one ``get_token``: every HTTP call MSAL
  makes for it (discovery, token request) shares its deadline, and records whether a request
  went out, whether it was answered, with which status and ``Retry-After``.
* :func:`interaction` suspends the overall deadline while a user signs in (device code polling
  lasts minutes); each HTTP call is still bounded by the per-call timeout.
* :func:`socket_deadline` is the absolute instant the network layer must give up at (read by
  :mod:`cae_sdk.client._deadline_backend` for connect, TLS, every write and every read).

The transport failures the HTTP adapter raises to MSAL are ``requests`` exceptions (MSAL's
silent refresh falls back to a still-valid cached token on exactly those,
``msal/application.py``); the subclasses below say which failure it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import requests

__all__ = [
    "AnswerTimeout",
    "AnswerUnreadable",
    "Exchange",
    "IdentityProviderUnreachable",
    "acquisition",
    "current",
    "interaction",
    "note_sent",
    "socket_deadline",
]


@dataclass(slots=True)
class Exchange:
    """The budget and the record of one token acquisition."""

    deadline: float | None
    """``time.monotonic()`` instant by which the acquisition must end; ``None`` while a user
    interacts."""
    sent: int = 0
    """HTTP requests that went out to the network."""
    answered: int = 0
    """Of those, how many got an HTTP status back."""
    status: int | None = None
    """The status of the answer to the last request (``None``: not answered, or none sent)."""
    retry_after: float | None = None
    """Seconds the last request's answer asked the client to wait (``Retry-After``), if any."""


class AnswerTimeout(requests.exceptions.Timeout):
    """The identity provider did not answer in full before the deadline."""


class IdentityProviderUnreachable(requests.exceptions.ConnectionError):
    """No connection to the identity provider (DNS, refused, TLS, proxy)."""


class AnswerUnreadable(requests.exceptions.RequestException):
    """The answer could not be read: over the size cap, or a body that does not decode.

    ``reason`` is ``too_large`` or ``undecodable``.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


_EXCHANGE: ContextVar[Exchange | None] = ContextVar("cae_sdk_exchange", default=None)
_SOCKET_DEADLINE: ContextVar[float | None] = ContextVar("cae_sdk_socket_deadline", default=None)


@contextmanager
def acquisition(timeout: float | None) -> Iterator[Exchange]:
    """Open an :class:`Exchange` limited to ``timeout`` seconds from now (``None``: no overall
    limit). Nested acquisitions share the outer one's deadline when it is earlier."""
    deadline = None if timeout is None else time.monotonic() + timeout
    outer = _EXCHANGE.get()
    if outer is not None and outer.deadline is not None:
        deadline = outer.deadline if deadline is None else min(deadline, outer.deadline)
    exchange = Exchange(deadline)
    reset = _EXCHANGE.set(exchange)
    try:
        yield exchange
    finally:
        _EXCHANGE.reset(reset)


def current() -> Exchange | None:
    """The acquisition in progress in this context, if any."""
    return _EXCHANGE.get()


def note_sent() -> None:
    """Count a request that goes out by another way than MSAL's HTTP client (a wrapped
    azure-identity credential, a user's sign-in): it is an attempt all the same."""
    exchange = _EXCHANGE.get()
    if exchange is not None:
        exchange.sent += 1


@contextmanager
def interaction() -> Iterator[None]:
    """Suspend the overall deadline while the user is involved (device code, step-up)."""
    exchange = _EXCHANGE.get()
    if exchange is None:
        yield
        return
    saved, exchange.deadline = exchange.deadline, None
    try:
        yield
    finally:
        exchange.deadline = saved


@contextmanager
def socket_deadline(deadline: float) -> Iterator[None]:
    """Make ``deadline`` (``time.monotonic()``) bind every socket operation in this context."""
    reset = _SOCKET_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _SOCKET_DEADLINE.reset(reset)


def current_socket_deadline() -> float | None:
    return _SOCKET_DEADLINE.get()
