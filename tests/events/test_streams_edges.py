"""Stream management client: HTTP edge cases (respx)."""

from __future__ import annotations

import httpx
import pytest
import respx

from cae_sdk.core.errors import EventSourceError
from cae_sdk.events.ssf import StreamClient

ISS = "https://tx.test"
CONFIG = {
    "issuer": ISS,
    "configuration_endpoint": f"{ISS}/streams",
    "status_endpoint": f"{ISS}/status",
}


@respx.mock
async def test_error_answers_become_event_source_errors() -> None:
    respx.get(f"{ISS}/.well-known/ssf-configuration").mock(
        return_value=httpx.Response(200, json=CONFIG)
    )
    respx.get(f"{ISS}/streams").mock(return_value=httpx.Response(200, text="<html>"))
    respx.get(f"{ISS}/status").mock(return_value=httpx.Response(500, json={"err": "boom"}))
    respx.post(f"{ISS}/streams").mock(
        return_value=httpx.Response(200, json=["not", "an", "object"])
    )
    async with httpx.AsyncClient() as http:
        client = StreamClient(ISS, http=http, auth="tok")
        with pytest.raises(EventSourceError, match="not JSON"):
            await client.get("s1")
        with pytest.raises(EventSourceError) as info:
            await client.status("s1")
        assert info.value.status == 500 and info.value.code == "boom"
        with pytest.raises(EventSourceError, match="JSON object"):
            await client.create({"method": "urn:ietf:rfc:8936"}, [])
        with pytest.raises(EventSourceError) as missing:
            await client.add_subject("s1", {"format": "opaque", "id": "x"})
        assert missing.value.code == "unsupported"  # no add_subject_endpoint advertised


@respx.mock
async def test_oversized_configuration_is_refused() -> None:
    respx.get(f"{ISS}/.well-known/ssf-configuration").mock(
        return_value=httpx.Response(200, json={**CONFIG, "pad": "x" * 300_000})
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(EventSourceError, match="too large"):
            await StreamClient(ISS, http=http, auth="tok").discover()
