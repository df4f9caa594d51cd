"""A misbehaving identity provider and a challenging API, both real servers on 127.0.0.1.

``FaultyIdP`` speaks enough of the Entra v2 endpoints for unmodified MSAL (OpenID discovery,
client credentials, refresh token, device code) over HTTPS with a generated CA
(``cae_sdk.devidp._tls``). Every fault is a switch, per endpoint: ``down`` (the connection is
dropped), ``slow`` (answer after ``delay``), ``trickle`` (the whole answer, status line
included, one byte every ``delay`` seconds), ``5xx``, ``429`` (+ ``Retry-After``), ``garbage``
(a 200 that is not JSON), ``redirect`` (a 307 to ``location``), ``echo`` (a 400 quoting the
request's form), ``pending`` (a device code the user never confirms), ``truncated`` (a 200
whose JSON stops after the token fields, framed as complete), ``huge`` (an answer of ``size``
bytes) and ``huge_error`` (a 400 whose ``error_description`` is ``size`` characters).

``ChallengingApi`` answers ``200`` to tokens its ``decide`` callback accepts and a CAE claims
challenge (or a redirect) otherwise. Responses are written by hand so a test controls every byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cae_sdk import build_claims_challenge
from cae_sdk.devidp._tls import ServerTLS, generate_server_tls

TENANT = "tenant-faulty"
SCOPE = "api://faulty-api/.default"
CLIENT_SECRET = "client-secret-DO-NOT-LOG-1234"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def make_jwt(payload: dict[str, Any]) -> str:
    """An unsigned JWT: the client never validates tokens, and APIs here only read claims."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(payload)}.c2lnbmF0dXJl"


def read_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass
class Fault:
    kind: str
    times: int | None = None  # None: every request
    delay: float = 0.25
    retry_after: str | None = None
    status: int = 503
    size: int = 10 * 1024 * 1024
    only_claims: bool = False  # token endpoint: only requests that carry a challenge's claims
    cut_at: str = "expires_in"  # truncated: the JSON stops right before this member
    location: str = ""  # redirect: where to


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer is what the fault tests are about


def _start(handler: type[BaseHTTPRequestHandler], tls: ServerTLS | None) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls.cert_path, tls.key_path)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        scheme = "https"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server, f"{scheme}://127.0.0.1:{server.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass  # never to stderr; tests inspect what they need

    def do_GET(self) -> None:
        self.owner.handle(self)

    def do_POST(self) -> None:
        self.owner.handle(self)

    def read_form(self) -> dict[str, str]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        return dict(parse_qsl(raw.decode("latin-1")))

    def write_raw(self, data: bytes, *, trickle: float = 0.0, close: bool = False) -> None:
        try:
            if trickle:
                for i in range(len(data)):
                    if getattr(self.owner, "closed", False):
                        close = True  # the test is over: hang up instead of trickling on
                        break
                    self.wfile.write(data[i : i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            else:
                self.wfile.write(data)
                self.wfile.flush()
        except OSError:
            close = True  # the client gave up (a deadline, a size cap)
        if close:
            self.close_connection = True

    def answer(
        self,
        status: int,
        body: bytes,
        *,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        trickle: float = 0.0,
    ) -> None:
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        for name, value in {"Content-Type": content_type, **(headers or {})}.items():
            head.append(f"{name}: {value}")
        head.append(f"Content-Length: {len(body)}")
        self.write_raw(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body, trickle=trickle)


_REASONS = {200: "OK", 307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class FaultyIdP:
    """See the module docstring. ``token_requests`` records every token request's form."""

    def __init__(self, tls: ServerTLS) -> None:
        self.tls = tls
        self.faults: dict[str, Fault] = {}
        self.token_requests: list[dict[str, str]] = []
        self.expires_in = 3600
        self.refresh_in: int | None = None
        self.device_expires_in = 900
        self.closed = False
        self.min_iat = 0
        self.issued: list[str] = []
        self._lock = threading.Lock()
        handler = type("IdPHandler", (_Handler,), {"owner": self})
        self._server, self.url = _start(handler, tls)
        self.authority = f"{self.url}/{TENANT}"

    # -- switches ------------------------------------------------------------------------------

    def fault(self, endpoint: str, kind: str, **options: Any) -> None:
        """Switch ``endpoint`` (``token``, ``discovery``, ``device``) to fault ``kind``."""
        self.faults[endpoint] = Fault(kind, **options)

    def clear(self) -> None:
        self.faults.clear()

    def claims_requests(self) -> list[dict[str, str]]:
        return [r for r in self.token_requests if _challenge_claims(r)]

    def close(self) -> None:
        self.closed = True  # a trickle in progress hangs up
        self._server.shutdown()
        self._server.server_close()

    # -- serving -------------------------------------------------------------------------------

    def handle(self, request: _Handler) -> None:
        path = urlsplit(request.path).path
        form = request.read_form() if request.command == "POST" else {}
        if path.endswith("/.well-known/openid-configuration"):
            endpoint, normal = "discovery", self._discovery
        elif path.endswith("/oauth2/v2.0/token"):
            endpoint, normal = "token", self._token
            with self._lock:
                self.token_requests.append(form)
        elif path.endswith("/oauth2/v2.0/devicecode"):
            endpoint, normal = "device", self._device_code
        elif path == "/metadata/identity/oauth2/token":  # IMDS (managed identity)
            endpoint, normal = "imds", self._imds
        else:
            request.answer(404, b'{"error":"not_found"}')
            return
        fault = self._take(endpoint, form)
        if fault is None:
            status, body = normal(form)
            request.answer(status, json.dumps(body).encode())
            return
        self._misbehave(request, fault, lambda: normal(form), form)

    def _take(self, endpoint: str, form: dict[str, str]) -> Fault | None:
        with self._lock:
            fault = self.faults.get(endpoint)
            if fault is None or (fault.only_claims and not _challenge_claims(form)):
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    del self.faults[endpoint]
            return fault

    def _misbehave(
        self,
        request: _Handler,
        fault: Fault,
        normal: Callable[[], tuple[int, dict[str, Any]]],
        form: dict[str, str],
    ) -> None:
        kind = fault.kind
        if kind == "down":
            request.close_connection = True
            request.connection.shutdown(socket.SHUT_RDWR)
        elif kind == "slow":
            time.sleep(fault.delay)
            status, body = normal()
            request.answer(status, json.dumps(body).encode())
        elif kind == "trickle":
            status, body = normal()
            request.answer(status, json.dumps(body).encode(), trickle=fault.delay)
        elif kind == "5xx":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            request.answer(
                fault.status,
                b"<html>upstream failure</html>",
                headers=headers,
                content_type="text/html",
            )
        elif kind == "429":
            error = {"error": "temporarily_unavailable", "error_description": "AADSTS90055: slow"}
            request.answer(
                429, json.dumps(error).encode(), headers={"Retry-After": fault.retry_after or "1"}
            )
        elif kind == "garbage":
            request.answer(
                200,
                b"<html><body>Sign-in is down for maintenance</body></html>",
                content_type="text/html",
            )
        elif kind == "truncated":
            _, body = normal()
            text = json.dumps(body)
            member = f'"{fault.cut_at}"'
            cut = text.index(member) if member in text else len(text) // 2
            request.answer(200, text[:cut].encode())
        elif kind == "huge":
            request.answer(200, b"x" * fault.size, content_type="text/plain")
        elif kind == "redirect":  # 307: "send the same request there"
            request.answer(307, b"", headers={"Location": fault.location})
        elif kind == "echo":  # a proxy or broken endpoint that quotes the request it got
            quoted = "&".join(f"{k}={v}" for k, v in form.items())
            error = {"error": "invalid_request", "error_description": f"Bad request: {quoted}"}
            request.answer(400, json.dumps(error).encode())
        elif kind == "pending":  # RFC 8628 section 3.5: the user has not finished yet
            error = {"error": "authorization_pending", "error_description": "AADSTS70016"}
            request.answer(400, json.dumps(error).encode())
        elif kind == "huge_error":
            error = {"error": "invalid_request", "error_description": "A" * fault.size}
            request.answer(400, json.dumps(error).encode())
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(f"unknown fault {kind}")

    def _discovery(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        base = self.authority
        return 200, {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        }

    def _imds(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        now = int(time.time())
        access = make_jwt({"iat": now, "exp": now + 3600, "n": len(self.issued), "mi": True})
        self.issued.append(access)
        return 200, {
            "access_token": access,
            "expires_in": str(self.expires_in),
            "resource": "api://faulty-api",
            "token_type": "Bearer",
        }

    def _device_code(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "device_code": "device-code-DO-NOT-LOG",
            "user_code": "ABCD-EFGH",
            "verification_uri": f"{self.url}/devicelogin",
            "expires_in": self.device_expires_in,
            "interval": 0,
            "message": "To sign in, enter ABCD-EFGH",
        }

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            number = len(self.token_requests)
        now = int(time.time())
        access = make_jwt(
            {
                "iat": max(now, self.min_iat),
                "exp": now + self.expires_in,
                "n": number,
                "xms_cc": ["cp1"],
                "claims": _challenge_claims(form),
            }
        )
        self.issued.append(access)
        body: dict[str, Any] = {"access_token": access, "token_type": "Bearer"}
        if form.get("grant_type") != "client_credentials":
            refresh = f"refresh-token-{number}-DO-NOT-LOG"
            self.issued.append(refresh)
            body |= {
                "refresh_token": refresh,
                "id_token": make_jwt(
                    {
                        "iss": f"{self.authority}/v2.0",
                        "aud": form.get("client_id", ""),
                        "oid": "user-oid",
                        "sub": "user-oid",
                        "tid": TENANT,
                        "preferred_username": "ada@contoso.test",
                        "iat": now,
                        "exp": now + 3600,
                    }
                ),
                "client_info": _b64({"uid": "user-oid", "utid": TENANT}),
                "scope": form.get("scope", ""),
            }
        body["expires_in"] = self.expires_in
        if self.refresh_in is not None:
            body["refresh_in"] = self.refresh_in
        return 200, body


def _challenge_claims(form: dict[str, str]) -> dict[str, Any] | None:
    """The claims a token request carries beyond cp1 (what a challenge asked for)."""
    raw = form.get("claims")
    if not raw:
        return None
    access = dict(json.loads(raw).get("access_token", {}))
    access.pop("xms_cc", None)
    return access or None


class ChallengingApi:
    """``decide(path, token_claims_or_None)`` returns ``None`` (200), a claims request dict
    (401 with a CAE challenge for it) or ``("redirect", url)``."""

    def __init__(self, decide: Callable[[str, dict[str, Any] | None], Any]) -> None:
        self.decide = decide
        self.seen: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()
        handler = type("ApiHandler", (_Handler,), {"owner": self})
        self._server, self.url = _start(handler, None)

    def handle(self, request: _Handler) -> None:
        request.read_form()
        header = request.headers.get("authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        with self._lock:
            self.seen.append((request.path, token))
        verdict = self.decide(request.path, read_claims(token) if token else None)
        if verdict is None:
            request.answer(
                200, json.dumps({"n": read_claims(token)["n"] if token else None}).encode()
            )
        elif isinstance(verdict, tuple) and verdict[0] == "redirect":
            request.answer(307, b"", headers={"Location": verdict[1]})
        else:
            challenge = build_claims_challenge(
                verdict, authorization_uri="https://login.test/common/oauth2/authorize"
            )
            request.answer(
                401, b'{"error":"insufficient_claims"}', headers={"WWW-Authenticate": challenge}
            )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def server_tls() -> Iterator[ServerTLS]:
    with tempfile.TemporaryDirectory(prefix="cae-faulty-idp-") as directory:
        yield generate_server_tls(Path(directory), dt.datetime.now(dt.timezone.utc))
