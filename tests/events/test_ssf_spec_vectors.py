"""Every example SET of SSF 1.0, CAEP 1.0, RISC 1.0 (and RFC 9493's subject identifiers in a
SET) through the whole receiver: signed, verified, mapped, stored. A SET naming a subject the API
can identify is applied to exactly that subject and to nothing wider; the others are
acknowledged and ignored, or refused where the spec example itself breaks a rule.

The claims are copied from the specifications (openid/sharedsignals ``openid-caep-1_0.md``,
``openid-sharedsignals-framework-1_0.md``, ``openid-risc-1_0.xml``; RFC 9493 section 3.2);
each vector cites its section and figure title. One transmitter configuration serves them all:
email subjects matched against token claims, phone numbers through a directory lookup, no
tenant mapping (so a non-Entra issuer's subjects land in the configured tenant).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from _ssf_helpers import RSA_KEY, sign

from cae_sdk.core.errors import EventValidationError
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RiskLevel
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    SetDecoder,
    SetReceiver,
    SetValidationConfig,
    TransmitterKeys,
)

TENANT = "0c9a2f3e-1111-4222-8333-944455556666"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
RESOLVER = DirectorySubjectResolver(
    tenant_id=TENANT,
    match_email_claims=True,
    object_id_for_email={"+1 206 555 0123": OID, "+12065550100": OID},
)


def _email(address: str) -> SubjectKey:
    return SubjectKey.email(TENANT, address)


def _pair(iss: str, sub: str, tenant: str = TENANT) -> SubjectKey:
    return SubjectKey.iss_sub(tenant, iss, sub)


@dataclass
class Vector:
    cite: str
    claims: str
    watermarks: set[SubjectKey] = field(default_factory=set)
    risks: dict[SubjectKey, RiskLevel] = field(default_factory=dict)
    refused: str | None = None
    expect_state: tuple[str, str] | None = None  # (state, stream id) of a verification
    resolver: DirectorySubjectResolver | None = None  # else RESOLVER


IDP = "https://idp.example.com/123456789/"
# A receiver configured for the tenant the CAEP examples' transmitter names ("123456789"): a
# transmitter speaks for its own tenant only, so under RESOLVER (another tenant) a subject that
# names tenant 123456789 is refused with access_denied (see the vector after them).
IDP_RESOLVER = DirectorySubjectResolver(tenant_id="123456789")
VECTORS = [
    # -- SSF 1.0 section 5 "Example SETs that conform to the Shared Signals Framework" --
    Vector(
        "SSF 1.0 s5, SET Containing an SSF Event with a Simple Subject Member (account-enabled:"
        " no effect)",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1520364019, "txn": "8675309", "aud": "636C69656E745F6964",
        "sub_id": {"format": "email", "email": "foo@example.com"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-enabled": {}}}""",
    ),
    Vector(
        "SSF 1.0 s5, SET Containing a RISC Event with a Phone Number Subject",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1520364019, "txn": "8675309", "aud": "636C69656E745F6964",
        "sub_id": {"format": "phone_number", "phone_number": "+1 206 555 0123"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {
        "reason": "hijacking"}}}""",
        watermarks={SubjectKey.user(TENANT, OID)},
    ),
    Vector(
        "SSF 1.0 s5, SET Containing a CAEP Event with Properties",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1520364019, "txn": "8675309", "aud": "636C69656E745F6964",
        "sub_id": {"format": "email", "email": "user@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
        "claims": {"token": "some-token-value"}}}}""",
        watermarks={_email("user@example.com")},
    ),
    Vector(
        "SSF 1.0 s5, SET Containing an SSF Event with a Complex Subject Member (user + device:"
        " the user, never wider)",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1520364019, "txn": "8675309", "aud": "636C69656E745F6964",
        "sub_id": {"format": "complex",
          "user": {"format": "iss_sub",
            "iss": "https://idp.example.com/3957ea72-1b66-44d6-a044-d805712b9288/",
            "sub": "jane.smith@example.com"},
          "device": {"format": "iss_sub",
            "iss": "https://idp.example.com/3957ea72-1b66-44d6-a044-d805712b9288/",
            "sub": "e9297990-14d2-42ec-a4a9-4036db86509a"}},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
          "initiating_entity": "policy", "reason_admin": {"en": "Policy Violation: C076E82F"},
          "reason_user": {"en": "Land speed violation.",
            "es": "Violaci\\u00f3n de velocidad en tierra."},
          "event_timestamp": 1600975810}}}""",
        watermarks={
            _pair(
                "https://idp.example.com/3957ea72-1b66-44d6-a044-d805712b9288/",
                "jane.smith@example.com",
            )
        },
    ),
    Vector(
        "SSF 1.0 s5, SET Containing an SSF Event with a Simple Subject and a Property Member",
        """{"iss": "https://sp.example2.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1520364019, "txn": "8675309", "aud": "636C69656E745F6964",
        "sub_id": {"format": "email", "email": "foo@example2.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
          "event_timestamp": 1600975810, "claims": {"role": "ro-admin"}}}}""",
        watermarks={_email("foo@example2.com")},
    ),
    Vector(
        "SSF 1.0 s5, SET Containing an SSF Event with a Proprietary Subject Identifier Format"
        " (its iat 15203800012 lies in the year 2451: refused as from the future)",
        """{"iss": "https://myservice.example3.com/", "jti": "756E69717565206964656E746966696534",
        "iat": 15203800012, "txn": "8675309", "aud": "636C69656E745F6324",
        "sub_id": {"format": "catalog_item", "catalog_id": "c0384/winter/2354122"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
          "event_timestamp": 1600975810, "claims": {"role": "ro-admin"}}}}""",
        refused="invalid_request",
    ),
    Vector(
        "SSF 1.0 s4.1.8, SET with array 'aud' claim (a verification event)",
        """{"jti": "123456", "iss": "https://transmitter.example.com",
        "aud": ["receiver.example.com/web", "receiver.example.com/mobile"], "iat": 1493856000,
        "txn": "8675309", "sub_id": {"format": "opaque", "id": "72e6991badb44e08a69672960053b342"},
        "events": {"https://schemas.openid.net/secevent/ssf/event-type/verification": {
          "state": "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo="}}}""",
        expect_state=(
            "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo=",
            "72e6991badb44e08a69672960053b342",
        ),
    ),
    Vector(
        "SSF 1.0 s8.1.4.2, Verification SET",
        """{"jti": "123456", "iss": "https://transmitter.example.com",
        "aud": "receiver.example.com", "iat": 1493856000,
        "sub_id": {"format": "opaque", "id": "f67e39a0a4d34d56b3aa1bc4cff0069f"},
        "events": {"https://schemas.openid.net/secevent/ssf/event-type/verification": {
          "state": "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo="}}}""",
        expect_state=(
            "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo=",
            "f67e39a0a4d34d56b3aa1bc4cff0069f",
        ),
    ),
    Vector(
        "SSF 1.0 s8.1.5, Stream Updated SET",
        """{"jti": "123456", "iss": "https://transmitter.example.com",
        "aud": "receiver.example.com", "iat": 1493856000,
        "sub_id": {"format": "opaque", "id": "f67e39a0a4d34d56b3aa1bc4cff0069f"},
        "events": {"https://schemas.openid.net/secevent/ssf/event-type/stream-updated": {
          "status": "paused", "reason": "Internal error"}}}""",
    ),
    # -- CAEP 1.0 section 3 "Event Types" --
    Vector(
        "CAEP 1.0 s3.1, Session Revoked - Required claims + Simple Subject (opaque: a session)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "opaque", "id": "dMTlD|1600802906337.16|16008.16"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
          "event_timestamp": 1615304991}}}""",
        watermarks={SubjectKey.session(TENANT, "dMTlD|1600802906337.16|16008.16")},
    ),
    Vector(
        "CAEP 1.0 s3.1, Session Revoked - subject as `sub` claim (session + user + tenant:"
        " the session)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "complex",
          "session": {"format": "opaque", "id": "dMTlD|1600802906337.16|16008.16"},
          "user": {"format": "iss_sub", "iss": "https://idp.example.com/123456789/",
            "sub": "99beb27c-c1c2-4955-882a-e0dc4996fcbc"},
          "tenant": {"format": "opaque", "id": "123456789"}},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
          "initiating_entity": "policy",
          "reason_admin": {"en": "Landspeed Policy Violation: C076E82F"},
          "reason_user": {"en": "Access attempt from multiple regions.",
            "es-410": "Intento de acceso desde varias regiones."},
          "event_timestamp": 1615304991}}}""",
        watermarks={SubjectKey.session("123456789", "dMTlD|1600802906337.16|16008.16")},
        resolver=IDP_RESOLVER,
    ),
    Vector(
        "CAEP 1.0 s3.1, Session Revoked - Complex Subject describing user + device + tenant",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "complex",
          "user": {"format": "iss_sub", "iss": "https://idp.example.com/123456789/",
            "sub": "jane.smith@example.com"},
          "device": {"format": "iss_sub", "iss": "https://idp.example.com/123456789/",
            "sub": "e9297990-14d2-42ec-a4a9-4036db86509a"},
          "tenant": {"format": "opaque", "id": "123456789"}},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
          "initiating_entity": "policy", "reason_admin": {"en": "Policy Violation: C076E822"},
          "reason_user": {"en": "This device is no longer compliant.",
            "it": "Questo dispositivo non \\u00e8 pi\\u00f9 conforme."},
          "event_timestamp": 1615304991}}}""",
        watermarks={_pair(IDP, "jane.smith@example.com", "123456789")},
        resolver=IDP_RESOLVER,
    ),
    Vector(
        "CAEP 1.0 s3.1, the same Complex Subject to a receiver of another tenant (a transmitter"
        " speaks for its own tenant only: RFC 8935 s2.4 access_denied)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "complex",
          "user": {"format": "iss_sub", "iss": "https://idp.example.com/123456789/",
            "sub": "jane.smith@example.com"},
          "tenant": {"format": "opaque", "id": "123456789"}},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {
          "event_timestamp": 1615304991}}}""",
        refused="access_denied",
    ),
    Vector(
        "CAEP 1.0 s3.2, OIDC ID Token Claims Change - Required claims only (a jwt_id: no token"
        " of the API carries it)",
        """{"iss": "https://idp.example.com/987654321/", "jti": "9afce1e4e642b165fcaacdd0e7aa4903",
        "iat": 1615305159, "aud": "https://sp.example2.net/caep", "txn": "8675309",
        "sub_id": {"format": "jwt_id", "iss": "https://idp.example.com/987654321/",
          "jti": "f61t6e20zdo3px56gepu8rzlsp4c1dpc0fx7"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
          "event_timestamp": 1615304991, "claims": {"role": "ro-admin"}}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.2, SAML Assertion Claims Change - Required claims only",
        """{"iss": "https://idp.example.com/987654321/", "jti": "dae94fed5f459881efa38b65c6772ddc",
        "iat": 1615305159, "aud": "https://sp.example2.net/caep", "txn": "8675309",
        "sub_id": {"format": "saml_assertion_id", "issuer": "https://idp.example.com/987654321/",
          "assertion_id": "_a75adf55-01d7-dbd8372ebdfc"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/token-claims-change": {
          "event_timestamp": 1615304991, "claims": {
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/role": "ro-admin"}}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.3, Provisioning a new FIDO2 authenticator (change_type create: no effect)",
        """{"iss": "https://idp.example.com/3456789/", "jti": "07efd930f0977e4fcc1149a733ce7f78",
        "iat": 1615305159, "aud": "https://sp.example2.net/caep", "txn": "8675309",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/3456789/",
          "sub": "jane.smith@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/credential-change": {
          "credential_type": "fido2-roaming", "change_type": "create",
          "fido2_aaguid": "accced6a-63f5-490a-9eea-e59bc1896cfc",
          "friendly_name": "Jane's USB authenticator", "initiating_entity": "user",
          "reason_admin": {"en": "User self-enrollment"}, "event_timestamp": 1615304991}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.4, Assurance Level Increase (no effect)",
        """{"iss": "https://idp.example.com/3456789/", "jti": "07efd930f0977e4fcc1149a733ce7f78",
        "iat": 1615305159, "aud": "https://sp.example2.net/caep", "txn": "8675309",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/3456789/",
          "sub": "jane.smith@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/assurance-level-change": {
          "namespace": "NIST-AAL", "current_level": "nist-aal2", "previous_level": "nist-aal1",
          "change_direction": "increase", "initiating_entity": "user",
          "event_timestamp": 1615304991}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.4, Custom Assurance Level (direction unknown: tokens re-checked)",
        """{"iss": "https://idp.example.com/3456789/", "jti": "07efd930f0977e4fcc1149a733ce7f78",
        "iat": 1615305159, "aud": "https://sp.example2.net/caep", "txn": "8675309",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/3456789/",
          "sub": "jane.smith@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/assurance-level-change": {
          "namespace": "Retinal Scan", "current_level": "hi-res-scan",
          "initiating_entity": "user", "event_timestamp": 1615304991}}}""",
        watermarks={_pair("https://idp.example.com/3456789/", "jane.smith@example.com")},
    ),
    Vector(
        "CAEP 1.0 s3.5, Device No Longer Compliant - Complex Subject (device + tenant: the API"
        " cannot match a device; never the whole tenant)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "complex",
          "device": {"format": "iss_sub", "iss": "https://idp.example.com/123456789/",
            "sub": "e9297990-14d2-42ec-a4a9-4036db86509a"},
          "tenant": {"format": "opaque", "id": "123456789"}},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/device-compliance-change": {
          "current_status": "not-compliant", "previous_status": "compliant",
          "initiating_entity": "policy",
          "reason_admin": {"en": "Location Policy Violation: C076E8A3"},
          "reason_user": {"en": "Device is no longer in a trusted location."},
          "event_timestamp": 1615304991}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.6, session-established example (informational)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "email", "email": "someuser@somedomain.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-established": {
          "fp_ua": "abb0b6e7da81a42233f8f2b1a8ddb1b9a4c81611", "acr": "AAL2", "amr": ["otp"],
          "event_timestamp": 1615304991}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.7, Session Presented example (informational)",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "email", "email": "someuser@somedomain.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/session-presented": {
          "fp_ua": "abb0b6e7da81a42233f8f2b1a8ddb1b9a4c81611", "ext_id": "12345",
          "event_timestamp": 1615304991}}}""",
    ),
    Vector(
        "CAEP 1.0 s3.8, Risk Level Change example",
        """{"iss": "https://idp.example.com/123456789/", "jti": "24c63fb56e5a2d77a6b512616ca9fa24",
        "iat": 1615305159, "aud": "https://sp.example.com/caep", "txn": "8675309",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/3456789/",
          "sub": "jane.doe@example.com"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/risk-level-change": {
          "current_level": "LOW", "previous_level": "HIGH", "event_timestamp": 1615304991,
          "principal": "USER", "risk_reason": "PASSWORD_FOUND_IN_DATA_BREACH"}}}""",
        risks={_pair("https://idp.example.com/3456789/", "jane.doe@example.com"): RiskLevel.LOW},
    ),
    # -- RISC 1.0 section 2 "Event Types" --
    Vector(
        "RISC 1.0 s2.1, Account Credential Change Required example",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1508184845, "aud": "636C69656E745F6964",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/", "sub": "7375626A656374"},
        "events": {
          "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required":
          {}}}""",
        risks={_pair("https://idp.example.com/", "7375626A656374"): RiskLevel.HIGH},
    ),
    Vector(
        "RISC 1.0 s2.3, Account Disabled example (its trailing comma after 'sub' removed: JSON)",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1508184845, "aud": "636C69656E745F6964",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/", "sub": "7375626A656374"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {
          "reason": "hijacking"}}}""",
        watermarks={_pair("https://idp.example.com/", "7375626A656374")},
    ),
    Vector(
        "RISC 1.0 s2.5, Identifier Changed example (not a revocation)",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1508184845, "aud": "636C69656E745F6964",
        "sub_id": {"format": "email", "email": "john.doe@example.com"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/identifier-changed": {
          "new-value": "john.roe@example.com"}}}""",
    ),
    Vector(
        "RISC 1.0 s2.6, Identifier Recycled example (not mapped)",
        """{"iss": "https://idp.example.com/", "jti": "756E69717565206964656E746966696572",
        "iat": 1508184845, "aud": "636C69656E745F6964",
        "sub_id": {"format": "email", "email": "foo@example.com"},
        "events": {
          "https://schemas.openid.net/secevent/risc/event-type/identifier-recycled": {}}}""",
    ),
    Vector(
        "RISC 1.0 s2.7, Credential Compromise example",
        """{"iss": "https://idp.example.com/3456790/", "jti": "756E69717565206964656E746966696572",
        "iat": 1508184845, "aud": "https://sp.example2.net/caep",
        "sub_id": {"format": "iss_sub", "iss": "https://idp.example.com/3456790/",
          "sub": "joe.smith@example.com"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/credential-compromise": {
          "credential_type": "password"}}}""",
        watermarks={_pair("https://idp.example.com/3456790/", "joe.smith@example.com")},
    ),
]

_RFC9493 = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
# RFC 9493 section 3.2 identifier examples, each as the subject of an account-disabled SET.
SUBJECTS: list[tuple[str, dict[str, Any], set[SubjectKey]]] = [
    (
        "RFC 9493 s3.2.1, Account Identifier Format",
        {"format": "account", "uri": "acct:example.user@service.example.com"},
        {_email("example.user@service.example.com")},
    ),
    (
        "RFC 9493 s3.2.2, Email Identifier Format",
        {"format": "email", "email": "user@example.com"},
        {_email("user@example.com")},
    ),
    (
        "RFC 9493 s3.2.3, Issuer and Subject Identifier Format",
        {"format": "iss_sub", "iss": "http://issuer.example.com/", "sub": "145234573"},
        {_pair("http://issuer.example.com/", "145234573")},
    ),
    (
        "RFC 9493 s3.2.4, Opaque Identifier Format",
        {"format": "opaque", "id": "11112222333344445555"},
        {SubjectKey.user(TENANT, "11112222333344445555")},
    ),
    (
        "RFC 9493 s3.2.5, Phone Number Identifier Format",
        {"format": "phone_number", "phone_number": "+12065550100"},
        {SubjectKey.user(TENANT, OID)},
    ),
    (
        "RFC 9493 s3.2.6, Decentralized Identifier Format (bare DID: nothing a token carries)",
        {"format": "did", "url": "did:example:123456"},
        set(),
    ),
    (
        "RFC 9493 s3.2.7, Uniform Resource Identifier Format",
        {"format": "uri", "uri": "https://user.example.com/"},
        set(),
    ),
    (
        "RFC 9493 s3.2.8, Aliases Identifier Format (all name the same subject)",
        {
            "format": "aliases",
            "identifiers": [
                {"format": "email", "email": "user@example.com"},
                {"format": "phone_number", "phone_number": "+12065550100"},
                {"format": "email", "email": "user+qualifier@example.com"},
            ],
        },
        {
            _email("user@example.com"),
            SubjectKey.user(TENANT, OID),
            _email("user+qualifier@example.com"),
        },
    ),
]
for cite, subject, keys in SUBJECTS:
    VECTORS.append(
        Vector(
            cite,
            json.dumps(
                {
                    "iss": "issuer.example.com",
                    "jti": "rfc9493",
                    "iat": 1700000000,
                    "aud": "receiver.example.com",
                    "sub_id": subject,
                    "events": {_RFC9493: {}},
                }
            ),
            watermarks=keys,
        )
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v.cite for v in VECTORS])
async def test_spec_example_applies_to_exactly_its_subject(vector: Vector) -> None:
    claims = json.loads(vector.claims)
    now = min(int(claims["iat"]), 2_000_000_000) + 60  # the examples' own time
    audience = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    config = SetValidationConfig(issuer=claims["iss"], audiences=tuple(audience))
    keys = TransmitterKeys(claims["iss"], jwks={"keys": [RSA_KEY.jwk()]})
    store = InMemoryEventStore(clock=lambda: now)
    receiver = SetReceiver(
        SetDecoder(config, keys, clock=lambda: now),
        store,
        vector.resolver or RESOLVER,
        replay_window_seconds=config.replay_window_seconds,
    )
    if vector.expect_state is not None:
        receiver.verification.expect(*vector.expect_state)
    token = sign(claims)
    if vector.refused is not None:
        with pytest.raises(EventValidationError) as info:
            await receiver.receive(token)
        assert info.value.err == vector.refused
        return
    await receiver.receive(token)
    assert set(store.watermarks()) == vector.watermarks
    assert {s: store.risk(s) for s in vector.risks} == vector.risks
    for subject in vector.watermarks:
        assert store.risk(subject) is None or subject in vector.risks
    if vector.expect_state is not None:
        assert await receiver.verification.wait(vector.expect_state[0], 0.01)


async def test_stream_updated_example_is_recorded() -> None:
    vector = next(v for v in VECTORS if v.cite.startswith("SSF 1.0 s8.1.5"))
    claims = json.loads(vector.claims)
    now = claims["iat"] + 60
    config = SetValidationConfig(issuer=claims["iss"], audiences=(claims["aud"],))
    keys = TransmitterKeys(claims["iss"], jwks={"keys": [RSA_KEY.jwk()]})
    receiver = SetReceiver(
        SetDecoder(config, keys, clock=lambda: now),
        InMemoryEventStore(clock=lambda: now),
        RESOLVER,
        replay_window_seconds=config.replay_window_seconds,
    )
    await receiver.receive(sign(claims))
    state = receiver.streams.get("f67e39a0a4d34d56b3aa1bc4cff0069f")
    assert (state.status, state.reason, state.delivering) == ("paused", "Internal error", False)
