"""A Redis store's watermarks a page at a time: ``SCAN`` over the ``wm:`` keys from a cursor,
then one pipeline of ``HGET`` for the page; nothing else is read or held.

The page cursor is Redis' own ``SCAN`` cursor, so it is valid on every replica, plus the keys
the last ``SCAN`` step returned beyond the page: a step returns whole hash table buckets and
can pass its ``COUNT`` by a few keys, which then start the next page rather than being lost.
``SCAN``'s guarantee carries over (https://redis.io/docs/latest/commands/scan/, "Scan
guarantees"): a watermark present from the first page to the last is listed at least once; it
may be listed twice. A keyspace holding mostly other keys (``once:``, ``risk:``) gives short
pages: a page takes at most ``_PAGE_SCANS`` steps, each under the store's deadline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._model import RevocationEvent, event_from_json
from ._redis_sync import hget_events, scan_step
from ._store import WatermarkPage, decode_page_cursor, encode_page_cursor, page_limit

if TYPE_CHECKING:  # pragma: no cover
    from .redis import RedisEventStore

__all__ = ["watermark_page"]

_PAGE_SCANS = 16
_KIND = "wm:"
_SCAN_END = 2**64  # SCAN cursors are unsigned 64-bit: Redis refuses a larger one with an error


async def watermark_page(store: RedisEventStore, limit: int, cursor: str | None) -> WatermarkPage:
    """:meth:`~cae_sdk.events.EventStore.watermark_page` for ``store``, read from Redis."""
    limit = page_limit(limit)
    scan, carried = _position(cursor)
    prefix = store.prefix
    keys = [prefix + key for key in carried]
    pattern = store.keys.watermark_pattern
    for _ in range(_PAGE_SCANS):
        if scan is None or len(keys) >= limit:
            break
        next_scan, found = await store._command(scan_step(scan, pattern, limit - len(keys)))
        scan = int(next_scan) or None  # 0: the SCAN is complete
        keys.extend(key for key in map(_text, found) if key.startswith(prefix + _KIND))
    page, left = keys[:limit], keys[limit:]
    replies = await store._command(hget_events(page)) if page else []
    cutoff = store._clock() - store._ttl
    watermarks = []
    for raw in replies:
        event = None if isinstance(raw, Exception) else event_from_json(raw)
        if isinstance(event, RevocationEvent) and event.not_before >= cutoff:
            watermarks.append((event.subject, event.not_before))
    if scan is None and not left:
        return WatermarkPage(tuple(watermarks), None)
    position = [scan, [key[len(prefix) :] for key in left]]
    return WatermarkPage(tuple(watermarks), encode_page_cursor(position))


def _position(cursor: str | None) -> tuple[int | None, list[str]]:
    """(``SCAN`` cursor, None once complete; keys left over, relative to the prefix)."""
    if cursor is None:
        return 0, []
    value = decode_page_cursor(cursor)
    if isinstance(value, list) and len(value) == 2:
        scan, left = value
        # Checked here: Redis' answer to a cursor it refuses is an error, which the store
        # takes for a lost link (the replica unhealthy) like any other.
        scan_ok = scan is None or (type(scan) is int and 0 < scan < _SCAN_END)
        left_ok = isinstance(left, list) and all(
            isinstance(key, str) and key.startswith(_KIND) for key in left
        )
        if scan_ok and left_ok and (scan is not None or left):
            return scan, left
    raise ValueError("not a page cursor of this store")


def _text(key: Any) -> str:
    """A key as text; one that is not UTF-8 is no key of ours (never matches the prefix)."""
    if isinstance(key, bytes):
        try:
            return key.decode()
        except UnicodeDecodeError:
            return ""
    return str(key)
