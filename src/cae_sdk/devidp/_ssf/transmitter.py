"""The Shared Signals transmitter: streams, SET signing, and hand-off to push or poll delivery.

It listens to the directory: every :class:`~..directory.SecurityAction` becomes one SET per
enabled stream that asked for that event type and has not removed the subject. A paused stream
keeps its SETs until it is enabled again; a disabled stream drops them (SSF 1.0 section 8.1.2).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx

from ...core.secevents import DELIVERY_PUSH, SET_TYP, SSF, set_claims
from .._context import IdPContext
from .._directory import SecurityAction
from .._keys import KeyRing
from .events import event_for, subject_for, verification_event
from .push import push_set
from .streams import MAX_QUEUED, Stream, subject_matches

__all__ = ["Transmitter", "transmitter_of"]

# Named as when the module was public, so logging configuration that names it keeps working.
logger = logging.getLogger("cae_sdk.devidp.ssf.transmitter")


class Transmitter:
    def __init__(self, ctx: IdPContext) -> None:
        self.ctx = ctx
        self.keys = KeyRing()
        self.streams: dict[str, Stream] = {}
        self._queues: dict[str, asyncio.Queue[tuple[str, str]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None
        self._held: dict[str, list[tuple[str, str]]] = {}  # paused push streams
        ctx.directory.subscribe(self.on_action)

    @property
    def issuer(self) -> str:
        return self.ctx.ssf_issuer

    # -- producing SETs ------------------------------------------------------------------------
    def sign(
        self, stream: Stream, subject: dict[str, Any], event_type: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        claims = set_claims(
            issuer=self.issuer,
            audience=stream.audience,
            subject=subject,
            event_type=event_type,
            event=payload,
            iat=int(self.ctx.now()),
            jti=uuid.uuid4().hex,
        )
        return claims["jti"], self.keys.sign(claims, typ=SET_TYP)

    def on_action(self, action: SecurityAction) -> None:
        event = event_for(action)
        if event is None:
            return
        event_type, payload = event
        subject = subject_for(action)
        for stream in list(self.streams.values()):
            if stream.status == "disabled" or event_type not in stream.events_delivered:
                continue
            if any(subject_matches(s, subject, action.email) for s in stream.excluded_subjects):
                continue
            self.enqueue(stream, *self.sign(stream, subject, event_type, payload))

    def verify(self, stream: Stream, state: str | None) -> None:
        subject, event_type, payload = verification_event(stream.stream_id, state)
        self.enqueue(stream, *self.sign(stream, subject, event_type, payload))

    # -- delivery ------------------------------------------------------------------------------
    def enqueue(self, stream: Stream, jti: str, token: str) -> None:
        if stream.status == "paused":  # held for push and poll alike (SSF 1.0 section 8.1.2)
            held = self._held.setdefault(stream.stream_id, [])
            held.append((jti, token))
            del held[:-MAX_QUEUED]  # bounded like poll queues: the oldest go first
            return
        if stream.delivery_method != DELIVERY_PUSH:
            if len(stream.available) >= MAX_QUEUED:
                stream.available.popitem(last=False)  # bounded: oldest unacknowledged goes
            stream.available[jti] = token
            if stream.arrived is not None:
                stream.arrived.set()
            return
        self._queue_for(stream).put_nowait((jti, token))

    def announce_status(self, stream: Stream, status: str, reason: str | None = None) -> None:
        """A transmitter-initiated status change (SSF 1.0 section 8.1.5): the stream-updated
        event goes out before the stream is paused or disabled, and after it is enabled."""
        subject = {"format": "opaque", "id": stream.stream_id}
        payload: dict[str, Any] = {"status": status}
        if reason:
            payload["reason"] = reason
        announcement = self.sign(stream, subject, SSF.STREAM_UPDATED, payload)
        if status != "enabled":
            self.enqueue(stream, *announcement)
        stream.status, stream.status_reason = status, reason
        self.status_changed(stream)
        if status == "enabled":
            self.enqueue(stream, *announcement)

    def status_changed(self, stream: Stream) -> None:
        """After a status update: an enabled stream gets what was held while paused; a
        disabled one loses it (SSF 1.0 section 8.1.2: a disabled stream holds nothing)."""
        if stream.status == "paused":
            return
        held = self._held.pop(stream.stream_id, [])
        if stream.status == "enabled":
            for jti, token in held:
                self.enqueue(stream, jti, token)

    def _queue_for(self, stream: Stream) -> asyncio.Queue[tuple[str, str]]:
        queue = self._queues.get(stream.stream_id)
        if queue is None:
            queue = self._queues[stream.stream_id] = asyncio.Queue()
            self._workers[stream.stream_id] = asyncio.get_running_loop().create_task(
                self._push_worker(stream, queue)
            )
        return queue

    async def _push_worker(self, stream: Stream, queue: asyncio.Queue[tuple[str, str]]) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=5.0)
        while True:
            jti, token = await queue.get()
            outcome = await push_set(
                self._client,
                stream.endpoint_url,
                token,
                stream.authorization_header,
                self.ctx.settings.ssf_push_retry_delays,
            )
            stream.record(jti, outcome)

    def remove(self, stream_id: str) -> None:
        self.streams.pop(stream_id, None)
        self._queues.pop(stream_id, None)
        self._held.pop(stream_id, None)
        worker = self._workers.pop(stream_id, None)
        if worker is not None:
            worker.cancel()

    async def aclose(self) -> None:
        for stream_id in list(self.streams):
            self.remove(stream_id)
        if self._client is not None:
            await self._client.aclose()


def transmitter_of(ctx: IdPContext) -> Transmitter:
    transmitter = ctx.extensions.get("ssf")
    if not isinstance(transmitter, Transmitter):
        transmitter = ctx.extensions["ssf"] = Transmitter(ctx)
    return transmitter
