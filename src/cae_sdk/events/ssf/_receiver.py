"""The delivery-independent half of a Shared Signals receiver.

Push (RFC 8935) and poll (RFC 8936) both hand compact SETs to :class:`SetReceiver`, which
decodes and validates them, handles the stream control events (verification, SSF 1.0 section
8.1.4; stream-updated, section 8.1.5), maps the event through
:data:`~.mapping.EVENT_MAPPING` and applies the result to the store.

Redelivery (RFC 8935 section 2.3, RFC 8936 section 2.4: acknowledged again, acted on once): a
``jti`` is recorded only AFTER its effect was stored, so a SET whose write failed is answered
with a retryable status and, when it comes again, applied: never taken for a duplicate of
something that did not happen. A redelivery this process already applied is not applied again
(a bounded record of recent ``jti`` values); one applied by another replica is applied again,
which the store's writes make harmless (the newest watermark or risk report wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ...core.errors import (
    ConfigurationError,
    EventSourceError,
    EventValidationError,
    StoreUnavailable,
)
from ...core.secevents import SSF
from .._store import EventStore
from ._mapping import DirectorySubjectResolver, MappedEvent, SubjectResolver, map_security_event
from ._rules import INVALID_REQUEST, SecurityEvent, SetValidationConfig
from ._set_decoder import SetDecoder, TransmitterKeys
from ._streamstate import StreamState, StreamStatuses, notify_observer

__all__ = ["ReceiveResult", "SetReceiver", "StreamState", "VerificationStates"]

_log = logging.getLogger("cae_sdk.events.ssf")

INVALID_STATE = "invalid_state"
ACCESS_DENIED = "access_denied"
_RECENT_STATES = 1024
_CONTROL = frozenset({SSF.VERIFICATION, SSF.STREAM_UPDATED})
_RECENT_APPLIED = 10_000  # a few MB of jti keys at most


class SetDecoding(Protocol):
    async def decode(self, token: str) -> SecurityEvent: ...


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    """One received SET: the decoded event, how it maps to the store, and what it changed."""

    event: SecurityEvent
    mapped: MappedEvent
    duplicate: bool = False
    """The ``jti`` was seen before (a redelivery; applying it again changed nothing)."""
    changed: int = 0
    """How many store events changed state (newer watermark, new risk level)."""


class VerificationStates:
    """``state`` values of verification requests this receiver is waiting for, and the stream
    each was requested on (SSF 1.0 section 8.1.4.1: the event's ``sub_id`` names that stream)."""

    def __init__(self) -> None:
        self._pending: dict[str, str | None] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        # States already confirmed: a redelivered verification SET is acknowledged again.
        self._recent: OrderedDict[str, str | None] = OrderedDict()

    def expect(self, state: str, stream_id: str | None = None) -> None:
        self._pending[state] = stream_id
        self._confirmed.setdefault(state, asyncio.Event())

    def confirm(self, state: object, stream_id: str | None = None) -> None:
        """Accept a verification event's ``state`` (for ``stream_id``, the event's subject), or
        raise ``invalid_state`` / ``invalid_request``."""
        if state is None:
            return  # transmitter-initiated verification carries no state (SSF 1.0 8.1.4.2)
        if isinstance(state, str) and state in self._recent:
            expected = self._recent[state]
        elif isinstance(state, str) and state in self._pending:
            expected = self._pending[state]
        else:
            raise EventValidationError(INVALID_STATE, "verification state does not match a request")
        if expected is not None and stream_id != expected:
            raise EventValidationError(
                INVALID_REQUEST, "verification event names another stream than the one verified"
            )
        if state in self._pending:
            del self._pending[state]
            self._recent[state] = expected
            while len(self._recent) > _RECENT_STATES:
                self._recent.popitem(last=False)
            self._confirmed[state].set()

    async def wait(self, state: str, timeout: float) -> bool:
        """Wait until the verification event for ``state`` arrived; False on timeout."""
        event = self._confirmed.setdefault(state, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        finally:
            # Answered or given up: either way the state is no longer awaited, so periodic
            # verifications against a silent transmitter do not pile up states.
            self._pending.pop(state, None)
            self._confirmed.pop(state, None)
        return True


class SetReceiver:
    """Validate, map and apply SETs from one transmitter.

    ``critical_subject_members``: the transmitter configuration's list (SSF 1.0 section 7.1);
    with :meth:`for_transmitter` it is read from the discovered configuration. ``stream_ids``:
    the streams this receiver serves, if known (verification and stream-updated events naming
    another stream are refused); :meth:`StreamClient.create` adds to it.
    """

    def __init__(
        self,
        decoder: SetDecoding,
        store: EventStore,
        resolver: SubjectResolver,
        *,
        replay_window_seconds: int,
        allowed_tenants: Collection[str] | None = None,
        verification: VerificationStates | None = None,
        on_result: Callable[[ReceiveResult], None] | None = None,
        source: str = "ssf",
        critical_subject_members: Collection[str] | None = None,
        stream_ids: Collection[str] = (),
        on_stream_updated: Callable[[StreamState], None] | None = None,
    ) -> None:
        self.decoder = decoder
        self.store = store
        self.resolver = resolver
        self.verification = verification or VerificationStates()
        self.streams = StreamStatuses(stream_ids, on_stream_updated)
        self._replay_window = replay_window_seconds
        self._allowed_tenants = (
            None if allowed_tenants is None else frozenset(t.lower() for t in allowed_tenants)
        )
        self._on_result = on_result
        self._source = source
        self._critical = (
            None if critical_subject_members is None else frozenset(critical_subject_members)
        )
        self._keys: TransmitterKeys | None = None
        self._applied: OrderedDict[str, None] = OrderedDict()

    @classmethod
    def for_transmitter(
        cls,
        issuer: str,
        audiences: str | Sequence[str],
        store: EventStore,
        *,
        resolver: SubjectResolver | None = None,
        http: httpx.AsyncClient | None = None,
        jwks: Mapping[str, Any] | None = None,
        configuration_url: str | None = None,
        allowed_tenants: Collection[str] | None = None,
        on_result: Callable[[ReceiveResult], None] | None = None,
        critical_subject_members: Collection[str] | None = None,
        stream_ids: Collection[str] = (),
        on_stream_updated: Callable[[StreamState], None] | None = None,
        **rules: Any,
    ) -> SetReceiver:
        """The usual wiring in one call: keys discovered with ``http`` (or pinned ``jwks``),
        :class:`SetValidationConfig` from ``issuer``, ``audiences`` and ``rules`` (e.g.
        ``max_future_seconds``), and a :class:`DirectorySubjectResolver` unless one is given.
        ``audiences`` is what the stream's ``aud`` says (``stream["aud"]``)."""
        accepted = (audiences,) if isinstance(audiences, str) else tuple(audiences)
        config = SetValidationConfig(issuer=issuer, audiences=accepted, **rules)
        keys = TransmitterKeys(issuer, http=http, jwks=jwks, configuration_url=configuration_url)
        receiver = cls(
            SetDecoder(config, keys),
            store,
            resolver or DirectorySubjectResolver(),
            replay_window_seconds=config.replay_window_seconds,
            allowed_tenants=allowed_tenants,
            on_result=on_result,
            critical_subject_members=critical_subject_members,
            stream_ids=stream_ids,
            on_stream_updated=on_stream_updated,
        )
        if critical_subject_members is None and http is not None:
            receiver._keys = keys  # the configuration names the critical members
        return receiver

    async def receive(self, token: str) -> ReceiveResult:
        """Process one compact SET; raises :class:`EventValidationError` if it is refused, and
        :class:`StoreUnavailable` (or another retryable error) if it must come again."""
        event = await self.decoder.decode(token)
        if event.events or event.event_type in _CONTROL:
            kinds = event.all_events()
            if SSF.VERIFICATION in kinds:
                self.verification.confirm(
                    kinds[SSF.VERIFICATION].get("state"), self.streams.check(event.subject)
                )
            if SSF.STREAM_UPDATED in kinds:
                self.streams.update(event, kinds[SSF.STREAM_UPDATED])
        critical = self._critical if self._critical is not None else await self._critical_of()
        mapped = map_security_event(
            event, self.resolver, source=self._source, critical_members=critical
        )
        self._check_tenants(mapped)
        key = f"ssf:{event.issuer}:{event.jti}"
        changed = 0
        if key in self._applied:
            result = ReceiveResult(event, mapped, duplicate=True)
        else:
            for item in mapped.events:
                changed += bool(await self.store.apply(item))  # StoreUnavailable: not recorded
            self._applied[key] = None
            while len(self._applied) > _RECENT_APPLIED:
                self._applied.popitem(last=False)
            result = ReceiveResult(event, mapped, not await self._first_time(key), changed)
        if mapped.ignored_reason is not None:
            _log.info("SET %s (%s) ignored: %s", event.jti, event.event_type, mapped.ignored_reason)
        notify_observer(self._on_result, result, "SET result")
        return result

    async def _first_time(self, key: str) -> bool:
        """Record the ``jti`` once its effect is stored; True unless it was seen before."""
        try:
            return await self.store.remember_once(key, self._replay_window)
        except StoreUnavailable:
            # The effect is stored; only the redelivery bookkeeping is lost (harmless).
            return True

    async def _critical_of(self) -> frozenset[str]:
        if self._critical is None and self._keys is not None:
            try:
                configuration = await self._keys.configuration()
            except ConfigurationError as exc:
                # Not knowing which members are critical, applying could break SSF 1.0 section
                # 3.6: the SET must come again (503 / not acknowledged), not be guessed at.
                raise EventSourceError(f"transmitter configuration unavailable: {exc}") from None
            members = configuration.get("critical_subject_members")
            self._critical = frozenset(
                m for m in (members if isinstance(members, list) else []) if isinstance(m, str)
            )
        return self._critical or frozenset()

    def _check_tenants(self, mapped: MappedEvent) -> None:
        if self._allowed_tenants is None:
            return
        for item in mapped.events:
            subject = getattr(item, "subject", None)
            if subject is not None and subject.tenant_id not in self._allowed_tenants:
                # RFC 8935 section 2.4: the transmitter may not speak for this tenant.
                raise EventValidationError(
                    ACCESS_DENIED, "transmitter may not send events for this tenant"
                )
