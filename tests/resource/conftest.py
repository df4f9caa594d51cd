from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import JWKSServer, SigningKeys, serve


@pytest.fixture(scope="session")
def keys() -> SigningKeys:
    return SigningKeys()


@pytest.fixture(scope="module")
def idp(keys: SigningKeys) -> Iterator[JWKSServer]:
    server = JWKSServer(keys)
    with serve(server.app) as url:
        server.base_url = url
        yield server


@pytest.fixture(autouse=True)
def _reset_idp_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "idp" in request.fixturenames:
        request.getfixturevalue("idp").mode = "ok"
