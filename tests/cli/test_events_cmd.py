"""``cae events send`` against a real uvicorn receiver, and ``cae events tail`` errors."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from cae_sdk.cli._demo.servers import serve
from cae_sdk.cli._set_builder import build_set_claims, parse_subject, resolve_event_type

pytestmark = pytest.mark.e2e


def write_key(path: Path, key) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def receiver(rsa_key):
    """An RFC 8935 receiver: checks auth, media type and the signature, records SETs."""
    received: list[dict] = []

    async def push(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer s3cret":
            return JSONResponse({"err": "authentication_failed", "description": "no"}, 400)
        if request.headers.get("content-type") != "application/secevent+jwt":
            return JSONResponse({"err": "invalid_request", "description": "media type"}, 400)
        token = (await request.body()).decode()
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, rsa_key.public_key(), algorithms=["RS256"], audience="https://rp"
            )
        except jwt.InvalidTokenError as exc:
            return JSONResponse({"err": "invalid_key", "description": str(exc)}, 400)
        received.append({"header": header, "claims": claims})
        return Response(status_code=202)

    app = Starlette(routes=[Route("/events", push, methods=["POST"])])
    with serve(app) as server:
        yield server.url + "/events", received


def send_args(url: str, key: Path, *extra: str) -> list[str]:
    return [
        "events",
        "send",
        url,
        "--key",
        str(key),
        "--kid",
        "k1",
        "--issuer",
        "https://tx",
        "--audience",
        "https://rp",
        "--event",
        "session-revoked",
        "--subject",
        "tenant-user:t1|o1",
        "--authorization",
        "Bearer s3cret",
        *extra,
    ]


def test_send_signed_set_is_accepted(cae, receiver, rsa_key, tmp_path):
    url, received = receiver
    key = write_key(tmp_path / "k.pem", rsa_key)
    result = cae(*send_args(url, key, "--data", '{"reason_admin": {"en": "test"}}'), "--json")
    assert result.code == 0, result.err
    assert result.json()["status"] == 202
    (got,) = received
    assert got["header"] == {"alg": "RS256", "typ": "secevent+jwt", "kid": "k1"}
    claims = got["claims"]
    assert "exp" not in claims and claims["jti"] == result.json()["jti"]
    assert claims["sub_id"]["tenant"] == {"format": "opaque", "id": "t1"}
    (body,) = claims["events"].values()
    assert body["reason_admin"] == {"en": "test"} and body["event_timestamp"] == claims["iat"]


def test_refusal_is_reported_with_rfc_error(cae, receiver, tmp_path):
    url, received = receiver
    other = write_key(tmp_path / "other.pem", rsa.generate_private_key(65537, 2048))
    result = cae(*send_args(url, other))
    assert result.code == 1
    assert "invalid_key" in result.out
    assert received == []


def test_dry_run_with_ec_key(cae, tmp_path):
    key = write_key(tmp_path / "ec.pem", ec.generate_private_key(ec.SECP256R1()))
    result = cae(*send_args("http://127.0.0.1:9/none", key, "--dry-run"), "--json")
    assert result.code == 0
    data = result.json()
    assert jwt.get_unverified_header(data["set"])["alg"] == "ES256"
    assert data["sent"] is False


def test_unreachable_receiver_exit_3(cae, rsa_key, tmp_path):
    key = write_key(tmp_path / "k.pem", rsa_key)
    result = cae(*send_args("http://127.0.0.1:9/events", key, "--timeout", "2"))
    assert result.code == 3
    assert "cannot reach" in result.err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--event", "nope"), "unknown event type"),
        (("--subject", "weird"), "FORMAT:VALUE"),
        (("--subject", '{"x": 1}'), "format"),
        (("--data", "[1]"), "JSON object"),
    ],
)
def test_bad_arguments_exit_2(cae, rsa_key, tmp_path, change, message):
    key = write_key(tmp_path / "k.pem", rsa_key)
    args = send_args("http://127.0.0.1:9/x", key, "--dry-run")
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args.extend(change)
    result = cae(*args)
    assert result.code == 2
    assert message in result.err


def test_bad_key_file(cae, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = cae(*send_args("http://127.0.0.1:9/x", bad, "--dry-run"))
    assert result.code == 2 and "no PEM private key" in result.err
    result = cae(*send_args("http://127.0.0.1:9/x", tmp_path / "missing.pem", "--dry-run"))
    assert result.code == 2 and "cannot read key file" in result.err


def test_set_builder_pure():
    claims = build_set_claims(
        issuer="i",
        audience="a",
        event_type=resolve_event_type("account-disabled"),
        subject=parse_subject("email:a@b"),
        jti="j",
        iat=5,
    )
    assert claims == {
        "iss": "i",
        "aud": "a",
        "iat": 5,
        "jti": "j",
        "sub_id": {"format": "email", "email": "a@b"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {}},
    }
    assert parse_subject("iss_sub:https://i|s") == {
        "format": "iss_sub",
        "iss": "https://i",
        "sub": "s",
    }
    assert json.loads(json.dumps(parse_subject('{"format":"opaque","id":"x"}')))["id"] == "x"


def tail_while_publishing(store_factory, tail_args: list[str]) -> list[dict]:
    """Seed one watermark, start ``cae events tail``, publish one event from another store
    instance once tail says it is following, and return the JSON lines tail printed."""
    import asyncio
    import subprocess
    import sys
    import time

    now = int(time.time())
    cae_script = Path(sys.executable).parent / "cae"

    async def write(subject_oid: str, at: int, wait_for=None) -> None:
        store = store_factory()
        await store.start()
        try:
            if wait_for is not None:
                started = await asyncio.to_thread(wait_for.stderr.readline)
                assert "following events" in started
            await store.revoke_user("t1", subject_oid, at=at, reason="sessions_revoked")
        finally:
            await store.close()

    asyncio.run(write("before", now))
    process = subprocess.Popen(
        [
            str(cae_script),
            "events",
            "tail",
            *tail_args,
            "--count",
            "1",
            "--seconds",
            "20",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        asyncio.run(write("o1", now + 1, wait_for=process))
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0] == {"type": "watermark", "subject": "user:t1:before", "not_before": now}
    assert lines[-1]["type"] == "revocation"
    assert lines[-1]["subject"] == "user:t1:o1" and lines[-1]["reason"] == "sessions_revoked"
    return lines


@pytest.mark.redis
def test_tail_follows_a_redis_store(redis_url):
    import asyncio
    import uuid

    from cae_sdk.events.redis import RedisEventStore

    prefix = f"cae-test-tail-{uuid.uuid4().hex[:8]}:"

    async def cleanup() -> None:
        import redis.asyncio as aioredis

        client = aioredis.from_url(redis_url)
        keys = [key async for key in client.scan_iter(f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()

    try:
        tail_while_publishing(
            lambda: RedisEventStore(redis_url, prefix=prefix),
            ["--redis-url", redis_url, "--prefix", prefix],
        )
    finally:
        asyncio.run(cleanup())


def test_tail_follows_a_sqlite_store(tmp_path):
    from cae_sdk.events._sqlite import SQLiteEventStore

    path = tmp_path / "events.db"
    tail_while_publishing(
        lambda: SQLiteEventStore(path, poll_interval=0.05), ["--sqlite", str(path)]
    )


def test_tail_without_the_redis_extra_names_it(cae, monkeypatch):
    from cae_sdk import _extras

    real_version = _extras.metadata.version

    def version(name: str) -> str:
        if name == "redis":
            raise _extras.metadata.PackageNotFoundError(name)  # as on a plain install
        return real_version(name)

    monkeypatch.setattr(_extras.metadata, "version", version)
    result = cae("events", "tail", "--redis-url", "redis://127.0.0.1:1/0", "--seconds", "0.1")
    assert result.code == 3
    assert result.err == (
        "cae: error: cae events tail --redis-url needs the 'redis' extra (missing: redis): "
        "pip install 'cae-sdk[redis]'\n"
    )


def test_tail_redis_unreachable_is_one_line_and_exit_3(cae):
    """Nothing listens on the port: not an empty table and exit 0, but one line and exit 3
    (and the URL's password is not echoed)."""
    from tests.events._redis_helpers import free_port

    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    result = cae("events", "tail", "--redis-url", url, "--timeout", "0.5", "--seconds", "5")
    assert result.code == 3
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("cae: error: cannot reach")
    assert "hunter2" not in result.err


def test_tail_stops_with_exit_3_when_redis_goes_away(cae):
    """A follower that lost its store would miss events silently: it says so and exits 3."""
    import shutil
    import threading

    from tests.events._redis_helpers import throwaway_redis

    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with throwaway_redis() as server:
        killer = threading.Timer(0.5, server.kill)
        killer.start()
        try:
            result = cae("events", "tail", "--redis-url", server.url, "--seconds", "20", "--json")
        finally:
            killer.cancel()
    assert result.code == 3, result.err
    assert "lost the event store" in result.err


def test_tail_missing_sqlite_database_is_not_created(cae, tmp_path):
    path = tmp_path / "events.db"
    result = cae("events", "tail", "--sqlite", str(path), "--seconds", "0.1")
    assert result.code == 3 and "no SQLite event store" in result.err
    assert not path.exists()


def test_send_to_the_real_push_receiver(cae, rsa_key, tmp_path):
    """``cae events send`` -> ``PushReceiverApp`` (JWKS-verified, mapped, applied to a store)."""
    import contextlib

    import httpx

    from cae_sdk.cli._demo.api import DeferredApp
    from cae_sdk.core.subjects import SubjectKey
    from cae_sdk.events import InMemoryEventStore
    from cae_sdk.events.ssf import (
        DirectorySubjectResolver,
        PushReceiverApp,
        SetDecoder,
        SetReceiver,
        SetValidationConfig,
        TransmitterKeys,
    )

    issuer = "https://transmitter.example"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    jwk.update({"kid": "k1", "alg": "RS256", "use": "sig"})
    store = InMemoryEventStore()
    keys_http = httpx.AsyncClient()
    push = DeferredApp()  # built once the port (and so the JWKS URL) is known

    async def configuration(request: Request) -> Response:
        return JSONResponse({"issuer": issuer, "jwks_uri": str(request.base_url) + "jwks"})

    async def jwks(request: Request) -> Response:
        return JSONResponse({"keys": [jwk]})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await keys_http.aclose()  # in the server's own event loop

    app = Starlette(
        routes=[
            Route("/.well-known/ssf-configuration", configuration),
            Route("/jwks", jwks),
            Route("/push", push, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    key = write_key(tmp_path / "k.pem", rsa_key)
    config = SetValidationConfig(issuer=issuer, audiences=("https://rp",))
    with serve(app) as server:
        keys = TransmitterKeys(
            issuer, http=keys_http, configuration_url=server.url + "/.well-known/ssf-configuration"
        )
        receiver = SetReceiver(
            SetDecoder(config, keys),
            store,
            DirectorySubjectResolver(),
            replay_window_seconds=config.replay_window_seconds,
        )
        push.app = PushReceiverApp(receiver, authorization="Bearer s3cret")
        argv = send_args(server.url + "/push", key)
        argv[argv.index("--issuer") + 1] = issuer
        accepted = cae(*argv, "--json")
        foreign = cae(*send_args(server.url + "/push", key))  # issuer https://tx
    assert accepted.code == 0, accepted.out + accepted.err
    assert accepted.json()["status"] == 202
    assert store.watermark(SubjectKey.user("t1", "o1")) is not None
    assert foreign.code == 1
    assert "invalid_issuer" in foreign.out
