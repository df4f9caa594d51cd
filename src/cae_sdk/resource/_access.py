"""One request's access decision: revocation -> risk -> location -> authentication context ->
Conditional Access policies -> scopes. The first refusal wins; every step is a pure evaluator
from :mod:`cae_sdk.core`, fed with the store's O(1) reads."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ..core._location_policy import LocationMode, evaluate_location, trusted_locations
from ..core._permissions import evaluate_permissions
from ..core._revocation import evaluate_subjects, risk_rank, risk_text
from ..core.claims import acrs_claims, nbf_claims
from ..core.decisions import ALLOW, Decision, Outcome, Reason
from ..core.locations import NamedLocation
from ..core.policies import evaluate
from ..core.subjects import SubjectKind
from ..core.tokens import TokenClaims
from ..events._store import EventStore
from ._settings import CAESettings, FailMode
from ._urlpath import readings

__all__ = ["AccessEvaluator", "RequestFacts"]

log = logging.getLogger("cae_sdk.resource")


@dataclass(slots=True)
class RequestFacts:
    """What the evaluation needs of the request besides the token: its path, the client address
    the API trusts, and the User-Agent."""

    path: str
    client_ip: str | None
    user_agent: str | None


class _Facts(Protocol):
    """What :meth:`AccessEvaluator.evaluate` reads of a request: a :class:`RequestFacts`, or
    the request path's ``Exchange``."""

    @property
    def path(self) -> str: ...

    @property
    def client_ip(self) -> str | None: ...

    @property
    def user_agent(self) -> str | None: ...


class AccessEvaluator:
    """Evaluates a validated token against the store (revocation watermarks, risk), IP
    locations, the route's authentication context and Conditional Access policies."""

    def __init__(
        self,
        store: EventStore | None,
        settings: CAESettings,
        *,
        default_app_ids: Collection[str] = (),
    ) -> None:
        self.store = store
        self.settings = settings
        self.default_app_ids = frozenset(a.lower() for a in default_app_ids)
        """Used by policies when ``settings.app_ids`` is empty (the validator's audiences)."""
        self._serving_stale = False
        """Fail mode open during a store outage: warned once, not on every request."""
        self._located: tuple[object, int, Sequence[NamedLocation], Sequence[NamedLocation]] = (
            None,
            -1,
            (),
            (),
        )
        """:meth:`locations` as of (store generation, settings revision): the store's named
        locations change only with an event, the settings' only when a field is set."""
        self._trusted: tuple[tuple[NamedLocation, ...], tuple[NamedLocation, ...]] = ((), ())
        """(named locations, their trusted ones), computed once per set of named locations
        (the store's tuple is replaced only by an event): one tuple, so that a thread reads a
        consistent pair."""

    def locations(self) -> tuple[Sequence[NamedLocation], Sequence[NamedLocation]]:
        """The one place that picks this request's named locations: ``(allowed, catalogue)``.

        ``catalogue`` is every named location (``settings.named_locations``, else the
        store's): the policies resolve location ids against it, trusted or not. ``allowed`` is
        what the location step lets in: ``settings.allowed_locations`` as the operator listed
        them, else the trusted ones of the catalogue
        (:func:`~cae_sdk.core._location_policy.trusted_locations`) - never an untrusted
        location, which a tenant keeps for its policies (a block list, a range that needs MFA).
        """
        settings = self.settings
        catalogue = settings.named_locations
        if catalogue is None:
            catalogue = self.store.named_locations() if self.store is not None else ()
        if settings.allowed_locations is not None:
            return settings.allowed_locations, catalogue
        if not catalogue:
            return (), catalogue
        seen, trusted = self._trusted
        if catalogue is not seen:
            if not isinstance(catalogue, tuple):
                catalogue = tuple(catalogue)  # a list set at run time may change in place
            if catalogue != seen:
                trusted = trusted_locations(catalogue)
                if not trusted and settings.location_mode is not LocationMode.OFF:
                    log.warning(
                        "none of the %d named locations is trusted: the location step allows "
                        "no network and enforces nothing (mark the networks to allow trusted, "
                        "set allowed_locations, or location_mode='off' to silence this)",
                        len(catalogue),
                    )
            self._trusted = (catalogue, trusted)
        return trusted, catalogue

    def required_auth_context(self, path: str) -> str | None:
        """The authentication context of the longest ``auth_contexts`` prefix that any reading
        of ``path`` falls under (:func:`~cae_sdk.resource._urlpath.readings`: as written, and
        as a component behind the middleware may read it - ``/data/../admin/x``,
        ``/ADMIN/x``, ``//admin/x`` - compared without case): a step-up cannot be skipped by
        writing the path another way."""
        best: tuple[int, str] | None = None
        for reading in readings(path):
            for prefix, context in self.settings.auth_contexts.items():
                if reading.startswith(prefix.casefold()) and (
                    best is None or len(prefix) > best[0]
                ):
                    best = (len(prefix), context)
        return best[1] if best else None

    def evaluate(self, claims: TokenClaims, facts: _Facts, now: int) -> Decision:
        settings = self.settings
        store = self.store
        revision = settings.revision
        generation: int | None = 0  # no store: named locations come from the settings alone
        if store is not None:
            if not store.healthy:
                if settings.fail_mode is FailMode.CLOSED:
                    return Decision(
                        Outcome.CHALLENGE,
                        Reason.STORE_UNAVAILABLE,
                        "event store unavailable (fail mode: closed)",
                        claims=nbf_claims(now),
                    )
                if not self._serving_stale:
                    self._serving_stale = True
                    log.warning("event store unavailable; serving with last known state (open)")
            elif self._serving_stale:
                self._serving_stale = False
                log.info("event store available again")
            # Revocation, then risk: one pass over the token's subjects - unless they allowed
            # this very token (a cached one) at the store's generation and the settings'
            # revision of now (events/_store.py, "Generation"). The generation is read before
            # the subjects: an event applied meanwhile moves it, and the answer is not reused.
            generation = getattr(store, "generation", None)
            memo = claims._allowed_at
            if memo is None or memo[0] != generation or memo[1] != revision:
                decision = evaluate_subjects(
                    claims,
                    store.watermark,
                    store.risk,
                    now=now,
                    challenge_at=settings.risk_challenge_at,
                    deny_at=settings.risk_deny_at,
                )
                if decision is not ALLOW and not decision.allowed:
                    return decision
                if generation is not None:
                    claims._allowed_at = (generation, revision)
        located = self._located
        if located[0] == generation and located[1] == revision:
            allowed, locations = located[2], located[3]
        else:
            allowed, locations = self.locations()
            if generation is not None:  # a store without one is read on every request
                self._located = (generation, revision, allowed, locations)
        if allowed and settings.location_mode is not LocationMode.OFF:
            decision = evaluate_location(
                facts.client_ip,
                claims.ip_address,
                allowed,
                mode=settings.location_mode,
                now=now,
            )
            if not decision.allowed:
                return decision
        context = self.required_auth_context(facts.path) if settings.auth_contexts else None
        if context is not None:
            decision = auth_context_decision(claims, context)
            if not decision.allowed:
                return decision
        policy_decision = ALLOW
        if settings.policies:
            policy_decision = self._policies(claims, facts, locations, context)
            if policy_decision.outcome is not Outcome.ALLOW:
                return policy_decision
        if settings.required_scopes or settings.required_roles:
            decision = evaluate_permissions(
                claims, scopes=settings.required_scopes, roles=settings.required_roles
            )
            if not decision.allowed:
                return replace(
                    decision,
                    matched_policies=policy_decision.matched_policies,
                    report_only=policy_decision.report_only,
                )
        return policy_decision

    def _policies(
        self,
        claims: TokenClaims,
        facts: _Facts,
        locations: Sequence[NamedLocation],
        context: str | None,
    ) -> Decision:
        store = self.store
        options = self.settings.policy_options
        # Risk is observed only through a store (fed by a risk source); without one a policy
        # with a risk condition is undecided, not "risk none".
        user_risk = sp_risk = None
        if store is not None:
            user_risk = sp_risk = "none"
            for subject in claims.subject_keys():
                level = risk_text(store.risk(subject))
                if level is None:
                    continue
                if subject.kind is SubjectKind.USER:
                    user_risk = level
                elif subject.kind is SubjectKind.SERVICE_PRINCIPAL:
                    sp_risk = max(sp_risk, level, key=risk_rank)
        evaluation = evaluate(
            self.settings.policies,
            options.context(
                claims,
                client_ip=facts.client_ip,
                user_agent=facts.user_agent,
                app_ids=frozenset(a.lower() for a in self.settings.app_ids) or self.default_app_ids,
                auth_contexts=frozenset({context.lower()}) if context else frozenset(),
                named_locations=locations,
                user_risk=user_risk,
                service_principal_risk=sp_risk,
            ),
        )
        if evaluation.decision.report_only:
            log.info(
                "report-only Conditional Access policies would apply: %s",
                ", ".join(evaluation.decision.report_only),
            )
        if evaluation.undecided:
            # Reported, never enforced: the identity provider decided them at issuance.
            log.info(
                "Conditional Access policies undecided at the resource: %s",
                "; ".join(f"{k} ({', '.join(v)})" for k, v in evaluation.undecided.items()),
            )
        return evaluation.decision


def auth_context_decision(claims: TokenClaims, context: str) -> Decision:
    """Step-up to an authentication context: a user token without it in ``acrs`` is challenged
    for it; an app-only token can never satisfy it and is refused (Microsoft identity platform,
    "Developer guide to Conditional Access authentication context": step-up is a user flow)."""
    if context.lower() in {a.lower() for a in claims.acrs}:
        return ALLOW
    details = {"auth_context": context}
    if claims.is_app_only:
        return Decision(
            Outcome.DENY,
            Reason.AUTH_CONTEXT_REQUIRED,
            f"authentication context {context} cannot be satisfied by an app-only token",
            details=details,
        )
    return Decision(
        Outcome.CHALLENGE,
        Reason.AUTH_CONTEXT_REQUIRED,
        f"authentication context {context} required",
        claims=acrs_claims(context),
        details=details,
    )
