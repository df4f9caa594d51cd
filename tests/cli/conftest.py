"""Helpers for CLI tests: run ``cae`` in-process and capture what it prints."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest

from cae_sdk.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cae(capsys: pytest.CaptureFixture[str]):
    """Call ``cae`` with a list of arguments; returns exit code and captured output."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def make_token(**overrides: Any) -> str:
    """An unsigned-for-real (HS256, throwaway key) token: decode never verifies anyway."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0",
        "aud": "api://cae-demo",
        "tid": "11111111-2222-3333-4444-555555555555",
        "oid": "aaaaaaaa-0000-0000-0000-000000000001",
        "azp": "bbbbbbbb-0000-0000-0000-000000000002",
        "scp": "access_as_user",
        "sid": "session-1",
        "xms_cc": ["CP1"],
        "iat": now,
        "nbf": now,
        "exp": now + 24 * 3600,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "key-1"})


__all__ = ["Result", "make_token"]
