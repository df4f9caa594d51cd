"""Refusals as HTTP responses: status, ``WWW-Authenticate`` and a JSON body.

ONE function, :func:`refusal_for_decision`, turns every refused :class:`Decision` into a
response; the body's ``reason`` is ``decision.reason.value``, the string the log record, the
``on_decision`` hooks and the metrics label carry too.

* ``challenge`` to a cp1 client: 401 + Entra-format claims challenge (Microsoft identity platform,
  "Claims challenges, claims requests and client capabilities"), with ``cc_type="authcontext"``
  when it asks for an authentication context;
* ``challenge`` to any other client and bad tokens: 401 ``invalid_token`` (RFC 6750 section 3.1);
* missing scopes/roles: 403 ``insufficient_scope``; blocks: 403 ``access_denied``;
* a malformed ``Authorization`` header: 400 ``invalid_request``; no credentials: 401 without an
  error code (RFC 6750 section 3.1); an unreadable forwarding header from a trusted proxy: 400
  ``invalid_request``;
* signing keys unavailable: 503 with ``Retry-After`` when the key source says when to come
  back, so clients do not throw good tokens away.

Every body is ``{"error", "error_description", "reason"}`` (JSON, ASCII-escaped). Header values
carry visible ASCII only, whatever a claim holds: the tenant put into ``authorization_uri`` is
percent-encoded as a URI path segment (RFC 3986 section 3.3), and anything else beyond ASCII as
:func:`~cae_sdk.core.challenges.ascii_field_value` says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from ..core.challenges import (
    ascii_field_value,
    build_bearer_error,
    build_claims_challenge,
    claims_challenge_type,
)
from ..core.decisions import Decision, Outcome, Reason, token_refusal
from ..core.tokens import TokenClaims

__all__ = ["Refusal", "fallback_refusal", "refusal_for_decision", "refusal_for_token_error"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The HTTP response for a refused request: status, RFC 6750 ``error`` and description, the
    stable reason, the ``WWW-Authenticate`` challenge and ``Retry-After``."""

    status: int
    error: str
    description: str
    reason: str
    www_authenticate: str | None
    retry_after: int | None = None
    """Seconds for a ``Retry-After`` header (RFC 9110 section 10.2.3), on a retryable 503."""

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
            # build_challenge emits visible ASCII only; "replace" keeps a hand-made Refusal safe.
            headers.append((b"www-authenticate", self.www_authenticate.encode("ascii", "replace")))
        if self.retry_after is not None:
            headers.append((b"retry-after", str(int(self.retry_after)).encode()))
        return headers


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    error: str
    challenge: str | None
    """The RFC 6750 error code of the ``WWW-Authenticate`` challenge; ``""`` for a bare
    ``Bearer`` challenge, None for no header."""
    describe: bool = False
    """The challenge's ``error_description`` is the decision's text (a refused request or
    token), else the reason code (Graph's style for access decisions)."""


_INVALID_TOKEN = _Answer(401, "invalid_token", "invalid_token", describe=True)
_ANSWERS: Mapping[Reason, _Answer] = {
    Reason.MISSING_TOKEN: _Answer(401, "unauthorized", ""),
    Reason.INVALID_REQUEST: _Answer(400, "invalid_request", "invalid_request", describe=True),
    Reason.BAD_FORWARDING_HEADER: _Answer(400, "invalid_request", None),
    Reason.KEYS_UNAVAILABLE: _Answer(503, "temporarily_unavailable", None),
    # An app-only token can never satisfy an authentication context: 403, like a missing scope.
    Reason.INSUFFICIENT_SCOPE: _Answer(403, "insufficient_scope", "insufficient_scope"),
    Reason.AUTH_CONTEXT_REQUIRED: _Answer(403, "insufficient_scope", "insufficient_scope"),
    Reason.STORE_UNAVAILABLE: _Answer(401, "invalid_token", "invalid_token"),
}
_ACCESS_DENIED = _Answer(403, "access_denied", None)


def refusal_for_decision(
    decision: Decision,
    claims: TokenClaims | None,
    *,
    authorization_uri: str,
    realm: str | None,
) -> Refusal:
    """The response for a refused decision (``claims`` is None when no token was verified)."""
    reason = decision.reason.value
    description = decision.description or reason
    if decision.outcome is Outcome.CHALLENGE:
        if claims is not None and decision.claims is not None and claims.cae_capable:
            tenant = quote(claims.tenant_id or "common", safe="", errors="replace")
            header = build_claims_challenge(
                decision.claims,
                authorization_uri=authorization_uri.replace("{tenantid}", tenant),
                realm=realm or "",
                error_description=reason,
                cc_type=claims_challenge_type(decision.claims),
            )
            return Refusal(
                401, "insufficient_claims", description, reason, ascii_field_value(header)
            )
        header = build_bearer_error("invalid_token", description=reason, realm=realm)
        return Refusal(401, "invalid_token", description, reason, ascii_field_value(header))
    answer = _ANSWERS.get(decision.reason)
    if answer is None:
        answer = _INVALID_TOKEN if decision.reason.is_request_refusal else _ACCESS_DENIED
    www_authenticate: str | None = None
    if answer.challenge is not None:
        www_authenticate = build_bearer_error(
            answer.challenge or None,
            description=(description if answer.describe else reason) if answer.challenge else None,
            realm=realm,
        )
    if www_authenticate is not None:
        www_authenticate = ascii_field_value(www_authenticate)
    retry_after = decision.details.get("retry_after") if answer.status == 503 else None
    return Refusal(
        answer.status,
        answer.error,
        description,
        reason,
        www_authenticate,
        retry_after if isinstance(retry_after, int) else None,
    )


def refusal_for_token_error(reason: str, description: str, *, realm: str | None) -> Refusal:
    """The response for a request whose token could not be accepted (a
    ``TokenValidationError``'s ``reason`` and ``description``): :func:`refusal_for_decision`
    of :func:`~cae_sdk.core.decisions.token_refusal`."""
    return refusal_for_decision(
        token_refusal(reason, description), None, authorization_uri="", realm=realm
    )


def fallback_refusal(decision: Decision) -> Refusal:
    """The answer when building a refusal failed (a bug): fixed text, nothing from the request
    or the token, and the decision's own reason - the one string the log record, the hooks and
    the metrics carry too (a Reason value: visible ASCII)."""
    return Refusal(
        401,
        "invalid_token",
        "the request could not be evaluated",
        decision.reason.value,
        'Bearer error="invalid_token"',
    )
