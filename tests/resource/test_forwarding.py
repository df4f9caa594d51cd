"""The client address behind proxies (issue 10, item 1): the one configured forwarding header,
never another; a forwarding header from a trusted proxy that cannot be read in full refuses
the request; and the documented nginx setting, tested with a real nginx in front of uvicorn."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cae_sdk.core.decisions import Reason
from cae_sdk.core.locations import NamedLocation
from cae_sdk.events import InMemoryEventStore
from cae_sdk.resource import AccessRecord, CAEMiddleware, TokenValidator

from ._asgi import call, ok_app
from .helpers import APP_ID, SigningKeys, claims, free_port, serve, sign

ISSUER = "https://issuer.test/v2.0"
INSIDE = [NamedLocation.from_cidrs("corp", "Corporate network", ["10.0.0.0/8"])]


def _middleware(keys: SigningKeys, **options: Any) -> CAEMiddleware:
    validator = TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    options.setdefault("allowed_locations", INSIDE)
    options.setdefault("location_mode", "strict")
    return CAEMiddleware(
        ok_app,
        validator=validator,
        store=InMemoryEventStore(),
        trusted_proxies=["10.0.0.2"],
        **options,
    )


def _headers(keys: SigningKeys, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {sign(keys, claims(ISSUER))}".encode()), *extra]


async def test_a_padded_x_forwarded_for_is_refused_not_skipped(keys: SigningKeys) -> None:
    """The proxy (10.0.0.2, inside the allowed range) appends the outside client's address to a
    header the client padded past 8 KiB: reading the proxy's own address would serve it."""
    middleware = _middleware(keys)
    padded = b"10.0.0.9, " * 1000 + b"203.0.113.9"
    answer = await call(
        middleware, _headers(keys, (b"x-forwarded-for", padded)), client=("10.0.0.2", 4000)
    )
    assert answer.status == 400 and not answer.reached_app
    body = json.loads(answer.body)
    assert body == {
        "error": "invalid_request",
        "error_description": "x-forwarded-for: the header is too long",
        "reason": Reason.BAD_FORWARDING_HEADER.value,
    }


async def test_a_forwarded_header_the_client_wrote_is_never_read(keys: SigningKeys) -> None:
    """The proxy writes the real (outside) address into X-Forwarded-For and passes on the
    client's own ``Forwarded: for=<inside address>``."""
    middleware = _middleware(keys)
    headers = _headers(keys, (b"forwarded", b"for=10.0.0.77"), (b"x-forwarded-for", b"203.0.113.9"))
    answer = await call(middleware, headers, client=("10.0.0.2", 4000))
    assert answer.status == 401 and not answer.reached_app
    assert json.loads(answer.body)["reason"] == Reason.LOCATION_VIOLATION.value
    # The outside client's spoofed X-Forwarded-For, appended to by the proxy: still outside.
    spoofed = _headers(keys, (b"x-forwarded-for", b"10.0.0.77, 203.0.113.9"))
    assert (await call(middleware, spoofed, client=("10.0.0.2", 4000))).status == 401
    inside = _headers(keys, (b"x-forwarded-for", b"203.0.113.9, 10.0.0.77"))
    assert (await call(middleware, inside, client=("10.0.0.2", 4000))).status == 200


@pytest.mark.parametrize(
    "extra",
    [
        [(b"x-forwarded-for", b"unknown")],
        [(b"x-forwarded-for", b"")],
        [(b"x-forwarded-for", b"10.0.0.7"), (b"x-forwarded-for", b"10.0.0.8")],
        [(b"x-forwarded-for", b"10.0.0.7, garbage")],
    ],
)
async def test_an_unreadable_forwarding_header_is_400_even_without_locations(
    keys: SigningKeys, extra: list[tuple[bytes, bytes]]
) -> None:
    middleware = _middleware(keys, allowed_locations=None)  # nothing location-based configured
    answer = await call(middleware, _headers(keys, *extra), client=("10.0.0.2", 4000))
    assert answer.status == 400 and not answer.reached_app
    assert answer.header(b"www-authenticate") is None  # nothing is wrong with the token
    # From a peer that is not a trusted proxy the same header is never read: served.
    assert (await call(middleware, _headers(keys, *extra))).status == 200


async def test_rfc7239_forwarded_when_the_operator_names_it(keys: SigningKeys) -> None:
    middleware = _middleware(keys, forwarded_header="forwarded")
    headers = _headers(
        keys, (b"x-forwarded-for", b"10.0.0.77"), (b"forwarded", b'for="203.0.113.9:4711"')
    )
    answer = await call(middleware, headers, client=("10.0.0.2", 4000))
    assert answer.status == 401  # X-Forwarded-For is not read: the client is outside
    inside = _headers(keys, (b"forwarded", b'for="[::ffff:10.0.0.77]"'))
    assert (await call(middleware, inside, client=("10.0.0.2", 4000))).status == 200


# -- a real nginx in front of uvicorn ----------------------------------------------------------

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY_SOURCE = "127.0.0.2"  # nginx connects to uvicorn from here (proxy_bind)
OFFICE_CLIENT = "127.0.0.3"  # allowed location
OUTSIDE_CLIENT = "127.0.0.4"  # not allowed

NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
error_log {tmp}/error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    large_client_header_buffers 4 32k;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{xff_port};
            proxy_bind {proxy_source};
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
        location /rfc7239/ {{
            proxy_pass http://127.0.0.1:{fwd_port};
            proxy_bind {proxy_source};
            proxy_set_header Forwarded "for=\\"$remote_addr\\"";
        }}
    }}
}}
"""


@contextlib.contextmanager
def _nginx(xff_port: int, fwd_port: int) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                tmp=tmp,
                port=port,
                xff_port=xff_port,
                fwd_port=fwd_port,
                proxy_source=PROXY_SOURCE,
            )
        )
        process = subprocess.Popen(
            [NGINX, "-p", tmp, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.2),
                ):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    pytest.fail(f"nginx did not start: {error}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)
            if process.stderr:
                process.stderr.close()


def _app(keys: SigningKeys, records: list[AccessRecord], header: str) -> CAEMiddleware:
    validator = TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())
    allowed = [NamedLocation.from_cidrs("office", "Office", [f"{OFFICE_CLIENT}/32"])]
    return CAEMiddleware(
        ok_app,
        validator=validator,
        store=InMemoryEventStore(),
        allowed_locations=allowed,
        location_mode="strict",
        trusted_proxies=[PROXY_SOURCE],
        forwarded_header=header,
        on_decision=[records.append],
    )


def _get(url: str, source: str, token: str, **headers: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(url, headers={"Authorization": f"Bearer {token}", **headers})


@pytest.mark.skipif(
    not Path(NGINX).exists() and not os.environ.get("CI"),
    reason="nginx is not installed (apt-get install nginx); in CI this test must run",
)
def test_behind_real_nginx(keys: SigningKeys) -> None:
    records: list[AccessRecord] = []
    token = sign(keys, claims(ISSUER))
    xff_app = _app(keys, records, "x-forwarded-for")
    fwd_app = _app(keys, records, "forwarded")
    with serve(xff_app) as xff_url, serve(fwd_app) as fwd_url:
        xff_port = int(xff_url.rsplit(":", 1)[1])
        fwd_port = int(fwd_url.rsplit(":", 1)[1])
        with _nginx(xff_port, fwd_port) as proxy:
            # nginx: X-Forwarded-For with $proxy_add_x_forwarded_for.
            assert _get(f"{proxy}/a", OFFICE_CLIENT, token).status_code == 200
            assert records[-1].client_ip == OFFICE_CLIENT
            assert _get(f"{proxy}/a", OUTSIDE_CLIENT, token).status_code == 401
            assert records[-1].client_ip == OUTSIDE_CLIENT
            spoofed = _get(
                f"{proxy}/a",
                OUTSIDE_CLIENT,
                token,
                **{"X-Forwarded-For": OFFICE_CLIENT, "Forwarded": f"for={OFFICE_CLIENT}"},
            )
            assert spoofed.status_code == 401
            assert spoofed.json()["reason"] == Reason.LOCATION_VIOLATION.value
            assert records[-1].client_ip == OUTSIDE_CLIENT
            padded = _get(
                f"{proxy}/a",
                OUTSIDE_CLIENT,
                token,
                **{"X-Forwarded-For": ", ".join([OFFICE_CLIENT] * 1000)},
            )
            assert padded.status_code == 400
            assert padded.json()["reason"] == Reason.BAD_FORWARDING_HEADER.value
            # nginx writing RFC 7239 Forwarded itself; the client's X-Forwarded-For is ignored.
            assert _get(f"{proxy}/rfc7239/a", OFFICE_CLIENT, token).status_code == 200
            forwarded_spoof = _get(
                f"{proxy}/rfc7239/a",
                OUTSIDE_CLIENT,
                token,
                **{"X-Forwarded-For": OFFICE_CLIENT, "Forwarded": f"for={OFFICE_CLIENT}"},
            )
            assert forwarded_spoof.status_code == 401
            assert records[-1].client_ip == OUTSIDE_CLIENT
        # Straight to uvicorn (no proxy in between): forwarding headers are never read.
        direct = _get(f"{xff_url}/a", OUTSIDE_CLIENT, token, **{"X-Forwarded-For": OFFICE_CLIENT})
        assert direct.status_code == 401 and records[-1].client_ip == OUTSIDE_CLIENT
