"""One subject, one key: however a revocation names a subject (a constructor, an admin API body
parsed with ``SubjectKey.parse``, a store reading its rows back), it is the key the token's
claims give, so no spelling of a tenant, user, app or session escapes its revocation."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core import SubjectKey, TokenClaims
from cae_sdk.core._revocation import evaluate_revocation
from cae_sdk.core.errors import TokenFormatError
from cae_sdk.core.subjects import SubjectKind
from cae_sdk.events import RevocationEvent, event_from_dict, event_to_dict

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OID = "aaaaaaaa-0000-4000-8000-00000000000a"


def _spellings(guid: str) -> list[str]:
    upper = guid.upper()
    return [
        guid,
        upper,
        "{" + guid + "}",
        "{" + upper + "}",
        guid.replace("-", ""),
        upper.replace("-", ""),
        "urn:uuid:" + guid,
        f"  {guid}\t",
        # Full-width digits and letters (NFKC maps them to ASCII).
        guid.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)}),
    ]


def _user_token() -> TokenClaims:
    return TokenClaims({"tid": TENANT, "oid": OID, "scp": "read", "iat": 1_000, "sid": OID})


@pytest.mark.parametrize("tenant", _spellings(TENANT))
@pytest.mark.parametrize("oid", _spellings(OID))
def test_a_revocation_written_in_any_guid_spelling_matches_the_token(tenant: str, oid: str) -> None:
    token = _user_token()
    written_keys = [
        SubjectKey.user(tenant, oid),
        SubjectKey.tenant(tenant),
        SubjectKey.session(tenant, oid),
    ]
    if ":" not in tenant:  # the text form escapes ":" in a tenant key (a URN is not parsed)
        text = f"user:{tenant}:{oid}"
        body = {**event_to_dict(RevocationEvent(SubjectKey.user(TENANT, OID), 2_000, "r"))}
        body["subject"] = text
        event = event_from_dict(body)  # the admin API's body
        assert isinstance(event, RevocationEvent)
        written_keys += [SubjectKey.parse(text), event.subject]
    for written in written_keys:
        assert written in token.subject_keys(), written
        decision = evaluate_revocation(token, {written: 2_000}.get)
        assert not decision.allowed


def test_other_identifiers_fold_case_width_and_space_but_sessions_keep_case() -> None:
    alice = SubjectKey.user("t", "alice")
    assert SubjectKey.user("T", " Alice ") == alice
    full_width = "\uff21\uff2c\uff29\uff23\uff25"  # "ALICE" in full-width letters
    assert SubjectKey.user("\uff54", full_width) == alice
    email = SubjectKey.email("t", "alice@example.com")
    assert SubjectKey.email("t", " Alice@Example.COM ") == email
    assert SubjectKey.session("t", "AbC") != SubjectKey.session("t", "abc")
    assert SubjectKey.session("t", "{" + OID.upper() + "}") == SubjectKey.session("t", OID)
    # RFC 9493 section 3.2.3: the (iss, sub) pair compares exactly.
    pair = SubjectKey.iss_sub
    assert pair("t", "https://i", "Sub") != pair("t", "https://i", "sub")


def test_an_issuer_tenant_key_ignores_a_trailing_slash() -> None:
    issuer = "https://keycloak.example/realms/acme"
    token = TokenClaims({"iss": issuer + "/", "sub": "alice", "scope": "api", "iat": 1})
    for written in (SubjectKey.tenant(issuer), SubjectKey.user(issuer.upper() + "/", "alice")):
        assert written in token.subject_keys()


def test_a_blank_identifier_is_kept_as_written_never_an_error() -> None:
    # A Shared Signals subject or an admin body may hold one: it names nobody, but reading it
    # must not break the receiver (and the text form still round-trips).
    key = SubjectKey.user("t", " \u3000 ")
    assert key.value == " \u3000 " and SubjectKey.parse(str(key)) == key


@pytest.mark.parametrize("claim", ["tid", "oid", "sid", "sub"])
def test_a_blank_identifier_claim_is_malformed(claim: str) -> None:
    payload = {"iss": "https://i", "tid": TENANT, "oid": OID, "scp": "a", claim: "\u3000 "}
    if claim == "sub":
        del payload["tid"]  # sub names the user when there is no tid
    with pytest.raises(TokenFormatError):
        TokenClaims(payload).subject_keys()


texts = st.text(min_size=1, max_size=40) | st.uuids().map(str).flatmap(
    lambda g: st.sampled_from(_spellings(g))
)


@given(kind=st.sampled_from(list(SubjectKind)), tenant=texts, value=texts)
def test_keys_are_canonical_and_round_trip(kind: SubjectKind, tenant: str, value: str) -> None:
    key = SubjectKey(kind, tenant, value)
    assert SubjectKey(kind, key.tenant_id, key.value) == key  # idempotent
    assert SubjectKey.parse(str(key)) == key
    assert hash(SubjectKey.parse(str(key))) == hash(key)


@given(st.uuids(), st.uuids())
def test_every_guid_spelling_is_one_key(tenant: uuid.UUID, oid: uuid.UUID) -> None:
    keys = {SubjectKey.user(t, o) for t in _spellings(str(tenant)) for o in _spellings(str(oid))}
    assert keys == {SubjectKey.user(str(tenant), str(oid))}


KEYCLOAK = "https://keycloak.example/realms/acme"
_TOKENS_OF_EVERY_KIND = {
    # An Entra ID token: no scp, no roles, no idtyp - it reads as app-only.
    "entra id token": {"tid": TENANT, "oid": OID, "sub": "pairwise", "iat": 1_000},
    # A user token whose optional idtyp says app (or a user token without scp).
    "user token read as app": {"tid": TENANT, "oid": OID, "idtyp": "app", "scp": "a", "iat": 1},
    "user token": {"tid": TENANT, "oid": OID, "scp": "read", "iat": 1_000},
    "app-only token": {"tid": TENANT, "oid": OID, "azp": "c1", "idtyp": "app", "iat": 1_000},
}


@pytest.mark.parametrize("payload", _TOKENS_OF_EVERY_KIND.values(), ids=_TOKENS_OF_EVERY_KIND)
@pytest.mark.parametrize("kind", [SubjectKey.user, SubjectKey.service_principal])
def test_an_object_id_is_revoked_whatever_the_token_kind(payload: dict, kind: object) -> None:
    token = TokenClaims(payload)
    revoked = kind(TENANT, OID)  # type: ignore[operator]
    assert not evaluate_revocation(token, {revoked: 2_000}.get).allowed


def test_an_rfc9068_user_token_is_revoked_by_its_address() -> None:
    # Keycloak, Okta, Auth0: "scope", not "scp"; the user is named by email in Shared Signals.
    token = TokenClaims(
        {"iss": KEYCLOAK, "sub": "f:1b2c:alice", "scope": "api", "azp": "web", "iat": 1_000}
        | {"email": "Alice@Example.com", "preferred_username": "alice@example.com"}
    )
    revoked = SubjectKey.email(KEYCLOAK, "alice@example.com")
    assert not evaluate_revocation(token, {revoked: 2_000}.get).allowed
    assert token.subject_keys().count(revoked) == 1


def test_revoking_a_client_app_does_not_end_its_users_delegated_tokens() -> None:
    user = TokenClaims({"tid": TENANT, "oid": OID, "azp": "c1", "scp": "read", "iat": 1_000})
    assert evaluate_revocation(
        user, {SubjectKey.service_principal(TENANT, "c1"): 2_000}.get
    ).allowed
