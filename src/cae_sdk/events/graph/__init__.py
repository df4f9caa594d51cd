"""Entra Graph bridge: directory changes (delta queries) and risk as CAE events."""

from ._bridge import GraphBridge, GraphBridgeOptions, SyncReport
from ._client import DeltaReset, GraphClient, GraphPage
from ._diff import (
    location_event,
    parse_graph_time,
    risky_principal_events,
    service_principal_events,
    user_events,
)

__all__ = [
    "DeltaReset",
    "GraphBridge",
    "GraphBridgeOptions",
    "GraphClient",
    "GraphPage",
    "SyncReport",
    "location_event",
    "parse_graph_time",
    "risky_principal_events",
    "service_principal_events",
    "user_events",
]
