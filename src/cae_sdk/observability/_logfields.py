"""Structured log fields: every cae-sdk log line that matters carries a ``cae`` mapping.

Callers pass ``extra=log_fields(event="refusal", reason=..., oid=...)``; plain formatters ignore
it, :class:`JSONLogFormatter` writes it out. Fields are chosen by the caller and never include a
token, a secret or a private key: only reasons, identifiers (``oid``, ``tid``, ``jti``) and
numbers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["FIELDS_ATTRIBUTE", "JSONLogFormatter", "log_fields"]

FIELDS_ATTRIBUTE = "cae"
"""The log record attribute that carries the structured fields (``record.cae``)."""


def log_fields(**fields: Any) -> dict[str, dict[str, Any]]:
    """The ``extra=`` argument that attaches ``fields`` to a log record (``None`` values are
    dropped so absent identifiers do not clutter the output)."""
    return {FIELDS_ATTRIBUTE: {k: v for k, v in fields.items() if v is not None}}


class JSONLogFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message`` and the record's
    ``cae`` fields, for log pipelines that index fields rather than parse text."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, separators=(",", ":"))
