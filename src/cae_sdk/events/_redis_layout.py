"""How events are laid out in Redis, and the one script that writes them (pure, no I/O).

Keys: ``<prefix>wm:<subject>`` (newest watermark, expires with the watermark lifetime),
``<prefix>risk:<subject>``, ``<prefix>locations``; each a hash ``{order, event}``. Channel:
``<prefix>events``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .model import Event, RevocationEvent, RiskEvent, RiskLevel, event_to_dict

__all__ = ["WRITE_SCRIPT", "RedisWrite", "write_for"]

# KEYS[1] state key; ARGV: 1 order value, 2 TTL seconds (0 = keep), 3 event JSON, 4 channel,
# 5 "strict" (watermarks: only a strictly newer value wins) or "newer" (risk, locations: a newer
# or equally new, different event wins). State and publication happen in one atomic step.
WRITE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'order')
if current then
  local cur, new = tonumber(current), tonumber(ARGV[1])
  if cur > new then return 0 end
  if cur == new and (ARGV[5] == 'strict' or redis.call('HGET', KEYS[1], 'event') == ARGV[3]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'order', ARGV[1], 'event', ARGV[3])
if tonumber(ARGV[2]) > 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
else
  redis.call('PERSIST', KEYS[1])
end
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class RedisWrite:
    key: str
    args: list[str | int]
    """ARGV of :data:`WRITE_SCRIPT`: order, TTL, event JSON, channel, comparison."""


def write_for(
    event: Event, prefix: str, channel: str, watermark_ttl: int, *, now: float
) -> RedisWrite | None:
    """The script call that records ``event``; None when it is already past its lifetime."""
    payload = json.dumps(event_to_dict(event), separators=(",", ":"))
    if isinstance(event, RevocationEvent):
        remaining = int(event.not_before + watermark_ttl - now)
        if remaining < 0:
            return None
        ttl = max(remaining, 1)  # 0 would mean "keep forever"
        key, order, comparison = f"{prefix}wm:{event.subject}", event.not_before, "strict"
    elif isinstance(event, RiskEvent):
        # A risk back to "none" is kept for a watermark lifetime so that a late, older "high"
        # cannot resurrect it; a real risk level stays until it changes.
        ttl = watermark_ttl if event.level is RiskLevel.NONE else 0
        key, order, comparison = f"{prefix}risk:{event.subject}", event.at, "newer"
    else:
        ttl, key, order, comparison = 0, f"{prefix}locations", event.at, "newer"
    return RedisWrite(key, [order, ttl, payload, channel, comparison])
