"""Shared state of one running identity provider: settings, directory, keys, clock and URLs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._directory import Directory
from ._keys import KeyRing

__all__ = ["IdPContext", "IdPSettings"]

FEDERATION_PATH = "/federation"
GRAPH_PATH = "/graph"
SSF_PATH = "/ssf"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


@dataclass
class IdPSettings:
    """Knobs of the emulator. Lifetimes in seconds."""

    cp1_token_lifetime: int = 24 * 3600  # CAE-capable clients get long-lived tokens
    token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 24 * 3600
    key_overlap_seconds: int = 28 * 3600  # keep a retired key as long as its tokens can live
    device_code_auto_approve: bool = True
    device_code_interval: int = 1
    device_code_lifetime: int = 900
    imds_cp1: bool = True  # IMDS has no capability parameter: treat MI callers as CAE-capable
    imds_cache_tokens: bool = True  # hand back the cached token, as Azure's IMDS does
    block_high_risk_service_principals: bool = True
    admin_key: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    identity_header: str = field(default_factory=lambda: secrets.token_urlsafe(16), repr=False)
    ssf_push_retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
    ssf_allow_remote_push: bool = False  # push only to loopback receivers unless set


class IdPContext:
    """What the HTTP handlers share. ``base_url`` is known once the socket is bound."""

    def __init__(
        self,
        settings: IdPSettings,
        directory: Directory,
        default_tenant_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.default_tenant_id = default_tenant_id
        self.clock = clock
        self.keys = KeyRing()
        self.federation_keys = KeyRing()
        self.base_url = ""
        self.imds_base_url = ""
        self.extensions: dict[str, Any] = {}  # device codes, transmitter, ... by module

    def now(self) -> float:
        return self.clock()

    def token_endpoint(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/token"

    def issuer_v2(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/v2.0"

    def issuer_v1(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/"

    @property
    def federation_issuer(self) -> str:
        return self.base_url + FEDERATION_PATH

    @property
    def graph_base_url(self) -> str:
        return self.base_url + GRAPH_PATH

    @property
    def ssf_issuer(self) -> str:
        return self.base_url + SSF_PATH
