"""A transmitter speaks for its own tenant only. A subject naming another tenant (a complex
subject's ``tenant`` member, an ``acct:<oid>@<tenant>`` URI, an ``iss_sub`` whose issuer is
another tenant's Entra issuer, any of them inside ``aliases``) resolved to that other tenant:
one tenant's transmitter could revoke another tenant's users, or that whole tenant. Property
over the push adapter (HTTP in, store out): nothing outside the transmitter's tenant is ever
recorded, and such a SET is refused with ``access_denied`` (RFC 8935 section 2.4)."""

from __future__ import annotations

from typing import Any

import httpx
from _ssf_helpers import AUDIENCE, RSA_KEY, set_claims, sign
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.secevents import CAEP, RISC, SECEVENT_CONTENT_TYPE
from cae_sdk.events import InMemoryEventStore
from cae_sdk.events.ssf import DirectorySubjectResolver, PushReceiverApp, SetReceiver

OURS = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-8888-7777-6666-555555555555"
OID = "aaaaaaaa-0000-0000-0000-000000000001"
ISSUER = "https://transmitter.example"

tenants = st.sampled_from([OURS, OTHER, OTHER.upper()])


def _simple(tenant: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(
        [
            {"format": "opaque", "id": OID},
            {"format": "account", "uri": f"acct:{OID}@{tenant}"},
            {"format": "iss_sub", "iss": f"https://sts.windows.net/{tenant}/", "sub": "s"},
            {
                "format": "iss_sub",
                "iss": f"https://login.microsoftonline.com/{tenant}/v2.0",
                "sub": "s",
            },
            {"format": "email", "email": "alice@contoso.com"},
        ]
    )


@st.composite
def subjects(draw: st.DrawFn) -> dict[str, Any]:
    tenant = draw(tenants)
    shape = draw(st.sampled_from(["simple", "aliases", "complex", "tenant-only"]))
    if shape == "simple":
        return draw(_simple(tenant))
    if shape == "aliases":
        return {"format": "aliases", "identifiers": draw(st.lists(_simple(tenant), min_size=1))}
    if shape == "tenant-only":
        return {"format": "complex", "tenant": {"format": "opaque", "id": tenant}}
    member = draw(st.sampled_from(["user", "session", "application"]))
    return {
        "format": "complex",
        member: draw(_simple(tenant)),
        "tenant": {"format": "opaque", "id": draw(tenants)},
    }


@settings(max_examples=120, deadline=None)
@given(
    subject=subjects(),
    resolver=st.sampled_from(
        [
            DirectorySubjectResolver(tenant_id=OURS, match_email_claims=True),
            DirectorySubjectResolver(tenant_for_issuer={ISSUER: OURS}),
        ]
    ),
    event_type=st.sampled_from([CAEP.SESSION_REVOKED, RISC.ACCOUNT_DISABLED]),
)
async def test_nothing_outside_the_transmitters_tenant_is_ever_recorded(
    subject: dict[str, Any], resolver: DirectorySubjectResolver, event_type: str
) -> None:
    store = InMemoryEventStore()
    receiver = SetReceiver.for_transmitter(
        ISSUER, AUDIENCE, store, jwks={"keys": [RSA_KEY.jwk()]}, resolver=resolver
    )
    app = PushReceiverApp(receiver, authorization="Bearer p")
    headers = {"authorization": "Bearer p", "content-type": SECEVENT_CONTENT_TYPE}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://r"
    ) as client:
        token = sign(set_claims(ISSUER, event_type=event_type, sub_id=subject))
        response = await client.post("/", content=token, headers=headers)
    assert response.status_code in (202, 400), response.text
    assert {key.tenant_id for key in store.watermarks()} <= {OURS}
    if response.status_code == 400:
        assert response.json()["err"] == "access_denied"
        assert OTHER in str(subject).lower() or OTHER.upper() in str(subject)
