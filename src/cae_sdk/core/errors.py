"""One exception hierarchy for the whole SDK.

Every error raised on purpose by cae-sdk derives from :class:`CAEError`; errors caused by bad
input also derive from :class:`ValueError` so generic input-handling code keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .remediation import Remediation, remediation_for

__all__ = [
    "CAEError",
    "ChallengeParseError",
    "ClaimsChallengeFailed",
    "ClaimsChallengeLoop",
    "ClaimsChallengeUnresolvable",
    "ConfigurationError",
    "EventSourceError",
    "EventValidationError",
    "InteractionRequired",
    "InvalidClaimsError",
    "JOSEError",
    "KeysUnavailable",
    "PolicyNameError",
    "RequestNotReplayable",
    "StoreUnavailable",
    "TokenAcquisitionError",
    "TokenFormatError",
    "TokenValidationError",
]


class CAEError(Exception):
    """Base class of every error cae-sdk raises on purpose."""


class ChallengeParseError(CAEError, ValueError):
    """A ``WWW-Authenticate`` value does not follow RFC 9110 section 11.6.1."""


class InvalidClaimsError(CAEError, ValueError):
    """A claims request (OIDC Core section 5.5) is not valid JSON of the expected shape."""


class TokenFormatError(CAEError, ValueError):
    """A token is not a well-formed compact JWS (RFC 7515 section 7.1)."""


class ConfigurationError(CAEError, ValueError):
    """The SDK was configured with values it cannot work with."""


class TokenAcquisitionError(CAEError):
    """The identity provider refused to issue a token, or could not be asked.

    Keeps what MSAL reported (``error``, ``error_description``, ``error_codes``,
    ``correlation_id``) and adds a :class:`Remediation` that says who can fix it and how.
    ``retry_after`` is how many seconds the identity provider asked the client to wait
    (``Retry-After``, RFC 9110 section 10.2.3), when it did; ``status`` the HTTP status of its
    answer, when there was one; ``reached_identity_provider`` is ``False`` when no request went
    out for this acquisition (the answer came from a throttle cache) or none was answered.
    Text the identity provider sent is truncated (``MAX_ERROR_TEXT`` characters): an error never
    carries a whole hostile answer.
    """

    def __init__(
        self,
        message: str,
        *,
        error: str | None = None,
        error_description: str | None = None,
        error_codes: Sequence[int] = (),
        correlation_id: str | None = None,
        claims: str | None = None,
        remediation: Remediation | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        reached_identity_provider: bool = True,
    ) -> None:
        self.error = _capped(error, 128)
        self.error_description = _capped(error_description, MAX_ERROR_TEXT)
        self.error_codes = tuple(error_codes)[:16]
        self.correlation_id = _capped(correlation_id, 128)
        self.claims = claims
        self.retry_after = retry_after
        self.status = status
        self.reached_identity_provider = reached_identity_provider
        self.remediation = remediation or remediation_for(self.error_codes, self.error)
        text = _capped(message, MAX_ERROR_TEXT) or ""
        super().__init__(f"{text} Remediation: {self.remediation.text}")

    @classmethod
    def from_msal_result(
        cls, result: dict[str, Any], *, claims: str | None = None, **details: Any
    ) -> TokenAcquisitionError:
        """Build the most specific error for an MSAL error ``result`` dict; ``details`` are
        passed on (``retry_after``, ``status``, ``reached_identity_provider``)."""
        raw_codes = result.get("error_codes")
        raw_codes = raw_codes if isinstance(raw_codes, (list, tuple)) else ()
        codes = tuple(int(c) for c in map(str, raw_codes[:16]) if _is_code(c))
        error = result.get("error")
        error = str(error) if error is not None else None
        remediation = remediation_for(codes, error)
        error_cls: type[TokenAcquisitionError] = cls
        if remediation.interactive or error == "interaction_required":
            error_cls = InteractionRequired
        description = str(result.get("error_description") or "")
        head = description[:MAX_ERROR_TEXT]
        first_line = head.splitlines()[0] if head.strip() else ""
        correlation_id = result.get("correlation_id")
        return error_cls(
            f"Token request failed: {_capped(error, 128)}: {first_line}".rstrip(": "),
            error=error,
            error_description=description or None,
            error_codes=codes,
            correlation_id=str(correlation_id) if correlation_id is not None else None,
            claims=claims,
            remediation=remediation,
            **details,
        )


MAX_ERROR_TEXT = 1024
"""How many characters of identity provider text an error keeps (the rest is cut)."""


def _is_code(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) < 12


def _capped(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters cut)"


class InteractionRequired(TokenAcquisitionError):
    """Only the signed-in user can satisfy this request (MFA, step-up, password change).

    ``claims`` carries the claims request to pass to an interactive sign-in.
    """


class ClaimsChallengeFailed(CAEError):
    """A request was challenged again after the client answered the first challenge."""

    def __init__(self, message: str, *, first: object, second: object, response: object) -> None:
        super().__init__(message)
        self.first = first
        self.second = second
        self.response = response


class ClaimsChallengeUnresolvable(CAEError):
    """The credential cannot produce a token that satisfies the challenge.

    Raised, for example, when a managed identity endpoint hands back the very token that was
    just challenged: replaying it would only be challenged again.
    """


class RequestNotReplayable(CAEError):
    """A challenged request had a one-shot streaming body that cannot be sent a second time.

    ``response`` is the challenged ``401`` response and ``challenge`` the claims challenge it
    carried, so a caller can acquire a token for those claims and re-send a fresh body itself.
    """

    def __init__(self, message: str, *, response: object = None, challenge: object = None) -> None:
        super().__init__(message)
        self.response = response
        self.challenge = challenge


class JOSEError(CAEError, ValueError):
    """A compact JWS, its header, a JWK or a signature was refused by :mod:`cae_sdk.core.jose`.

    ``reason`` is a stable code (``malformed``, ``bad_algorithm``, ``unsupported_header``,
    ``bad_key``, ``bad_signature``; the key source adds ``unknown_key`` and
    ``keys_unavailable``); each adapter maps it to its own error
    (:class:`TokenValidationError` reasons, RFC 8935 codes of :class:`EventValidationError`).
    """

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


class KeysUnavailable(JOSEError):
    """Signing keys could not be consulted in time: none were ever loaded, the refresh an unknown
    ``kid`` needed failed or is still running, or the per-source refresh limit defers it.

    Retryable, never a verdict on the token: ``retry_after`` (seconds) is when a retry can find
    the keys (a deferred refresh is already scheduled for then). ``reason`` is
    ``keys_unavailable``.
    """

    def __init__(self, description: str, *, retry_after: float = 1.0) -> None:
        super().__init__("keys_unavailable", description)
        self.retry_after = retry_after


class TokenValidationError(CAEError, ValueError):
    """A bearer token failed validation at a resource.

    ``reason`` is a stable machine-readable code, e.g. ``token_expired`` or ``bad_signature``.
    ``retry_after`` (seconds) is set for retryable refusals (``keys_unavailable``).
    """

    def __init__(self, reason: str, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description
        self.retry_after = retry_after


class EventValidationError(CAEError, ValueError):
    """A Security Event Token was refused.

    ``err`` is the RFC 8935 section 2.4 / SSF error code (``invalid_request``, ``invalid_key``,
    ``invalid_issuer``, ``invalid_audience``, ``authentication_failed``, ``access_denied``,
    ``invalid_state``).
    """

    def __init__(self, err: str, description: str) -> None:
        super().__init__(f"{err}: {description}")
        self.err = err
        self.description = description


class StoreUnavailable(CAEError):
    """The shared event store cannot be reached and the configured fail mode refuses to guess."""


class PolicyNameError(CAEError, ValueError):
    """A Conditional Access policy name does not follow the naming convention of Microsoft's
    "Conditional Access framework and policies" (Azure Architecture Center)."""


class ClaimsChallengeLoop(ClaimsChallengeUnresolvable):
    """The same claims were challenged again and again within a short window.

    The client stops asking the identity provider for new tokens until ``retry_after`` seconds
    have passed, so a resource that keeps refusing cannot turn every request into a token request.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EventSourceError(CAEError):
    """A remote event source (SSF transmitter, Microsoft Graph) refused or failed a request.

    ``status`` is the HTTP status (0 when the answer was not HTTP at all), ``code`` the error
    code the source reported, if any. ``retry_after`` (seconds), when set, is when a retry can
    succeed (e.g. the transmitter's keys after a deferred refresh): a push receiver answers 503
    with that ``Retry-After``, a poll receiver leaves the SET unacknowledged.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after
