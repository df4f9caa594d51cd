"""How events are laid out in Redis, and the one script that writes them (pure, no I/O).

Keys under the store's prefix:

* ``wm:<subject>``, ``risk:<subject>``, ``locations``: the state, one hash ``{ord, event}`` each
  (``ord`` is :func:`~cae_sdk.events._model.order_key`). A watermark expires with its retention;
  a risk cleared to "none" is kept for a retention so that a late, older report cannot
  resurrect it; other risk levels and the locations stay until they change.
* ``stream``: a Redis stream, one entry ``{e: <event JSON>}`` per change of state, trimmed by age
  (``MINID``) to the watermark retention. Replicas read it from their last entry id.
* ``meta``: ``{epoch}``, a random value created once: when it is missing or different, Redis lost
  its data (a restart without persistence) and every replica writes its state back.
* ``once:<key>`` (``remember_once``), ``cursor:<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._model import (
    Event,
    RevocationEvent,
    RiskEvent,
    RiskLevel,
    event_time,
    event_to_json,
    order_key,
    state_key,
)

__all__ = [
    "WRITE_SCRIPT",
    "Catchup",
    "RedisKeys",
    "RedisWrite",
    "StreamId",
    "plan_catchup",
    "stream_info",
    "write_for",
]

# KEYS[1] state key, KEYS[2] stream. ARGV: 1 order key (fixed-width lowercase hex), 2 TTL seconds
# (0 = keep), 3 event JSON, 4 stream retention in seconds, 5 event time (decimal; only to compare
# with a hash written by cae-sdk 0.1, which kept the time alone in ``order``).
# Returns the new stream entry id when the event became the state, else false. The state and the
# stream entry are written in one atomic step: a replica that reads the stream misses nothing.
# XADD ... MINID ~ <ms>: entries with lower ids (older than the retention) are trimmed, whole
# macro nodes at a time (redis.io/commands/xadd and /commands/xtrim; MINID needs Redis 6.2).
# Scripts are replicated by their effects (Redis 7 default), so TIME is safe to call here.
WRITE_SCRIPT = """
local function greater(a, b)
  -- Both are fixed-width lowercase hex of one kind: compare 12 digits (48 bits) at a time as
  -- numbers, which is byte order without depending on the server's collation locale.
  if #a ~= #b then return #a > #b end
  for i = 1, #a, 12 do
    local x, y = tonumber(string.sub(a, i, i + 11), 16), tonumber(string.sub(b, i, i + 11), 16)
    if x ~= y then return x > y end
  end
  return false
end
local current = redis.call('HGET', KEYS[1], 'ord')
if current then
  if not greater(ARGV[1], current) then return false end
else
  local legacy = redis.call('HGET', KEYS[1], 'order')
  if legacy and tonumber(ARGV[5]) <= tonumber(legacy) then return false end
end
redis.call('HSET', KEYS[1], 'ord', ARGV[1], 'event', ARGV[3])
redis.call('HDEL', KEYS[1], 'order')
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
else
  redis.call('PERSIST', KEYS[1])
end
local now = redis.call('TIME')
local minid = string.format('%d', math.max(0, tonumber(now[1]) - tonumber(ARGV[4])) * 1000)
return redis.call('XADD', KEYS[2], 'MINID', '~', minid, '*', 'e', ARGV[3])
"""


_GLOB = frozenset("*?[]\\")  # special in Redis glob-style patterns


@dataclass(frozen=True, slots=True)
class RedisKeys:
    """Every key of one store, from its prefix."""

    prefix: str

    @property
    def stream(self) -> str:
        return f"{self.prefix}stream"

    @property
    def meta(self) -> str:
        return f"{self.prefix}meta"

    def state(self, event: Event) -> str:
        return self.prefix + state_key(event)

    def once(self, key: str) -> str:
        return f"{self.prefix}once:{key}"

    def cursor(self, name: str) -> str:
        return f"{self.prefix}cursor:{name}"

    @property
    def state_patterns(self) -> tuple[str, str]:
        return self.watermark_pattern, f"{self.pattern_prefix}risk:*"

    @property
    def watermark_pattern(self) -> str:
        """``SCAN MATCH`` pattern of the watermark keys."""
        return f"{self.pattern_prefix}wm:*"

    @property
    def pattern_prefix(self) -> str:
        """The prefix as a literal in a ``SCAN MATCH`` pattern: a prefix holding ``*``, ``?`` or
        ``[`` matched another deployment's keys (loaded as ours, deleted by ``clear()``)."""
        return "".join("\\" + c if c in _GLOB else c for c in self.prefix)

    @property
    def locations(self) -> str:
        return f"{self.prefix}locations"


@dataclass(frozen=True, slots=True)
class RedisWrite:
    keys: list[str]
    args: list[str | int]
    """ARGV of :data:`WRITE_SCRIPT`: order key, TTL, event JSON, stream retention, time."""


def write_for(event: Event, keys: RedisKeys, retention: int, *, now: float) -> RedisWrite | None:
    """The script call that records ``event``; None when it is already past its retention."""
    payload = event_to_json(event)
    if isinstance(event, RevocationEvent):
        remaining = int(event.not_before + retention - now)
        if remaining < 0:
            return None
        ttl = max(remaining, 1)  # 0 would mean "keep forever"
    elif isinstance(event, RiskEvent):
        ttl = retention if event.level is RiskLevel.NONE else 0
    else:
        ttl = 0
    return RedisWrite(
        [keys.state(event), keys.stream],
        [order_key(event), ttl, payload, retention, event_time(event)],
    )


@dataclass(frozen=True, slots=True, order=True)
class StreamId:
    """A stream entry id ``<ms>-<seq>``, ordered as Redis orders them."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, raw: bytes | str) -> StreamId:
        text = raw.decode() if isinstance(raw, bytes) else raw
        ms, _, seq = text.partition("-")
        return cls(int(ms), int(seq or 0))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO_ID = StreamId(0, 0)


def stream_info(raw: Mapping[Any, Any]) -> tuple[StreamId, StreamId | None, StreamId | None]:
    """(last generated id, first entry id, max deleted entry id) from an ``XINFO STREAM`` reply
    as redis-py returns it; the last two are None when empty or unknown (Redis before 7.0)."""
    fields = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in raw.items()}
    last = StreamId.parse(fields.get("last-generated-id") or "0-0")
    first_entry = fields.get("first-entry")
    first = StreamId.parse(first_entry[0]) if first_entry else None
    deleted_raw = fields.get("max-deleted-entry-id")
    deleted = StreamId.parse(deleted_raw) if deleted_raw else None
    return last, first, deleted


@dataclass(frozen=True, slots=True)
class Catchup:
    """How a replica that (re)connects gets back to a complete state."""

    write_back: bool
    """Redis lost data this replica holds: write the local state back first."""
    snapshot: bool
    """Read the whole state (then follow the stream from ``position``)."""
    position: StreamId
    """Where to follow the stream from."""
    reason: str


def plan_catchup(
    *,
    seen: StreamId | None,
    written: StreamId | None,
    our_epoch: str | None,
    epoch: str,
    last: StreamId,
    first: StreamId | None,
    deleted: StreamId | None,
    away: float,
    retention: int,
    seen_present: bool | None = None,
    written_present: bool | None = None,
) -> Catchup:
    """Decide from what Redis reports, read before any state is.

    ``seen``: the last entry this replica applied (None: never synced); ``written``: the newest
    entry this replica wrote; ``our_epoch``/``epoch``: the data epoch it knew / Redis has now;
    ``last``, ``first``, ``deleted``: the stream's last generated id, first entry id and max
    deleted entry id (:func:`stream_info`); ``away``: seconds since this replica last read the
    stream to its end; ``retention``: the stream's trimming age. A replica away for about a
    retention whose position is older than the first entry reloads even if the entry just
    after it was the first one kept: rare and safe. The snapshot position is ``last`` as read
    *before* the snapshot: entries committed meanwhile are applied twice, which the ordering
    rule makes harmless, and none is skipped.
    """
    if seen is None or our_epoch is None:
        return Catchup(False, True, last, "first sync")
    newest = max(seen, written or ZERO_ID)
    if epoch != our_epoch:
        return Catchup(True, True, last, "Redis lost its data (new epoch)")
    if last < newest:
        # A failover to a replica that had not received the newest writes, or a restore from an
        # older backup: entries this replica saw are gone from Redis.
        return Catchup(True, True, last, "Redis lost recent entries")
    # The write script trims entries older than the retention (MINID). Everything we have not
    # read was written after we last caught up, so none of it can be that old yet if we were
    # away for less than the retention (less a margin for clock differences).
    recent = away < retention - min(600.0, retention / 2)
    # A Redis that came back with an older copy of its data (a failover that dropped the newest
    # writes, a restore from a backup) keeps its epoch, and once another replica has written
    # again its last id is past ours: "last < newest" no longer tells. The entries themselves
    # do: an entry we read or wrote that is gone, though trimming cannot explain it, was lost
    # with the data it recorded. Trimming runs with an XADD and removes ids older than that
    # XADD's time less the retention, so it never reaches an entry within a retention of the
    # last id, nor one at or after the first entry left (ids are Redis' own clock, ours is not
    # needed). The stream is replicated in order: if anything we read was lost, our last was.
    for entry, present in ((seen, seen_present), (written, written_present)):
        if present is False and entry is not None and entry != ZERO_ID:
            young = entry.ms >= last.ms - retention * 1000
            if young or (first is not None and first <= entry):
                return Catchup(True, True, last, "Redis lost entries this replica saw or wrote")
    if deleted is not None and deleted > seen:
        return Catchup(False, True, last, "an entry after our position was deleted")
    if recent:
        return Catchup(False, False, seen, "resume")
    # Away about a retention or more: if the first entry left is past our position, or none is
    # left though some came after it, we may have missed some. (Trimming does not move
    # Redis' max-deleted-entry-id; the first entry is what tells.)
    if (first is not None and first > seen) or (first is None and last > seen):
        return Catchup(False, True, last, "position trimmed away")
    return Catchup(False, False, seen, "resume")
