"""The five acted steps of the demo; each checks that what it narrates really happened.

A step returns :class:`StepResult` PASSED only when every observation matched the story,
FAILED with what differed otherwise, and UNAVAILABLE (not run) when a part it needs is missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from ...core.challenges import find_claims_challenge
from ...core.claims import has_cp1, requested_acrs, requested_nbf
from ...core.errors import CAEError, ClaimsChallengeFailed, TokenAcquisitionError
from ...core.remediation import RemediationKind
from ...core.tokens import decode_unverified
from .narrator import Story
from .timeline import StepResult, StepStatus
from .world import ELSEWHERE, STEP_UP_CONTEXT, DemoWorld

__all__ = ["STEPS"]

_LABEL = {"workload": "workload", "managed": "managed", "user": "user"}
_HOUR = 3600


def _begin(
    world: DemoWorld, story: Story, number: int, title: str, *parts: str
) -> StepResult | None:
    """Announce step ``number``; its result when a part of the world it needs is missing."""
    story.step(number, title)
    missing = [f"{part} ({world.missing[part]})" for part in parts if part in world.missing]
    if not missing:
        return None
    return StepResult(number, title, StepStatus.UNAVAILABLE, "needs " + "; ".join(missing))


def _token_claims(world: DemoWorld, name: str) -> dict[str, Any]:
    token = world.credentials[name].get_token(world.scopes[name])
    return decode_unverified(token.token)[1]


def _wait_past_second(epoch: int) -> None:
    """Tokens carry whole seconds: a revocation must be in a later second than ``iat`` for
    ``iat < watermark`` to hold."""
    delay = epoch + 1 - time.time()
    if delay > 0:
        time.sleep(delay)


def _error_text(error: CAEError | None) -> str:
    if isinstance(error, TokenAcquisitionError) and error.error_codes:
        return f"refused: AADSTS{error.error_codes[0]} ({type(error).__name__})"
    return type(error).__name__ if error is not None else "no error"


def _challenge_text(response: httpx.Response) -> str:
    challenge = find_claims_challenge(response.headers)
    if challenge is None:
        return f"{response.status_code}"
    asks = []
    nbf = requested_nbf(challenge.claims_dict)
    if nbf is not None:
        asks.append(f"nbf>={nbf}")
    asks.extend(f"acrs={c}" for c in requested_acrs(challenge.claims_dict))
    reason = (challenge.error_description or "").split(":")[0]
    return f"{response.status_code} claims challenge {' '.join(asks)} {reason}".strip()


Seen = list[tuple[float, httpx.Response]]


def _call(
    world: DemoWorld, name: str, path: str
) -> tuple[httpx.Response | None, CAEError | None, Seen, float]:
    """GET through an SDK client; returns (final response, typed error, every response seen
    with its arrival instant, ms)."""
    seen = world.responses.setdefault(name, [])
    before = len(seen)
    started = time.perf_counter()
    response: httpx.Response | None = None
    error: CAEError | None = None
    try:
        response = world.clients[name].get(path)
    except CAEError as exc:
        error = exc
    return response, error, seen[before:], round((time.perf_counter() - started) * 1000, 1)


def _narrate_challenges(
    story: Story, step: int, actor: str, path: str, seen: Seen, error: object = None
) -> None:
    """The challenges a client answered inside one call: each 401 was followed by a token
    request carrying its claims. The final response is narrated by the caller, unless the call
    ended in an error (then every response was answered by a token request)."""
    for at, response in seen if error is not None else seen[:-1]:
        if response.status_code == 401:
            story.beat(step, actor, "API", f"GET {path}", _challenge_text(response), at=at)
            if error is None:
                story.beat(step, actor, "IdP", "token request + the challenge's claims", at=at)


def step_tokens(world: DemoWorld, story: Story) -> StepResult:
    number, title = 1, "cp1 tokens live long; calls succeed"
    story.step(number, title)
    names = [n for n in ("workload", "managed", "user") if n in world.clients]
    if not names:
        return StepResult(number, title, StepStatus.UNAVAILABLE, "no client could be built")
    problems = [f"{n} unavailable: {world.missing[n]}" for n in _LABEL if n in world.missing]
    for name in names:
        started = time.perf_counter()
        prompts = len(world.prompts)
        claims = _token_claims(world, name)
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
        for prompt in world.prompts[prompts:]:
            story.say(f"device code: {prompt.splitlines()[0]} (auto-approved by the dev IdP)")
        story.beat(
            number,
            name,
            "IdP",
            "token request, claims xms_cc=cp1",
            f"xms_cc={claims.get('xms_cc')} lifetime={lifetime / _HOUR:.0f}h",
            story.elapsed_ms(started),
        )
        if not has_cp1(claims.get("xms_cc")) or lifetime <= _HOUR:
            problems.append(f"{name}: token without cp1 or short-lived ({lifetime} s)")
        response, error, _, took = _call(world, name, "/api/data")
        outcome = str(response.status_code) if response is not None else repr(error)
        story.beat(number, name, "API", "GET /api/data", outcome, took)
        if response is None or response.status_code != 200:
            problems.append(f"{name}: GET /api/data gave {outcome}")
    ran = [n for n in names if not any(p.startswith(n) for p in problems)]
    status = StepStatus.PASSED if len(ran) == len(names) else StepStatus.FAILED
    detail = f"{', '.join(ran)} got cp1 tokens (24 h) and were served"
    return StepResult(number, title, status, "; ".join([detail, *problems]))


def _enforcement(
    world: DemoWorld, story: Story, step: int, subject: Any, iat: int, started: float, event: str
) -> float | None:
    """Wait for the SET to land in the API's store; narrate and return admin->enforced ms."""
    seen_at = world.wait_for_watermark(subject, iat + 1, timeout=10)
    if seen_at is None:
        story.beat(step, "IdP", "API", f"SET {event}", "nothing arrived within 10 s")
        return None
    latency = round((seen_at - started) * 1000, 1)
    story.beat(step, "IdP", "API", f"SET {event} (RFC 8935 push)", "202, watermark set", latency)
    return latency


def step_revoke_user(world: DemoWorld, story: Story) -> StepResult:
    number, title = 2, "sessions revoked -> challenge -> self-remediation"
    skipped = _begin(world, story, number, title, "ssf", "user")
    if skipped is not None:
        return skipped
    iat = int(_token_claims(world, "user")["iat"])
    old_token = world.credentials["user"].get_token(world.scopes["user"]).token
    _wait_past_second(iat)
    started = time.perf_counter()
    world.idp.admin.revoke_sessions(world.idp.seed.user.object_id)
    story.beat(number, "admin", "IdP", "revoke the user's sessions")
    enforced = _enforcement(world, story, number, world.user_key(), iat, started, "session-revoked")
    if enforced is None:
        return StepResult(number, title, StepStatus.FAILED, "the revocation never reached the API")
    raw = httpx.get(
        world.api_url + "/api/data", headers={"Authorization": f"Bearer {old_token}"}, timeout=5
    )
    story.beat(number, "user", "API", "GET /api/data (old token)", _challenge_text(raw))
    prompts = len(world.prompts)
    response, error, seen, took = _call(world, "user", "/api/data")
    _narrate_challenges(story, number, "user", "/api/data", seen)
    if len(world.prompts) > prompts:
        story.say("the refresh token was revoked too: the user signs in again (device code)")
    outcome = str(response.status_code) if response is not None else repr(error)
    story.beat(number, "user", "API", "GET /api/data (new token)", outcome, took)
    challenge = find_claims_challenge(raw.headers)
    nbf = requested_nbf(challenge.claims_dict) if challenge else None
    checks = {
        "the old token was challenged with nbf": raw.status_code == 401 and nbf is not None,
        "the client recovered by itself": response is not None and response.status_code == 200,
        "the new token is newer than the watermark": response is not None
        and response.status_code == 200
        and int(response.json().get("iat") or 0) >= (nbf or 0),
    }
    return _verdict(
        number,
        title,
        checks,
        f"enforced {enforced:.0f} ms after the admin action; recovered in {took:.0f} ms",
        {"admin action -> enforced": enforced, "challenged call -> served": took},
    )


def step_disable_workload(world: DemoWorld, story: Story) -> StepResult:
    number, title = 3, "service principal disabled -> admin remediation -> re-enabled"
    skipped = _begin(world, story, number, title, "ssf", "workload")
    if skipped is not None:
        return skipped
    app_id = world.idp.seed.cert_app.client_id
    iat = int(_token_claims(world, "workload")["iat"])
    _wait_past_second(iat)
    started = time.perf_counter()
    world.idp.admin.disable_service_principal(app_id)
    story.beat(number, "admin", "IdP", "disable the service principal")
    try:
        enforced = _enforcement(
            world, story, number, world.workload_key(), iat, started, "account-disabled"
        )
        _, error, seen, took = _call(world, "workload", "/api/data")
        _narrate_challenges(story, number, "workload", "/api/data", seen, error)
        refused = isinstance(error, TokenAcquisitionError) and 7000112 in error.error_codes
        admin_only = refused and error.remediation.kind is RemediationKind.ADMIN  # type: ignore[union-attr]
        story.beat(number, "workload", "IdP", "token request + claims", _error_text(error))
        if isinstance(error, TokenAcquisitionError):
            story.say(f"remediation ({error.remediation.kind.value}): {error.remediation.text}")
    finally:
        world.idp.admin.enable_service_principal(app_id)
    story.beat(number, "admin", "IdP", "re-enable the service principal")
    # The same credential recovers: the next challenge makes it drop MSAL's cached refusal.
    response, _, seen, recovered = _call(world, "workload", "/api/data")
    _narrate_challenges(story, number, "workload", "/api/data", seen)
    status = response.status_code if response is not None else None
    story.beat(number, "workload", "API", "GET /api/data", str(status), recovered)
    checks = {
        "the revocation reached the API": enforced is not None,
        "reacquisition was refused with AADSTS7000112": refused,
        "the error names an administrator as the fix": admin_only,
        "the client recovered after re-enabling": status == 200,
    }
    return _verdict(
        number,
        title,
        checks,
        f"refused with admin remediation; recovered in {recovered:.0f} ms after re-enabling",
        {"admin action -> enforced": enforced or 0.0, "refused call": took},
    )


def step_location(world: DemoWorld, story: Story) -> StepResult:
    number, title = 4, f"calling from {ELSEWHERE} (outside the named location)"
    skipped = _begin(world, story, number, title, "workload")
    if skipped is not None:
        return skipped
    story.say(f"the API allows 127.0.0.1/32 in strict mode; the client binds to {ELSEWHERE}")
    response, error, seen, took = _call(world, "workload@elsewhere", "/api/data")
    _narrate_challenges(story, number, "workload", "/api/data", seen)
    refused = isinstance(error, ClaimsChallengeFailed) or (
        response is not None and response.status_code in (401, 403)
    )
    reasons = " ".join(r.headers.get("www-authenticate", "") for _, r in seen)
    last = seen[-1][1] if seen else None
    outcome = _challenge_text(last) if last is not None else "no response"
    story.beat(number, "workload", "API", "GET /api/data (replayed)", outcome, took)
    if error is not None:
        story.say(f"{type(error).__name__}: still outside after reacquiring; access refused")
    back, _, _, back_took = _call(world, "workload", "/api/data")
    back_status = back.status_code if back is not None else None
    story.beat(
        number, "workload", "API", "GET /api/data from 127.0.0.1", str(back_status), back_took
    )
    seen_ips = {record.client_ip for record in world.decisions}
    checks = {
        f"the API saw {ELSEWHERE}": ELSEWHERE in seen_ips,
        "refused while outside": refused,
        "the reason is LocationConditionViolation": "LocationConditionViolation" in reasons,
        "served again when back": back_status == 200,
    }
    return _verdict(number, title, checks, "refused outside, served inside", {"refused call": took})


def step_step_up(world: DemoWorld, story: Story) -> StepResult:
    number, title = 5, f"step-up: authentication context {STEP_UP_CONTEXT}"
    skipped = _begin(world, story, number, title, "user")
    if skipped is not None:
        return skipped
    prompts = len(world.prompts)
    response, error, seen, took = _call(world, "user", "/api/stepup/data")
    _narrate_challenges(story, number, "user", "/api/stepup/data", seen)
    if len(world.prompts) > prompts:
        story.say("the user completes MFA in a new device code sign-in (auto-approved)")
    status = response.status_code if response is not None else None
    story.beat(number, "user", "API", "GET /api/stepup/data", str(status or error), took)
    asked = any(
        STEP_UP_CONTEXT in requested_acrs(c.claims_dict)
        for c in (find_claims_challenge(r.headers) for _, r in seen)
        if c is not None
    )
    acrs = response.json().get("acrs", []) if status == 200 and response is not None else []
    checks = {
        f"the API asked for acrs {STEP_UP_CONTEXT}": asked,
        "the user was served after MFA": status == 200,
        f"the new token carries acrs {STEP_UP_CONTEXT}": STEP_UP_CONTEXT in acrs,
    }
    return _verdict(
        number, title, checks, f"stepped up and served in {took:.0f} ms", {"step-up": took}
    )


def _verdict(
    number: int,
    title: str,
    checks: dict[str, bool],
    success: str,
    measurements: dict[str, float],
) -> StepResult:
    failed = [name for name, ok in checks.items() if not ok]
    if failed:
        return StepResult(number, title, StepStatus.FAILED, "did not happen: " + "; ".join(failed))
    return StepResult(number, title, StepStatus.PASSED, success, measurements)


STEPS: tuple[Callable[[DemoWorld, Story], StepResult], ...] = (
    step_tokens,
    step_revoke_user,
    step_disable_workload,
    step_location,
    step_step_up,
)
