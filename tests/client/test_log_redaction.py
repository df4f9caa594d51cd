"""No token, secret, assertion or key reaches a log record, at any level (issue 13 item 8).

Every logger is captured at DEBUG over full flows against the faulty identity provider: client
secret, certificate (a signed client assertion), device code with refresh tokens, managed
identity, and answers cut off after their token fields (MSAL logs such bodies whole at ERROR).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cae_sdk import (
    CAEClient,
    ConfidentialClientCredential,
    ManagedIdentityCredential,
    PublicClientCredential,
    TokenAcquisitionError,
)
from cae_sdk.client._redact import REDACTED, RedactingFilter, install_log_redaction, redact
from cae_sdk.core.claims import nbf_claims
from cae_sdk.devidp._tls import generate_client_certificate

from .faulty_servers import CLIENT_SECRET, SCOPE, TENANT, ChallengingApi, FaultyIdP

pytestmark = pytest.mark.e2e


class _Everything(logging.Handler):
    """Keeps every record as a handler would print it (message, exception, stack)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def captured() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in ("", "msal", "httpx", "httpcore")}
    root.addHandler(handler)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def _assert_clean(handler: _Everything, idp: FaultyIdP, *extra: str) -> None:
    text = "\n".join(handler.lines)
    assert text, "nothing was logged: the test would prove nothing"
    secrets = [CLIENT_SECRET, "device-code-DO-NOT-LOG", *idp.issued, *extra]
    for secret in secrets:
        assert secret not in text
    assert not re.search(r"eyJ[A-Za-z0-9_-]{6,}", text), "a JWT-shaped value was logged"
    assert "PRIVATE KEY" not in text.replace(REDACTED, "")
    for record in handler.records:
        assert record.exc_info is None or not record.exc_text


def _revoking_api(api_for: Callable[..., ChallengingApi]) -> ChallengingApi:
    return api_for(
        lambda path, claims: nbf_claims(1) if claims and claims["claims"] is None else None
    )


def _confidential(idp: FaultyIdP, **credential: Any) -> ConfidentialClientCredential:
    return ConfidentialClientCredential(
        TENANT,
        "faulty-app",
        authority=idp.authority,
        ca_bundle=idp.tls.ca_path,
        timeout=2.0,
        **credential,
    )


def test_secret_flow_with_challenge_and_cut_answer(
    faulty_idp: FaultyIdP, captured: _Everything, api_for: Callable[..., ChallengingApi]
) -> None:
    api = _revoking_api(api_for)
    with _confidential(faulty_idp, client_secret=CLIENT_SECRET) as credential:
        with CAEClient(credential, SCOPE) as client:
            assert client.get(f"{api.url}/data?code=abc").status_code == 200
        faulty_idp.fault("token", "truncated")
        with pytest.raises(TokenAcquisitionError):
            credential.get_token([SCOPE], claims='{"access_token":{"nbf":{"value":"2"}}}')
    assert any("not in json format" in line for line in captured.lines)  # MSAL's ERROR record
    _assert_clean(captured, faulty_idp, "code=abc")


def test_certificate_flow(faulty_idp: FaultyIdP, captured: _Everything) -> None:
    cert = generate_client_certificate("faulty-app", dt.datetime.now(dt.timezone.utc))
    pem = (cert.private_key_pem + cert.certificate_pem).encode()
    with _confidential(faulty_idp, certificate=pem) as credential:
        credential.get_token([SCOPE])
        faulty_idp.fault("token", "garbage")
        with pytest.raises(TokenAcquisitionError):
            credential.get_token([SCOPE], claims='{"access_token":{"nbf":{"value":"2"}}}')
    key_body = cert.private_key_pem.splitlines()[1]
    _assert_clean(captured, faulty_idp, key_body)


def test_device_code_and_refresh_tokens(faulty_idp: FaultyIdP, captured: _Everything) -> None:
    prompts: list[str] = []
    credential = PublicClientCredential(
        "public-app",
        tenant_id=TENANT,
        authority=faulty_idp.authority,
        ca_bundle=faulty_idp.tls.ca_path,
        prompt_callback=prompts.append,
        timeout=2.0,
    )
    with credential:
        credential.get_token([SCOPE])  # device code sign-in: refresh token issued
        credential.get_token([SCOPE], claims='{"access_token":{"nbf":{"value":"2"}}}')  # RT
        faulty_idp.fault("token", "truncated")  # cut after access and refresh tokens
        with pytest.raises(TokenAcquisitionError):
            credential.get_token([SCOPE], claims='{"access_token":{"nbf":{"value":"3"}}}')
    assert prompts and len([r for r in faulty_idp.token_requests if "refresh_token" in r]) >= 1
    refresh_tokens = [r["refresh_token"] for r in faulty_idp.token_requests if "refresh_token" in r]
    _assert_clean(captured, faulty_idp, *refresh_tokens)


def test_managed_identity_cut_payload(
    faulty_idp: FaultyIdP, captured: _Everything, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", faulty_idp.url)
    with ManagedIdentityCredential(ca_bundle=faulty_idp.tls.ca_path, timeout=2.0) as credential:
        credential.get_token([SCOPE])
        faulty_idp.fault("imds", "truncated")
        with pytest.raises(TokenAcquisitionError):
            credential.get_token([SCOPE], claims='{"access_token":{"nbf":{"value":"2"}}}')
    _assert_clean(captured, faulty_idp)


# -- the filter on its own --------------------------------------------------------------------

SAMPLES = [
    ('{"access_token": "opaque-AT", "token_type": "Bearer"}', "opaque-AT"),
    ("{'refresh_token': 'opaque-RT', 'x': 1}", "opaque-RT"),
    ("grant_type=refresh_token&refresh_token=0.AXYA-rt&client_id=app", "0.AXYA-rt"),
    ("client_secret=s3cr3t&scope=x", "s3cr3t"),
    ('{"client_assertion": b"header.payload.sig"}', "header.payload.sig"),
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
    ('{"refresh_token":"cut-before-the-quote', "cut-before-the-quote"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----", "MIIEvQIBADAN"),
    ('{"device_code": "dc-123"}', "dc-123"),
    ("password=hunter2", "hunter2"),
]


@pytest.mark.parametrize(("text", "secret"), SAMPLES)
def test_redact_removes_each_form(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_keeps_harmless_text() -> None:
    text = "HTTP Request: POST https://login.test/t/oauth2/v2.0/token 200 OK; token_type=Bearer"
    assert redact(text) == text


_SECRET = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~",
    min_size=12,
    max_size=60,
)
_FIELD = st.sampled_from(
    [
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code",
        "client_assertion",
        "assertion",
        "password",
        "device_code",
    ]
)


@given(field=_FIELD, secret=_SECRET, form=st.sampled_from(["json", "repr", "form", "cut"]))
def test_redact_property_any_field_any_form(field: str, secret: str, form: str) -> None:
    text = {
        "json": f'{{"{field}": "{secret}", "other": 1}}',
        "repr": f"{{'{field}': '{secret}'}}",
        "form": f"a=1&{field}={secret}&b=2",
        "cut": f'{{"x": 1, "{field}":"{secret}',
    }[form]
    assert secret not in redact(text)


def test_filter_rewrites_arguments_and_exceptions() -> None:
    record = logging.LogRecord(
        "msal", logging.ERROR, __file__, 1, "body: %s", ("eyJabcdefgh.x.y",), None
    )
    try:
        raise ValueError('{"access_token": "in-an-exception"}')
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"body: {REDACTED}"
    assert record.exc_info is None and record.exc_text is not None
    assert "in-an-exception" not in record.exc_text


def test_filter_is_installed_on_child_loggers_of_libraries() -> None:
    install_log_redaction()
    for name in ("msal.application", "msal.oauth2cli.oauth2", "httpx", "httpcore.http11"):
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters), name


def test_long_records_are_cut_before_redaction() -> None:
    body = '{"x": "' + "y" * 100_000 + '", "refresh_token": "late-secret"}'
    cut = '{"refresh_token": "' + "s" * 100_000
    for text in (body, cut):
        record = logging.LogRecord("msal", logging.ERROR, __file__, 1, "%s", (text,), None)
        RedactingFilter().filter(record)
        message = record.getMessage()
        assert len(message) < 17_000
        assert "late-secret" not in message and "sssssss" not in message
        assert "characters cut" in message or message.endswith(REDACTED)  # cut inside a value


# -- reprs: a value object that holds a secret never shows it ---------------------------------

_SECRET_FIELD = re.compile(r"token|secret|assertion|password|private|proxy", re.IGNORECASE)


def _client_dataclasses() -> list[type]:
    import dataclasses
    import importlib
    import inspect
    import pkgutil

    import cae_sdk.client as package

    found: list[type] = []
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an adapter whose extra is not installed
            continue
        for _, value in inspect.getmembers(module, inspect.isclass):
            if dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_no_dataclass_of_the_client_shows_a_secret_field_in_its_repr() -> None:
    """Every ``str`` field named like a secret (a token, a proxy URL with its password...) is
    left out of the repr: tracebacks, debuggers and error trackers print reprs."""
    import dataclasses

    checked = 0
    for cls in _client_dataclasses():
        for item in dataclasses.fields(cls):
            if _SECRET_FIELD.search(item.name) and "str" in str(item.type):
                checked += 1
                assert item.repr is False, f"{cls.__qualname__}.{item.name} is in its repr"
    assert checked >= 3  # AccessToken.token, TokenNeeded.challenged_token, HttpSettings.proxy


def test_reprs_do_not_show_tokens_or_proxy_passwords() -> None:
    from cae_sdk.client import HttpSettings
    from cae_sdk.client._token_state import TokenNeeded

    assert "tok-SECRET" not in repr(TokenNeeded('{"access_token":{}}', "tok-SECRET"))
    assert "pw-SECRET" not in repr(HttpSettings(proxy="http://user:pw-SECRET@proxy.test:3128"))


def test_loggers_created_after_the_install_are_redacted_too() -> None:
    """A library imported after the credential was built (azure-core, azure-identity, a new
    MSAL module) logs through loggers no filter was attached to: still redacted."""
    install_log_redaction()
    handler = _Everything()
    names = ["msal.created_later", "azure.core.pipeline.created_later", "httpx.later.child"]
    for name in names:
        assert name not in logging.root.manager.loggerDict  # really new
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.debug("refresh_token=%s and %s", "rt-LATE-SECRET", "Bearer at-LATE-SECRET")
    assert len(handler.lines) == len(names)
    assert all("LATE-SECRET" not in line for line in handler.lines), handler.lines
    unrelated = logging.getLogger("someapp.created_later")
    unrelated.addHandler(handler)
    unrelated.propagate = False
    unrelated.warning("refresh_token=%s", "kept-as-is")  # not a watched library: untouched
    assert handler.records[-1].getMessage() == "refresh_token=kept-as-is"
    for name in [*names, "someapp.created_later"]:
        logging.getLogger(name).removeHandler(handler)


def test_a_record_factory_of_the_application_is_kept() -> None:
    previous = logging.getLogRecordFactory()
    seen: list[str] = []

    def app_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        seen.append(record.name)
        return record

    logging.setLogRecordFactory(app_factory)
    try:
        install_log_redaction()
        record = logging.getLogger("msal").makeRecord(
            "msal", logging.INFO, __file__, 1, "token=%s", ("t-SECRET",), None
        )
        assert "t-SECRET" not in record.getMessage()
        assert seen == ["msal"]  # the application's factory still ran
    finally:
        logging.setLogRecordFactory(previous)


@pytest.mark.parametrize("kind", ["secret", "certificate"])
def test_an_answer_quoting_the_request_puts_no_secret_in_the_error(
    faulty_idp: FaultyIdP, kind: str
) -> None:
    """A proxy or broken endpoint that echoes the token request (client secret, signed client
    assertion) in its error: the typed error carries its text redacted."""
    if kind == "secret":
        credential = _confidential(faulty_idp, client_secret=CLIENT_SECRET)
    else:
        cert = generate_client_certificate("faulty-app", dt.datetime.now(dt.timezone.utc))
        pem = (cert.private_key_pem + cert.certificate_pem).encode()
        credential = _confidential(faulty_idp, certificate=pem)
    faulty_idp.fault("token", "echo")
    with credential, pytest.raises(TokenAcquisitionError) as caught:
        credential.get_token([SCOPE])
    sent = faulty_idp.token_requests[-1]
    secret = sent.get("client_secret") or sent["client_assertion"]
    text = f"{caught.value} {caught.value.error_description}"
    assert "Bad request" in text  # the answer's text is there...
    assert secret not in text and secret[:40] not in text  # ...without the secret


def test_the_token_request_never_follows_a_redirect(
    faulty_idp: FaultyIdP, api_for: Callable[..., ChallengingApi]
) -> None:
    """Even with an application client that follows redirects: a 307 from the token endpoint
    would send the form (the client secret) to wherever it points."""
    elsewhere = api_for(lambda path, claims: None)
    faulty_idp.fault("token", "redirect", location=f"{elsewhere.url}/collect")
    client = httpx.Client(
        verify=ssl.create_default_context(cafile=faulty_idp.tls.ca_path), follow_redirects=True
    )
    credential = ConfidentialClientCredential(
        TENANT,
        "faulty-app",
        client_secret=CLIENT_SECRET,
        authority=faulty_idp.authority,
        http_client=client,
        timeout=2.0,
    )
    with client, pytest.raises(TokenAcquisitionError):
        credential.get_token([SCOPE])
    assert elsewhere.seen == []
