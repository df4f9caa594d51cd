"""Remediation workflows: hooks on events and on access decisions.

* notify - :class:`WebhookNotifier` POSTs a JSON body signed with HMAC-SHA256, with retries;
* flag an incident - :class:`AuditLog` appends JSON lines;
* remediate - any ``async`` callable per event reason (e.g. revoke the user's sessions at the
  identity provider);
* confirm - :class:`RemediationTracker` notices when a challenged subject comes back with a
  token that passes, and records it as remediated with the time it took.

Every record carries who can fix it (Microsoft Entra ID Protection docs, "Remediate risks and
unblock users"): ``self`` when the user can (MFA, secure password change, signing in again),
``admin`` when only an administrator can (a disabled or deleted principal), ``it`` for policy
blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..core.remediation import RemediationKind
from ..core.subjects import SubjectKey, SubjectKind
from ..core.tokens import TokenClaims
from ._model import Event, LocationsEvent, RevocationEvent, RiskEvent, RiskLevel, event_to_dict
from ._store import EventStore
from .graph._client import GraphClient

__all__ = [
    "AuditLog",
    "RemediationTracker",
    "WebhookNotifier",
    "Workflows",
    "graph_session_revoker",
    "remediation_kind",
    "sign_body",
]

_log = logging.getLogger("cae_sdk.events.workflows")

Record = dict[str, Any]
Sink = Callable[[Record], Awaitable[None]]
Remediator = Callable[[Event], Awaitable[None]]

# Users self-remediate risk with MFA or a secure password change (Microsoft Entra ID Protection
# docs, "Remediate risks and unblock users") and revocations by signing in again; a disabled or
# deleted principal needs an administrator.
_ADMIN_ONLY = frozenset({"user_disabled", "user_deleted", "sp_disabled", "sp_deleted"})
_MAX_CAUSES = 100_000
_IT_ONLY = frozenset({"BlockedByConditionalAccessPolicy", "EventStoreUnavailable"})


def remediation_kind(reason: str) -> RemediationKind:
    """Who can resolve an event or decision ``reason``."""
    if reason in _ADMIN_ONLY:
        return RemediationKind.ADMIN
    if reason in _IT_ONLY:
        return RemediationKind.IT
    return RemediationKind.SELF


def sign_body(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256 over ``"<timestamp>.<body>"`` (replay-resistant)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier:
    """POST each record as JSON with ``X-CAE-Timestamp`` and ``X-CAE-Signature`` headers."""

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        http: httpx.AsyncClient,
        retries: int = 3,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._http = http
        self._retries = retries
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep

    async def __call__(self, record: Record) -> None:
        body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
        for attempt in range(self._retries + 1):
            timestamp = str(int(self._clock()))
            headers = {
                "Content-Type": "application/json",
                "X-CAE-Timestamp": timestamp,
                "X-CAE-Signature": sign_body(self._secret, timestamp, body),
            }
            try:
                response = await self._http.post(self.url, content=body, headers=headers)
                if response.status_code < 500 and response.status_code != 429:
                    if not response.is_success:
                        _log.warning("webhook refused the record: HTTP %d", response.status_code)
                    return
            except httpx.HTTPError as exc:
                _log.info("webhook attempt %d failed: %s", attempt + 1, type(exc).__name__)
            if attempt < self._retries:
                await self._sleep(self._backoff * 2**attempt)
        _log.error("webhook %s unreachable after %d attempts", self.url, self._retries + 1)


class AuditLog:
    """Append-only JSON lines file (one incident or confirmation per line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = asyncio.Lock()

    async def __call__(self, record: Record) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)


class DecisionRecord(Protocol):
    """What ``CAEMiddleware``'s ``on_decision`` hooks receive (duck-typed: ``AccessRecord``)."""

    @property
    def decision(self) -> Any: ...

    @property
    def claims(self) -> TokenClaims | None: ...


def _principal(claims: TokenClaims | None) -> SubjectKey | None:
    """The user or service principal a token belongs to (not its tenant or session)."""
    if claims is None:
        return None
    for key in claims.subject_keys():
        if key.kind in (SubjectKind.USER, SubjectKind.SERVICE_PRINCIPAL):
            return key
    return None


class RemediationTracker:
    """Open an incident when a subject is refused; close it as remediated when the same subject
    is next allowed, i.e. it came back with a token that satisfies the challenge."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._open: dict[SubjectKey, tuple[float, str]] = {}

    @property
    def open_incidents(self) -> Mapping[SubjectKey, tuple[float, str]]:
        return dict(self._open)

    def observe(self, record: DecisionRecord, *, cause: str | None = None) -> Record | None:
        """Feed one decision; returns a record when an incident opens or is remediated.

        ``cause`` is the reason of the event behind a refusal (e.g. ``user_disabled``), when
        known: it decides who can remediate better than the decision's reason code."""
        subject = _principal(record.claims)
        if subject is None:
            return None
        decision = record.decision
        outcome = str(getattr(decision.outcome, "value", decision.outcome))
        reason = str(getattr(decision.reason, "value", decision.reason))
        now = self._clock()
        if outcome != "allow":
            if subject in self._open:
                return None
            label = cause or reason
            self._open[subject] = (now, label)
            return {
                "kind": "incident",
                "subject": str(subject),
                "outcome": outcome,
                "reason": reason,
                "cause": cause,
                "remediation": remediation_kind(label).value,
                "at": now,
            }
        opened = self._open.pop(subject, None)
        if opened is None:
            return None
        since, label = opened
        return {
            "kind": "remediated",
            "subject": str(subject),
            "reason": label,
            "remediation": remediation_kind(label).value,
            "elapsed_seconds": round(now - since, 3),
            "at": now,
        }


def _event_reason(event: Event) -> str:
    if isinstance(event, RevocationEvent | RiskEvent):
        return event.reason
    return "locations_changed"


class Workflows:
    """Run sinks (webhooks, audit logs) and remediators for store events and decisions.

    ``attach(store)`` subscribes to every state-changing event (from any replica); pass
    ``workflows.on_decision`` to ``CAEMiddleware(on_decision=[...])`` for decisions.
    """

    def __init__(
        self,
        *,
        sinks: Sequence[Sink] = (),
        remediators: Mapping[str, Remediator] | None = None,
        tracker: RemediationTracker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sinks = list(sinks)
        self.remediators = dict(remediators or {})
        self.tracker = tracker or RemediationTracker(clock)
        self._clock = clock
        self._causes: dict[str, str] = {}
        self._queue: asyncio.Queue[Coroutine[Any, Any, None]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def attach(self, store: EventStore) -> Callable[[], None]:
        return store.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        """Store listener (synchronous): remembers why the subject was hit (for decisions that
        follow at once) and schedules the event's workflow."""
        subject = getattr(event, "subject", None)
        if subject is not None:
            if len(self._causes) >= _MAX_CAUSES:
                self._causes.clear()
            self._causes[str(subject)] = _event_reason(event)
        self._spawn(self.handle_event(event))

    async def handle_event(self, event: Event) -> None:
        reason = _event_reason(event)
        record: Record = {
            "kind": "event",
            "event": event_to_dict(event),
            "remediation": remediation_kind(reason).value,
            "at": self._clock(),
        }
        if isinstance(event, RiskEvent) and event.level is RiskLevel.NONE:
            record["kind"] = "risk_cleared"
        if isinstance(event, LocationsEvent):
            record["kind"] = "locations"
        await self._emit(record)
        remediator = self.remediators.get(reason)
        if remediator is not None:
            try:
                await remediator(event)
            except Exception as exc:  # noqa: BLE001 - a failed remediation must not stop others
                _log.error("remediation for %s failed: %s", reason, type(exc).__name__)
                await self._emit(
                    {"kind": "remediation_failed", "reason": reason, "at": self._clock()}
                )

    async def on_decision(self, record: DecisionRecord) -> None:
        """``CAEMiddleware`` decision hook."""
        details = getattr(record.decision, "details", None) or {}
        cause = self._causes.get(str(details.get("subject")))
        observed = self.tracker.observe(record, cause=cause)
        if observed is not None:
            await self._emit(observed)

    async def _emit(self, record: Record) -> None:
        for sink in self.sinks:
            try:
                await sink(record)
            except Exception as exc:  # noqa: BLE001 - one broken sink must not silence the rest
                _log.error("workflow sink failed: %s", type(exc).__name__)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # One worker per loop keeps workflows in event order (the audit log reads in order).
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait(coroutine)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(self._queue))

    async def _work(self, queue: asyncio.Queue[Coroutine[Any, Any, None]]) -> None:
        while True:
            coroutine = await queue.get()
            try:
                await coroutine
            finally:
                queue.task_done()

    async def drain(self) -> None:
        """Wait until every scheduled workflow ran (shutdown, tests)."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None


def graph_session_revoker(client: GraphClient, *, api_version: str = "v1.0") -> Remediator:
    """A remediator that revokes a user's refresh tokens and sessions at Entra
    (``POST /users/{id}/revokeSignInSessions``), e.g. for ``credential_compromise``."""

    async def revoke(event: Event) -> None:
        subject = getattr(event, "subject", None)
        if isinstance(subject, SubjectKey) and subject.kind is SubjectKind.USER:
            await client.post(f"/{api_version}/users/{subject.value}/revokeSignInSessions")

    return revoke
