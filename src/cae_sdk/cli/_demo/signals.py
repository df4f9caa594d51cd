"""The Shared Signals link of the demo: a push stream from the dev identity provider's
transmitter to the API's receiver (SSF 1.0 stream management, RFC 8935 push), verified
before the scenario starts."""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from ...core.secevents import SSF
from ...devidp._ssf.streams import EVENTS_SUPPORTED
from ...events._store import EventStore
from .api import DeferredApp

__all__ = ["ca_context", "connect_push_stream"]


class SetLog(Protocol):
    """Where accepted SETs are recorded (``DemoWorld``)."""

    received: list[Any]

    def record_set(self, result: Any) -> None: ...


def ca_context(path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=path)


def connect_push_stream(
    idp: Any,
    endpoint_url: str,
    store: EventStore,
    push: DeferredApp,
    closers: list[Callable[[], Any]],
    log: SetLog,
) -> None:
    """Create a push stream at the transmitter, put its receiver behind ``push``, and wait for
    the verification event. Raises on any failure (the caller marks SSF unavailable)."""
    from ...events.ssf import (
        DirectorySubjectResolver,
        PushReceiverApp,
        SetReceiver,
    )
    from ...events.ssf._streams import StreamClient, push_delivery

    authorization = f"Bearer {secrets.token_urlsafe(24)}"

    async def create() -> dict[str, Any]:
        async with httpx.AsyncClient(verify=ca_context(idp.ca_bundle), timeout=5.0) as http:
            client = StreamClient(idp.ssf_issuer, http=http, auth=idp.ssf_access_token())
            return await client.create(
                push_delivery(endpoint_url, authorization),
                list(EVENTS_SUPPORTED),  # everything the dev transmitter emits
                description="cae demo API",
            )

    stream = asyncio.run(create())
    audience = stream.get("aud")
    audiences = tuple(audience) if isinstance(audience, list) else (str(audience),)
    # Used (and closed, through ``closers``) in the API server's event loop.
    keys_http = httpx.AsyncClient(verify=ca_context(idp.ca_bundle), timeout=5.0)
    closers.append(keys_http.aclose)
    receiver = SetReceiver.for_transmitter(
        idp.ssf_issuer,
        audiences,
        store,
        resolver=DirectorySubjectResolver(tenant_id=idp.tenant_id),
        http=keys_http,
        on_result=log.record_set,
    )
    push.app = PushReceiverApp(receiver, authorization=authorization)
    _verify(idp, receiver, str(stream["stream_id"]), log)


def _verify(idp: Any, receiver: Any, stream_id: str, log: SetLog) -> None:
    """SSF 1.0 section 8.1.4: ask for a verification event and wait until it was pushed."""
    state = secrets.token_urlsafe(12)
    receiver.verification.expect(state)

    async def request() -> None:
        async with httpx.AsyncClient(verify=ca_context(idp.ca_bundle), timeout=5.0) as http:
            metadata = (await http.get(idp.ssf_configuration_url)).json()
            response = await http.post(
                metadata["verification_endpoint"],
                json={"stream_id": stream_id, "state": state},
                headers={"Authorization": f"Bearer {idp.ssf_access_token()}"},
            )
            response.raise_for_status()

    asyncio.run(request())
    deadline = time.perf_counter() + 10
    while time.perf_counter() < deadline:
        if any(r.event_type == SSF.VERIFICATION for r in log.received):
            return
        time.sleep(0.01)
    raise RuntimeError("the stream's verification event did not arrive")
