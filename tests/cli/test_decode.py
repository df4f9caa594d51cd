"""``cae decode``: tokens, SETs and WWW-Authenticate values, in tables and JSON."""

from __future__ import annotations

import base64
import json
import time

import jwt

from .conftest import make_token

REVOKED = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", '
    'claims="eyJhY2Nlc3NfdG9rZW4iOnsibmJmIjp7ImVzc2VudGlhbCI6dHJ1ZSwgInZhbHVlIjoiMTY1NzgzNDQxNyJ9'
    'fX0=", errorDescription="Continuous access evaluation resulted in claims challenge with '
    'result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp"'
)


def test_token_explains_capabilities_and_lifetime(cae):
    result = cae("decode", make_token(), "--json")
    assert result.code == 0
    data = result.json()
    assert data["kind"] == "token"
    assert data["cae_capable"] is True
    assert data["capabilities"] == ["CP1"]
    assert data["lifetime"]["lifetime_seconds"] == 24 * 3600
    assert data["lifetime"]["expired"] is False
    assert data["identity"]["kind"] == "user (delegated)"
    assert (
        "user:11111111-2222-3333-4444-555555555555:aaaaaaaa-0000-0000-0000-000000000001"
        in (data["revocation_subjects"])
    )
    assert any("Long-lived" in note for note in data["notes"])
    assert any("NOT verified" in note for note in data["notes"])


def test_token_without_cp1_and_expired(cae):
    now = int(time.time())
    token = make_token(xms_cc=None, iat=now - 7200, nbf=now - 7200, exp=now - 3600, scp=None)
    data = cae("decode", token, "--json").json()
    assert data["cae_capable"] is False
    assert data["lifetime"]["expired"] is True
    assert data["identity"]["kind"] == "application (app-only)"
    assert any("invalid_token" in note for note in data["notes"])


def test_authorization_header_form_is_a_token(cae):
    result = cae("decode", f"Authorization: Bearer {make_token()}")
    assert result.code == 0
    assert "CAE capable" in result.out
    assert "yes" in result.out


def test_security_event_token(cae):
    claims = {
        "iss": "https://idp.example",
        "aud": "https://api.example",
        "iat": int(time.time()),
        "jti": "j1",
        "sub_id": {"format": "email", "email": "a@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {}},
    }
    token = jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"typ": "secevent+jwt"})
    data = cae("decode", token, "--json").json()
    assert data["kind"] == "security-event-token"
    assert data["event_types"] == [
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
    ]


def test_revocation_challenge(cae):
    data = cae("decode", REVOKED, "--json").json()
    assert data["claims_challenge"] is True
    (challenge,) = data["challenges"]
    assert challenge["claims"]["access_token"]["nbf"]["value"] == "1657834417"
    meaning = " ".join(challenge["meaning"])
    assert "revoked" in meaning and "nbf >= 1657834417" in meaning


def test_step_up_challenge_in_table_form(cae):
    claims = base64.b64encode(
        json.dumps({"access_token": {"acrs": {"essential": True, "value": "c1"}}}).encode()
    ).decode()
    result = cae(
        "decode", f'WWW-Authenticate: Bearer error="insufficient_claims", claims="{claims}"'
    )
    assert result.code == 0
    assert "acrs c1" in result.out
    assert "A cp1 client answers this" in result.out


def test_negative_examples_do_not_trigger_retry(cae):
    for header in (
        'Bearer claims="not base64", error="insufficient_claims"',
        'Bearer error="insufficient_claims", authorization_uri="http://localhost", claims="ey"',
    ):
        data = cae("decode", header, "--json").json()
        assert data["claims_challenge"] is False
        assert "claims_error" in data["challenges"][0]


def test_several_challenges_in_one_value(cae):
    data = cae("decode", 'PoP nonce="n", Bearer error="invalid_token"', "--json").json()
    assert [c["scheme"] for c in data["challenges"]] == ["PoP", "Bearer"]
    assert data["claims_challenge"] is False


def test_bad_input_is_one_line_and_exit_2(cae):
    for bad in ("a.b.c", 'Bearer x="unterminated', "   "):
        result = cae("decode", bad)
        assert result.code == 2, bad
        assert result.err.startswith("cae: error: ")
        assert "Traceback" not in result.err
        assert result.out == ""


def test_reads_standard_input(cae, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(make_token() + "\n"))
    assert cae("decode", "-", "--json").json()["kind"] == "token"


def test_arbitrary_input_is_explained_or_refused_never_a_crash():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cae_sdk.cli._explain import classify_input, explain_challenges, explain_token
    from cae_sdk.core.errors import CAEError

    pieces = st.sampled_from(["Bearer ", "eyJ", ".", "=", '"', ",", "claims=", "error=", " "])
    texts = st.lists(pieces | st.text(max_size=8), max_size=12).map("".join)

    @settings(max_examples=300, deadline=None)
    @given(texts)
    def check(text):
        kind, value = classify_input(text)
        try:
            if kind == "token":
                explain_token(value, now=0)
            else:
                explain_challenges(value)
        except CAEError:
            pass  # a typed, one-line error: what the CLI prints with exit 2

    check()
