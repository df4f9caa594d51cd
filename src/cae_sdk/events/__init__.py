"""Events: values, stores, and the sources that feed them (Shared Signals, Graph, admin API)."""

from .memory import InMemoryEventStore
from .model import (
    WATERMARK_TTL_SECONDS,
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_dict,
    event_to_dict,
)
from .sqlite import SQLiteEventStore
from .store import EventStore, EventStoreMixin

__all__ = [
    "WATERMARK_TTL_SECONDS",
    "Event",
    "EventStore",
    "EventStoreMixin",
    "InMemoryEventStore",
    "LocationsEvent",
    "RevocationEvent",
    "RiskEvent",
    "RiskLevel",
    "SQLiteEventStore",
    "event_from_dict",
    "event_to_dict",
]
