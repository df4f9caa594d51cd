"""Explain tokens and ``WWW-Authenticate`` challenges in plain words (pure; ``cae decode``).

Nothing here verifies a signature or trusts a value: it reads what a token or a challenge says
and what that means for Continuous Access Evaluation (Microsoft identity platform docs "Claims
challenges, claims requests and client capabilities"; Entra docs "Continuous access evaluation").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from ..core.challenges import Challenge, parse_www_authenticate
from ..core.claims import decode_claims, has_cp1, requested_acrs, requested_nbf
from ..core.errors import ChallengeParseError, InvalidClaimsError
from ..core.policies import MEMBER, classify_account
from ..core.secevents import SET_TYP
from ..core.tokens import TokenClaims, decode_unverified

__all__ = ["classify_input", "explain_challenges", "explain_claims_request", "explain_token"]

# Non-CAE Entra access tokens live about an hour; CAE sessions get long-lived tokens, up to 28 h
# (Entra docs "Continuous access evaluation", token lifetime).
_PLAIN_TOKEN_LIFETIME = 2 * 3600
_REASON_TEXT = {
    "tokenissuedbeforerevocationtimestamp": "the subject was revoked after this token was issued",
    "locationconditionviolation": "the client calls from outside the allowed (trusted) locations",
    "riskleveltoohigh": "the user or service principal risk is too high",
    "authenticationcontextrequired": "the route needs an authentication context (step-up)",
    "multifactorauthenticationrequired": "multifactor authentication is required",
    "blockedbyconditionalaccesspolicy": "a Conditional Access policy blocks this request",
}
_BEARER_ERRORS = {
    "insufficient_claims": "the resource asks for more claims (a CAE claims challenge)",
    "invalid_token": "the token is expired, revoked, malformed or otherwise invalid (RFC 6750 3.1)",
    "insufficient_scope": "the token lacks a scope or role the request needs (RFC 6750 3.1)",
    "invalid_request": "the request is malformed (RFC 6750 3.1)",
}


def classify_input(text: str) -> tuple[str, str]:
    """Tell a token from a header value: returns ``("token", jwt)`` or ``("header", value)``.

    Accepts ``Authorization: Bearer <jwt>``, ``Bearer <jwt>``, a bare JWT, and
    ``WWW-Authenticate: ...`` or a bare challenge list.
    """
    value = text.strip()
    name, sep, rest = value.partition(":")
    if sep and name.strip().lower() in ("authorization", "www-authenticate"):
        value = rest.strip()
    scheme, _, credentials = value.partition(" ")
    if scheme.lower() == "bearer" and _looks_like_jwt(credentials.strip()):
        return "token", credentials.strip()
    if _looks_like_jwt(value):
        return "token", value
    return "header", value


def _looks_like_jwt(value: str) -> bool:
    return value.count(".") == 2 and not any(char in value for char in ' ="\t,')


def _iso(epoch: int | None) -> str | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, tz=timezone.utc).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def _duration(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def explain_token(token: str, *, now: int) -> dict[str, Any]:
    """Decode a JWT without verifying it and explain what CAE sees in it.

    Raises :class:`TokenFormatError` for text that is not a compact JWS.
    """
    header, payload = decode_unverified(token)
    notes: list[str] = ["The signature was NOT verified: never trust a decoded token."]
    typ = str(header.get("typ", ""))
    if typ.lower() == SET_TYP or "events" in payload:
        return _explain_set(header, payload, notes)
    claims = TokenClaims(payload)
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        notes.append("alg is 'none' or missing: no resource should ever accept this token.")
    elif alg.upper().startswith("HS"):
        notes.append(f"alg {alg} is symmetric: resources must refuse HMAC-signed access tokens.")
    lifetime = _lifetime(claims, now, notes)
    capabilities = list(claims.capabilities)
    cae_capable = claims.cae_capable
    if cae_capable:
        notes.append(
            "xms_cc contains cp1: the client handles claims challenges, so a CAE resource answers "
            "a revocation or location change with a 401 claims challenge instead of a plain 401."
        )
    else:
        notes.append(
            "No cp1 in xms_cc: the client did not announce CAE (or the API's app registration "
            "does not request the xms_cc optional claim); a CAE resource can only answer "
            "invalid_token."
        )
    if payload.get("xms_ssm") == "1":
        notes.append("xms_ssm=1: the token is subject to CAE (undocumented Entra marker).")
    acrs = list(claims.acrs)
    if acrs:
        notes.append(f"Authentication contexts satisfied: {', '.join(acrs)}.")
    if "mfa" in claims.amr or "ngcmfa" in claims.amr:
        notes.append("amr contains mfa: the user completed multifactor authentication.")
    elif "amr" not in payload and not claims.is_app_only:
        # Access token claims reference: amr is "only present in v1.0 tokens".
        notes.append(
            "No amr claim (Entra puts amr in v1.0 access tokens only): whether the user did "
            "MFA is not visible in this token; a resource can only see it through acrs."
        )
    if not claims.is_app_only and ("idp" in payload or "acct" in payload):
        notes.append(f"acct/idp: {_account(claims)} (Conditional Access guest conditions).")
    identity = {
        "kind": "application (app-only)" if claims.is_app_only else "user (delegated)",
        "tenant_id": claims.tenant_id,
        "object_id": claims.object_id,
        "app_id": claims.app_id,
        "subject": claims.subject,
        "session_id": claims.session_id,
        "scopes": list(claims.scopes),
        "roles": list(claims.roles),
    }
    return {
        "kind": "token",
        "header": {k: header[k] for k in ("alg", "typ", "kid", "x5t") if k in header},
        "issuer": claims.issuer,
        "issuer_kind": _issuer_kind(claims.issuer),
        "audience": payload.get("aud"),
        "identity": identity,
        "capabilities": capabilities,
        "cae_capable": cae_capable,
        "lifetime": lifetime,
        "cae_claims": {
            name: payload[name]
            for name in ("xms_cc", "xms_ssm", "acrs", "amr", "ipaddr", "sid", "uti", "idtyp")
            if name in payload
        },
        "revocation_subjects": [str(key) for key in claims.subject_keys()],
        "notes": notes,
        "claims": payload,
    }


def _account(claims: TokenClaims) -> str:
    """What the policy engine reads from ``acct`` and ``idp`` (the same function decides)."""
    account = classify_account(claims)
    kinds = sorted(account.kinds)
    if kinds == [MEMBER]:
        return "the user is a member of the tenant"
    if len(kinds) == 1:
        return f"the user is a guest or external user of type {kinds[0]}"
    return (
        f"the user is one of {', '.join(kinds)}; the {account.missing} claim would tell them apart"
    )


def _issuer_kind(issuer: str | None) -> str:
    if not issuer:
        return "missing"
    if issuer.startswith("https://sts.windows.net/"):
        return "Entra v1"
    if issuer.rstrip("/").endswith("/v2.0"):
        return "Entra-style v2"
    return "other OIDC issuer"


def _lifetime(claims: TokenClaims, now: int, notes: list[str]) -> dict[str, Any]:
    iat, nbf, exp = claims.issued_at, claims.not_before, claims.expires_at
    start = iat if iat is not None else nbf
    total = exp - start if exp is not None and start is not None else None
    remaining = exp - now if exp is not None else None
    if exp is None:
        notes.append("No exp claim: resources must refuse tokens without an expiry.")
    elif remaining is not None and remaining <= 0:
        notes.append(f"Expired {_duration(-remaining)} ago.")
    if nbf is not None and nbf > now:
        notes.append(f"Not valid yet: nbf is {_duration(nbf - now)} in the future.")
    if total is not None and total > _PLAIN_TOKEN_LIFETIME:
        notes.append(
            f"Long-lived ({_duration(total)}): CAE sessions get up to 28 h because the resource "
            "can revoke them at any time."
        )
    return {
        "issued_at": _iso(iat),
        "not_before": _iso(nbf),
        "expires_at": _iso(exp),
        "lifetime": _duration(total) if total is not None else None,
        "lifetime_seconds": total,
        "remaining": _duration(remaining) if remaining is not None else None,
        "expired": remaining is not None and remaining <= 0,
    }


def _explain_set(
    header: Mapping[str, Any], payload: Mapping[str, Any], notes: list[str]
) -> dict[str, Any]:
    events = payload.get("events")
    event_types = list(events) if isinstance(events, Mapping) else []
    if header.get("typ") != SET_TYP:
        notes.append(f"typ should be {SET_TYP!r} (RFC 8417 section 2.3).")
    if "exp" in payload:
        notes.append("A SET must not carry exp (RFC 8417 section 2.2).")
    if len(event_types) != 1:
        notes.append("SSF 1.0 expects exactly one event per SET.")
    return {
        "kind": "security-event-token",
        "header": {k: header[k] for k in ("alg", "typ", "kid") if k in header},
        "issuer": payload.get("iss"),
        "audience": payload.get("aud"),
        "jti": payload.get("jti"),
        "issued_at": _iso(payload.get("iat") if isinstance(payload.get("iat"), int) else None),
        "subject": payload.get("sub_id", payload.get("subject")),
        "event_types": event_types,
        "events": events if isinstance(events, Mapping) else {},
        "notes": notes,
        "claims": dict(payload),
    }


def explain_claims_request(claims: Mapping[str, Any]) -> list[str]:
    """Say in words what a claims request asks the client to do."""
    asks: list[str] = []
    nbf = requested_nbf(claims)
    if nbf is not None:
        asks.append(
            f"nbf >= {nbf} ({_iso(nbf)}): the subject was revoked at that instant; present a token "
            "issued after it (silent reacquisition works unless the account itself is blocked)."
        )
    acrs = requested_acrs(claims)
    if acrs:
        asks.append(
            f"acrs {', '.join(acrs)}: step-up to authentication context; only a user sign-in "
            "that satisfies it (usually MFA) can answer, never an app-only token."
        )
    access = claims.get("access_token")
    if isinstance(access, Mapping):
        xms_cc = access.get("xms_cc")
        if isinstance(xms_cc, Mapping) and has_cp1(xms_cc.get("values")):
            asks.append("xms_cc cp1: the client capability announcement (kept when merging).")
        caeerror = access.get("xms_caeerror")
        if isinstance(caeerror, Mapping) and "value" in caeerror:
            asks.append(f"xms_caeerror {caeerror['value']}: keep it when replaying the request.")
        known = {"nbf", "acrs", "xms_cc", "xms_caeerror"}
        for name in access:
            if name not in known:
                asks.append(f"{name}: extra member; replay it unchanged in the token request.")
        if not access:
            asks.append("empty access_token request: just get a fresh token.")
    return asks


def _explain_one(challenge: Challenge) -> dict[str, Any]:
    params = dict(challenge.params)
    result: dict[str, Any] = {"scheme": challenge.scheme, "params": params}
    meaning: list[str] = []
    if challenge.token68 is not None:
        result["token68"] = challenge.token68
    error = params.get("error", "")
    if error:
        meaning.append(_BEARER_ERRORS.get(error.lower(), f"error {error!r}"))
    description = params.get("error_description") or params.get("errordescription") or ""
    for code, text in _REASON_TEXT.items():
        if code in description.lower().replace(" ", ""):
            meaning.append(f"reason: {text}.")
    raw_claims = params.get("claims")
    retry = False
    if raw_claims is not None:
        try:
            decoded = decode_claims(raw_claims)
        except InvalidClaimsError as exc:
            result["claims_error"] = str(exc)
            meaning.append(f"the claims parameter is unusable ({exc}): a client must NOT retry.")
        else:
            result["claims"] = decoded
            result["claims_json"] = json.dumps(decoded, separators=(",", ":"))
            meaning.extend(explain_claims_request(decoded))
            retry = challenge.is_scheme("bearer") and error.lower() == "insufficient_claims"
    if challenge.is_scheme("bearer") and error.lower() == "insufficient_claims" and not retry:
        meaning.append("insufficient_claims without usable claims: not a CAE challenge.")
    if params.get("authorization_uri"):
        meaning.append(f"reacquire from {params['authorization_uri']}.")
    result["cp1_client_retries"] = retry
    result["meaning"] = meaning
    return result


def explain_challenges(value: str) -> dict[str, Any]:
    """Parse a ``WWW-Authenticate`` value and explain each challenge.

    Raises :class:`ChallengeParseError` for text that is not a challenge list.
    """
    challenges = parse_www_authenticate(value)
    if not challenges:
        raise ChallengeParseError("nothing to decode: the value is empty")
    explained = [_explain_one(c) for c in challenges]
    return {
        "kind": "www-authenticate",
        "challenges": explained,
        "claims_challenge": any(c["cp1_client_retries"] for c in explained),
    }
