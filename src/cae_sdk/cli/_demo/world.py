"""Everything the demo runs, started and stopped in one place.

The dev identity provider (HTTPS on loopback), the protected FastAPI API with the SSF push
receiver (uvicorn on 127.0.0.1), the Shared Signals stream between them, and three SDK clients.
Each part is optional: when one cannot be built, :attr:`DemoWorld.missing` says why and the
steps that need it report themselves unavailable instead of failing.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..._extras import MissingExtra
from ...core.locations import NamedLocation
from ...core.subjects import SubjectKey
from ...events._memory import InMemoryEventStore
from .._output import CLIError, ExitCode
from .api import PUSH_PATH, STEP_UP_PREFIX, DeferredApp, build_api
from .servers import BackgroundServer, serve
from .signals import ca_context, connect_push_stream

__all__ = ["DemoWorld", "ReceivedSet", "open_world"]

OFFICE = "127.0.0.1/32"
ELSEWHERE = "127.0.0.2"
STEP_UP_CONTEXT = "c1"


@dataclass(frozen=True, slots=True)
class ReceivedSet:
    """A SET the API's push receiver accepted, when (``perf_counter``) and what it changed."""

    at: float
    event_type: str
    changed: int
    duplicate: bool


@dataclass
class DemoWorld:
    idp: Any
    api_url: str
    store: InMemoryEventStore
    clients: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    scopes: dict[str, list[str]] = field(default_factory=dict)
    decisions: list[Any] = field(default_factory=list)
    received: list[ReceivedSet] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)
    """Part name (``ssf``, ``workload``, ``managed``, ``user``) -> why it is unavailable."""
    prompts: list[str] = field(default_factory=list)
    responses: dict[str, list[tuple[float, httpx.Response]]] = field(default_factory=dict)
    """Every response each client saw, challenges included (httpx response event hook)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def tenant_id(self) -> str:
        return str(self.idp.tenant_id)

    def user_key(self) -> SubjectKey:
        return SubjectKey.user(self.tenant_id, self.idp.seed.user.object_id)

    def workload_key(self) -> SubjectKey:
        return SubjectKey.service_principal(self.tenant_id, self.idp.seed.cert_app.client_id)

    def wait_for_watermark(self, subject: SubjectKey, after: int, timeout: float) -> float | None:
        """Poll the API's store until ``subject`` has a watermark >= ``after``; returns the
        ``perf_counter()`` instant it was seen, or None on timeout."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            watermark = self.store.watermark(subject)
            if watermark is not None and watermark >= after:
                return time.perf_counter()
            time.sleep(0.002)
        return None

    def close_clients(self) -> None:
        for client in self.clients.values():
            client.close()

    def response_recorder(self, name: str) -> Callable[[httpx.Response], None]:
        """An httpx response hook keeping (``perf_counter()``, response) for client ``name``."""
        seen = self.responses.setdefault(name, [])

        def record(response: httpx.Response) -> None:
            seen.append((time.perf_counter(), response))

        return record

    def record_set(self, result: Any) -> None:
        with self._lock:
            self.received.append(
                ReceivedSet(
                    time.perf_counter(),
                    result.event.event_type,
                    int(result.changed),
                    bool(result.duplicate),
                )
            )


def _build_middleware_app(world_parts: dict[str, Any], idp: Any, push: DeferredApp) -> Any:
    from ...resource import CAEMiddleware, LocationMode, TokenValidator

    api = build_api(push)
    validator_http = httpx.AsyncClient(verify=ca_context(idp.ca_bundle), timeout=5.0)
    world_parts["closers"].append(validator_http.aclose)
    validator = TokenValidator.entra(
        app_id=idp.seed.api.app_id,
        tenant_id=idp.tenant_id,
        authority_host=idp.base_url,
        http_client=validator_http,
    )
    store: InMemoryEventStore = world_parts["store"]
    decisions: list[Any] = world_parts["decisions"]
    app = CAEMiddleware(
        api,
        validator=validator,
        store=store,
        on_decision=[decisions.append],
        exclude_paths=["/health", PUSH_PATH],
        authorization_uri=f"{idp.base_url}/{{tenantid}}/oauth2/v2.0/authorize",
        location_mode=LocationMode.STRICT,
        named_locations=[
            NamedLocation.from_cidrs("demo-office", "Demo office", [OFFICE], trusted=True)
        ],
        auth_contexts={STEP_UP_PREFIX: STEP_UP_CONTEXT},
    )
    return _with_shutdown(app, world_parts["closers"])


def _with_shutdown(app: Any, closers: list[Callable[[], Any]]) -> Any:
    """Close the API loop's async clients on the server's lifespan shutdown."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for close in closers:
                    with contextlib.suppress(Exception):
                        await close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return wrapped


def _client(
    world: DemoWorld, credential_name: str, name: str, *, local_address: str | None = None
) -> Any:
    from ...client import CAEClient

    options: dict[str, Any] = {}
    if local_address is not None:
        options["transport"] = httpx.HTTPTransport(local_address=local_address)
    return CAEClient(
        world.credentials[credential_name],
        world.scopes[credential_name],
        base_url=world.api_url,
        event_hooks={"response": [world.response_recorder(name)]},
        **options,
    )


def _build_clients(world: DemoWorld) -> None:
    from ...client import (
        ConfidentialClientCredential,
        ManagedIdentityCredential,
        PublicClientCredential,
    )

    idp = world.idp
    seed = idp.seed
    common = {"authority": idp.authority, "ca_bundle": idp.ca_bundle, "instance_discovery": False}
    default_scope = [seed.api.default_scope]
    user_scope = [f"{seed.api.audience}/{seed.api.scopes[0]}"]

    def attempt(name: str, build: Callable[[], Any], scopes: list[str]) -> None:
        try:
            world.credentials[name] = build()
        except Exception as exc:  # noqa: BLE001 - reported as an unavailable part
            world.missing[name] = f"{type(exc).__name__}: {exc}"
            return
        world.scopes[name] = scopes
        world.clients[name] = _client(world, name, name)
        if name == "workload":
            # The same workload, calling from another source address (outside the location).
            world.clients["workload@elsewhere"] = _client(
                world, "workload", "workload@elsewhere", local_address=ELSEWHERE
            )

    attempt(
        "workload",
        lambda: ConfidentialClientCredential(
            idp.tenant_id,
            seed.cert_app.client_id,
            certificate=seed.cert_app.certificate_path,
            **common,
        ),
        default_scope,
    )
    attempt(
        "managed",
        lambda: ManagedIdentityCredential(client_id=seed.managed_identity.client_id),
        default_scope,
    )

    def user() -> Any:
        credential: Any = None

        def sign_in_again(claims: str) -> Any:
            # The demo user "completes" the device code sign-in at once: the dev identity
            # provider approves it automatically, with MFA because the user has it registered.
            return credential.sign_in_with_device_code(user_scope, claims)

        credential = PublicClientCredential(
            seed.public_app.client_id,
            tenant_id=idp.tenant_id,
            prompt_callback=world.prompts.append,
            interaction_handler=sign_in_again,
            **common,
        )
        return credential

    attempt("user", user, user_scope)


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, remove) environment variables and restore them afterwards: MSAL's
    managed identity finds its endpoint through them."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def open_world() -> Iterator[DemoWorld]:
    """Start the identity provider, the API and the clients; stop all of them on exit."""
    from ...devidp import DevIdentityProvider  # MissingExtra (exit 3) without the extra

    with contextlib.ExitStack() as stack:
        try:
            idp = stack.enter_context(DevIdentityProvider())
        except Exception as exc:  # noqa: BLE001 - the one part nothing can run without
            raise CLIError(
                f"the dev identity provider did not start: {exc}", ExitCode.UNAVAILABLE
            ) from None
        # MSAL picks the managed identity source from the environment: IMDS at the dev
        # identity provider, and no App Service / Cloud Shell variables that would win over it.
        managed_env: dict[str, str | None] = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": idp.imds_url}
        for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
            managed_env[name] = None
        stack.enter_context(_environment(managed_env))
        parts: dict[str, Any] = {"store": InMemoryEventStore(), "decisions": [], "closers": []}
        push = DeferredApp()
        try:
            app = _build_middleware_app(parts, idp, push)
        except MissingExtra:
            raise
        except Exception as exc:  # noqa: BLE001
            raise CLIError(
                f"the protected API cannot be built: {exc}", ExitCode.UNAVAILABLE
            ) from None
        server: BackgroundServer = stack.enter_context(serve(app))
        world = DemoWorld(idp, server.url, parts["store"], decisions=parts["decisions"])
        try:
            connect_push_stream(
                idp, world.api_url + PUSH_PATH, world.store, push, parts["closers"], world
            )
        except Exception as exc:  # noqa: BLE001 - steps 2 and 3 report it
            world.missing["ssf"] = f"{type(exc).__name__}: {exc}"
        _build_clients(world)
        stack.callback(world.close_clients)
        yield world
