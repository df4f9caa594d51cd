"""Fixtures of the policy vectors: the CLI runner (``cae whatif``) and signing keys."""

from __future__ import annotations

import pytest

from ..cli.conftest import cae
from ..resource.helpers import SigningKeys

__all__ = ["cae", "keys"]


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys()
