"""``cae decode`` says what the policy engine reads from ``acct`` and ``idp``: the same
function decides both (Entra access token claims reference, ``idp``: "identical to the value of
the Issuer claim unless the user account isn't in the same tenant as the issuer, such as
guests"; optional claims reference, ``acct``: 0 member, 1 guest)."""

from __future__ import annotations

from typing import Any

import pytest

from ..cli.conftest import make_token
from .vectors import HOME

ISSUER = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
TENANT_V1 = "https://sts.windows.net/11111111-2222-3333-4444-555555555555/"


@pytest.mark.parametrize(
    ("claims", "note"),
    [
        ({"idp": ISSUER}, "one of internalguest, member; the acct claim would tell"),
        ({"idp": TENANT_V1, "acct": 0}, "the user is a member of the tenant"),
        ({"acct": 0}, "the user is a member of the tenant"),
        ({"acct": 1}, "of type internalguest"),
        ({"idp": f"https://sts.windows.net/{HOME}/", "acct": 1}, "type b2bcollaborationguest"),
        ({"idp": f"https://sts.windows.net/{HOME}/", "acct": 0}, "type b2bcollaborationmember"),
    ],
)
def test_decode_reads_acct_and_idp_as_the_engine_does(
    cae: Any, claims: dict[str, Any], note: str
) -> None:
    result = cae("decode", make_token(iss=ISSUER, **claims), "--json")
    assert result.code == 0, result.err
    (line,) = [n for n in result.json()["notes"] if n.startswith("acct/idp:")]
    assert note in line
