"""pytest plugin (entry point ``cae_idp``): fixtures that run a :class:`DevIdentityProvider`.

* ``cae_idp``: a fresh provider per test (state changes cannot leak between tests).
* ``cae_idp_session``: one provider for the whole session (faster; tests must not rely on a
  pristine directory).

The import of the provider is deferred so that loading the plugin costs nothing for test runs
that never use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .runner import DevIdentityProvider


@pytest.fixture
def cae_idp() -> Iterator[DevIdentityProvider]:
    """A running dev identity provider, fresh for this test."""
    from .runner import DevIdentityProvider

    with DevIdentityProvider() as idp:
        yield idp


@pytest.fixture(scope="session")
def cae_idp_session() -> Iterator[DevIdentityProvider]:
    """A running dev identity provider shared by the whole test session."""
    from .runner import DevIdentityProvider

    with DevIdentityProvider() as idp:
        yield idp
