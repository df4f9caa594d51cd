"""The delivery-independent half of a Shared Signals receiver.

Push (RFC 8935) and poll (RFC 8936) both hand compact SETs to :class:`SetReceiver`, which
decodes and validates them, answers stream verification (SSF 1.0 section 8.1.4), drops
redelivered ``jti`` values (RFC 8935 section 2.3: acknowledged again, acted on once), maps the
event through :data:`~.mapping.EVENT_MAPPING` and applies the result to the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ...core.errors import EventValidationError, StoreUnavailable
from ...core.secevents import SSF
from ..store import EventStore
from .mapping import DirectorySubjectResolver, MappedEvent, SubjectResolver, map_security_event
from .rules import SecurityEvent, SetValidationConfig
from .set_decoder import SetDecoder, TransmitterKeys

__all__ = ["ReceiveResult", "SetReceiver", "VerificationStates"]

_log = logging.getLogger("cae_sdk.events.ssf")

INVALID_STATE = "invalid_state"
ACCESS_DENIED = "access_denied"


class SetDecoding(Protocol):
    async def decode(self, token: str) -> SecurityEvent: ...


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    event: SecurityEvent
    mapped: MappedEvent
    duplicate: bool = False
    changed: int = 0
    """How many store events changed state (newer watermark, new risk level)."""


class VerificationStates:
    """``state`` values of verification requests this receiver is waiting for."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._confirmed: dict[str, asyncio.Event] = {}

    def expect(self, state: str) -> None:
        self._pending.add(state)
        self._confirmed.setdefault(state, asyncio.Event())

    def confirm(self, state: object) -> None:
        """Accept a verification event's ``state``, or raise ``invalid_state``."""
        if state is None:
            return  # transmitter-initiated verification carries no state (SSF 1.0 8.1.4.2)
        if not isinstance(state, str) or state not in self._pending:
            raise EventValidationError(INVALID_STATE, "verification state does not match a request")
        self._pending.discard(state)
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
            self._pending.discard(state)
            self._confirmed.pop(state, None)
        return True


class SetReceiver:
    """Validate, deduplicate, map and apply SETs from one transmitter."""

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
    ) -> None:
        self.decoder = decoder
        self.store = store
        self.resolver = resolver
        self.verification = verification or VerificationStates()
        self._replay_window = replay_window_seconds
        self._allowed_tenants = (
            None if allowed_tenants is None else frozenset(t.lower() for t in allowed_tenants)
        )
        self._on_result = on_result
        self._source = source

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
        **rules: Any,
    ) -> SetReceiver:
        """The usual wiring in one call: keys discovered with ``http`` (or pinned ``jwks``),
        :class:`SetValidationConfig` from ``issuer``, ``audiences`` and ``rules`` (e.g.
        ``max_age_seconds``), and a :class:`DirectorySubjectResolver` unless one is given."""
        accepted = (audiences,) if isinstance(audiences, str) else tuple(audiences)
        config = SetValidationConfig(issuer=issuer, audiences=accepted, **rules)
        keys = TransmitterKeys(issuer, http=http, jwks=jwks, configuration_url=configuration_url)
        return cls(
            SetDecoder(config, keys),
            store,
            resolver or DirectorySubjectResolver(),
            replay_window_seconds=config.replay_window_seconds,
            allowed_tenants=allowed_tenants,
            on_result=on_result,
        )

    async def receive(self, token: str) -> ReceiveResult:
        """Process one compact SET; raises :class:`EventValidationError` if it is refused."""
        event = await self.decoder.decode(token)
        mapped = map_security_event(event, self.resolver, source=self._source)
        self._check_tenants(mapped)
        # Remember before acting: a redelivered risk event must not revert a newer level, and a
        # redelivered verification event is acknowledged again rather than refused for a state
        # it already confirmed (RFC 8935 section 2.3).
        replay_key = f"ssf:{event.issuer}:{event.jti}"
        first = await self.store.remember_once(replay_key, self._replay_window)
        if not first:
            result = ReceiveResult(event, mapped, duplicate=True)
        else:
            changed = 0
            try:
                if event.event_type == SSF.VERIFICATION:
                    self.verification.confirm(event.payload.get("state"))
                for item in mapped.events:
                    changed += bool(await self.store.apply(item))
            except (StoreUnavailable, EventValidationError):
                # Not acted on: let the redelivery through (best effort; stores that cannot
                # forget have no failing apply).
                forget = getattr(self.store, "forget", None)
                if forget is not None:
                    with contextlib.suppress(StoreUnavailable):
                        await forget(replay_key)
                raise
            result = ReceiveResult(event, mapped, changed=changed)
        if mapped.ignored_reason is not None:
            _log.info("SET %s (%s) ignored: %s", event.jti, event.event_type, mapped.ignored_reason)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception as exc:  # noqa: BLE001 - an observer must not fail the delivery
                _log.error("SET result callback failed: %s", type(exc).__name__)
        return result

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
