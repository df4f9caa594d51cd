"""``cae events send`` (sign a SET and push it, RFC 8935) and ``cae events tail`` (follow a
shared event store: Redis or SQLite)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import ssl
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from .._extras import require_extra
from ..core._urls import loggable_url
from ..core.errors import ConfigurationError
from ..core.secevents import SECEVENT_CONTENT_TYPE
from ..events._model import Event, event_to_dict
from ..events._store import EventStore
from ._commands import add_command
from ._output import CLIError, ExitCode, Output, Table
from ._set_builder import build_set_claims, load_signing_key, parse_subject, resolve_event_type
from ._set_builder import sign_set as sign

__all__ = ["register"]


def register(commands: Any) -> None:
    parser = commands.add_parser("events", help="send Security Event Tokens, follow event stores")
    actions = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    send = add_command(
        actions,
        "send",
        help="sign a SET and push it to a receiver (RFC 8935)",
        description=(
            "Build a Security Event Token with one CAEP/RISC/SSF event, sign it with a PEM "
            "private key (RS256 or ES256) and POST it to a push receiver as "
            "application/secevent+jwt. Exit 0 on 202 Accepted, 1 when the receiver refuses it."
        ),
    )
    send.add_argument("url", help="the receiver's push endpoint URL")
    send.add_argument("--key", required=True, type=Path, help="PEM private key file")
    send.add_argument("--kid", help="key id for the JOSE header (as published in the JWKS)")
    send.add_argument("--issuer", required=True, help="iss: the transmitter's issuer")
    send.add_argument("--audience", required=True, help="aud: the receiver's audience")
    send.add_argument(
        "--event", required=True, help="event type: a URI or a short name (session-revoked...)"
    )
    send.add_argument(
        "--subject",
        required=True,
        help="sub_id as JSON, or email:ADDR, opaque:ID, iss_sub:ISS|SUB, tenant-user:TID|OID",
    )
    send.add_argument("--data", default="{}", help="event members as a JSON object")
    send.add_argument("--authorization", help="Authorization header value, e.g. 'Bearer ...'")
    send.add_argument("--cacert", type=Path, help="CA bundle to verify the receiver's TLS")
    send.add_argument("--timeout", type=float, default=10.0, help="seconds (default 10)")
    send.add_argument("--dry-run", action="store_true", help="print the SET, do not send it")
    send.set_defaults(handler=run_send)

    tail = add_command(
        actions,
        "tail",
        help="follow the events applied to a Redis or SQLite event store",
        description=(
            "Print the live watermarks of a shared event store, then every event applied to it "
            "(by any replica) as it happens. Stop with Ctrl-C, --count or --seconds. "
            "With --json, one JSON object per line."
        ),
    )
    where = tail.add_mutually_exclusive_group(required=True)
    where.add_argument("--redis-url", help="redis://host:port/db of a RedisEventStore")
    where.add_argument("--sqlite", type=Path, help="path of a SQLite event store database")
    tail.add_argument("--prefix", help="key prefix of the Redis store (its default otherwise)")
    tail.add_argument("--count", type=int, help="stop after this many events")
    tail.add_argument("--seconds", type=float, help="stop after this many seconds")
    tail.add_argument("--no-snapshot", action="store_true", help="skip the current watermarks")
    tail.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="seconds to wait for the store at start (default 5); unreachable: exit 3",
    )
    tail.set_defaults(handler=run_tail)


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{what} must be a JSON object")
    return value


def run_send(args: argparse.Namespace, out: Output) -> int:
    try:
        key = load_signing_key(args.key.read_bytes())
    except OSError as exc:
        raise CLIError(f"cannot read key file {args.key}: {exc.strerror}") from None
    event_type = resolve_event_type(args.event)
    claims = build_set_claims(
        issuer=args.issuer,
        audience=args.audience,
        event_type=event_type,
        subject=parse_subject(args.subject),
        jti=uuid.uuid4().hex,
        iat=int(time.time()),
        event=_json_object(args.data, "--data"),
    )
    token = sign(claims, key, kid=args.kid)
    if args.dry_run:
        if out.json_mode:
            out.json({"sent": False, "set": token, "claims": claims})
        else:
            out.key_values("SET (not sent)", [("jti", claims["jti"]), ("event", event_type)])
            out.line(token)
        return ExitCode.OK
    status, body = _push(args, token)
    accepted = status == 202
    result = {"sent": True, "accepted": accepted, "status": status, "jti": claims["jti"], **body}
    if out.json_mode:
        out.json(result)
    else:
        table = Table("SET delivery (RFC 8935)", ("jti", "event", "status", "receiver said"))
        said = "accepted" if accepted else f"{body.get('err', '-')}: {body.get('description', '')}"
        table.add(claims["jti"], event_type, status, said)
        out.table(table)
    return ExitCode.OK if accepted else ExitCode.FINDINGS


def _push(args: argparse.Namespace, token: str) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": SECEVENT_CONTENT_TYPE, "Accept": "application/json"}
    if args.authorization:
        headers["Authorization"] = args.authorization
    verify: Any = True
    if args.cacert:
        try:
            verify = ssl.create_default_context(cafile=str(args.cacert))
        except (OSError, ssl.SSLError) as exc:
            raise CLIError(f"cannot use CA bundle {args.cacert}: {exc}") from None
    try:
        response = httpx.post(
            args.url, content=token, headers=headers, timeout=args.timeout, verify=verify
        )
    except httpx.InvalidURL as exc:
        raise CLIError(f"bad receiver URL: {exc}") from None
    except (httpx.HTTPError, OSError) as exc:
        raise CLIError(f"cannot reach {args.url}: {exc}", ExitCode.UNAVAILABLE) from None
    body: dict[str, Any] = {}
    if response.status_code != 202 and response.content:
        try:
            parsed = response.json()
        except ValueError:
            parsed = None
        # RFC 8935 section 2.4: {"err": code, "description": text}
        if isinstance(parsed, dict):
            body = {k: parsed[k] for k in ("err", "description") if k in parsed}
        else:
            body = {"description": response.text[:200]}
    return response.status_code, body


# The shared stores are built by other parts of the project (Redis needs an optional extra), so
# they are looked up at run time: module, class, and how to construct it from the arguments.
def _open_store(args: argparse.Namespace) -> tuple[EventStore, str]:
    """The store to follow and where it is (for messages: no password, no query)."""
    if args.redis_url:
        require_extra("redis", "cae events tail --redis-url")
        module, name = "cae_sdk.events.redis", "RedisEventStore"
        positional: tuple[Any, ...] = (args.redis_url,)
        options: dict[str, Any] = {"startup_timeout": args.timeout}
        if args.prefix:
            options["prefix"] = args.prefix
        where = loggable_url(args.redis_url)
    else:
        if not args.sqlite.is_file():  # never create an empty database by following it
            raise CLIError(f"no SQLite event store at {args.sqlite}", ExitCode.UNAVAILABLE)
        module, name = "cae_sdk.events._sqlite", "SQLiteEventStore"
        positional, options = (str(args.sqlite),), {}
        where = str(args.sqlite)
    store_class = getattr(importlib.import_module(module), name)
    try:
        store: EventStore = store_class(*positional, **options)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"cannot configure {name}: {exc}") from None
    return store, where


def _event_line(event: Event) -> dict[str, Any]:
    return {"received_at": time.time(), **event_to_dict(event)}


def run_tail(args: argparse.Namespace, out: Output) -> int:
    if args.timeout <= 0:
        raise CLIError("--timeout must be positive")
    store, where = _open_store(args)
    return asyncio.run(_tail(store, where, args, out))


# How often a follower looks at the store's health while it waits for events.
_HEALTH_CHECK_SECONDS = 0.25


async def _tail(store: EventStore, where: str, args: argparse.Namespace, out: Output) -> int:
    queue: asyncio.Queue[Event] = asyncio.Queue()
    try:
        await store.start()
    except Exception as exc:  # noqa: BLE001 - any backend failure is reported as one line
        with contextlib.suppress(Exception):
            await store.close()
        raise CLIError(
            f"cannot open the event store {where}: {exc}", ExitCode.UNAVAILABLE
        ) from None
    unsubscribe = store.subscribe(queue.put_nowait)
    try:
        # A store that started unhealthy has no state to show and would show no events: saying
        # so is the only honest answer (an empty table would read as "no revocations").
        if not store.healthy:
            raise CLIError(
                f"cannot reach the event store {where} (waited {args.timeout:g} s)",
                ExitCode.UNAVAILABLE,
            )
        if not args.no_snapshot:
            _print_snapshot(store, out)
        # On stderr, so that --json output stays one object per line; scripts wait for it.
        out.errors.write("cae: following events (Ctrl-C to stop)\n")
        out.errors.flush()
        seen = 0
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        while args.count is None or seen < args.count:
            wait = _HEALTH_CHECK_SECONDS
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    break
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except asyncio.TimeoutError:
                if not store.healthy:  # events applied meanwhile would be missed silently
                    raise CLIError(
                        f"lost the event store {where}; stopped following",
                        ExitCode.UNAVAILABLE,
                    ) from None
                continue
            seen += 1
            _print_event(event, out)
    finally:
        unsubscribe()
        with contextlib.suppress(Exception):
            await store.close()
    return ExitCode.OK


def _print_snapshot(store: EventStore, out: Output) -> None:
    watermarks = sorted(store.watermarks().items(), key=lambda item: item[1])
    if out.json_mode:
        for subject, not_before in watermarks:
            line = {"type": "watermark", "subject": str(subject), "not_before": not_before}
            out.stream.write(json.dumps(line) + "\n")
        out.stream.flush()
        return
    table = Table("Live watermarks", ("subject", "not before"))
    for subject, not_before in watermarks:
        table.add(str(subject), time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(not_before)))
    out.table(table)


def _print_event(event: Event, out: Output) -> None:
    data = _event_line(event)
    if out.json_mode:
        out.stream.write(json.dumps(data, default=str) + "\n")
        out.stream.flush()
        return
    when = time.strftime("%H:%M:%S", time.gmtime(data["received_at"]))
    detail = {k: v for k, v in data.items() if k not in ("received_at", "type")}
    out.line(f"{when} {data['type']:<10} {json.dumps(detail, default=str)}")
