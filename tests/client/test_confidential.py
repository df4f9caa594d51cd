"""ConfidentialClientCredential over real MSAL, with the token endpoint mocked by respx."""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from cae_sdk import CP1, ConfidentialClientCredential, merge_claims
from cae_sdk.core.remediation import RemediationKind
from cae_sdk.errors import (
    ClaimsChallengeUnresolvable,
    ConfigurationError,
    TokenAcquisitionError,
)

from .fakes import AUTHORITY, AUTHORITY_HOST, SCOPE, TENANT, TOKEN_URL, FakeIdentityProvider

SERVER_XMS_CC = {
    "access_token": {
        "xms_cc": {"values": ["cp2"], "essential": True},
        "nbf": {"essential": True, "value": "1700000000"},
    }
}


@pytest.fixture
def idp() -> Iterator[FakeIdentityProvider]:
    with respx.mock(assert_all_called=False) as router:
        yield FakeIdentityProvider(router)


def secret_credential(**kwargs: object) -> ConfidentialClientCredential:
    return ConfidentialClientCredential(
        TENANT, "app-id", client_secret="s3cret", authority_host=AUTHORITY_HOST, **kwargs
    )


def test_plain_request_announces_cp1_and_uses_cache(idp: FakeIdentityProvider) -> None:
    credential = secret_credential()
    first = credential.get_token([SCOPE])
    second = credential.get_token([SCOPE])
    assert first.token == second.token == "token-1"
    assert idp.count == 1  # the second came from MSAL's cache
    assert idp.claims_sent() == json.loads(CP1)
    assert idp.requests[0]["client_secret"] == "s3cret"
    assert idp.requests[0]["scope"] == SCOPE


def test_claims_bypass_cache_and_keep_every_server_member(idp: FakeIdentityProvider) -> None:
    credential = secret_credential()
    credential.get_token([SCOPE])
    token = credential.get_token(
        [SCOPE], claims=json.dumps(SERVER_XMS_CC), challenged_token="token-1"
    )
    assert token.token == "token-2"
    assert idp.count == 2  # bypassed the cached token-1
    sent = idp.claims_sent()
    assert sent is not None
    # MSAL alone would overwrite xms_cc with {"values": ["cp1"]}, dropping cp2 and essential.
    assert sent["access_token"]["xms_cc"] == {"values": ["cp1", "cp2"], "essential": True}
    assert sent["access_token"]["nbf"] == {"essential": True, "value": "1700000000"}
    assert sent == json.loads(merge_claims(CP1, SERVER_XMS_CC))
    # The claims token landed in the shared cache: the next plain request uses it.
    assert credential.get_token([SCOPE]).token == "token-2"
    assert idp.count == 2


def test_same_token_after_challenge_is_unresolvable(idp: FakeIdentityProvider) -> None:
    credential = secret_credential()
    with pytest.raises(ClaimsChallengeUnresolvable):
        credential.get_token([SCOPE], claims=json.dumps(SERVER_XMS_CC), challenged_token="token-1")


def test_refresh_in_becomes_refresh_on(idp: FakeIdentityProvider) -> None:
    idp.expires_in, idp.refresh_in = 7200, 1800
    before = time.time()
    credential = secret_credential()
    token = credential.get_token([SCOPE])
    cached = credential.get_token([SCOPE])  # a cache hit carries MSAL's stored refresh_on
    assert abs(cached.refresh_on - token.refresh_on) <= 1
    # MSAL turns refresh_in into an absolute refresh_on (msal/application.py, _clean_up).
    assert before + 1800 - 1 <= token.refresh_on <= time.time() + 1800
    assert before + 7200 - 1 <= token.expires_on <= time.time() + 7200
    assert idp.count == 1


@pytest.mark.parametrize(
    ("code", "kind", "needle"),
    [
        (7000112, RemediationKind.ADMIN, "administrator"),
        (7000215, RemediationKind.CONFIGURATION, "secret"),
        (53003, RemediationKind.IT, "Contact IT"),
    ],
)
def test_refusals_map_to_remediation(
    idp: FakeIdentityProvider, code: int, kind: RemediationKind, needle: str
) -> None:
    idp.errors.append(
        {
            "error": "unauthorized_client",
            "error_description": f"AADSTS{code}: refused.\r\nTrace ID: x",
            "error_codes": [code],
            "correlation_id": "corr-1",
        }
    )
    with pytest.raises(TokenAcquisitionError) as caught:
        secret_credential().get_token([SCOPE])
    error = caught.value
    assert error.error_codes == (code,)
    assert error.correlation_id == "corr-1"
    assert error.remediation.kind is kind
    assert needle in str(error)
    assert "s3cret" not in str(error)


def test_network_failure_is_a_typed_error() -> None:
    with respx.mock(assert_all_called=False) as router:
        FakeIdentityProvider(router)
        import httpx

        router.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(TokenAcquisitionError) as caught:
            secret_credential().get_token([SCOPE])
    assert caught.value.error == "network_error"
    assert caught.value.remediation.kind is RemediationKind.RETRY


def _self_signed(tmp_path: Path, password: bytes | None = None) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cae-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ) + cert.public_bytes(serialization.Encoding.PEM)
    path = tmp_path / "cert.pem"
    path.write_bytes(pem)
    return path, cert.fingerprint(hashes.SHA1()).hex()


@pytest.mark.parametrize("password", [None, b"pw"])
def test_certificate_signs_a_client_assertion(
    idp: FakeIdentityProvider, tmp_path: Path, password: bytes | None
) -> None:
    path, thumbprint = _self_signed(tmp_path, password)
    credential = ConfidentialClientCredential(
        TENANT,
        "cert-app",
        certificate=path,
        certificate_password=password,
        send_certificate_chain=True,
        authority_host=AUTHORITY_HOST,
    )
    credential.get_token([SCOPE])
    form = idp.requests[0]
    assert "client_secret" not in form
    assertion = form["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    assert header["x5t"].rstrip("=") == _b64url_hex(thumbprint)
    assert "x5c" in header
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["iss"] == claims["sub"] == "cert-app"
    assert claims["aud"] == TOKEN_URL


def _b64url_hex(hex_digest: str) -> str:
    import base64

    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).decode().rstrip("=")


def test_certificate_from_bytes_and_bad_certificate(tmp_path: Path) -> None:
    path, _ = _self_signed(tmp_path)
    ConfidentialClientCredential(TENANT, "a", certificate=path.read_bytes(), authority=AUTHORITY)
    with pytest.raises(ConfigurationError):
        ConfidentialClientCredential(TENANT, "a", certificate=b"-----BEGIN nonsense")
    with pytest.raises(ConfigurationError):
        ConfidentialClientCredential(TENANT, "a", certificate=tmp_path / "missing.pem")
    path2, _ = _self_signed(tmp_path, b"right")
    with pytest.raises(ConfigurationError):
        ConfidentialClientCredential(TENANT, "a", certificate=path2, certificate_password="wrong")


def test_client_assertion_callable_is_called_per_request(idp: FakeIdentityProvider) -> None:
    assertions = iter(["assertion-1", "assertion-2"])
    credential = ConfidentialClientCredential(
        TENANT, "fic-app", client_assertion=lambda: next(assertions), authority_host=AUTHORITY_HOST
    )
    credential.get_token([SCOPE])
    credential.get_token([SCOPE], claims=json.dumps(SERVER_XMS_CC))
    assert [r["client_assertion"] for r in idp.requests] == ["assertion-1", "assertion-2"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"client_secret": "a", "client_assertion": lambda: "x"},
        {"client_secret": "a", "authority_host": "http://insecure.test"},
    ],
)
def test_configuration_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        ConfidentialClientCredential(TENANT, "app", **kwargs)  # type: ignore[arg-type]


def test_empty_scopes_rejected(idp: FakeIdentityProvider) -> None:
    with pytest.raises(ConfigurationError):
        secret_credential().get_token([])


def test_instance_discovery_defaults() -> None:
    from cae_sdk.client._credentials._options import TransportOptions

    assert TransportOptions({}).instance_discovery is True
    assert (
        TransportOptions({"authority_host": "https://127.0.0.1:8443"}).instance_discovery is False
    )
    assert TransportOptions(
        {"authority_host": "login.test", "instance_discovery": True}
    ).instance_discovery
    # The host MSAL talks to decides: an explicit authority wins over the default host.
    local = TransportOptions({"authority": "https://127.0.0.1:8443/tenant"})
    assert local.instance_discovery is False
    assert TransportOptions(
        {"authority": "https://login.microsoftonline.com/tenant"}
    ).instance_discovery
    with pytest.raises(ConfigurationError):
        TransportOptions({"authority": "http://127.0.0.1:8443/tenant"})
    options = TransportOptions(
        {"ca_bundle": "/tmp/ca.pem", "proxy": "http://proxy:3128", "timeout": 5}
    )
    assert options.settings.verify == "/tmp/ca.pem"
    assert options.settings.proxy == "http://proxy:3128"


def test_refusal_is_not_replayed_from_msal_cache_after_a_new_challenge(
    idp: FakeIdentityProvider,
) -> None:
    """MSAL remembers an HTTP 400 for 60 s per identical request; once an administrator fixes
    the cause, the next claims challenge must reach the identity provider again."""
    nbf = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    refusal = {"error": "unauthorized_client", "error_codes": [7000112]}
    credential = secret_credential()
    idp.errors.append(refusal)
    with pytest.raises(TokenAcquisitionError):
        credential.get_token([SCOPE], claims=nbf)
    sent = idp.count
    # Without a claims challenge MSAL's own protection stays in place for the identical request.
    idp.errors.append(refusal)
    with pytest.raises(TokenAcquisitionError):
        credential.get_token([SCOPE])
    with pytest.raises(TokenAcquisitionError):
        credential.get_token([SCOPE])
    assert idp.count == sent + 1
    # The administrator re-enabled the principal: the next challenged acquisition goes out.
    token = credential.get_token([SCOPE], claims=nbf)
    assert idp.count == sent + 2 and token.token.startswith("token-")
