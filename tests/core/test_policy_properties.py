"""Properties of the policy engine over Graph-shaped policy sets and requests:

* adding a condition the engine cannot observe never turns an undecided policy into an allow
  or a block, and makes a policy that applied undecided (never silently dropped);
* an undecided policy decides nothing for the other policies (at most it leaves them
  undecided, when it may set the session's CAE location enforcement);
* no claims challenge ever asks for ``amr``;
* any document, however malformed, loads or raises ConfigurationError, and evaluation of what
  loads never raises.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.decisions import Outcome
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.policies import PolicyContext, PolicyVerdict, evaluate, load_policies

from .policy_strategies import (
    broken_policies,
    contexts,
    policies,
    with_unobservable_condition,
)


def _verdict(policy: dict[str, Any], context: PolicyContext) -> PolicyVerdict:
    return evaluate(load_policies([policy]), context).results[0].verdict


_KNOWN_MODES = (None, "strictEnforcement", "disabled")  # None: no session control (standard)


def _cae_mode(policy: dict[str, Any]) -> Any:
    control = (policy.get("sessionControls") or {}).get("continuousAccessEvaluation") or {}
    return control.get("mode")


def _with_cae_mode(policy: dict[str, Any], mode: str | None) -> dict[str, Any]:
    controls = dict(policy.get("sessionControls") or {})
    controls.pop("continuousAccessEvaluation", None)
    if mode is not None:
        controls["continuousAccessEvaluation"] = {"mode": mode}
    return {**policy, "sessionControls": controls or None}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), context=contexts())
def test_an_unobservable_condition_never_decides(data: st.DataObject, context: Any) -> None:
    policy = data.draw(policies())
    before = _verdict(policy, context)
    changed = data.draw(with_unobservable_condition(policy))
    after = _verdict(changed, context)
    if before is PolicyVerdict.NOT_APPLIED:
        # An observed mismatch settles the policy, whatever else is configured. An unknown
        # CAE mode is no condition: it may be any mode, and a mismatch one mode observes (the
        # token's ipaddr outside, standard) another may not (strict: an unknown client IP).
        settled = {PolicyVerdict.NOT_APPLIED}
        if _cae_mode(changed) == "aModeFromTheFuture":
            settled = {_verdict(_with_cae_mode(changed, mode), context) for mode in _KNOWN_MODES}
        expected = PolicyVerdict.NOT_APPLIED if settled == {before} else PolicyVerdict.UNDECIDED
        assert after is expected
    else:
        # Undecided stays undecided; what applied becomes undecided, never allow or block.
        assert after is PolicyVerdict.UNDECIDED


@settings(max_examples=100, deadline=None)
@given(data=st.data(), context=contexts())
def test_an_undecided_policy_contributes_nothing_to_the_decision(
    data: st.DataObject, context: Any
) -> None:
    docs = [data.draw(policies(index=i)) for i in range(data.draw(st.integers(1, 4)))]
    target = data.draw(st.integers(0, len(docs) - 1))
    docs[target] = data.draw(with_unobservable_condition(docs[target]))
    loaded = load_policies(docs)
    full = evaluate(loaded, context)
    assert full.result(f"P{target}").verdict is not PolicyVerdict.BLOCK
    undecided_target = full.result(f"P{target}").verdict is PolicyVerdict.UNDECIDED
    without = evaluate([p for p in loaded if p.id != f"P{target}"], context)
    if undecided_target:
        assert f"P{target}" in full.decision.details["undecided"]
        # It decides nothing for the others: a policy whose verdict changes becomes undecided
        # (the undecided policy may set the session's CAE location enforcement).
        for result in without.results:
            if full.result(result.policy_id).verdict is not result.verdict:
                assert full.result(result.policy_id).verdict is PolicyVerdict.UNDECIDED
        if all(full.result(r.policy_id).verdict is r.verdict for r in without.results):
            assert full.decision.outcome is without.decision.outcome
            assert full.decision.claims == without.decision.claims


_SEVERITY = {Outcome.ALLOW: 0, Outcome.CHALLENGE: 1, Outcome.DENY: 2}


@settings(max_examples=150, deadline=None)
@given(data=st.data(), context=contexts())
def test_an_unobservable_condition_never_adds_enforcement_to_a_policy_set(
    data: st.DataObject, context: Any
) -> None:
    """Issue 12: for any policy set and request, adding a condition the engine cannot observe
    never turns an undecided into an allow or a block: the set's decision is never more
    severe, and no other policy's verdict becomes decided."""
    docs = [data.draw(policies(index=i)) for i in range(data.draw(st.integers(1, 4)))]
    target = data.draw(st.integers(0, len(docs) - 1))
    before = evaluate(load_policies(docs), context)
    docs[target] = data.draw(with_unobservable_condition(docs[target]))
    after = evaluate(load_policies(docs), context)
    assert _SEVERITY[after.decision.outcome] <= _SEVERITY[before.decision.outcome]
    for result in after.results:
        earlier = before.result(result.policy_id).verdict
        if earlier is PolicyVerdict.UNDECIDED:
            assert result.verdict is PolicyVerdict.UNDECIDED
        else:
            assert result.verdict in (earlier, PolicyVerdict.UNDECIDED)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), context=contexts())
def test_no_challenge_ever_asks_for_amr(data: st.DataObject, context: Any) -> None:
    docs = [data.draw(policies(index=i)) for i in range(data.draw(st.integers(1, 4)))]
    decision = evaluate(load_policies(docs), context).decision
    if decision.outcome is Outcome.CHALLENGE:
        assert decision.claims is not None
        assert set(decision.claims["access_token"]) == {"acrs"}
    if context.claims.is_app_only:
        assert decision.outcome is not Outcome.CHALLENGE


@settings(max_examples=200, deadline=None)
@given(document=broken_policies(), context=contexts())
def test_any_document_loads_or_is_a_configuration_error(document: Any, context: Any) -> None:
    try:
        loaded = load_policies([document])
    except ConfigurationError:
        return
    evaluate(loaded, context)  # never raises
