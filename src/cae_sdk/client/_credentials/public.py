"""Delegated tokens for a signed-in user: device code sign-in, silent refresh, step-up."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msal

from ...core.claims import parse_claims_request, requested_acrs
from ...core.errors import InteractionRequired
from ...core.remediation import remediation_for
from .. import _exchange
from ._base import CredentialBase
from ._errors import refusal_error
from ._options import AuthorityOptions, MsalAppPair, TransportOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["InteractionHandler", "PublicClientCredential"]

InteractionHandler = Callable[[str], Mapping[str, Any]]
"""Called with the claims request (JSON text, cp1 included) when only the user can satisfy it;
returns an MSAL-style token result (``access_token``, ``expires_in``...)."""


class PublicClientCredential(CredentialBase):
    """``msal.PublicClientApplication`` with the device code flow (RFC 8628).

    The first token comes from a device code sign-in whose instructions go to
    ``prompt_callback(message)``; later tokens come silently from MSAL's cache and refresh
    token. A claims challenge is first tried silently (a revocation ``nbf`` challenge usually
    resolves with the refresh token); one that needs the user, an ``acrs`` step-up or an
    ``interaction_required`` answer (MFA, AADSTS50076), goes to ``interaction_handler(claims)``
    or, without one, raises :class:`InteractionRequired` carrying the claims.
    """

    def __init__(
        self,
        client_id: str,
        *,
        tenant_id: str = "organizations",
        prompt_callback: Callable[[str], None] | None = None,
        interaction_handler: InteractionHandler | None = None,
        username: str | None = None,
        **options: Unpack[AuthorityOptions],
    ) -> None:
        transport = TransportOptions(options)
        super().__init__(clock=transport.clock)
        self.client_id = client_id
        self.username = username
        self.authority = transport.authority_for(tenant_id)
        self._prompt = prompt_callback or _print_prompt
        self._interaction_handler = interaction_handler
        self._apps = MsalAppPair(
            msal.PublicClientApplication, client_id, authority=self.authority, transport=transport
        )
        self._http = self._apps.http_client

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        app = self._apps.get(for_claims=claims is not None)
        accounts = app.get_accounts(username=self.username)
        if claims is not None and requested_acrs(parse_claims_request(claims)):
            return self._interact(claims, None)
        if not accounts:
            if claims is not None:
                return self._interact(claims, None)
            return self.sign_in_with_device_code(scopes)
        result: Mapping[str, Any] | None = app.acquire_token_silent_with_error(
            scopes, accounts[0], claims_challenge=claims
        )
        if result is None:  # nothing cached and no refresh token: the user must sign in
            return self._interact(claims, None) if claims else self.sign_in_with_device_code(scopes)
        if "access_token" not in result and _needs_user(result):
            return self._interact(claims, result) if claims else result
        return result

    def sign_in_with_device_code(
        self, scopes: list[str], claims: str | None = None
    ) -> Mapping[str, Any]:
        """Run a device code sign-in (RFC 8628 section 3) and return MSAL's result.

        Usable as an ``interaction_handler`` through ``lambda c: cred.sign_in_with_device_code(
        scopes, c)`` when a console prompt is an acceptable way to reach the user.
        """
        app = self._apps.get(for_claims=claims is not None)
        flow = app.initiate_device_flow(scopes=scopes, claims_challenge=claims)
        if "user_code" not in flow:
            raise refusal_error(flow, exchange=None, claims=claims)
        _bound_device_flow(flow, now=time.time())
        # The user takes minutes: no overall deadline, each poll is still bounded by timeout.
        with _exchange.interaction():
            self._prompt(str(flow.get("message") or flow["user_code"]))
            result: Mapping[str, Any] = app.acquire_token_by_device_flow(
                flow, claims_challenge=claims
            )
        return result

    def _interact(self, claims: str | None, result: Mapping[str, Any] | None) -> Mapping[str, Any]:
        if self._interaction_handler is not None and claims is not None:
            _exchange.note_sent()  # a sign-in on a resource's say-so: bounded like a request
            with _exchange.interaction():
                return self._interaction_handler(claims)
        if result is not None:
            error = refusal_error(result, exchange=None, claims=claims)
            if isinstance(error, InteractionRequired):
                raise error
        raise InteractionRequired(
            "The resource asked for claims only the signed-in user can provide "
            "(step-up authentication or MFA).",
            error="interaction_required",
            claims=claims,
            remediation=remediation_for((), "interaction_required"),
        )


MAX_DEVICE_CODE_WAIT = 30 * 60
"""The longest a device code sign-in waits for the user, whatever ``expires_in`` the identity
provider sent (Entra's codes last 15 minutes; MSAL assumes 30 when none is given)."""


def _bound_device_flow(flow: dict[str, Any], *, now: float) -> None:
    """Make MSAL's polling loop end (``msal/oauth2cli/oauth2.py``,
    ``obtain_token_by_device_flow``): it polls until ``expires_at`` and checks that only while
    it sleeps ``interval`` one-second rounds, so an ``interval`` of 0 polls in a tight loop
    forever. RFC 8628 section 3.2: ``interval`` is the minimum wait between polls, 5 when
    absent; section 3.5: the client stops when the code expires."""
    interval = flow.get("interval")
    flow["interval"] = max(1, interval) if isinstance(interval, int) else 5
    expires_at = flow.get("expires_at")
    latest = now + MAX_DEVICE_CODE_WAIT
    if isinstance(expires_at, int | float) and expires_at == expires_at:  # a number, not NaN
        latest = min(float(expires_at), latest)
    flow["expires_at"] = latest


def _needs_user(result: Mapping[str, Any]) -> bool:
    raw = result.get("error_codes")
    texts = map(str, raw if isinstance(raw, list) else ())
    codes = [int(c) for c in texts if c.isascii() and c.isdigit() and len(c) < 12]
    return result.get("error") == "interaction_required" or remediation_for(codes).interactive


def _print_prompt(message: str) -> None:
    # The device code flow must reach the user somehow; a callback replaces this default.
    print(message)
