"""pytest plugin (entry point ``cae_idp``): fixtures that run a :class:`DevIdentityProvider`.

* ``cae_idp``: a fresh provider per test (state changes cannot leak between tests).
* ``cae_idp_session``: one provider for the whole session (faster; tests must not rely on a
  pristine directory).

pytest loads this module in every environment where cae-sdk is installed, also a plain
``pip install cae-sdk`` without the ``devidp`` extra, and in every test run, also those that
never use the fixtures. So it imports nothing but pytest and this package (whose names are
lazy): the provider is imported when a fixture is first used, and a missing extra fails that
test with one line naming the extra instead of breaking pytest's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

__all__ = ["cae_idp", "cae_idp_session"]

if TYPE_CHECKING:  # pragma: no cover
    from ._runner import DevIdentityProvider


def _start() -> DevIdentityProvider:
    from .._extras import MissingExtra

    try:
        from ._runner import DevIdentityProvider
    except MissingExtra as exc:
        pytest.fail(f"the cae_idp fixtures: {exc}", pytrace=False)
    return DevIdentityProvider().start()


@pytest.fixture
def cae_idp() -> Iterator[DevIdentityProvider]:
    """A running dev identity provider, fresh for this test."""
    idp = _start()
    try:
        yield idp
    finally:
        idp.stop()


@pytest.fixture(scope="session")
def cae_idp_session() -> Iterator[DevIdentityProvider]:
    """A running dev identity provider shared by the whole test session."""
    idp = _start()
    try:
        yield idp
    finally:
        idp.stop()
