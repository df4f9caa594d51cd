from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core._revocation import (
    evaluate_revocation,
    evaluate_risk,
    evaluate_subjects,
    risk_rank,
)
from cae_sdk.core.decisions import Outcome, Reason
from cae_sdk.core.errors import TokenFormatError
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


# -- subjects for any issuer (issue 10, item 2) ------------------------------------------------

ISS = "https://idp.example/realms/acme"


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        # Entra v2 and v1: the tenant key is tid.
        (
            {"iss": "https://login.microsoftonline.com/T/v2.0", "tid": "T", "oid": "O", "sub": "S",
             "scp": "x", "sid": "S1"},
            {SubjectKey.tenant("t"), SubjectKey.user("t", "o"), SubjectKey.session("t", "S1"),
             # an object id is keyed as user and service principal, whatever the token's kind
             SubjectKey.service_principal("t", "o"),
             # the (iss, sub) pair another issuer's Shared Signals may name (RFC 9493 3.2.3)
             SubjectKey.iss_sub("t", "https://login.microsoftonline.com/T/v2.0", "S")},
        ),
        (
            {"iss": "https://sts.windows.net/T/", "tid": "T", "oid": "SPO", "appid": "A",
             "idtyp": "app"},
            {SubjectKey.tenant("t"), SubjectKey.service_principal("t", "a"),
             SubjectKey.service_principal("t", "spo"), SubjectKey.user("t", "spo")},
        ),
        # Generic OpenID Connect: no tid, the issuer is the tenant key and sub names the user.
        (
            {"iss": ISS, "sub": "user-1", "scope": "openid api", "azp": "web", "sid": "s-1"},
            {SubjectKey.tenant(ISS), SubjectKey.user(ISS, "user-1"),
             SubjectKey.session(ISS, "s-1"),
             # no scp: it may be app-only (RFC 9068), so its client's key applies too
             SubjectKey.service_principal(ISS, "web"),
             SubjectKey.iss_sub(ISS, ISS, "user-1")},
        ),
        (
            {"iss": ISS, "sub": "user-1", "scp": "api", "azp": "web-app", "email": "A@x.example"},
            {SubjectKey.tenant(ISS), SubjectKey.user(ISS, "user-1"),
             SubjectKey.iss_sub(ISS, ISS, "user-1"), SubjectKey.email(ISS, "a@x.example")},
        ),
        # RFC 9068 client-credentials token: client_id names the client.
        (
            {"iss": ISS, "sub": "svc", "client_id": "svc-client", "idtyp": "app"},
            {SubjectKey.tenant(ISS), SubjectKey.service_principal(ISS, "svc-client"),
             SubjectKey.user(ISS, "svc"), SubjectKey.iss_sub(ISS, ISS, "svc")},
        ),
        ({"sub": "x"}, set()),  # no issuer at all: no validator accepts it
    ],
)  # fmt: skip
def test_subject_keys_per_issuer_kind(claims: dict[str, object], expected: set[SubjectKey]) -> None:
    assert set(TokenClaims(claims).subject_keys()) == expected


@pytest.mark.parametrize("name", ["tid", "oid", "sub", "sid", "azp", "appid", "client_id"])
@pytest.mark.parametrize("value", [None, 7, "", ["t"], {"t": 1}, True])
def test_an_identifier_that_cannot_name_a_subject_refuses_the_token(
    name: str, value: object
) -> None:
    claims = TokenClaims({"iss": ISS, "tid": "t", "oid": "o", name: value, "idtyp": "app"})
    if name == "sub":  # with tid, sub is not an identifier (Entra's sub is pairwise)
        claims = TokenClaims({"iss": ISS, name: value})
    with pytest.raises(TokenFormatError, match=name):
        claims.subject_keys()


def test_a_revoked_generic_oidc_user_is_refused() -> None:
    token = TokenClaims({"iss": ISS, "sub": "User-1", "scope": "api", "iat": 100})
    for subject in (SubjectKey.user(ISS, "User-1"), SubjectKey.tenant(ISS)):
        decision = evaluate_revocation(token, {subject: 200}.get)
        assert decision.reason is Reason.TOKEN_REVOKED, subject
    assert evaluate_revocation(token, {SubjectKey.user("other-issuer", "User-1"): 200}.get).allowed


@given(
    issuer=st.text(min_size=1, max_size=40),
    value=st.text(min_size=1, max_size=40),
    kind=st.sampled_from(["user", "sp", "session", "tenant"]),
)
def test_subject_key_text_round_trips_for_any_tenant_key(
    issuer: str, value: str, kind: str
) -> None:
    constructor = {
        "user": SubjectKey.user,
        "sp": SubjectKey.service_principal,
        "session": SubjectKey.session,
        "tenant": lambda tenant, _: SubjectKey.tenant(tenant),
    }[kind]
    key = constructor(issuer, value)
    assert SubjectKey.parse(str(key)) == key
    # Entra tenant ids (GUIDs) keep their text form.
    guid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    assert str(SubjectKey.user(guid, "o")) == f"user:{guid}:o"


_LEVELS = st.sampled_from([None, "none", "low", "medium", "high", "HIGH", "bogus"])


@given(
    iat=st.one_of(st.none(), st.integers(0, 1000)),
    marks=st.dictionaries(st.sampled_from(["tenant", "user", "session"]), st.integers(0, 1000)),
    risks=st.dictionaries(st.sampled_from(["tenant", "user", "session"]), _LEVELS),
    challenge_at=st.sampled_from([None, "low", "medium", "high"]),
    deny_at=st.sampled_from([None, "medium", "high"]),
)
def test_one_pass_equals_revocation_then_risk(
    iat: int | None,
    marks: dict[str, int],
    risks: dict[str, str | None],
    challenge_at: str | None,
    deny_at: str | None,
) -> None:
    token = user_token(iat)
    subjects = {
        "tenant": SubjectKey.tenant(TID),
        "user": SubjectKey.user(TID, OID),
        "session": SubjectKey.session(TID, "s1"),
    }
    watermark_of = {subjects[k]: v for k, v in marks.items()}.get
    risk_of = {subjects[k]: v for k, v in risks.items()}.get
    expected = evaluate_revocation(token, watermark_of)
    if expected.allowed:
        expected = evaluate_risk(token, risk_of, now=5, challenge_at=challenge_at, deny_at=deny_at)
    got = evaluate_subjects(
        token, watermark_of, risk_of, now=5, challenge_at=challenge_at, deny_at=deny_at
    )
    assert got == expected
