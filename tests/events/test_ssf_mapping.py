"""The CAEP/RISC mapping table and RFC 9493 subject resolution."""

from __future__ import annotations

from typing import Any

import pytest

from cae_sdk.core.secevents import CAEP, RISC, SSF
from cae_sdk.core.subjects import SubjectKey, SubjectKind
from cae_sdk.events import RevocationEvent, RiskEvent, RiskLevel
from cae_sdk.events.ssf import (
    EVENT_MAPPING,
    DirectorySubjectResolver,
    Effect,
    SecurityEvent,
    map_security_event,
)

ISS = "https://idp.example/t1/v2.0"
TID = "11111111-2222-3333-4444-555555555555"
OID = "AAAAAAAA-0000-0000-0000-000000000001"
RESOLVER = DirectorySubjectResolver(
    tenant_id=TID,
    tenant_for_issuer={ISS: TID},
    object_id_for_email={"alice@example.com": OID},
)
USER = SubjectKey.user(TID, OID)
PAIR = SubjectKey.iss_sub(TID, ISS, OID)
COMPLEX_USER = {
    "format": "complex",
    "user": {"format": "opaque", "id": OID},
    "tenant": {"format": "opaque", "id": TID},
}


def _event(event_type: str, payload: dict[str, Any] | None = None, **kw: Any) -> SecurityEvent:
    subject = kw.pop("subject", COMPLEX_USER)
    return SecurityEvent(
        jti="j1",
        issuer=ISS,
        issued_at=1000,
        event_type=event_type,
        payload=payload or {},
        subject=subject,
        **kw,
    )


@pytest.mark.parametrize(
    ("event_type", "payload", "effect", "reason"),
    [
        (CAEP.SESSION_REVOKED, {}, Effect.WATERMARK, "sessions_revoked"),
        (CAEP.CREDENTIAL_CHANGE, {"change_type": "update"}, Effect.WATERMARK, "credential_change"),
        (
            CAEP.TOKEN_CLAIMS_CHANGE,
            {"claims": {"role": "x"}},
            Effect.WATERMARK,
            "token_claims_change",
        ),
        (
            CAEP.ASSURANCE_LEVEL_CHANGE,
            {"change_direction": "decrease"},
            Effect.WATERMARK,
            "assurance_level_change",
        ),
        (
            CAEP.DEVICE_COMPLIANCE_CHANGE,
            {"current_status": "not-compliant"},
            Effect.WATERMARK,
            "device_not_compliant",
        ),
        (RISC.ACCOUNT_DISABLED, {}, Effect.WATERMARK, "user_disabled"),
        (RISC.ACCOUNT_PURGED, {}, Effect.WATERMARK, "user_deleted"),
        (RISC.CREDENTIAL_COMPROMISE, {}, Effect.WATERMARK, "credential_compromise"),
        (RISC.SESSIONS_REVOKED, {}, Effect.WATERMARK, "sessions_revoked"),
    ],
)
def test_watermark_events(
    event_type: str, payload: dict[str, Any], effect: Effect, reason: str
) -> None:
    mapped = map_security_event(_event(event_type, payload), RESOLVER)
    assert mapped.effect is effect
    assert mapped.events == (RevocationEvent(USER, 1000, reason, "ssf", "j1"),)
    assert EVENT_MAPPING[event_type].effect is effect


@pytest.mark.parametrize(
    ("event_type", "payload"),
    [
        (CAEP.ASSURANCE_LEVEL_CHANGE, {"change_direction": "increase"}),
        (CAEP.DEVICE_COMPLIANCE_CHANGE, {"current_status": "compliant"}),
        (CAEP.CREDENTIAL_CHANGE, {"change_type": "create"}),
        (CAEP.SESSION_ESTABLISHED, {}),
        (RISC.ACCOUNT_ENABLED, {}),
        (SSF.STREAM_UPDATED, {"status": "paused"}),
        ("https://example.com/unknown-event", {}),
    ],
)
def test_ignored_events_carry_a_reason(event_type: str, payload: dict[str, Any]) -> None:
    mapped = map_security_event(_event(event_type, payload), RESOLVER)
    assert mapped.events == ()
    assert mapped.ignored_reason


def test_risk_events() -> None:
    mapped = map_security_event(_event(CAEP.RISK_LEVEL_CHANGE, {"current_level": "HIGH"}), RESOLVER)
    assert mapped.events == (
        RiskEvent(USER, RiskLevel.HIGH, 1000, "risk_level_change", "ssf", "j1"),
    )
    required = map_security_event(_event(RISC.ACCOUNT_CREDENTIAL_CHANGE_REQUIRED), RESOLVER)
    assert required.events[0].level is RiskLevel.HIGH  # type: ignore[union-attr]
    unknown = map_security_event(
        _event(CAEP.RISK_LEVEL_CHANGE, {"current_level": "weird"}), RESOLVER
    )
    assert unknown.events == () and unknown.ignored_reason


def test_event_timestamp_earlier_than_iat_is_used_but_never_later() -> None:
    early = map_security_event(_event(CAEP.SESSION_REVOKED, {"event_timestamp": 900}), RESOLVER)
    late = map_security_event(_event(CAEP.SESSION_REVOKED, {"event_timestamp": 5000}), RESOLVER)
    assert early.events[0].not_before == 900  # type: ignore[union-attr]
    assert late.events[0].not_before == 1000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        # RFC 9493 section 3.2.3: the token's own (iss, sub) pair, never the oid.
        ({"format": "iss_sub", "iss": ISS, "sub": OID}, (PAIR,)),
        ({"format": "iss_sub", "iss": "https://unknown", "sub": OID}, ()),
        ({"format": "email", "email": "Alice@Example.com"}, (USER,)),
        ({"format": "email", "email": "bob@example.com"}, ()),
        ({"format": "opaque", "id": OID}, (USER,)),
        ({"format": "account", "uri": f"acct:{OID}@{TID}"}, (USER,)),
        (
            {
                "format": "aliases",
                "identifiers": [
                    {"format": "email", "email": "x@y"},
                    {"format": "opaque", "id": OID},
                ],
            },
            (USER,),
        ),
        (
            {
                "format": "complex",
                "user": {"format": "opaque", "id": OID},
                "session": {"format": "opaque", "id": "Sess-1"},
            },
            (SubjectKey.session(TID, "Sess-1"),),
        ),
        (
            {
                "format": "complex",
                "application": {"format": "opaque", "id": "APP-1"},
                "tenant": {"format": "opaque", "id": TID},
            },
            (SubjectKey.service_principal(TID, "app-1"),),
        ),
        (
            {"format": "complex", "tenant": {"format": "opaque", "id": TID}},
            (SubjectKey.tenant(TID),),
        ),
        # Another tenant than the transmitter's: nothing (the SET is refused, access_denied).
        (
            {
                "format": "complex",
                "application": {"format": "opaque", "id": "APP-1"},
                "tenant": {"format": "opaque", "id": "T2"},
            },
            (),
        ),
        ({"format": "complex", "tenant": {"format": "opaque", "id": "T2"}}, ()),
        ({"format": "complex"}, ()),
        ({"format": "aliases", "identifiers": 5}, ()),
        ({"format": "aliases", "identifiers": "abc"}, ()),
        (
            {
                "format": "complex",
                "user": {"format": "aliases", "identifiers": [{"format": "opaque", "id": OID}]},
            },
            (USER,),
        ),
        ({"format": "phone_number"}, ()),
        ({"format": "did", "url": "did:example:1"}, ()),
        # SSF 1.0 section 3.3.1: one principal. A member the API cannot match never widens.
        (
            {
                "format": "complex",
                "device": {"format": "opaque", "id": "dev-1"},
                "tenant": {"format": "opaque", "id": TID},
            },
            (),
        ),
        (
            {
                "format": "complex",
                "user": {"format": "email", "email": "nobody@example.com"},
                "tenant": {"format": "opaque", "id": TID},
            },
            (),
        ),
        (
            {
                "format": "complex",
                "user": {"format": "email", "email": "nobody@example.com"},
                "application": {"format": "opaque", "id": "app-1"},
            },
            (),
        ),
        (
            {
                "format": "complex",
                "user": {"format": "opaque", "id": OID},
                "device": {"format": "opaque", "id": "dev-1"},
                "tenant": {"format": "opaque", "id": TID},
            },
            (USER,),
        ),
    ],
)
def test_subject_resolution(subject: dict[str, Any], expected: tuple[SubjectKey, ...]) -> None:
    assert RESOLVER.resolve(subject).keys == expected


def test_opaque_kind_and_callable_lookups() -> None:
    resolver = DirectorySubjectResolver(
        tenant_for_issuer=lambda iss: TID if iss == ISS else None,
        opaque_kind=SubjectKind.SERVICE_PRINCIPAL,
    )
    assert resolver.resolve({"format": "opaque", "id": "App"}).keys == ()  # no tenant
    assert resolver.resolve({"format": "opaque", "id": "App"}, issuer=ISS).keys == (
        SubjectKey.service_principal(TID, "app"),
    )
    resolver = DirectorySubjectResolver(tenant_id=TID, opaque_kind=SubjectKind.SERVICE_PRINCIPAL)
    assert resolver.resolve({"format": "opaque", "id": "App"}).keys == (
        SubjectKey.service_principal(TID, "app"),
    )


def test_opaque_subject_of_session_revoked_is_a_session() -> None:
    # CAEP 1.0 section 3.1: "the session identified by the subject".
    found = RESOLVER.resolve({"format": "opaque", "id": "S-1"}, event_type=CAEP.SESSION_REVOKED)
    assert found.keys == (SubjectKey.session(TID, "S-1"),)
    person = RESOLVER.resolve(
        {"format": "email", "email": "alice@example.com"}, event_type=CAEP.SESSION_REVOKED
    )
    assert person.keys == (USER,)


def test_email_claims_and_directory_lookups_are_configured_per_transmitter() -> None:
    claims = DirectorySubjectResolver(tenant_id=TID, match_email_claims=True)
    assert claims.resolve({"format": "email", "email": "Bob@Example.com"}).keys == (
        SubjectKey.email(TID, "bob@example.com"),
    )
    directory = DirectorySubjectResolver(
        tenant_id=TID,
        object_id_for_subject={("https://okta.example", "00u1"): OID},
        match_iss_sub_claims=False,
    )
    pair = {"format": "iss_sub", "iss": "https://okta.example", "sub": "00u1"}
    assert directory.resolve(pair).keys == (USER,)
    assert directory.resolve({**pair, "sub": "00u2"}).keys == ()
    entra = DirectorySubjectResolver()
    v2 = f"https://login.microsoftonline.com/{TID}/v2.0"
    assert entra.resolve({"format": "iss_sub", "iss": v2, "sub": "pairwise"}).keys == (
        SubjectKey.iss_sub(TID, v2, "pairwise"),
    )


def test_unresolvable_subject_is_ignored_with_reason() -> None:
    mapped = map_security_event(
        _event(RISC.ACCOUNT_DISABLED, subject={"format": "email", "email": "nobody@x"}), RESOLVER
    )
    assert mapped.events == () and "subject" in (mapped.ignored_reason or "")


def test_deeply_nested_subjects_resolve_to_nothing_without_recursion_errors() -> None:
    subject: dict[str, Any] = {"format": "opaque", "id": OID}
    for _ in range(400):
        subject = {"format": "aliases", "identifiers": [subject]}
    assert RESOLVER.resolve(subject).keys == ()


def test_aliases_naming_a_session_never_widen_to_its_user() -> None:
    aliases = {
        "format": "aliases",
        "identifiers": [
            {"format": "opaque", "id": "S-1"},
            {"format": "email", "email": "alice@example.com"},
        ],
    }
    found = RESOLVER.resolve(aliases, event_type=CAEP.SESSION_REVOKED)
    assert found.keys == (SubjectKey.session(TID, "S-1"),)
