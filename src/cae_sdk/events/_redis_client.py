"""Build the redis-py client of a :class:`~cae_sdk.events.redis.RedisEventStore`.

``redis://`` and ``rediss://`` (TLS) URLs with an ACL user and password in the userinfo and
redis-py's query parameters (``ssl_ca_certs=/path/ca.pem`` for a private CA,
``ssl_cert_reqs``, ``ssl_certfile``, ``ssl_keyfile``), or Redis Sentinel: the URL then names the
credentials, database and TLS of the monitored primary, and ``sentinels`` the Sentinel
addresses. redis-py itself keeps no deadline the store relies on: the store wraps every call in
its own (``asyncio.wait_for``); the socket timeouts here only release sockets early.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from redis.asyncio import Redis


def build_client(
    url: str,
    *,
    sentinels: Sequence[tuple[str, int]] | None,
    service_name: str | None,
    socket_timeout: float,
    connect_timeout: float,
) -> Redis:
    from redis.asyncio import Redis
    from redis.asyncio.connection import parse_url
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No hidden retries: a failed call is reported at once and the store reconnects itself.
    options: dict[str, Any] = {
        "socket_connect_timeout": connect_timeout,
        "socket_timeout": socket_timeout,
        "socket_keepalive": True,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": max(1, int(socket_timeout)),
    }
    if not sentinels:
        try:
            return Redis.from_url(url, **options)
        except ValueError as exc:
            raise ConfigurationError(f"bad Redis URL: {exc}") from None
    if not service_name:
        raise ConfigurationError("Redis Sentinel needs service_name (the monitored primary)")
    from redis.asyncio.sentinel import Sentinel

    try:
        parsed = dict(parse_url(url))
    except ValueError as exc:
        raise ConfigurationError(f"bad Redis URL: {exc}") from None
    # host and port come from Sentinel; everything else (ACL user, password, db, TLS) applies
    # to the primary. Sentinel itself is reached with the same timeouts and TLS settings.
    parsed.pop("host", None)
    parsed.pop("port", None)
    tls = parsed.pop("connection_class", None) is not None and url.startswith("rediss://")
    tls_options = {k: v for k, v in parsed.items() if k.startswith("ssl_")}
    sentinel_options = {**options, **tls_options, "ssl": tls} if tls else dict(options)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        [(host, int(port)) for host, port in sentinels],
        sentinel_kwargs=sentinel_options,
        **{**options, **parsed, "ssl": tls},
    )
    client: Redis = sentinel.master_for(service_name)
    return client
