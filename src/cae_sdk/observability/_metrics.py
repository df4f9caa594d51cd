"""Optional Prometheus metrics (the ``metrics`` extra: ``pip install cae-sdk[metrics]``).

The metrics attach to seams that already exist rather than to every module: the middleware's
``on_decision`` hooks (decisions and challenges), an event store's ``subscribe`` (events and
propagation lag), and key sources' refresh callbacks. Nothing here is on the request path unless
attached, and without ``prometheus-client`` installed nothing is imported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.decisions import Outcome
from ..core.errors import ConfigurationError
from ..events._model import Event, LocationsEvent, RevocationEvent

if TYPE_CHECKING:  # pragma: no cover
    from ..events._store import EventStore
    from ..keys._source import KeySource
    from ..resource._middleware import AccessRecord

__all__ = ["PrometheusMetrics"]

# Propagation lag runs from milliseconds (the Redis stream) to minutes (Graph polling).
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900)


class PrometheusMetrics:
    """Counters and histograms for CAE decisions, challenges, events, propagation lag and
    key-set refreshes.

    ``registry`` defaults to prometheus-client's global registry; pass a
    ``CollectorRegistry()`` to keep several instances apart (tests, several apps per process).
    """

    def __init__(
        self,
        *,
        registry: Any = None,
        namespace: str = "cae",
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import prometheus_client as prom
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise ConfigurationError(
                "PrometheusMetrics needs prometheus-client: pip install 'cae-sdk[metrics]'"
            ) from None
        if registry is None:
            registry = prom.REGISTRY
        self.registry = registry
        self._prom = prom
        self._clock = clock
        self.decisions = prom.Counter(
            f"{namespace}_decisions_total",
            "Access decisions by outcome and reason.",
            ["outcome", "reason"],
            registry=registry,
        )
        self.challenges = prom.Counter(
            f"{namespace}_challenges_total",
            "Claims challenges sent to CAE-capable clients, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events = prom.Counter(
            f"{namespace}_events_total",
            "Events that changed the store's state, by type and source.",
            ["type", "source"],
            registry=registry,
        )
        self.propagation_lag = prom.Histogram(
            f"{namespace}_event_propagation_lag_seconds",
            "From the revocation or risk time an event carries to this replica applying it.",
            ["type"],
            buckets=_LAG_BUCKETS,
            registry=registry,
        )
        self.store_staleness = prom.Gauge(
            f"{namespace}_event_store_staleness_seconds",
            "Seconds since the event store last knew it had every event (+Inf while it cannot"
            " tell); above the store's max_staleness the fail mode applies.",
            registry=registry,
        )
        self.store_healthy = prom.Gauge(
            f"{namespace}_event_store_healthy",
            "1 while the event store is healthy (connected, caught up, not stale), else 0.",
            registry=registry,
        )
        self.key_set_refreshes = prom.Counter(
            f"{namespace}_key_set_refreshes_total",
            "Key-set (JWKS) fetches by issuer and result.",
            ["issuer", "result"],
            registry=registry,
        )

    # -- decisions (CAEMiddleware(on_decision=[metrics.on_decision])) -------------------------

    def on_decision(self, record: AccessRecord) -> None:
        decision = record.decision
        self.decisions.labels(decision.outcome.value, decision.reason.value).inc()
        claims = record.claims
        if decision.outcome is Outcome.CHALLENGE and claims is not None and claims.cae_capable:
            self.challenges.labels(decision.reason.value).inc()

    # -- events (metrics.observe_store(store)) -------------------------------------------------

    def observe_store(self, store: EventStore) -> Callable[[], None]:
        """Count every state-changing event of ``store`` (from any replica), observe its
        propagation lag, and export its staleness and health (read at scrape time); returns
        the unsubscribe function."""
        self.store_staleness.set_function(store.staleness)
        self.store_healthy.set_function(lambda: 1.0 if store.healthy else 0.0)
        return store.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, RevocationEvent):
            kind, at = "revocation", event.not_before
        elif isinstance(event, LocationsEvent):
            kind, at = "locations", event.at
        else:
            kind, at = "risk", event.at
        self.events.labels(kind, event.source).inc()
        self.propagation_lag.labels(kind).observe(max(0.0, self._clock() - at))

    # -- key sets --------------------------------------------------------------------------------

    def key_set_refreshed(self, issuer: str, ok: bool) -> None:
        self.key_set_refreshes.labels(issuer, "ok" if ok else "failed").inc()

    def observe_key_source(self, source: KeySource) -> None:
        """Count every JWKS fetch of ``source`` (e.g. ``validator.keys``, or an SSF receiver's
        transmitter keys)."""
        source.on_refresh(self.key_set_refreshed)

    # -- exposition ------------------------------------------------------------------------------

    def asgi_app(self) -> Any:
        """An ASGI app serving the text exposition format (mount it at ``/metrics``)."""
        return self._prom.make_asgi_app(registry=self.registry)

    def render(self) -> bytes:
        return bytes(self._prom.generate_latest(self.registry))
