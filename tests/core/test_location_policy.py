from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from cae_sdk.core._location_policy import LocationMode, evaluate_location
from cae_sdk.core.decisions import Reason
from cae_sdk.core.locations import NamedLocation

HQ = NamedLocation.from_cidrs("hq", "HQ", ["10.0.0.0/8", "2001:db8::/32"])


def test_no_locations_nothing_enforced() -> None:
    assert evaluate_location("1.2.3.4", None, [], mode=LocationMode.STRICT, now=1).allowed


def test_inside_allowed_ipv4_and_ipv6_and_mapped() -> None:
    for ip in ("10.1.2.3", "2001:db8::5", "::ffff:10.0.0.1"):
        assert evaluate_location(ip, None, [HQ], mode=LocationMode.STRICT, now=1).allowed


def test_standard_honours_token_ipaddr_strict_does_not() -> None:
    standard = evaluate_location("8.8.8.8", "10.9.9.9", [HQ], mode=LocationMode.STANDARD, now=7)
    strict = evaluate_location("8.8.8.8", "10.9.9.9", [HQ], mode=LocationMode.STRICT, now=7)
    assert standard.allowed
    assert strict.reason is Reason.LOCATION_VIOLATION
    assert strict.claims == {"access_token": {"nbf": {"essential": True, "value": "7"}}}


def test_unknown_or_garbage_client_ip_is_outside() -> None:
    for ip in (None, "", "not-an-ip", "10.0.0.1.5"):
        decision = evaluate_location(ip, None, [HQ], mode=LocationMode.STRICT, now=1)
        assert not decision.allowed


@given(
    st.ip_addresses(), st.one_of(st.none(), st.ip_addresses()), st.sampled_from(list(LocationMode))
)
def test_location_decision_matches_membership(
    client: ipaddress.IPv4Address | ipaddress.IPv6Address,
    token: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
    mode: LocationMode,
) -> None:
    decision = evaluate_location(str(client), str(token) if token else None, [HQ], mode=mode, now=1)
    inside = HQ.contains(client)
    token_inside = token is not None and HQ.contains(token)
    expected = (
        mode is LocationMode.OFF or inside or (mode is LocationMode.STANDARD and token_inside)
    )
    assert decision.allowed is expected
