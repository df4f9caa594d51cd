"""App-only tokens for a confidential client: secret, certificate or client assertion."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ...core.errors import ConfigurationError
from ._base import CredentialBase
from ._options import AuthorityOptions, MsalAppPair, TransportOptions

if TYPE_CHECKING:
    from typing_extensions import Unpack

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
        **options: Unpack[AuthorityOptions],
    ) -> None:
        transport = TransportOptions(options)
        super().__init__(clock=transport.clock)
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
        self.client_id = client_id
        self.authority = transport.authority_for(tenant_id)
        self._apps = MsalAppPair(
            msal.ConfidentialClientApplication,
            client_id,
            authority=self.authority,
            transport=transport,
            client_credential=credential,
        )
        self._http = self._apps.http_client

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
