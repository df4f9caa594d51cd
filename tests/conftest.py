"""Project-wide test configuration: Redis availability.

Tests marked ``redis`` need a Redis server. On a developer machine without one they skip with a
clear reason; in CI (``CI`` set) a missing Redis is an error, so those tests can never silently
not run.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

REDIS_URL = os.environ.get("CAE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not any(item.get_closest_marker("redis") for item in items):
        return
    if _redis_reachable(REDIS_URL):
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI is set but Redis is not reachable at {REDIS_URL}")
    skip = pytest.mark.skip(reason=f"Redis not reachable at {REDIS_URL} (set CAE_TEST_REDIS_URL)")
    for item in items:
        if item.get_closest_marker("redis"):
            item.add_marker(skip)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL
