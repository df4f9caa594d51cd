"""Issue 9 item 3: a revocation outlives every token it revokes. The store keeps a watermark
``watermark_retention`` seconds after its time; the validator accepts tokens living at most
``max_lifetime`` (plus ``leeway`` past ``exp``). A configuration where the watermark could expire
while a revoked token is still accepted is refused at start-up, by every adapter (they share the
request path)."""

from __future__ import annotations

from typing import Any

import pytest

from cae_sdk.core.errors import ConfigurationError
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import CAEMiddleware, RequestPath, TokenValidator

from ._asgi import ok_app
from .helpers import APP_ID, SigningKeys

HOUR = 3600


def _validator(**options: Any) -> TokenValidator:
    return TokenValidator(
        issuer="https://issuer.test/v2.0",
        audiences=[f"api://{APP_ID}"],
        jwks=SigningKeys().jwks(),
        **options,
    )


def test_defaults_fit_together() -> None:
    # 28 h tokens (Entra's longest CAE lifetime) + 60 s leeway < 28 h 10 min of retention.
    RequestPath(validator=_validator(), store=InMemoryEventStore())
    CAEMiddleware(ok_app, validator=_validator(), store=InMemoryEventStore())


def test_tokens_longer_than_the_retention_are_refused_at_start_up() -> None:
    store = InMemoryEventStore(watermark_retention=28 * HOUR)
    with pytest.raises(ConfigurationError, match="watermark_retention"):
        CAEMiddleware(ok_app, validator=_validator(max_lifetime=28 * HOUR), store=store)
    # The leeway counts: a token is accepted that long past its exp.
    with pytest.raises(ConfigurationError, match="leeway"):
        RequestPath(validator=_validator(max_lifetime=28 * HOUR - 30), store=store)
    RequestPath(validator=_validator(max_lifetime=28 * HOUR - 60), store=store)


def test_an_unbounded_token_lifetime_needs_a_bound_when_revocations_are_enforced() -> None:
    with pytest.raises(ConfigurationError, match="max_lifetime=None"):
        RequestPath(validator=_validator(max_lifetime=None), store=InMemoryEventStore())
    # Without a store there is no revocation to outlive: any lifetime is the operator's call.
    RequestPath(validator=_validator(max_lifetime=None))


def test_raising_both_together_is_accepted() -> None:
    store = InMemoryEventStore(watermark_retention=49 * HOUR)
    RequestPath(validator=_validator(max_lifetime=48 * HOUR), store=store)
