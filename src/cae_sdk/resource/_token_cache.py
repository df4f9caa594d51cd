"""Validated-token cache: a bounded LRU keyed by the token itself (or by the whole
``Authorization`` header value it came in, the request path's key: bytes compared in full, as
the string would be).

A token whose signature and claims were verified once is not verified again until it expires;
revocation, location and policies are still evaluated on every request. The key is the token
string: a dictionary compares keys in full, so only the very token that was verified finds its
entry (nothing to compute per request but the string's hash, no digest collision to reason
about). Entries die at the token's ``exp`` (no leeway), never later, and with the signing key
they were verified with: each entry remembers that key's RFC 7638 thumbprint, and a lookup given
the thumbprints of the current key set drops an entry whose key was withdrawn (one set lookup,
O(1)). At most ``max_entries`` are kept, the least recently used leaving first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container

from ..core.tokens import TokenClaims

__all__ = ["TokenCache"]


class TokenCache:
    """Validated tokens, least recently used first out (at most ``max_entries``); an entry dies
    at the token's ``exp`` or when its signing key is gone."""

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str | bytes, tuple[TokenClaims, float, str]] = OrderedDict()
        self._max_entries = max_entries

    def get(
        self, token: str | bytes, now: float, signing_keys: Container[str] | None = None
    ) -> TokenClaims | None:
        """The claims cached for ``token``, unless expired at ``now`` or, when
        ``signing_keys`` (thumbprints of the current key set) is given, verified with a key
        that is no longer in it."""
        entries = self._entries
        entry = entries.get(token)
        if entry is None:
            return None
        claims, expires, thumbprint = entry
        if now >= expires or (signing_keys is not None and thumbprint not in signing_keys):
            entries.pop(token, None)  # another thread may have removed it meanwhile
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs more on the warm path
            entries.move_to_end(token)
        except KeyError:  # evicted or dropped by another thread since the get: still valid
            pass
        return claims

    def put(
        self, token: str | bytes, claims: TokenClaims, expires: float, thumbprint: str = ""
    ) -> None:
        """Cache ``claims`` until ``expires``; ``thumbprint`` names the key that verified them."""
        if self._max_entries <= 0:
            return
        self._entries[token] = (claims, expires, thumbprint)
        self._entries.move_to_end(token)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
