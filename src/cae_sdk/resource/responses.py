"""Refusals as HTTP responses: status, ``WWW-Authenticate`` and a JSON body.

* ``challenge`` to a cp1 client: 401 + Entra-format claims challenge (PROTOCOL.md section 2);
* ``challenge`` to any other client and bad tokens: 401 ``invalid_token`` (RFC 6750 section 3.1);
* missing scopes/roles: 403 ``insufficient_scope``; blocks: 403 ``access_denied``;
* a malformed ``Authorization`` header: 400 ``invalid_request``; no credentials: 401 without an
  error code (RFC 6750 section 3.1);
* signing keys unavailable: 503, so clients do not throw good tokens away.

Every body is ``{"error", "error_description", "reason"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core.challenges import build_bearer_error, build_claims_challenge
from ..core.decisions import Decision, Outcome, Reason
from ..core.tokens import TokenClaims

__all__ = ["Refusal", "refusal_for_decision", "refusal_for_token_error"]


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error: str
    description: str
    reason: str
    www_authenticate: str | None

    def body(self) -> bytes:
        return json.dumps(
            {"error": self.error, "error_description": self.description, "reason": self.reason},
            separators=(",", ":"),
        ).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        body_length = str(len(self.body())).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", body_length),
            (b"cache-control", b"no-store"),
        ]
        if self.www_authenticate is not None:
            headers.append((b"www-authenticate", self.www_authenticate.encode("latin-1")))
        return headers


def refusal_for_token_error(reason: str, description: str, *, realm: str | None) -> Refusal:
    """The response for a request whose token could not be accepted."""
    if reason == "missing_token":
        return Refusal(
            401, "unauthorized", description, Reason.MISSING_TOKEN.value, _bare_bearer(realm)
        )
    if reason == "invalid_request":
        header = build_bearer_error("invalid_request", description=description, realm=realm)
        return Refusal(400, "invalid_request", description, reason, header)
    if reason == "keys_unavailable":
        return Refusal(503, "temporarily_unavailable", description, reason, None)
    header = build_bearer_error("invalid_token", description=description, realm=realm)
    return Refusal(401, "invalid_token", description, reason, header)


def _bare_bearer(realm: str | None) -> str:
    return build_bearer_error(realm=realm)


def refusal_for_decision(
    decision: Decision,
    claims: TokenClaims,
    *,
    authorization_uri: str,
    realm: str | None,
) -> Refusal:
    """The response for a refused decision about a validly signed token."""
    reason = decision.reason.value
    description = decision.description or reason
    if decision.outcome is Outcome.CHALLENGE:
        if claims.cae_capable and decision.claims is not None:
            tenant = claims.tenant_id or "common"
            header = build_claims_challenge(
                decision.claims,
                authorization_uri=authorization_uri.replace("{tenantid}", tenant),
                realm=realm or "",
                error_description=reason,
            )
            return Refusal(401, "insufficient_claims", description, reason, header)
        header = build_bearer_error("invalid_token", description=reason, realm=realm)
        return Refusal(401, "invalid_token", description, reason, header)
    if decision.reason is Reason.INSUFFICIENT_SCOPE or decision.reason is (
        Reason.AUTH_CONTEXT_REQUIRED
    ):
        header = build_bearer_error("insufficient_scope", description=reason, realm=realm)
        return Refusal(403, "insufficient_scope", description, reason, header)
    if decision.reason is Reason.STORE_UNAVAILABLE:
        header = build_bearer_error("invalid_token", description=reason, realm=realm)
        return Refusal(401, "invalid_token", description, reason, header)
    return Refusal(403, "access_denied", description, reason, None)
