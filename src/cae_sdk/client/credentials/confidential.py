"""App-only tokens for a confidential client: secret, certificate or client assertion."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ...core.errors import ConfigurationError
from ._base import Clock, CredentialBase, MsalAppPair, TransportOptions

__all__ = ["ConfidentialClientCredential"]


class ConfidentialClientCredential(CredentialBase):
    """Client credentials grant (RFC 6749 section 4.4) via ``msal.ConfidentialClientApplication``.

    Exactly one of ``client_secret``, ``certificate`` (PEM path or bytes holding the private
    key and its certificate; ``certificate_password`` if the key is encrypted;
    ``send_certificate_chain`` for subject name / issuer authentication) or
    ``client_assertion`` (a callable returning a signed JWT, called for every token request)
    must be given.
    """

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        *,
        client_secret: str | None = None,
        certificate: str | bytes | Path | None = None,
        certificate_password: str | bytes | None = None,
        send_certificate_chain: bool = False,
        client_assertion: Callable[[], str] | None = None,
        authority: str | None = None,
        authority_host: str | None = None,
        verify: Any = True,
        ca_bundle: str | None = None,
        proxy: str | None = None,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
        instance_discovery: bool | None = None,
        token_cache: msal.TokenCache | None = None,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(clock=clock)
        given = [x is not None for x in (client_secret, certificate, client_assertion)]
        if sum(given) != 1:
            raise ConfigurationError(
                "give exactly one of client_secret, certificate or client_assertion"
            )
        if not client_id:
            raise ConfigurationError("client_id is required")
        if client_secret is not None:
            credential: Any = client_secret
        elif certificate is not None:
            credential = _certificate_credential(
                certificate, certificate_password, send_certificate_chain
            )
        else:
            credential = {"client_assertion": client_assertion}
        options = TransportOptions(
            authority_host=authority_host,
            verify=verify,
            ca_bundle=ca_bundle,
            proxy=proxy,
            timeout=timeout,
            http_client=http_client,
            instance_discovery=instance_discovery,
        )
        self.client_id = client_id
        self.authority = options.authority_for(tenant_id, authority)
        cache = token_cache if token_cache is not None else msal.TokenCache()
        msal_http = options.msal_http_client()
        http_cache: dict[str, Any] = {}

        def build(capabilities: list[str] | None) -> Any:
            return msal.ConfidentialClientApplication(
                client_id,
                client_credential=credential,
                authority=self.authority,
                client_capabilities=capabilities,
                token_cache=cache,
                http_client=msal_http,
                http_cache=http_cache,
                instance_discovery=options.instance_discovery,
            )

        self._apps = MsalAppPair(build)

    def _acquire(self, scopes: list[str], claims: str | None) -> Mapping[str, Any] | None:
        app = self._apps.get(for_claims=claims is not None)
        result: Mapping[str, Any] | None = app.acquire_token_for_client(
            scopes, claims_challenge=claims
        )
        return result


def _certificate_credential(
    certificate: str | bytes | Path, password: str | bytes | None, send_chain: bool
) -> dict[str, Any]:
    """Load a PEM holding a private key and certificate into MSAL's ``client_credential`` dict.

    The key is decrypted here so a wrong password fails at construction with a clear error;
    the thumbprint is the SHA-1 of the certificate (the ``x5t`` JWS header, RFC 7515
    section 4.1.7) that Entra matches against the registered key credential.
    """
    if isinstance(certificate, bytes) and b"-----BEGIN" in certificate:
        pem = certificate
    else:
        try:
            pem = Path(
                certificate if not isinstance(certificate, bytes) else certificate.decode()
            ).read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"cannot read certificate file: {exc}") from None
    secret = password.encode() if isinstance(password, str) else password
    try:
        key = serialization.load_pem_private_key(pem, password=secret)
        certs = x509.load_pem_x509_certificates(pem)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"certificate must be PEM with a private key and its certificate: {exc}"
        ) from None
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    leaf = certs[0]
    result: dict[str, Any] = {
        "private_key": key_pem,
        "thumbprint": leaf.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - x5t is SHA-1 by spec
    }
    if send_chain:
        result["public_certificate"] = "".join(
            c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certs
        )
    return result
