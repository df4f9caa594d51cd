"""An attacker's and an operator's view of the warm path's memos (issues 10 and 14): the
validated-token cache keyed by the ``Authorization`` value, the revocation/risk answer reused
per store generation and settings revision, and what the path derives from settings set in
place. Each test names the way around a memo that it closes."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from cae_sdk.core.decisions import Reason
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import CAESettings, RequestPath, TokenValidator

from .helpers import APP_ID, TENANT, USER_OID, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"
USER = SubjectKey.user(TENANT, USER_OID)


def _validator(keys: SigningKeys, **options: Any) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks(), **options)


def _header(value: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", value)]


def _cached_reason(path: RequestPath, value: bytes) -> Reason | None:
    """The reason of a request decided from the cache, None when its token had to be verified."""
    result = path.begin("GET", "/", _header(value), None).result
    return None if result is None else result.decision.reason


# -- the cache key: the header value as received -------------------------------------------------


async def test_spellings_of_one_header_do_not_fill_the_token_cache(keys: SigningKeys) -> None:
    """Padding one valid token with spaces or tabs (RFC 9110 allows them around the value, and
    the parser skips them) must not make each spelling an entry of its own: one token of the
    attacker's would evict every other caller's entry and hold up to 16 KiB per entry."""
    path = RequestPath(validator=_validator(keys, cache_size=8))
    other_user = "aaaaaaaa-0000-0000-0000-00000000000f"
    victim = b"Bearer " + sign(keys, claims(ISSUER, oid=other_user)).encode()
    assert (await path.decide("GET", "/", _header(victim), None)).allowed
    assert _cached_reason(path, victim) is Reason.OK
    token = sign(keys, claims(ISSUER)).encode()
    for pad in range(1, 40):
        spelling = b"Bearer " + b" " * pad + token + b"\t" * (pad % 3)
        assert (await path.decide("GET", "/", _header(spelling), None)).allowed  # still served
    assert len(path.validator.cache) <= 2
    assert _cached_reason(path, victim) is Reason.OK  # the other caller's entry survived
    # The plain spelling (any case of the scheme) is cached as before: the warm path stays warm.
    for plain in (b"Bearer " + token, b"bearer " + token):
        assert (await path.decide("GET", "/", _header(plain), None)).allowed
        assert _cached_reason(path, plain) is Reason.OK


# -- settings set in place while another thread serves -------------------------------------------


@contextmanager
def _requests_between_lines(request: Callable[[], object]) -> Iterator[None]:
    """Run ``request`` between every two lines of ``CAESettings.__setattr__`` (and as it
    returns): what another thread (a WSGI worker of BlockingRequestPath) may do while an
    operator's thread changes a field. Deterministic: sys.settrace, no timing."""
    code = CAESettings.__setattr__.__code__

    def local(frame: FrameType, event: str, arg: object) -> Any:
        if event in ("line", "return"):
            request()
        return local

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        return local if event == "call" and frame.f_code is code else None

    previous = sys.gettrace()
    sys.settrace(calls)
    try:
        yield
    finally:
        sys.settrace(previous)


def test_an_exclusion_taken_back_while_a_request_runs_is_taken_back(keys: SigningKeys) -> None:
    """A request that reads the new revision must find the new value in place: else it derives
    the old exclusions under the new revision, and ``/admin/`` stays open without a token until
    some other field changes."""
    path = RequestPath(validator=_validator(keys), settings=CAESettings(exclude_paths=["/admin/"]))
    assert path.excluded("/admin/users")
    with _requests_between_lines(lambda: path.excluded("/admin/users")):
        path.settings.exclude_paths = ()
    assert not path.excluded("/admin/users")


async def test_a_risk_bar_lowered_while_a_request_runs_applies(keys: SigningKeys) -> None:
    """The same race for the reused revocation/risk answer: a cached token allowed under the
    old bar with the new revision would keep being allowed under the new bar."""
    store = InMemoryEventStore()
    path = RequestPath(validator=_validator(keys), store=store)
    value = b"Bearer " + sign(keys, claims(ISSUER)).encode()
    await store.set_risk(USER, "medium")
    assert (await path.decide("GET", "/", _header(value), None)).allowed  # below "high"
    with _requests_between_lines(lambda: _cached_reason(path, value)):
        path.settings.risk_challenge_at = "medium"
    assert _cached_reason(path, value) is Reason.RISK_TOO_HIGH


# -- stores of one's own ---------------------------------------------------------------------------


class ExternalRevocations(InMemoryEventStore):
    """A memory store that also reads revocations kept elsewhere (a database the operator's
    tools write): its ``watermark`` answers change without any event, so the generation it
    inherits says nothing about them."""

    def __init__(self) -> None:
        super().__init__()
        self.external: dict[SubjectKey, int] = {}

    def watermark(self, subject: SubjectKey) -> int | None:
        found = self.external.get(subject)
        return found if found is not None else super().watermark(subject)


async def test_a_store_subclass_with_its_own_reads_is_read_on_every_request(
    keys: SigningKeys,
) -> None:
    store = ExternalRevocations()
    path = RequestPath(validator=_validator(keys), store=store)
    value = b"Bearer " + sign(keys, claims(ISSUER)).encode()
    assert (await path.decide("GET", "/", _header(value), None)).allowed
    assert _cached_reason(path, value) is Reason.OK
    store.external[USER] = int(time.time()) + 5  # revoked where only its own read looks
    assert _cached_reason(path, value) is Reason.TOKEN_REVOKED
