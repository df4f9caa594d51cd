"""AKS workload identity: a federated token file exchanged for an Entra token."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ...core.errors import ConfigurationError
from ._options import AuthorityOptions
from .confidential import ConfidentialClientCredential

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["FederatedTokenFile", "WorkloadIdentityCredential"]


class FederatedTokenFile:
    """The projected service account token; re-read whenever the kubelet rotates it.

    The file is replaced atomically (a symlink swap), so a change of inode, size or mtime means
    new content; an unchanged stat returns the cached text without touching the disk again.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._text = ""

    def read(self) -> str:
        try:
            stat = self.path.stat()
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            with self._lock:
                if stamp != self._stamp:
                    text = self.path.read_text(encoding="utf-8").strip()
                    if not text:
                        raise ConfigurationError(f"federated token file {self.path} is empty")
                    self._text, self._stamp = text, stamp
                return self._text
        except OSError as exc:
            raise ConfigurationError(f"cannot read federated token file: {exc}") from None


class WorkloadIdentityCredential(ConfidentialClientCredential):
    """Client credentials with a federated assertion (RFC 7523 section 2.2).

    Unset arguments come from the variables the AKS workload identity webhook injects:
    ``AZURE_CLIENT_ID``, ``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE`` and
    ``AZURE_AUTHORITY_HOST``.
    """

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        client_id: str | None = None,
        token_file_path: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **options: Unpack[AuthorityOptions],
    ) -> None:
        env = os.environ if environ is None else environ
        tenant_id = tenant_id or env.get("AZURE_TENANT_ID")
        client_id = client_id or env.get("AZURE_CLIENT_ID")
        token_file_path = token_file_path or env.get("AZURE_FEDERATED_TOKEN_FILE")
        missing = [
            name
            for name, value in (
                ("AZURE_TENANT_ID", tenant_id or options.get("authority")),
                ("AZURE_CLIENT_ID", client_id),
                ("AZURE_FEDERATED_TOKEN_FILE", token_file_path),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                "workload identity is not configured: set " + ", ".join(missing)
            )
        if not options.get("authority_host") and env.get("AZURE_AUTHORITY_HOST"):
            options["authority_host"] = env["AZURE_AUTHORITY_HOST"]
        self.token_file = FederatedTokenFile(str(token_file_path))
        super().__init__(
            tenant_id or "", str(client_id), client_assertion=self.token_file.read, **options
        )
