"""Helpers for the dev identity provider tests: MSAL apps wired to the running provider and a
verifier that checks tokens against the advertised JWKS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jwt
import msal
import pytest
import requests

from cae_sdk.devidp import DevIdentityProvider, msal_confidential_app


@pytest.fixture
def http(cae_idp: DevIdentityProvider) -> Iterator[requests.Session]:
    session = cae_idp.http_session()
    yield session
    session.close()


def verify_token(
    idp: DevIdentityProvider, token: str, audience: str, issuer: str | None = None
) -> dict[str, Any]:
    """Verify signature, issuer and audience with the keys the provider publishes."""
    session = idp.http_session()
    try:
        config = session.get(idp.openid_configuration_url).json()
        jwks = session.get(config["jwks_uri"]).json()
    finally:
        session.close()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    return jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=audience,
        issuer=issuer or config["issuer"],
    )


def confidential_app(
    idp: DevIdentityProvider, http: requests.Session, client_id: str, credential: Any
) -> msal.ConfidentialClientApplication:
    return msal_confidential_app(idp, http=http, client_id=client_id, client_credential=credential)


def nbf_claims(value: int) -> str:
    return json.dumps({"access_token": {"nbf": {"essential": True, "value": str(value)}}})
