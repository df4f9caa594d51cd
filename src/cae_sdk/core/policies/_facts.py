"""The request facts every policy reads, worked out once per evaluation (not once per policy):
the client's named locations (:mod:`._where`), device platform, account kind and
authentication methods, and the session's CAE location enforcement."""

from __future__ import annotations

from functools import cached_property

from ._context import PolicyContext
from ._guests import AccountKinds, classify_account
from ._model import Enforcement, Policy
from ._platforms import platform_from_user_agent
from ._tri import Tri, undecided
from ._where import Whereabouts

__all__ = ["RequestFacts", "expand"]

# Access token claims reference, "amr claim": ``mfa`` and ``ngcmfa`` prove a second factor;
# ``wiaormfa`` means "Windows or an MFA credential" and proves neither.
_MFA = frozenset({"mfa", "ngcmfa"})
_AMBIGUOUS = frozenset({"wiaormfa"})


class RequestFacts:
    """Facts about one request, each computed on first use."""

    def __init__(self, context: PolicyContext) -> None:
        self.context = context
        self.claims = context.claims
        self.where = Whereabouts(context)
        self._held: dict[str, frozenset[str] | None] = {}
        self.location_modes: frozenset[Enforcement] = frozenset({self.where.baseline()})
        """The session's possible CAE location enforcement modes: one when the applying
        policies settle it (see :func:`._evaluate.session_modes`)."""

    def modes_for(self, policy: Policy) -> frozenset[Enforcement]:
        """The location enforcement ``policy``'s location condition is evaluated under: the
        operator's strict mode, else the mode the policy sets itself, else the session's."""
        if self.where.baseline() is Enforcement.STRICT:
            return frozenset({Enforcement.STRICT})
        if policy.cae_mode is not None:
            return expand(policy.cae_mode)
        return self.location_modes

    @cached_property
    def platform(self) -> str | None:
        return platform_from_user_agent(self.context.user_agent)

    @cached_property
    def account(self) -> AccountKinds:
        return classify_account(self.claims)

    def held(self, claim: str) -> frozenset[str] | None:
        """The lower-cased values of a list claim (``groups``, ``wids``); None when the token
        has no such list."""
        if claim not in self._held:
            values = self.claims.get(claim)
            ok = isinstance(values, list) and all(isinstance(v, str) for v in values)
            self._held[claim] = frozenset(v.lower() for v in values) if ok else None
        return self._held[claim]

    @cached_property
    def acrs(self) -> frozenset[str]:
        return frozenset(a.lower() for a in self.claims.acrs)

    @cached_property
    def amr_shows_mfa(self) -> Tri:
        """What ``amr`` says about a second factor. Entra puts ``amr`` in v1.0 access tokens
        only (access token claims reference): a token without it shows nothing."""
        amr = self.claims.get("amr")
        if not isinstance(amr, list) or not all(isinstance(v, str) for v in amr):
            return undecided(
                "grantControls.mfa: the token has no amr claim (Microsoft Entra issues amr "
                "in v1.0 access tokens only)"
            )
        methods = frozenset(v.lower() for v in amr)
        if methods & _MFA:
            return True
        if methods & _AMBIGUOUS:
            return undecided("grantControls.mfa: amr 'wiaormfa' does not tell MFA apart")
        return False


_ANY_MODE = frozenset({Enforcement.STANDARD, Enforcement.STRICT, Enforcement.DISABLED})


def expand(mode: Enforcement) -> frozenset[Enforcement]:
    """The modes a policy's ``continuousAccessEvaluation.mode`` may mean: an unknown one may
    mean any."""
    return _ANY_MODE if mode is Enforcement.UNKNOWN else frozenset({mode})
