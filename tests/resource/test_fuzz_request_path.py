"""Property tests over the whole resource side (issue 10): hypothesis drives the ASGI app and
the framework-free request path with generated ``Authorization`` headers, token parts (header,
payload and signature each valid or mangled, signed with the test key), forwarding headers,
client addresses, paths and claim values.

Never a 5xx, never an exception out of the middleware, never a 2xx (nor the app reached) for a
request whose token is not valid, every header value carriable (no CR/LF; ``WWW-Authenticate``
visible ASCII), and always an answer within 2 s.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cae_sdk.core.decisions import Reason
from cae_sdk.core.locations import NamedLocation
from cae_sdk.core.subjects import SubjectKey
from cae_sdk.events import InMemoryEventStore, RevocationEvent
from cae_sdk.resource import AccessRecord, CAEMiddleware, RequestPath, TokenValidator

from ._asgi import Answer, call, ok_app
from .helpers import APP_ID, TENANT, SigningKeys

ISSUER = "https://issuer.test/v2.0"
DEADLINE = 2.0

json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
identifiers = (
    st.sampled_from([TENANT, "", "テナント", "t\u00e9nant", "a\r\nb", '"q\\', "\ud800", "/x?#"])
    | st.text(max_size=24)
    | json_values
)
ABSENT = object()
claim_values = st.fixed_dictionaries(
    {
        "tid": identifiers | st.just(ABSENT),
        # Mostly cp1: refusals to cp1 clients are challenges built from claim values.
        "xms_cc": st.sampled_from([["cp1"], "CP1", ["cp1", "cp2"], ABSENT]) | json_values,
    },
    optional={
        "oid": identifiers,
        "sub": identifiers,
        "sid": identifiers,
        "azp": identifiers,
        "idtyp": st.sampled_from(["app", "user"]) | json_values,
        "acrs": st.sampled_from([["c1"], "c1"]) | json_values,
        "scp": st.sampled_from(["access_as_user", ""]) | json_values,
        "roles": json_values,
        "amr": json_values,
        "ipaddr": st.sampled_from(["10.1.2.3", "203.0.113.8", "::1"]) | json_values,
        "groups": json_values,
    },
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


@dataclass
class Case:
    headers: list[tuple[bytes, bytes]]
    path: str
    peer: tuple[str, int] | None
    valid: bool
    """Every part of the token and of the Authorization header is well-formed and genuine."""


def _registered_claims(now: int) -> dict[str, Any]:
    """Issuer, audience and times of a token the validator accepts."""
    return {"iss": ISSUER, "aud": f"api://{APP_ID}", "iat": now - 10, "exp": now + 3600}


@st.composite
def cases(draw: st.DrawFn, keys: SigningKeys) -> Case:
    now = int(time.time())
    valid_payload = {
        **_registered_claims(now),
        "nbf": now - 10,
        **{name: value for name, value in draw(claim_values).items() if value is not ABSENT},
    }
    valid_header = {
        "alg": "RS256",
        "kid": keys.rsa_kid,
        **draw(
            st.sampled_from([{}, {"typ": "JWT"}, {"typ": "at+jwt"}, {"typ": "application/at+jwt"}])
        ),
    }

    parts = ("header", "payload", "signature", "structure", "form")
    broken: frozenset[str] = frozenset()
    if not draw(st.booleans()):  # half the requests carry a genuine token
        broken = draw(st.frozensets(st.sampled_from(parts), min_size=1))
    header_ok = "header" not in broken
    if header_ok:
        header = _json(valid_header)
    else:
        mangle = draw(
            st.sampled_from(["alg", "no alg", "kid", "no kid", "crit", "typ", "json", "bytes"])
        )
        bad = dict(valid_header)
        if mangle == "alg":
            bad["alg"] = draw(
                st.sampled_from(["none", "None", "HS256", "RS512", "ES256", "PS256"]) | json_values
            )
        elif mangle == "no alg":
            del bad["alg"]
        elif mangle == "kid":
            bad["kid"] = draw(
                st.just(keys.ec_kid)
                | st.text(max_size=12).filter(lambda kid: kid != keys.rsa_kid)
                | json_values.filter(lambda kid: not isinstance(kid, str))
            )
        elif mangle == "no kid":
            del bad["kid"]
        elif mangle == "crit":
            bad["crit"] = draw(st.sampled_from([["exp"], [], "x"]))
        elif mangle == "typ":  # another kind of JWT (RFC 8725 section 3.11)
            bad["typ"] = draw(
                st.sampled_from(["secevent+jwt", "logout+jwt", "dpop+jwt", "rt+jwt", "id_token"])
                | json_values.filter(lambda typ: typ is not None and not isinstance(typ, str))
            )
        header = (
            _json(bad)
            if mangle not in ("json", "bytes")
            else _json(draw(json_values.filter(lambda v: not isinstance(v, dict))))
            if mangle == "json"
            else draw(st.binary(max_size=20))
        )

    payload_ok = "payload" not in broken
    if payload_ok:
        payload = _json(valid_payload)
    else:
        mangle = draw(
            st.sampled_from(
                ["expired", "audience", "issuer", "no exp", "no iat", "future", "json", "bytes"]
            )
        )
        bad_payload = dict(valid_payload)
        if mangle == "expired":
            bad_payload["exp"] = now - 3600
        elif mangle == "audience":
            bad_payload["aud"] = draw(st.sampled_from(["api://other", ["x"], 5, None]))
        elif mangle == "issuer":
            bad_payload["iss"] = draw(st.sampled_from(["https://evil.test/v2.0", ISSUER + "/", 1]))
        elif mangle == "no exp":
            del bad_payload["exp"]
        elif mangle == "no iat":
            del bad_payload["iat"]
        elif mangle == "future":
            bad_payload["nbf"] = now + 3600
        payload = (
            _json(bad_payload)
            if mangle not in ("json", "bytes")
            else _json(draw(json_values))
            if mangle == "json"
            else draw(st.binary(max_size=40))
        )

    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature_ok = "signature" not in broken
    signature = keys.rsa.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    if signature_ok:
        signature_segment = _b64(signature)
    else:
        mangle = draw(st.sampled_from(["flip", "truncate", "empty", "random", "charset"]))
        if mangle == "flip":
            index = draw(st.integers(0, len(signature) - 1))
            flipped = bytes([signature[index] ^ draw(st.integers(1, 255))])
            signature_segment = _b64(signature[:index] + flipped + signature[index + 1 :])
        elif mangle == "truncate":
            signature_segment = _b64(signature[: draw(st.integers(0, len(signature) - 1))])
        elif mangle == "empty":
            signature_segment = ""
        elif mangle == "random":
            signature_segment = _b64(draw(st.binary(max_size=300)))
        else:
            signature_segment = _b64(signature) + draw(st.sampled_from(["=", "==", "!", "+/"]))
    structure = (
        "ok" if "structure" not in broken else draw(st.sampled_from(["extra", "two", "spaces"]))
    )
    token = f"{signing_input}.{signature_segment}"
    if structure == "extra":
        token += ".x"
    elif structure == "two":
        token = signing_input
    elif structure == "spaces":
        token = token.replace(".", ". ", 1)

    good_forms = ["Bearer ", "bearer ", "BEARER   "]
    bad_forms = ["Basic ", "Bearer", "Bearer x ", "twice", "none", "binary"]
    form_ok = "form" not in broken
    form = draw(st.sampled_from(good_forms if form_ok else bad_forms))
    authorization: list[tuple[bytes, bytes]] = []
    if form == "twice":
        authorization = [(b"authorization", b"Bearer " + token.encode())] * 2
    elif form == "Bearer x ":
        authorization = [(b"authorization", b"Bearer x " + token.encode())]
    elif form == "binary":
        authorization = [(b"authorization", draw(st.binary(max_size=60)))]
    elif form != "none":
        authorization = [(b"authorization", form.encode() + token.encode())]

    forwarding: list[tuple[bytes, bytes]] = []
    for name in draw(
        st.lists(
            st.sampled_from([b"x-forwarded-for", b"forwarded", b"X-Forwarded-For"]), max_size=2
        )
    ):
        hop = st.sampled_from(["10.0.0.7", "203.0.113.9", "[2001:db8::1]:443", "unknown", ""])
        value = draw(
            st.lists(hop, max_size=4).map(lambda hops: ", ".join(hops).encode())
            | st.binary(max_size=40)
            | st.sampled_from([b'for="10.0.0.7"', b"for=203.0.113.9;proto=https", b"x" * 9000])
        )
        forwarding.append((name, value))
    extra = [(b"user-agent", draw(st.binary(max_size=30)))] if draw(st.booleans()) else []
    headers = draw(st.permutations([*authorization, *forwarding, *extra]))
    valid = not broken
    peer = draw(st.sampled_from([("10.0.0.2", 4000), ("203.0.113.5", 5000), ("::1", 1), None]))
    path = draw(st.sampled_from(PATHS))
    return Case(list(headers), path, peer, valid)


# Excluded: "/public/" (prefix) and "/health"; "/hang" has an on_decision hook that never returns.
PLAIN_EXCLUDED = ["/public/page", "/health"]
PATHS = [
    "/",
    "/admin/x",
    "/admin/y",
    "/data",
    "/hang",
    *PLAIN_EXCLUDED,
    "/public/../admin/x",
    "/public/%2e%2e/data",
    "/public\\..\\data",
    "/public/..;/data",
    "/health/",
]


async def _hanging_on_hang(record: AccessRecord) -> None:
    if record.path == "/hang":
        await asyncio.Event().wait()  # never returns: the hook deadline answers the request


_APPS: dict[int, tuple[CAEMiddleware, RequestPath]] = {}


def _apps(keys: SigningKeys) -> tuple[CAEMiddleware, RequestPath]:
    """One app for the whole run (its token cache fills as examples go), built on first use."""
    if id(keys) not in _APPS:
        store = InMemoryEventStore()
        # Tokens of TENANT (one of the generated tids) are revoked: challenged.
        store.apply_local(RevocationEvent(SubjectKey.tenant(TENANT), int(time.time()) + 60, "x"))
        options: dict[str, Any] = {
            "validator": TokenValidator(
                issuer=ISSUER, audiences=[f"api://{APP_ID}"], jwks=keys.jwks()
            ),
            "store": store,
        }
        settings_options: dict[str, Any] = {
            "exclude_paths": ["/public/", "/health"],
            "hook_timeout": 0.2,
            "trusted_proxies": ["10.0.0.0/8"],
            "auth_contexts": {"/admin/": "c1"},
            "allowed_locations": [NamedLocation.from_cidrs("corp", "Corp", ["10.0.0.0/8"])],
            "authorization_uri": "https://login.example/{tenantid}/oauth2/authorize",
        }
        hooks = [_hanging_on_hang]
        middleware = CAEMiddleware(ok_app, **options, **settings_options, on_decision=hooks)
        path = RequestPath(**options, settings=middleware.settings, hooks=hooks)
        _APPS[id(keys)] = (middleware, path)
    return _APPS[id(keys)]


def _check_answer(case: Case, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    assert status < 500, status
    if not case.valid:
        assert not 200 <= status < 300, status
    for name, value in headers:
        assert isinstance(name, bytes) and isinstance(value, bytes)
        assert b"\r" not in value and b"\n" not in value
        if name == b"www-authenticate":
            assert all(0x20 <= byte < 0x7F for byte in value), value


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(data=st.data())
def test_the_asgi_app_never_fails_open_crashes_or_hangs(keys: SigningKeys, data: Any) -> None:
    case = data.draw(cases(keys))
    middleware, _ = _apps(keys)

    async def run() -> Answer:
        return await asyncio.wait_for(
            call(middleware, case.headers, path=case.path, client=case.peer), DEADLINE
        )

    answer = asyncio.run(run())  # an exception out of the middleware fails the test
    if case.path in PLAIN_EXCLUDED:  # served without a token, whatever the request holds
        assert answer.reached_app and answer.status == 200
        return
    _check_answer(case, answer.status, answer.headers)
    assert answer.reached_app == (answer.status == 200)
    if answer.status != 200:
        body = json.loads(answer.body)
        assert set(body) == {"error", "error_description", "reason"}
        assert Reason(body["reason"])


@FUZZ
@given(data=st.data())
def test_the_request_path_never_fails_open_crashes_or_hangs(keys: SigningKeys, data: Any) -> None:
    case = data.draw(cases(keys))
    _, path = _apps(keys)

    async def run() -> Any:
        peer = case.peer[0] if case.peer else None
        method = "GET"
        return await asyncio.wait_for(path.decide(method, case.path, case.headers, peer), DEADLINE)

    result = asyncio.run(run())
    if result.refusal is None:
        assert case.valid and result.claims is not None and result.decision.allowed
        return
    refusal = result.refusal
    _check_answer(case, refusal.status, refusal.headers())
    assert json.loads(refusal.body())["reason"] == result.decision.reason.value


@st.composite
def genuine_tokens(draw: st.DrawFn, keys: SigningKeys) -> str:
    """A genuine cp1 user token whose identifying claims hold generated values."""
    payload = {
        **_registered_claims(int(time.time())),
        "scp": "access_as_user",
        "xms_cc": draw(st.sampled_from([["cp1"], "CP1", ["CP1", "x"]])),
        "tid": draw(st.text(min_size=1, max_size=16) | identifiers),
    }
    for name in ("oid", "sub", "sid", "ipaddr", "acrs", "amr", "idtyp"):
        if draw(st.booleans()):
            payload[name] = draw(st.text(max_size=16) | identifiers)
    header = _json({"alg": "RS256", "kid": keys.rsa_kid})
    signing_input = f"{_b64(header)}.{_b64(_json(payload))}"
    signature = keys.rsa.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


@FUZZ
@given(
    data=st.data(),
    path=st.sampled_from(["/", "/admin/x"]),
    peer=st.sampled_from([("203.0.113.5", 5000), ("10.0.0.9", 5000)]),
)
def test_no_claim_value_breaks_a_refusal(
    keys: SigningKeys, data: Any, path: str, peer: tuple[str, int]
) -> None:
    """Genuine cp1 tokens: refusals (step-up on /admin/, location outside 10/8, revoked tenant)
    are claims challenges built from claim values; none may break one."""
    token = data.draw(genuine_tokens(keys))
    middleware, _ = _apps(keys)
    headers = [(b"authorization", f"Bearer {token}".encode())]
    answer = asyncio.run(
        asyncio.wait_for(call(middleware, headers, path=path, client=peer), DEADLINE)
    )
    _check_answer(Case(headers, path, peer, True), answer.status, answer.headers)
    if answer.status != 200:
        assert Reason(json.loads(answer.body)["reason"])
