"""Confidential client authentication at the token endpoint.

* ``client_secret`` (RFC 6749 section 2.3.1), compared in constant time.
* ``private_key_jwt`` (RFC 7523 section 2.2; OIDC Core section 9): an assertion signed by a
  registered certificate, named by its ``x5t`` (SHA-1) or ``x5t#S256`` header as MSAL sends it,
  with ``aud`` = token endpoint and ``iss`` = ``sub`` = client id.
* Federated assertion (workload identity federation): a JWT from a trusted issuer whose
  ``iss``/``sub``/``aud`` match a federated credential on the app. The issuers this emulator can
  verify are its own federation issuer (AKS-style OIDC issuer hosted at ``/federation``).
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography import x509

from ._context import IdPContext
from ._directory import Application, CertificateCredential
from ._errors import EntraError, Refusal

__all__ = ["JWT_BEARER_ASSERTION_TYPE", "authenticate_client"]

JWT_BEARER_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LENGTH = 16 * 1024
MAX_ASSERTION_LIFETIME = 24 * 3600
_LEEWAY = 300


def _thumbprint(header_value: Any) -> str | None:
    if not isinstance(header_value, str) or len(header_value) > 128:
        return None
    try:
        raw = base64.urlsafe_b64decode(header_value + "=" * (-len(header_value) % 4))
    except (ValueError, TypeError):
        return None
    return raw.hex().upper()


def _matching_certificate(app: Application, header: Mapping[str, Any]) -> CertificateCredential:
    sha256 = _thumbprint(header.get("x5t#S256"))
    sha1 = _thumbprint(header.get("x5t"))
    for cert in app.certificates:
        if sha256 == cert.thumbprint_sha256 or (sha256 is None and sha1 == cert.thumbprint_sha1):
            return cert
    raise Refusal.INVALID_CLIENT_ASSERTION.error(
        reason="no registered certificate matches the assertion's x5t / x5t#S256 thumbprint"
    )


def _verify_certificate_assertion(
    ctx: IdPContext, app: Application, assertion: str, header: Mapping[str, Any], tenant_id: str
) -> None:
    cert = _matching_certificate(app, header)
    public_key = x509.load_pem_x509_certificate(cert.certificate_pem.encode()).public_key()
    algorithm = header.get("alg")
    if algorithm not in ("RS256", "PS256"):
        raise Refusal.INVALID_CLIENT_ASSERTION.error(
            reason=f"unsupported alg {str(algorithm)[:16]!r}"
        )
    try:
        claims = jwt.decode(
            assertion,
            public_key,  # type: ignore[arg-type]
            algorithms=[algorithm],
            audience=[
                ctx.token_endpoint(tenant_id),
                ctx.token_endpoint(tenant_id).replace("/v2.0/token", "/token"),  # v1 endpoint
                ctx.issuer_v2(tenant_id),
            ],
            options={"require": ["exp", "aud", "iss", "sub"]},
            leeway=_LEEWAY,
        )
    except jwt.InvalidTokenError as exc:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason=str(exc)) from None
    if claims.get("iss") != claims.get("sub") or str(claims.get("iss")).lower() != app.app_id:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(
            reason="iss and sub must both be the client id"
        )
    _check_lifetime(claims, ctx.now())


def _check_lifetime(claims: Mapping[str, Any], now: float) -> None:
    exp, iat = claims.get("exp"), claims.get("iat", claims.get("nbf"))
    too_long = (
        isinstance(iat, (int, float))
        and isinstance(exp, (int, float))
        and exp - iat > MAX_ASSERTION_LIFETIME
    )
    if too_long:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason="assertion lifetime is too long")


def _verify_federated_assertion(ctx: IdPContext, app: Application, assertion: str) -> None:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason=str(exc)) from None
    issuer = unverified.get("iss")
    if issuer != ctx.federation_issuer:
        raise Refusal.NO_FEDERATED_MATCH.error(detail=f"Untrusted issuer '{str(issuer)[:200]}'.")
    matching = [fc for fc in app.federated_credentials if fc.issuer == issuer]
    if not matching:
        raise Refusal.NO_FEDERATED_MATCH.error(detail=f"Assertion issuer '{issuer}'.")
    try:
        claims = ctx.federation_keys.verify(
            assertion,
            ctx.now(),
            options={"require": ["exp", "aud", "iss", "sub"], "verify_aud": False},
            leeway=_LEEWAY,
        )
    except jwt.InvalidTokenError as exc:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason=str(exc)) from None
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    for fc in matching:
        if fc.subject == claims["sub"] and set(audiences) & set(fc.audiences):
            _check_lifetime(claims, ctx.now())
            return
    raise Refusal.NO_FEDERATED_MATCH.error(
        detail=f"Assertion subject '{str(claims['sub'])[:200]}', audience '{audiences}'."
    )


def authenticate_client(
    ctx: IdPContext, app: Application, form: Mapping[str, str], tenant_id: str
) -> str:
    """Check the client's credential; returns the method used (``secret``, ``certificate``,
    ``federated``). Raises :class:`EntraError` on failure."""
    secret = form.get("client_secret")
    assertion = form.get("client_assertion")
    if secret is not None:
        if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
            raise Refusal.INVALID_CLIENT_SECRET.error(app_id=app.app_id)
        return "secret"
    if assertion is None:
        raise Refusal.MISSING_CREDENTIAL.error()
    if form.get("client_assertion_type") != JWT_BEARER_ASSERTION_TYPE:
        raise EntraError.invalid_request(
            "The client_assertion_type must be "
            "'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.",
            code=70002,
        )
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason="assertion is too long")
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError as exc:
        raise Refusal.INVALID_CLIENT_ASSERTION.error(reason=str(exc)) from None
    if "x5t" in header or "x5t#S256" in header:
        _verify_certificate_assertion(ctx, app, assertion, header, tenant_id)
        return "certificate"
    _verify_federated_assertion(ctx, app, assertion)
    return "federated"
