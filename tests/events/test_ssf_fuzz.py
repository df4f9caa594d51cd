"""Property tests: any JSON a transmitter could sign yields a SET, a typed refusal, or an
ignored-with-reason mapping; never another exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cae_sdk.core.errors import EventValidationError
from cae_sdk.core.secevents import CAEP, RISC
from cae_sdk.events.ssf import (
    DirectorySubjectResolver,
    SetValidationConfig,
    map_security_event,
    validate_set_claims,
)
from cae_sdk.events.ssf._mapping import EVENT_MAPPING

ISS = "https://t.example"
CONFIG = SetValidationConfig(issuer=ISS, audiences=("aud",))
RESOLVER = DirectorySubjectResolver(
    tenant_id="t", tenant_for_issuer={ISS: "t"}, object_id_for_email={"a@b": "oid"}
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
formats = st.sampled_from(["iss_sub", "email", "opaque", "complex", "aliases", "account", "x"])
subjects = st.fixed_dictionaries(
    {"format": formats},
    optional={
        "iss": st.just(ISS) | json_values,
        "sub": json_values,
        "email": st.just("a@b") | json_values,
        "id": json_values,
        "uri": json_values,
        "identifiers": json_values,
        "user": json_values,
        "session": json_values,
        "tenant": json_values,
        "application": json_values,
    },
)
event_types = st.sampled_from([*EVENT_MAPPING, CAEP.RISK_LEVEL_CHANGE, RISC.ACCOUNT_DISABLED, "x"])


@settings(max_examples=300, deadline=None)
@given(
    subject=subjects | json_values,
    event_type=event_types,
    payload=st.dictionaries(
        st.sampled_from(
            [
                "current_level",
                "change_type",
                "event_timestamp",
                "current_status",
                "state",
                "subject",
            ]
        ),
        json_values,
    )
    | json_values,
    extra=st.dictionaries(st.sampled_from(["jti", "iat", "aud", "exp", "sub", "txn"]), json_values),
)
def test_claims_never_crash(
    subject: Any, event_type: str, payload: Any, extra: dict[str, Any]
) -> None:
    claims: dict[str, Any] = {
        "iss": ISS,
        "aud": "aud",
        "iat": 1000,
        "jti": "j",
        "sub_id": subject,
        "events": {event_type: payload},
    }
    claims.update(extra)
    try:
        event = validate_set_claims(claims, CONFIG, now=1000)
    except EventValidationError as exc:
        assert exc.err in {"invalid_request", "invalid_audience", "invalid_issuer"}
        return
    mapped = map_security_event(event, RESOLVER)
    assert mapped.events or mapped.ignored_reason
