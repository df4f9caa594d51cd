"""Entra Graph bridge: directory changes (delta queries) and risk as CAE events."""

from .bridge import GraphBridge, GraphBridgeOptions, SyncReport
from .client import DeltaReset, GraphClient, GraphPage
from .diff import (
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
