"""The Entra Graph bridge: poll Microsoft Graph and turn directory changes into events.

Users and service principals are followed with delta queries (their delta links persist in the
store, so a restarted replica carries on where the fleet left off); risky users and risky
service principals are listed each round; named locations and Conditional Access policies are
imported when asked for. Authentication is any bearer source (``cae_sdk.CAEAuth`` around a cp1
credential, or a credential with ``get_token(scopes)``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ...core.errors import CAEError
from .._background import BackgroundLoop
from .._model import Event, RiskLevel
from .._store import EventStore
from ._client import DeltaReset, GraphClient
from ._diff import (
    location_event,
    risky_principal_events,
    service_principal_events,
    user_events,
)

__all__ = ["GraphBridge", "GraphBridgeOptions", "SyncReport"]

_log = logging.getLogger("cae_sdk.events.graph")

USER_SELECT = "id,accountEnabled,signInSessionsValidFromDateTime,lastPasswordChangeDateTime"
SP_SELECT = "id,appId,accountEnabled"
RISK_SELECT = "id,riskLevel,riskState,riskLastUpdatedDateTime"


@dataclass(frozen=True, slots=True)
class GraphBridgeOptions:
    """Which Microsoft Graph sources the bridge synchronises, and the risk level from which a
    risky principal becomes a risk event."""

    users: bool = True
    service_principals: bool = True
    risky_users: bool = True
    risky_service_principals: bool = True
    minimum_risk: RiskLevel = RiskLevel.HIGH
    named_locations: bool = False
    policies: bool = False
    api_version: str = "v1.0"
    interval_seconds: float = 60.0


@dataclass(slots=True)
class SyncReport:
    """What one round saw (objects) and changed (events that moved the store)."""

    seen: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    resets: int = 0


class GraphBridge(BackgroundLoop):
    """Turn Graph directory changes into store events: :meth:`sync_once` runs one round,
    :meth:`start` runs :meth:`run` (a round every ``interval_seconds``) in the background."""

    _task_name = "cae-graph-bridge"

    def __init__(
        self,
        store: EventStore,
        client: GraphClient,
        *,
        tenant_id: str,
        options: GraphBridgeOptions | None = None,
        on_policies: Callable[[list[dict[str, Any]]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.client = client
        self.tenant_id = tenant_id.lower()
        self.options = options or GraphBridgeOptions()
        self._on_policies = on_policies
        self._clock = clock
        self.last_report: SyncReport | None = None

    def _path(self, path: str) -> str:
        return f"/{self.options.api_version}/{path}"

    def cursor_name(self, collection: str) -> str:
        return f"graph:{self.tenant_id}:{collection}"

    async def sync_once(self) -> SyncReport:
        """One round over every enabled source."""
        report = SyncReport()
        now = int(self._clock())
        opts = self.options
        for enabled, collection, select, rule in (
            (opts.users, "users", USER_SELECT, user_events),
            (opts.service_principals, "servicePrincipals", SP_SELECT, service_principal_events),
        ):
            if enabled:
                path = self._path(f"{collection}/delta?$select={select}")
                await self._delta(report, collection, path, rule, now)
        for enabled, collection, is_sp in (
            (opts.risky_users, "riskyUsers", False),
            (opts.risky_service_principals, "riskyServicePrincipals", True),
        ):
            if enabled:
                select = RISK_SELECT + (",appId" if is_sp else "")
                items = await self._collect(
                    self._path(f"identityProtection/{collection}?$select={select}")
                )
                events = [
                    e
                    for item in items
                    for e in risky_principal_events(
                        item,
                        tenant_id=self.tenant_id,
                        minimum=opts.minimum_risk,
                        service_principal=is_sp,
                        now=now,
                    )
                ]
                await self._apply(report, collection, len(items), events)
        if opts.named_locations:
            items = await self._collect(self._path("identity/conditionalAccess/namedLocations"))
            await self._apply(
                report, "namedLocations", len(items), [location_event(items, now=now)]
            )
        if opts.policies and self._on_policies is not None:
            policies = await self._collect(self._path("identity/conditionalAccess/policies"))
            report.seen["policies"] = len(policies)
            self._on_policies(policies)
        self.last_report = report
        return report

    async def _collect(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        async for page in self.client.pages(path):
            items.extend(page.items)
        return items

    async def _apply(
        self, report: SyncReport, name: str, seen: int, events: Iterable[Event]
    ) -> None:
        changed = 0
        for event in events:
            changed += bool(await self.store.apply(event))
        report.seen[name] = report.seen.get(name, 0) + seen
        report.changed[name] = report.changed.get(name, 0) + changed

    async def _delta(
        self,
        report: SyncReport,
        name: str,
        initial: str,
        rule: Callable[..., tuple[Event, ...]],
        now: int,
    ) -> None:
        cursor = self.cursor_name(name)
        for attempt in range(2):
            start = await self.store.get_cursor(cursor) or initial
            try:
                async for page in self.client.pages(start):
                    events = [
                        e
                        for item in page.items
                        for e in rule(item, tenant_id=self.tenant_id, now=now)
                    ]
                    await self._apply(report, name, len(page.items), events)
                    if page.delta_link is not None:
                        # Only a complete round moves the cursor: an interrupted one restarts
                        # from the previous delta link and sees the same changes again.
                        await self.store.set_cursor(cursor, page.delta_link)
                return
            except DeltaReset:
                _log.warning("Graph %s delta state expired; full resync", name)
                report.resets += 1
                await self.store.set_cursor(cursor, None)
                if attempt:
                    raise

    async def run(self) -> None:
        """Synchronise every ``interval_seconds`` until cancelled; errors back off."""
        failures = 0
        while True:
            try:
                await self.sync_once()
                failures = 0
                delay = self.options.interval_seconds
            except (CAEError, httpx.HTTPError) as exc:
                # Any typed failure (Graph, the store, or the credential behind the bearer
                # token, e.g. TokenAcquisitionError while the IdP is away) is retried: a loop
                # that died here would stop revocations from Graph without a sign.
                failures += 1
                delay = min(self.options.interval_seconds * 5, 2.0**failures)
                _log.warning("Graph sync failed (%s); retrying in %.0fs", type(exc).__name__, delay)
            await asyncio.sleep(delay)
