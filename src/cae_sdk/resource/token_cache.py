"""Validated-token cache: a bounded LRU keyed by a SHA-256 of the token.

A token whose signature and claims were verified once is not verified again until it expires;
revocation, location and policies are still evaluated on every request. The token itself is
never kept, only its digest. Entries die at the token's ``exp`` (no leeway), never later.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ..core.tokens import TokenClaims

__all__ = ["TokenCache"]


class TokenCache:
    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[bytes, tuple[TokenClaims, float]] = OrderedDict()
        self._max_entries = max_entries

    @staticmethod
    def key(token: str) -> bytes:
        # Any str hashes (a bad token is refused later by the parser, never here).
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()

    def get(self, key: bytes, now: float) -> TokenClaims | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        claims, expires = entry
        if now >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return claims

    def put(self, key: bytes, claims: TokenClaims, expires: float) -> None:
        if self._max_entries <= 0:
            return
        self._entries[key] = (claims, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
