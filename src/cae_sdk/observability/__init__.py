"""Observability: structured log fields and optional Prometheus metrics."""

from ._logfields import FIELDS_ATTRIBUTE, JSONLogFormatter, log_fields
from ._metrics import PrometheusMetrics

__all__ = ["FIELDS_ATTRIBUTE", "JSONLogFormatter", "PrometheusMetrics", "log_fields"]
