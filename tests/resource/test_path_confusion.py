"""Path confusion: a path written another way neither skips the token (excluded paths) nor the
step-up (authentication contexts). A gateway behind the middleware that forwards with httpx
(which removes dot segments, RFC 3986 section 5.2.4) used to turn ``/public/%2e%2e/admin`` into
``/admin``, unauthenticated, and ``/data/../admin/x`` reached a step-up route without it."""

from __future__ import annotations

import posixpath
import socket
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from cae_sdk.resource import CAEMiddleware, CAESettings, RequestPath, TokenValidator

from ._asgi import call, ok_app
from .helpers import APP_ID, SigningKeys, claims, serve, sign

ISSUER = "https://issuer.test/v2.0"
EXCLUDED = ["/public/", "/health"]


def _validator(keys: SigningKeys) -> TokenValidator:
    return TokenValidator(issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks())


@pytest.mark.parametrize(
    "path",
    [
        "/public/../admin",
        "/public/./x",
        "/public/..",
        "/public/%2e%2e/admin",  # left encoded by the server: a second decoder reads ".."
        "/public/%2E%2E%2Fadmin",
        "/public\\..\\admin",
        "/public/..;/admin",  # path parameters: "..;" is ".." to some servers
        "/public/x\x00",
        "/public/x\r\n",
        "/public//x",
    ],
)
async def test_a_path_that_is_not_plain_needs_a_token(keys: SigningKeys, path: str) -> None:
    app = CAEMiddleware(ok_app, validator=_validator(keys), exclude_paths=EXCLUDED)
    answer = await call(app, [], path=path)
    assert answer.status == 401 and not answer.reached_app


@pytest.mark.parametrize("path", ["/public/x", "/public/a/b.css", "/public/.well-known", "/health"])
async def test_plain_excluded_paths_are_served_without_a_token(
    keys: SigningKeys, path: str
) -> None:
    app = CAEMiddleware(ok_app, validator=_validator(keys), exclude_paths=EXCLUDED)
    assert (await call(app, [], path=path)).reached_app


def _gateway() -> Starlette:
    """A gateway behind the middleware: it forwards every request to a backend with httpx."""

    async def admin(request: Request) -> Response:
        return PlainTextResponse("secret")

    async def public(request: Request) -> Response:
        return PlainTextResponse("public")

    backend = Starlette(routes=[Route("/admin", admin), Route("/public/{rest:path}", public)])

    async def forward(scope: Any, receive: Any, send: Any) -> None:
        transport = httpx.ASGITransport(app=backend)
        async with httpx.AsyncClient(transport=transport, base_url="http://backend") as client:
            upstream = await client.get(scope["path"])
        response = Response(upstream.content, upstream.status_code)
        await response(scope, receive, send)

    return forward  # type: ignore[return-value]


def _raw_get(base_url: str, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (an HTTP client would remove the dot segments)."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_dot_segments_cannot_reach_a_protected_backend_route(keys: SigningKeys) -> None:
    app = CAEMiddleware(_gateway(), validator=_validator(keys), exclude_paths=EXCLUDED)
    with serve(app) as url:
        assert _raw_get(url, "/public/page") == (200, b"public")
        for target in ("/public/../admin", "/public/%2e%2e/admin", "/public/.%2E/admin"):
            status, body = _raw_get(url, target)
            assert status == 401 and b"secret" not in body, target


def _as_read_downstream(path: str) -> str:
    """How a lenient component downstream may read a path: percent-decoded (twice),
    backslashes as slashes, ``;`` parameters dropped, dot segments removed."""
    for _ in range(2):
        path = unquote(path)
    path = path.replace("\\", "/")
    path = "/".join(segment.split(";", 1)[0] for segment in path.split("/"))
    normal = posixpath.normpath(path) if path else "/"
    if path.endswith("/") and normal != "/":
        normal += "/"
    return normal.replace("//", "/")


segments = st.sampled_from(
    [
        *("public", "health", "admin", "ADMIN", "x", "", ".", "..", "..;", ";", "\\"),
        *("%2e", "%2e%2e", "%2f", "%252e%252e"),
    ]
)


@given(parts=st.lists(segments, max_size=6), slash=st.booleans())
@example(parts=["public", "..", "admin"], slash=False)
@example(parts=["public", "%2e%2e", "admin"], slash=False)
def test_no_excluded_path_reads_as_a_protected_one(
    keys: SigningKeys, parts: list[str], slash: bool
) -> None:
    path = RequestPath(validator=_validator(keys), settings=CAESettings(exclude_paths=EXCLUDED))
    raw = "/" + "/".join(parts) + ("/" if slash else "")
    if path.excluded(raw):
        assert path.excluded(_as_read_downstream(raw)), raw


@pytest.mark.parametrize(
    "path",
    [
        "/admin/x",
        "/data/../admin/x",
        "/data/%2e%2e/admin/x",
        "/ADMIN/x",
        "//admin/x",
        "/admin;v=1/x",
        "/admin%2Fx",
        "/data\\..\\admin\\x",
        "/public/../admin/x",
    ],
)
async def test_a_step_up_route_cannot_be_reached_by_another_spelling(
    keys: SigningKeys, path: str
) -> None:
    app = CAEMiddleware(
        ok_app,
        validator=_validator(keys),
        exclude_paths=EXCLUDED,
        auth_contexts={"/admin/": "c1"},
    )
    token = sign(keys, claims(ISSUER))
    answer = await call(app, [(b"authorization", f"Bearer {token}".encode())], path=path)
    assert answer.status == 401 and not answer.reached_app
    assert b"AuthenticationContextRequired" in answer.body


@given(parts=st.lists(segments, max_size=6), slash=st.booleans())
@example(parts=["x", "..", "admin", "y"], slash=False)
@example(parts=["", "admin", ";"], slash=False)  # "//admin/;" reads as "/admin/" downstream
def test_no_spelling_of_a_path_skips_its_authentication_context(
    keys: SigningKeys, parts: list[str], slash: bool
) -> None:
    settings = CAESettings(auth_contexts={"/admin/": "c1"})
    evaluator = RequestPath(validator=_validator(keys), settings=settings).evaluator
    raw = "/" + "/".join(parts) + ("/" if slash else "")
    if evaluator.required_auth_context(_as_read_downstream(raw)) is not None:
        assert evaluator.required_auth_context(raw) == "c1", raw
