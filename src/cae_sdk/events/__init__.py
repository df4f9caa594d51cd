"""Events: values, stores, and the sources that feed them (Shared Signals, Graph, admin API)."""

import importlib
from typing import TYPE_CHECKING, Any

from ._memory import InMemoryEventStore
from ._model import (
    WATERMARK_TTL_SECONDS,
    Event,
    LocationsEvent,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_from_dict,
    event_to_dict,
)
from ._sqlite import SQLiteEventStore
from ._store import EventStore, EventStoreMixin

if TYPE_CHECKING:  # pragma: no cover
    from ._admin import AdminApp
    from ._workflows import AuditLog, RemediationTracker, WebhookNotifier, Workflows
    from .graph import GraphBridge, GraphBridgeOptions, GraphClient
    from .redis import RedisEventStore
    from .ssf import (
        DirectorySubjectResolver,
        PollClient,
        PushReceiverApp,
        SetDecoder,
        SetReceiver,
        SetValidationConfig,
        StreamClient,
        TransmitterKeys,
    )

# Adapters load on first use: ``redis`` is an optional extra, and the receivers pull in httpx.
_LAZY = {
    "AdminApp": "._admin",
    "AuditLog": "._workflows",
    "DirectorySubjectResolver": ".ssf",
    "GraphBridge": ".graph",
    "GraphBridgeOptions": ".graph",
    "GraphClient": ".graph",
    "PollClient": ".ssf",
    "PushReceiverApp": ".ssf",
    "RedisEventStore": ".redis",
    "RemediationTracker": "._workflows",
    "SetDecoder": ".ssf",
    "SetReceiver": ".ssf",
    "SetValidationConfig": ".ssf",
    "StreamClient": ".ssf",
    "TransmitterKeys": ".ssf",
    "WebhookNotifier": "._workflows",
    "Workflows": "._workflows",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "WATERMARK_TTL_SECONDS",
    "AdminApp",
    "AuditLog",
    "DirectorySubjectResolver",
    "Event",
    "EventStore",
    "EventStoreMixin",
    "GraphBridge",
    "GraphBridgeOptions",
    "GraphClient",
    "InMemoryEventStore",
    "LocationsEvent",
    "PollClient",
    "PushReceiverApp",
    "RedisEventStore",
    "RemediationTracker",
    "RevocationEvent",
    "RiskEvent",
    "RiskLevel",
    "SQLiteEventStore",
    "SetDecoder",
    "SetReceiver",
    "SetValidationConfig",
    "StreamClient",
    "TransmitterKeys",
    "WebhookNotifier",
    "Workflows",
    "event_from_dict",
    "event_to_dict",
]
