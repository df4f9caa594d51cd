"""SSF 1.0 stream management client (sections 7 and 8): discovery, streams, status,
verification and subjects, authenticated with a bearer token.

A created stream is checked before it is used (section 8.1.1.1: its ``iss`` must be the issuer
the configuration came from); a verification that does not arrive raises
:class:`StreamVerificationError` rather than returning a value a caller could ignore.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from ...core.errors import ConfigurationError, EventSourceError
from ...core.secevents import DELIVERY_POLL, DELIVERY_PUSH, ssf_configuration_url
from .._auth import BearerSource, bearer_auth
from ._receiver import SetReceiver, StreamState, VerificationStates

__all__ = ["StreamClient", "StreamVerificationError", "poll_delivery", "push_delivery"]


class StreamVerificationError(EventSourceError):
    """The verification event did not reach the receiver in time (SSF 1.0 section 8.1.4):
    the stream is not delivering to this receiver."""


_MAX_DOCUMENT_BYTES = 256 * 1024


def push_delivery(endpoint_url: str, authorization_header: str) -> dict[str, Any]:
    """SSF 1.0 section 8.1.1 ``delivery`` for RFC 8935 push to ``endpoint_url``."""
    return {
        "method": DELIVERY_PUSH,
        "endpoint_url": endpoint_url,
        "authorization_header": authorization_header,
    }


def poll_delivery() -> dict[str, Any]:
    """SSF 1.0 section 8.1.1 ``delivery`` for RFC 8936 poll (the transmitter picks the URL)."""
    return {"method": DELIVERY_POLL}


class StreamClient:
    """Manage event streams at one transmitter."""

    def __init__(
        self,
        issuer: str,
        *,
        http: httpx.AsyncClient,
        auth: BearerSource,
        configuration_url: str | None = None,
        scopes: Sequence[str] = (),
    ) -> None:
        """``auth``: any bearer source (see :func:`~cae_sdk.events._auth.bearer_auth`);
        ``scopes`` are asked of a credential (e.g. ``[f"{issuer}/.default"]``)."""
        self.issuer = issuer
        self.configuration_url = configuration_url or ssf_configuration_url(issuer)
        self._http = http
        self._auth = bearer_auth(auth, scopes)
        self._metadata: dict[str, Any] | None = None

    async def discover(self) -> dict[str, Any]:
        """Transmitter configuration metadata; its ``issuer`` must match exactly (SSF 7.2.3)."""
        if self._metadata is None:
            response = await self._http.get(self.configuration_url)
            document = _json_of(response, "SSF configuration")
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                raise ConfigurationError("SSF configuration issuer differs from the expected one")
            self._metadata = document
        return self._metadata

    async def _endpoint(self, name: str) -> str:
        url = (await self.discover()).get(name)
        if not isinstance(url, str) or not url:
            raise EventSourceError(f"transmitter does not advertise {name}", code="unsupported")
        return url

    async def _call(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        url = await self._endpoint(endpoint)
        response = await self._http.request(method, url, json=json, params=params, auth=self._auth)
        if response.status_code == 204 or not response.content:
            _raise_for(response, endpoint)
            return None
        return _json_of(response, endpoint)

    # -- streams (SSF 1.0 section 8.1.1) -----------------------------------------------------

    async def create(
        self,
        delivery: Mapping[str, Any],
        events_requested: Sequence[str],
        *,
        aud: str | Sequence[str] | None = None,
        description: str | None = None,
        receiver: SetReceiver | None = None,
    ) -> dict[str, Any]:
        """Create a stream (SSF 1.0 section 8.1.1.1). ``aud``: the audience the receiver asks
        for (the transmitter decides: verify SETs against the returned ``stream["aud"]``).
        The answer's ``iss`` must be this transmitter's issuer, else the stream is deleted
        again and :class:`~cae_sdk.core.errors.ConfigurationError` raised. ``receiver``
        learns the stream id (its control events are then checked against it)."""
        body: dict[str, Any] = {
            "delivery": dict(delivery),
            "events_requested": list(events_requested),
        }
        if aud is not None:
            body["aud"] = aud if isinstance(aud, str) else list(aud)
        if description:
            body["description"] = description
        stream = _object(await self._call("POST", "configuration_endpoint", json=body))
        stream_id = stream.get("stream_id")
        if not isinstance(stream_id, str) or not stream_id:
            raise EventSourceError("transmitter created a stream without a stream_id")
        if stream.get("iss") != self.issuer:
            # A stream of another issuer would deliver SETs we refuse (or trust wrongly): do
            # not use it, and do not leave it behind.
            with contextlib.suppress(EventSourceError):
                await self.delete(stream_id)
            raise ConfigurationError("the created stream's iss is not the transmitter's issuer")
        if receiver is not None:
            receiver.streams.add(stream_id)
        return stream

    async def get(self, stream_id: str) -> dict[str, Any]:
        params = {"stream_id": stream_id}
        return _object(await self._call("GET", "configuration_endpoint", params=params))

    async def list_streams(self) -> list[dict[str, Any]]:
        result = await self._call("GET", "configuration_endpoint")
        if isinstance(result, dict):
            return [result]
        return [s for s in result or [] if isinstance(s, dict)]

    async def update(self, stream_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        body = {**changes, "stream_id": stream_id}
        return _object(await self._call("PATCH", "configuration_endpoint", json=body))

    async def replace(self, stream_id: str, configuration: Mapping[str, Any]) -> dict[str, Any]:
        body = {**configuration, "stream_id": stream_id}
        return _object(await self._call("PUT", "configuration_endpoint", json=body))

    async def delete(self, stream_id: str, *, receiver: SetReceiver | None = None) -> None:
        await self._call("DELETE", "configuration_endpoint", params={"stream_id": stream_id})
        if receiver is not None:
            receiver.streams.discard(stream_id)

    # -- status (section 8.1.2) --------------------------------------------------------------

    async def status(
        self, stream_id: str, *, receiver: SetReceiver | None = None
    ) -> dict[str, Any]:
        """The stream's status (SSF 1.0 section 8.1.2.1); ``receiver`` records it too."""
        body = _object(await self._call("GET", "status_endpoint", params={"stream_id": stream_id}))
        status, reason = body.get("status"), body.get("reason")
        if receiver is not None and isinstance(status, str):
            text = reason if isinstance(reason, str) else None
            receiver.streams.set_read(stream_id, status, text)
        return body

    def announced(self, stream_id: str, receiver: SetReceiver) -> StreamState:
        """The status the transmitter last announced with a stream-updated event."""
        return receiver.streams.get(stream_id)

    async def set_status(
        self, stream_id: str, status: str, *, reason: str | None = None
    ) -> dict[str, Any]:
        if status not in ("enabled", "paused", "disabled"):
            raise ConfigurationError(f"unknown stream status {status!r}")
        body: dict[str, Any] = {"stream_id": stream_id, "status": status}
        if reason:
            body["reason"] = reason
        return _object(await self._call("POST", "status_endpoint", json=body))

    # -- subjects (section 8.1.3) ------------------------------------------------------------

    async def add_subject(
        self, stream_id: str, subject: Mapping[str, Any], *, verified: bool = True
    ) -> None:
        body = {"stream_id": stream_id, "subject": dict(subject), "verified": verified}
        await self._call("POST", "add_subject_endpoint", json=body)

    async def remove_subject(self, stream_id: str, subject: Mapping[str, Any]) -> None:
        body = {"stream_id": stream_id, "subject": dict(subject)}
        await self._call("POST", "remove_subject_endpoint", json=body)

    # -- verification (section 8.1.4) --------------------------------------------------------

    async def verify(
        self,
        stream_id: str,
        states: VerificationStates | SetReceiver,
        *,
        timeout: float = 10.0,
    ) -> bool:
        """Ask for a verification event and wait until the receiver got it with our state
        (SSF 1.0 section 8.1.4.2: it may come behind queued events, so the receiver must be
        running meanwhile: pushes served, or a :class:`PollClient` started). Returns True;
        raises :class:`StreamVerificationError` when it did not arrive within ``timeout``."""
        if isinstance(states, SetReceiver):
            states = states.verification
        state = secrets.token_urlsafe(16)
        states.expect(state, stream_id)
        await self._call(
            "POST", "verification_endpoint", json={"stream_id": stream_id, "state": state}
        )
        if not await states.wait(state, timeout):
            raise StreamVerificationError(
                f"no verification event for stream {stream_id} within {timeout:g}s",
                code="verification_timeout",
            )
        return True


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    code: str | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            code = str(body.get("err") or body.get("error") or "") or None
    except ValueError:
        pass
    raise EventSourceError(
        f"{what} answered HTTP {response.status_code}", status=response.status_code, code=code
    )


def _json_of(response: httpx.Response, what: str) -> Any:
    _raise_for(response, what)
    if len(response.content) > _MAX_DOCUMENT_BYTES:
        raise EventSourceError(f"{what} answer is too large", status=response.status_code)
    try:
        return response.json()
    except ValueError:
        raise EventSourceError(f"{what} answer is not JSON", status=response.status_code) from None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventSourceError("transmitter answered with something other than a JSON object")
    return value
