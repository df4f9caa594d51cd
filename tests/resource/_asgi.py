"""Call an ASGI app directly with raw header bytes (no HTTP client in between, so any byte a
client could put on the wire reaches the app) and collect its answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    reached_app: bool = False
    messages: list[dict[str, Any]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key == name]
        return values[0] if values else None


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The protected app: 200 "ok" (it marks the scope so tests see it was reached)."""
    scope["reached_app"] = True
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call(
    app: Any,
    headers: list[tuple[bytes, bytes]],
    *,
    path: str = "/",
    method: str = "GET",
    client: tuple[str, int] | None = ("198.51.100.4", 5000),
) -> Answer:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1", "replace"),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": client,
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    start = messages[0]
    assert start["type"] == "http.response.start", messages
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return Answer(
        start["status"], list(start["headers"]), body, bool(scope.get("reached_app")), messages
    )
