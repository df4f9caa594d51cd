"""Throwaway redis-servers on free ports (never the shared Redis): plain, TLS, a primary with a
replica and a Sentinel; a TCP proxy that can freeze a link; polling helpers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayRedis:
    """``redis-server`` without persistence in a temp dir; can be killed and restarted.
    ``extra`` are more configuration arguments (``--tls-port``, ``--replicaof``, ``--user``)."""

    def __init__(self, *extra: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="cae-redis-")
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arguments(self) -> list[str]:
        return [
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", self.dir, *self.extra,
        ]  # fmt: skip

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [binary, *self.arguments()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"throwaway server on {port} did not start")


@contextlib.contextmanager
def throwaway_redis(*extra: str) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(*extra)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.01)
    return check()


class FreezableProxy:
    """A TCP proxy between a client and a server that can be frozen: it then forwards nothing
    and closes nothing (a silent partition, a stuck NAT entry). Thawed, it forwards what it
    held. Threads, so it does not depend on the event loop of the code under test."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self._forwarding = threading.Event()
        self._forwarding.set()
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def freeze(self) -> None:
        self._forwarding.clear()

    def thaw(self) -> None:
        self._forwarding.set()

    def close(self) -> None:
        self._stopped.set()
        self._forwarding.set()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(2)

    def _wait_forwarding(self) -> bool:
        while not self._forwarding.wait(0.1):
            if self._stopped.is_set():
                return False
        return not self._stopped.is_set()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._sockets.append(client)
            self._spawn(self._connect, client)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _connect(self, client: socket.socket) -> None:
        if not self._wait_forwarding():
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), 2)
        except OSError:
            client.close()
            return
        self._sockets.append(upstream)
        self._spawn(self._pump, client, upstream)
        self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not self._wait_forwarding():
                return
            try:
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                sink.sendall(data)
            except OSError:
                return


@contextlib.contextmanager
def freezable_proxy(target_port: int) -> Iterator[FreezableProxy]:
    proxy = FreezableProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()


def count_reloads(store: Any) -> list[int]:
    """Record every full-state reload of a ``RedisEventStore`` (one item per reload)."""
    reloads: list[int] = []
    load_snapshot = store._follower.load_snapshot

    async def counted() -> None:
        reloads.append(1)
        await load_snapshot()

    store._follower.load_snapshot = counted
    return reloads
