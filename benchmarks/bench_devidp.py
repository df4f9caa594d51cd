"""Dev identity provider benchmarks.

1. Start-up time of ``DevIdentityProvider`` (TLS material, keys, seeded directory, both
   listeners ready): goal median under 2 s over 5 starts.
2. Token endpoint throughput: ``client_credentials`` with a secret and a cp1 claims request,
   one keep-alive httpx client, sequential: goal at least 100 tokens per second.
3. Shared Signals latency: admin "revoke sessions" call to the SET arriving in a poll stream
   (``returnImmediately``): goal median under 50 ms.
"""

from __future__ import annotations

import ssl
import statistics
import time

import httpx
from _report import print_goal_table

from cae_sdk.core.claims import CP1
from cae_sdk.devidp import DevIdentityProvider

STARTS = 5
TOKENS = 300
EVENTS = 20
START_GOAL = 2.0
EVENT_GOAL = 0.05
TOKEN_GOAL = 100.0


def _start_times() -> list[float]:
    times = []
    for _ in range(STARTS):
        began = time.perf_counter()
        idp = DevIdentityProvider().start()
        times.append(time.perf_counter() - began)
        idp.stop()
    return times


def _token_rate(idp: DevIdentityProvider, client: httpx.Client) -> float:
    seed = idp.seed
    form = {
        "grant_type": "client_credentials",
        "client_id": seed.secret_app.client_id,
        "client_secret": seed.secret_app.client_secret or "",
        "scope": seed.api.default_scope,
        "claims": CP1,
    }
    began = time.perf_counter()
    for _ in range(TOKENS):
        response = client.post(idp.token_endpoint, data=form)
        assert response.status_code == 200, response.text
    return TOKENS / (time.perf_counter() - began)


def _event_latencies(idp: DevIdentityProvider, client: httpx.Client) -> list[float]:
    headers = {"Authorization": f"Bearer {idp.ssf_access_token()}"}
    stream = client.post(
        f"{idp.ssf_issuer}/streams",
        json={
            "delivery": {"method": "urn:ietf:rfc:8936"},
            "events_requested": [
                "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
            ],
        },
        headers=headers,
    ).json()
    poll_url = stream["delivery"]["endpoint_url"]
    latencies = []
    for _ in range(EVENTS):
        began = time.perf_counter()
        idp.admin.revoke_sessions(idp.seed.user.object_id)
        while True:
            page = client.post(poll_url, json={"returnImmediately": True}, headers=headers).json()
            if page["sets"]:
                break
        latencies.append(time.perf_counter() - began)
        client.post(poll_url, json={"ack": list(page["sets"]), "maxEvents": 0}, headers=headers)
    return latencies


def main() -> int:
    starts = _start_times()
    with DevIdentityProvider() as idp:
        verify = ssl.create_default_context(cafile=idp.ca_bundle)
        with httpx.Client(verify=verify) as client:
            rate = _token_rate(idp, client)
            latencies = _event_latencies(idp, client)
    start_median = statistics.median(starts)
    event_median = statistics.median(latencies)
    rows = [
        (
            "start-up (median of 5)",
            f"{start_median * 1000:.0f} ms",
            f"< {START_GOAL:.0f} s",
            start_median < START_GOAL,
        ),
        ("start-up (max)", f"{max(starts) * 1000:.0f} ms", "report", True),
        (
            "client_credentials tokens",
            f"{rate:,.0f} tokens/s ({TOKENS} sequential)",
            f">= {TOKEN_GOAL:.0f}/s",
            rate >= TOKEN_GOAL,
        ),
        (
            "admin action -> SET polled (median)",
            f"{event_median * 1000:.1f} ms",
            f"< {EVENT_GOAL * 1000:.0f} ms",
            event_median < EVENT_GOAL,
        ),
    ]
    return print_goal_table(rows)


if __name__ == "__main__":
    raise SystemExit(main())
