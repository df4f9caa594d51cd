"""``on_decision`` hooks have a deadline the request path enforces itself
(``CAESettings.hook_timeout``): a hook that never returns used to hold every request forever
(and, under the blocking driver, for ``timeout`` per hook)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import httpx
import pytest

from cae_sdk.core.errors import ConfigurationError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import (
    AccessRecord,
    BlockingRequestPath,
    CAEMiddleware,
    CAESettings,
    RequestPath,
    TokenValidator,
)

from ._asgi import ok_app
from .helpers import APP_ID, SigningKeys, claims, serve, sign

ISSUER = "https://issuer.test/v2.0"


def _validator(keys: SigningKeys) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())


class HangingHook:
    """An async hook that never returns on its own; records that it was cancelled."""

    def __init__(self) -> None:
        self.started = 0
        self.cancelled = 0

    async def __call__(self, record: AccessRecord) -> None:
        self.started += 1
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise


def test_a_hanging_hook_does_not_hold_requests_behind_uvicorn(
    keys: SigningKeys, caplog: pytest.LogCaptureFixture
) -> None:
    hook = HangingHook()
    seen: list[str] = []
    app = CAEMiddleware(
        ok_app,
        validator=_validator(keys),
        store=InMemoryEventStore(),
        on_decision=[hook, lambda record: seen.append(record.decision.reason.value)],
        hook_timeout=0.3,
    )
    token = sign(keys, claims(ISSUER))
    with serve(app) as url, caplog.at_level(logging.WARNING, "cae_sdk.resource"):
        started = time.monotonic()
        ok = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        refused = httpx.get(url, headers={"Authorization": "Bearer x.y.z"}, timeout=10)
        elapsed = time.monotonic() - started
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert elapsed < 5  # answered by the hook deadline, never held (generous bound)
    assert hook.started == 2 and hook.cancelled == 2
    assert seen == ["ok", "malformed_token"]  # the sync hook before it still ran
    assert "did not finish within 0.3 s" in caplog.text


async def test_hooks_share_one_deadline(keys: SigningKeys) -> None:
    hook = HangingHook()
    finished: list[bool] = []

    async def quick(record: AccessRecord) -> None:
        await asyncio.sleep(0)
        finished.append(True)

    async def stubborn(record: AccessRecord) -> None:
        # Swallows its cancellation and goes on waiting: it still cannot hold the request.
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.Event().wait()

    path = RequestPath(
        validator=_validator(keys),
        settings=CAESettings(hook_timeout=0.2),
        hooks=[hook, quick, stubborn],
    )
    token = sign(keys, claims(ISSUER))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    result = await asyncio.wait_for(path.decide("GET", "/", headers, "203.0.113.9"), 5)
    assert result.allowed and hook.cancelled == 1 and finished == [True]
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        task.cancel()  # the stubborn hook's task: end it with the test


def test_the_blocking_driver_uses_the_same_deadline(keys: SigningKeys) -> None:
    hook = HangingHook()
    path = RequestPath(
        validator=_validator(keys), settings=CAESettings(hook_timeout=0.2), hooks=[hook]
    )
    token = sign(keys, claims(ISSUER))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    with BlockingRequestPath(path, timeout=30) as blocking:
        answered = threading.Event()
        results: list[Any] = []

        def request() -> None:
            results.append(blocking.decide("GET", "/", headers, "203.0.113.9"))
            answered.set()

        threading.Thread(target=request, daemon=True).start()
        assert answered.wait(5), "the blocking driver waited for the hook past hook_timeout"
    assert results[0].allowed and hook.cancelled == 1


def test_the_blocking_driver_never_raises_from_hooks_once_closed(keys: SigningKeys) -> None:
    async def hook(record: AccessRecord) -> None:
        return None

    path = RequestPath(validator=_validator(keys), hooks=[hook])
    blocking = BlockingRequestPath(path)
    blocking.close()
    headers = [(b"authorization", f"Bearer {sign(keys, claims(ISSUER))}".encode())]
    result = blocking.decide("GET", "/", headers, "203.0.113.9")
    assert not result.allowed  # no loop to verify a new token on: refused, never raised


@pytest.mark.parametrize("value", [0, -1, float("nan"), "1", True, None])
def test_hook_timeout_must_be_a_positive_number(value: Any) -> None:
    with pytest.raises(ConfigurationError):
        CAESettings(hook_timeout=value)


def test_a_hook_the_blocking_driver_stopped_waiting_for_is_still_ended_at_its_deadline(
    keys: SigningKeys,
) -> None:
    """The driver's ``timeout`` below ``hook_timeout``: the driver stops waiting first, and the
    hook, no longer awaited by the code that cancels it at ``hook_timeout``, ran forever (a
    hanging audit sink left one task per request on the driver's loop)."""
    ended = threading.Event()

    async def hangs(record: AccessRecord) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    path = RequestPath(
        validator=_validator(keys), settings=CAESettings(hook_timeout=0.4), hooks=[hangs]
    )
    token = sign(keys, claims(ISSUER))
    headers = [(b"authorization", f"Bearer {token}".encode())]
    with BlockingRequestPath(path, timeout=0.1) as blocking:
        blocking.decide("GET", "/", headers, "203.0.113.9")  # allowed, or refused: hooks run
        assert ended.wait(5), "the hook outlived its deadline"
