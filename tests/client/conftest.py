"""Fixtures for the client tests against real faulty servers (see ``faulty_servers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cae_sdk import ConfidentialClientCredential
from cae_sdk.devidp._tls import ServerTLS

from .faulty_servers import CLIENT_SECRET, TENANT, ChallengingApi, FaultyIdP, server_tls


@pytest.fixture(scope="session")
def idp_tls() -> Iterator[ServerTLS]:
    with server_tls() as tls:
        yield tls


@pytest.fixture
def faulty_idp(idp_tls: ServerTLS) -> Iterator[FaultyIdP]:
    idp = FaultyIdP(idp_tls)
    yield idp
    idp.close()


@pytest.fixture
def credential_for(
    faulty_idp: FaultyIdP,
) -> Iterator[Callable[..., ConfidentialClientCredential]]:
    """Build secret credentials against the faulty IdP; every one is closed after the test."""
    built: list[ConfidentialClientCredential] = []

    def build(**options: Any) -> ConfidentialClientCredential:
        options.setdefault("timeout", 2.0)
        credential = ConfidentialClientCredential(
            TENANT,
            "faulty-app",
            client_secret=CLIENT_SECRET,
            authority=faulty_idp.authority,
            ca_bundle=faulty_idp.tls.ca_path,
            **options,
        )
        built.append(credential)
        return credential

    yield build
    for credential in built:
        credential.close()


@pytest.fixture
def api_for() -> Iterator[Callable[..., ChallengingApi]]:
    started: list[ChallengingApi] = []

    def start(decide: Callable[[str, dict[str, Any] | None], Any]) -> ChallengingApi:
        api = ChallengingApi(decide)
        started.append(api)
        return api

    yield start
    for api in started:
        api.close()
