"""Keep tokens, secrets, assertions and keys out of the logs of the libraries the client drives.

MSAL logs whole token responses in some failure paths (a body that is not JSON is logged at
ERROR, ``msal/oauth2cli/oauth2.py``; IMDS payloads at DEBUG, ``msal/managed_identity.py``), and
an application that turns on DEBUG logging for httpx or MSAL sees URLs and bodies. A
:class:`RedactingFilter` rewrites each record (message, arguments, exception and stack text)
before any handler sees it: JWT-shaped values, PEM private keys, ``Bearer``/``Basic``
credentials and the values of token, secret, assertion, code and password fields (form, JSON
and Python ``repr`` forms) become ``[redacted]``.

A logging filter only sees records created on the logger it is attached to, not those of its
children, and a library imported later creates loggers no filter was ever attached to (azure-core
and azure-identity are often imported after the credential is built). So
:func:`install_log_redaction` rewrites records where every record is made: it chains a record
factory (``logging.setLogRecordFactory``, the documented hook; the factory already in place is
kept and called first) that redacts each record of a watched logger, whenever that logger was
created. It also attaches a :class:`RedactingFilter` to every existing logger under the watched
names, in case an application later replaces the factory without chaining it; a record is
redacted once.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_RECORD_TEXT", "REDACTED", "RedactingFilter", "install_log_redaction", "redact"]

REDACTED = "[redacted]"

WATCHED_LOGGERS = (
    "msal",
    "httpx",
    "httpcore",
    "urllib3",
    "requests",
    "azure.identity",
    "azure.core",
    "cae_sdk",
)
"""Logger names (and their children) the filter is installed on."""

_FIELDS = (
    r"access_token|refresh_token|id_token|token|client_secret|client_assertion|assertion|"
    r"password|code|device_code|user_code|secret|private_key|key|authorization|"
    r"x-ms-token-aad-refresh-token|x-identity-header|identity_header|sig"
)
_NAME = rf"(?<![A-Za-z0-9_\-])(?:{_FIELDS})(?![A-Za-z0-9_\-])"

# "name": "value" / 'name': 'value' / name="value" (JSON, repr, headers); the value may be cut.
_QUOTED = re.compile(
    rf"""(?P<head>(?P<q1>["']?){_NAME}(?P=q1)\s*[:=]\s*(?:b)?(?P<q>["']))"""
    r"""(?P<value>(?:\\.|(?!(?P=q)).)*)""",
    re.IGNORECASE | re.DOTALL,
)
# name=value (forms, query strings) and name: value (headers) without quotes.
_BARE = re.compile(rf"""(?P<head>{_NAME}\s*(?:=|:\s))(?P<value>[^\s&"',;}})\]]+)""", re.IGNORECASE)
_SCHEME_CREDENTIAL = re.compile(r"(?P<head>\b(?:Bearer|Basic|PoP)\s+)(?P<value>[^\s\"',;]+)")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]{6,}(?:\.[A-Za-z0-9_\-]*)*")
_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)


def _keep_head(match: re.Match[str]) -> str:
    return match.group("head") + REDACTED


def redact(text: str) -> str:
    """``text`` with every secret-shaped value replaced by ``[redacted]``."""
    text = _PEM_KEY.sub(REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _SCHEME_CREDENTIAL.sub(_keep_head, text)
    text = _QUOTED.sub(_keep_head, text)
    return _BARE.sub(_keep_head, text)


MAX_RECORD_TEXT = 16 * 1024
"""Longer messages are cut before redaction (MSAL logs whole answers; a cut value is still
redacted: the patterns match values without their end)."""


def _clean(text: str) -> str:
    if len(text) > MAX_RECORD_TEXT:
        text = f"{text[:MAX_RECORD_TEXT]}... ({len(text) - MAX_RECORD_TEXT} characters cut)"
    return redact(text)


_DONE = "cae_sdk_redacted"  # set on a record once it has been rewritten


class RedactingFilter(logging.Filter):
    """Rewrites a record so no secret reaches a handler; never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        setattr(record, _DONE, True)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep what can be shown
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = _clean(message), ()
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None  # handlers print exc_text; the exception itself may hold a body
        if record.exc_text:
            record.exc_text = _clean(record.exc_text)
        if record.stack_info:
            record.stack_info = _clean(record.stack_info)
        return True


_FILTER = RedactingFilter()
_LOCK = threading.Lock()
_seen: tuple[int, int, tuple[str, ...]] | None = None  # what the last install covered
_watched: frozenset[str] = frozenset()  # every name any install asked for
_prefixes: tuple[str, ...] = ()  # their children: "name."


def _redacting_factory(
    previous: Callable[..., logging.LogRecord],
) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        name = record.name
        if name in _watched or name.startswith(_prefixes):
            _FILTER.filter(record)
        return record

    factory.cae_sdk_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction(names: tuple[str, ...] = WATCHED_LOGGERS) -> None:
    """Redact every record of the loggers ``names`` and their children, whenever created.

    Idempotent and cheap; credentials and adapters call it when they are built."""
    global _seen, _watched, _prefixes
    with _LOCK:
        if not set(names) <= _watched:
            _watched = _watched | set(names)
            _prefixes = tuple(f"{name}." for name in sorted(_watched))
        factory = logging.getLogRecordFactory()
        if not getattr(factory, "cae_sdk_redacting", False):
            logging.setLogRecordFactory(_redacting_factory(factory))
        # Nothing imported and no logger created since the last call: nothing new to cover.
        seen = (len(sys.modules), len(logging.root.manager.loggerDict), names)
        if seen == _seen:
            return
        _seen = seen
        existing = [
            name
            for name, logger in list(logging.root.manager.loggerDict.items())
            if isinstance(logger, logging.Logger)
        ]
        for name in (*names, *existing, *list(sys.modules)):
            if not any(name == watched or name.startswith(watched + ".") for watched in names):
                continue
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
