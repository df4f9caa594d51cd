"""Microsoft's documented policies (``vectors.py``): the library, ``cae whatif`` and the live
middleware (``CAEMiddleware`` over ASGI, with a real signed token) reach the decision
Microsoft's documentation implies, and agree with each other, on every vector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..resource.helpers import SigningKeys
from .harness import library, middleware, whatif
from .vectors import VECTORS, Vector


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
async def test_library_whatif_and_middleware_agree_with_microsoft(
    vector: Vector, tmp_path: Path, cae: Any, keys: SigningKeys
) -> None:
    policies, locations, request = [vector.policy], vector.locations, vector.request
    seen = library(policies, locations, request)
    assert (seen.expectation, seen.claims) == (vector.expect, vector.claims), vector.why
    if vector.expect == "undecided":
        assert seen.undecided == {vector.policy["id"]}
    assert whatif(policies, locations, request, tmp_path, cae) == seen, vector.why
    assert await middleware(policies, locations, request, keys) == seen, vector.why
