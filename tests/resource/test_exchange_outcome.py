"""An Exchange is its own PathResult (review of the warm path's one object per request): what
it says - ``decision``, ``claims``, ``refusal``, ``allowed`` and the hooks' record - is always
one outcome, the last one concluded, never a mix of two; and a settings change the path cannot
derive its state from is refused where it is made, not on every request after it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from cae_sdk.core.decisions import Decision, Outcome, Reason, token_refusal
from cae_sdk.core.errors import ConfigurationError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import (
    AccessRecord,
    BlockingRequestPath,
    CAESettings,
    RequestPath,
    TokenValidator,
)

from .helpers import APP_ID, SigningKeys, claims, sign

ISSUER = "https://issuer.test/v2.0"
DENY = Decision(Outcome.DENY, Reason.INSUFFICIENT_SCOPE, "missing scope")


def _path(keys: SigningKeys, records: list[AccessRecord] | None = None) -> RequestPath:
    validator = TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    hooks = [records.append] if records is not None else []
    return RequestPath(validator=validator, store=InMemoryEventStore(), hooks=hooks)


def _bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


async def test_an_exchange_refused_then_allowed_says_allowed_only(keys: SigningKeys) -> None:
    """A driver of one's own that concluded a refusal (its deadline) and then the verified
    claims: the warm path's allow set the decision and the claims but kept the earlier
    refusal, so the hooks recorded ``ok`` while the client was sent the stale 401."""
    records: list[AccessRecord] = []
    path = _path(keys, records)
    exchange = path.begin("GET", "/", _bearer(sign(keys, claims(ISSUER))), None)
    verified = await path.validator.validate(exchange.token)
    path.refuse(exchange, token_refusal("keys_unavailable", "timed out", retry_after=1))
    result = path.finish(exchange, verified)
    path.run_hooks(exchange, result)
    assert result.decision.allowed and result.claims is verified
    assert result.refusal is None and result.allowed
    assert records[-1].decision.allowed is result.allowed


async def test_an_exchange_allowed_then_refused_keeps_no_claims(keys: SigningKeys) -> None:
    path = _path(keys)
    result = await path.decide("GET", "/", _bearer(sign(keys, claims(ISSUER))), None)
    assert result.allowed
    path.refuse(result, token_refusal("malformed_token", "no subject"))  # type: ignore[arg-type]
    assert not result.allowed and result.claims is None and result.refusal is not None


@contextmanager
def _refusal_logging_raises() -> Iterator[None]:
    """An operator's logging filter that raises (a bug of theirs, a full disk in a handler
    wired as a filter): the refusal's log record fails after the decision was set."""

    def broken(record: logging.LogRecord) -> bool:
        raise RuntimeError("log pipeline down")

    logger = logging.getLogger("cae_sdk.resource")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addFilter(broken)
    try:
        yield
    finally:
        logger.removeFilter(broken)
        logger.setLevel(level)


async def test_a_route_refusal_that_fails_to_log_leaves_no_allowed_exchange(
    keys: SigningKeys,
) -> None:
    """``refuse_route`` on the exchange the path allowed (the documented route guard) set the
    refusing decision, then raised while logging before it set the refusal: the exchange then
    read decided, refused by its decision, and ``allowed`` - with the allow's empty refusal -
    to a guard that catches the error and reads the result."""
    path = _path(keys)
    exchange = path.begin("GET", "/", _bearer(sign(keys, claims(ISSUER))), None)
    result = await path.complete(exchange)
    assert result.allowed and result.claims is not None
    with _refusal_logging_raises(), pytest.raises(RuntimeError, match="log pipeline"):
        await path.refuse_route(exchange, DENY, result.claims)
    assert not exchange.allowed and exchange.refusal is not None
    assert exchange.decision is DENY


@pytest.mark.parametrize("proxies", [("not-an-ip",), ("10.0.0.0/33",)])
def test_a_bad_trusted_proxy_set_in_place_is_refused_there(
    keys: SigningKeys, proxies: tuple[str, ...]
) -> None:
    """The constructor took any string as a proxy and ``RequestPath`` refused it; set in place
    on a serving path, it was taken too (its check is the constructor's) and every request
    after it raised while deriving the proxy ranges: an outage from a typo, with the value
    left in place."""
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        CAESettings(trusted_proxies=proxies)
    path = _path(keys)
    path.settings.trusted_proxies = ("10.0.0.0/8",)
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        path.settings.trusted_proxies = proxies
    assert path.settings.trusted_proxies == ("10.0.0.0/8",)
    refused = path.begin("GET", "/", [], "10.1.2.3")  # still served: refused for no token
    assert refused.decision.reason is Reason.MISSING_TOKEN


def test_a_wsgi_route_guard_refuses_through_the_blocking_driver(keys: SigningKeys) -> None:
    """A synchronous route guard refuses as the async one does: one reason in the body, the
    log record and the hooks (async hooks run on the driver's loop, within its deadline)."""
    issuer = "https://issuer.test/v2.0"
    seen: list[AccessRecord] = []

    async def hook(record: AccessRecord) -> None:
        seen.append(record)

    validator = TokenValidator(issuer=issuer, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    path = RequestPath(validator=validator, store=InMemoryEventStore(), hooks=[hook])
    token = sign(keys, claims(issuer))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    with BlockingRequestPath(path, timeout=5) as blocking:
        allowed = blocking.decide("GET", "/admin", headers, "203.0.113.7")
        assert allowed.allowed and allowed.claims is not None
        missing = Decision(Outcome.DENY, Reason.INSUFFICIENT_SCOPE, "scope admin required")
        exchange = path.begin("GET", "/admin", headers, "203.0.113.7")
        refused = blocking.refuse_route(exchange, missing, allowed.claims)
        assert refused.refusal is not None and refused.refusal.status == 403
        assert json.loads(refused.refusal.body())["reason"] == Reason.INSUFFICIENT_SCOPE.value
    assert [r.decision.reason for r in seen] == [Reason.OK, Reason.INSUFFICIENT_SCOPE]
