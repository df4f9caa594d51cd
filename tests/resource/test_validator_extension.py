"""A ``TokenValidator`` subclass's own ``validate`` (or ``cached``) - an API's check on top of
the verified claims - is asked on every request, by every driver: the warm path answers a cached
token without an await only for ``TokenValidator``'s own methods, never around an override."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from cae_sdk.core.errors import TokenValidationError
from cae_sdk.core.tokens import TokenClaims
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import (
    BlockingRequestPath,
    CAEMiddleware,
    PathResult,
    RequestPath,
    TokenValidator,
)

from ._asgi import call, ok_app
from .helpers import APP_ID, USER_OID, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"


class DenyingValidator(TokenValidator):
    """The API's own refusal on top of the verified claims (a deny list it changes at run
    time)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.denied: set[str] = set()

    async def validate(self, token: str) -> TokenClaims:
        verified = await super().validate(token)
        if verified.object_id in self.denied:
            raise TokenValidationError("user_denied", "this API refuses the user")
        return verified


class DenyingCacheValidator(TokenValidator):
    """The same check in ``cached``, the documented sync fast path."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.denied: set[str] = set()

    def cached(self, token: str) -> TokenClaims | None:
        verified = super().cached(token)
        if verified is not None and verified.object_id in self.denied:
            raise TokenValidationError("user_denied", "this API refuses the user")
        return verified


def _options(keys: SigningKeys) -> dict[str, Any]:
    return {"issuer": ISSUER, "audiences": [f"api://{APP_ID}"], "jwks": keys.jwks()}


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


def _status(result: PathResult) -> int:
    return 200 if result.refusal is None else result.refusal.status


async def _statuses(
    driver: str, validator: TokenValidator, token: str, deny: Callable[[], None]
) -> list[int]:
    """Two requests, the API's deny list changed, two more: the status of each."""
    path = RequestPath(validator=validator, store=InMemoryEventStore())
    headers = _bearer(token)
    statuses: list[int] = []
    if driver == "blocking":
        with BlockingRequestPath(path, timeout=5) as blocking:
            for step in range(4):
                if step == 2:
                    deny()
                result = await asyncio.to_thread(blocking.decide, "GET", "/", headers, None)
                statuses.append(_status(result))
        return statuses
    middleware = CAEMiddleware(ok_app, validator=validator, store=InMemoryEventStore())
    for step in range(4):
        if step == 2:
            deny()
        if driver == "asgi":
            statuses.append((await call(middleware, headers)).status)
        else:
            statuses.append(_status(await path.decide("GET", "/", headers, None)))
    return statuses


DRIVERS = ["path", "asgi", "blocking"]


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("kind", [DenyingValidator, DenyingCacheValidator])
async def test_a_subclass_check_runs_on_every_request(
    keys: SigningKeys, driver: str, kind: type[DenyingValidator]
) -> None:
    validator = kind(**_options(keys))
    token = sign(keys, claims(ISSUER))
    statuses = await _statuses(driver, validator, token, lambda: validator.denied.add(USER_OID))
    # Served while allowed (the second from the cache), refused as soon as the API says so.
    assert statuses == [200, 200, 401, 401]


@pytest.mark.parametrize("driver", DRIVERS)
async def test_a_subclass_check_refuses_a_new_token_at_once(keys: SigningKeys, driver: str) -> None:
    validator = DenyingValidator(**_options(keys))
    validator.denied.add(USER_OID)
    token = sign(keys, claims(ISSUER))
    statuses = await _statuses(driver, validator, token, lambda: None)
    assert statuses == [401, 401, 401, 401]


async def test_the_plain_validator_keeps_the_warm_path(keys: SigningKeys) -> None:
    """TokenValidator's own methods: a cached token is decided in ``begin``, without an await."""
    validator = TokenValidator(**_options(keys))
    path = RequestPath(validator=validator, store=InMemoryEventStore())
    token = sign(keys, claims(ISSUER))
    assert (await path.decide("GET", "/", _bearer(token), None)).allowed
    decided = path.begin("GET", "/", _bearer(token), None).result
    assert decided is not None and decided.allowed
    custom = RequestPath(validator=DenyingValidator(**_options(keys)))
    assert (await custom.decide("GET", "/", _bearer(token), None)).allowed
    assert custom.begin("GET", "/", _bearer(token), None).result is None  # validate() decides


class OwnValidator:
    """Not a TokenValidator at all: an object with ``audiences`` and ``validate``."""

    audiences = frozenset({f"api://{APP_ID}"})

    async def validate(self, token: str) -> TokenClaims:
        if token != "good":
            raise TokenValidationError("bad_signature", "not the good token")
        return TokenClaims({"tid": "t1", "oid": USER_OID, "scp": "access_as_user"})


async def test_a_validator_of_your_own_is_asked_through_validate() -> None:
    middleware = CAEMiddleware(ok_app, validator=OwnValidator())  # type: ignore[arg-type]
    for _ in range(2):
        assert (await call(middleware, _bearer("good"))).status == 200
        assert (await call(middleware, _bearer("bad"))).status == 401
