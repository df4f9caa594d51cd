"""Which named locations the location step allows (issue 12).

A tenant's named locations (Graph ``identity/conditionalAccess/namedLocations``, synced by the
Graph bridge) hold block lists and ranges policies demand MFA from next to the trusted networks.
The location step allows only the trusted ones (or an operator's ``allowed_locations``); the
policies still resolve every location, trusted or not. Real middleware over real stores.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.decisions import Reason
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.locations import NamedLocation, load_named_locations
from cae_sdk.core.policies import load_policies
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore, LocationsEvent
from cae_sdk.events.graph._diff import location_event
from cae_sdk.events.redis import RedisEventStore
from cae_sdk.resource import (
    AccessEvaluator,
    CAEMiddleware,
    CAESettings,
    LocationMode,
    RequestFacts,
    TokenValidator,
)

from ..policies.vectors import (
    BLOCK_OUTSIDE_TRUSTED,
    BLOCK_UNTRUSTED_IP,
    TRUSTED_NETWORK,
    UNTRUSTED_IP_LOCATION,
)
from ._asgi import call, ok_app
from .helpers import APP_ID, SigningKeys, claims, serve, sign

ISSUER = "https://issuer.test/v2.0"
HQ_V6 = {"cidrAddress": "2001:db8:1::/48"}

# As Graph lists them: a trusted office, Graph's "Create namedLocation" example 1 (untrusted:
# the range a policy blocks), and a location without isTrusted (false).
GRAPH_LOCATIONS: list[dict[str, Any]] = [
    {**TRUSTED_NETWORK, "id": "hq", "ipRanges": [*TRUSTED_NETWORK["ipRanges"], HQ_V6]},
    UNTRUSTED_IP_LOCATION,
    {"id": "partner", "displayName": "Partner VPN", "ipRanges": [{"cidrAddress": "192.0.2.0/24"}]},
]
BLOCKED = UNTRUSTED_IP_LOCATION["id"]
HQ_CLIENT, BLOCKED_CLIENT, PARTNER_CLIENT, OUTSIDE_CLIENT = (
    "10.1.2.3",
    "12.34.221.11",
    "192.0.2.9",
    "203.0.113.5",
)


def _locations(*ids: str) -> tuple[NamedLocation, ...]:
    items = [item for item in GRAPH_LOCATIONS if item["id"] in ids]
    return location_event(items, now=1_700_000_000).locations  # what the Graph bridge stores


def _middleware(keys: SigningKeys, store: Any, **options: Any) -> CAEMiddleware:
    validator = TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    return CAEMiddleware(ok_app, validator=validator, store=store, **options)


async def _status(
    middleware: CAEMiddleware, keys: SigningKeys, client_ip: str, **token: Any
) -> tuple[int, str | None]:
    headers = [(b"authorization", f"Bearer {sign(keys, claims(ISSUER, **token))}".encode())]
    answer = await call(middleware, headers, client=(client_ip, 4000))
    reason = json.loads(answer.body)["reason"] if answer.status != 200 else None
    return answer.status, reason


async def test_the_graph_bridge_locations_allow_only_the_trusted_one(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    assert await store.apply(location_event(GRAPH_LOCATIONS, now=1_700_000_000))
    assert [(loc.id, loc.trusted) for loc in store.named_locations()] == [
        ("hq", True),
        (BLOCKED, False),
        ("partner", False),
    ]
    for mode in ("standard", "strict"):
        middleware = _middleware(keys, store, location_mode=mode)
        violation = (401, Reason.LOCATION_VIOLATION.value)
        assert await _status(middleware, keys, HQ_CLIENT) == (200, None)
        assert await _status(middleware, keys, "2001:db8:1::7") == (200, None)
        # Inside the block list, or a location nobody marked trusted: not allowed.
        assert await _status(middleware, keys, BLOCKED_CLIENT) == violation
        assert await _status(middleware, keys, PARTNER_CLIENT) == violation
        assert await _status(middleware, keys, OUTSIDE_CLIENT) == violation
        # Standard mode honours the issuance address only inside a trusted location too.
        from_blocked = await _status(middleware, keys, OUTSIDE_CLIENT, ipaddr=BLOCKED_CLIENT)
        assert from_blocked == violation
        from_hq = await _status(middleware, keys, OUTSIDE_CLIENT, ipaddr=HQ_CLIENT)
        assert from_hq == ((200, None) if mode == "standard" else violation)


async def test_untrusted_locations_alone_ask_nothing_and_say_so_once(
    keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    """A tenant with only a block list: no policy asks for a location, so no client is
    challenged for being outside it; the operator is told once per set of locations."""
    store = InMemoryEventStore()
    assert await store.set_named_locations(_locations(BLOCKED, "partner"))
    middleware = _middleware(keys, store)
    with caplog.at_level(logging.WARNING, logger="cae_sdk.resource"):
        for client_ip in (OUTSIDE_CLIENT, BLOCKED_CLIENT, PARTNER_CLIENT, OUTSIDE_CLIENT):
            assert await _status(middleware, keys, client_ip) == (200, None)
    warnings = [r for r in caplog.records if "none of the 2 named locations" in r.message]
    assert len(warnings) == 1
    # Nothing to say when the operator leaves locations to policies.
    caplog.clear()
    quiet = _middleware(keys, store, location_mode="off")
    with caplog.at_level(logging.WARNING, logger="cae_sdk.resource"):
        assert await _status(quiet, keys, OUTSIDE_CLIENT) == (200, None)
    assert not caplog.records


async def test_policies_still_resolve_every_location(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    assert await store.set_named_locations(_locations("hq", BLOCKED, "partner"))
    policies = load_policies([BLOCK_UNTRUSTED_IP])
    for mode in ("standard", "off"):
        middleware = _middleware(keys, store, policies=policies, location_mode=mode)
        blocked = await _status(middleware, keys, BLOCKED_CLIENT)
        assert blocked == (
            (403, Reason.BLOCKED_BY_POLICY.value)
            if mode == "off"
            else (401, Reason.LOCATION_VIOLATION.value)  # the location step refuses first
        )
        assert await _status(middleware, keys, HQ_CLIENT) == (200, None)
    # AllTrusted is the trusted locations of the same catalogue.
    outside_trusted = load_policies([BLOCK_OUTSIDE_TRUSTED])
    middleware = _middleware(keys, store, policies=outside_trusted, location_mode="off")
    assert await _status(middleware, keys, PARTNER_CLIENT) == (
        403,
        "BlockedByConditionalAccessPolicy",
    )
    assert await _status(middleware, keys, HQ_CLIENT) == (200, None)


async def test_a_range_written_as_ipv4_mapped_ipv6_holds_the_ipv4_clients(
    keys: SigningKeys,
) -> None:
    """A client address is compared in IPv4 form (``::ffff:a.b.c.d`` is ``a.b.c.d``), so a range
    written in that form (a valid Graph ``cidrAddress``) held no client at all: a trusted
    location allowed nobody, and a block list written so blocked nobody in policies."""
    mapped = "::ffff:" + BLOCKED_CLIENT.rsplit(".", 1)[0] + ".0/120"
    block_list = {**UNTRUSTED_IP_LOCATION, "ipRanges": [{"cidrAddress": mapped}]}
    hq = {**GRAPH_LOCATIONS[0], "ipRanges": [{"cidrAddress": "::ffff:10.0.0.0/104"}]}
    store = InMemoryEventStore()
    assert await store.apply(location_event([hq, block_list], now=1_700_000_000))
    policies = load_policies([BLOCK_UNTRUSTED_IP])
    middleware = _middleware(keys, store, policies=policies, location_mode="off")
    for client in (BLOCKED_CLIENT, "::ffff:" + BLOCKED_CLIENT):
        assert await _status(middleware, keys, client) == (403, Reason.BLOCKED_BY_POLICY.value)
    middleware = _middleware(keys, store, location_mode="strict")
    for client in (HQ_CLIENT, "::ffff:" + HQ_CLIENT):
        assert await _status(middleware, keys, client) == (200, None)
    assert (await _status(middleware, keys, OUTSIDE_CLIENT))[0] == 401
    by_hand = NamedLocation("x", "x", (ipaddress.ip_network("::ffff:10.0.0.0/104"),), True)
    assert by_hand.ranges == (ipaddress.ip_network("10.0.0.0/8"),)
    assert by_hand.to_dict()["ipRanges"] == [{"cidrAddress": "10.0.0.0/8"}]


async def test_a_static_list_still_works(keys: SigningKeys) -> None:
    office = NamedLocation.from_cidrs("office", "Office", ["192.0.2.0/24"])  # not trusted
    store = InMemoryEventStore()
    assert await store.set_named_locations(_locations("hq", BLOCKED))
    # allowed_locations: the operator's list, as listed; the store's trusted HQ is not read.
    middleware = _middleware(keys, store, allowed_locations=[office], location_mode="strict")
    assert await _status(middleware, keys, PARTNER_CLIENT) == (200, None)
    assert (await _status(middleware, keys, HQ_CLIENT))[0] == 401
    # named_locations: a static catalogue, read like the store's.
    static = load_named_locations(json.dumps(GRAPH_LOCATIONS))
    middleware = _middleware(keys, None, named_locations=static, location_mode="strict")
    assert await _status(middleware, keys, HQ_CLIENT) == (200, None)
    assert (await _status(middleware, keys, BLOCKED_CLIENT))[0] == 401


def test_a_static_list_that_would_allow_nothing_is_refused() -> None:
    block_list = _locations(BLOCKED)
    with pytest.raises(ConfigurationError, match="no trusted location"):
        CAESettings(named_locations=block_list)
    # Fine when the step is off, or the allowed networks are listed.
    assert CAESettings(named_locations=block_list, location_mode="off").named_locations
    assert CAESettings(named_locations=block_list, allowed_locations=_locations("hq"))
    with pytest.raises(ConfigurationError, match="allowed_locations is empty"):
        CAESettings(allowed_locations=[])
    with pytest.raises(ConfigurationError, match="country locations"):
        CAESettings(named_locations=["10.0.0.0/8"])  # type: ignore[list-item]


async def test_settings_changed_in_place_are_checked_like_new_ones(keys: SigningKeys) -> None:
    """``middleware.settings`` may be changed while serving (docs/resource.md): a field set in
    place is coerced and checked as the constructor does. Unchecked, an emptied allowed list
    turned the location step off, and a mode written as a string (as the constructor takes it)
    refused every client outside as ``EventStoreUnavailable``, ``"off"`` included."""
    store = InMemoryEventStore()
    assert await store.set_named_locations(_locations("hq", BLOCKED))
    middleware = _middleware(keys, store, location_mode="strict")
    settings = middleware.settings
    violation = (401, Reason.LOCATION_VIOLATION.value)
    assert await _status(middleware, keys, OUTSIDE_CLIENT) == violation
    with pytest.raises(ConfigurationError, match="allowed_locations is empty"):
        settings.allowed_locations = []
    with pytest.raises(ConfigurationError, match="country locations"):
        settings.allowed_locations = ["10.0.0.0/8"]  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="location_mode"):
        settings.location_mode = "lenient"  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="no trusted location"):
        settings.named_locations = list(_locations(BLOCKED))
    assert settings.allowed_locations is None and settings.named_locations is None
    assert await _status(middleware, keys, OUTSIDE_CLIENT) == violation  # nothing changed
    settings.location_mode = " Standard "  # type: ignore[assignment]
    assert settings.location_mode is LocationMode.STANDARD
    assert await _status(middleware, keys, OUTSIDE_CLIENT, ipaddr=HQ_CLIENT) == (200, None)
    assert await _status(middleware, keys, OUTSIDE_CLIENT) == violation
    settings.allowed_locations = list(_locations(BLOCKED))  # the operator's list, as listed
    assert isinstance(settings.allowed_locations, tuple)
    assert await _status(middleware, keys, BLOCKED_CLIENT) == (200, None)
    settings.location_mode = "off"  # type: ignore[assignment]
    assert await _status(middleware, keys, OUTSIDE_CLIENT) == (200, None)


def test_under_a_real_server_the_address_inside_a_block_list_is_challenged(
    keys: SigningKeys,
) -> None:
    store = InMemoryEventStore()
    trusted = NamedLocation.from_cidrs("lo", "Loopback", ["127.0.0.1/32"], trusted=True)
    block = NamedLocation.from_cidrs("blocked", "Blocked networks", ["127.0.0.2/32"])
    asyncio.run(store.set_named_locations([trusted, block]))
    records: list[Any] = []
    app = _middleware(keys, store, location_mode="strict", on_decision=[records.append])
    token = sign(keys, claims(ISSUER))

    def get(url: str, source: str) -> httpx.Response:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(transport=transport, timeout=10) as client:
            return client.get(url, headers={"Authorization": f"Bearer {token}"})

    with serve(app) as url:
        assert get(url + "/", "127.0.0.1").status_code == 200
        refused = get(url + "/", "127.0.0.2")
    assert refused.status_code == 401
    assert refused.json()["reason"] == "LocationConditionViolation"
    assert records[-1].client_ip == "127.0.0.2"


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[tuple[RedisEventStore, RedisEventStore]]:
    prefix = f"cae-test-{uuid.uuid4().hex[:12]}:"
    bridge_side = RedisEventStore(redis_url, prefix=prefix)
    api_side = RedisEventStore(redis_url, prefix=prefix)
    await bridge_side.start()
    await api_side.start()
    yield bridge_side, api_side
    await bridge_side.clear()
    await bridge_side.close()
    await api_side.close()


@pytest.mark.redis
async def test_a_block_list_synced_through_redis_allows_nothing(
    keys: SigningKeys, replicas: tuple[RedisEventStore, RedisEventStore]
) -> None:
    bridge_side, api_side = replicas
    assert await bridge_side.apply(location_event(GRAPH_LOCATIONS, now=1_700_000_000))
    for _ in range(200):
        if len(api_side.named_locations()) == 3:
            break
        await asyncio.sleep(0.01)
    middleware = _middleware(keys, api_side, location_mode="strict")
    assert await _status(middleware, keys, HQ_CLIENT) == (200, None)
    assert await _status(middleware, keys, BLOCKED_CLIENT) == (401, "LocationConditionViolation")


# -- the evaluator, for any set of locations -----------------------------------------------------

_NETWORKS = ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"]
_ADDRESSES = ["10.1.2.3", "10.200.0.1", "192.0.2.9", "198.51.100.7", "203.0.113.5", "2001:db8::5"]

_location = st.builds(
    lambda i, cidrs, trusted: NamedLocation.from_cidrs(f"l{i}", f"L{i}", cidrs, trusted=trusted),
    st.integers(0, 10**6),
    st.lists(st.sampled_from(_NETWORKS), min_size=1, max_size=2),
    st.booleans(),
)
_catalogue = st.lists(_location, max_size=4, unique_by=lambda loc: loc.id)
_address = st.one_of(st.none(), st.sampled_from(_ADDRESSES))
_mode = st.sampled_from([LocationMode.STANDARD, LocationMode.STRICT])


def _decide(
    catalogue: list[NamedLocation],
    client_ip: str | None,
    token_ip: str | None,
    mode: LocationMode,
    **options: Any,
) -> tuple[bool, Reason]:
    store = InMemoryEventStore()
    store.apply_local(LocationsEvent(tuple(catalogue), 1, "test"))
    evaluator = AccessEvaluator(store, CAESettings(location_mode=mode, **options))
    token = TokenClaims(
        {"tid": "t", "oid": "o", "scp": "x", **({"ipaddr": token_ip} if token_ip else {})}
    )
    logging.disable(logging.WARNING)  # "none of the named locations is trusted"
    try:
        decision = evaluator.evaluate(token, RequestFacts("/", client_ip, None), now=100)
    finally:
        logging.disable(logging.NOTSET)
    return decision.allowed, decision.reason


def _inside(address: str | None, locations: list[NamedLocation]) -> bool:
    if address is None:
        return False
    parsed = ipaddress.ip_address(address)
    return any(location.contains(parsed) for location in locations)


@settings(max_examples=300)
@given(_catalogue, _address, _address, _mode)
def test_the_location_step_allows_exactly_the_trusted_networks(
    catalogue: list[NamedLocation],
    client_ip: str | None,
    token_ip: str | None,
    mode: LocationMode,
) -> None:
    trusted = [loc for loc in catalogue if loc.trusted]
    allowed, reason = _decide(catalogue, client_ip, token_ip, mode)
    expected = (
        not trusted
        or _inside(client_ip, trusted)
        or (mode is LocationMode.STANDARD and _inside(token_ip, trusted))
    )
    assert allowed is expected
    assert allowed or reason is Reason.LOCATION_VIOLATION
    # Untrusted locations never change the step's decision.
    assert _decide(trusted, client_ip, token_ip, mode) == (allowed, reason)


@settings(max_examples=150)
@given(_catalogue, st.lists(_location, min_size=1, max_size=3), _address, _mode)
def test_an_allowed_list_decides_alone_whatever_its_flags(
    catalogue: list[NamedLocation],
    allowed_list: list[NamedLocation],
    client_ip: str | None,
    mode: LocationMode,
) -> None:
    flipped = [NamedLocation(loc.id, loc.name, loc.ranges, not loc.trusted) for loc in allowed_list]
    allowed, _ = _decide(catalogue, client_ip, None, mode, allowed_locations=allowed_list)
    assert allowed is _inside(client_ip, allowed_list)
    assert _decide([], client_ip, None, mode, allowed_locations=flipped)[0] is allowed
