from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core.decisions import Outcome, Reason
from cae_sdk.core.revocation import evaluate_revocation, evaluate_risk, risk_rank
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.core.tokens import TokenClaims

TID, OID, APP = "t1", "o1", "a1"


def user_token(iat: int | None, **extra: object) -> TokenClaims:
    claims: dict[str, object] = {"tid": TID, "oid": OID, "scp": "x", "sid": "s1", **extra}
    if iat is not None:
        claims["iat"] = iat
    return TokenClaims(claims)


def test_no_watermark_allows() -> None:
    assert evaluate_revocation(user_token(100), {}.get).allowed


def test_token_before_user_watermark_is_challenged_with_nbf() -> None:
    marks = {SubjectKey.user(TID, OID): 200}
    decision = evaluate_revocation(user_token(100), marks.get)
    assert decision.outcome is Outcome.CHALLENGE
    assert decision.reason is Reason.TOKEN_REVOKED
    assert decision.claims == {"access_token": {"nbf": {"essential": True, "value": "200"}}}
    assert evaluate_revocation(user_token(200), marks.get).allowed


def test_newest_matching_watermark_wins_across_subject_kinds() -> None:
    marks = {
        SubjectKey.tenant(TID): 150,
        SubjectKey.session(TID, "s1"): 300,
        SubjectKey.user("other", OID): 999,
    }
    decision = evaluate_revocation(user_token(250), marks.get)
    assert decision.details["watermark"] == 300
    assert decision.details["subject"] == str(SubjectKey.session(TID, "s1"))


def test_service_principal_watermark_applies_to_app_tokens_only() -> None:
    marks = {SubjectKey.service_principal(TID, APP): 200}
    app_token = TokenClaims({"tid": TID, "azp": APP, "idtyp": "app", "iat": 100})
    assert not evaluate_revocation(app_token, marks.get).allowed
    assert evaluate_revocation(user_token(100, azp=APP), marks.get).allowed


def test_missing_iat_fails_closed() -> None:
    marks = {SubjectKey.user(TID, OID): 1}
    assert not evaluate_revocation(user_token(None), marks.get).allowed


@given(iat=st.integers(0, 2**40), marks=st.lists(st.integers(0, 2**40), max_size=4))
def test_revoked_iff_iat_older_than_newest_watermark(iat: int, marks: list[int]) -> None:
    subjects = [
        SubjectKey.tenant(TID),
        SubjectKey.user(TID, OID),
        SubjectKey.session(TID, "s1"),
        SubjectKey.user(TID, "someone-else"),
    ]
    table = dict(zip(subjects, marks, strict=False))
    relevant = [v for k, v in table.items() if k.value != "someone-else"]
    decision = evaluate_revocation(user_token(iat), table.get)
    expected_revoked = bool(relevant) and iat < max(relevant)
    assert decision.allowed is not expected_revoked
    if expected_revoked:
        assert decision.claims is not None
        assert decision.claims["access_token"]["nbf"]["value"] == str(max(relevant))


def test_risk_levels() -> None:
    risks = {SubjectKey.user(TID, OID): "high"}
    decision = evaluate_risk(user_token(1), risks.get, now=500)
    assert decision.outcome is Outcome.CHALLENGE and decision.reason is Reason.RISK_TOO_HIGH
    assert decision.claims == {"access_token": {"nbf": {"essential": True, "value": "500"}}}
    denied = evaluate_risk(user_token(1), risks.get, now=1, deny_at="medium")
    assert denied.outcome is Outcome.DENY
    assert evaluate_risk(user_token(1), {SubjectKey.user(TID, OID): "low"}.get, now=1).allowed
    assert risk_rank("garbage") == risk_rank("high")  # unreadable fails closed


def test_decision_to_dict_is_json_ready() -> None:
    import json

    decision = evaluate_revocation(user_token(100), {SubjectKey.user(TID, OID): 200}.get)
    data = json.loads(json.dumps(decision.to_dict()))
    assert data["outcome"] == "challenge"
    assert data["reason"] == "TokenIssuedBeforeRevocationTimestamp"
    assert data["claims"]["access_token"]["nbf"]["value"] == "200"
    assert data["details"]["watermark"] == 200
