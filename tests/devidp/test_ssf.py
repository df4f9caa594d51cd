"""Shared Signals transmitter end to end: a local receiver creates streams, gets the
verification event and then the events of admin actions, by push and by poll; every SET is
verified with PyJWT against the advertised JWKS."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests

from cae_sdk.core.secevents import CAEP, DELIVERY_POLL, DELIVERY_PUSH, RISC, SSF
from cae_sdk.devidp import DevIdentityProvider

from .receiver import running_receiver

pytestmark = pytest.mark.e2e

ALL_EVENTS = [
    CAEP.SESSION_REVOKED,
    CAEP.CREDENTIAL_CHANGE,
    CAEP.RISK_LEVEL_CHANGE,
    RISC.ACCOUNT_DISABLED,
    RISC.ACCOUNT_ENABLED,
    RISC.ACCOUNT_PURGED,
]


class SsfClient:
    def __init__(self, idp: DevIdentityProvider, http: requests.Session) -> None:
        self.http = http
        self.config = http.get(idp.ssf_configuration_url).json()
        self.jwks = http.get(self.config["jwks_uri"]).json()
        self.headers = {"Authorization": f"Bearer {idp.ssf_access_token()}"}
        self.issuer = idp.ssf_issuer

    def create(self, delivery: dict[str, Any]) -> dict[str, Any]:
        body = {"delivery": delivery, "events_requested": ALL_EVENTS, "aud": "urn:test:receiver"}
        response = self.http.post(
            self.config["configuration_endpoint"], json=body, headers=self.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    def verify(self, stream_id: str, state: str) -> None:
        response = self.http.post(
            self.config["verification_endpoint"],
            json={"stream_id": stream_id, "state": state},
            headers=self.headers,
        )
        assert response.status_code == 204, response.text

    def decode(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        assert header["typ"] == "secevent+jwt"
        key = next(k for k in self.jwks["keys"] if k["kid"] == header["kid"])
        claims = jwt.decode(
            token,
            jwt.PyJWK(key).key,
            algorithms=["RS256"],
            audience="urn:test:receiver",
            issuer=self.issuer,
            options={"require": ["iat", "jti", "iss", "aud"]},
        )
        assert "exp" not in claims and "sub" not in claims
        assert len(claims["events"]) == 1
        return claims

    def poll(self, stream: dict[str, Any], **body: Any) -> dict[str, Any]:
        response = self.http.post(
            stream["delivery"]["endpoint_url"], json=body, headers=self.headers
        )
        assert response.status_code == 200, response.text
        return dict(response.json())


def _event(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((event_type, payload),) = claims["events"].items()
    return event_type, payload


def test_configuration_document(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    config = http.get(cae_idp.ssf_configuration_url).json()
    assert config["issuer"] == cae_idp.ssf_issuer
    assert set(config["delivery_methods_supported"]) == {DELIVERY_PUSH, DELIVERY_POLL}
    for name in (
        "configuration_endpoint",
        "status_endpoint",
        "add_subject_endpoint",
        "remove_subject_endpoint",
        "verification_endpoint",
        "jwks_uri",
    ):
        assert config[name].startswith(cae_idp.base_url)


def test_push_stream_receives_verification_then_admin_events(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    ssf = SsfClient(cae_idp, http)
    with running_receiver() as receiver:
        stream = ssf.create(
            {
                "method": DELIVERY_PUSH,
                "endpoint_url": receiver.url,
                "authorization_header": "Bearer r3c",
            }
        )
        ssf.verify(stream["stream_id"], "state-1")
        first = ssf.decode(receiver.wait_for(1)[0])
        assert _event(first) == (SSF.VERIFICATION, {"state": "state-1"})
        assert first["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}

        user = cae_idp.seed.user
        cae_idp.admin.revoke_sessions(user.object_id)
        cae_idp.admin.disable_service_principal(cae_idp.seed.secret_app.client_id)
        cae_idp.admin.reset_password(user.object_id)
        cae_idp.admin.set_user_risk(user.object_id, "high")
        sets = [ssf.decode(t) for t in receiver.wait_for(5)[1:]]
        types = [_event(c)[0] for c in sets]
        assert types == [
            CAEP.SESSION_REVOKED,
            RISC.ACCOUNT_DISABLED,
            CAEP.CREDENTIAL_CHANGE,
            CAEP.RISK_LEVEL_CHANGE,
        ]
        assert sets[0]["sub_id"] == {
            "format": "complex",
            "user": {"format": "opaque", "id": user.object_id},
            "tenant": {"format": "opaque", "id": cae_idp.tenant_id},
        }
        assert sets[1]["sub_id"]["application"] == {
            "format": "opaque",
            "id": cae_idp.seed.secret_app.client_id,
        }
        assert _event(sets[3])[1]["current_level"] == "HIGH"
        assert all(abs(_event(c)[1]["event_timestamp"] - time.time()) < 60 for c in sets)
        assert len({c["jti"] for c in sets}) == 4
        assert set(receiver.authorizations) == {"Bearer r3c"}
        assert set(receiver.content_types) == {"application/secevent+jwt"}


def test_push_retries_transient_failures_and_records_refusals(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    cae_idp.settings.ssf_push_retry_delays = (0.05, 0.05, 0.05)
    ssf = SsfClient(cae_idp, http)
    with running_receiver() as receiver:
        stream = ssf.create({"method": DELIVERY_PUSH, "endpoint_url": receiver.url})
        receiver.script = [(503, None), (429, None)]
        ssf.verify(stream["stream_id"], "after-retries")
        assert _event(ssf.decode(receiver.wait_for(1)[0]))[1] == {"state": "after-retries"}
        assert receiver.attempts == 3
        receiver.script = [(400, {"err": "invalid_key", "description": "unknown kid"})]
        ssf.verify(stream["stream_id"], "refused")
        ssf.verify(stream["stream_id"], "next")
        assert _event(ssf.decode(receiver.wait_for(2)[1]))[1] == {"state": "next"}
        outcomes = cae_idp.context.extensions["ssf"].streams[stream["stream_id"]].outcomes
        assert sorted(outcomes.values()) == ["delivered", "delivered", "invalid_key"]


def test_poll_stream_with_ack_max_events_and_more_available(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    assert stream["delivery"]["endpoint_url"].startswith(cae_idp.ssf_issuer)
    ssf.verify(stream["stream_id"], "poll-state")
    user = cae_idp.seed.user
    cae_idp.admin.revoke_sessions(user.object_id)
    cae_idp.admin.disable_user(user.object_id)

    page = ssf.poll(stream, maxEvents=2, returnImmediately=True)
    assert page["moreAvailable"] is True
    first_two = [ssf.decode(t) for t in page["sets"].values()]
    assert [_event(c)[0] for c in first_two] == [SSF.VERIFICATION, CAEP.SESSION_REVOKED]

    page = ssf.poll(stream, ack=list(page["sets"]), returnImmediately=True)
    assert page["moreAvailable"] is False
    (last,) = page["sets"].values()
    assert _event(ssf.decode(last))[0] == RISC.ACCOUNT_DISABLED

    jti = next(iter(page["sets"]))
    page = ssf.poll(
        stream,
        setErrs={jti: {"err": "invalid_audience", "description": "x"}},
        returnImmediately=True,
    )
    assert page == {"sets": {}, "moreAvailable": False}
    outcomes = cae_idp.context.extensions["ssf"].streams[stream["stream_id"]].outcomes
    assert outcomes[jti] == "invalid_audience"


def test_mfa_registration_is_a_credential_change(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    cae_idp.admin.set_mfa_registered(cae_idp.seed.user.object_id, False)
    (token,) = ssf.poll(stream, returnImmediately=True)["sets"].values()
    event_type, payload = _event(ssf.decode(token))
    assert event_type == CAEP.CREDENTIAL_CHANGE
    assert payload["credential_type"] == "app" and payload["change_type"] == "delete"


def test_long_poll_returns_when_an_event_arrives(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    import threading

    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    threading.Timer(0.3, lambda: cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)).start()
    started = time.monotonic()
    page = ssf.poll(stream, maxEvents=10)
    assert time.monotonic() - started < 5
    assert [_event(ssf.decode(t))[0] for t in page["sets"].values()] == [CAEP.SESSION_REVOKED]


def test_removed_subject_is_not_delivered_and_stream_status(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    user_subject = {"format": "opaque", "id": cae_idp.seed.user.object_id}
    body = {"stream_id": stream["stream_id"], "subject": user_subject}
    assert (
        http.post(ssf.config["remove_subject_endpoint"], json=body, headers=ssf.headers).status_code
        == 204
    )
    cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)
    assert ssf.poll(stream, returnImmediately=True)["sets"] == {}
    assert (
        http.post(ssf.config["add_subject_endpoint"], json=body, headers=ssf.headers).status_code
        == 200
    )
    cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)
    assert len(ssf.poll(stream, returnImmediately=True)["sets"]) == 1

    status_url = ssf.config["status_endpoint"]
    got = http.get(status_url, params={"stream_id": stream["stream_id"]}, headers=ssf.headers)
    assert got.json()["status"] == "enabled"
    disabled = http.post(
        status_url,
        json={"stream_id": stream["stream_id"], "status": "disabled"},
        headers=ssf.headers,
    )
    assert disabled.json()["status"] == "disabled"


def test_stream_crud_and_errors(cae_idp: DevIdentityProvider, http: requests.Session) -> None:
    ssf = SsfClient(cae_idp, http)
    url = ssf.config["configuration_endpoint"]
    assert http.post(url, json={}).status_code == 401
    assert http.post(url, data="not json", headers=ssf.headers).status_code == 400
    bad = http.post(url, json={"delivery": {"method": "urn:x"}}, headers=ssf.headers)
    assert bad.status_code == 400 and bad.json()["err"] == "invalid_request"
    stream = ssf.create({"method": DELIVERY_POLL})
    sid = stream["stream_id"]
    patched = http.patch(url, json={"stream_id": sid, "description": "d"}, headers=ssf.headers)
    assert patched.json()["description"] == "d"
    assert patched.json()["events_delivered"] == ALL_EVENTS
    readonly = http.patch(url, json={"stream_id": sid, "iss": "other"}, headers=ssf.headers)
    assert readonly.status_code == 400
    listed = http.get(url, headers=ssf.headers).json()
    assert [s["stream_id"] for s in listed] == [sid]
    assert http.delete(url, params={"stream_id": sid}, headers=ssf.headers).status_code == 204
    assert http.get(url, params={"stream_id": sid}, headers=ssf.headers).status_code == 404
    bad_poll = http.post(
        f"{cae_idp.ssf_issuer}/poll/{sid}", json={"maxEvents": -1}, headers=ssf.headers
    )
    assert bad_poll.status_code == 404


def test_paused_poll_stream_holds_events_until_enabled(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    """SSF 1.0 section 8.1.2: a paused stream transmits nothing and holds its events; a
    disabled one holds none. Poll delivery must follow it like push delivery does."""
    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    status_url = ssf.config["status_endpoint"]

    def set_status(status: str) -> None:
        body = {"stream_id": stream["stream_id"], "status": status}
        assert http.post(status_url, json=body, headers=ssf.headers).status_code == 200

    set_status("paused")
    cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)
    assert ssf.poll(stream, returnImmediately=True) == {"sets": {}, "moreAvailable": False}
    set_status("enabled")
    (held,) = ssf.poll(stream, returnImmediately=True)["sets"].values()
    assert _event(ssf.decode(held))[0] == CAEP.SESSION_REVOKED

    ssf.poll(stream, ack=[ssf.decode(held)["jti"]], maxEvents=0)
    set_status("paused")
    cae_idp.admin.disable_user(cae_idp.seed.user.object_id)
    set_status("disabled")
    set_status("enabled")
    assert ssf.poll(stream, returnImmediately=True)["sets"] == {}  # dropped on disable


def test_transmitter_initiated_pause_is_announced_with_stream_updated(
    cae_idp: DevIdentityProvider, http: requests.Session
) -> None:
    """SSF 1.0 section 8.1.5: stream-updated goes out before the pause and after the enable;
    what happens meanwhile is held and delivered afterwards."""
    ssf = SsfClient(cae_idp, http)
    stream = ssf.create({"method": DELIVERY_POLL})
    url = f"{cae_idp.ssf_issuer}/dev/announce-status"

    def announce(status: str) -> None:
        body = {"stream_id": stream["stream_id"], "status": status, "reason": "maintenance"}
        response = http.post(url, json=body, headers=ssf.headers)
        assert response.status_code == 200 and response.json()["status"] == status

    announce("paused")
    cae_idp.admin.revoke_sessions(cae_idp.seed.user.object_id)  # held while paused
    (paused,) = ssf.poll(stream, returnImmediately=True)["sets"].values()
    claims = ssf.decode(paused)
    assert claims["sub_id"] == {"format": "opaque", "id": stream["stream_id"]}
    assert _event(claims) == (SSF.STREAM_UPDATED, {"status": "paused", "reason": "maintenance"})
    ssf.poll(stream, ack=[claims["jti"]], maxEvents=0)
    announce("enabled")
    sets = [ssf.decode(t) for t in ssf.poll(stream, returnImmediately=True)["sets"].values()]
    kinds = [_event(c)[0] for c in sets]
    assert sorted(kinds) == sorted([CAEP.SESSION_REVOKED, SSF.STREAM_UPDATED])
    bad = http.post(
        url, json={"stream_id": stream["stream_id"], "status": "x"}, headers=ssf.headers
    )
    assert bad.status_code == 400
