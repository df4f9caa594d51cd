"""What a claims challenge demands of a token, so different challenges can share one token.

A revocation challenge asks for ``{"access_token":{"nbf":{"essential":true,"value":"T"}}}``:
"do not present a token issued before T" (Microsoft identity platform docs, "Claims
challenges, claims requests and client capabilities"; OpenID Connect Core 1.0 section 5.5 for
the claims request syntax). Any token issued at or after the newest ``T`` asked for therefore
answers every such challenge, whatever its exact ``T``. A :class:`Demand` splits a claims request
into that ``nbf`` and the rest (its *shape*): challenges of one shape are answered by one token
whose coverage (the ``nbf`` it was requested with, or its own ``iat`` when the token is a
readable JWT) reaches their ``nbf``. Pure functions: text in, values out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.claims import parse_claims_request, requested_nbf
from ..core.errors import CAEError
from ..core.tokens import decode_unverified

__all__ = ["Demand", "demand_of", "token_coverage"]


@dataclass(frozen=True, slots=True)
class Demand:
    """A claims request as ``shape`` (canonical JSON without ``access_token.nbf``) and ``nbf``."""

    shape: str
    nbf: int | None
    text: str
    """The claims request as challenged."""
    _request: Mapping[str, Any]

    def claims(self, nbf: int | None) -> str:
        """The claims request of this shape asking for ``nbf`` (``None``: as challenged)."""
        if nbf is None or self.nbf is None or nbf == self.nbf:
            return self.text
        request = copy.deepcopy(dict(self._request))
        request["access_token"]["nbf"]["value"] = str(nbf)
        return json.dumps(request, separators=(",", ":"))


def _canonical(claims: Mapping[str, Any]) -> str:
    return json.dumps(claims, separators=(",", ":"), sort_keys=True)


def demand_of(claims: str) -> Demand:
    """Split a claims request (JSON text, as challenged). A request that cannot be parsed is
    its own shape: it shares a token with nothing else."""
    try:
        request = parse_claims_request(claims)
    except CAEError:
        return Demand(claims, None, claims, {})
    nbf = requested_nbf(request)
    if nbf is None:
        return Demand(_canonical(request), None, claims, request)
    shape = copy.deepcopy(request)
    del shape["access_token"]["nbf"]
    return Demand(_canonical(shape), nbf, claims, request)


def token_coverage(token: str, requested: int | None) -> int | None:
    """The newest ``nbf`` a token answers: its ``iat`` when it is a readable JWT (the resource
    compares exactly that), else the ``nbf`` it was requested with."""
    try:
        _, payload = decode_unverified(token)
    except CAEError:
        return requested
    iat = payload.get("iat")
    if isinstance(iat, int) and not isinstance(iat, bool):
        return iat  # the truth, even when older than the nbf asked for
    return requested
