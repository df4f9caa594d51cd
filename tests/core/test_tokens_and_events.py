from __future__ import annotations

import base64
import json

import pytest

from cae_sdk.core import SubjectKey, TokenClaims, decode_unverified
from cae_sdk.core.locations import NamedLocation, parse_ip
from cae_sdk.core.remediation import RemediationKind
from cae_sdk.errors import InteractionRequired, TokenAcquisitionError, TokenFormatError
from cae_sdk.events import (
    InMemoryEventStore,
    RevocationEvent,
    RiskLevel,
    event_from_dict,
    event_to_dict,
)


def _seg(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def test_decode_unverified() -> None:
    header, payload = decode_unverified(f"{_seg({'alg': 'RS256'})}.{_seg({'oid': 'x'})}.sig")
    assert header["alg"] == "RS256" and payload["oid"] == "x"
    for bad in ["", "a.b", "a.b.c", f"{_seg({'a': 1})}.bm90.x", "x" * 20000]:
        with pytest.raises(TokenFormatError):
            decode_unverified(bad)


def test_subject_keys_for_user_and_app_tokens() -> None:
    user = TokenClaims({"tid": "T", "oid": "O", "sid": "S", "scp": "a b", "xms_cc": ["CP1"]})
    assert user.cae_capable and not user.is_app_only and user.scopes == ("a", "b")
    assert set(user.subject_keys()) == {
        SubjectKey.tenant("t"),
        SubjectKey.user("t", "o"),
        SubjectKey.service_principal("t", "o"),
        SubjectKey.session("t", "S"),
    }
    app = TokenClaims({"tid": "t", "oid": "spoid", "azp": "app", "idtyp": "app", "roles": ["r"]})
    assert app.is_app_only and SubjectKey.service_principal("t", "app") in app.subject_keys()
    assert TokenClaims({"oid": "x"}).subject_keys() == ()
    assert SubjectKey.parse(str(SubjectKey.session("t", "S"))) == SubjectKey.session("t", "S")


def test_remediation_from_msal_result() -> None:
    err = TokenAcquisitionError.from_msal_result(
        {
            "error": "unauthorized_client",
            "error_description": "AADSTS7000112: disabled.\nTrace",
            "error_codes": [7000112],
            "correlation_id": "c",
        }
    )
    assert err.remediation.kind is RemediationKind.ADMIN and err.correlation_id == "c"
    assert "administrator" in str(err)
    mfa = TokenAcquisitionError.from_msal_result({"error": "invalid_grant", "error_codes": [50076]})
    assert isinstance(mfa, InteractionRequired)


async def test_in_memory_store_watermarks_and_listeners() -> None:
    now = [1_000_000.0]
    store = InMemoryEventStore(watermark_retention=100, clock=lambda: now[0])
    seen = []
    store.subscribe(seen.append)
    assert await store.revoke_user("T", "O", at=999_990)
    assert not await store.revoke_user("t", "o", at=999_980)  # older: ignored
    assert store.watermark(SubjectKey.user("t", "o")) == 999_990
    assert len(seen) == 1
    assert await store.set_risk(SubjectKey.user("t", "o"), "high")
    assert store.risk(SubjectKey.user("t", "o")) is RiskLevel.HIGH
    assert await store.remember_once("jti", 10) and not await store.remember_once("jti", 10)
    now[0] += 200
    assert store.watermark(SubjectKey.user("t", "o")) is None


def test_event_round_trip() -> None:
    loc = NamedLocation.from_cidrs("1", "office", ["10.0.0.0/8", "2001:db8::/32"], trusted=True)
    assert loc.contains(parse_ip("::ffff:10.1.2.3")) and not loc.contains(parse_ip("11.0.0.1"))
    event = RevocationEvent(SubjectKey.user("t", "o"), 5, "user_disabled", "ssf", "jti-1")
    assert event_from_dict(event_to_dict(event)) == event
    with pytest.raises(ValueError):
        event_from_dict({"type": "nope"})


def test_subject_key_hash_is_cached_and_rebuilt_on_unpickle() -> None:
    import pickle
    import subprocess
    import sys

    key = SubjectKey.user("T", "O")
    assert hash(key) == hash(SubjectKey.user("t", "o")) and {key: 1}[SubjectKey.user("t", "o")]
    blob = pickle.dumps(key)
    code = (
        "import pickle,sys; from cae_sdk.core import SubjectKey; "
        "k=pickle.loads(sys.stdin.buffer.read()); "
        "print(hash(k)==hash(SubjectKey.user('t','o')) and k==SubjectKey.user('t','o'))"
    )
    out = subprocess.run([sys.executable, "-c", code], input=blob, capture_output=True, check=True)
    assert out.stdout.strip() == b"True"


async def test_in_memory_risk_is_ordered_by_time() -> None:
    from cae_sdk.events import RiskEvent

    store = InMemoryEventStore()
    user = SubjectKey.user("t", "o")
    assert await store.apply(RiskEvent(user, RiskLevel.HIGH, at=100))
    assert not await store.apply(RiskEvent(user, RiskLevel.LOW, at=90))  # late and older
    assert store.risk(user) is RiskLevel.HIGH
    assert await store.apply(RiskEvent(user, RiskLevel.NONE, at=110))
    assert not await store.apply(RiskEvent(user, RiskLevel.HIGH, at=105))  # cannot resurrect
    assert store.risk(user) is None
    assert await store.apply(RiskEvent(user, RiskLevel.MEDIUM, at=110))  # equally new, different
    assert store.risk(user) is RiskLevel.MEDIUM


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-an-ip", "2001:db8::/129", ""])
def test_named_location_refuses_bad_ranges_with_a_typed_error(bad: str) -> None:
    from cae_sdk.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="office"):
        NamedLocation.from_cidrs("1", "office", ["10.0.0.0/8", bad])
