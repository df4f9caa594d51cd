"""Property: for any Graph-shaped policy set and request, the library, ``cae whatif`` and the
live middleware reach the same decision (outcome, claims challenge, undecided policies)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ..core.policy_strategies import G1, G2, LOCATIONS, policies
from ..resource.helpers import SigningKeys
from .harness import library, middleware, whatif
from .vectors import (
    API,
    APP,
    APP_ONLY,
    CURL,
    IPHONE,
    OTHER_TENANT,
    TENANT,
    V1_ISSUER,
    WINDOWS,
    Request,
)

_OID = "aaaaaaaa-0000-0000-0000-000000000001"  # the user policy_strategies includes


def _some(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=2, unique=True)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    kind = draw(st.sampled_from(["v1", "v2", "app"]))
    claims: dict[str, Any] = {"oid": draw(st.sampled_from([_OID, "someone-else"]))}
    if kind == "app":
        claims = dict(APP_ONLY)
    else:
        if kind == "v1":
            claims |= {"iss": V1_ISSUER, "ver": "1.0", "appid": APP, "azp": None}
            claims["amr"] = draw(_some(["pwd", "mfa", "wiaormfa"]))
        claims["acrs"] = draw(_some(["c1", "c2"]))
        for name, values in (("groups", [G1, G2]), ("wids", ["r1"])):
            if draw(st.booleans()):
                claims[name] = draw(_some(values))
        if draw(st.booleans()):
            claims["acct"] = draw(st.sampled_from([0, 1]))
        if draw(st.booleans()):
            claims["idp"] = draw(
                st.sampled_from(["https://sts.windows.net/0b2f14e2-91f9-4876-9f59-3cb09b4ec310/"])
            )
    claims["ipaddr"] = draw(st.sampled_from([None, "10.9.9.9", "198.51.100.3"]))
    return Request(
        claims,
        ip=draw(st.sampled_from(["10.1.2.3", "192.0.2.9", "203.0.113.5", "2001:db8::7"])),
        user_agent=draw(st.sampled_from([WINDOWS, IPHONE, CURL])),
        app_id=API,
        country=draw(st.sampled_from([None, "NL", "US", "none"])),
        user_risk=draw(st.sampled_from(["none", "high"])),
        sp_risk=draw(st.sampled_from(["none", "high"])),
        mfa_auth_context=draw(st.sampled_from([None, "c2"])),
        groups_claim_complete=draw(st.booleans()),
        tenant_id=draw(st.sampled_from([None, TENANT, OTHER_TENANT])),
        strict_locations=draw(st.integers(0, 3)) == 0,
    )


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), request=requests())
def test_library_whatif_and_middleware_agree(
    data: st.DataObject, request: Request, tmp_path: Path, cae: Any, keys: SigningKeys
) -> None:
    docs = [data.draw(policies(index=i)) for i in range(data.draw(st.integers(1, 3)))]
    for doc in docs:  # most policies target everyone, so that they apply and decide
        conditions = doc["conditions"]
        if data.draw(st.integers(0, 3)):
            conditions["applications"] = {"includeApplications": ["All"]}
            conditions["clientAppTypes"] = ["all"]
        if "clientApplications" not in conditions and data.draw(st.integers(0, 3)):
            conditions["users"] = {"includeUsers": ["All"], "excludeUsers": []}
        if data.draw(st.integers(0, 3)):
            conditions.pop("userRiskLevels", None)
            conditions.pop("servicePrincipalRiskLevels", None)
            doc["state"] = "enabled"
        grant = data.draw(st.sampled_from([["block"], ["mfa"], ["mfa", "compliantDevice"], []]))
        doc["grantControls"]["builtInControls"] = grant
    locations = tuple(location.to_dict() for location in LOCATIONS)
    seen = library(docs, locations, request)
    event(seen.expectation)
    assert whatif(docs, locations, request, tmp_path, cae) == seen
    assert asyncio.run(middleware(docs, locations, request, keys)) == seen
