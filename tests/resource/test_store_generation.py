"""A cached token's revocation and risk answer is reused while the store's generation and the
settings' revision stay (issue 10, warm path): never across an event, a replica's event, or a
risk bar changed in place. And the settings the path derives state from (excluded paths, proxy
ranges) apply on the next request when set in place."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core.decisions import Reason
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RevocationEvent, RiskEvent, RiskLevel
from cae_sdk.events._model import Event
from cae_sdk.resource import CAEMiddleware, CAESettings, RequestPath, TokenValidator

from ._asgi import call, ok_app
from .helpers import APP_ID, CLIENT_APP, TENANT, USER_OID, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"


def _validator(keys: SigningKeys) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


class CountingStore(InMemoryEventStore):
    """Counts the watermark reads of the request path. Its reads are the memory store's (it only
    counts them), so it keeps the generation: a subclass that overrides a read has none unless
    its class defines ``generation`` (test_warm_path_attacks)."""

    generation = 0  # set per instance by the memory store, as for the base class

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.reads = 0

    def watermark(self, subject: SubjectKey) -> int | None:
        self.reads += 1
        return super().watermark(subject)


class StoreWithoutGeneration(InMemoryEventStore):
    """A store of a user's own that predates ``generation``: read on every request."""

    @property  # type: ignore[override]
    def generation(self) -> int:
        raise AttributeError("generation")

    @generation.setter
    def generation(self, value: int) -> None:
        pass


def _reason(path: RequestPath, token: str) -> Reason:
    result = path.begin("GET", "/", _bearer(token), None).result
    assert result is not None  # a cached token is decided in begin()
    return result.decision.reason


async def test_a_cached_token_reads_its_subjects_once_per_generation(keys: SigningKeys) -> None:
    store = CountingStore()
    path = RequestPath(validator=_validator(keys), store=store)
    token = sign(keys, claims(ISSUER, sid="session-1"))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    first = store.reads
    assert first >= 4  # tenant, user, service principal, session...
    for _ in range(3):
        assert _reason(path, token) is Reason.OK
    assert store.reads == first  # nothing changed: the answer was reused
    # Any event moves the generation: the next request reads every subject again.
    await store.revoke_user(TENANT, "someone-else", at=int(time.time()))
    assert _reason(path, token) is Reason.OK
    assert store.reads == 2 * first
    await store.revoke_session(TENANT, "session-1", at=int(time.time()) + 5)
    assert _reason(path, token) is Reason.TOKEN_REVOKED
    assert _reason(path, token) is Reason.TOKEN_REVOKED  # a refusal is never reused: re-read
    assert store.reads == 4 * first


async def test_a_store_without_generation_is_read_on_every_request(keys: SigningKeys) -> None:
    store = StoreWithoutGeneration()
    path = RequestPath(validator=_validator(keys), store=store)
    token = sign(keys, claims(ISSUER))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    await store.revoke_user(TENANT, USER_OID, at=int(time.time()) + 5)
    assert _reason(path, token) is Reason.TOKEN_REVOKED


async def test_a_risk_bar_changed_in_place_applies_to_the_next_request(keys: SigningKeys) -> None:
    store = InMemoryEventStore()
    path = RequestPath(validator=_validator(keys), store=store)
    token = sign(keys, claims(ISSUER))
    await store.set_risk(SubjectKey.user(TENANT, USER_OID), "medium")
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    assert _reason(path, token) is Reason.OK  # medium is below the default bar (high)
    path.settings.risk_challenge_at = "medium"
    assert _reason(path, token) is Reason.RISK_TOO_HIGH
    path.settings.risk_challenge_at = "high"
    assert _reason(path, token) is Reason.OK


# -- the same decisions with and without the reuse, whatever happens in between ---------------

NOW = int(time.time())
USER = SubjectKey.user(TENANT, USER_OID)
SUBJECTS = [
    USER,
    SubjectKey.tenant(TENANT),
    SubjectKey.session(TENANT, "session-1"),
    SubjectKey.service_principal(TENANT, CLIENT_APP),
    SubjectKey.user(TENANT, "someone-else"),
]
event_times = st.integers(NOW - 20, NOW + 5)
store_events = st.one_of(
    st.builds(RevocationEvent, st.sampled_from(SUBJECTS), event_times, st.just("revoked")),
    st.builds(RiskEvent, st.sampled_from(SUBJECTS), st.sampled_from(list(RiskLevel)), event_times),
)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("event"), store_events),
        st.tuples(st.just("request"), st.integers(0, 1)),
        st.tuples(st.just("bar"), st.sampled_from(["low", "medium", "high", None])),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=actions)
def test_reusing_answers_never_changes_a_decision(
    keys: SigningKeys, history: list[tuple[str, Any]]
) -> None:
    """Two paths, one reusing answers (the memory store has a generation), one reading every
    subject on every request: fed the same events, requests and risk bars, they decide alike."""
    tokens = [
        sign(keys, claims(ISSUER, iat=NOW - 10, sid="session-1")),
        sign(keys, claims(ISSUER, iat=NOW, idtyp="app", scp=None, roles=["r"])),
    ]
    reusing = RequestPath(validator=_validator(keys), store=InMemoryEventStore())
    reading = RequestPath(validator=_validator(keys), store=StoreWithoutGeneration())

    async def run() -> None:
        for kind, value in history:
            if kind == "event":
                event: Event = value
                await reusing.store.apply(event)  # type: ignore[union-attr]
                await reading.store.apply(event)  # type: ignore[union-attr]
            elif kind == "bar":
                reusing.settings.risk_challenge_at = value
                reading.settings.risk_challenge_at = value
            else:
                token = tokens[value]
                one = await reusing.decide("GET", "/", _bearer(token), None)
                other = await reading.decide("GET", "/", _bearer(token), None)
                assert one.decision.reason is other.decision.reason, history

    asyncio.run(run())


# -- settings the path derives state from, set in place -----------------------------------------


async def test_excluded_paths_and_proxies_set_in_place_apply_to_the_next_request(
    keys: SigningKeys,
) -> None:
    middleware = CAEMiddleware(
        ok_app, validator=_validator(keys), store=InMemoryEventStore(), exclude_paths=["/health"]
    )
    assert (await call(middleware, [], path="/health")).status == 200
    middleware.settings.exclude_paths = []  # the operator takes the exclusion back
    assert (await call(middleware, [], path="/health")).status == 401
    middleware.settings.exclude_paths = ["/public/"]
    assert (await call(middleware, [], path="/public/x")).status == 200

    # A proxy named in place: its forwarding header is read from the next request on.
    records: list[Any] = []
    middleware.add_hook(records.append)
    token = sign(keys, claims(ISSUER))
    forwarded = [*_bearer(token), (b"x-forwarded-for", b"203.0.113.9")]
    assert (await call(middleware, forwarded, client=("10.0.0.2", 1))).status == 200
    middleware.settings.trusted_proxies = ["10.0.0.0/8"]
    assert (await call(middleware, forwarded, client=("10.0.0.2", 1))).status == 200
    assert [r.client_ip for r in records] == ["10.0.0.2", "203.0.113.9"]


def test_lists_the_path_derives_from_cannot_change_unseen() -> None:
    options = CAESettings(exclude_paths=["/health"], trusted_proxies=["10.0.0.1"])
    with pytest.raises(AttributeError):
        options.exclude_paths.append("/admin")  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        options.trusted_proxies.append("0.0.0.0/0")  # type: ignore[attr-defined]
    for name in ("exclude_paths", "trusted_proxies"):
        with pytest.raises(ConfigurationError):
            CAESettings(**{name: "/health"})  # one string: its characters, not one path
        with pytest.raises(ConfigurationError):
            setattr(options, name, "10.0.0.1")
    assert options.exclude_paths == ("/health",)


def test_a_settings_object_from_another_process_gets_a_revision_of_this_one() -> None:
    import copy
    import pickle

    options = CAESettings(exclude_paths=["/health"], risk_challenge_at="medium")
    for twin in (pickle.loads(pickle.dumps(options)), copy.copy(options), copy.deepcopy(options)):
        assert twin == options and twin.exclude_paths == ("/health",)
        assert twin.revision != options.revision
        later = CAESettings()
        assert later.revision not in (twin.revision, options.revision)


async def test_settings_replaced_while_serving_apply_whole(keys: SigningKeys) -> None:
    """The path derives proxies and exclusions as one object per settings revision: a whole
    new settings object, or a field set in place, applies to the next request."""
    middleware = CAEMiddleware(ok_app, validator=_validator(keys), store=InMemoryEventStore())
    assert (await call(middleware, [], path="/health")).status == 401
    middleware.settings = CAESettings(exclude_paths=["/health"])
    assert middleware.path.excludes
    assert (await call(middleware, [], path="/health")).status == 200
    middleware.settings.exclude_paths = ()
    assert (await call(middleware, [], path="/health")).status == 401
    assert not middleware.path.excludes


async def test_an_exchange_is_allowed_only_once_decided(keys: SigningKeys) -> None:
    """An Exchange becomes its own PathResult; before the decision it allows nothing."""
    path = RequestPath(validator=_validator(keys), store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER))
    exchange = path.begin("GET", "/", _bearer(token), None)
    assert exchange.result is None and not exchange.allowed and "undecided" in repr(exchange)
    result = await path.complete(exchange)
    assert result is exchange.result and result.allowed and result.claims is not None
    refused = path.begin("GET", "/", [], None)
    assert refused.result is refused and not refused.allowed
    assert refused.decision.reason is Reason.MISSING_TOKEN


def test_an_exchange_reads_its_user_agent_when_asked() -> None:
    """Policies with a platform condition read the User-Agent from the request itself, under
    whatever settings object is current (no step decides ahead whether it will be needed)."""
    from cae_sdk.resource import Exchange

    asked = Exchange("GET", "/", [(b"user-agent", b"Mozilla/5.0 (iPhone)")], None)
    assert asked.user_agent == "Mozilla/5.0 (iPhone)"
    assert Exchange("GET", "/", [], None).user_agent is None
