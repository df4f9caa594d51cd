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
    from _devenv import api_options, serve, verdict
    from fastapi_resource import create_app

    from cae_sdk.devidp import DevIdentityProvider

    with DevIdentityProvider() as idp:
        os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = idp.imds_url
        api = create_app(**api_options(idp))
        with serve(api) as server:
            code = call(
                f"{server.url}/orders",
                idp.seed.api.default_scope,
                client_id=idp.seed.managed_identity.client_id,
            )
    return verdict(code == 0)


def main(argv: list[str] | None = None) -> int:
    from _devenv import client_example_main

    def client_id(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--client-id", help="a user-assigned identity (default: system)")

    return client_example_main(
        __doc__, argv, check, lambda args: call(args.url, args.scope, args.client_id), client_id
    )


if __name__ == "__main__":
    sys.exit(main())
