"""Pure rules of the dev identity provider: error bodies, claims requests, token claims, SETs,
stream configuration, poll requests, push outcomes, Graph delta paging, key rotation."""

from __future__ import annotations

import pytest

from cae_sdk.core.errors import CAEError
from cae_sdk.core.secevents import CAEP, DELIVERY_POLL, DELIVERY_PUSH, RISC, SSF, set_claims
from cae_sdk.devidp import AdminError
from cae_sdk.devidp._directory import Directory, SecurityAction, User
from cae_sdk.devidp._errors import EntraError, GraphError, Refusal, entra_error_body
from cae_sdk.devidp._graph_delta import (
    DeltaError,
    DeltaState,
    decode_state,
    delta_page,
    encode_state,
)
from cae_sdk.devidp._keys import KeyRing
from cae_sdk.devidp._ssf.events import event_for, subject_for, verification_event
from cae_sdk.devidp._ssf.poll import parse_poll_request
from cae_sdk.devidp._ssf.push import classify_response
from cae_sdk.devidp._ssf.streams import (
    StreamError,
    apply_stream_update,
    new_stream,
    subject_matches,
)
from cae_sdk.devidp._tokens import (
    AccessTokenSpec,
    access_token_claims,
    evaluate_claims,
    issued_at,
    wait_for_watermark,
)

NOW = 1_800_000_000.0
TID = "00000000-0000-0000-0000-0000000000aa"


def test_entra_error_body_shape() -> None:
    body = entra_error_body(
        Refusal.APPLICATION_DISABLED.error(app_id="app", name="Name"),
        NOW,
        trace_id="t",
        correlation_id="c",
    )
    assert body["error"] == "unauthorized_client"
    assert body["error_codes"] == [7000112]
    assert body["error_description"] == (
        "AADSTS7000112: Application 'app'(Name) is disabled.\r\nTrace ID: t\r\n"
        "Correlation ID: c\r\nTimestamp: 2027-01-15 08:00:00Z"
    )
    assert body["timestamp"] == "2027-01-15 08:00:00Z"
    assert body["error_uri"].endswith("code=7000112")
    assert Refusal.INVALID_CLIENT_SECRET.error(app_id="a").status == 401
    assert (
        entra_error_body(Refusal.MFA_REQUIRED.error(resource="r"), NOW)["suberror"]
        == "basic_action"
    )


@pytest.mark.parametrize(
    ("claims", "cp1", "nbf", "acrs"),
    [
        (None, False, None, ()),
        ('{"access_token":{"xms_cc":{"values":["CP1"]}}}', True, None, ()),
        (
            '{"access_token":{"nbf":{"essential":true,"value":"1604106651"},"xms_cc":{"values":["cp1"]}}}',
            True,
            1604106651,
            (),
        ),
        ('{"access_token":{"acrs":{"essential":true,"value":"c1"}}}', False, None, ("c1",)),
        (
            '{"access_token":{"acrs":{"essential":true,"values":["c1","c2"]}}}',
            False,
            None,
            ("c1", "c2"),
        ),
    ],
)
def test_evaluate_claims(
    claims: str | None, cp1: bool, nbf: int | None, acrs: tuple[str, ...]
) -> None:
    result = evaluate_claims(claims)
    assert (result.cp1, result.not_before, result.acrs) == (cp1, nbf, acrs)


@pytest.mark.parametrize(
    "bad",
    ["{", "[]", '{"a":{}}', '{"access_token":{"nbf":{"value":"x"}}}', '{"access_token":{"nbf":5}}'],
)
def test_evaluate_claims_refuses_malformed(bad: str) -> None:
    with pytest.raises(EntraError) as info:
        evaluate_claims(bad)
    assert info.value.error == "invalid_request"


def test_watermark_rules() -> None:
    assert wait_for_watermark(NOW, None) == 0.0
    assert wait_for_watermark(NOW, int(NOW) - 10) == 0.0
    assert wait_for_watermark(NOW, int(NOW) + 2) == 2.0
    with pytest.raises(EntraError):
        wait_for_watermark(NOW, int(NOW) + 3600)
    assert issued_at(NOW + 0.5, int(NOW)) == int(NOW)


def test_access_token_claims_v2_and_v1() -> None:
    spec = AccessTokenSpec(
        TID, "client", "api://x", "oid", True, roles=["R"], cp1=True, lifetime=100
    )
    v2 = access_token_claims(spec, base_url="https://h", now=NOW)
    assert v2["iss"] == f"https://h/{TID}/v2.0" and v2["azp"] == "client" and v2["ver"] == "2.0"
    assert v2["xms_cc"] == ["cp1"] and v2["exp"] - v2["iat"] == 100 and v2["idtyp"] == "app"
    v1 = access_token_claims(
        AccessTokenSpec(
            TID, "client", "api://x", "oid", False, scopes=["s"], version=1, session_id="sid"
        ),
        base_url="https://h",
        now=NOW,
    )
    assert v1["iss"] == f"https://h/{TID}/" and v1["appid"] == "client" and "azp" not in v1
    assert v1["scp"] == "s" and v1["sid"] == "sid" and "xms_cc" not in v1


def _action(action: str, subject_type: str = "user", **extra: str) -> SecurityAction:
    return SecurityAction(action, subject_type, TID, "obj", NOW, app_id="app", email="a@b", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("action", "event_type"),
    [
        ("sessions-revoked", CAEP.SESSION_REVOKED),
        ("password-reset", CAEP.CREDENTIAL_CHANGE),
        ("mfa-registered", CAEP.CREDENTIAL_CHANGE),
        ("mfa-removed", CAEP.CREDENTIAL_CHANGE),
        ("disabled", RISC.ACCOUNT_DISABLED),
        ("enabled", RISC.ACCOUNT_ENABLED),
        ("deleted", RISC.ACCOUNT_PURGED),
        ("risk-changed", CAEP.RISK_LEVEL_CHANGE),
    ],
)
def test_actions_map_to_events(action: str, event_type: str) -> None:
    mapped = event_for(_action(action, risk_level="medium"))
    assert mapped is not None
    assert mapped[0] == event_type
    assert mapped[1]["event_timestamp"] == int(NOW)
    assert event_for(_action("renamed")) is None


def test_risk_event_levels_and_subjects() -> None:
    mapped = event_for(_action("risk-changed", risk_level="none", previous_risk_level="high"))
    assert (
        mapped is not None
        and mapped[1]["current_level"] == "LOW"
        and mapped[1]["previous_level"] == "HIGH"
    )
    assert subject_for(_action("disabled")) == {
        "format": "complex",
        "tenant": {"format": "opaque", "id": TID},
        "user": {"format": "opaque", "id": "obj"},
    }
    assert subject_for(_action("disabled", "application"))["application"] == {
        "format": "opaque",
        "id": "app",
    }
    subject, event_type, payload = verification_event("s1", "st")
    assert (subject, event_type, payload) == (
        {"format": "opaque", "id": "s1"},
        SSF.VERIFICATION,
        {"state": "st"},
    )


def test_set_claims_follow_rfc_8417() -> None:
    claims = set_claims(
        issuer="https://i",
        audience="aud",
        subject={"format": "opaque", "id": "x"},
        event_type=CAEP.SESSION_REVOKED,
        event={},
        iat=int(NOW),
        jti="j",
    )
    assert claims == {
        "iss": "https://i",
        "iat": int(NOW),
        "jti": "j",
        "aud": "aud",
        "sub_id": {"format": "opaque", "id": "x"},
        "events": {CAEP.SESSION_REVOKED: {}},
    }


def test_stream_configuration_rules() -> None:
    stream = new_stream(
        {
            "delivery": {"method": DELIVERY_PUSH, "endpoint_url": "https://[::1]/e"},
            "events_requested": [CAEP.SESSION_REVOKED, "urn:other"],
        },
        owner="o",
        issuer="https://i",
        poll_base="https://i/poll",
    )
    assert stream.events_delivered == [CAEP.SESSION_REVOKED]
    apply_stream_update(
        stream, {"delivery": {"method": DELIVERY_POLL}}, poll_base="https://i/poll", replace=False
    )
    assert stream.endpoint_url == f"https://i/poll/{stream.stream_id}"
    assert stream.events_requested == [CAEP.SESSION_REVOKED, "urn:other"]  # PATCH keeps the rest
    apply_stream_update(stream, {}, poll_base="https://i/poll", replace=True)
    assert stream.events_requested == []
    with pytest.raises(StreamError):
        apply_stream_update(stream, {"stream_id": "other"}, poll_base="p", replace=False)
    remote = {"delivery": {"method": DELIVERY_PUSH, "endpoint_url": "https://receiver.example/e"}}
    with pytest.raises(StreamError):
        apply_stream_update(stream, remote, poll_base="p", replace=False)
    apply_stream_update(stream, remote, poll_base="p", replace=False, allow_remote_push=True)
    assert stream.endpoint_url == "https://receiver.example/e"


def test_subject_matching() -> None:
    subject = subject_for(_action("disabled"))
    assert subject_matches({"format": "opaque", "id": "obj"}, subject, "a@b")
    assert subject_matches({"format": "opaque", "id": TID}, subject, None)  # the whole tenant
    assert subject_matches({"format": "email", "email": "A@B"}, subject, "a@b")
    assert not subject_matches({"format": "opaque", "id": "other"}, subject, "a@b")


def test_poll_request_parsing() -> None:
    parsed = parse_poll_request(
        {
            "maxEvents": 5000,
            "ack": ["a"],
            "setErrs": {"b": {"err": "invalid_key", "description": "d"}},
        }
    )
    assert (
        parsed.max_events == 1000
        and parsed.ack == ("a",)
        and parsed.set_errs == {"b": ("invalid_key", "d")}
    )
    assert parse_poll_request({}).return_immediately is False
    for bad in (None, {"maxEvents": -1}, {"maxEvents": 1.5}, {"ack": [1]}, {"setErrs": []}):
        with pytest.raises(StreamError):
            parse_poll_request(bad)


@pytest.mark.parametrize(
    ("status", "body", "outcome", "retry"),
    [
        (202, b"", "delivered", False),
        (400, b'{"err":"invalid_issuer","description":"x"}', "invalid_issuer", False),
        (400, b"not json", "http_400", False),
        (401, b"", "http_401", False),
        (429, b"", "http_429", True),
        (503, b"", "http_503", True),
    ],
)
def test_push_response_classification(status: int, body: bytes, outcome: str, retry: bool) -> None:
    assert classify_response(status, body) == (outcome, retry)


def test_graph_delta_rounds() -> None:
    directory = Directory()
    users = [directory.add_user(User(f"u{i}", TID, f"u{i}@x", "p")) for i in range(3)]

    def view(oid: str) -> dict[str, object] | None:
        user = directory.users.get(oid)
        return None if user is None or user.deleted else user.graph_view(lambda t: None)

    first = delta_page(directory.changes, "user", DeltaState(select=("accountEnabled",)), 2, view)
    assert [i["id"] for i in first.items] == ["u0", "u1"] and first.next_state is not None
    assert set(first.items[0]) == {"id", "accountEnabled"}
    rest = delta_page(directory.changes, "user", first.next_state, 2, view)
    assert [i["id"] for i in rest.items] == ["u2"] and rest.delta_state is not None
    directory.delete_user(users[1], NOW)
    changed = delta_page(directory.changes, "user", rest.delta_state, 10, view)
    assert changed.items == [{"id": "u1", "@removed": {"reason": "changed"}}]
    latest = directory.changes[-1].seq
    assert decode_state(encode_state(rest.delta_state), latest) == rest.delta_state
    with pytest.raises(DeltaError) as gone:
        decode_state(encode_state(DeltaState(since=latest + 5)), latest)
    assert gone.value.status == 410
    with pytest.raises(DeltaError):
        decode_state("!!!", latest)


def test_key_ring_rotation_and_overlap() -> None:
    ring = KeyRing()
    old = ring.current.kid
    token = ring.sign({"a": 1})
    ring.rotate(NOW, overlap_seconds=60)
    assert [k.kid for k in ring.published(NOW + 30)] == [ring.current.kid, old]
    assert ring.verify(token, NOW + 30) == {"a": 1}
    assert [k.kid for k in ring.published(NOW + 61)] == [ring.current.kid]


def test_directory_announces_actions() -> None:
    directory = Directory()
    seen: list[SecurityAction] = []
    directory.subscribe(seen.append)
    user = directory.add_user(User("u", TID, "u@x", "p"))
    directory.revoke_sessions(user, NOW)
    directory.reset_password(user, "new", NOW + 1)
    assert [a.action for a in seen] == ["sessions-revoked", "password-reset"]
    assert user.sessions_valid_from == NOW + 1 and user.last_password_change == NOW + 1


@pytest.mark.parametrize("error", [EntraError, GraphError, AdminError, DeltaError, StreamError])
def test_refusals_belong_to_the_sdk_error_hierarchy(error: type[Exception]) -> None:
    """The project's one hierarchy: every error raised on purpose is a CAEError."""
    assert issubclass(error, CAEError)
