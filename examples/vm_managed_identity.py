"""A VM (or container) calling a CAE-protected API with its managed identity.

What it shows
    * ``ManagedIdentityCredential`` over MSAL's ``ManagedIdentityClient``: on a VM it asks IMDS
      (169.254.169.254); App Service, Functions, Container Apps and Arc are found the same way
      from their environment variables. Tokens announce ``cp1`` and live 24 h;
    * after a claims challenge, IMDS may hand back the very token that was just revoked: the
      credential notices (it compares token hashes) and raises ``ClaimsChallengeUnresolvable``
      instead of replaying a revoked token in a loop.

On a VM: ``python vm_managed_identity.py --url https://orders.internal/orders --scope
api://<api app id>/.default [--client-id <user-assigned identity>]``. Here, ``--check`` points
MSAL at the dev identity provider's IMDS endpoint (``AZURE_POD_IDENTITY_AUTHORITY_HOST``).
"""

from __future__ import annotations

import argparse
import os
import sys

from cae_sdk import CAEClient, ManagedIdentityCredential, decode_unverified, has_cp1


def call(url: str, scope: str, client_id: str | None = None) -> int:
    credential = ManagedIdentityCredential(client_id=client_id)
    token = credential.get_token([scope])
    claims = decode_unverified(token.token)[1]  # for display only; the API verifies it
    print(
        "token: cp1 =", has_cp1(claims.get("xms_cc")), "lifetime =", claims["exp"] - claims["iat"]
    )
    with CAEClient(credential, [scope]) as client:
        response = client.get(url)
    print(url, "->", response.status_code)
    return 0 if response.is_success and has_cp1(claims.get("xms_cc")) else 1


def check() -> int:
    from fastapi_resource import create_app

    from cae_sdk.cli.demo.servers import serve
    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = idp.imds_url
        api = create_app(
            tenant_id=idp.tenant_id,
            app_id=idp.seed.api.app_id,
            authority_host=idp.base_url,
            ca_bundle=idp.ca_bundle,
        )
        with serve(api) as server:
            code = call(
                f"{server.url}/orders",
                idp.seed.api.default_scope,
                client_id=idp.seed.managed_identity.client_id,
            )
    print("OK" if code == 0 else "UNEXPECTED")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run against a dev IdP's IMDS")
    parser.add_argument("--url", help="the API to call")
    parser.add_argument("--scope", help="the API's scope, e.g. api://<app id>/.default")
    parser.add_argument("--client-id", help="a user-assigned identity (default: system-assigned)")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    if not (args.url and args.scope):
        parser.error("--url and --scope are required outside --check")
    return call(args.url, args.scope, args.client_id)


if __name__ == "__main__":
    sys.exit(main())
