"""``cae idp``: runs the dev identity provider in the foreground; Ctrl-C stops and cleans up."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

CAE = Path(sys.executable).parent / "cae"


def read_json_document(stream) -> dict:
    lines = []
    for line in stream:
        lines.append(line)
        if line.rstrip() == "}":
            return json.loads("".join(lines))
    raise AssertionError("cae idp ended before printing its description: " + "".join(lines))


def test_idp_serves_until_ctrl_c_and_cleans_up():
    process = subprocess.Popen(
        [str(CAE), "idp", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        info = read_json_document(process.stdout)
        assert os.path.exists(info["ca_bundle"])
        config = httpx.get(
            info["openid_configuration_url"],
            verify=ssl.create_default_context(cafile=info["ca_bundle"]),
            timeout=10,
        )
        assert config.status_code == 200
        assert config.json()["issuer"] == info["issuer"]
        assert info["user"]["username"] and info["secret_app"]["client_secret"]
        assert info["environment"]["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == info["imds_url"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        process.kill()
    assert not os.path.exists(info["ca_bundle"])
    with pytest.raises(httpx.ConnectError):
        httpx.get(info["openid_configuration_url"], verify=False, timeout=2)


def test_idp_seconds_and_table_output(cae):
    result = cae("idp", "--seconds", "0.2")
    assert result.code == 0
    assert "authority" in result.out and "ca_bundle" in result.out and "Stopped" in result.out
    assert "export AZURE_AUTHORITY_HOST=" in result.out


def test_idp_bad_lifetime(cae):
    result = cae("idp", "--token-lifetime", "0", "--seconds", "0")
    assert result.code == 2 and "--token-lifetime" in result.err
