"""Events: values, stores, and the sources that feed them (Shared Signals, Graph, admin API)."""

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
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
from ._store import MAX_WATERMARK_PAGE, EventStore, EventStoreMixin, WatermarkPage

if TYPE_CHECKING:  # pragma: no cover
    from ._admin import AdminApp
    from ._incidents import RemediationTracker
    from ._sinks import AuditLog, WebhookNotifier
    from ._workflows import Workflows, graph_session_revoker
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
    "AuditLog": "._sinks",
    "DirectorySubjectResolver": ".ssf",
    "GraphBridge": ".graph",
    "GraphBridgeOptions": ".graph",
    "GraphClient": ".graph",
    "PollClient": ".ssf",
    "PushReceiverApp": ".ssf",
    "RedisEventStore": ".redis",
    "RemediationTracker": "._incidents",
    "SetDecoder": ".ssf",
    "SetReceiver": ".ssf",
    "SetValidationConfig": ".ssf",
    "StreamClient": ".ssf",
    "TransmitterKeys": ".ssf",
    "WebhookNotifier": "._sinks",
    "Workflows": "._workflows",
    "graph_session_revoker": "._workflows",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "MAX_WATERMARK_PAGE",
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
    "WatermarkPage",
    "WebhookNotifier",
    "Workflows",
    "event_from_dict",
    "event_to_dict",
    "graph_session_revoker",
]
