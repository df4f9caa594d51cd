"""Plumbing the examples share to run against the dev identity provider (not what they show).

Each example's ``--check`` starts a ``DevIdentityProvider`` and points the SDK at it; these
helpers build the credentials it seeded and report the outcome the same way everywhere.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping
from typing import Any

from cae_sdk import ConfidentialClientCredential, PublicClientCredential

# Serving an example's API on loopback for its --check run: the helpers `cae demo` uses, private
# parts of the SDK that this plumbing may reach and the examples themselves never import.
from cae_sdk.cli._demo.api import DeferredApp as DeferredApp
from cae_sdk.cli._demo.servers import serve as serve


def api_options(idp: Any) -> dict[str, Any]:
    """``create_app`` keyword arguments for an API that trusts the dev identity provider."""
    return {
        "tenant_id": idp.tenant_id,
        "app_id": idp.seed.api.app_id,
        "authority_host": idp.base_url,
        "ca_bundle": idp.ca_bundle,
    }


def authority_options(idp: Any) -> dict[str, Any]:
    # A private authority: MSAL must not look it up at login.microsoftonline.com.
    return {"authority": idp.authority, "ca_bundle": idp.ca_bundle, "instance_discovery": False}


def secret_app_credential(idp: Any) -> ConfidentialClientCredential:
    """The seeded confidential client (client secret)."""
    return ConfidentialClientCredential(
        idp.tenant_id,
        idp.seed.secret_app.client_id,
        client_secret=idp.seed.secret_app.client_secret,
        **authority_options(idp),
    )


def user_credential(
    idp: Any, scopes: list[str], *, step_up: bool = False
) -> PublicClientCredential:
    """The seeded user, signed in with the device code flow (the dev IdP approves at once).

    With ``step_up``, a claims challenge only the user can answer (MFA, authentication context)
    signs the user in again with the claims."""
    credential: PublicClientCredential

    def sign_in_again(claims: str) -> Mapping[str, Any]:
        print("The API asks for more (MFA / step-up): signing in again with", claims)
        return credential.sign_in_with_device_code(scopes, claims)

    credential = PublicClientCredential(
        idp.seed.public_app.client_id,
        tenant_id=idp.tenant_id,
        prompt_callback=lambda message: print("Device code sign-in:", message),
        interaction_handler=sign_in_again if step_up else None,
        **authority_options(idp),
    )
    return credential


def wait_past(epoch_seconds: int) -> None:
    """Sleep until the clock is in a later second than ``epoch_seconds``: token times have
    whole seconds, and a revocation must come after the token's ``iat`` to revoke it."""
    time.sleep(max(0.0, epoch_seconds + 1 - time.time()))


def status_log() -> tuple[list[int], dict[str, list[Callable[[Any], None]]]]:
    """A list that collects every response status a client sees (challenges included), and
    the ``event_hooks`` argument that fills it."""
    seen: list[int] = []
    return seen, {"response": [lambda response: seen.append(response.status_code)]}


def verdict(ok: bool) -> int:
    print("OK" if ok else "UNEXPECTED")
    return 0 if ok else 1


def serve_with_dev_idp(create_app: Callable[..., Any], port: int) -> int:
    """Serve an example API on 127.0.0.1:``port`` against a dev identity provider until Ctrl-C."""
    import uvicorn

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        print(f"identity provider: {idp.authority} (CA bundle {idp.ca_bundle})")
        print(f"token scope for callers: {idp.seed.api.default_scope}")
        uvicorn.run(create_app(**api_options(idp)), host="127.0.0.1", port=port)
    return 0


def resource_example_main(
    doc: str,
    argv: list[str] | None,
    check: Callable[[], int],
    create_app: Callable[..., Any],
    *,
    default_port: int,
) -> int:
    """Command line of the API examples: ``--check``, or serve until Ctrl-C on ``--port``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run the self-check and exit")
    parser.add_argument("--port", type=int, default=default_port, help="port to serve on")
    args = parser.parse_args(argv)
    return check() if args.check else serve_with_dev_idp(create_app, args.port)


def client_example_main(
    doc: str,
    argv: list[str] | None,
    check: Callable[[], int],
    call: Callable[[argparse.Namespace], int],
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """Command line of the client examples: ``--check`` or ``--url URL --scope SCOPE``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run against a dev IdP")
    parser.add_argument("--url", help="the API to call")
    parser.add_argument("--scope", help="the API's scope, e.g. api://<app id>/.default")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if not (args.url and args.scope):
        parser.error("--url and --scope are required outside --check")
    return call(args)
